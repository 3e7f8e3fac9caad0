/**
 * Summary statistics and significance tests over repeated runs (seeds), as in the paper's tables:
 * "We run CausalD and the best-performing baseline for five times independently, and conduct
 * two-sided tests" (Section 5.1), citing scipy.stats.ttest_ind.
 *
 * - {@link studentTTest}: two-sided two-sample t-test assuming equal variances (pooled variance),
 *   the default of scipy.stats.ttest_ind (`equal_var=True`);
 * - {@link welchTTest}: the unequal-variance version (`equal_var=False`), with Welch-Satterthwaite
 *   degrees of freedom.
 *
 * The Student t CDF comes from jstat. When both samples are constant the t statistic is 0/0 or
 * +-infinity (scipy returns nan or p = 0 with a warning); here that case is a
 * {@link DegenerateSamples} error, as is any sample too small or holding a non-finite value.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import { twoSidedPValue } from "./internal/StudentT.ts"

/**
 * The arithmetic mean; NaN for an empty sample. Computed as x_0 + sum_i (x_i - x_0) / n, so a
 * constant sample has exactly its value as mean.
 *
 * @since 0.1.0
 */
export const mean = (xs: ArrayLike<number>): number => {
  if (xs.length === 0) return Number.NaN
  const x0 = xs[0]
  let s = 0
  for (let i = 1; i < xs.length; i++) s += xs[i] - x0
  return x0 + s / xs.length
}

/**
 * The sample variance (denominator n - 1, scipy's `ddof=1`); NaN below two values. Two-pass for
 * accuracy; exactly 0 for a constant sample.
 *
 * @since 0.1.0
 */
export const sampleVariance = (xs: ArrayLike<number>): number => {
  if (xs.length < 2) return Number.NaN
  const m = mean(xs)
  let s = 0
  for (let i = 0; i < xs.length; i++) s += (xs[i] - m) * (xs[i] - m)
  return s / (xs.length - 1)
}

/**
 * The sample standard deviation (denominator n - 1); NaN below two values.
 *
 * @since 0.1.0
 */
export const sampleStandardDeviation = (xs: ArrayLike<number>): number =>
  Math.sqrt(sampleVariance(xs))

/**
 * Result of a two-sample t-test: the statistic t = (mean(a) - mean(b)) / standard error, its
 * degrees of freedom and the two-sided p-value P(|T| >= |t|).
 *
 * @since 0.1.0
 */
export interface TTest {
  readonly statistic: number
  readonly degreesOfFreedom: number
  readonly pValue: number
}

/**
 * A t-test cannot be computed: a sample is too small, holds a non-finite value, or both samples are
 * constant so the standard error is zero.
 *
 * @since 0.1.0
 */
export class DegenerateSamples extends Schema.TaggedError<DegenerateSamples>()(
  "DegenerateSamples",
  { test: Schema.Literals(["student", "welch"]), reason: Schema.String },
) {
  override get message(): string {
    return `cannot compute the ${this.test} t-test: ${this.reason}`
  }
}

const checkFinite = (
  test: "student" | "welch",
  name: string,
  xs: ArrayLike<number>,
): DegenerateSamples | undefined => {
  for (let i = 0; i < xs.length; i++) {
    if (!Number.isFinite(xs[i])) {
      return new DegenerateSamples({ test, reason: `sample ${name}[${i}] is ${xs[i]}` })
    }
  }
  return undefined
}

const zeroStandardError = (test: "student" | "welch") =>
  new DegenerateSamples({
    test,
    reason: "both samples are constant, so the standard error is zero and t is undefined",
  })

/**
 * Student's two-sample t-test with pooled variance (scipy.stats.ttest_ind, equal_var=True):
 * t = (mean(a) - mean(b)) / sqrt(s_p^2 (1/n_a + 1/n_b)), s_p^2 = ((n_a - 1) s_a^2 + (n_b - 1) s_b^2)
 * / (n_a + n_b - 2), with n_a + n_b - 2 degrees of freedom. Needs at least one value per sample
 * and three in total.
 *
 * @since 0.1.0
 */
export const studentTTest = (
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): Result.Result<TTest, DegenerateSamples> => {
  const na = a.length
  const nb = b.length
  if (na < 1 || nb < 1 || na + nb < 3) {
    return Result.fail(
      new DegenerateSamples({
        test: "student",
        reason: `needs at least one value per sample and three in total, got ${na} and ${nb}`,
      }),
    )
  }
  const bad = checkFinite("student", "a", a) ?? checkFinite("student", "b", b)
  if (bad !== undefined) return Result.fail(bad)
  const df = na + nb - 2
  const ssa = na < 2 ? 0 : sampleVariance(a) * (na - 1)
  const ssb = nb < 2 ? 0 : sampleVariance(b) * (nb - 1)
  const pooled = (ssa + ssb) / df
  const se = Math.sqrt(pooled * (1 / na + 1 / nb))
  if (se === 0) return Result.fail(zeroStandardError("student"))
  const statistic = (mean(a) - mean(b)) / se
  return Result.succeed({ statistic, degreesOfFreedom: df, pValue: twoSidedPValue(statistic, df) })
}

/**
 * Welch's two-sample t-test (scipy.stats.ttest_ind, equal_var=False):
 * t = (mean(a) - mean(b)) / sqrt(s_a^2 / n_a + s_b^2 / n_b) with Welch-Satterthwaite degrees of
 * freedom (v_a + v_b)^2 / (v_a^2 / (n_a - 1) + v_b^2 / (n_b - 1)), v = s^2 / n. Needs at least two
 * values per sample.
 *
 * @since 0.1.0
 */
export const welchTTest = (
  a: ArrayLike<number>,
  b: ArrayLike<number>,
): Result.Result<TTest, DegenerateSamples> => {
  const na = a.length
  const nb = b.length
  if (na < 2 || nb < 2) {
    return Result.fail(
      new DegenerateSamples({
        test: "welch",
        reason: `needs at least two values per sample, got ${na} and ${nb}`,
      }),
    )
  }
  const bad = checkFinite("welch", "a", a) ?? checkFinite("welch", "b", b)
  if (bad !== undefined) return Result.fail(bad)
  const va = sampleVariance(a) / na
  const vb = sampleVariance(b) / nb
  const se = Math.sqrt(va + vb)
  if (se === 0) return Result.fail(zeroStandardError("welch"))
  const df = ((va + vb) * (va + vb)) / ((va * va) / (na - 1) + (vb * vb) / (nb - 1))
  const statistic = (mean(a) - mean(b)) / se
  return Result.succeed({ statistic, degreesOfFreedom: df, pValue: twoSidedPValue(statistic, df) })
}
