/**
 * Ranking metrics of the paper's evaluation protocol (Section 5.1): AUC, Recall@K and NDCG@K with
 * one held-out positive per user, computed per user on flat typed arrays, then averaged overall
 * or per user group.
 *
 * Two protocols:
 * - {@link sampled}: the positive against N sampled negatives (the paper uses N = 100);
 * - {@link full}: the positive against every item not in the user's history. Sampled metrics can
 *   rank models differently from full ranking (Krichene and Rendle, "On Sampled Metrics for Item
 *   Recommendation", KDD 2020), so both are offered.
 *
 * Ties are broken pessimistically: a negative whose score equals the positive's is ranked above
 * it. A model that scores everything equally therefore gets AUC 0 and the worst rank, never credit
 * for a lucky order.
 *
 * With one positive, the 0-based rank r of the positive determines every metric:
 * AUC = (N - r) / N (the fraction of the N negatives ranked below the positive),
 * Recall@K = [r < K] (the hit rate) and NDCG@K = [r < K] / log2(r + 2) (the ideal DCG is 1).
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import * as MetricAccumulator from "./MetricAccumulator.ts"

/**
 * Scores as a flat typed array.
 *
 * @since 0.1.0
 */
export type Scores = Float32Array | Float64Array

/**
 * Options of the ranking metrics.
 *
 * @since 0.1.0
 */
export interface RankingOptions {
  /** Cut-offs K of Recall@K and NDCG@K: positive integers, default [5, 10] as in the paper. */
  readonly ks?: ReadonlyArray<number>
}

/**
 * Per-user metrics of one evaluation. Arrays have one entry per user; `recall[j]` and `ndcg[j]` are
 * Recall@ks[j] and NDCG@ks[j].
 *
 * @since 0.1.0
 */
export interface UserMetrics {
  readonly users: number
  readonly ks: ReadonlyArray<number>
  /** 0-based rank of the positive among its candidates, ties counted against it. */
  readonly rank: Int32Array
  /** Number of negatives the positive was ranked against. */
  readonly negatives: Int32Array
  readonly auc: Float64Array
  readonly recall: ReadonlyArray<Float64Array>
  readonly ndcg: ReadonlyArray<Float64Array>
}

/**
 * Malformed ranking input: a shape that does not divide, an item id out of range, a score that is
 * NaN, a user without negatives or a bad cut-off K. The reason names the user and column or item.
 *
 * @since 0.1.0
 */
export class RankingInputError extends Schema.TaggedError<RankingInputError>()(
  "RankingInputError",
  { reason: Schema.String },
) {
  override get message(): string {
    return `invalid ranking input: ${this.reason}`
  }
}

const DEFAULT_KS: ReadonlyArray<number> = [5, 10]

const fail = (reason: string) => Result.fail(new RankingInputError({ reason }))

const checkKs = (ks: ReadonlyArray<number>): string | undefined => {
  if (ks.length === 0) return "ks must not be empty"
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) return `cut-off K must be a positive integer, got ${k}`
  }
  return undefined
}

/**
 * The metric names of an evaluation, in the order "AUC", "R@K"..., "NDCG@K"... (the paper's column
 * names, e.g. "R@5" and "NDCG@10").
 *
 * @since 0.1.0
 */
export const metricNames = (ks: ReadonlyArray<number> = DEFAULT_KS): ReadonlyArray<string> => [
  "AUC",
  ...ks.map((k) => `R@${k}`),
  ...ks.map((k) => `NDCG@${k}`),
]

const allocate = (users: number, ks: ReadonlyArray<number>): UserMetrics => ({
  users,
  ks: [...ks],
  rank: new Int32Array(users),
  negatives: new Int32Array(users),
  auc: new Float64Array(users),
  recall: ks.map(() => new Float64Array(users)),
  ndcg: ks.map(() => new Float64Array(users)),
})

/** Fills user u's metrics from the rank of its positive among `negatives` negatives. */
const record = (metrics: UserMetrics, u: number, rank: number, negatives: number): void => {
  metrics.rank[u] = rank
  metrics.negatives[u] = negatives
  metrics.auc[u] = (negatives - rank) / negatives
  const gain = 1 / Math.log2(rank + 2)
  for (let j = 0; j < metrics.ks.length; j++) {
    const hit = rank < metrics.ks[j]
    metrics.recall[j][u] = hit ? 1 : 0
    metrics.ndcg[j][u] = hit ? gain : 0
  }
}

/**
 * Metrics of the sampled protocol. `scores` is row-major of shape [users x candidatesPerUser]:
 * row u holds user u's scores, column 0 is the held-out positive and columns 1..N its N =
 * candidatesPerUser - 1 sampled negatives (the paper uses N = 100, so candidatesPerUser = 101).
 *
 * @since 0.1.0
 */
export const sampled = (
  scores: Scores,
  candidatesPerUser: number,
  options: RankingOptions = {},
): Result.Result<UserMetrics, RankingInputError> => {
  const ks = options.ks ?? DEFAULT_KS
  const badKs = checkKs(ks)
  if (badKs !== undefined) return fail(badKs)
  if (!Number.isInteger(candidatesPerUser) || candidatesPerUser < 2) {
    return fail(
      `candidatesPerUser must be an integer >= 2 (a positive and a negative), got ${candidatesPerUser}`,
    )
  }
  if (scores.length % candidatesPerUser !== 0) {
    return fail(
      `${scores.length} scores do not divide into rows of ${candidatesPerUser} candidates`,
    )
  }
  const users = scores.length / candidatesPerUser
  const metrics = allocate(users, ks)
  const negatives = candidatesPerUser - 1
  for (let u = 0; u < users; u++) {
    const row = u * candidatesPerUser
    const positive = scores[row]
    if (Number.isNaN(positive)) return fail(`score of user ${u}, column 0 (the positive) is NaN`)
    let rank = 0
    for (let c = 1; c < candidatesPerUser; c++) {
      const s = scores[row + c]
      if (s >= positive) rank++
      else if (Number.isNaN(s)) return fail(`score of user ${u}, column ${c} is NaN`)
    }
    record(metrics, u, rank, negatives)
  }
  return Result.succeed(metrics)
}

/**
 * Input of the full-ranking protocol, all flat typed arrays.
 *
 * @since 0.1.0
 */
export interface FullRankingInput {
  /** Row-major [users x itemCount]: `scores[u * itemCount + i]` is user u's score of item i. */
  readonly scores: Scores
  readonly itemCount: number
  /** `positives[u]` is user u's held-out item. */
  readonly positives: Int32Array
  /**
   * Items excluded from user u's candidates (its history), in compressed-row form: the item ids
   * `excludedItems[excludedOffsets[u] .. excludedOffsets[u + 1])`. `excludedOffsets` has users + 1
   * non-decreasing entries starting at 0. Duplicates are harmless; an entry equal to the positive is
   * ignored (the positive is always a candidate).
   */
  readonly excludedOffsets: Int32Array
  readonly excludedItems: Int32Array
}

/**
 * Metrics of the full-ranking protocol: the positive of each user is ranked against every item
 * that is neither the positive nor excluded for that user.
 *
 * @since 0.1.0
 */
export const full = (
  input: FullRankingInput,
  options: RankingOptions = {},
): Result.Result<UserMetrics, RankingInputError> => {
  const ks = options.ks ?? DEFAULT_KS
  const badKs = checkKs(ks)
  if (badKs !== undefined) return fail(badKs)
  const { scores, itemCount, positives, excludedOffsets, excludedItems } = input
  if (!Number.isInteger(itemCount) || itemCount < 2) {
    return fail(`itemCount must be an integer >= 2, got ${itemCount}`)
  }
  const users = positives.length
  if (scores.length !== users * itemCount) {
    return fail(
      `expected ${users} x ${itemCount} = ${users * itemCount} scores, got ${scores.length}`,
    )
  }
  if (excludedOffsets.length !== users + 1 || excludedOffsets[0] !== 0) {
    return fail(`excludedOffsets must have ${users + 1} entries starting at 0`)
  }
  if (excludedOffsets[users] !== excludedItems.length) {
    return fail(
      `excludedOffsets ends at ${excludedOffsets[users]} but there are ${excludedItems.length} excluded items`,
    )
  }
  const metrics = allocate(users, ks)
  // stamp[i] === u + 1 marks item i as excluded for user u; no clearing between users.
  const stamp = new Int32Array(itemCount)
  for (let u = 0; u < users; u++) {
    const positive = positives[u]
    if (positive < 0 || positive >= itemCount) {
      return fail(`positive of user ${u} is item ${positive}, expected 0..${itemCount - 1}`)
    }
    const from = excludedOffsets[u]
    const to = excludedOffsets[u + 1]
    if (to < from) return fail(`excludedOffsets decrease at user ${u}`)
    for (let e = from; e < to; e++) {
      const item = excludedItems[e]
      if (item < 0 || item >= itemCount) {
        return fail(`excluded item ${item} of user ${u} is out of range 0..${itemCount - 1}`)
      }
      stamp[item] = u + 1
    }
    const row = u * itemCount
    const s = scores[row + positive]
    if (Number.isNaN(s)) return fail(`score of user ${u}, positive item ${positive} is NaN`)
    let rank = 0
    let negatives = 0
    for (let i = 0; i < itemCount; i++) {
      if (i === positive || stamp[i] === u + 1) continue
      const v = scores[row + i]
      if (Number.isNaN(v)) return fail(`score of user ${u}, item ${i} is NaN`)
      negatives++
      if (v >= s) rank++
    }
    if (negatives === 0) return fail(`user ${u} has no candidate negative: every item is excluded`)
    record(metrics, u, rank, negatives)
  }
  return Result.succeed(metrics)
}

/**
 * The accumulator of all users' metrics, named as in {@link metricNames}.
 *
 * @since 0.1.0
 */
export const accumulate = (metrics: UserMetrics): MetricAccumulator.Accumulator => {
  let acc = MetricAccumulator.fromValues("AUC", metrics.auc)
  metrics.ks.forEach((k, j) => {
    acc = MetricAccumulator.combine(acc, MetricAccumulator.fromValues(`R@${k}`, metrics.recall[j]))
  })
  metrics.ks.forEach((k, j) => {
    acc = MetricAccumulator.combine(acc, MetricAccumulator.fromValues(`NDCG@${k}`, metrics.ndcg[j]))
  })
  return acc
}

/**
 * Averages over users of every metric, named as in {@link metricNames}.
 *
 * @since 0.1.0
 */
export const means = (metrics: UserMetrics): { readonly [metric: string]: number } =>
  MetricAccumulator.means(accumulate(metrics))

/**
 * Per-group accumulators over a partition of the users: `groups[u]` in 0..groupCount-1 is user u's
 * group. Entry g holds group g's metrics ({@link MetricAccumulator.means} gives its averages); a
 * group without users has the empty accumulator. Merge shards with
 * {@link MetricAccumulator.groupedReducer}.
 *
 * @since 0.1.0
 */
export const byGroup = (
  metrics: UserMetrics,
  groups: Int32Array,
  groupCount: number,
): Result.Result<ReadonlyArray<MetricAccumulator.Accumulator>, MetricAccumulator.InvalidGroups> => {
  const columns: Array<readonly [string, Float64Array]> = [
    ["AUC", metrics.auc],
    ...metrics.ks.map((k, j) => [`R@${k}`, metrics.recall[j]] as const),
    ...metrics.ks.map((k, j) => [`NDCG@${k}`, metrics.ndcg[j]] as const),
  ]
  let out: ReadonlyArray<MetricAccumulator.Accumulator> =
    MetricAccumulator.groupedReducer.initialValue
  for (const [name, values] of columns) {
    const grouped = MetricAccumulator.fromGroupedValues(name, values, groups, groupCount)
    if (Result.isFailure(grouped)) return Result.fail(grouped.failure)
    out = MetricAccumulator.groupedReducer.combine(out, grouped.success)
  }
  return Result.succeed(out)
}
