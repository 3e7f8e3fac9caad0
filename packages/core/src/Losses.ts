/**
 * Training objectives of CausalD (section 3.4) and of the base recommenders.
 *
 * Every loss is a mean over rows, so loss coefficients do not depend on the batch size.
 *
 * @module
 */
import type { Parameter, Tensor, TensorBackend } from "./Tensor.ts"

/** Binary cross-entropy of logits against 0/1 (or soft) labels, computed stably: softplus(o) - y·o. */
export const binaryCrossEntropy = (
  backend: TensorBackend,
  logits: Tensor,
  labels: Tensor,
): Tensor => backend.mean(backend.sub(backend.softplus(logits), backend.mul(labels, logits)))

/** Binary cross-entropy of probabilities p against labels, with p clipped to [eps, 1 - eps]. */
export const probabilityCrossEntropy = (
  backend: TensorBackend,
  p: Tensor,
  labels: Tensor,
  eps = 1e-7,
): Tensor => {
  const clipped = backend.minimum(backend.maximum(p, backend.scalar(eps)), backend.scalar(1 - eps))
  const one = backend.scalar(1)
  return backend.neg(
    backend.mean(
      backend.add(
        backend.mul(labels, backend.log(clipped)),
        backend.mul(backend.sub(one, labels), backend.log(backend.sub(one, clipped))),
      ),
    ),
  )
}

/**
 * BPR (Rendle et al. 2009): -ln σ(ô_pos - ô_neg), each positive against its sampled negative.
 * The paper's eq. (21) prints -ln σ(ô_i - o_i), pairing a prediction with its own label, which is
 * garbled; this is the BPR loss of its reference [22].
 */
export const bpr = (
  backend: TensorBackend,
  positiveLogits: Tensor,
  negativeLogits: Tensor,
): Tensor =>
  backend.neg(backend.mean(backend.logSigmoid(backend.sub(positiveLogits, negativeLogits))))

/**
 * Sampled softmax (the paper's other L_Rec, ref. [23]): the positive's log-probability among
 * itself and its sampled negatives. positive [B], negatives [B, n].
 */
export const sampledSoftmax = (
  backend: TensorBackend,
  positiveLogits: Tensor,
  negativeLogits: Tensor,
): Tensor => {
  const all = backend.concat([backend.expandDims(positiveLogits, -1), negativeLogits], -1)
  return backend.neg(backend.mean(backend.slice(backend.logSoftmax(all, -1), [0, 0], [-1, 1])))
}

/** λ Σ ||θ||²: the L2 term of eq. (21). */
export const l2 = (
  backend: TensorBackend,
  params: ReadonlyArray<Parameter>,
  lambda: number,
): Tensor =>
  params.reduce<Tensor>(
    (acc, p) =>
      backend.add(acc, backend.mul(backend.sum(backend.square(p.value)), backend.scalar(lambda))),
    backend.scalar(0),
  )

/**
 * The knowledge-distillation criterion L_kd of eq. (16) (Hinton et al. 2015, the paper's [21]) for
 * a binary outcome: cross-entropy between the soft label and the student's click probability,
 * both softened by the temperature T (logits divided by T), scaled by T² as Hinton et al. do so
 * that gradients keep their size. The soft label is a constant target.
 */
export const distillation = (
  backend: TensorBackend,
  softLabel: Tensor,
  studentLogits: Tensor,
  temperature = 1,
): Tensor => {
  const target = backend.stopGradient(softLabel)
  if (temperature === 1) return binaryCrossEntropy(backend, studentLogits, target)
  const eps = backend.scalar(1e-7)
  const clipped = backend.minimum(backend.maximum(target, eps), backend.sub(backend.scalar(1), eps))
  const t = backend.scalar(temperature)
  const softened = backend.sigmoid(
    backend.div(
      backend.sub(backend.log(clipped), backend.log(backend.sub(backend.scalar(1), clipped))),
      t,
    ),
  )
  return backend.mul(
    binaryCrossEntropy(backend, backend.div(studentLogits, t), softened),
    backend.scalar(temperature * temperature),
  )
}

/** The two terms of L_FDA (eq. 16). */
export interface FrontDoorLoss {
  /** L_kd(õ, ô): trains the student only; õ (so W1, W2, ψ_FDA) is held fixed. */
  readonly distillation: Tensor
  /** L_ce(õ, o): trains W1, W2 and ψ_FDA only. */
  readonly consistency: Tensor
  readonly total: Tensor
}

/**
 * L_FDA = L_kd(õ, ô) + L_ce(õ, o) (eq. 16) with the paper's routing: "the consistency loss solely
 * affects W1, W2 and ψ_FDA; the distillation loss is computed when W1, W2 and ψ_FDA are fixed".
 * `causalLabel` comes from `CausalLabel.estimate`, whose inputs are constants, so the consistency
 * term cannot reach the student; the distillation term stops the gradient into the label itself.
 * One backward pass over all parameters then routes each term correctly.
 */
export const frontDoor = (
  backend: TensorBackend,
  causalLabel: Tensor,
  studentLogits: Tensor,
  labels: Tensor,
  temperature = 1,
): FrontDoorLoss => {
  const d = distillation(backend, causalLabel, studentLogits, temperature)
  const c = probabilityCrossEntropy(backend, causalLabel, labels)
  return { distillation: d, consistency: c, total: backend.add(d, c) }
}

/** L_CausalD = L_Rec + λ_BDA L_BDA + λ_FDA L_FDA (eq. 22). */
export const causalD = (
  backend: TensorBackend,
  terms: { readonly recommendation: Tensor; readonly backdoor: Tensor; readonly frontDoor: Tensor },
  lambdas: { readonly backdoor: number; readonly frontDoor: number },
): Tensor =>
  backend.add(
    terms.recommendation,
    backend.add(
      backend.mul(terms.backdoor, backend.scalar(lambdas.backdoor)),
      backend.mul(terms.frontDoor, backend.scalar(lambdas.frontDoor)),
    ),
  )
