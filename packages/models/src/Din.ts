/**
 * DIN, the Deep Interest Network (Zhou et al., KDD 2018), one of the paper's two base
 * recommenders (section 5.1), as encoder φ and predictor ψ* (section 3.2, eq. 15):
 *
 * - φ (the encoder): a local activation unit scores each history item h_j against the target
 *   item t from [h_j, t, h_j − t, h_j ⊙ t] with an MLP (80, 40; sigmoid or Dice), giving one
 *   weight w_j per real history item (masked, not softmax-normalised unless asked). The
 *   **mediator** is the weighted sum pooling m = Σ_j w_j h_j [B, d]: everything the predictor
 *   learns about the history X passes through it, as requirement (i) of section 3.2 asks.
 * - ψ*: an MLP (200, 80) on [m, t (, user embedding)] → click logit.
 *
 * Item embeddings (row 0 = padding) are shared by history and target, as in DIN.
 *
 * Its parts live in `din/`: the configuration (`Config.ts`), the activation unit and its
 * first-layer forms (`Attention.ts`), φ's history layouts (`Layouts.ts`), the candidate scorer
 * (`CandidateScorer.ts`) and the item-pair tables (`PairTables.ts`).
 *
 * @module
 */
import { Random, type Tensor, type TensorBackend } from "@causald/core"
import { Result } from "effect"
import * as Dense from "./Dense.ts"
import type { AttentionForm } from "./din/Attention.ts"
import { candidateScorer, scoreChunk, sharedHistoryAttention } from "./din/CandidateScorer.ts"
import { type DinConfig, type DinModel, resolve } from "./din/Config.ts"
import {
  defaultChunkOverhead,
  defaultLayoutFor,
  encodeWith,
  type HistoryLayout,
} from "./din/Layouts.ts"
import { frozenEncoder } from "./din/PairTables.ts"
import * as Embedding from "./internal/Embedding.ts"
import type {
  CandidateBatch,
  CandidateInputs,
  CandidateScorer,
  Recommender,
  RecommenderFactory,
  RecommenderInputs,
  ScorerOptions,
  Vocabulary,
} from "./Recommender.ts"

export type { AttentionForm } from "./din/Attention.ts"
export { attentionLogits, attentionWeights } from "./din/Attention.ts"
export type { DinModel } from "./din/Config.ts"
export { DinConfig, defaultConfig, resolve } from "./din/Config.ts"
export type { HistoryLayout } from "./din/Layouts.ts"
export { defaultChunkOverhead, defaultLayoutFor } from "./din/Layouts.ts"
export { defaultMaxTableCells } from "./din/PairTables.ts"

/**
 * Logits [U, C] of U users' C candidates each, the history part once per user (the scorer's
 * per-chunk form without a pair table; for tests).
 */
export const scoreCandidates = (
  b: TensorBackend,
  model: DinModel,
  inputs: CandidateInputs,
  mode: Dense.Mode = "infer",
): Tensor => scoreChunk(b, model, inputs, sharedHistoryAttention(b, model, mode), mode)

/** DIN's candidate scorer for a batch (see {@link Recommender.candidateScorer}). */
export const scorer = (
  b: TensorBackend,
  model: DinModel,
  batch: CandidateBatch,
  options: ScorerOptions = {},
  mode: Dense.Mode = "infer",
): CandidateScorer => candidateScorer(b, model, batch, options, mode)

/** ψ*: logits [B] from [m, t (, u)]. */
const predictWith = (
  b: TensorBackend,
  model: DinModel,
  mediator: Tensor,
  inputs: RecommenderInputs,
  mode: Dense.Mode,
): Tensor => {
  const parts = [mediator, b.gather(model.itemEmbedding.value, inputs.item)]
  if (model.userEmbedding !== undefined)
    parts.push(b.gather(model.userEmbedding.value, inputs.user))
  const out = Dense.forward(b, model.predictor, b.concat(parts, 1), mode)
  return b.reshape(out, [mediator.shape[0]!])
}

/**
 * The mediator computed with a chosen first-layer form, {@link HistoryLayout} and chunk
 * overhead (for tests and benchmarks; the model's own `encode` uses "fast",
 * {@link defaultLayoutFor} its backend and {@link defaultChunkOverhead}).
 */
export const encode = (
  b: TensorBackend,
  model: DinModel,
  inputs: RecommenderInputs,
  mode: Dense.Mode = "train",
  form: AttentionForm = "fast",
  layout: HistoryLayout = defaultLayoutFor(b.name),
  overhead: number = defaultChunkOverhead,
): Tensor => encodeWith(b, model, inputs, mode, form, layout, overhead)

/**
 * Builds DIN on a backend with seeded initial values: the same seed gives the same parameters.
 * Parameters are named `din/...`. `options` are resolved over the defaults ({@link resolve});
 * throws {@link InvalidConfig} for a bad option.
 */
export const make = (
  backend: TensorBackend,
  vocabulary: Vocabulary,
  options: Partial<DinConfig> = {},
  seed = 0,
): DinModel => {
  const config: DinConfig = Result.getOrThrow(resolve(options))
  Embedding.checkVocabulary(vocabulary)
  const d = config.embeddingSize
  const itemEmbedding = Embedding.table(
    backend,
    "din/item-embedding",
    vocabulary.numItems + 1,
    d,
    Random.derive(seed, 0),
    config.embeddingStd,
    true,
  )
  const userEmbedding = config.userEmbedding
    ? Embedding.table(
        backend,
        "din/user-embedding",
        vocabulary.numUsers,
        d,
        Random.derive(seed, 1),
        config.embeddingStd,
        false,
      )
    : undefined
  const diceOptions = { momentum: config.diceMomentum }
  const attention = Dense.make(
    backend,
    "din/attention",
    [4 * d, ...config.attentionHidden, 1],
    Random.derive(seed, 2),
    config.attentionActivation,
    diceOptions,
  )
  const predictor = Dense.make(
    backend,
    "din/predictor",
    [(userEmbedding === undefined ? 2 : 3) * d, ...config.predictorHidden, 1],
    Random.derive(seed, 3),
    config.predictorActivation,
    diceOptions,
  )
  const embeddings = userEmbedding === undefined ? [itemEmbedding] : [itemEmbedding, userEmbedding]
  const dense = [...Dense.parameters(attention), ...Dense.parameters(predictor)]
  const buffers = [...Dense.buffers(attention), ...Dense.buffers(predictor)]
  const parameters = [...embeddings, ...dense]
  const embedItems = (items: Tensor): Tensor => backend.gather(itemEmbedding.value, items)

  const inference: Recommender = {
    kind: "din",
    parameters,
    embeddings,
    buffers,
    mediatorSize: d,
    itemSize: d,
    encode: (inputs) => encodeWith(backend, model, inputs, "infer", "fast"),
    embedItems,
    predict: (mediator, inputs) => predictWith(backend, model, mediator, inputs, "infer"),
    candidateScorer: (batch, options = {}) =>
      candidateScorer(backend, model, batch, options, "infer"),
    frozenEncoder: (options = {}) => frozenEncoder(backend, model, options),
  }
  const model: DinModel = {
    kind: "din",
    config,
    itemEmbedding,
    ...(userEmbedding === undefined ? {} : { userEmbedding }),
    attention,
    predictor,
    parameters,
    embeddings,
    dense,
    buffers,
    mediatorSize: d,
    itemSize: d,
    encode: (inputs) => encodeWith(backend, model, inputs, "train", "fast"),
    embedItems,
    predict: (mediator, inputs) => predictWith(backend, model, mediator, inputs, "train"),
    inference,
  }
  return model
}

/** {@link make} as a generic factory. */
export const factory: RecommenderFactory<Partial<DinConfig>> = make
