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
import type { Batches } from "@causald/data"
import { Din, forInference, Inputs, LengthChunks, type Recommender } from "@causald/models"
import {
  type BatchContext,
  type Objective,
  type RecommendationLoss,
  recommendationLoss,
} from "./Objective.ts"

/** How the inner average over in-batch partners x_j of eq. (14) is computed. */
export type PartnerSampling =
  | { readonly _tag: "Exact" }
  | { readonly _tag: "MonteCarlo"; readonly partners: number }

export interface CausalDConfig {
  /** λ_BDA of eq. (22); paper default 1. */
  readonly lambdaBda: number
  /** λ_FDA of eq. (22); paper default 1. 0 gives the "w/o FDA" ablation. */
  readonly lambdaFda: number
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
  /** Hidden layers of ψ_FDA. */
  readonly estimatorHidden: ReadonlyArray<number>
  readonly l2: number
  /**
   * Keeps the teachers' mediators m̃_{k,i} of every positive row once computed, keyed by the
   * batch's `positiveIndex`, so that from its second epoch on only the negatives (redrawn each
   * epoch) run the teachers. Exact: teachers are frozen and encode each row on its own (DIN at
   * inference, `forInference`; DeepFM has no batch statistics), so a positive's mediators are
   * the same in every epoch and batch (tests check equal losses on cpu and wasm). A teacher whose
   * encoder mixes rows (batch statistics outside inference mode) needs `false`. Memory: K·d
   * floats per training positive (Amazon Beauty, 131,413 positives, K = 4, d = 8: 16.8 MB on the
   * host, up to 21 MB with the arrays' growth margin).
   */
  readonly cachePositives: boolean
  /**
   * The teachers encode the rows sorted by history length, in chunks whose history width is the
   * chunk's longest history instead of L: padded positions only add zeros (masked weights), so
   * the mediators are the same (DIN: bit-identical on cpu and wasm, measured; a kernel that sums
   * in another order for another width could differ by rounding), and short histories (most of
   * Amazon Beauty's) cost a fraction. Chunks are chosen to minimise Σ rows·width + overhead·chunks; this is the
   * overhead of one more chunk in row-positions (default {@link defaultChunkOverhead}).
   * `Infinity` encodes every row at the batch's full width L, for a teacher whose encoder does
   * not ignore padded positions (DIN and DeepFM mask them).
   */
  readonly teacherChunkOverhead?: number
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
  if (teachers.length === 0) throw new Error("CausalD needs at least one teacher")
  if (config.teacherPrior !== null && config.teacherPrior.length !== teachers.length)
    throw new Error(
      `the teacher prior has ${config.teacherPrior.length} entries for ${teachers.length} teachers`,
    )
  const odd = teachers.findIndex((t) => t.mediatorSize !== student.mediatorSize)
  if (odd >= 0)
    throw new Error(
      `teacher ${odd} has mediators of width ${teachers[odd]!.mediatorSize}, the student ${student.mediatorSize}: CausalD needs the same width`,
    )
  const overhead = config.teacherChunkOverhead ?? defaultChunkOverhead
  if (!(overhead >= 0))
    throw new Error(`teacherChunkOverhead must be a number >= 0, got ${overhead}`)
  const estimator = CausalLabel.make(
    backend,
    {
      mediatorSize: student.mediatorSize,
      itemSize: student.itemSize,
      hidden: config.estimatorHidden,
    },
    Random.derive(seed, 7_919),
  )
  const useLabel = config.lambdaFda !== 0
  const parameters: ReadonlyArray<Parameter> = useLabel
    ? [...student.parameters, ...estimator.parameters]
    : student.parameters
  const prior =
    config.teacherPrior === null
      ? null
      : backend.keep(backend.tensor(config.teacherPrior, [teachers.length]))

  const K = teachers.length
  const d = student.mediatorSize
  const encoders = teachers.map((t) => forInference(t))
  const cache = config.cachePositives ? new PositiveCache(K, d) : null

  /** m̃_{k,r} of the given rows of the batch (all rows when null), on the host, [K, rows, d]. */
  const encodeRows = (context: BatchContext, rows: Int32Array | null): Float32Array => {
    const { batch } = context
    const source = rows ?? identity(batch.size)
    const n = source.length
    const out = new Float32Array(K * n * d)
    // positions into `source`, by history length; the batch rows in that order
    const order = LengthChunks.byLength(source.map((r) => batch.historyLength[r]!))
    const sorted = order.map((p) => source[p]!)
    const chunks = LengthChunks.chunks(batch.historyLength, sorted, overhead)
    for (let c = 0; c + 1 < chunks.length; c++) {
      const start = chunks[c]!
      const end = chunks[c + 1]!
      const width =
        overhead === Number.POSITIVE_INFINITY
          ? batch.maxHistoryLength
          : Math.max(1, batch.historyLength[sorted[end - 1]!]!)
      // the whole batch in one chunk at full width: its inputs as they are (no copy, no upload)
      const whole = rows === null && chunks.length === 2 && width === batch.maxHistoryLength
      backend.tidy(() => {
        const inputs = whole
          ? context.inputs
          : Inputs.toInputs(backend, subBatch(batch, sorted.subarray(start, end), width))
        // Each teacher's encoder in its own scope: only its [rows, d] mediator outlives it.
        // Otherwise the step's scope would hold every teacher's [rows·L, ·] activations until
        // the step ends: each holds [rows·L, 80] and [rows·L, 40] activations and their
        // intermediates, tens of MB apiece at B = 4096, L = 50 (bench/NOTES.md, "CausalD memory").
        encoders.forEach((t, k) => {
          const m = backend.tidy(() => backend.read(t.encode(inputs)))
          for (let i = start; i < end; i++) {
            const to = (k * n + (whole ? i : order[i]!)) * d
            const from = (i - start) * d
            for (let j = 0; j < d; j++) out[to + j] = m[from + j]!
          }
        })
      })
    }
    return out
  }

  /**
   * m̃_{k,i} [K, B, d] of eq. (9): cached positives are copied, every other row (negatives,
   * positives seen for the first time) runs the teachers; new positives enter the cache.
   */
  const teacherMediators = (context: BatchContext): Tensor => {
    const { batch } = context
    const B = batch.size
    if (cache === null) return backend.tensor(encodeRows(context, null), [K, B, d])
    const missing = cache.missingRows(batch)
    const computed = encodeRows(context, missing.length === B ? null : missing)
    const all = new Float32Array(K * B * d)
    cache.assemble(batch, missing, computed, all)
    return backend.tensor(all, [K, B, d])
  }

  const prepare = (context: BatchContext): TeacherOutputs => {
    const mediators = teacherMediators(context)
    const guidance =
      prior === null
        ? FeatureGuidance.vanillaGuidance(backend, mediators)
        : FeatureGuidance.backdoorGuidance(backend, mediators, prior)
    const rows = context.batch.size
    let partnerIds: Int32Array
    let width: number
    if (config.partners._tag === "Exact") {
      const elements = teachers.length * rows * rows * (config.estimatorHidden[0] ?? 1)
      if (elements > EXACT_LIMIT)
        throw new Error(
          `the exact causal label needs a [${teachers.length}, ${rows}, ${rows}, ${config.estimatorHidden[0]}] tensor; use Monte-Carlo partners for batches this large`,
        )
      partnerIds = CausalLabel.allPartners(rows)
      width = rows
    } else {
      width = config.partners.partners
      partnerIds = CausalLabel.sampledPartners(context.rng, rows, width)
    }
    return { mediators, guidance, partners: backend.tensor(partnerIds, [rows, width]) }
  }

  const loss = (context: BatchContext, teacher: TeacherOutputs): Tensor => {
    const mediator = student.encode(context.inputs)
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
          CausalLabel.estimate(
            backend,
            estimator,
            {
              teacherMediators: teacher.mediators,
              studentMediator: mediator,
              partnerMediators: teacher.guidance,
              items: student.embedItems(context.inputs.item),
            },
            teacher.partners,
          ),
          logits,
          context.labels,
          config.temperature,
        ).total
      : backend.scalar(0)
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
    estimator,
    cachedPositives: () => cache?.size ?? 0,
    dispose,
  }
}

/** 0, 1, ..., n - 1. */
const identity = (n: number): Int32Array => {
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  return out
}

/** The rows `rows` of a batch as a row batch of their own (host copies), `width` history ids each. */
const subBatch = (
  batch: Batches.TrainingBatch,
  rows: Int32Array,
  width: number,
): Inputs.RowBatch => {
  const L = batch.maxHistoryLength
  const n = rows.length
  const out = {
    user: new Int32Array(n),
    history: new Int32Array(n * width),
    historyLength: new Int32Array(n),
    item: new Int32Array(n),
  }
  for (let i = 0; i < n; i++) {
    const r = rows[i]!
    out.user[i] = batch.user[r]!
    out.item[i] = batch.item[r]!
    out.historyLength[i] = batch.historyLength[r]!
    out.history.set(batch.history.subarray(r * L, r * L + width), i * width)
  }
  return out
}

/**
 * The teachers' mediators of positive rows, on the host: K·d floats per positive, laid out
 * [slot, K, d], reached through a slot table indexed by `TrainingBatch.positiveIndex`.
 * A host array rather than a kept tensor: the per-step gather is a copy of K·d floats per row
 * that the [K, B, d] assembly does anyway, it grows without re-uploading, and a wasm heap never
 * shrinks. Each entry remembers its target item and history length, so a batch from another
 * data set or history width cannot silently read a stale entry.
 */
class PositiveCache {
  private values = new Float32Array(0)
  /** slot + 1 of each positive index; 0 = not cached */
  private slots = new Int32Array(0)
  private items = new Int32Array(0)
  private lengths = new Int32Array(0)
  size = 0

  constructor(
    readonly teachers: number,
    readonly mediatorSize: number,
  ) {}

  private slotOf(index: number): number {
    return index < this.slots.length ? this.slots[index]! - 1 : -1
  }

  /** Rows that must run the teachers: negatives and positives not cached yet (ascending). */
  missingRows(batch: Batches.TrainingBatch): Int32Array {
    const out = new Int32Array(batch.size)
    let n = 0
    for (let r = 0; r < batch.size; r++) {
      if (batch.positiveRow[r] !== r) {
        out[n++] = r
        continue
      }
      const index = batch.positiveIndex[r]!
      const slot = this.slotOf(index)
      if (slot < 0) {
        out[n++] = r
        continue
      }
      if (this.items[slot] !== batch.item[r] || this.lengths[slot] !== batch.historyLength[r])
        throw new Error(
          `CausalD positive cache: positive ${index} was item ${this.items[slot]} with ${this.lengths[slot]} history items, now item ${batch.item[r]} with ${batch.historyLength[r]}; one objective must train on one data set and history width (or set cachePositives: false)`,
        )
    }
    return out.subarray(0, n)
  }

  /** A new slot for positive `index`, growing the arrays geometrically (x1.25). */
  private add(index: number, item: number, length: number): number {
    if (index >= this.slots.length) {
      const slots = new Int32Array(Math.max(index + 1, Math.ceil(this.slots.length * 1.25)))
      slots.set(this.slots)
      this.slots = slots
    }
    const slot = this.size++
    if (slot >= this.items.length) {
      const capacity = Math.max(1024, Math.ceil(this.items.length * 1.25))
      const grow = <A extends Int32Array | Float32Array>(
        a: A,
        make: (n: number) => A,
        w: number,
      ) => {
        const b = make(capacity * w)
        b.set(a)
        return b
      }
      const w = this.teachers * this.mediatorSize
      this.values = grow(this.values, (n) => new Float32Array(n), w)
      this.items = grow(this.items, (n) => new Int32Array(n), 1)
      this.lengths = grow(this.lengths, (n) => new Int32Array(n), 1)
    }
    this.slots[index] = slot + 1
    this.items[slot] = item
    this.lengths[slot] = length
    return slot
  }

  /**
   * Fills `out` [K, B, d] from the cache and from `computed` [K, missing.length, d] (the
   * teachers' mediators of the missing rows), and caches the missing positives.
   */
  assemble(
    batch: Batches.TrainingBatch,
    missing: Int32Array,
    computed: Float32Array,
    out: Float32Array,
  ): void {
    const K = this.teachers
    const d = this.mediatorSize
    const B = batch.size
    const n = missing.length
    const w = K * d
    for (let i = 0; i < n; i++) {
      const r = missing[i]!
      for (let k = 0; k < K; k++) {
        const from = (k * n + i) * d
        const to = (k * B + r) * d
        for (let c = 0; c < d; c++) out[to + c] = computed[from + c]!
      }
      if (batch.positiveRow[r] !== r) continue
      const slot = this.add(batch.positiveIndex[r]!, batch.item[r]!, batch.historyLength[r]!)
      const values = this.values
      for (let k = 0; k < K; k++) {
        const from = (k * n + i) * d
        const to = slot * w + k * d
        for (let c = 0; c < d; c++) values[to + c] = computed[from + c]!
      }
    }
    // every positive row not missing is cached (missingRows checked it)
    let next = 0
    for (let r = 0; r < B; r++) {
      if (next < n && missing[next] === r) {
        next++
        continue
      }
      const from = this.slotOf(batch.positiveIndex[r]!) * w
      const values = this.values
      for (let k = 0; k < K; k++) {
        const to = (k * B + r) * d
        for (let c = 0; c < d; c++) out[to + c] = values[from + k * d + c]!
      }
    }
  }
}
