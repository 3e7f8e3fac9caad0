/**
 * The CausalD student's objective (section 3.4, Algorithm 1):
 *   L_CausalD = L_Rec + λ_BDA L_BDA + λ_FDA L_FDA                                    (22)
 * with frozen teachers whose encoders give the mediator samples m̃_{k,i} (eq. 9), feature
 * guidance by back-door adjustment m̃°_i (eq. 19-20) or the teachers' mean (eq. 17-18), and the
 * front-door causal label õ_i (eq. 10-14) distilled into the student with the routing of eq. 16.
 *
 * Only the student is the result: the estimator's W1, W2 and ψ_FDA are trained alongside and
 * discarded, so inference costs exactly the base model's (section 3.5.2).
 *
 * @module
 */
import {
  CausalLabel,
  FeatureGuidance,
  Losses,
  type Parameter,
  Random,
  type Tensor,
  type TensorBackend,
} from "@causald/core"
import { Din, type Recommender } from "@causald/models"
import { InvalidObjectiveOption } from "./Errors.ts"
import * as FrozenTeachers from "./FrozenTeachers.ts"
import {
  type BatchContext,
  type Objective,
  type RecommendationLoss,
  type RecordTerm,
  recommendationLoss,
} from "./Objective.ts"

/** How the inner average over in-batch partners x_j of eq. (14) is computed. */
export type PartnerSampling =
  | { readonly _tag: "Exact" }
  | { readonly _tag: "MonteCarlo"; readonly partners: number }

export interface CausalDConfig {
  /** λ_BDA of eq. (22); paper default 1. */
  readonly lambdaBda: number
  /** λ_FDA of eq. (22); paper default 1. */
  readonly lambdaFda: number
  /**
   * Whether the front-door causal label is estimated and distilled at all (eq. 10-16; default
   * true). `false` is the w.o. FDA ablation of Table 5: no estimator (W1, W2, ψ_FDA) is built or
   * trained and L_FDA is left out, whatever λ_FDA says.
   */
  readonly frontDoor?: boolean
  /**
   * Causal feature distillation with back-door adjustment (eq. 19-20) when the prior P(z_k) of
   * the teachers' groups is given; vanilla (eq. 17-18) when it is `null`.
   */
  readonly teacherPrior: Float32Array | null
  readonly partners: PartnerSampling
  readonly distance: FeatureGuidance.Distance
  /** Temperature of L_kd. */
  readonly temperature: number
  readonly recommendationLoss: RecommendationLoss
  /** Hidden layers of ψ_FDA (eq. 13: "a FCL network"; the default [16] is light-weight). */
  readonly estimatorHidden: ReadonlyArray<number>
  /**
   * y_i of ψ_FDA (eq. 11-13): 0 (default) the student's item embedding, held constant; I > 0 an
   * own trainable look-up table over items 1..I, trained with W1, W2 and ψ_FDA.
   */
  readonly estimatorItems?: number
  /**
   * Epochs at the start in which the front-door estimator (W1, W2, ψ_FDA, and its own item table)
   * is fitted alone, by the consistency term of eq. (16), before it labels the student: the
   * student's loss is left out, so the student does not move (default 0: all of eq. 22 from the
   * first step). Eq. (16) computes the distillation with W1, W2 and ψ_FDA fixed; without a
   * warm-up the first labels come from an untrained estimator, which pulls a student started from
   * the base model away from it in its first epoch (measured on ml-100k).
   */
  readonly estimatorWarmupEpochs?: number
  readonly l2: number
  /**
   * Keeps the teachers' mediators of every positive row once computed, so that from the second
   * epoch on only the negatives run the teachers (exact; `FrozenTeachers.ts`). A teacher whose
   * encoder mixes rows (batch statistics outside inference mode) needs `false`.
   */
  readonly cachePositives: boolean
  /**
   * The teachers encode rows in history-length chunks (`FrozenTeachers.ts`); this is the overhead
   * of one more chunk in row-positions (default {@link defaultChunkOverhead}). `Infinity`
   * encodes every row at the batch's full width L.
   */
  readonly teacherChunkOverhead?: number
  /**
   * Teachers that can precompute their item-pair tables encode by lookups (`FrozenTeachers.ts`,
   * `Recommender.frozenEncoder`; default true). Exact up to rounding; `false` runs their forward
   * pass.
   */
  readonly teacherPairTables?: boolean
}

/** A chunk's fixed cost in row-positions, as for the student's own DIN layout. */
export const defaultChunkOverhead = Din.defaultChunkOverhead

export const defaultCausalDConfig: Omit<CausalDConfig, "teacherPrior"> = {
  lambdaBda: 1,
  lambdaFda: 1,
  partners: { _tag: "MonteCarlo", partners: 16 },
  distance: "euclidean",
  temperature: 1,
  recommendationLoss: "bce",
  estimatorHidden: [16],
  l2: 0,
  cachePositives: true,
}

/** The constants of a batch, computed before the gradient tape: teachers are frozen. */
export interface TeacherOutputs {
  /** m̃_{k,i}: [K, B, d] */
  readonly mediators: Tensor
  /** m̃°_i (eq. 19) or the teachers' mean (eq. 18): [B, d]; also the partners' m̃_j (eq. 13). */
  readonly guidance: Tensor
  /** int32 [B, S]: each row's in-batch partners j. */
  readonly partners: Tensor
}

export interface CausalDObjective extends Objective<TeacherOutputs> {
  readonly estimator: CausalLabel.CausalLabelEstimator
  /** Positives whose teacher mediators are cached (0 without {@link CausalDConfig.cachePositives}). */
  readonly cachedPositives: () => number
  /** Frees the estimator and the prior (the student and teachers belong to the caller). */
  readonly dispose: () => void
}

/** The exact estimator's [K, B, B, h] tensor is refused above this many elements. */
export const EXACT_LIMIT = 64_000_000

/**
 * Why the exact causal label (eq. 14 over all B partners) cannot run with K teachers at batch B,
 * or null when its [K, B, B, h] tensor fits {@link EXACT_LIMIT}. Checked per batch by the
 * objective, and up front by callers that know K and B before training.
 */
export const exactLabelTooLarge = (
  teachers: number,
  rows: number,
  config: Pick<CausalDConfig, "estimatorHidden">,
): string | null => {
  const h = config.estimatorHidden[0] ?? 1
  return teachers * rows * rows * h > EXACT_LIMIT
    ? `the exact causal label needs a [${teachers}, ${rows}, ${rows}, ${h}] tensor, over the limit of ${EXACT_LIMIT} elements`
    : null
}

/**
 * The student's objective. `teachers` are trained models with the student's architecture; their
 * parameters are never updated here.
 */
export const causalD = (
  backend: TensorBackend,
  student: Recommender,
  teachers: ReadonlyArray<Recommender>,
  config: CausalDConfig,
  seed: number,
): CausalDObjective => {
  const invalid = (option: string, expected: string, found: string) =>
    new InvalidObjectiveOption({ objective: "CausalD", option, expected, found })
  if (teachers.length === 0) throw invalid("teachers", "at least one teacher", "none")
  if (config.teacherPrior !== null && config.teacherPrior.length !== teachers.length)
    throw invalid(
      "teacherPrior",
      `one entry per teacher (${teachers.length})`,
      `${config.teacherPrior.length} entries`,
    )
  const odd = teachers.findIndex((t) => t.mediatorSize !== student.mediatorSize)
  if (odd >= 0)
    throw invalid(
      "teachers",
      `mediators of the student's width ${student.mediatorSize}`,
      `teacher ${odd} of width ${teachers[odd]!.mediatorSize}`,
    )
  const overhead = config.teacherChunkOverhead ?? defaultChunkOverhead
  if (!(overhead >= 0)) throw invalid("teacherChunkOverhead", "a number >= 0", String(overhead))
  const estimator = CausalLabel.make(
    backend,
    {
      mediatorSize: student.mediatorSize,
      itemSize: student.itemSize,
      hidden: config.estimatorHidden,
      items: config.estimatorItems ?? 0,
    },
    Random.derive(seed, 7_919),
  )
  const useLabel = config.frontDoor ?? true
  const warmupEpochs = config.estimatorWarmupEpochs ?? 0
  if (!(Number.isInteger(warmupEpochs) && warmupEpochs >= 0))
    throw invalid("estimatorWarmupEpochs", "an integer >= 0", String(warmupEpochs))
  const parameters: ReadonlyArray<Parameter> = useLabel
    ? [...student.parameters, ...estimator.parameters]
    : student.parameters
  const prior =
    config.teacherPrior === null
      ? null
      : backend.keep(backend.tensor(config.teacherPrior, [teachers.length]))

  const frozen = FrozenTeachers.make(backend, teachers, {
    cachePositives: config.cachePositives,
    chunkOverhead: overhead,
    pairTables: config.teacherPairTables ?? true,
  })

  const prepare = (context: BatchContext): TeacherOutputs => {
    const mediators = frozen.outputs(context).mediators
    const guidance =
      prior === null
        ? FeatureGuidance.vanillaGuidance(backend, mediators)
        : FeatureGuidance.backdoorGuidance(backend, mediators, prior)
    const rows = context.batch.size
    let partnerIds: Int32Array
    let width: number
    if (config.partners._tag === "Exact") {
      const tooLarge = exactLabelTooLarge(teachers.length, rows, config)
      if (tooLarge !== null)
        throw new InvalidObjectiveOption({
          objective: "CausalD",
          option: "partners",
          expected: "Monte-Carlo partners for batches this large",
          found: `the exact label: ${tooLarge}`,
        })
      partnerIds = CausalLabel.allPartners(rows)
      width = rows
    } else {
      width = config.partners.partners
      partnerIds = CausalLabel.sampledPartners(context.rng, rows, width)
    }
    return { mediators, guidance, partners: backend.tensor(partnerIds, [rows, width]) }
  }

  /** õ_i of eq. (14) for the batch, from the student's mediator m̂_i (held constant inside). */
  const causalLabel = (context: BatchContext, teacher: TeacherOutputs, mediator: Tensor) =>
    CausalLabel.estimate(
      backend,
      estimator,
      {
        teacherMediators: teacher.mediators,
        studentMediator: mediator,
        partnerMediators: teacher.guidance,
        items: student.embedItems(context.inputs.item),
        itemIds: context.inputs.item,
      },
      teacher.partners,
    )

  const loss = (context: BatchContext, teacher: TeacherOutputs, record?: RecordTerm): Tensor => {
    const mediator = student.encode(context.inputs)
    if (useLabel && context.epoch <= warmupEpochs) {
      // the estimator's warm-up: only the consistency term of eq. (16), which reaches W1, W2 and
      // ψ_FDA alone (the label's inputs are held constant), so the student gets no gradient
      const consistency = Losses.probabilityCrossEntropy(
        backend,
        causalLabel(context, teacher, mediator),
        context.labels,
      )
      record?.("L_FDA consistency", consistency)
      return consistency
    }
    const logits = student.predict(mediator, context.inputs)
    const rec = recommendationLoss(backend, config.recommendationLoss, logits, context)
    const bda = FeatureGuidance.featureDistillationLoss(
      backend,
      mediator,
      teacher.guidance,
      config.distance,
    )
    const fda = useLabel
      ? Losses.frontDoor(
          backend,
          causalLabel(context, teacher, mediator),
          logits,
          context.labels,
          config.temperature,
        ).total
      : backend.scalar(0)
    // the three terms of eq. (22) before their coefficients, logged per epoch
    record?.("L_Rec", rec)
    record?.("L_BDA", bda)
    if (useLabel) record?.("L_FDA", fda)
    const total = Losses.causalD(
      backend,
      { recommendation: rec, backdoor: bda, frontDoor: fda },
      { backdoor: config.lambdaBda, frontDoor: config.lambdaFda },
    )
    return config.l2 ? backend.add(total, Losses.l2(backend, student.parameters, config.l2)) : total
  }

  const dispose = () => {
    backend.dispose(estimator.parameters)
    if (prior !== null) backend.dispose(prior)
  }

  return {
    model: student,
    parameters,
    prepare,
    loss,
    warmupEpochs: useLabel ? warmupEpochs : 0,
    estimator,
    cachedPositives: frozen.cachedPositives,
    dispose,
  }
}
