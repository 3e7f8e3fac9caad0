import { describe, expect, test } from "bun:test"
import { Result } from "effect"
import fc from "fast-check"
import * as Heterogeneity from "../src/Heterogeneity.ts"
import * as Ranking from "../src/Ranking.ts"

const RUNS = { numRuns: 200, seed: 8 } as const

describe("S_h, S_h* and S_h° (eq. 6-8)", () => {
  test("hand-computed: sample standard deviation over groups, in percent by default", () => {
    // AUC on three groups under unified training: 0.80, 0.70, 0.60 -> mean 0.70, squared deviations
    // 0.01 + 0 + 0.01, divided by |E| - 1 = 2: variance 0.01, S_h = 0.1 = 10 percentage points.
    // Group-wise training: 0.80, 0.75, 0.70 -> S_h* = 0.05 = 5 points. S_h° = 5 points.
    const h = Result.getOrThrow(
      Heterogeneity.biasAmplified("AUC", [0.8, 0.7, 0.6], [0.8, 0.75, 0.7]),
    )
    expect(h.total).toBeCloseTo(10, 12)
    expect(h.natural).toBeCloseTo(5, 12)
    expect(h.biasAmplified).toBeCloseTo(5, 12)
    const fraction = Result.getOrThrow(
      Heterogeneity.performanceHeterogeneity("AUC", [0.8, 0.7, 0.6], { scale: "fraction" }),
    )
    expect(fraction).toBeCloseTo(0.1, 14)
  })

  test("the Heterogeneity figure is the mean of S_h° over the five metrics", () => {
    // Two groups: the sample sd of {a, b} is |a - b| / sqrt(2).
    const unified = {
      AUC: [0.8, 0.7],
      "R@5": [0.3, 0.2],
      "R@10": [0.5, 0.3],
      "NDCG@5": [0.2, 0.2],
      "NDCG@10": [0.3, 0.25],
      "extra metric": [0, 1],
    }
    const groupWise = {
      AUC: [0.78, 0.72],
      "R@5": [0.3, 0.25],
      "R@10": [0.45, 0.35],
      "NDCG@5": [0.21, 0.2],
      "NDCG@10": [0.3, 0.25],
    }
    const report = Result.getOrThrow(Heterogeneity.heterogeneity(unified, groupWise))
    // S_h° in percent: (10 - 6, 10 - 5, 20 - 10, 0 - 1, 5 - 5) / sqrt(2).
    const expected = (4 + 5 + 10 - 1 + 0) / Math.sqrt(2) / 5
    expect(report.scale).toBe("percent")
    expect(report.heterogeneity).toBeCloseTo(expected, 10)
    expect(Object.keys(report.metrics)).toEqual(["AUC", "R@5", "R@10", "NDCG@5", "NDCG@10"])
    expect(report.metrics["NDCG@5"].biasAmplified).toBeCloseTo(-1 / Math.sqrt(2), 10)
    const asFraction = Result.getOrThrow(
      Heterogeneity.heterogeneity(unified, groupWise, { scale: "fraction" }),
    )
    expect(asFraction.heterogeneity).toBeCloseTo(expected / 100, 12)
  })

  test("errors: fewer than two groups, missing metric, mismatched groups, values off [0, 1]", () => {
    const one = Heterogeneity.performanceHeterogeneity("AUC", [0.8])
    expect(Result.isFailure(one) && one.failure._tag).toBe("TooFewGroups")
    expect(Result.isFailure(one) && one.failure.message).toContain("at least 2 user groups, got 1")
    const full = { AUC: [0.8, 0.7], "R@5": [0.1, 0.2], "R@10": [0.2, 0.3], "NDCG@5": [0.1, 0.1] }
    const missing = Heterogeneity.heterogeneity(full, { ...full, "NDCG@10": [0.1, 0.2] })
    expect(Result.isFailure(missing) && missing.failure).toMatchObject({
      _tag: "MissingMetric",
      metric: "NDCG@10",
      training: "unified",
    })
    const missingGroupWise = Heterogeneity.heterogeneity({ ...full, "NDCG@10": [0.1, 0.2] }, full)
    expect(Result.isFailure(missingGroupWise) && missingGroupWise.failure).toMatchObject({
      _tag: "MissingMetric",
      training: "groupWise",
    })
    const mismatch = Heterogeneity.biasAmplified("AUC", [0.1, 0.2, 0.3], [0.1, 0.2])
    expect(Result.isFailure(mismatch) && mismatch.failure._tag).toBe("InvalidPerformance")
    // Percent given where fractions are expected is caught.
    const percent = Heterogeneity.performanceHeterogeneity("AUC", [81.85, 79.2])
    expect(Result.isFailure(percent) && percent.failure._tag).toBe("InvalidPerformance")
  })

  test("properties: scale, group order and a common shift leave S_h unchanged up to units", () => {
    fc.assert(
      fc.property(
        fc.array(fc.double({ min: 0, max: 0.5, noNaN: true }), { minLength: 2, maxLength: 12 }),
        fc.double({ min: 0, max: 0.5, noNaN: true }),
        (values, shift) => {
          const sh = (xs: ReadonlyArray<number>, scale: Heterogeneity.Scale = "percent") =>
            Result.getOrThrow(Heterogeneity.performanceHeterogeneity("m", xs, { scale }))
          expect(sh(values)).toBeGreaterThanOrEqual(0)
          expect(sh(values)).toBeCloseTo(100 * sh(values, "fraction"), 9)
          expect(sh([...values].reverse())).toBeCloseTo(sh(values), 9)
          expect(sh(values.map((v) => v + shift))).toBeCloseTo(sh(values), 9)
          // Unified = group-wise gives no bias-amplified heterogeneity.
          const h = Result.getOrThrow(Heterogeneity.biasAmplified("m", values, values))
          expect(h.biasAmplified).toBe(0)
        },
      ),
      RUNS,
    )
  })

  test("from per-group ranking accumulators", () => {
    // Group 0: positive first (rank 0); group 1: positive last among 3 negatives (rank 3).
    const scores = Float64Array.of(1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 0, 1, 1, 1)
    const metrics = Result.getOrThrow(Ranking.sampled(scores, 4, { ks: [5, 10] }))
    const groups = Result.getOrThrow(Ranking.byGroup(metrics, Int32Array.of(0, 0, 1, 1), 2))
    const perGroup = Result.getOrThrow(Heterogeneity.fromGroupAccumulators(groups, "unified"))
    expect(Array.from(perGroup["AUC"])).toEqual([1, 0])
    expect(Array.from(perGroup["R@5"])).toEqual([1, 1])
    const empty = Heterogeneity.fromGroupAccumulators([groups[0], {}], "groupWise")
    expect(Result.isFailure(empty) && empty.failure._tag).toBe("MissingMetric")
  })
})
