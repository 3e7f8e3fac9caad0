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
