import { describe, expect, test } from "bun:test"
import { Result } from "effect"
import fc from "fast-check"
import * as MetricAccumulator from "../src/MetricAccumulator.ts"
import * as Ranking from "../src/Ranking.ts"
import * as Statistics from "../src/Statistics.ts"

const RUNS = { numRuns: 200, seed: 777 } as const

const metricName = fc.constantFrom("AUC", "R@5", "NDCG@10")
const value = fc.double({ min: 0, max: 1, noNaN: true })
const accumulator = fc
  .array(fc.tuple(metricName, fc.array(value, { maxLength: 20 })), { maxLength: 3 })
  .map((parts) =>
    parts.reduce(
      (acc, [name, values]) =>
        MetricAccumulator.combine(acc, MetricAccumulator.fromValues(name, values)),
      MetricAccumulator.empty,
    ),
  )

/** Equal counts and equal sums up to floating-point rounding (sums of at most 60 values in [0, 1]). */
const expectClose = (a: MetricAccumulator.Accumulator, b: MetricAccumulator.Accumulator) => {
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort())
  for (const metric of Object.keys(a)) {
    expect(a[metric].count).toBe(b[metric].count)
    expect(Math.abs(a[metric].sum - b[metric].sum)).toBeLessThan(1e-12)
    expect(Math.abs(a[metric].sumOfSquares - b[metric].sumOfSquares)).toBeLessThan(1e-12)
  }
}

describe("the accumulator monoid", () => {
  const { reducer } = MetricAccumulator
  test("empty is a left and right identity", () => {
    fc.assert(
      fc.property(accumulator, (a) => {
        expect(reducer.combine(reducer.initialValue, a)).toEqual(a)
        expect(reducer.combine(a, reducer.initialValue)).toEqual(a)
      }),
      RUNS,
    )
  })

  test("concat is associative (exactly for counts, to rounding for sums)", () => {
    fc.assert(
      fc.property(accumulator, accumulator, accumulator, (a, b, c) => {
        expectClose(
          reducer.combine(reducer.combine(a, b), c),
          reducer.combine(a, reducer.combine(b, c)),
        )
      }),
      RUNS,
    )
  })

  test("concat is commutative", () => {
    fc.assert(
      fc.property(accumulator, accumulator, (a, b) => {
        expectClose(reducer.combine(a, b), reducer.combine(b, a))
      }),
      RUNS,
    )
  })

  test("splitting users into arbitrary shards and merging gives the one-pass means", () => {
    fc.assert(
      fc.property(
        fc.array(value, { minLength: 1, maxLength: 200 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (values, cuts) => {
          const bounds = [
            0,
            ...cuts.map((c) => c % (values.length + 1)).sort((x, y) => x - y),
            values.length,
          ]
          const shards = bounds
            .slice(1)
            .map((end, i) => MetricAccumulator.fromValues("AUC", values.slice(bounds[i], end)))
          const merged = reducer.combineAll(shards.reverse())
          const onePass = MetricAccumulator.fromValues("AUC", values)
          expect(merged["AUC"].count).toBe(values.length)
          expect(MetricAccumulator.means(merged)["AUC"]).toBeCloseTo(
            MetricAccumulator.means(onePass)["AUC"],
            12,
          )
        },
      ),
      RUNS,
    )
  })

  test("per-group evaluation of shards merges into the per-group evaluation of all users", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.nat(), fc.array(value, { minLength: 6, maxLength: 6 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.nat(),
        (groupCount, users, cut) => {
          const evaluate = (part: typeof users) => {
            const metrics = Result.getOrThrow(
              Ranking.sampled(Float64Array.from(part.flatMap(([, row]) => row)), 6, { ks: [1, 3] }),
            )
            const groups = Int32Array.from(part.map(([g]) => g % groupCount))
            return Result.getOrThrow(Ranking.byGroup(metrics, groups, groupCount))
          }
          const k = cut % (users.length + 1)
          const shards = [users.slice(0, k), users.slice(k)].filter((s) => s.length > 0)
          const merged = MetricAccumulator.groupedReducer.combineAll(shards.map(evaluate))
          const whole = evaluate(users)
          expect(merged.length).toBe(whole.length)
          whole.forEach((acc, g) => {
            expectClose(merged[g], acc)
          })
        },
      ),
      RUNS,
    )
  })
})

describe("summaries", () => {
  test("hand-computed means and standard deviation", () => {
    const acc = MetricAccumulator.combine(
      MetricAccumulator.fromValues("R@5", [1, 0, 1]),
      MetricAccumulator.fromValues("R@5", [0]),
    )
    expect(acc["R@5"]).toEqual({ count: 4, sum: 2, sumOfSquares: 2 })
    const s = MetricAccumulator.summary(acc)["R@5"]
    expect(s.mean).toBe(0.5)
    // Sample variance of {1, 0, 1, 0}: (4 * 0.25) / 3.
    expect(s.standardDeviation).toBeCloseTo(Math.sqrt(1 / 3), 12)
    expect(
      Number.isNaN(
        MetricAccumulator.summary(MetricAccumulator.fromValues("x", [1]))["x"].standardDeviation,
      ),
    ).toBe(true)
  })

  test("the standard deviation from sums agrees with the two-pass one", () => {
    fc.assert(
      fc.property(fc.array(value, { minLength: 2, maxLength: 100 }), (values) => {
        const s = MetricAccumulator.summary(MetricAccumulator.fromValues("m", values))["m"]
        expect(
          Math.abs(s.standardDeviation - Statistics.sampleStandardDeviation(values)),
        ).toBeLessThan(1e-6)
      }),
      RUNS,
    )
  })
})
