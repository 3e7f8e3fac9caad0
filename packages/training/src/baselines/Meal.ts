/**
 * MEAL: multi-teacher ensemble distillation with adversarial learning (the paper's baseline
 * "MEAL", ref. [44]).
 *
 * Source: Z. Shen, Z. He, X. Xue, "MEAL: multi-model ensemble via adversarial learning",
 * AAAI 2019. At every iteration a teacher selection module picks one of the teachers at random;
 * the student is pulled towards that teacher's outputs by a similarity loss, and discriminators,
 * small fully connected networks ending in a sigmoid, are trained to tell the teacher's features
 * from the student's, while the student is trained to fool them:
 *   L_D   = −E[log D(f_teacher)] − E[log(1 − D(f_student))]            (discriminators)
 *   L_adv = −E[log D(f_student)]                                        (student)
 *   L_MEAL = L_Rec + λ (L_sim + L_adv) + L_D,   L_sim = L_kd(σ(t_k), ô)
 * with one discriminator on the mediator (the encoder's output, MEAL's intermediate block) and
 * one on the output probability σ(ô/T).
 *
 * One loss, one backward pass: the two players' gradients are routed with stopGradient, as
 * CausalD routes its eq. (16). L_adv runs the discriminators with stopped weights (so it trains
 * only the student), L_D runs them on stopped student features (so it trains only the
 * discriminators), and the teachers' features are constants from `prepare`. Both players then
 * step simultaneously with the run's optimiser.
 *
 * Departures from the source, and why:
 * - Simultaneous updates with the run's single optimiser (Adagrad, the paper's learning rate)
 *   instead of alternating steps with a separate discriminator optimiser (MEAL's d_lr): the
 *   shared `Objective` has one parameter list and one optimiser; the routing above makes each
 *   player's gradient exactly its own loss's.
 * - The student's adversarial loss is the non-saturating −log D(f_student) rather than the
 *   minimax log(1 − D(f_student)), the standard remedy for vanishing generator gradients.
 * - Teachers share the student's architecture, so MEAL's alignment layers are identities, and
 *   the similarity loss is the soft-label cross-entropy of a binary outcome (L_kd at temperature
 *   T) on the selected teacher.
 * - The hard-label term L_Rec is kept with weight 1 and λ scales the student's distillation and
 *   adversarial terms, the loss-coefficient form the CausalD paper searches in {0.01, 0.1, 1, 10};
 *   L_D is not scaled by λ: it trains the auxiliary discriminators only.
 * - The teacher is drawn once per batch from the run's seeded generator (`context.rng`), so a
 *   resumed run replays the same choices.
 *
 * @module
 */
import { Losses, Mlp, type Parameter, Random, type Tensor, type TensorBackend } from "@causald/core"
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

export interface MealConfig {
  /** λ: weight of the student's similarity and adversarial terms. */
  readonly lambda: number
  readonly temperature: number
  /** Hidden layers of each discriminator. */
  readonly discriminatorHidden: ReadonlyArray<number>
  readonly recommendationLoss: RecommendationLoss
  readonly l2: number
}

export const defaultMealConfig: MealConfig = {
  lambda: 1,
  temperature: 1,
  discriminatorHidden: [16, 16],
  recommendationLoss: "bce",
  l2: 0,
}

/** The two discriminators. Each outputs a logit: positive = "a teacher's". */
export interface Discriminators {
  /** On the mediator m [B, d]. */
  readonly mediator: Mlp.Mlp
  /** On the output probability σ(ô/T): [B, 1]. */
  readonly output: Mlp.Mlp
  readonly parameters: ReadonlyArray<Parameter>
}

/** The batch's constants: the selected teacher and its features. */
export interface MealPrepared {
  /** Index of the teacher the selection module drew for this batch. */
  readonly teacher: number
  /** t_k: [B] */
  readonly teacherLogits: Tensor
  /** m̃_k: [B, d] */
  readonly teacherMediator: Tensor
}

/** The named terms of one batch's loss. */
export interface MealTerms {
  readonly recommendation: Tensor
  /** L_kd(σ(t_k), ô), before λ. */
  readonly similarity: Tensor
  /** −E[log D(f_student)] over both discriminators (stopped weights), before λ. */
  readonly adversarial: Tensor
  /** L_D over both discriminators: trains only the discriminators. */
  readonly discriminator: Tensor
  readonly total: Tensor
}

export interface MealObjective extends Objective<MealPrepared> {
  readonly config: MealConfig
  readonly teachers: ReadonlyArray<Recommender>
  readonly discriminators: Discriminators
  readonly terms: (context: BatchContext, prepared: MealPrepared) => MealTerms
  /** The student's mediator and output features of a batch. */
  readonly studentFeatures: (context: BatchContext) => {
    readonly logits: Tensor
    readonly mediator: Tensor
    readonly output: Tensor
  }
  /** Frees the discriminators. */
  readonly dispose: () => void
}

/** The discriminator's logit [B] on features [B, width]. */
export const discriminate = (backend: TensorBackend, d: Mlp.Mlp, features: Tensor): Tensor =>
  backend.reshape(Mlp.forward(backend, d, features), [-1])

/** The same network with its weights held constant: gradients reach only its input. */
const frozen = (backend: TensorBackend, d: Mlp.Mlp): Mlp.Mlp => ({
  ...d,
  weights: d.weights.map((p) => ({ name: p.name, value: backend.stopGradient(p.value) })),
  biases: d.biases.map((p) => ({ name: p.name, value: backend.stopGradient(p.value) })),
})

/** −E[log σ(a)]: the cross-entropy of logits a against "teacher" (1). */
const againstTeacher = (backend: TensorBackend, logits: Tensor): Tensor =>
  backend.mean(backend.softplus(backend.neg(logits)))

/** −E[log(1 − σ(a))]: the cross-entropy of logits a against "student" (0). */
const againstStudent = (backend: TensorBackend, logits: Tensor): Tensor =>
  backend.mean(backend.softplus(logits))

/** The MEAL student's objective over frozen teachers. */
export const meal = (
  backend: TensorBackend,
  student: Recommender,
  teachers: ReadonlyArray<Recommender>,
  config: MealConfig = defaultMealConfig,
  seed = 0,
): MealObjective => {
  requireTeachers("meal", student, teachers)
  requireNumber("meal", "lambda", config.lambda, { min: 0 })
  requireNumber("meal", "temperature", config.temperature, { min: 0, minExclusive: true })
  const g = Random.rng(seed, "meal-discriminators")
  const mediatorD = Mlp.make(
    backend,
    "meal/discriminator-mediator",
    [student.mediatorSize, ...config.discriminatorHidden, 1],
    g,
  )
  const outputD = Mlp.make(
    backend,
    "meal/discriminator-output",
    [1, ...config.discriminatorHidden, 1],
    g,
  )
  const discriminators: Discriminators = {
    mediator: mediatorD,
    output: outputD,
    parameters: [...Mlp.parameters(mediatorD), ...Mlp.parameters(outputD)],
  }

  // one set per teacher: a batch runs only the teacher it draws
  const frozenTeachers = teachers.map((t) => FrozenTeachers.make(backend, [t], { logits: true }))
  const prepare = (context: BatchContext): MealPrepared => {
    const k = Random.int(context.rng, teachers.length)
    const B = context.batch.size
    const outputs = frozenTeachers[k]!.outputs(context)
    return {
      teacher: k,
      teacherMediator: backend.reshape(outputs.mediators, [B, student.mediatorSize]),
      teacherLogits: backend.reshape(outputs.logits, [B]),
    }
  }

  /** σ(ô/T) as a [B, 1] feature. */
  const asOutput = (logits: Tensor): Tensor =>
    backend.expandDims(softLabels(backend, logits, config.temperature), -1)

  const studentFeatures = (context: BatchContext) => {
    const mediator = student.encode(context.inputs)
    const logits = student.predict(mediator, context.inputs)
    return { logits, mediator, output: asOutput(logits) }
  }

  const terms = (context: BatchContext, prepared: MealPrepared): MealTerms => {
    const s = studentFeatures(context)
    const rec = recommendationLoss(backend, config.recommendationLoss, s.logits, context)
    const similarity = Losses.distillation(
      backend,
      softLabels(backend, prepared.teacherLogits, 1),
      s.logits,
      config.temperature,
    )
    const adversarial = backend.add(
      againstTeacher(backend, discriminate(backend, frozen(backend, mediatorD), s.mediator)),
      againstTeacher(backend, discriminate(backend, frozen(backend, outputD), s.output)),
    )
    const teacherOutput = asOutput(prepared.teacherLogits)
    const discriminator = [
      againstTeacher(backend, discriminate(backend, mediatorD, prepared.teacherMediator)),
      againstStudent(backend, discriminate(backend, mediatorD, backend.stopGradient(s.mediator))),
      againstTeacher(backend, discriminate(backend, outputD, teacherOutput)),
      againstStudent(backend, discriminate(backend, outputD, backend.stopGradient(s.output))),
    ].reduce((a, b) => backend.add(a, b))
    let total = backend.add(
      backend.add(
        rec,
        backend.mul(backend.add(similarity, adversarial), backend.scalar(config.lambda)),
      ),
      discriminator,
    )
    if (config.l2) total = backend.add(total, Losses.l2(backend, student.parameters, config.l2))
    return { recommendation: rec, similarity, adversarial, discriminator, total }
  }

  return {
    model: student,
    parameters: [...student.parameters, ...discriminators.parameters],
    config,
    teachers,
    discriminators,
    prepare,
    terms,
    studentFeatures,
    loss: lossOfTerms(terms, {
      L_Rec: "recommendation",
      L_similarity: "similarity",
      L_adversarial: "adversarial",
      L_discriminator: "discriminator",
    }),
    dispose: () => backend.dispose(discriminators.parameters),
  }
}
