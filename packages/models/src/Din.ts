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
import * as LengthChunks from "./LengthChunks.ts"
import type {
  CandidateBatch,
  CandidateInputs,
  CandidateScorer,
  FrozenEncoder,
  FrozenEncoderOptions,
  HostRows,
  Recommender,
  RecommenderFactory,
  RecommenderInputs,
  ScorerOptions,
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

/**
 * The first attention layer split by its input blocks [h, t, h − t, h ⊙ t] (module
 * documentation): h·(W_h + W_d) per history item, (h ⊙ t)·W_p per pair, and the per-row term
 * t·(W_t − W_d) + b computed once per target.
 */
const firstLayerTerms = (b: TensorBackend, model: DinModel) => {
  const d = model.config.embeddingSize
  const mlp = model.attention.mlp
  const [wh, wt, wd, wp] = Mlp.firstLayerBlocks(b, mlp, [d, d, d, d]) as [
    Tensor,
    Tensor,
    Tensor,
    Tensor,
  ]
  return {
    history: b.add(wh, wd),
    product: wp,
    perRow: (t: Tensor): Tensor => b.add(b.matmul(t, b.sub(wt, wd)), mlp.biases[0]!.value),
  }
}

/** First-layer pre-activation [L·B, H] by the block identity of the module documentation. */
const firstLayerFast = (b: TensorBackend, model: DinModel, h: Tensor, t: Tensor): Tensor => {
  const [length, rows, d] = h.shape as [number, number, number]
  const mlp = model.attention.mlp
  const width = mlp.sizes[1]!
  const first = firstLayerTerms(b, model)
  const perRow = first.perRow(t)
  const products = b.reshape(b.mul(h, t), [length * rows, d])
  const perItem = b.add(
    b.matmul(b.reshape(h, [length * rows, d]), first.history),
    b.matmul(products, first.product),
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

/** φ on the padded rows: m = Σ_j w_j h_j [B, d]. */
const encodePadded = (
  b: TensorBackend,
  model: DinModel,
  inputs: RecommenderInputs,
  mode: Dense.Mode,
  form: AttentionForm,
): Tensor => {
  const mask = b.transpose(inputs.historyMask)
  const h = b.gather(model.itemEmbedding.value, b.transpose(inputs.history))
  const t = b.gather(model.itemEmbedding.value, inputs.item)
  const logits = attentionLogits(b, model, h, t, mask, mode, form)
  const w = attentionWeights(b, model.config.attentionNormalization, logits, mask)
  return b.sum(b.mul(h, b.expandDims(w, 2)), 0)
}

/**
 * Fixed cost of one history-length chunk, in (row, position) pairs: the chunks of a batch
 * minimise Σ rows·width + overhead·chunks (`LengthChunks.ts`). Measured in
 * `bench/NOTES.md` ("DIN on real histories").
 */
export const defaultChunkOverhead = 8_192

/**
 * How φ treats padded history positions, given the rows' host lengths
 * ({@link RecommenderInputs.historyLength}; without them, or without padding, always "padded"):
 *
 * - "padded": the activation unit on all [L, B] positions, padding masked afterwards.
 * - "chunks": rows sorted by history length and cut into chunks, each run padded at its longest
 *   history (`LengthChunks.ts`), the mediators put back in order.
 * - "packed": the activation unit on the valid (row, position) pairs only, [N, ·], and
 *   m = Σ_j w_j h_j as a lookup of the packed w_j h_j (a zero row for padding) summed over L.
 *
 * All three give the same mediators: a padded position contributes exactly w_j h_j = 0 (masked
 * weight; a softmax gives it exp(−1e9) = 0). Dice in training mode weights its batch statistics
 * by the mask, so "chunks" (statistics per chunk) would change them: it runs padded; "packed"
 * keeps one batch of valid pairs, the same statistics. "packed" with the softmax option (a
 * per-row normalisation over the pairs) runs as "chunks".
 */
export type HistoryLayout = "padded" | "chunks" | "packed"

/**
 * The layout of the model's own `encode` on a backend: "packed" (wasm: 1.1x per step on
 * MovieLens 100K batches, 4.0x on Amazon Beauty's), except on tfjs's cpu backend, whose stock
 * gather makes the per-pair lookups cost more than the padding they save (MovieLens 1.13x
 * slower), where "chunks" is faster (1.2x, Beauty 3.1x). Measured: `bench/NOTES.md`, "DIN scoring
 * and DIN on real histories".
 */
export const defaultLayoutFor = (backendName: string): HistoryLayout =>
  backendName === "cpu" ? "chunks" : "packed"

/** φ on length chunks (see {@link HistoryLayout}). */
const encodeChunks = (
  b: TensorBackend,
  model: DinModel,
  inputs: RecommenderInputs,
  lengths: Int32Array,
  mode: Dense.Mode,
  form: AttentionForm,
  overhead: number,
): Tensor => {
  const { rows, length } = shapeOf(inputs)
  const order = LengthChunks.byLength(lengths)
  const cuts = LengthChunks.chunks(lengths, order, overhead)
  const widthOf = (end: number): number => Math.min(length, Math.max(1, lengths[order[end - 1]!]!))
  if (cuts.length === 2) {
    // one chunk: the rows as they are, trimmed (no reordering needed)
    const width = widthOf(rows)
    if (width === length) return encodePadded(b, model, inputs, mode, form)
    return encodePadded(
      b,
      model,
      {
        user: inputs.user,
        history: b.slice(inputs.history, [0, 0], [rows, width]),
        historyMask: b.slice(inputs.historyMask, [0, 0], [rows, width]),
        item: inputs.item,
      },
      mode,
      form,
    )
  }
  const parts: Array<Tensor> = []
  for (let c = 0; c + 1 < cuts.length; c++) {
    const start = cuts[c]!
    const end = cuts[c + 1]!
    const n = end - start
    const width = widthOf(end)
    const ids = b.tensor(order.subarray(start, end), [n], "int32")
    const chunk: RecommenderInputs = {
      user: b.gather(inputs.user, ids),
      history: b.slice(b.gather(inputs.history, ids), [0, 0], [n, width]),
      historyMask: b.slice(b.gather(inputs.historyMask, ids), [0, 0], [n, width]),
      item: b.gather(inputs.item, ids),
    }
    parts.push(encodePadded(b, model, chunk, mode, form))
  }
  return b.gather(b.concat(parts, 0), b.tensor(LengthChunks.inverse(order), [rows], "int32"))
}

/**
 * φ on the valid (row, position) pairs only (see {@link HistoryLayout}); `valid` = Σ lengths.
 * The first layer is the fast form's, its per-row term looked up per pair.
 */
const encodePacked = (
  b: TensorBackend,
  model: DinModel,
  inputs: RecommenderInputs,
  lengths: Int32Array,
  valid: number,
  mode: Dense.Mode,
): Tensor => {
  const { rows, length } = shapeOf(inputs)
  const d = model.config.embeddingSize
  // pairs row-major; unpack[j·B + r] = the pair at (r, j), or `valid` (a zero row) on padding
  const pairRow = new Int32Array(valid)
  const pairFlat = new Int32Array(valid)
  const unpack = new Int32Array(length * rows).fill(valid)
  let p = 0
  for (let r = 0; r < rows; r++) {
    const n = Math.min(length, lengths[r]!)
    for (let j = 0; j < n; j++, p++) {
      pairRow[p] = r
      pairFlat[p] = r * length + j
      unpack[j * rows + r] = p
    }
  }
  const table = model.itemEmbedding.value
  const rowIds = b.tensor(pairRow, [valid], "int32")
  const ids = b.gather(
    b.reshape(inputs.history, [rows * length]),
    b.tensor(pairFlat, [valid], "int32"),
  )
  const h = b.gather(table, ids) // [N, d]
  const t = b.gather(table, inputs.item) // [B, d]
  const first = firstLayerTerms(b, model)
  const perRow = first.perRow(t) // [B, H]
  const products = b.mul(h, b.gather(t, rowIds))
  const pre = b.add(
    b.add(b.matmul(h, first.history), b.matmul(products, first.product)),
    b.gather(perRow, rowIds),
  )
  const logits = Dense.continueFrom(b, model.attention, pre, mode) // [N, 1]: every pair is real
  const weighted = b.concat([b.mul(h, logits), b.zeros([1, d])], 0) // [N + 1, d]
  return b.sum(b.gather(weighted, b.tensor(unpack, [length, rows], "int32")), 0)
}

/** φ: m = Σ_j w_j h_j [B, d], in the given {@link HistoryLayout}. */
const encodeWith = (
  b: TensorBackend,
  model: DinModel,
  inputs: RecommenderInputs,
  mode: Dense.Mode,
  form: AttentionForm,
  layout: HistoryLayout = defaultLayoutFor(b.name),
  overhead: number = defaultChunkOverhead,
): Tensor => {
  const { rows, length } = shapeOf(inputs)
  const lengths = inputs.historyLength
  if (layout === "padded" || lengths === undefined || lengths.length !== rows)
    return encodePadded(b, model, inputs, mode, form)
  let valid = 0
  for (let r = 0; r < rows; r++) valid += Math.min(length, Math.max(0, lengths[r]!))
  if (valid === rows * length || valid === 0) return encodePadded(b, model, inputs, mode, form)
  const dice = model.config.attentionActivation === "dice"
  if (layout === "packed" && form === "fast" && model.config.attentionNormalization === "none")
    return encodePacked(b, model, inputs, lengths, valid, mode)
  if (mode === "train" && dice) return encodePadded(b, model, inputs, mode, form)
  return encodeChunks(b, model, inputs, lengths, mode, form, overhead)
}

/** Checks the shapes of a chunk of candidate inputs; returns U, L, C. */
const candidateShape = (inputs: CandidateInputs): { users: number; length: number; C: number } => {
  const [users, length] = inputs.history.shape as [number, number]
  const C = inputs.candidates.shape[1]!
  if (
    inputs.history.shape.length !== 2 ||
    inputs.candidates.shape.length !== 2 ||
    inputs.candidates.shape[0] !== users ||
    inputs.historyMask.shape[0] !== users ||
    inputs.historyMask.shape[1] !== length
  )
    throw new InvalidBatch({
      field: "candidates",
      expected: `history [U, L], historyMask [U, L], candidates [U, C] with U = ${users}`,
      found: `[${inputs.history.shape.join(", ")}], [${inputs.historyMask.shape.join(", ")}], [${inputs.candidates.shape.join(", ")}]`,
    })
  return { users, length, C }
}

/**
 * The attention logits of a chunk of candidate inputs: [L, U·C], with the history h [L, U, d]
 * and the candidates t [U·C, d] they came from. Computed per (position, user, candidate), the
 * history part h_j·(Wh + Wd) once per (position, user), or looked up in a pair table.
 */
type ChunkAttention = (inputs: CandidateInputs, h: Tensor, t: Tensor, rowMask: Tensor) => Tensor

/** ψ*(φ) of a chunk given its attention logits [L, U·C] (see {@link ChunkAttention}). */
const scoreChunk = (
  b: TensorBackend,
  model: DinModel,
  inputs: CandidateInputs,
  attention: ChunkAttention,
  mode: Dense.Mode,
): Tensor => {
  const { users, length, C } = candidateShape(inputs)
  const d = model.config.embeddingSize
  const rows = users * C
  const table = model.itemEmbedding.value
  const h = b.gather(table, b.transpose(inputs.history)) // [L, U, d]
  const t = b.gather(table, b.reshape(inputs.candidates, [rows])) // [U·C, d]
  // the history mask per (position, user, candidate), [L, U·C]
  const rowMask =
    inputs.host === undefined
      ? b.reshape(
          b.broadcastTo(b.reshape(b.transpose(inputs.historyMask), [length, users, 1]), [
            length,
            users,
            C,
          ]),
          [length, rows],
        )
      : b.tensor(rowMaskOnHost(inputs.host.historyLength, length, C), [length, rows])
  const logits = attention(inputs, h, t, rowMask)
  const w = attentionWeights(b, model.config.attentionNormalization, logits, rowMask)
  const hByCandidate = b.reshape(h, [length, users, 1, d])
  const m = b.reshape(b.sum(b.mul(hByCandidate, b.reshape(w, [length, users, C, 1])), 0), [rows, d])
  const parts = [m, t]
  if (model.userEmbedding !== undefined)
    parts.push(
      b.reshape(
        b.broadcastTo(b.reshape(b.gather(model.userEmbedding.value, inputs.user), [users, 1, d]), [
          users,
          C,
          d,
        ]),
        [rows, d],
      ),
    )
  return b.reshape(Dense.forward(b, model.predictor, b.concat(parts, 1), mode), [users, C])
}

/**
 * Attention per (position, user, candidate), the history-only part of the first layer,
 * h_j·(Wh + Wd), once per (position, user): [L, U, 80] instead of [L, U·C, 80]. The order of the
 * operations per pair is the fast form's, so the logits equal it up to the products' rounding.
 */
const sharedHistoryAttention =
  (b: TensorBackend, model: DinModel, mode: Dense.Mode): ChunkAttention =>
  (inputs, h, t, rowMask) => {
    const { users, length, C } = candidateShape(inputs)
    const d = model.config.embeddingSize
    const rows = users * C
    const mlp = model.attention.mlp
    const width = mlp.sizes[1]!
    const first = firstLayerTerms(b, model)
    const perRow = first.perRow(t) // [U·C, H]
    const perUser = b.reshape(b.matmul(b.reshape(h, [length * users, d]), first.history), [
      length,
      users,
      1,
      width,
    ])
    const products = b.reshape(
      b.mul(b.reshape(h, [length, users, 1, d]), b.reshape(t, [1, users, C, d])),
      [length * rows, d],
    )
    const perItem = b.add(
      perUser,
      b.reshape(b.matmul(products, first.product), [length, users, C, width]),
    )
    const pre = b.reshape(b.add(b.reshape(perItem, [length, rows, width]), perRow), [
      length * rows,
      width,
    ])
    return b.reshape(
      Dense.continueFrom(b, model.attention, pre, mode, b.reshape(rowMask, [length * rows])),
      [length, rows],
    )
  }

/**
 * The activation unit's output a(h, t) for every pair of the given history items and
 * candidates, [|hs|·|ts|] (history item major), computed in blocks of about `pairsPerBlock`
 * pairs. The operations per pair are the fast form's.
 */
const pairTable = (
  b: TensorBackend,
  model: DinModel,
  hs: Int32Array,
  ts: Int32Array,
  mode: Dense.Mode,
  pairsPerBlock: number,
): Tensor => {
  const d = model.config.embeddingSize
  const table = model.itemEmbedding.value
  const mlp = model.attention.mlp
  const width = mlp.sizes[1]!
  const T = ts.length
  const first = firstLayerTerms(b, model)
  const hAll = b.gather(table, b.tensor(hs, [hs.length], "int32"))
  const t = b.gather(table, b.tensor(ts, [T], "int32"))
  const perT = first.perRow(t) // [T, H]
  const { history: historyWeights, product: productWeights } = first
  const perBlock = Math.max(1, Math.floor(pairsPerBlock / T))
  const blocks: Array<Tensor> = []
  for (let first = 0; first < hs.length; first += perBlock) {
    const n = Math.min(perBlock, hs.length - first)
    blocks.push(
      b.tidy(() => {
        const h = b.slice(hAll, [first, 0], [n, d])
        const perH = b.reshape(b.matmul(h, historyWeights), [n, 1, width])
        const products = b.reshape(b.mul(b.reshape(h, [n, 1, d]), b.reshape(t, [1, T, d])), [
          n * T,
          d,
        ])
        const perItem = b.add(perH, b.reshape(b.matmul(products, productWeights), [n, T, width]))
        const pre = b.reshape(b.add(perItem, perT), [n * T, width])
        return b.reshape(Dense.continueFrom(b, model.attention, pre, mode), [n * T])
      }),
    )
  }
  return blocks.length === 1 ? blocks[0]! : b.concat(blocks, 0)
}

/** The history mask of U users repeated per candidate, time-major [L, U·C], built on the host. */
const rowMaskOnHost = (historyLength: Int32Array, length: number, C: number): Float32Array => {
  const users = historyLength.length
  const out = new Float32Array(length * users * C)
  for (let u = 0; u < users; u++) {
    const n = Math.min(length, historyLength[u]!)
    for (let j = 0; j < n; j++) out.fill(1, (j * users + u) * C, (j * users + u + 1) * C)
  }
  return out
}

/**
 * Attention looked up in a (history item, candidate) table on the host: a(h_j, t) depends on
 * the two items only, and an evaluation batch repeats pairs (MovieLens 100K's test split: 3.97 M
 * real pairs, 0.88 M distinct, over 1,010 items). `hPos`/`tPos` map an item id to its row/column
 * in the table. Padded positions get 0 (they are masked afterwards).
 */
const tableAttention =
  (
    b: TensorBackend,
    table: Float32Array,
    hPos: Int32Array,
    tPos: Int32Array,
    T: number,
  ): ChunkAttention =>
  (inputs) => {
    const { users, length, C } = candidateShape(inputs)
    const host = inputs.host ?? {
      history: b.read(inputs.history) as Int32Array,
      historyLength: lengthsOf(b.read(inputs.historyMask) as Float32Array, users, length),
      candidates: b.read(inputs.candidates) as Int32Array,
    }
    const rows = users * C
    const out = new Float32Array(length * rows)
    for (let u = 0; u < users; u++) {
      const n = Math.min(length, host.historyLength[u]!)
      for (let j = 0; j < n; j++) {
        const base = hPos[host.history[u * length + j]!]! * T
        const at = j * rows + u * C
        for (let c = 0; c < C; c++) out[at + c] = table[base + tPos[host.candidates[u * C + c]!]!]!
      }
    }
    return b.tensor(out, [length, rows])
  }

/** Row sums of a 0/1 mask [U, L]. */
const lengthsOf = (mask: Float32Array, users: number, length: number): Int32Array => {
  const out = new Int32Array(users)
  for (let u = 0; u < users; u++) {
    let n = 0
    for (let j = 0; j < length; j++) n += mask[u * length + j]! > 0 ? 1 : 0
    out[u] = n
  }
  return out
}

/**
 * DIN's {@link Recommender.candidateScorer}: the history lookup and h_j·(Wh + Wd) once per user
 * and, when the batch's distinct (history item, candidate) pairs are fewer than its real
 * (position, user, candidate) triples, the whole activation unit once per item pair (a table
 * looked up per triple). Both give the per-row logits up to the products' rounding.
 */
const candidateScorer = (
  b: TensorBackend,
  model: DinModel,
  batch: CandidateBatch,
  options: ScorerOptions,
  mode: Dense.Mode,
): CandidateScorer => {
  const shared = sharedHistoryAttention(b, model, mode)
  const plain: CandidateScorer = {
    score: (inputs) => scoreChunk(b, model, inputs, shared, mode),
    dispose: () => {},
  }
  if (options.pairTable === false) return plain
  const { size, candidatesPerUser: C } = batch
  const L = batch.history.length / size
  const numItems = model.itemEmbedding.value.shape[0]! - 1
  const hPos = new Int32Array(numItems + 1).fill(-1)
  const tPos = new Int32Array(numItems + 1).fill(-1)
  const hs: Array<number> = []
  const ts: Array<number> = []
  let triples = 0
  for (let u = 0; u < size; u++) {
    const n = Math.min(L, batch.historyLength[u]!)
    triples += n * C
    for (let j = 0; j < n; j++) {
      const item = batch.history[u * L + j]!
      if (item >= 0 && item <= numItems && hPos[item] === -1) {
        hPos[item] = hs.length
        hs.push(item)
      }
    }
    for (let c = 0; c < C; c++) {
      const item = batch.candidates[u * C + c]!
      if (item >= 0 && item <= numItems && tPos[item] === -1) {
        tPos[item] = ts.length
        ts.push(item)
      }
    }
  }
  // the table pays when it has fewer pairs than the triples it replaces
  if (hs.length === 0 || hs.length * ts.length >= triples) return plain
  const table = b.tidy(
    () =>
      b.read(
        pairTable(b, model, Int32Array.from(hs), Int32Array.from(ts), mode, pairsPerTableBlock),
      ) as Float32Array,
  )
  const lookup = tableAttention(b, table, hPos, tPos, ts.length)
  return {
    score: (inputs) => scoreChunk(b, model, inputs, lookup, mode),
    dispose: () => {},
  }
}

/** Pairs per block of the pair table (bounds its [pairs, 80] intermediates). */
const pairsPerTableBlock = 65_536

/** {@link FrozenEncoderOptions.maxTableCells}'s default: 2^24 floats, 64 MB per model. */
export const defaultMaxTableCells = 2 ** 24

/**
 * φ of a frozen DIN (a teacher while a student is distilled from it). The activation unit's
 * output a(h, t) depends on the two items only, so with the parameters fixed it is computed once
 * for every (history item, candidate) pair of the vocabulary, an (N+1)² table, and a row's
 * mediator m = Σ_j w_j h_j (eq. 9) is then L lookups and an L·d sum on the host instead of the
 * activation unit on L positions. Both are the inference forward pass, equal up to rounding.
 * Worth it when the vocabulary is small beside the rows encoded: MovieLens 100K's 1,010 items
 * make a 1.0 M-pair table, as many pairs as ~10 training steps of 2,048 new rows encode
 * (`bench/NOTES.md`). Undefined above `maxTableCells`.
 */
const frozenEncoder = (
  b: TensorBackend,
  model: DinModel,
  options: FrozenEncoderOptions,
): FrozenEncoder | undefined => {
  const n = model.itemEmbedding.value.shape[0]!
  if (n * n > (options.maxTableCells ?? defaultMaxTableCells)) return undefined
  const d = model.config.embeddingSize
  const softmax = model.config.attentionNormalization === "softmax"
  // built on first use, so an encoder that is never asked costs nothing
  let table: Float32Array | undefined
  let embedding: Float32Array | undefined
  const mediators = (batch: HostRows, rows: Int32Array): Float32Array => {
    if (table === undefined || embedding === undefined) {
      const ids = new Int32Array(n)
      for (let i = 0; i < n; i++) ids[i] = i
      table = b.tidy(
        () => b.read(pairTable(b, model, ids, ids, "infer", pairsPerTableBlock)) as Float32Array,
      )
      embedding = b.read(model.itemEmbedding.value) as Float32Array
    }
    const a = table
    const e = embedding
    const { history, width, historyLength, item } = batch
    const out = new Float32Array(rows.length * d)
    const sum = new Float64Array(d)
    const weights = new Float64Array(width)
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!
      const t = item[r]!
      const length = Math.min(width, historyLength[r]!)
      const at = r * width
      for (let j = 0; j < length; j++) weights[j] = a[history[at + j]! * n + t]!
      if (softmax && length > 0) {
        let max = Number.NEGATIVE_INFINITY
        for (let j = 0; j < length; j++) max = Math.max(max, weights[j]!)
        let total = 0
        for (let j = 0; j < length; j++) {
          weights[j] = Math.exp(weights[j]! - max)
          total += weights[j]!
        }
        for (let j = 0; j < length; j++) weights[j] = weights[j]! / total
      }
      sum.fill(0)
      for (let j = 0; j < length; j++) {
        const w = weights[j]!
        const h = history[at + j]! * d
        for (let c = 0; c < d; c++) sum[c] = sum[c]! + w * e[h + c]!
      }
      for (let c = 0; c < d; c++) out[i * d + c] = sum[c]!
    }
    return out
  }
  return { mediators }
}

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
