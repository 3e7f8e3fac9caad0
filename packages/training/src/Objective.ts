/**
 * What a training run minimises: the loss of one batch and the parameters it trains. The
 * recommendation objective L_Rec trains a base model (and each teacher, and each group-wise
 * model); the CausalD objective (see `CausalDObjective.ts`) trains the student.
 *
 * @module
 */
import { Losses, type Parameter, type Random, type Tensor, type TensorBackend } from "@causald/core"
import type { Batches } from "@causald/data"
import type { Recommender, RecommenderInputs } from "@causald/models"
import { InvalidObjectiveOption } from "./Errors.ts"

/** The batch a loss sees: its inputs as tensors and the data batch they came from. */
export interface BatchContext {
  readonly inputs: RecommenderInputs
  readonly batch: Batches.TrainingBatch
  /** float32 [B]: 1 for positives, 0 for sampled negatives. */
  readonly labels: Tensor
  /** Seeded per (run seed, epoch): draws made while computing the loss (e.g. partners). */
  readonly rng: Random.RandomGenerator
  /** The training epoch (1-based), for objectives whose terms change over training. */
  readonly epoch: number
}

/**
 * Reports one term of a loss (a scalar tensor, before its coefficient), e.g. L_BDA of eq. (22),
 * so a run can log each term per epoch: which term drives training is what a user tuning the
 * coefficients needs to see.
 */
export type RecordTerm = (name: string, value: Tensor) => void

/**
 * The loss of an objective that computes its named terms in one function (`terms`, returning
 * each term and their weighted `total`): reports the terms listed in `logged` (log name -> key of
 * the terms) and returns the total.
 */
export const lossOfTerms =
  <P, T extends { readonly total: Tensor }>(
    terms: (context: BatchContext, prepared: P) => T,
    logged: Readonly<Record<string, { [K in keyof T]: T[K] extends Tensor ? K : never }[keyof T]>>,
  ) =>
  (context: BatchContext, prepared: P, record?: RecordTerm): Tensor => {
    const t = terms(context, prepared)
    if (record !== undefined)
      for (const [name, key] of Object.entries(logged)) record(name, t[key] as Tensor)
    return t.total
  }

/**
 * A loss over a set of parameters. `prepare` runs before the gradient tape starts, for
 * constants of the batch (frozen teachers' outputs), so their computation is not recorded.
 */
export interface Objective<Prepared = undefined> {
  /** The model that is validated, selected and saved as the result. */
  readonly model: Recommender
  /** Every parameter the loss trains: the model's and any auxiliary ones. */
  readonly parameters: ReadonlyArray<Parameter>
  readonly prepare: (context: BatchContext) => Prepared
  /** The batch's loss; an objective with several terms reports each through `record`. */
  readonly loss: (context: BatchContext, prepared: Prepared, record?: RecordTerm) => Tensor
  /**
   * Epochs at the start in which the loss leaves `model` untouched (it trains auxiliary
   * parameters only, e.g. CausalD's estimator warm-up): none of them can be the run's result.
   * Default 0.
   */
  readonly warmupEpochs?: number
}

/** The recommendation losses L_Rec of section 3.4. */
export type RecommendationLoss = "bce" | "bpr" | "sampled-softmax"

/**
 * L_Rec of a batch from the model's logits. BCE uses every row; BPR pairs each negative row
 * with its positive; sampled softmax ranks each positive among its group's negatives.
 */
export const recommendationLoss = (
  backend: TensorBackend,
  kind: RecommendationLoss,
  logits: Tensor,
  context: BatchContext,
): Tensor => {
  if (kind === "bce") return Losses.binaryCrossEntropy(backend, logits, context.labels)
  const { batch } = context
  const negatives = batch.groupSize - 1
  if (negatives < 1)
    throw new InvalidObjectiveOption({
      objective: `the ${kind} loss`,
      option: "negatives",
      expected: "at least one sampled negative per positive",
      found: String(negatives),
    })
  const grouped = backend.reshape(logits, [batch.positives, batch.groupSize])
  const positive = backend.reshape(backend.slice(grouped, [0, 0], [-1, 1]), [batch.positives])
  const negative = backend.slice(grouped, [0, 1], [-1, -1]) // [P, n]
  if (kind === "sampled-softmax") return Losses.sampledSoftmax(backend, positive, negative)
  return Losses.bpr(backend, backend.expandDims(positive, -1), negative)
}

/** L_Rec (+ λ ||Θ||²) for a base recommender. */
export const recommendation = (
  backend: TensorBackend,
  model: Recommender,
  options: { readonly loss?: RecommendationLoss; readonly l2?: number } = {},
): Objective<undefined> => ({
  model,
  parameters: model.parameters,
  prepare: () => undefined,
  loss: (context) => {
    const logits = model.predict(model.encode(context.inputs), context.inputs)
    const rec = recommendationLoss(backend, options.loss ?? "bce", logits, context)
    return options.l2 ? backend.add(rec, Losses.l2(backend, model.parameters, options.l2)) : rec
  },
})
