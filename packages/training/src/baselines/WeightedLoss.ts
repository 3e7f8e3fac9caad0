/**
 * Per-row losses that the shared `Objective.recommendationLoss` and `Losses.distillation` only
 * give as batch means: L_Rec with a sample weight per row (the inverse propensities of IPS and
 * CausalRec), and L_kd per row (DebiasD weights each row's distillation by its class).
 *
 * Like every loss of the project they are means over rows (never divided by the sum of the
 * weights), so a weighted loss with all weights 1 is exactly the unweighted one.
 *
 * @module
 */
import { Losses, type Tensor, type TensorBackend } from "@causald/core"
import type { Batches } from "@causald/data"
import type { Recommender } from "@causald/models"
import { InvalidObjectiveOption } from "../Errors.ts"
import type { BatchContext, Objective, RecommendationLoss } from "../Objective.ts"

/**
 * (1/B) Σ_r w_r ℓ_r: L_Rec of the rows with a sample weight per row (`weights`, float32 [B]).
 * BCE weights every row; BPR and sampled softmax weigh each group (a positive and its sampled
 * negatives) by its positive row's weight, since the group is one observed interaction.
 */
export const weightedRecommendationLoss = (
  backend: TensorBackend,
  kind: RecommendationLoss,
  logits: Tensor,
  context: BatchContext,
  weights: Tensor,
): Tensor => {
  const w = backend.stopGradient(weights)
  if (kind === "bce") {
    const perRow = backend.sub(backend.softplus(logits), backend.mul(context.labels, logits))
    return backend.mean(backend.mul(w, perRow))
  }
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
  const positive = backend.slice(grouped, [0, 0], [-1, 1]) // [P, 1]
  const negative = backend.slice(grouped, [0, 1], [-1, -1]) // [P, n]
  const groupWeight = backend.reshape(
    backend.slice(backend.reshape(w, [batch.positives, batch.groupSize]), [0, 0], [-1, 1]),
    [batch.positives],
  )
  const perGroup =
    kind === "bpr"
      ? backend.neg(backend.mean(backend.logSigmoid(backend.sub(positive, negative)), -1))
      : backend.neg(
          backend.reshape(
            backend.slice(
              backend.logSoftmax(backend.concat([positive, negative], -1), -1),
              [0, 0],
              [-1, 1],
            ),
            [batch.positives],
          ),
        )
  return backend.mean(backend.mul(groupWeight, perGroup))
}

/** The batch's constants of a {@link rowWeighted} objective: each row's weight [B]. */
export interface RowWeights {
  readonly weights: Tensor
}

/**
 * The base model trained on (1/B) Σ_r w_r ℓ_r (+ L2), the weights computed on the host from the
 * batch's ids: what IPS and CausalRec share, they differ only in `weightsOf`.
 */
export const rowWeighted = (
  backend: TensorBackend,
  student: Recommender,
  config: { readonly recommendationLoss: RecommendationLoss; readonly l2: number },
  weightsOf: (batch: Batches.TrainingBatch) => Float32Array,
): Objective<RowWeights> & { readonly dispose: () => void } => ({
  model: student,
  parameters: student.parameters,
  prepare: ({ batch }) => ({ weights: backend.tensor(weightsOf(batch), [batch.size]) }),
  loss: (context, { weights }) => {
    const logits = student.predict(student.encode(context.inputs), context.inputs)
    const rec = weightedRecommendationLoss(
      backend,
      config.recommendationLoss,
      logits,
      context,
      weights,
    )
    return config.l2 ? backend.add(rec, Losses.l2(backend, student.parameters, config.l2)) : rec
  },
  dispose: () => {},
})

/** σ(t / T): a teacher's soft label at temperature T (Hinton et al. 2015, binary outcome). */
export const softLabels = (backend: TensorBackend, logits: Tensor, temperature: number): Tensor =>
  backend.sigmoid(temperature === 1 ? logits : backend.div(logits, backend.scalar(temperature)))

/**
 * L_kd of every row, [B]: the terms whose mean is `Losses.distillation(soft, logits, T)`. The soft
 * label (a probability, held constant) is clipped to [1e-7, 1 - 1e-7], softened to σ(logit(q)/T)
 * and compared with σ(ô/T) by cross-entropy, scaled by T².
 */
export const rowDistillation = (
  backend: TensorBackend,
  softLabel: Tensor,
  studentLogits: Tensor,
  temperature = 1,
): Tensor => {
  const target = backend.stopGradient(softLabel)
  if (temperature === 1)
    return backend.sub(backend.softplus(studentLogits), backend.mul(target, studentLogits))
  const eps = backend.scalar(1e-7)
  const one = backend.scalar(1)
  const clipped = backend.minimum(backend.maximum(target, eps), backend.sub(one, eps))
  const t = backend.scalar(temperature)
  const softened = backend.sigmoid(
    backend.div(backend.sub(backend.log(clipped), backend.log(backend.sub(one, clipped))), t),
  )
  const scaled = backend.div(studentLogits, t)
  return backend.mul(
    backend.sub(backend.softplus(scaled), backend.mul(softened, scaled)),
    backend.scalar(temperature * temperature),
  )
}
