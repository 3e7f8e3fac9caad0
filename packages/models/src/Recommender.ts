/**
 * What every base recommender is to CausalD: an encoder φ whose output, the user representation,
 * is the **mediator** M between the history X and the next item Y, and a predictor ψ* that
 * scores a target item from the mediator (section 3.2, eq. 15). Teachers, the student and every
 * baseline share one architecture, so CausalD needs only this interface.
 *
 * Rows are (user, history, candidate item) triples. Histories are left-aligned, oldest kept item
 * first, padded with item 0 (the layout of `@causald/data`'s batches).
 *
 * @module
 */
import type { Parameter, Tensor, TensorBackend } from "@causald/core"

/** One batch of rows as tensors. B rows, history length L. */
export interface RecommenderInputs {
  /** int32 [B]: user ids (0-based). */
  readonly user: Tensor
  /** int32 [B, L]: history item ids, left-aligned, 0 = padding. */
  readonly history: Tensor
  /** float32 [B, L]: 1 where `history` holds a real item, 0 on padding. */
  readonly historyMask: Tensor
  /** int32 [B]: the candidate (target) item of each row. */
  readonly item: Tensor
  /**
   * Host copy of the real items per row (the row sums of `historyMask`), when the caller has
   * it (`Inputs.toInputs` does): a model may then skip padded positions, e.g. DIN's
   * history-length chunks. Absent: the model runs on the padded [B, L] form.
   */
  readonly historyLength?: Int32Array
}

/** Users with 1 + N candidates each, on the host: the fields of an `EvaluationBatch` the models read. */
export interface CandidateBatch {
  readonly size: number
  readonly candidatesPerUser: number
  /** Int32Array(size) */
  readonly user: Int32Array
  /** Int32Array(size·L) */
  readonly history: Int32Array
  /** Int32Array(size) */
  readonly historyLength: Int32Array
  /** Int32Array(size·(1 + N)) */
  readonly candidates: Int32Array
}

/**
 * U users, each with one history and C candidate items, as tensors: what scoring the evaluation
 * candidates sees, without repeating a history C times.
 */
export interface CandidateInputs {
  /** int32 [U] */
  readonly user: Tensor
  /** int32 [U, L]: left-aligned, 0 = padding. */
  readonly history: Tensor
  /** float32 [U, L] */
  readonly historyMask: Tensor
  /** int32 [U, C] */
  readonly candidates: Tensor
  /**
   * The same ids and lengths on the host, when the caller has them (`Inputs.scoreCandidates`
   * does): index arithmetic is then done on the host, which tfjs-wasm's broadcasting kernels do
   * slowly. `history` is [U, L] row-major, `historyLength` [U], `candidates` [U, C].
   */
  readonly host?: {
    readonly history: Int32Array
    readonly historyLength: Int32Array
    readonly candidates: Int32Array
  }
}

/** Sizes of the vocabularies a model embeds. */
export interface Vocabulary {
  /** Users are 0..numUsers-1. */
  readonly numUsers: number
  /** Items are 1..numItems; 0 is padding. */
  readonly numItems: number
}

/** A base recommender as encoder (→ mediator) and predictor. */
export interface Recommender {
  /** "din" or "deepfm". */
  readonly kind: string
  /** Every trainable parameter, with stable names (checkpoint keys). */
  readonly parameters: ReadonlyArray<Parameter>
  /** Width d of the mediator m = φ(x). */
  readonly mediatorSize: number
  /** Width e of the item representation y. */
  readonly itemSize: number
  /** φ: the mediator feature m [B, d] of each row (eq. 9 for a teacher, m̂ for the student). */
  readonly encode: (inputs: RecommenderInputs) => Tensor
  /** y: [B, e], the representation of items (int32 [B]) that ψ_FDA sees (eq. 13). */
  readonly embedItems: (items: Tensor) => Tensor
  /** ψ*: logits [B] of the rows from their mediator (eq. 15). */
  readonly predict: (mediator: Tensor, inputs: RecommenderInputs) => Tensor
  /**
   * The embedding tables among {@link parameters} (the rest are dense weights), for training
   * loops that regularise them differently. Absent: not distinguished.
   */
  readonly embeddings?: ReadonlyArray<Parameter>
  /**
   * Non-trainable state updated by training forward passes (Dice's running statistics): saved in
   * checkpoints with {@link parameters}, but never optimised nor regularised. Absent: none.
   */
  readonly buffers?: ReadonlyArray<Parameter>
  /**
   * The same model (same parameters) as it runs at inference, when that differs from training:
   * Dice gates with running statistics instead of the batch's, so a row's score does not depend
   * on the other rows it is scored with. Absent: the model runs the same way in both.
   */
  readonly inference?: Recommender
  /**
   * A scorer of the users of `batch` (a whole evaluation batch, scored chunk by chunk), which may
   * share work across users and candidates; its logits equal (up to rounding) {@link logits} of
   * the rows with each history repeated per candidate. The caller disposes it. Absent: callers
   * repeat the histories.
   */
  readonly candidateScorer?: (batch: CandidateBatch, options?: ScorerOptions) => CandidateScorer
  /**
   * The encoder φ of this model with its parameters taken as frozen from now on (a teacher
   * during distillation): it may precompute what depends on item ids only, and returns the
   * mediators of rows given on the host. Undefined when it would precompute nothing or more than
   * the options allow; absent on models without one. Callers then use {@link encode}.
   */
  readonly frozenEncoder?: (options?: FrozenEncoderOptions) => FrozenEncoder | undefined
}

/** Options of {@link Recommender.frozenEncoder}. */
export interface FrozenEncoderOptions {
  /** Largest table, in floats, a frozen encoder may precompute (default 2^24, 64 MB). */
  readonly maxTableCells?: number
}

/**
 * Rows of a batch on the host, as `@causald/data`'s training batches hold them: `history` is
 * [rows, width] row-major, left-aligned.
 */
export interface HostRows {
  readonly history: Int32Array
  readonly width: number
  readonly historyLength: Int32Array
  readonly item: Int32Array
}

/** See {@link Recommender.frozenEncoder}. */
export interface FrozenEncoder {
  /** The mediators [rows.length, d] of the given rows of `batch`, on the host. */
  readonly mediators: (batch: HostRows, rows: Int32Array) => Float32Array
}

/** Options of {@link Recommender.candidateScorer}. */
export interface ScorerOptions {
  /** Allows a model to precompute what depends on (history item, candidate) only. Default true. */
  readonly pairTable?: boolean
}

/** Scores chunks of the users of one {@link CandidateBatch}. */
export interface CandidateScorer {
  /** Logits [U, C] of a chunk of the batch's users (any subset, any history width). */
  readonly score: (inputs: CandidateInputs) => Tensor
  /** Frees what the scorer keeps (precomputed tables). */
  readonly dispose: () => void
}

/** The model as it runs at inference (scoring, teachers' mediators): `model.inference ?? model`. */
export const forInference = (model: Recommender): Recommender => model.inference ?? model

/** Logits [B] of the rows: ψ*(φ(x), y). */
export const logits = (model: Recommender, inputs: RecommenderInputs): Tensor =>
  model.predict(model.encode(inputs), inputs)

/** Builds a model's parameters on a backend. */
export type RecommenderFactory<Config> = (
  backend: TensorBackend,
  vocabulary: Vocabulary,
  config: Config,
  seed: number,
) => Recommender
