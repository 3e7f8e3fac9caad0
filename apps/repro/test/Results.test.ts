import { describe, expect, test } from "bun:test"
import { Statistics } from "@causald/core"
import { Result } from "effect"
import {
  compareMethods,
  decodeResults,
  encodeResults,
  type MethodResult,
  ranking,
  summarize,
  summarizeGroups,
} from "../src/Results.ts"
import { allTableMetrics, makeResults } from "./fixture.ts"

describe("Results: summaries", () => {
  test("mean and sample std (n - 1) over seeds; null std for one seed", () => {
    const s = summarize([1, 2, 4])
    expect(s.perSeed).toEqual([1, 2, 4])
    expect(s.mean).toBeCloseTo(7 / 3, 12)
    // deviations -4/3, -1/3, 5/3: squares 16/9 + 1/9 + 25/9 = 42/9, / 2 = 7/3
    expect(s.std).toBeCloseTo(Math.sqrt(7 / 3), 12)
    expect(summarize([0.5])).toEqual({ perSeed: [0.5], mean: 0.5, std: null })
  })

  test("per-group summaries from perSeed[s][g]", () => {
    const g = summarizeGroups([
      [1, 10],
      [3, 14],
    ])
    expect(g.mean).toEqual([2, 12])
    expect(g.std[0]).toBeCloseTo(Math.SQRT2, 12)
    expect(g.std[1]).toBeCloseTo(2 * Math.SQRT2, 12)
  })
})

describe("Results: best against runner-up", () => {
  const results = makeResults()

  test("ranks by mean, higher is better except for Heterogeneity", () => {
    for (const c of results.comparisons) {
      expect(c.best).toBe("causald")
      expect(c.runnerUp).toBe(c.metric === "Heterogeneity" ? "ips" : "ensctr")
      expect(c.direction).toBe(c.metric === "Heterogeneity" ? "lower" : "higher")
    }
    expect(results.comparisons.map((c) => c.metric)).toEqual([...allTableMetrics])
    expect(ranking(results.methods, "Heterogeneity").at(-1)?.method).toBe("ensctr")
  })

  test("the p-value is the two-sided Student t-test of core Statistics", () => {
    const auc = results.comparisons.find((c) => c.metric === "AUC")
    const a = results.methods.find((m) => m.method === "causald")?.metrics.AUC.perSeed ?? []
    const b = results.methods.find((m) => m.method === "ensctr")?.metrics.AUC.perSeed ?? []
    const t = Result.getOrThrow(Statistics.studentTTest(a, b))
    expect(auc?.pValue).toBe(t.pValue)
    expect(auc?.statistic).toBe(t.statistic)
    expect(auc?.degreesOfFreedom).toBe(4)
  })

  test("one seed: no p-value, and the reason", () => {
    const one = (m: MethodResult): MethodResult => ({
      ...m,
      metrics: {
        ...m.metrics,
        AUC: summarize([m.metrics.AUC.mean]),
      },
    })
    const c = compareMethods(results.methods.map(one)).find((x) => x.metric === "AUC")
    expect(c?.best).toBe("causald")
    expect(c?.pValue).toBeNull()
    expect(c?.note).toContain("three in total")
  })

  test("Heterogeneity absent everywhere: no comparison for it", () => {
    const methods = results.methods.map((m) => ({
      ...m,
      metrics: { ...m.metrics, Heterogeneity: null },
    }))
    expect(compareMethods(methods).map((c) => c.metric)).not.toContain("Heterogeneity")
  })
})

describe("Results: results.json", () => {
  test("encode then decode gives the same results", () => {
    const results = makeResults()
    const text = Result.getOrThrow(encodeResults(results))
    expect(JSON.parse(text).schemaVersion).toBe(2)
    expect(Result.getOrThrow(decodeResults(text))).toEqual(results)
  })

  test("another schema version is refused by name", () => {
    // version 1 lacked manifest.training
    const text = JSON.stringify({ ...makeResults(), schemaVersion: 1 })
    const r = decodeResults(text, "run/results.json")
    expect(Result.isFailure(r) && r.failure.message).toContain(
      "run/results.json: schemaVersion 1 is not supported (this version reads 2)",
    )
  })

  test("a malformed field is refused with its path", () => {
    const json = JSON.parse(Result.getOrThrow(encodeResults(makeResults())))
    json.methods[0].metrics.AUC.mean = "high"
    const r = decodeResults(JSON.stringify(json))
    expect(Result.isFailure(r)).toBe(true)
    if (Result.isFailure(r)) {
      expect(r.failure.message).toContain("mean")
      expect(r.failure.message).toContain("methods")
    }
    expect(Result.isFailure(decodeResults("{not json"))).toBe(true)
  })

  test("NaN cannot be written (it would become null silently)", () => {
    const results = makeResults()
    const bad = {
      ...results,
      methods: results.methods.map((m, i) =>
        i === 0
          ? { ...m, metrics: { ...m.metrics, AUC: { ...m.metrics.AUC, mean: Number.NaN } } }
          : m,
      ),
    }
    expect(Result.isFailure(encodeResults(bad))).toBe(true)
  })
})
