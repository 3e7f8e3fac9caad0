import { describe, expect, test } from "bun:test"
import { Statistics } from "@causald/core"
import { Result } from "effect"
import { report } from "../src/Report.ts"
import { compareMethods, type MethodResult, summarize } from "../src/Results.ts"
import { formatP } from "../src/Tables.ts"
import { makeResults, options } from "./fixture.ts"

const files = [
  "results.json",
  "table3.md",
  "table3.csv",
  "figure4.png",
  "figure4.svg",
  "figure4.vl.json",
]

describe("Report", () => {
  const results = makeResults()
  const text = report(results, files)

  test("the headline is computed from the numbers", () => {
    const c = results.methods.find((m) => m.method === "causald")?.metrics.AUC
    const b = results.methods.find((m) => m.method === "base")?.metrics.AUC
    if (c === undefined || b === undefined) throw new Error("fixture")
    const p = Result.getOrThrow(Statistics.studentTTest(c.perSeed, b.perSeed)).pValue
    expect(text).toContain(
      `CausalD's mean AUC is ${c.mean.toFixed(4)} (± ${c.std?.toFixed(4)}) vs DIN's ${b.mean.toFixed(4)} (± ${b.std?.toFixed(4)}): +0.0300 (+3.7%), better for CausalD; two-sided Student t-test over seeds p = ${formatP(p)}`,
    )
    expect(text).toContain("CausalD's mean Heterogeneity is 0.1100")
    expect(text).toContain("better for CausalD (lower is better)")
  })

  test("the direction follows the numbers: a worse CausalD is reported as worse", () => {
    const worse = results.methods.map(
      (m): MethodResult =>
        m.method === "causald"
          ? {
              ...m,
              metrics: {
                ...m.metrics,
                AUC: summarize([0.7, 0.71, 0.72]),
                Heterogeneity: summarize([2, 2.1, 2.2]),
              },
            }
          : m,
    )
    const t = report({ ...results, methods: worse, comparisons: compareMethods(worse) }, files)
    expect(t).toContain("CausalD's mean AUC is 0.7100 (± 0.0100) vs DIN's 0.8000")
    expect(t).toContain("−0.0900 (−11.3%), better for DIN")
    expect(t).toContain(
      "CausalD's mean Heterogeneity is 2.1000 (± 0.1000) vs DIN's 0.7300 (± 0.0018): +1.3700",
    )
    expect(t).toContain("Best on AUC: EnsCTR with 0.8200 (runner-up DebiasD")
    // Against a negative reference a relative change is meaningless: none is printed.
    const negative = worse.map(
      (m): MethodResult =>
        m.method === "base"
          ? { ...m, metrics: { ...m.metrics, Heterogeneity: summarize([-3.9, -3.7, -3.8]) } }
          : m,
    )
    expect(
      report({ ...results, methods: negative, comparisons: compareMethods(negative) }, files),
    ).toContain("vs DIN's -3.8000 (± 0.1000): +5.9000, better for DIN (lower is better)")
    expect(t).toContain("CausalD is the best of the Table 3 methods on 4 of 6 metrics.")
    expect(t).toContain(
      "AUC: DIN 0.8000, Ho Teachers 0.8080, w.o. FDA 0.8150, CausalD 0.7100; highest: w.o. FDA.",
    )
  })

  test("links only the files that were written", () => {
    expect(text).toContain(
      "[Table 3/4: overall performance and heterogeneity](table3.md) ([csv](table3.csv))",
    )
    expect(text).toContain("](figure4.png)")
    expect(text).not.toContain("table5.md")
    expect(text).not.toContain("figure1.png")
  })

  test("per-group, ablation, teacher and sensitivity sentences name their extremes", () => {
    expect(text).toContain("group G1 (least): CausalD 0.8300 vs DIN 0.7600 (+0.0700)")
    expect(text).toContain("highest at K = 8")
    expect(text).toContain("highest at λ_FDA = 10")
    expect(text).toContain(
      "AUC: DIN 0.8000, Ho Teachers 0.8080, w.o. FDA 0.8150, CausalD 0.8300; highest: CausalD.",
    )
  })

  test("against the paper: its relative gains beside ours", () => {
    // paper Table 3, MovieLens: CausalD 0.8329 vs DIN 0.8185 AUC: +1.8%
    expect(text).toContain("AUC paper +1.8%, this run +3.7%")
  })

  test("caveats: quick mode and fewer seeds than the paper; skipped outputs listed", () => {
    const quick = makeResults({
      manifest: { ...results.manifest, configuration: { ...options, quick: true } },
    })
    const t = report(quick, files, ["fig5: the results have no λ_BDA / λ_FDA sensitivity runs"])
    expect(t).toContain("--quick run")
    expect(t).toContain("3 seeds per method (the paper runs 5)")
    expect(t).toContain("## Not produced")
    expect(t).toContain("fig5: the results have no")
    expect(text).not.toContain("--quick run")
  })

  test("training time: every model's epochs and seconds from the manifest, summed", () => {
    // fixture: 9 + 22 epochs, 31.5 + 1,210 s = 1,241.5 s
    expect(text).toContain("## Training time")
    expect(text).toContain("2 models, 31 epochs, 20 min 42 s of training")
    const none = report(makeResults({ manifest: { ...results.manifest, training: [] } }), files)
    expect(none).not.toContain("## Training time")
  })

  test("truth agreement only for data with truth", () => {
    expect(text).not.toContain("true P(click")
    const t = report(
      makeResults({ dataset: { ...results.dataset, kind: "simulated", hasTruth: true } }),
      files,
    )
    expect(t).toContain("CausalD: rank correlation with the true P(click | do(history)) 0.5300")
    expect(t).toContain("CausalD's rank correlation with the truth is higher than DIN's by 0.0300")
  })
})
