/**
 * Item-pair tables: the activation unit's output a(h, t) depends on the two items only, so it
 * can be computed once per distinct (history item, candidate) pair and looked up, by the
 * candidate scorer (per batch) and by a frozen DIN's encoder (over the whole vocabulary).
 *
 * @module
 */
import type { Tensor, TensorBackend } from "@causald/core"
import * as Dense from "../Dense.ts"
import type { FrozenEncoder, FrozenEncoderOptions, HostRows } from "../Recommender.ts"
import { firstLayerTerms } from "./Attention.ts"
import type { DinModel } from "./Config.ts"

/**
 * The activation unit's output a(h, t) for every pair of the given history items and
 * candidates, [|hs|·|ts|] (history item major), computed in blocks of about `pairsPerBlock`
 * pairs. The operations per pair are the fast form's.
 */
export const pairTable = (
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
        // + the candidate's term, row i·T + j taking perT[j]: left in parts, so that the sigmoid
        // is the same kernel as the scorer's without a table (the two give the same scores)
        const pre = { x: b.reshape(perItem, [n * T, width]), bias: perT }
        return b.reshape(Dense.continueFrom(b, model.attention, pre, mode), [n * T])
      }),
    )
  }
  return blocks.length === 1 ? blocks[0]! : b.concat(blocks, 0)
}

/** Pairs per block of the pair table (bounds its [pairs, 80] intermediates). */
export const pairsPerTableBlock = 65_536

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
export const frozenEncoder = (
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
