/**
 * `@causald/core` installs anywhere: its packed tarball carries compiled ES modules and type
 * declarations (`dist/`), so a fresh project installs it with npm and imports it under Node as
 * well as Bun (which reads the TypeScript sources through the `bun` condition), and `tsc` checks
 * a consumer against the declarations. Installing needs the npm registry (for `effect` and the
 * core's other dependencies); offline, those tests are skipped with a message saying so.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dir, "..")
const core = join(root, "packages", "core")
const work = mkdtempSync(join(tmpdir(), "causald-core-pack-"))
afterAll(() => rmSync(work, { recursive: true, force: true }))

const run = (command: string, args: ReadonlyArray<string>, cwd: string) => {
  const r = spawnSync(command, args, { cwd, encoding: "utf8", timeout: 240_000 })
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}` }
}

/** Whether the npm registry answers within a few seconds. */
const registryReachable = async (): Promise<boolean> => {
  try {
    const response = await fetch("https://registry.npmjs.org/effect", {
      method: "HEAD",
      signal: AbortSignal.timeout(8_000),
    })
    return response.ok
  } catch {
    return false
  }
}
const online = await registryReachable()
if (!online)
  console.warn(
    "SKIPPED: the npm registry is unreachable, so @causald/core's tarball is packed and inspected but not installed and run under Node and Bun",
  )

/** The consumer's program: the exact front-door adjustment against the model's truth. */
const example = `import { Adjustment, CausalModel } from "@causald/core"
import { Result } from "effect"

const model = Result.getOrThrow(CausalModel.frontDoor({ seed: 7, confounding: 0.8 }))
const truth = Result.getOrThrow(CausalModel.interventional(model, { treatment: "X", outcome: "Y" }))
const estimate = Result.getOrThrow(
  Adjustment.frontDoor(CausalModel.observationalJoint(model), {
    treatment: "X",
    outcome: "Y",
    mediator: "M",
  }),
)
let error = 0
truth.forEach((row, x) => row.forEach((p, y) => { error = Math.max(error, Math.abs(p - estimate[x][y])) }))
console.log(JSON.stringify({ cells: truth.length * truth[0].length, error }))
`

let tarball = ""

beforeAll(() => {
  // prepack builds dist/ (tsc), postpack removes it again
  const packed = run("bun", ["pm", "pack", "--destination", work], core)
  if (packed.status !== 0) throw new Error(`bun pm pack failed:\n${packed.output}`)
  tarball = join(work, readdirSync(work).find((f) => f.endsWith(".tgz"))!)
}, 120_000)

describe("@causald/core's packed tarball", () => {
  test("carries compiled ES modules and declarations, not only TypeScript sources", () => {
    const listed = run("tar", ["tzf", tarball], work)
    expect(listed.status).toBe(0)
    const files = listed.output.split("\n").map((f) => f.replace(/^package\//, ""))
    for (const f of [
      "dist/index.js",
      "dist/index.d.ts",
      "dist/testing/index.js",
      "dist/testing/index.d.ts",
      "package.json",
    ])
      expect(files).toContain(f)
    // the compiled modules import each other as .js, which Node resolves
    const extracted = run("tar", ["xzf", tarball, "-C", work, "package/dist/index.js"], work)
    expect(extracted.status).toBe(0)
    const index = readFileSync(join(work, "package", "dist", "index.js"), "utf8")
    expect(index).toContain('from "./Adjustment.js"')
    expect(index).not.toMatch(/from "\.[^"]*\.ts"/)
  })

  test("its exports give Node the compiled modules and Bun the sources", () => {
    const manifest = JSON.parse(readFileSync(join(core, "package.json"), "utf8")) as {
      exports: Record<string, Record<string, string> | string>
    }
    const main = manifest.exports["."] as Record<string, string>
    expect(Object.keys(main)[0]).toBe("bun")
    expect(main["bun"]).toBe("./src/index.ts")
    expect(main["types"]).toBe("./dist/index.d.ts")
    expect(main["import"]).toBe("./dist/index.js")
  })
})

describe.skipIf(!online)("@causald/core installed from its tarball into a fresh project", () => {
  const project = join(work, "consumer")

  beforeAll(() => {
    rmSync(project, { recursive: true, force: true })
    spawnSync("mkdir", ["-p", project])
    writeFileSync(
      join(project, "package.json"),
      JSON.stringify({
        name: "consumer",
        private: true,
        type: "module",
        dependencies: { "@causald/core": `file:${tarball}` },
      }),
    )
    writeFileSync(join(project, "example.mjs"), example)
    const installed = run("npm", ["install", "--no-audit", "--no-fund"], project)
    if (installed.status !== 0) throw new Error(`npm install failed:\n${installed.output}`)
  }, 300_000)

  const expectExact = (output: string) => {
    const result = JSON.parse(output.trim().split("\n").at(-1)!) as {
      cells: number
      error: number
    }
    expect(result.cells).toBe(4)
    // the front-door formula on the exact joint is the truth up to rounding
    expect(result.error).toBeLessThan(1e-12)
  }

  test("Node imports it and runs an example", () => {
    const r = run("node", ["example.mjs"], project)
    expect({ status: r.status, output: r.status === 0 ? "" : r.output }).toEqual({
      status: 0,
      output: "",
    })
    expectExact(r.output)
  })

  test("Bun imports it and runs the same example", () => {
    const r = run("bun", ["example.mjs"], project)
    expect({ status: r.status, output: r.status === 0 ? "" : r.output }).toEqual({
      status: 0,
      output: "",
    })
    expectExact(r.output)
  })

  test("tsc checks a consumer against its declarations (nodenext)", () => {
    writeFileSync(
      join(project, "check.ts"),
      `import { Adjustment, CausalModel } from "@causald/core"
import { Result } from "effect"
const model = Result.getOrThrow(CausalModel.frontDoor({ seed: 7, confounding: 0.8 }))
const table: Adjustment.EffectTable = Result.getOrThrow(
  CausalModel.interventional(model, { treatment: "X", outcome: "Y" }),
)
export const first: number = table[0]![0]!
`,
    )
    writeFileSync(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "nodenext",
          moduleResolution: "nodenext",
          target: "es2022",
          strict: true,
          noEmit: true,
          types: [],
        },
        files: ["check.ts"],
      }),
    )
    const r = run(join(root, "node_modules", ".bin", "tsc"), ["-p", "tsconfig.json"], project)
    expect({ status: r.status, output: r.output }).toEqual({ status: 0, output: "" })
  }, 120_000)
})
