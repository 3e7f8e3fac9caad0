/**
 * Feature distillation (section 3.3.3): the teachers' mediators guide the student's mediator.
 *
 * - Vanilla (eq. 17-18): π = the mean of the K teachers' mediator features.
 * - Causal, with back-door adjustment (eq. 19-20): when the confounder Z that split the teachers'
 *   data is observed (e.g. activeness), teacher k estimates P(M | X, Z = z_k), and
 *   m̃°_i = Σ_k P(z_k) m̃_{k,i} adjusts for Z as eq. (2) does, with P(z_k) proportional to the
 *   users of teacher k's group. m̃° also replaces the teachers' mean as the partner feature m̃_j of
 *   the causal label (eq. 13-14).
 *
 * @module
 */
import { Result } from "effect"
import { InvalidGroups } from "./MetricAccumulator.ts"
import type { Tensor, TensorBackend } from "./Tensor.ts"

/**
 * How far the student's mediator is from its guidance: the d of eq. (17) and (20), which the
 * paper leaves open ("such as Euclidean distance"), averaged over the batch's rows:
 * - `euclidean`: ‖m̂ - m̃°‖, the paper's example; its gradient has norm 1 however close m̂ is;
 * - `squared-euclidean`: ‖m̂ - m̃°‖², a pull that vanishes at the guidance;
 * - `mse`: ‖m̂ - m̃°‖² / d, the mean squared error over elements (as a framework's MSE loss
 *   gives it): the squared distance scaled down by the mediator width d;
 * - `cosine`: 1 - cos(m̂, m̃°), blind to the mediators' norms.
 */
export type Distance = "euclidean" | "squared-euclidean" | "mse" | "cosine"

/**
 * The prior P(z_k) of eq. (19): proportional to the number of users in teacher k's group. Fails
 * with {@link InvalidGroups} when a size is negative or not a number, or all are 0: there is then
 * no distribution to weight the teachers by, and the caller's split is what to fix.
 */
export const teacherPrior = (
  groupUsers: ReadonlyArray<number>,
): Result.Result<Float32Array, InvalidGroups> => {
  const total = groupUsers.reduce((a, b) => a + b, 0)
  if (!(total > 0) || groupUsers.some((n) => !(n >= 0)))
    return Result.fail(
      new InvalidGroups({
        reason: `teacher group sizes must be non-negative with a positive total, got [${groupUsers.join(", ")}]`,
      }),
    )
  return Result.succeed(Float32Array.from(groupUsers, (n) => n / total))
}

/** π of eq. (18): the teachers' mean mediator, [K, B, d] -> [B, d]. */
export const vanillaGuidance = (backend: TensorBackend, teacherMediators: Tensor): Tensor =>
  backend.mean(teacherMediators, 0)

/** m̃° of eq. (19): Σ_k P(z_k) m̃_{k,i}, [K, B, d] with a [K] prior -> [B, d]. */
export const backdoorGuidance = (
  backend: TensorBackend,
  teacherMediators: Tensor,
  prior: Tensor,
): Tensor => backend.sum(backend.mul(teacherMediators, backend.reshape(prior, [-1, 1, 1])), 0)

/**
 * The per-row distance between the student's mediator m̂ and the guidance, averaged over the
 * batch (eq. 17/20 sum over rows; the mean keeps λ_BDA independent of the batch size). The
 * guidance is a constant target: no gradient flows into the teachers.
 */
export const featureDistillationLoss = (
  backend: TensorBackend,
  studentMediator: Tensor,
  guidance: Tensor,
  distance: Distance = "euclidean",
): Tensor => {
  const target = backend.stopGradient(guidance)
  if (distance === "cosine") {
    const dot = backend.sum(backend.mul(studentMediator, target), -1)
    const norms = backend.mul(
      backend.sqrt(
        backend.add(backend.sum(backend.square(studentMediator), -1), backend.scalar(1e-12)),
      ),
      backend.sqrt(backend.add(backend.sum(backend.square(target), -1), backend.scalar(1e-12))),
    )
    return backend.mean(backend.sub(backend.scalar(1), backend.div(dot, norms)))
  }
  const difference = backend.square(backend.sub(studentMediator, target))
  if (distance === "mse") return backend.mean(difference)
  const squared = backend.sum(difference, -1)
  // The epsilon keeps the Euclidean distance differentiable where the student equals its guidance.
  return backend.mean(
    distance === "euclidean" ? backend.sqrt(backend.add(squared, backend.scalar(1e-12))) : squared,
  )
}
