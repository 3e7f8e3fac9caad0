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
 * The attention's first layer is computed without materialising the [B, L, 4d] concatenation:
 * with W = [Wh; Wt; Wd; Wp],
 *
 *   [h, t, h − t, h ⊙ t]·W + b = h·(Wh + Wd) + (h ⊙ t)·Wp + (t·(Wt − Wd) + b)
 *
 * and the last term depends on the row only, so it is computed once per row ([B, 80]) and
 * broadcast over the L history positions (see `bench/NOTES.md` for the measured gain). The
 * concatenation form is kept ({@link AttentionForm} "naive") to test the identity.
 *
 * The activation unit works **time-major** ([L, B, ...]): the history ids are transposed once
 * (an int32 [B, L] tensor) before the lookup, so every per-row term (the target t, the per-row
 * part of the first layer) is broadcast over the leading axis, which tfjs's cpu backend does
 * 1.5x faster per training step than the [B, 1, H] broadcast of the batch-major layout (wasm
 * is indifferent; `bench/NOTES.md`).
 *
 * @module
 */
import { Mlp, type Parameter, Random, type Tensor, type TensorBackend } from "@causald/core"
import * as Dense from "./Dense.ts"
import { InvalidBatch } from "./Errors.ts"
import * as Embedding from "./internal/Embedding.ts"
import type {
  Recommender,
  RecommenderFactory,
  RecommenderInputs,
  Vocabulary,
} from "./Recommender.ts"

/** DIN's options; {@link defaultConfig} holds the paper's. */
export interface DinConfig {
  /** d: item (and user) embedding width; the paper's 8. */
  readonly embeddingSize: number
  /** Hidden widths of the local activation unit; DIN's 80, 40. */
  readonly attentionHidden: ReadonlyArray<number>
  /** Hidden activation of the activation unit: sigmoid (DeepCTR-Torch, the PyTorch reference) or Dice. */
  readonly attentionActivation: "sigmoid" | "dice"
  /**
   * "none" (DIN's choice: weights keep the intensity of the interest, section 4.3) or "softmax"
   * over the real history items of each row.
   */
  readonly attentionNormalization: "none" | "softmax"
  /** Hidden widths of ψ*; DIN's 200, 80. */
  readonly predictorHidden: ReadonlyArray<number>
  /** Hidden activation of ψ* (ReLU in the PyTorch reference; DIN's paper uses PReLU/Dice). */
  readonly predictorActivation: Dense.HiddenActivation
  /** Adds a user-id embedding to ψ*'s input (user ids are not part of X). Default false. */
  readonly userEmbedding: boolean
  /** Standard deviation of the normal initial embeddings. */
  readonly embeddingStd: number
  /** Dice's running-statistics momentum (used only with Dice). */
  readonly diceMomentum: number
}

/** The paper's configuration (section 5.1) and DIN's layer sizes. */
export const defaultConfig: DinConfig = {
  embeddingSize: 8,
  attentionHidden: [80, 40],
  attentionActivation: "sigmoid",
  attentionNormalization: "none",
  predictorHidden: [200, 80],
  predictorActivation: "relu",
  userEmbedding: false,
  embeddingStd: 0.05,
  diceMomentum: 0.99,
}

/** A DIN model: the {@link Recommender} in training mode plus its parts. */
export interface DinModel extends Recommender {
  readonly kind: "din"
  readonly config: DinConfig
  /** `din/item-embedding` [numItems + 1, d]; row 0 is padding. */
  readonly itemEmbedding: Parameter
  /** `din/user-embedding` [numUsers, d], when {@link DinConfig.userEmbedding}. */
  readonly userEmbedding?: Parameter
  /** The local activation unit, [4d, ...attentionHidden, 1], `din/attention/...`. */
  readonly attention: Dense.DenseStack
  /** ψ*, [2d (+d), ...predictorHidden, 1], `din/predictor/...`. */
  readonly predictor: Dense.DenseStack
  readonly embeddings: ReadonlyArray<Parameter>
  /** The parameters that are not embeddings. */
  readonly dense: ReadonlyArray<Parameter>
  readonly buffers: ReadonlyArray<Parameter>
  readonly inference: Recommender
}

/**
 * How the activation unit's first layer is computed: "fast" (per-row target term, no [B, L, 4d]
 * tensor) or "naive" (the concatenation, as DeepCTR writes it). Equal up to rounding.
 */
export type AttentionForm = "fast" | "naive"

const shapeOf = (inputs: RecommenderInputs): { rows: number; length: number } => {
  const [rows, length] = inputs.history.shape as [number, number]
  if (inputs.history.shape.length !== 2 || inputs.item.shape[0] !== rows)
    throw new InvalidBatch({
      field: "history",
      expected: `[B, L] with B = item.shape[0] = ${inputs.item.shape[0]}`,
      found: `[${inputs.history.shape.join(", ")}]`,
    })
  return { rows, length }
}

/** First-layer pre-activation [L·B, H] by the concatenation [h, t, h − t, h ⊙ t]. */
const firstLayerNaive = (b: TensorBackend, model: DinModel, h: Tensor, t: Tensor): Tensor => {
  const [length, rows, d] = h.shape as [number, number, number]
  const tiled = b.broadcastTo(t, [length, rows, d])
  const x = b.reshape(b.concat([h, tiled, b.sub(h, tiled), b.mul(h, tiled)], 2), [
    length * rows,
    4 * d,
  ])
  const mlp = model.attention.mlp
  return b.add(b.matmul(x, mlp.weights[0]!.value), mlp.biases[0]!.value)
}

/** First-layer pre-activation [L·B, H] by the block identity of the module documentation. */
const firstLayerFast = (b: TensorBackend, model: DinModel, h: Tensor, t: Tensor): Tensor => {
  const [length, rows, d] = h.shape as [number, number, number]
  const mlp = model.attention.mlp
  const width = mlp.sizes[1]!
  const [wh, wt, wd, wp] = Mlp.firstLayerBlocks(b, mlp, [d, d, d, d]) as [
    Tensor,
    Tensor,
    Tensor,
    Tensor,
  ]
  const perRow = b.add(b.matmul(t, b.sub(wt, wd)), mlp.biases[0]!.value)
  const products = b.reshape(b.mul(h, t), [length * rows, d])
  const perItem = b.add(
    b.matmul(b.reshape(h, [length * rows, d]), b.add(wh, wd)),
    b.matmul(products, wp),
  )
  return b.reshape(b.add(b.reshape(perItem, [length, rows, width]), perRow), [length * rows, width])
}

/**
 * The activation unit's raw output a(h_j, t) [L, B], time-major, for history embeddings
 * h [L, B, d] and target embeddings t [B, d], before masking. `mask` [L, B] keeps padding out of
 * Dice's batch statistics.
 */
export const attentionLogits = (
  b: TensorBackend,
  model: DinModel,
  h: Tensor,
  t: Tensor,
  mask: Tensor,
  mode: Dense.Mode,
  form: AttentionForm = "fast",
): Tensor => {
  const [length, rows] = h.shape as [number, number]
  const pre = form === "fast" ? firstLayerFast(b, model, h, t) : firstLayerNaive(b, model, h, t)
  const flatMask = b.reshape(mask, [length * rows])
  return b.reshape(Dense.continueFrom(b, model.attention, pre, mode, flatMask), [length, rows])
}

/**
 * Weights w [L, B] from the activation unit's output [L, B]: masked, optionally softmax over
 * the real items of each row.
 */
export const attentionWeights = (
  b: TensorBackend,
  normalization: DinConfig["attentionNormalization"],
  logits: Tensor,
  mask: Tensor,
): Tensor => {
  if (normalization === "none") return b.mul(logits, mask)
  // Padding gets -1e9 before the softmax, so exp underflows to exactly 0 there. tfjs's softmax
  // runs over the last axis only: rows go last for it ([B, L]).
  const shifted = b.add(logits, b.mul(b.sub(mask, b.scalar(1)), b.scalar(1e9)))
  return b.mul(b.transpose(b.softmax(b.transpose(shifted), -1)), mask)
}

/** φ: m = Σ_j w_j h_j [B, d]. */
const encodeWith = (
  b: TensorBackend,
  model: DinModel,
  inputs: RecommenderInputs,
  mode: Dense.Mode,
  form: AttentionForm,
): Tensor => {
  shapeOf(inputs)
  const mask = b.transpose(inputs.historyMask)
  const h = b.gather(model.itemEmbedding.value, b.transpose(inputs.history))
  const t = b.gather(model.itemEmbedding.value, inputs.item)
  const logits = attentionLogits(b, model, h, t, mask, mode, form)
  const w = attentionWeights(b, model.config.attentionNormalization, logits, mask)
  return b.sum(b.mul(h, b.expandDims(w, 2)), 0)
}

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
 * The mediator computed with a chosen first-layer form (for tests and benchmarks; the model's
 * own `encode` uses "fast").
 */
export const encode = (
  b: TensorBackend,
  model: DinModel,
  inputs: RecommenderInputs,
  mode: Dense.Mode = "train",
  form: AttentionForm = "fast",
): Tensor => encodeWith(b, model, inputs, mode, form)

/**
 * Builds DIN on a backend with seeded initial values: the same seed gives the same parameters.
 * Parameters are named `din/...`. Throws {@link InvalidConfig} for a bad option.
 */
export const make = (
  backend: TensorBackend,
  vocabulary: Vocabulary,
  options: Partial<DinConfig> = {},
  seed = 0,
): DinModel => {
  const config: DinConfig = { ...defaultConfig, ...options }
  Embedding.checkVocabulary(vocabulary)
  Embedding.checkInteger("embeddingSize", config.embeddingSize, 1)
  Embedding.checkSizes("attentionHidden", config.attentionHidden)
  Embedding.checkSizes("predictorHidden", config.predictorHidden)
  Embedding.checkPositive("embeddingStd", config.embeddingStd, true)
  Embedding.checkPositive("diceMomentum", config.diceMomentum, true)
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
