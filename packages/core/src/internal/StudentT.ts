/**
 * Student's t distribution, from jstat. The only module that touches jstat, so its untyped API
 * stays behind one typed function.
 *
 * @internal
 */
/// <reference path="./jstat.d.ts" />
import jStat from "jstat"

/**
 * The two-sided p-value P(|T| >= |t|) of Student's t with `degreesOfFreedom` (any positive real,
 * as Welch's test needs), as 2 * F(-|t|): evaluating the lower tail avoids the cancellation of
 * 1 - F(|t|) for large |t|.
 */
export const twoSidedPValue = (t: number, degreesOfFreedom: number): number =>
  Math.min(1, 2 * jStat.studentt.cdf(-Math.abs(t), degreesOfFreedom))
