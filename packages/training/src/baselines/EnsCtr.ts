/**
 * EnsCTR: ensembled CTR prediction by distillation from several teachers through a teacher
 * gating network (the paper's baseline "EnsCTR", ref. [46]).
 *
 * Source: J. Zhu, J. Liu, W. Li, J. Lai, X. He, L. Chen, Z. Zheng, "Ensembled CTR prediction via
 * knowledge distillation", CIKM 2020. Not every teacher is equally good on every sample, so the
 * teachers' contributions α_k(x) are computed per sample by a gating network, a softmax over
 * per-teacher linear scores of each teacher's hidden representation v_k(x):
 *   α_k(x) = exp(w_kᵀ v_k(x) + b_k) / Σ_j exp(w_jᵀ v_j(x) + b_j)
 * and the student distils the gated ensemble:
 *   q = Σ_k α_k σ(t_k),   L_EnsCTR = L_Rec + λ L_kd(q, ô) + L_gate,   L_gate = CE(q, o)
 *
 * Departures from the source, and why:
 * - v_k(x) = [m̃_k ; y_k], teacher k's mediator (its encoder output, the representation its
 *   predictor reads) and its embedding of the target item: the teachers share the student's
 *   architecture, whose last hidden representation is not exposed by the `Recommender`
 *   interface.
 * - The gate is trained by the gated ensemble's own cross-entropy with the labels (L_gate, which
 *   reaches only w, b: teachers are frozen and q is held fixed in L_kd). Trained through the
 *   student's distillation loss instead, the gate would learn to pick whichever teacher already
 *   agrees with the student. L_gate is not scaled by λ: it trains the auxiliary gate only.
 * - Σ_k α_k CE(σ(t_k), ·) equals CE(Σ_k α_k σ(t_k), ·) because cross-entropy is linear in its
 *   target, so the paper's weighted sum of per-teacher losses is the distillation of q. With a
 *   temperature T ≠ 1 the mixture q is softened (σ(logit(q)/T)) rather than each σ(t_k/T).
 * - Zhu et al. also stop training early on the distillation loss over validation data; here every
 *   method is selected by validation AUC by the shared training loop, for a like comparison.
 *
 * @module
 */
import { Losses, type Parameter, Random, type Tensor, type TensorBackend } from "@causald/core"
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

export interface EnsCtrConfig {
  /** λ: weight of the distillation term. */
  readonly lambda: number
  readonly temperature: number
  readonly recommendationLoss: RecommendationLoss
  readonly l2: number
}

export const defaultEnsCtrConfig: EnsCtrConfig = {
  lambda: 1,
  temperature: 1,
  recommendationLoss: "bce",
  l2: 0,
}

/** The teacher gating network: one linear score per teacher. */
export interface TeacherGate {
  /** w: [K, d + e] */
  readonly weights: Parameter
  /** b: [K] */
  readonly bias: Parameter
}

/** The batch's constants. */
export interface EnsCtrPrepared {
  /** v_k(x) = [m̃_k ; y_k]: [K, B, d + e] */
  readonly gateInputs: Tensor
  /** σ(t_k): [B, K] */
  readonly teacherProbabilities: Tensor
}

/** α(x): [B, K], each row a distribution over the teachers (eq. of the teacher gating network). */
export const gateWeights = (
  backend: TensorBackend,
  gate: TeacherGate,
  gateInputs: Tensor,
): Tensor => {
  const scores = backend.add(
    backend.sum(backend.mul(gateInputs, backend.expandDims(gate.weights.value, 1)), -1),
    backend.expandDims(gate.bias.value, 1),
  ) // [K, B]
  return backend.softmax(backend.transpose(scores), -1)
}

/** The named terms of one batch's loss. */
export interface EnsCtrTerms {
  readonly recommendation: Tensor
  /** L_kd(q, ô), before λ. */
  readonly distillation: Tensor
  /** CE(q, o): trains the gate only. */
  readonly gate: Tensor
  /** α: [B, K] */
  readonly gateWeights: Tensor
  /** q: [B] */
  readonly ensembleLabel: Tensor
  readonly total: Tensor
}

export interface EnsCtrObjective extends Objective<EnsCtrPrepared> {
  readonly config: EnsCtrConfig
  readonly teachers: ReadonlyArray<Recommender>
  readonly gate: TeacherGate
  readonly terms: (context: BatchContext, prepared: EnsCtrPrepared) => EnsCtrTerms
  /** Frees the gate. */
  readonly dispose: () => void
}

/** The EnsCTR student's objective over frozen teachers. */
export const ensCtr = (
  backend: TensorBackend,
  student: Recommender,
  teachers: ReadonlyArray<Recommender>,
  config: EnsCtrConfig = defaultEnsCtrConfig,
  seed = 0,
): EnsCtrObjective => {
  requireTeachers("ensctr", student, teachers)
  requireNumber("ensctr", "lambda", config.lambda, { min: 0 })
  requireNumber("ensctr", "temperature", config.temperature, { min: 0, minExclusive: true })
  const K = teachers.length
  const width = student.mediatorSize + student.itemSize
  const g = Random.rng(seed, "ensctr-gate")
  const gate: TeacherGate = {
    weights: backend.parameter("ensctr/gate/kernel", Random.glorotUniform(g, K, width), [K, width]),
    bias: backend.parameter("ensctr/gate/bias", new Float32Array(K), [K]),
  }

  const frozen = FrozenTeachers.make(backend, teachers, { logits: true })
  const prepare = (context: BatchContext): EnsCtrPrepared => {
    const outputs = frozen.outputs(context)
    const items = backend.concat(
      teachers.map((t) => backend.expandDims(t.embedItems(context.inputs.item), 0)),
      0,
    )
    return {
      gateInputs: backend.concat([outputs.mediators, items], -1),
      teacherProbabilities: backend.transpose(backend.sigmoid(outputs.logits)),
    }
  }

  const terms = (context: BatchContext, prepared: EnsCtrPrepared): EnsCtrTerms => {
    const logits = student.predict(student.encode(context.inputs), context.inputs)
    const rec = recommendationLoss(backend, config.recommendationLoss, logits, context)
    const alpha = gateWeights(backend, gate, prepared.gateInputs)
    const ensemble = backend.sum(backend.mul(alpha, prepared.teacherProbabilities), -1)
    const gateLoss = Losses.probabilityCrossEntropy(backend, ensemble, context.labels)
    const distillation = Losses.distillation(backend, ensemble, logits, config.temperature)
    let total = backend.add(
      backend.add(rec, backend.mul(distillation, backend.scalar(config.lambda))),
      gateLoss,
    )
    if (config.l2) total = backend.add(total, Losses.l2(backend, student.parameters, config.l2))
    return {
      recommendation: rec,
      distillation,
      gate: gateLoss,
      gateWeights: alpha,
      ensembleLabel: ensemble,
      total,
    }
  }

  return {
    model: student,
    parameters: [...student.parameters, gate.weights, gate.bias],
    config,
    teachers,
    gate,
    prepare,
    terms,
    loss: lossOfTerms(terms, { L_Rec: "recommendation", L_KD: "distillation", L_gate: "gate" }),
    dispose: () => backend.dispose([gate.weights, gate.bias]),
  }
}
