/**
 * Performance heterogeneity across user groups (paper, Section 3.1, eq. 6-8) and the paper's
 * "Heterogeneity" figure (Section 5.1).
 *
 * - S_h (eq. 6): the sample standard deviation, over the user groups E, of a metric under
 *   *unified* training (one model for all users);
 * - S_h* (eq. 7): the same under *group-wise* training (one model per group): the natural
 *   heterogeneity due to data imbalance;
 * - S_h° = S_h - S_h* (eq. 8): the bias-amplified heterogeneity, the part the model adds.
 *
 * The paper's Heterogeneity is the mean of S_h° over AUC, R@5, R@10, NDCG@5 and NDCG@10. Metric
 * values are given as fractions in [0, 1] (what the Ranking module produces). The magnitudes the
 * paper reports (0.7291 for DIN and 7.1753 for DeepFM on MovieLens, Tables 3 and 4, while the
 * metrics themselves are printed as fractions) suggest percentage points, so the result is scaled
 * to percent by default (`scale: "percent"` multiplies every standard
 * deviation by 100); `scale: "fraction"` keeps the metrics' own unit. This reading of the paper is
 * an assumption: the paper does not state the unit.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import type * as MetricAccumulator from "./MetricAccumulator.ts"
import { sampleStandardDeviation } from "./Statistics.ts"

/**
 * Unit of the reported standard deviations: "percent" (x 100, default) or "fraction".
 *
 * @since 0.1.0
 */
export type Scale = "percent" | "fraction"

/**
 * The five metrics averaged by the paper's Heterogeneity figure, named as in
 * `Ranking.metricNames`.
 *
 * @since 0.1.0
 */
export const paperMetrics: ReadonlyArray<string> = ["AUC", "R@5", "R@10", "NDCG@5", "NDCG@10"]

/**
 * A metric's value per user group: `performances[metric][e]` is the metric on group e, a fraction
 * in [0, 1].
 *
 * @since 0.1.0
 */
export type GroupPerformances = { readonly [metric: string]: ArrayLike<number> }

/**
 * Fewer than two groups: the standard deviation of eq. 6-7 (denominator |E| - 1) is undefined.
 *
 * @since 0.1.0
 */
export class TooFewGroups extends Schema.TaggedError<TooFewGroups>()("TooFewGroups", {
  metric: Schema.String,
  groups: Schema.Number,
}) {
  override get message(): string {
    return `heterogeneity of ${this.metric} needs at least 2 user groups, got ${this.groups}`
  }
}

/**
 * A metric needed for the Heterogeneity figure is absent from the unified or group-wise results.
 *
 * @since 0.1.0
 */
export class MissingMetric extends Schema.TaggedError<MissingMetric>()("MissingMetric", {
  metric: Schema.String,
  training: Schema.Literals(["unified", "groupWise"]),
}) {
  override get message(): string {
    return `metric ${this.metric} is missing from the ${this.training} results`
  }
}

/**
 * A group's metric value is not a finite fraction in [0, 1], or the unified and group-wise results
 * cover a different number of groups.
 *
 * @since 0.1.0
 */
export class InvalidPerformance extends Schema.TaggedError<InvalidPerformance>()(
  "InvalidPerformance",
  { metric: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `invalid performance of ${this.metric}: ${this.reason}`
  }
}

/**
 * Any error of this module.
 *
 * @since 0.1.0
 */
export type HeterogeneityError = TooFewGroups | MissingMetric | InvalidPerformance

/**
 * Options of the heterogeneity measures.
 *
 * @since 0.1.0
 */
export interface HeterogeneityOptions {
  /** Unit of the result, default "percent" (see the module documentation). */
  readonly scale?: Scale
}

const factor = (scale: Scale | undefined): number => (scale === "fraction" ? 1 : 100)

/**
 * Eq. 6 (or eq. 7 for group-wise results): the sample standard deviation of one metric over the
 * user groups, denominator |E| - 1, in the unit of `options.scale`. `metric` only names the metric
 * in errors.
 *
 * @since 0.1.0
 */
export const performanceHeterogeneity = (
  metric: string,
  performances: ArrayLike<number>,
  options: HeterogeneityOptions = {},
): Result.Result<number, TooFewGroups | InvalidPerformance> => {
  if (performances.length < 2) {
    return Result.fail(new TooFewGroups({ metric, groups: performances.length }))
  }
  for (let e = 0; e < performances.length; e++) {
    const v = performances[e]
    if (!Number.isFinite(v) || v < 0 || v > 1) {
      return Result.fail(
        new InvalidPerformance({
          metric,
          reason: `group ${e} has ${v}, expected a fraction in [0, 1]`,
        }),
      )
    }
  }
  return Result.succeed(factor(options.scale) * sampleStandardDeviation(performances))
}

/**
 * S_h, S_h* and S_h° = S_h - S_h* of one metric.
 *
 * @since 0.1.0
 */
export interface MetricHeterogeneity {
  /** S_h (eq. 6): heterogeneity under unified training. */
  readonly total: number
  /** S_h* (eq. 7): natural heterogeneity, under group-wise training. */
  readonly natural: number
  /** S_h° (eq. 8): bias-amplified heterogeneity, total - natural. */
  readonly biasAmplified: number
}

/**
 * Eq. 8 for one metric: S_h° = S_h - S_h*, from the metric on each group under unified training
 * and under group-wise training (the same groups, in the same order).
 *
 * @since 0.1.0
 */
export const biasAmplified = (
  metric: string,
  unified: ArrayLike<number>,
  groupWise: ArrayLike<number>,
  options: HeterogeneityOptions = {},
): Result.Result<MetricHeterogeneity, TooFewGroups | InvalidPerformance> => {
  if (unified.length !== groupWise.length) {
    return Result.fail(
      new InvalidPerformance({
        metric,
        reason: `${unified.length} groups under unified training but ${groupWise.length} under group-wise training`,
      }),
    )
  }
  return Result.flatMap(performanceHeterogeneity(metric, unified, options), (total) =>
    Result.map(performanceHeterogeneity(metric, groupWise, options), (natural) => ({
      total,
      natural,
      biasAmplified: total - natural,
    })),
  )
}

/**
 * The paper's Heterogeneity figure and its parts.
 *
 * @since 0.1.0
 */
export interface HeterogeneityReport {
  readonly scale: Scale
  /** S_h, S_h* and S_h° of each metric. */
  readonly metrics: { readonly [metric: string]: MetricHeterogeneity }
  /** The mean of S_h° over the metrics. */
  readonly heterogeneity: number
}

/**
 * The Heterogeneity figure of Section 5.1: the mean over `metrics` (default {@link paperMetrics})
 * of the bias-amplified heterogeneity S_h° (eq. 8), from each metric's per-group values under
 * unified and group-wise training. Lower is better.
 *
 * @since 0.1.0
 */
export const heterogeneity = (
  unified: GroupPerformances,
  groupWise: GroupPerformances,
  options: HeterogeneityOptions & { readonly metrics?: ReadonlyArray<string> } = {},
): Result.Result<HeterogeneityReport, HeterogeneityError> => {
  const metrics = options.metrics ?? paperMetrics
  if (metrics.length === 0) {
    return Result.fail(new MissingMetric({ metric: "(none requested)", training: "unified" }))
  }
  const out: Record<string, MetricHeterogeneity> = {}
  let sum = 0
  for (const metric of metrics) {
    const u = unified[metric]
    if (u === undefined) return Result.fail(new MissingMetric({ metric, training: "unified" }))
    const g = groupWise[metric]
    if (g === undefined) return Result.fail(new MissingMetric({ metric, training: "groupWise" }))
    const h = biasAmplified(metric, u, g, options)
    if (Result.isFailure(h)) return Result.fail(h.failure)
    out[metric] = h.success
    sum += h.success.biasAmplified
  }
  return Result.succeed({
    scale: options.scale ?? "percent",
    metrics: out,
    heterogeneity: sum / metrics.length,
  })
}

/**
 * Per-group means from per-group accumulators (as returned by `Ranking.byGroup`), as
 * {@link GroupPerformances}. Fails with {@link MissingMetric} naming a metric that some group lacks
 * (for instance a group without users).
 *
 * @since 0.1.0
 */
export const fromGroupAccumulators = (
  groups: ReadonlyArray<MetricAccumulator.Accumulator>,
  training: "unified" | "groupWise",
): Result.Result<{ readonly [metric: string]: Float64Array }, MissingMetric> => {
  const names = new Set(groups.flatMap((g) => Object.keys(g)))
  const out: Record<string, Float64Array> = {}
  for (const metric of names) {
    const values = new Float64Array(groups.length)
    for (let e = 0; e < groups.length; e++) {
      const m = groups[e][metric]
      if (m === undefined || m.count === 0) {
        return Result.fail(new MissingMetric({ metric, training }))
      }
      values[e] = m.sum / m.count
    }
    out[metric] = values
  }
  return Result.succeed(out)
}
