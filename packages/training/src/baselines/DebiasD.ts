/**
 * DebiasD: class-level debiased distillation, extended to several teachers with adaptive mixing
 * weights (the paper's baseline "DebiasD", ref. [55]).
 *
 * Source: M. Lukasik, S. Bhojanapalli, A. K. Menon, S. Kumar, "Teacher's pet: understanding and
 * mitigating biases in distillation", arXiv:2106.10494, 2021 (TMLR 2022). Distillation can hurt
 * the classes on which the teacher is unreliable; the remedy softens the teacher's influence per
 * class, mixing the one-hot and the distillation losses with a class-dependent weight α_y that is
 * small where the teacher is unreliable. The CausalD paper extends it to multi-teacher
 * distillation "by assigning adaptive mixing weights to multiple teachers". Here, per class
 * c ∈ {non-click 0, click 1} (a row's class is its label):
 *   w_c = softmax(v_c)                       mixing weights over the K teachers (a distribution)
 *   q_r = Σ_k w_{y_r, k} σ(t_{k,r})           the class-mixed teacher label of row r
 *   α_c = mean over the batch's rows of class c of q's probability of the true class c
 *   L_DebiasD = L_Rec + λ (1/B) Σ_r α_{y_r} L_kd(q_r, ô_r) + L_mix,   L_mix = CE(q, o)
 * L_mix trains only the mixing logits v (teachers are frozen, the student does not enter it), so
 * the weights move to the teachers that are right on each class; the distillation term holds q
 * and α fixed and trains only the student.
 *
 * Departures from the source, and why:
 * - Lukasik et al. have one teacher and many classes; the outcome here is binary, so the classes
 *   are click / non-click, and the multi-teacher mixing (the CausalD paper's extension) is a
 *   learned softmax over teachers per class, fitted by the mixture's cross-entropy with the
 *   labels (the training loss of the mixed teacher).
 * - α_c measures the teacher's reliability on class c on the training batch (mean probability of
 *   the true class), since the protocol keeps the validation data for model selection; Lukasik et
 *   al. derive their per-class weights from held-out teacher performance.
 * - The hard-label term keeps weight 1 (L_Rec) instead of 1 − α_y, and λ scales the distillation
 *   term: the loss-coefficient form the CausalD paper searches in {0.01, 0.1, 1, 10}. L_mix is
 *   not scaled by λ: it trains the auxiliary mixing weights only.
 *
 * @module
 */
import { Losses, type Parameter, type Tensor, type TensorBackend } from "@causald/core"
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
import { rowDistillation } from "./WeightedLoss.ts"

export interface DebiasDConfig {
  /** λ: weight of the class-weighted distillation term. */
  readonly lambda: number
  readonly temperature: number
  readonly recommendationLoss: RecommendationLoss
  readonly l2: number
}

export const defaultDebiasDConfig: DebiasDConfig = {
  lambda: 1,
  temperature: 1,
  recommendationLoss: "bce",
  l2: 0,
}

/** The batch's constants: the teachers' click probabilities σ(t_k) [B, K]. */
export interface DebiasDPrepared {
  readonly teacherProbabilities: Tensor
}

/** The named terms of one batch's loss. */
export interface DebiasDTerms {
  readonly recommendation: Tensor
  /** (1/B) Σ_r α_{y_r} L_kd(q_r, ô_r), before λ. */
  readonly distillation: Tensor
  /** CE(q, o): trains the mixing logits only. */
  readonly mixing: Tensor
  /** q: [B] */
  readonly mixedLabel: Tensor
  /** [α_0, α_1]: the teachers' per-class reliability (constant). */
  readonly classWeights: Tensor
  readonly total: Tensor
}

export interface DebiasDObjective extends Objective<DebiasDPrepared> {
  readonly config: DebiasDConfig
  readonly teachers: ReadonlyArray<Recommender>
  /** v: [2, K] mixing logits, row c for class c (zero at the start: uniform weights). */
  readonly mixingLogits: Parameter
  /** softmax(v) per class: [2, K], each row a distribution over the teachers. */
  readonly mixingWeights: () => Tensor
  readonly terms: (context: BatchContext, prepared: DebiasDPrepared) => DebiasDTerms
  /** Frees the mixing logits. */
  readonly dispose: () => void
}

/** The DebiasD student's objective over frozen teachers. */
export const debiasD = (
  backend: TensorBackend,
  student: Recommender,
  teachers: ReadonlyArray<Recommender>,
  config: DebiasDConfig = defaultDebiasDConfig,
): DebiasDObjective => {
  requireTeachers("debiasd", student, teachers)
  requireNumber("debiasd", "lambda", config.lambda, { min: 0 })
  requireNumber("debiasd", "temperature", config.temperature, { min: 0, minExclusive: true })
  const K = teachers.length
  const mixingLogits = backend.parameter("debiasd/mixing", new Float32Array(2 * K), [2, K])
  const mixingWeights = () => backend.softmax(mixingLogits.value, -1)

  const frozen = FrozenTeachers.make(backend, teachers, { logits: true })
  const prepare = (context: BatchContext): DebiasDPrepared => ({
    teacherProbabilities: backend.transpose(backend.sigmoid(frozen.outputs(context).logits)),
  })

  const terms = (context: BatchContext, prepared: DebiasDPrepared): DebiasDTerms => {
    const logits = student.predict(student.encode(context.inputs), context.inputs)
    const rec = recommendationLoss(backend, config.recommendationLoss, logits, context)
    const y = backend.expandDims(context.labels, -1) // [B, 1]
    const one = backend.scalar(1)
    const notY = backend.sub(one, y)
    const w = mixingWeights()
    const w0 = backend.slice(w, [0, 0], [1, -1]) // [1, K]
    const w1 = backend.slice(w, [1, 0], [1, -1])
    const rowWeights = backend.add(backend.mul(y, w1), backend.mul(notY, w0)) // [B, K]
    const mixed = backend.sum(backend.mul(rowWeights, prepared.teacherProbabilities), -1) // [B]
    const mixing = Losses.probabilityCrossEntropy(backend, mixed, context.labels)
    // α_c: the mixed teacher's mean probability of the true class over the rows of class c.
    const labels = context.labels
    const unlabels = backend.sub(one, labels)
    const fixed = backend.stopGradient(mixed)
    const correct = backend.add(
      backend.mul(labels, fixed),
      backend.mul(unlabels, backend.sub(one, fixed)),
    )
    const alpha1 = backend.div(
      backend.sum(backend.mul(labels, correct)),
      backend.maximum(backend.sum(labels), one),
    )
    const alpha0 = backend.div(
      backend.sum(backend.mul(unlabels, correct)),
      backend.maximum(backend.sum(unlabels), one),
    )
    const rowAlpha = backend.add(backend.mul(labels, alpha1), backend.mul(unlabels, alpha0))
    const distillation = backend.mean(
      backend.mul(rowAlpha, rowDistillation(backend, fixed, logits, config.temperature)),
    )
    let total = backend.add(
      backend.add(rec, backend.mul(distillation, backend.scalar(config.lambda))),
      mixing,
    )
    if (config.l2) total = backend.add(total, Losses.l2(backend, student.parameters, config.l2))
    return {
      recommendation: rec,
      distillation,
      mixing,
      mixedLabel: mixed,
      classWeights: backend.concat([backend.reshape(alpha0, [1]), backend.reshape(alpha1, [1])], 0),
      total,
    }
  }

  return {
    model: student,
    parameters: [...student.parameters, mixingLogits],
    config,
    teachers,
    mixingLogits,
    mixingWeights,
    prepare,
    terms,
    loss: lossOfTerms(terms, {
      L_Rec: "recommendation",
      L_KD: "distillation",
      L_mixing: "mixing",
    }),
    dispose: () => backend.dispose(mixingLogits),
  }
}
