/**
 * Mergeable sums of per-user metrics, so evaluation can be split by shard, worker or user group
 * and combined afterwards.
 *
 * An {@link Accumulator} holds, per metric name (e.g. "AUC", "R@5", "NDCG@10"), the number of
 * users, the sum and the sum of squares of their values. Accumulators form a commutative monoid
 * ({@link reducer}) under {@link combine} with {@link empty} as identity, so any split of the users
 * merged in any order yields the same {@link means} — exactly for counts, and up to floating-point
 * rounding of the sums (a relative error of the order of n * 2^-53).
 *
 * @since 0.1.0
 */
import { Reducer, Result, Schema } from "effect"

/**
 * Count, sum and sum of squares of one metric over a set of users.
 *
 * @since 0.1.0
 */
export interface Moments {
  readonly count: number
  readonly sum: number
  readonly sumOfSquares: number
}

/**
 * Moments of each metric, by metric name.
 *
 * @since 0.1.0
 */
export type Accumulator = { readonly [metric: string]: Moments }

/**
 * The accumulator of no users: the identity of {@link combine}.
 *
 * @since 0.1.0
 */
export const empty: Accumulator = {}

/**
 * Merges two accumulators metric by metric; a metric present in only one is kept as it is.
 *
 * @since 0.1.0
 */
export const combine = (a: Accumulator, b: Accumulator): Accumulator => {
  const out: Record<string, Moments> = { ...a }
  for (const metric of Object.keys(b)) {
    const x = a[metric]
    const y = b[metric]
    out[metric] =
      x === undefined
        ? y
        : {
            count: x.count + y.count,
            sum: x.sum + y.sum,
            sumOfSquares: x.sumOfSquares + y.sumOfSquares,
          }
  }
  return out
}

/**
 * The monoid of accumulators as an Effect `Reducer`: {@link combine} with {@link empty} as its
 * initial value; `combineAll` merges any number of shards.
 *
 * @since 0.1.0
 */
export const reducer: Reducer.Reducer<Accumulator> = Reducer.make(combine, empty)

/**
 * The accumulator of one metric's values, one per user (a plain loop over the typed array).
 *
 * @since 0.1.0
 */
export const fromValues = (metric: string, values: ArrayLike<number>): Accumulator => {
  let sum = 0
  let sumOfSquares = 0
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    sum += v
    sumOfSquares += v * v
  }
  return { [metric]: { count: values.length, sum, sumOfSquares } }
}

/**
 * A group assignment does not fit its values: lengths differ, or a group id is not an integer in
 * 0..groupCount-1.
 *
 * @since 0.1.0
 */
export class InvalidGroups extends Schema.TaggedError<InvalidGroups>()("InvalidGroups", {
  reason: Schema.String,
}) {
  override get message(): string {
    return `invalid user groups: ${this.reason}`
  }
}

/**
 * Per-group accumulators of one metric: `groups[i]` (an integer in 0..groupCount-1) is the group of
 * user i, whose value is `values[i]`. Entry g of the result is the accumulator of group g (the
 * {@link empty} accumulator for a group without users).
 *
 * @since 0.1.0
 */
export const fromGroupedValues = (
  metric: string,
  values: ArrayLike<number>,
  groups: Int32Array,
  groupCount: number,
): Result.Result<ReadonlyArray<Accumulator>, InvalidGroups> => {
  if (!Number.isInteger(groupCount) || groupCount < 1) {
    return Result.fail(
      new InvalidGroups({ reason: `groupCount must be a positive integer, got ${groupCount}` }),
    )
  }
  if (groups.length !== values.length) {
    return Result.fail(
      new InvalidGroups({ reason: `${groups.length} group ids for ${values.length} users` }),
    )
  }
  const count = new Float64Array(groupCount)
  const sum = new Float64Array(groupCount)
  const sumOfSquares = new Float64Array(groupCount)
  for (let i = 0; i < values.length; i++) {
    const g = groups[i]
    if (g < 0 || g >= groupCount) {
      return Result.fail(
        new InvalidGroups({ reason: `user ${i} is in group ${g}, expected 0..${groupCount - 1}` }),
      )
    }
    const v = values[i]
    count[g] += 1
    sum[g] += v
    sumOfSquares[g] += v * v
  }
  return Result.succeed(
    Array.from(count, (c, g) =>
      c === 0 ? empty : { [metric]: { count: c, sum: sum[g], sumOfSquares: sumOfSquares[g] } },
    ),
  )
}

/**
 * The monoid of per-group accumulators as a `Reducer`, entry by entry (the shorter array is
 * padded with {@link empty}), so per-group evaluations of several shards merge like single
 * accumulators.
 *
 * @since 0.1.0
 */
export const groupedReducer: Reducer.Reducer<ReadonlyArray<Accumulator>> = Reducer.make<
  ReadonlyArray<Accumulator>
>(
  (a, b) =>
    Array.from({ length: Math.max(a.length, b.length) }, (_, g) =>
      combine(a[g] ?? empty, b[g] ?? empty),
    ),
  [],
)

/**
 * Mean, sample standard deviation (denominator count - 1; NaN below two users) and count of a
 * metric.
 *
 * @since 0.1.0
 */
export interface Summary {
  readonly count: number
  readonly mean: number
  readonly standardDeviation: number
}

/**
 * The mean of each metric over its users.
 *
 * @since 0.1.0
 */
export const means = (accumulator: Accumulator): { readonly [metric: string]: number } =>
  Object.fromEntries(
    Object.entries(accumulator).map(([metric, m]) => [metric, m.sum / m.count] as const),
  )

/**
 * Count, mean and sample standard deviation of each metric. The variance is computed from the
 * sums as (sumOfSquares - sum^2 / count) / (count - 1), clamped at 0 against rounding.
 *
 * @since 0.1.0
 */
export const summary = (accumulator: Accumulator): { readonly [metric: string]: Summary } =>
  Object.fromEntries(
    Object.entries(accumulator).map(([metric, m]) => {
      const variance =
        m.count < 2
          ? Number.NaN
          : Math.max(0, (m.sumOfSquares - (m.sum * m.sum) / m.count) / (m.count - 1))
      return [
        metric,
        { count: m.count, mean: m.sum / m.count, standardDeviation: Math.sqrt(variance) },
      ] as const
    }),
  )
