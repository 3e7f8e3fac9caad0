/**
 * The base model's configuration through a run: `--base-config` resolved and recorded
 * (`fingerprint.json`, `results.json`'s manifest, each student's `provenance.json`), the run's
 * models rebuilt at it by `apps/use`, a rerun under another configuration refused before anything
 * trains, and a folder written before configurations were recorded reused, without retraining,
 * at the defaults.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { readFileSync, statSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { BaseModels } from "@causald/models"
import { Effect, Result } from "effect"
import { loadModel, open } from "../src/Run.ts"
import { repoRoot, runEffect, tempFolder, trainRun } from "./fixture.ts"

const temp = tempFolder("causald-use-base-config-")
afterAll(temp.remove)

const json = (file: string) => JSON.parse(readFileSync(file, "utf8"))

/** `bun run repro --quick` into `out` as a process: its exit status and standard error. */
const repro = async (out: string, methods: string, extra: ReadonlyArray<string> = []) => {
  const proc = Bun.spawn(
    [
      "bun",
      join(repoRoot, "apps", "repro", "src", "main.ts"),
      "--quick",
      "--backend",
      "wasm",
      "--seeds",
      "1",
      "--methods",
      methods,
      "--experiments",
      "table3",
      "--heterogeneity",
      "off",
      "--out",
      out,
      ...extra,
    ],
    { stdout: "ignore", stderr: "pipe" },
  )
  const stderr = await new Response(proc.stderr).text()
  return { code: await proc.exited, stderr }
}

describe("the base model's configuration through a run", () => {
  test("recorded as resolved, rebuilt by apps/use, another one refused", async () => {
    const out = join(temp.dir, "narrow")
    await trainRun(out, "din,causald", [
      "--base-config",
      '{"embeddingSize":4,"predictorHidden":[16]}',
    ])
    const resolved = Result.getOrThrow(
      BaseModels.resolve("din", { embeddingSize: 4, predictorHidden: [16] }),
    )
    const record = { base: "din", config: resolved.config }
    expect(json(join(out, "fingerprint.json")).model).toEqual(record)
    const manifest = json(join(out, "results.json")).manifest
    expect(manifest.fingerprint.model).toEqual(record)
    expect(manifest.configuration.baseConfig).toEqual({ embeddingSize: 4, predictorHidden: [16] })
    expect(json(join(out, "models", "causald", "seed-1", "provenance.json")).model).toEqual(record)

    // apps/use builds the recorded architecture (at the defaults the checkpoint would not load)
    const loaded = await runEffect(
      Effect.gen(function* () {
        const run = yield* open(out)
        const model = yield* loadModel(run, "causald", 1)
        model.dispose()
        return { baseModel: run.baseModel, mediatorSize: model.network.mediatorSize }
      }),
    )
    expect(loaded.baseModel).toEqual(resolved)
    expect(loaded.mediatorSize).toBe(4)

    // a rerun at the defaults (no --base-config) is refused by name before anything trains
    const best = join(out, "models", "causald", "seed-1", "best.ckpt")
    const before = statSync(best).mtimeMs
    const rerun = await repro(out, "din,causald")
    expect(rerun.code).not.toBe(0)
    expect(rerun.stderr).toContain("base model option embeddingSize was 4, now 8")
    expect(statSync(best).mtimeMs).toBe(before)
  }, 240_000)

  test("a folder from before configurations were recorded is reused at the defaults, without retraining", async () => {
    const out = join(temp.dir, "old")
    await trainRun(out, "din,causald")
    // as earlier versions wrote them: no `model` in fingerprint.json or provenance.json
    const strip = (file: string) => {
      const { model, ...rest } = json(file)
      expect(model).toEqual({ base: "din", config: BaseModels.defaults("din").config })
      writeFileSync(file, `${JSON.stringify(rest, null, 2)}\n`)
    }
    const provenance = join(out, "models", "causald", "seed-1", "provenance.json")
    strip(join(out, "fingerprint.json"))
    strip(provenance)
    const checkpoints = ["base", "causald"].map((m) =>
      join(out, "models", m, "seed-1", "last.ckpt"),
    )
    const before = checkpoints.map((f) => statSync(f).mtimeMs)
    const resumed = await repro(out, "din,causald")
    expect(resumed.stderr).not.toContain("trained from another configuration")
    expect(resumed.code).toBe(0)
    expect(checkpoints.map((f) => statSync(f).mtimeMs)).toEqual(before)
    // under another configuration the same folder is refused
    const wider = await repro(out, "din,causald", ["--base-config", '{"embeddingSize":16}'])
    expect(wider.code).not.toBe(0)
    expect(wider.stderr).toContain("base model option embeddingSize was 8, now 16")
  }, 240_000)
})
