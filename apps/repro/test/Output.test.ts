import { describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import {
  packageVersion,
  readResults,
  writeAtomic,
  writeResults,
  writeStudyOutputs,
} from "../src/Output.ts"
import { makeResults, options } from "./fixture.ts"

const run = <A, E>(
  effect: Effect.Effect<A, E, import("@effect/platform-node").NodeServices.NodeServices>,
) => Effect.runPromiseExit(effect.pipe(Effect.provide(NodeServices.layer)))

describe("Output", () => {
  test("writeStudyOutputs writes the results, the requested tables and figures and the report", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "causald-out-")), "run")
    const results = makeResults()
    const exit = await run(writeStudyOutputs(results, dir))
    if (!Exit.isSuccess(exit)) throw new Error(String(exit.cause))
    const written = exit.value
    const names = readdirSync(dir).sort()
    expect(names).toEqual([...written.files].sort())
    for (const f of [
      "results.json",
      "table2.md",
      "table3.csv",
      "table5.md",
      "table7.csv",
      "figure1.png",
      "figure4.svg",
      "figure5.vl.json",
      "report.md",
    ]) {
      expect(names).toContain(f)
    }
    expect(names.some((n) => n.includes(".tmp-"))).toBe(false)
    const back = await run(readResults(join(dir, "results.json")))
    expect(Exit.isSuccess(back) && back.value).toEqual(results)
    const report = readFileSync(join(dir, "report.md"), "utf8")
    for (const link of report.matchAll(/\]\(([^)]+)\)/g))
      expect(existsSync(join(dir, link[1]))).toBe(true)
  })

  test("only the experiments asked for; unsupported ones are reported, not silently dropped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "causald-out-"))
    const results = makeResults({
      manifest: {
        ...makeResults().manifest,
        configuration: { ...options, experiments: ["table3", "fig5"] },
      },
      sensitivity: null,
    })
    const exit = await run(writeStudyOutputs(results, dir))
    if (!Exit.isSuccess(exit)) throw new Error(String(exit.cause))
    expect([...exit.value.files].sort()).toEqual([
      "report.md",
      "results.json",
      "table3.csv",
      "table3.md",
      // the agreement with the truth: the data's, not an experiment's, so always written
      "truth.csv",
      "truth.md",
    ])
    expect(exit.value.skipped).toEqual(["fig5: the results have no λ_BDA / λ_FDA sensitivity runs"])
    expect(readFileSync(join(dir, "report.md"), "utf8")).toContain("fig5: the results have no")
  })

  test("writeAtomic replaces a file whole and fails naming the path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "causald-out-"))
    const file = join(dir, "x.txt")
    writeFileSync(file, "old contents, longer than the new ones")
    expect(Exit.isSuccess(await run(writeAtomic(file, "new")))).toBe(true)
    expect(readFileSync(file, "utf8")).toBe("new")
    expect(readdirSync(dir)).toEqual(["x.txt"])
    const bad = await run(writeAtomic(join(dir, "missing", "y.txt"), "z"))
    expect(Exit.isFailure(bad) && String(bad.cause)).toContain(join(dir, "missing", "y.txt"))
    expect(readdirSync(dir)).toEqual(["x.txt"])
  })

  test("readResults names the file of a bad results.json", async () => {
    const dir = mkdtempSync(join(tmpdir(), "causald-out-"))
    const file = await run(writeResults(dir, makeResults()))
    expect(Exit.isSuccess(file)).toBe(true)
    const path = join(dir, "results.json")
    writeFileSync(path, JSON.stringify({ schemaVersion: 7 }))
    const exit = await run(readResults(path))
    expect(Exit.isFailure(exit) && String(exit.cause)).toContain(
      `${path}: schemaVersion 7 is not supported`,
    )
  })

  test("package versions resolve through the isolated installs", () => {
    expect(packageVersion("vega-lite")).toMatch(/^\d+\.\d+\.\d+/)
    expect(packageVersion("@tensorflow/tfjs-core", "@causald/tfjs")).toMatch(/^\d+\.\d+\.\d+/)
    expect(packageVersion("no-such-package-here")).toBe("unknown")
  })
})
