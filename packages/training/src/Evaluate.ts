/**
 * Scoring the stored validation or test candidates of a prepared data set (section 5.1: the
 * held-out item among 100 sampled items the user never consumed) and the ranking metrics.
 *
 * @module
 */
import { Ranking, type TensorBackend } from "@causald/core"
import { Batches, type PreparedDataset } from "@causald/data"
import { Inputs, type Recommender } from "@causald/models"
import { Result } from "effect"

/**
 * Users scored per batch; each brings 1 + N candidate rows (scored in chunks of ~4,096 rows by
 * `Inputs.scoreCandidates`). Large, because a model's candidate scorer shares work across the
 * users of a batch: DIN's (history item, candidate) attention table pays only when the batch's
 * real (position, user, candidate) triples outnumber its item pairs (MovieLens 100K: 943 users
 * in one batch, 1.1-1.4 s instead of 3.3-4.1 s at 128 users; `bench/NOTES.md`, "DIN scoring").
 */
export const DEFAULT_EVAL_BATCH_USERS = 8192

/** What `scoreSplit` scores, and how. */
export interface ScoreSplitOptions {
  /** These users, in this order; default all users in order. */
  readonly users?: Int32Array
  /** Users per batch; default {@link DEFAULT_EVAL_BATCH_USERS}. */
  readonly batchUsers?: number
  /**
   * The same 1 + N candidates for every user instead of the split's stored ones (full ranking:
   * every item), so that no users x items table is built.
   */
  readonly candidates?: Int32Array
  /** Passed to `Inputs.scoreCandidates` (chunk size, comparisons). */
  readonly score?: Inputs.ScoreOptions
}

/**
 * Scores [users x (1+N)] of the given users (all by default, in order) on a split, target in
 * column 0 of the stored candidates. Evaluation always runs the model alone: for CausalD, the
 * student without teachers.
 */
export const scoreSplit = (
  backend: TensorBackend,
  model: Recommender,
  data: PreparedDataset,
  split: "validation" | "test",
  options: ScoreSplitOptions = {},
): Float32Array => {
  const C = options.candidates?.length ?? 1 + data.config.candidates
  const count = options.users?.length ?? data.numUsers
  const scores = new Float32Array(count * C)
  let offset = 0
  for (const batch of Batches.evaluationBatches(data, split, {
    batchSize: options.batchUsers ?? DEFAULT_EVAL_BATCH_USERS,
    ...(options.users === undefined ? {} : { users: options.users }),
    ...(options.candidates === undefined ? {} : { candidates: options.candidates }),
  })) {
    scores.set(Inputs.scoreCandidates(backend, model, batch, options.score ?? {}), offset)
    offset += batch.size * C
  }
  return scores
}

/** The ranking metrics (AUC, R@K, NDCG@K) of every given user on a split. */
export const evaluate = (
  backend: TensorBackend,
  model: Recommender,
  data: PreparedDataset,
  split: "validation" | "test",
  users?: Int32Array,
  ks: ReadonlyArray<number> = [5, 10],
): Ranking.UserMetrics => {
  const scores = scoreSplit(backend, model, data, split, users === undefined ? {} : { users })
  // Scores come from a model, so a failure here is a NaN score: a defect of training.
  return Result.getOrThrow(Ranking.sampled(scores, 1 + data.config.candidates, { ks }))
}

/** Mean validation AUC: the model-selection criterion (validation data only, never test). */
export const validationAuc = (
  backend: TensorBackend,
  model: Recommender,
  data: PreparedDataset,
  users?: Int32Array,
): number => {
  const metrics = evaluate(backend, model, data, "validation", users, [10])
  let sum = 0
  for (let u = 0; u < metrics.users; u++) sum += metrics.auc[u]!
  return metrics.users > 0 ? sum / metrics.users : Number.NaN
}
