/**
 * `bun run repro` end to end, as a process, on the tiny `--quick` study: every output exists and
 * parses, the figures render, and a run killed in the middle resumes to the same numbers.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Checkpoint } from "@causald/core"
import { Din } from "@causald/models"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { screen } from "../src/Readings.ts"
import type { Results } from "../src/Results.ts"
import { finish, readRunResults } from "./fixture.ts"

const main = join(import.meta.dir, "..", "src", "main.ts")
const root = mkdtempSync(join(tmpdir(), "causald-repro-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const run = (args: ReadonlyArray<string>) =>
  Bun.spawn(["bun", main, "--quick", "--backend", "wasm", ...args], {
    stdout: "ignore",
    stderr: "pipe",
    env: { ...process.env },
  })

/** Everything but the manifest's times and paths. */
const numbers = (r: Results) => ({
  methods: r.methods,
  comparisons: r.comparisons,
  groupings: r.groupings,
  dataset: r.dataset,
})

describe("bun run repro --quick", () => {
  test("writes results.json (valid against its schema), the tables, the figures and the report", async () => {
    const out = join(root, "all")
    const { code, stderr } = await finish(run(["--seeds", "1", "--out", out]))
    expect(stderr).not.toContain("    at ") // no stack trace
    expect(code).toBe(0)
    const results = readRunResults(out)
    expect(results.methods.map((m): string => m.method).sort()).toEqual(
      [
        "base",
        "causald",
        "causalrec",
        "debiasd",
        "derec",
        "ensctr",
        "groupwise",
        "ho-teachers",
        "ips",
        "kd",
        "meal",
        "wo-fda",
      ].sort(),
    )
    expect(results.dataset.hasTruth).toBe(true)
    expect(results.methods.find((m) => m.method === "causald")!.truth).not.toBeNull()
    // the training cost lists every trained model, with its epochs and their seconds
    const trained = results.manifest.training
    expect(trained.map((t) => t.model)).toContain("causald/seed-1")
    expect(trained.map((t) => t.model)).toContain("teachers-activeness-4-0")
    expect(new Set(trained.map((t) => t.model)).size).toBe(trained.length)
    for (const t of trained) {
      expect(t.epochs).toBeGreaterThanOrEqual(1)
      expect(t.seconds).toBeGreaterThan(0)
    }
    // distilled students record their teachers, baselines their coefficient (Provenance.ts)
    const provenance = (model: string) =>
      JSON.parse(readFileSync(join(out, "models", model, "provenance.json"), "utf8"))
    const teachersOf = (student: string) =>
      provenance(student).teachers.map((t: { model: string }) => t.model)
    expect(teachersOf("causald/seed-1")).toEqual(
      [0, 1, 2, 3].map((k) => `teachers-activeness-4-${k}`),
    )
    expect(teachersOf("kd/seed-1")).toEqual(["kd-teacher/seed-1"])
    expect(provenance("causald/seed-1").settings).toEqual({ lambdaBda: 1, lambdaFda: 1 })
    // ... and the base model's configuration as resolved (the defaults without --base-config)
    expect(provenance("ips/seed-1")).toEqual({
      teachers: [],
      settings: { clip: 0.1 },
      model: { base: "din", config: Din.defaultConfig },
    })
    expect(results.manifest.fingerprint?.model).toEqual({ base: "din", config: Din.defaultConfig })
    expect(existsSync(join(out, "models", "base", "seed-1", "provenance.json"))).toBe(false)
    expect(results.teacherCounts?.map((p) => p.value)).toEqual([2, 4, 8, 16])
    expect(results.sensitivity?.lambdaFda.map((p) => p.value)).toEqual([0.01, 0.1, 1, 10])
    // Figure 4's bars: consistency groups are ordered by KL(past || now), an INconsistency.
    const barsOf = (name: string) => results.groupings.find((g) => g.name === name)?.value?.name
    expect(barsOf("activeness")).toBe("mean activeness (interactions)")
    expect(barsOf("consistency")).toBe("mean KL(past ‖ now)")
    for (const file of [
      "table2.md",
      "table3.md",
      "table3.csv",
      "table5.md",
      "table7.md",
      "report.md",
      "figure1.svg",
      "figure4.svg",
      "figure5.svg",
    ])
      expect(readFileSync(join(out, file), "utf8").length).toBeGreaterThan(100)
    for (const png of ["figure1.png", "figure4.png", "figure5.png"])
      expect(Array.from(readFileSync(join(out, png)).subarray(0, 8))).toEqual([
        137, 80, 78, 71, 13, 10, 26, 10,
      ])
  }, 300_000)

  test("a run killed in the middle resumes from its checkpoints and ends with the same numbers", async () => {
    const args = [
      "--seeds",
      "2",
      "--methods",
      "base,groupwise,causald,wo-fda",
      "--experiments",
      "table2,table3,fig1,fig4",
    ]
    const reference = join(root, "reference")
    expect((await finish(run([...args, "--out", reference]))).code).toBe(0)

    const killedOut = join(root, "killed")
    const victim = run([...args, "--out", killedOut])
    // Kill it once CausalD of the first seed has finished an epoch: teachers, base and group-wise
    // models are done, CausalD is half-way.
    const reader = victim.stderr.getReader()
    let seen = ""
    while (!seen.includes("causald seed 1 epoch 1")) {
      const { value, done } = await reader.read()
      if (done) break
      seen += new TextDecoder().decode(value)
    }
    victim.kill("SIGKILL")
    await victim.exited
    expect(existsSync(join(killedOut, "results.json"))).toBe(false)

    const resumed = await finish(run([...args, "--out", killedOut]))
    expect(resumed.code).toBe(0)
    expect(resumed.stderr).toContain("resumed after epoch")
    const again = readRunResults(killedOut)
    expect(numbers(again)).toEqual(numbers(readRunResults(reference)))
    // the models trained before the kill still count, with their epochs
    expect(again.manifest.training.map((t) => [t.model, t.epochs])).toEqual(
      readRunResults(reference).manifest.training.map((t) => [t.model, t.epochs]),
    )
  }, 300_000)

  test("each trained model is scored once: its evaluation is kept by its parameters' hash, read back on a rerun, scored again when unreadable", async () => {
    const out = join(root, "evaluations")
    const args = ["--seeds", "1", "--methods", "base,causald", "--experiments", "table3"]
    expect((await finish(run([...args, "--out", out]))).code).toBe(0)
    const reference = readRunResults(out)
    const stored = readdirSync(join(out, "evaluations"))
    // DIN and CausalD of seed 1
    expect(stored.length).toBe(2)
    const auc = (r: Results) => r.methods.map((m) => m.metrics.AUC.mean)
    // a rerun reads the stored evaluations: planted figures come back out
    for (const f of stored) {
      const path = join(out, "evaluations", f)
      const e = JSON.parse(readFileSync(path, "utf8"))
      writeFileSync(path, JSON.stringify({ ...e, overall: { ...e.overall, AUC: 0.123 } }))
    }
    expect((await finish(run([...args, "--out", out]))).code).toBe(0)
    expect(auc(readRunResults(out))).toEqual([0.123, 0.123])
    // unreadable files are scored again, to the first run's figures, and rewritten
    for (const f of stored) writeFileSync(join(out, "evaluations", f), "{")
    expect((await finish(run([...args, "--out", out]))).code).toBe(0)
    expect(numbers(readRunResults(out))).toEqual(numbers(reference))
    const rewritten = stored.map(
      (f) => JSON.parse(readFileSync(join(out, "evaluations", f), "utf8")).overall.AUC,
    )
    expect(rewritten.sort()).toEqual(auc(reference).sort())
  }, 300_000)

  test("--partners all trains CausalD on the exact causal label, records it, and refuses what it cannot hold", async () => {
    const out = join(root, "exact")
    const args = ["--seeds", "1", "--methods", "base,causald", "--experiments", "table3"]
    const exact = await finish(run([...args, "--partners", "all", "--out", out]))
    expect(exact.stderr).not.toContain("    at ")
    expect(exact.code).toBe(0)
    expect(readRunResults(out).manifest.configuration.partners).toBe("all")
    const provenance = JSON.parse(
      readFileSync(join(out, "models", "causald", "seed-1", "provenance.json"), "utf8"),
    )
    expect(provenance.settings.partners).toBe("all")
    // The same folder with the default (16 sampled partners) is another CausalD: refused by name.
    const sampled = await finish(run([...args, "--out", out]))
    expect(sampled.code).not.toBe(0)
    expect(sampled.stderr).toContain("partners was all, now unset")
    // K = 16 at batch 512 is a [16, 512, 512, 16] tensor: refused before anything trains.
    const tooLarge = join(root, "exact-16")
    const refused = await finish(
      run([...args, "--partners", "all", "--teachers", "16", "--out", tooLarge]),
    )
    expect(refused.code).not.toBe(0)
    expect(refused.stderr).toContain("--partners all")
    expect(refused.stderr).not.toContain("    at ")
    expect(existsSync(join(tooLarge, "models"))).toBe(false)
  }, 120_000)

  test("--dataset frontdoor: oracle rows, the share of the oracle gap, interventional metrics and the strength figure", async () => {
    const out = join(root, "frontdoor")
    const { code, stderr } = await finish(
      run([
        "--dataset",
        "frontdoor",
        "--seeds",
        "2",
        "--methods",
        "din,causald",
        "--experiments",
        "table3,strength",
        "--out",
        out,
      ]),
    )
    expect(stderr).not.toContain("    at ")
    expect(code).toBe(0)
    const results = readRunResults(out)
    const [observational, truth] = results.oracles!
    expect(observational!.oracle).toBe("observational-oracle")
    expect(truth!.rankCorrelation).toBe(1)
    // the world's own order: each oracle ranks best on its own test split
    expect(observational!.metrics.AUC).toBeGreaterThan(truth!.metrics.AUC)
    expect(truth!.interventional.AUC).toBeGreaterThan(observational!.interventional.AUC)
    const causald = results.methods.find((m) => m.method === "causald")!
    expect(causald.interventional!.AUC.perSeed).toHaveLength(2)
    const rho = causald.truth!.rankCorrelation.perSeed
    const expected = rho.map(
      (r) => (r - observational!.rankCorrelation) / (1 - observational!.rankCorrelation),
    )
    causald.truth!.gapClosed!.perSeed.forEach((g, i) => {
      expect(g).toBeCloseTo(expected[i]!, 10)
    })
    // the sweep: s = 1 is this run, the others are runs of their own, all with their oracle
    expect(results.strength!.map((p) => p.strength)).toEqual([0, 0.25, 0.5, 0.75, 1])
    expect(results.strength!.map((p) => p.folder)).toEqual([
      "strength/s-0",
      "strength/s-0.25",
      "strength/s-0.5",
      "strength/s-0.75",
      ".",
    ])
    expect(results.strength![0]!.oracleRankCorrelation).toBe(1)
    expect(results.strength![4]!.oracleRankCorrelation).toBe(observational!.rankCorrelation)
    for (const p of results.strength!)
      expect(p.methods.map((m) => m.method)).toEqual(["base", "causald"])
    expect(readRunResults(join(out, "strength", "s-0.5")).manifest.configuration.strength).toBe(0.5)
    for (const f of ["strength.png", "strength.svg", "interventional.md", "truth.md"])
      expect(existsSync(join(out, f)), f).toBe(true)
    expect(readFileSync(join(out, "truth.md"), "utf8")).toContain("oracle gap closed")
    const report = readFileSync(join(out, "report.md"), "utf8")
    expect(report).toContain(`the oracle gap is ${(1 - observational!.rankCorrelation).toFixed(4)}`)
    expect(report).toContain("s = 0.25: rank correlation with the truth")
  }, 180_000)

  test("the readings of the paper: teachers and student start from the base, every choice recorded, another reading refused on reuse", async () => {
    const out = join(root, "readings")
    const args = [
      "--methods",
      "din,causald",
      "--seeds",
      "1",
      "--experiments",
      "table3",
      "--reading",
      "aligned",
      "--fda-items",
      "own",
      "--teacher-prior",
      "interactions",
      "--fda-hidden",
      "8,4",
      "--fda-warmup",
      "epoch",
      "--out",
      out,
    ]
    const first = await finish(run(args))
    expect(first.stderr).not.toContain("    at ")
    expect(first.code).toBe(0)
    const provenance = JSON.parse(
      readFileSync(join(out, "models", "causald", "seed-1", "provenance.json"), "utf8"),
    )
    expect(provenance.teachers.map((t: { model: string }) => t.model)).toEqual(
      [0, 1, 2, 3].map((k) => `teachers-activeness-4-from-base-s1-${k}`),
    )
    expect(provenance.settings).toEqual({
      lambdaBda: 1,
      lambdaFda: 1,
      bdaDistance: "mse",
      studentInit: "base",
      fdaItems: "own",
      teacherPrior: "interactions",
      fdaWarmup: "epoch",
      fdaHidden: "8,4",
    })
    // fine-tuned teachers stay near the base model they started from; the literal reading's
    // independently initialised teachers are nowhere near it
    const table = (model: string) =>
      Effect.runPromise(
        Checkpoint.load(join(out, "models", model, "best.ckpt")).pipe(
          Effect.provide(NodeServices.layer),
        ),
      ).then((c) => {
        const items = c.arrays.find(
          (a) => a.name.endsWith("item-embedding") || a.name.includes("item"),
        )!
        return Float64Array.from(items.data as ArrayLike<number>)
      })
    const base = await table("base/seed-1")
    const distance = (x: Float64Array) =>
      Math.sqrt(
        x.reduce((a, v, i) => a + (v - base[i]!) ** 2, 0) / base.reduce((a, v) => a + v * v, 0),
      )
    const fineTuned = distance(await table("teachers-activeness-4-from-base-s1-0"))
    expect(fineTuned).toBeLessThan(0.5)
    const literal = await finish(
      run([
        "--methods",
        "din,causald",
        "--seeds",
        "1",
        "--experiments",
        "table3",
        "--out",
        join(root, "literal"),
      ]),
    )
    expect(literal.code).toBe(0)
    const independent = distance(await table("../../literal/models/teachers-activeness-4-0"))
    expect(independent).toBeGreaterThan(2 * fineTuned)
    // the same folder under another reading: CausalD's model is refused by name
    const stale = await finish(
      run(["--methods", "din,causald", "--seeds", "1", "--experiments", "table3", "--out", out]),
    )
    expect(stale.code).not.toBe(0)
    expect(stale.stderr).toContain("causald seed 1")
    expect(stale.stderr).toContain("was trained from another configuration")
    expect(stale.stderr).not.toContain("    at ")
  }, 240_000)

  test("--experiments readings: CausalD under every reading of the screen, the literal one reused from the study", async () => {
    const out = join(root, "screen")
    const { code, stderr } = await finish(
      run(["--methods", "din,causald", "--seeds", "1", "--experiments", "readings", "--out", out]),
    )
    expect(stderr).not.toContain("    at ")
    expect(code).toBe(0)
    const results = readRunResults(out)
    expect(results.readings!.map((r) => r.name)).toEqual(screen.map((e) => e.name))
    const literal = results.readings!.find((r) => r.name === "literal")!
    const causald = results.methods.find((m) => m.method === "causald")!
    expect(literal.metrics.AUC).toEqual(causald.metrics.AUC)
    expect(results.readings!.find((r) => r.name === "aligned")!.reading).toBe(
      "bdaDistance=mse, studentInit=base, teacherInit=base",
    )
    for (const e of screen.filter((e) => e.name !== "literal"))
      expect(
        existsSync(join(out, "models", `causald-screen-${e.name}`, "seed-1", "best.ckpt")),
        e.name,
      ).toBe(true)
    expect(readFileSync(join(out, "readings.md"), "utf8")).toContain("CausalD aligned")
  }, 240_000)

  test("a bad option value is refused with a message naming the option, without a stack trace", async () => {
    const { code, stderr } = await finish(
      run(["--base", "transformer", "--out", join(root, "bad")]),
    )
    expect(code).not.toBe(0)
    expect(stderr).toContain("--base")
    expect(stderr).not.toContain("    at ")
  })
})
