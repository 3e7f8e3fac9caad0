/**
 * KD: oracle knowledge distillation from one teacher trained on all users (the paper's
 * baseline "KD", ref. [21]).
 *
 * Source: G. Hinton, O. Vinyals, J. Dean, "Distilling the knowledge in a neural network",
 * arXiv:1503.02531, 2015. The student minimises a weighted sum of the cross-entropy with the
 * true labels and the cross-entropy with the teacher's soft labels at temperature T, the latter
 * scaled by T² so that its gradients keep their size as T changes:
 *   L_KD = L_Rec(ô, o) + λ · T² · CE(σ(t / T), σ(ô / T))
 *
 * Departures from the source, and why:
 * - The outcome is a click, so the softmax over classes is a sigmoid over one logit; the soft
 *   label is σ(t/T) (the two-class softmax of [t, 0] at temperature T).
 * - Hinton et al. mix the two terms as (1 - α)·hard + α·soft; here L_Rec keeps weight 1 and λ
 *   scales the soft term, the form of every loss coefficient the CausalD paper searches in
 *   {0.01, 0.1, 1, 10} (section 5.1).
 * - L_Rec may be BPR or sampled softmax instead of cross-entropy (the project's L_Rec choices);
 *   the soft term is always the pointwise cross-entropy of each row.
 * - The teacher has the student's architecture and data ("unprivileged", as the CausalD paper
 *   sets KD up): it is trained by the caller with `Objective.recommendation` on all users.
 *
 * @module
 */
import { Losses, type Tensor, type TensorBackend } from "@causald/core"
import type { Recommender } from "@causald/models"
import * as FrozenTeachers from "../FrozenTeachers.ts"
import {
  type BatchContext,
  lossOfTerms,
  type Objective,
  type RecommendationLoss,
  recommendationLoss,
} from "../Objective.ts"
import { requireNumber } from "./Errors.ts"
import { requireTeachers } from "./Teachers.ts"
import { softLabels } from "./WeightedLoss.ts"

export interface KdConfig {
  /** λ: weight of the soft-label term. */
  readonly lambda: number
  /** T: temperature of the soft labels (T = 1 distils the teacher's click probability). */
  readonly temperature: number
  readonly recommendationLoss: RecommendationLoss
  readonly l2: number
}

export const defaultKdConfig: KdConfig = {
  lambda: 1,
  temperature: 1,
  recommendationLoss: "bce",
  l2: 0,
}

/** The batch's constants: the teacher's logits t [B]. */
export interface KdPrepared {
  readonly teacherLogits: Tensor
}

/** The named terms of one batch's loss. */
export interface KdTerms {
  readonly recommendation: Tensor
  /** T² · CE(σ(t/T), σ(ô/T)), before λ. */
  readonly distillation: Tensor
  readonly total: Tensor
}

export interface KdObjective extends Objective<KdPrepared> {
  readonly teacher: Recommender
  readonly config: KdConfig
  readonly terms: (context: BatchContext, prepared: KdPrepared) => KdTerms
  /** Nothing of its own to free: the student and the teacher belong to the caller. */
  readonly dispose: () => void
}

/** The KD student's objective; the teacher is never updated. */
export const kd = (
  backend: TensorBackend,
  student: Recommender,
  teacher: Recommender,
  config: KdConfig = defaultKdConfig,
): KdObjective => {
  requireTeachers("kd", student, [teacher])
  requireNumber("kd", "lambda", config.lambda, { min: 0 })
  requireNumber("kd", "temperature", config.temperature, { min: 0, minExclusive: true })

  const frozen = FrozenTeachers.make(backend, [teacher], { logits: true })
  const prepare = (context: BatchContext): KdPrepared => ({
    teacherLogits: backend.reshape(frozen.outputs(context).logits, [context.batch.size]),
  })

  const terms = (context: BatchContext, prepared: KdPrepared): KdTerms => {
    const logits = student.predict(student.encode(context.inputs), context.inputs)
    const rec = recommendationLoss(backend, config.recommendationLoss, logits, context)
    // Losses.distillation softens its probability argument by T itself: pass σ(t) so the
    // target is σ(t/T).
    const distillation = Losses.distillation(
      backend,
      softLabels(backend, prepared.teacherLogits, 1),
      logits,
      config.temperature,
    )
    let total = backend.add(rec, backend.mul(distillation, backend.scalar(config.lambda)))
    if (config.l2) total = backend.add(total, Losses.l2(backend, student.parameters, config.l2))
    return { recommendation: rec, distillation, total }
  }

  return {
    model: student,
    parameters: student.parameters,
    teacher,
    config,
    prepare,
    terms,
    loss: lossOfTerms(terms, { L_Rec: "recommendation", L_KD: "distillation" }),
    dispose: () => {},
  }
}
