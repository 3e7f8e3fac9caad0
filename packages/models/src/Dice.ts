/**
 * Dice, the data-adaptive activation of DIN (Zhou et al., KDD 2018, section 4.3, eq. 9):
 *
 *   f(s) = p(s)·s + (1 − p(s))·α·s,   p(s) = sigmoid((s − E[s]) / sqrt(Var[s] + ε))
 *
 * a PReLU whose rectification point follows the distribution of its input: E[s] and Var[s] are
 * per hidden unit, α is a trainable per-unit slope (initialised to 0, as DeepCTR does).
 *
 * Training uses the statistics of the batch (gradients flow through them, as in batch
 * normalisation). Rows can carry weights: the attention unit of DIN passes its history mask, so
 * padding positions never enter the statistics and cannot change any output.
 *
 * **Inference uses running statistics**, as Zhou et al. prescribe ("in testing, E[s] and Var[s]
 * are calculated by moving averages over data"): each training forward pass updates
 * `running ← momentum·running + (1 − momentum)·batch` (the biased batch variance), and inference
 * gates with the running values. A row's inference score then does not depend on which other
 * rows are scored with it, so scoring in chunks equals scoring row by row. The running values are
 * {@link Dice.runningMean} / {@link Dice.runningVariance}: model buffers, checkpointed but never
 * optimised.
 *
 * @module
 */
import type { Parameter, Tensor, TensorBackend } from "@causald/core"

/** One Dice activation over `width` hidden units. */
export interface Dice {
  readonly width: number
  /** Trainable slope of the negative side, [width]. */
  readonly alpha: Parameter
  /** Running mean of the input, [width] (a buffer, not trainable). */
  readonly runningMean: Parameter
  /** Running (biased) variance of the input, [width] (a buffer, not trainable). */
  readonly runningVariance: Parameter
  /** Weight of the old running value in each update. */
  readonly momentum: number
  /** ε of eq. 9. */
  readonly epsilon: number
}

/** Options of {@link make}. */
export interface DiceOptions {
  /** Default 0.99 (Keras' batch normalisation). */
  readonly momentum?: number
  /** Default 1e-8 (Zhou et al.). */
  readonly epsilon?: number
}

/** A Dice activation named `<name>/{alpha,running-mean,running-variance}`. */
export const make = (
  backend: TensorBackend,
  name: string,
  width: number,
  options: DiceOptions = {},
): Dice => ({
  width,
  alpha: backend.parameter(`${name}/alpha`, new Float32Array(width), [width]),
  runningMean: backend.parameter(`${name}/running-mean`, new Float32Array(width), [width]),
  runningVariance: backend.parameter(`${name}/running-variance`, new Float32Array(width).fill(1), [
    width,
  ]),
  momentum: options.momentum ?? 0.99,
  epsilon: options.epsilon ?? 1e-8,
})

/** The trainable parameter (α). */
export const parameters = (dice: Dice): Array<Parameter> => [dice.alpha]

/** The running statistics (checkpointed, not trained). */
export const buffers = (dice: Dice): Array<Parameter> => [dice.runningMean, dice.runningVariance]

/** f(s) = s·(α + p(s)·(1 − α)), the same value as eq. 9 in fewer passes. */
const gate = (
  b: TensorBackend,
  dice: Dice,
  x: Tensor,
  centered: Tensor,
  variance: Tensor,
): Tensor => {
  const inverseStd = b.div(b.scalar(1), b.sqrt(b.add(variance, b.scalar(dice.epsilon))))
  const p = b.sigmoid(b.mul(centered, inverseStd))
  const alpha = dice.alpha.value
  return b.mul(x, b.add(alpha, b.mul(p, b.sub(b.scalar(1), alpha))))
}

/**
 * Training mode: gates `x` ([N, width]) with the statistics of its rows, weighted by `rowWeights`
 * ([N] of 0/1: the rows that count) when given, and updates the running statistics.
 */
export const train = (b: TensorBackend, dice: Dice, x: Tensor, rowWeights?: Tensor): Tensor => {
  const rows = x.shape[0]!
  // Weighted sums as [1, N] x [N, width] products: one pass each, no broadcast over N.
  const weights = rowWeights === undefined ? b.ones([1, rows]) : b.reshape(rowWeights, [1, rows])
  const count = b.maximum(b.sum(weights), b.scalar(1))
  const mean = b.div(b.reshape(b.matmul(weights, x), [dice.width]), count)
  const centered = b.sub(x, mean)
  const variance = b.div(b.reshape(b.matmul(weights, b.square(centered)), [dice.width]), count)
  const keep = b.scalar(dice.momentum)
  const update = b.scalar(1 - dice.momentum)
  const newMean = b.add(b.mul(dice.runningMean.value, keep), b.mul(b.stopGradient(mean), update))
  const newVariance = b.add(
    b.mul(dice.runningVariance.value, keep),
    b.mul(b.stopGradient(variance), update),
  )
  b.assign(dice.runningMean, newMean)
  b.assign(dice.runningVariance, newVariance)
  return gate(b, dice, x, centered, variance)
}

/** Inference mode: gates `x` ([N, width]) with the running statistics; updates nothing. */
export const infer = (b: TensorBackend, dice: Dice, x: Tensor): Tensor =>
  gate(b, dice, x, b.sub(x, dice.runningMean.value), dice.runningVariance.value)
