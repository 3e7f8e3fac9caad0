/**
 * Runs the worked examples of packages/core/README.md (examples/, a workspace of its own because
 * they run on an adapter, which the core may not import) and checks what they compute, and that
 * the code the README shows is the examples' code.
 */
import { beforeAll, describe, expect, test } from "bun:test"
import { spawnSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import * as ExactFrontDoor from "../ExactFrontDoor.ts"
import * as HeterogeneityFigure from "../HeterogeneityFigure.ts"
import * as TwoTower from "../TwoTowerCausalD.ts"

describe("examples/ExactFrontDoor.ts", () => {
  const report = Result.getOrThrow(ExactFrontDoor.main())

  test("front-door adjustment recovers P(Y | do(X)); the naive P(Y | X) does not", () => {
    // On the exact observational joint the front-door formula is the truth up to rounding.
    expect(report.error.population).toBeLessThan(1e-12)
    // On 20,000 users each P(y | x, m) has a standard error below 0.01; 0.02 is generous.
    expect(report.error.frontDoor).toBeLessThan(0.02)
    // The hidden confounder (strength 0.8) biases the observational estimate far more.
    expect(report.error.naive).toBeGreaterThan(0.2)
    expect(report.error.naive).toBeGreaterThan(10 * report.error.frontDoor)
    for (const table of [report.truth, report.frontDoor, report.naive])
      for (const row of table) expect(row[0]! + row[1]!).toBeCloseTo(1, 12)
  })

  test("the estimate improves with more users (sampling error, not bias)", () => {
    const small = Result.getOrThrow(ExactFrontDoor.main({ n: 500 }))
    const large = Result.getOrThrow(ExactFrontDoor.main({ n: 200_000 }))
    expect(large.error.frontDoor).toBeLessThan(small.error.frontDoor)
    expect(large.error.frontDoor).toBeLessThan(0.01)
    expect(large.error.naive).toBeGreaterThan(0.2)
  })

  test("bad options and too few users are typed errors", () => {
    const bad = ExactFrontDoor.main({ confounding: 1.5 })
    expect(Result.isFailure(bad) && bad.failure._tag).toBe("InvalidModel")
    expect(Result.isFailure(bad) && bad.failure.message).toContain("confounding must be in [0, 1)")
    const tiny = ExactFrontDoor.main({ n: 3 })
    expect(Result.isFailure(tiny) && tiny.failure._tag).toBe("PositivityViolation")
  })
})

describe("examples/HeterogeneityFigure.ts", () => {
  const report = Result.getOrThrow(HeterogeneityFigure.main())

  test("seed 1 by hand: S_h, S_h*, S_h° and the figure, in percentage points", () => {
    // Seed 1 moves each metric by a constant step from group to group; the sample standard
    // deviation of three equally spaced values is the step. DIN's steps (x 100) are 7, 8, 10, 6, 7
    // against group-wise 4, 4, 5, 3, 3, so S_h° = 3, 4, 5, 3, 4 and the figure is 19 / 5 = 3.8.
    // CausalD's steps are 5, 5, 6, 4, 5: S_h° = 1, 1, 1, 1, 2 and the figure is 6 / 5 = 1.2.
    expect(report.seeds).toEqual([1, 2, 3])
    expect(report.groups).toEqual(["inactive", "normal", "active"])
    const din = report.runs["DIN"]![0]!
    expect(din.scale).toBe("percent")
    expect(din.metrics["AUC"]!.total).toBeCloseTo(7, 10)
    expect(din.metrics["AUC"]!.natural).toBeCloseTo(4, 10)
    expect(din.metrics["AUC"]!.biasAmplified).toBeCloseTo(3, 10)
    expect(din.metrics["R@10"]!.biasAmplified).toBeCloseTo(5, 10)
    expect(report.figure["DIN"]![0]).toBeCloseTo(3.8, 10)
    expect(report.figure["CausalD"]![0]).toBeCloseTo(1.2, 10)
  })

  test("every seed matches numpy, and the t-test matches scipy.stats.ttest_ind", () => {
    // numpy: mean over metrics of 100 * (std(unified, ddof=1) - std(group-wise, ddof=1)).
    const numpy = {
      DIN: [3.7999999999999963, 3.8084282118122514, 3.7511272384876384],
      CausalD: [1.1999999999999993, 1.168968299301103, 1.1938786792533864],
    }
    for (const [model, values] of Object.entries(numpy))
      values.forEach((v, s) => {
        expect(report.figure[model]![s]).toBeCloseTo(v, 10)
      })
    // scipy.stats.ttest_ind(CausalD, DIN) = (-128.4904830280377, 2.200351458278588e-08).
    expect(report.tTest.statistic).toBeCloseTo(-128.4904830280377, 8)
    expect(report.tTest.degreesOfFreedom).toBe(4)
    expect(Math.abs(report.tTest.pValue / 2.200351458278588e-8 - 1)).toBeLessThan(1e-6)
  })

  test("malformed CSVs name the source, the line and what was expected", () => {
    const message = (csv: string) => {
      const r = HeterogeneityFigure.main(csv, { source: "metrics.csv" })
      return Result.isFailure(r) ? r.failure.message : "no error"
    }
    expect(message("model,seed,group,AUC\nDIN,1,a")).toBe(
      "metrics.csv:2: expected 4 columns, got 3",
    )
    expect(message("model,seed,group,AUC\nDIN,1,a,high")).toBe(
      'metrics.csv:2: AUC must be a number, got "high"',
    )
    expect(message("model,seed,group,AUC\nDIN,1,a,0.5\nDIN,1,a,0.6")).toContain(
      "metrics.csv:3: a second row for model DIN, seed 1, group a",
    )
    expect(message("user,AUC\n")).toContain("metrics.csv:1: expected the header")
    const header = "model,seed,group,AUC,R@5,R@10,NDCG@5,NDCG@10"
    const row = (model: string, group: string, auc: number) =>
      `${model},1,${group},${auc},0.1,0.1,0.1,0.1`
    const incomplete = [header, row("group-wise", "a", 0.5), row("group-wise", "b", 0.6)]
    expect(message([...incomplete, row("DIN", "a", 0.5)].join("\n"))).toBe(
      "metrics.csv: model DIN, seed 1 has no rows for group(s) b",
    )
    // The library's own checks: metrics are fractions in [0, 1].
    const all = ["DIN", "CausalD"].flatMap((m) => [row(m, "a", 0.5), row(m, "b", 0.5)])
    expect(
      message([header, row("group-wise", "a", 50), row("group-wise", "b", 0.6), ...all].join("\n")),
    ).toContain("group 0 has 50, expected a fraction in [0, 1]")
  })
})

describe("examples/TwoTowerCausalD.ts on the tfjs cpu backend", () => {
  let report: TwoTower.TwoTowerReport
  // Trains three teachers and a student: seconds alone, longer on a loaded machine.
  beforeAll(async () => {
    report = await TwoTower.main()
  }, 120_000)

  test("teachers learn their groups, and the prior follows the group sizes (eq. 19)", () => {
    expect(report.backend).toBe("cpu")
    expect(report.teachers.map((t) => t.users)).toEqual([24, 16, 8])
    for (const t of report.teachers) expect(t.lossAfter).toBeLessThan(t.lossBefore / 2)
    report.prior.forEach((p, k) => {
      expect(p).toBeCloseTo([24, 16, 8][k]! / 48, 6)
    })
  })

  test("the Monte-Carlo causal label estimates the exact in-batch one (eq. 14)", () => {
    const { monteCarlo, exact } = report.causalLabel
    expect(monteCarlo.length).toBe(32)
    for (const o of [...monteCarlo, ...exact]) {
      expect(o).toBeGreaterThan(0)
      expect(o).toBeLessThan(1)
    }
    expect(report.causalLabel.meanAbsError).toBeLessThan(0.05)
    // 64 draws per batch row: the error shrinks as an unbiased estimator's should.
    expect(report.causalLabel.meanAbsErrorManyPartners).toBeLessThan(0.005)
    expect(report.causalLabel.meanAbsErrorManyPartners).toBeLessThan(
      report.causalLabel.meanAbsError,
    )
  })

  test("eq. 16 routing: consistency trains only the estimator, distillation only the student", () => {
    expect(report.routing.consistencyOnStudent).toBe(0)
    expect(report.routing.distillationOnEstimator).toBe(0)
    expect(report.routing.consistencyOnEstimator).toBeGreaterThan(1e-4)
    expect(report.routing.distillationOnStudent).toBeGreaterThan(1e-4)
  })

  test("L_CausalD = L_Rec + L_BDA + L_FDA (eq. 22) decreases under training, without leaks", () => {
    const b = report.firstStep.before
    expect(b.total).toBeCloseTo(b.recommendation + b.backdoor + b.frontDoor, 5)
    expect(report.firstStep.after).toBeLessThan(b.total)
    const last = report.losses.slice(-5)
    expect(last.reduce((s, v) => s + v, 0) / last.length).toBeLessThan(b.total)
    expect(report.leakedTensors).toBe(0)
  })
})

describe("README", () => {
  // the repository root: the README names the examples by their path from there
  const dir = join(import.meta.dir, "..", "..")
  const readme = readFileSync(join(dir, "packages", "core", "README.md"), "utf8")
  // Code blocks whose first line names an example file, e.g. "// examples/HeterogeneityFigure.ts".
  const excerpts = [...readme.matchAll(/```ts\n\/\/ (examples\/\w+\.ts)[^\n]*\n([\s\S]*?)```/g)]

  test("shows an excerpt of each example", () => {
    expect(new Set(excerpts.map((m) => m[1]))).toEqual(
      new Set([
        "examples/TwoTowerCausalD.ts",
        "examples/ExactFrontDoor.ts",
        "examples/HeterogeneityFigure.ts",
      ]),
    )
  })

  test("every line of an excerpt is a line of its example (elisions are '// ...')", () => {
    for (const [, file, code] of excerpts) {
      const source = new Set(
        readFileSync(join(dir, file!), "utf8")
          .split("\n")
          .map((l) => l.trim()),
      )
      const missing = code!
        .split("\n")
        .map((l) => l.trim())
        .filter((l) => l !== "" && l !== "// ..." && !source.has(l))
      expect({ file, missing }).toEqual({ file, missing: [] })
    }
  })

  // Output blocks: "$ bun examples/X.ts", then the lines it prints ("..." elides).
  const outputs = [...readme.matchAll(/```text\n\$ bun (examples\/\w+\.ts)\n([\s\S]*?)```/g)]

  test("the output it shows is what each example prints now, in order", () => {
    expect(outputs.map((m) => m[1])).toEqual([
      "examples/ExactFrontDoor.ts",
      "examples/HeterogeneityFigure.ts",
    ])
    for (const [, file, shown] of outputs) {
      const run = spawnSync(process.execPath, [join(dir, file!)], { encoding: "utf8" })
      expect(run.status).toBe(0)
      const printed = run.stdout.split("\n").map((l) => l.trimEnd())
      let at = 0
      const missing: Array<string> = []
      for (const line of shown!.split("\n").map((l) => l.trimEnd())) {
        if (line === "" || line === "...") continue
        const found = printed.indexOf(line, at)
        if (found < 0) missing.push(line)
        else at = found + 1
      }
      expect({ file, missing }).toEqual({ file, missing: [] })
    }
  })
})
