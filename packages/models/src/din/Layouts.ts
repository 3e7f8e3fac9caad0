/**
 * φ, the mediator m = Σ_j w_j h_j [B, d], in each {@link HistoryLayout}: padded, on history-length
 * chunks (`LengthChunks.ts`), or packed to the valid (row, position) pairs.
 *
 * @module
 */
import { Fused, type Tensor, type TensorBackend } from "@causald/core"
import * as Dense from "../Dense.ts"
import { InvalidBatch } from "../Errors.ts"
import * as LengthChunks from "../LengthChunks.ts"
import type { RecommenderInputs } from "../Recommender.ts"
import {
  type AttentionForm,
  attentionLogits,
  attentionWeights,
  firstLayerTerms,
} from "./Attention.ts"
import type { DinModel } from "./Config.ts"

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
  // m[r] = Σ_j w[j, r]·h[j, r]: rows n = j·B + r of the flattened [L·B, d], row n mod B
  const [length, rows, d] = h.shape as [number, number, number]
  return Fused.rowWeightedSum(
    b,
    b.reshape(h, [length * rows, d]),
    b.reshape(w, [length * rows]),
    rows,
    undefined,
    () => b.sum(b.mul(h, b.expandDims(w, 2)), 0),
  )
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
  // h·(W_h + W_d) + (h ⊙ t)·W_p + the per-row term of each pair's row, left in parts
  const pre = {
    x: b.matmul(h, first.history),
    addend: b.matmul(products, first.product),
    bias: perRow,
    rows: rowIds,
  }
  const logits = Dense.continueFrom(b, model.attention, pre, mode) // [N, 1]: every pair is real
  // m[r] = Σ over the pairs p of row r of w_p·h_p; composed: the products with a zero row for
  // padding, looked up as [L, B, d] and summed over L
  return Fused.rowWeightedSum(b, h, b.reshape(logits, [valid]), rows, rowIds, () => {
    const weighted = b.concat([b.mul(h, logits), b.zeros([1, d])], 0) // [N + 1, d]
    return b.sum(b.gather(weighted, b.tensor(unpack, [length, rows], "int32")), 0)
  })
}

/** φ: m = Σ_j w_j h_j [B, d], in the given {@link HistoryLayout}. */
export const encodeWith = (
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
