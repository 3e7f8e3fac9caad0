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

/** Users scored per batch; each brings 1 + N candidate rows. */
export const DEFAULT_EVAL_BATCH_USERS = 128

/**
 * Scores [users x (1+N)] of the given users (all by default, in order) on a split, target in
 * column 0. Evaluation always runs the model alone: for CausalD, the student without teachers.
 */
export const scoreSplit = (
  backend: TensorBackend,
  model: Recommender,
  data: PreparedDataset,
  split: "validation" | "test",
  users?: Int32Array,
  batchUsers = DEFAULT_EVAL_BATCH_USERS,
): Float32Array => {
  const C = 1 + data.config.candidates
  const count = users?.length ?? data.numUsers
  const scores = new Float32Array(count * C)
  let offset = 0
  for (const batch of Batches.evaluationBatches(data, split, {
    batchSize: batchUsers,
    ...(users === undefined ? {} : { users }),
  })) {
    scores.set(Inputs.scoreCandidates(backend, model, batch), offset)
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
  const scores = scoreSplit(backend, model, data, split, users)
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
