import { describe, expect, test } from "bun:test"
import { Result } from "effect"
import fc from "fast-check"
import { twoSidedPValue } from "../src/internal/StudentT.ts"
import * as Statistics from "../src/Statistics.ts"

const RUNS = { numRuns: 200, seed: 31337 } as const

/*
 * Independent references for the two-sided p-value P(|T| >= |t|) of Student's t with nu degrees of
 * freedom: the closed forms of its CDF for small integer nu (see Abramowitz and Stegun, Handbook of
 * Mathematical Functions, section 26.7), derived from the density by elementary integration:
 *   nu = 1 (Cauchy): p = 1 - (2 / pi) atan|t|
 *   nu = 2:          p = 1 - |t| / sqrt(2 + t^2)
 *   nu = 3:          p = 1 - (2 / pi) (atan x + x / (1 + x^2)),  x = |t| / sqrt(3)
 *   nu = 4:          p = 1 - (3 / 4) y (1 - t^2 / (12 (1 + t^2 / 4))),  y = |t| / sqrt(1 + t^2 / 4)
 * jstat evaluates the regularised incomplete beta function to about 2e-8, hence the tolerance.
 */
const closedForm: Record<number, (t: number) => number> = {
  1: (t) => 1 - (2 / Math.PI) * Math.atan(Math.abs(t)),
  2: (t) => 1 - Math.abs(t) / Math.sqrt(2 + t * t),
  3: (t) => {
    const x = Math.abs(t) / Math.sqrt(3)
    return 1 - (2 / Math.PI) * (Math.atan(x) + x / (1 + x * x))
  },
  4: (t) => {
    const q = 1 + (t * t) / 4
    return 1 - 0.75 * (Math.abs(t) / Math.sqrt(q)) * (1 - (t * t) / (12 * q))
  },
}

describe("two-sided p-value of Student's t (jstat)", () => {
  test("matches the closed forms for nu = 1..4", () => {
    for (const nu of [1, 2, 3, 4]) {
      for (const t of [-12, -3.1, -1, -0.2, 0, 0.5, 1.7, 2.5, 6, 30]) {
        expect(Math.abs(twoSidedPValue(t, nu) - closedForm[nu](t))).toBeLessThan(5e-8)
      }
    }
  })

  test("matches printed t-table critical values", () => {
    // Two-sided critical values from a standard Student t table (e.g. NIST/SEMATECH e-Handbook of
    // Statistical Methods, section 1.3.6.7.2): printed to 3 decimals, so p agrees to about 1e-4.
    const table: ReadonlyArray<readonly [number, number, number]> = [
      [2.228, 10, 0.05],
      [3.169, 10, 0.01],
      [2.306, 8, 0.05],
      [2.086, 20, 0.05],
      [2.845, 20, 0.01],
      [1.812, 10, 0.1],
    ]
    for (const [t, nu, p] of table) expect(Math.abs(twoSidedPValue(t, nu) - p)).toBeLessThan(1e-4)
  })
})

describe("t-tests on hand-computed samples", () => {
  test("equal sizes and variances: Student and Welch agree", () => {
    // a = [0, 2], b = [3, 5]: means 1 and 4, both variances 2, pooled variance 2,
    // standard error sqrt(2 (1/2 + 1/2)) = sqrt(2), t = -3 / sqrt(2), df = 2 for both tests
    // (Welch: (1 + 1)^2 / (1 + 1) = 2). p = 1 - |t| / sqrt(2 + t^2) = 1 - sqrt(4.5 / 6.5) = 1 - 3 / sqrt(13).
    const student = Result.getOrThrow(Statistics.studentTTest([0, 2], [3, 5]))
    const welch = Result.getOrThrow(Statistics.welchTTest([0, 2], [3, 5]))
    for (const r of [student, welch]) {
      expect(r.statistic).toBeCloseTo(-3 / Math.sqrt(2), 12)
      expect(r.degreesOfFreedom).toBeCloseTo(2, 12)
      expect(r.pValue).toBeCloseTo(1 - 3 / Math.sqrt(13), 7)
    }
  })

  test("unequal variances: Student and Welch differ as computed by hand", () => {
    // a = [0, 2] (mean 1, variance 2), b = [5 - d, 5, 5 + d] with d^2 = 1.5 (mean 5, variance 1.5).
    // Welch: v_a = 2 / 2 = 1, v_b = 1.5 / 3 = 0.5, t = -4 / sqrt(1.5), t^2 = 32 / 3,
    //   df = 1.5^2 / (1^2 / 1 + 0.5^2 / 2) = 2.25 / 1.125 = 2, p = 1 - sqrt(t^2 / (2 + t^2)) = 1 - 4 / sqrt(19).
    // Student: pooled variance (1 * 2 + 2 * 1.5) / 3 = 5 / 3, standard error sqrt(5/3 * 5/6) = 5 / sqrt(18),
    //   t = -4 sqrt(18) / 5, df = 3, p from the nu = 3 closed form.
    const d = Math.sqrt(1.5)
    const b = [5 - d, 5, 5 + d]
    const welch = Result.getOrThrow(Statistics.welchTTest([0, 2], b))
    expect(welch.statistic).toBeCloseTo(-4 / d, 12)
    expect(welch.degreesOfFreedom).toBeCloseTo(2, 12)
    expect(welch.pValue).toBeCloseTo(1 - 4 / Math.sqrt(19), 7)
    const student = Result.getOrThrow(Statistics.studentTTest([0, 2], b))
    const t = (-4 * Math.sqrt(18)) / 5
    expect(student.statistic).toBeCloseTo(t, 12)
    expect(student.degreesOfFreedom).toBe(3)
    expect(student.pValue).toBeCloseTo(closedForm[3](t), 7)
  })

  test("mean and sample standard deviation", () => {
    expect(Statistics.mean([1, 2, 3, 4])).toBe(2.5)
    expect(Statistics.sampleStandardDeviation([2, 4, 4, 4, 5, 5, 7, 9])).toBeCloseTo(
      Math.sqrt(32 / 7),
      12,
    )
    expect(Statistics.sampleStandardDeviation([0.1, 0.1, 0.1])).toBe(0)
    expect(Number.isNaN(Statistics.sampleStandardDeviation([1]))).toBe(true)
    expect(Number.isNaN(Statistics.mean([]))).toBe(true)
  })

  test("degenerate samples are typed errors", () => {
    const cases = [
      Statistics.studentTTest([0.3, 0.3, 0.3], [0.3, 0.3]),
      Statistics.studentTTest([1], [2]),
      Statistics.studentTTest([], [1, 2, 3]),
      Statistics.studentTTest([1, Number.NaN], [1, 2]),
      Statistics.welchTTest([0.3, 0.3], [0.3, 0.3, 0.3]),
      Statistics.welchTTest([1], [1, 2, 3]),
      Statistics.welchTTest([1, 2], [Number.POSITIVE_INFINITY, 2]),
    ]
    for (const r of cases) expect(Result.isFailure(r) && r.failure._tag).toBe("DegenerateSamples")
    const constant = Statistics.studentTTest([0.3, 0.3, 0.3], [0.3, 0.3])
    expect(Result.isFailure(constant) && constant.failure.message).toContain(
      "standard error is zero",
    )
  })
})

// Multiples of 1/8 in [-125, 125]: sums are exact, so "identical samples" are identical in
// floating point too, and non-constant samples have a spread of at least 1/8.
const sample = fc.array(
  fc.integer({ min: -1000, max: 1000 }).map((v) => v / 8),
  { minLength: 2, maxLength: 8 },
)
const nonConstant = sample.filter((xs) => xs.some((x) => x !== xs[0]))
const tests = [
  ["Student", Statistics.studentTTest],
  ["Welch", Statistics.welchTTest],
] as const

describe.each(tests)("%s t-test properties", (_, tTest) => {
  test("p is in [0, 1] and symmetric in the two samples", () => {
    fc.assert(
      fc.property(nonConstant, sample, (a, b) => {
        const ab = Result.getOrThrow(tTest(a, b))
        const ba = Result.getOrThrow(tTest(b, a))
        expect(ab.pValue).toBeGreaterThanOrEqual(0)
        expect(ab.pValue).toBeLessThanOrEqual(1)
        expect(ba.pValue).toBeCloseTo(ab.pValue, 12)
        expect(Math.abs(ba.statistic + ab.statistic)).toBeLessThanOrEqual(
          1e-12 * Math.max(1, Math.abs(ab.statistic)),
        )
      }),
      RUNS,
    )
  })

  test("identical non-constant samples give t = 0 and p = 1", () => {
    fc.assert(
      fc.property(nonConstant, (a) => {
        const r = Result.getOrThrow(tTest(a, [...a].reverse()))
        expect(Math.abs(r.statistic)).toBeLessThan(1e-9)
        expect(r.pValue).toBeCloseTo(1, 7)
      }),
      RUNS,
    )
  })

  test("p falls as the samples move apart", () => {
    fc.assert(
      fc.property(
        nonConstant,
        fc.integer({ min: 1, max: 400 }).map((v) => v / 8),
        (a, shift) => {
          const near = Result.getOrThrow(
            tTest(
              a,
              a.map((x) => x + shift),
            ),
          )
          const far = Result.getOrThrow(
            tTest(
              a,
              a.map((x) => x + 2 * shift),
            ),
          )
          expect(far.pValue).toBeLessThanOrEqual(near.pValue + 1e-12)
        },
      ),
      RUNS,
    )
  })
})
