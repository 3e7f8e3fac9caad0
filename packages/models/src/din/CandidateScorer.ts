/**
 * DIN's candidate scorer: ψ*(φ) of U users' C candidates each, the history part of the
 * activation unit once per user, or the whole unit looked up in an item-pair table
 * (`PairTables.ts`).
 *
 * @module
 */
import type { Tensor, TensorBackend } from "@causald/core"
import * as Dense from "../Dense.ts"
import { InvalidBatch } from "../Errors.ts"
import type {
  CandidateBatch,
  CandidateInputs,
  CandidateScorer,
  ScorerOptions,
} from "../Recommender.ts"
import { attentionWeights, firstLayerTerms } from "./Attention.ts"
import type { DinModel } from "./Config.ts"
import { pairsPerTableBlock, pairTable } from "./PairTables.ts"

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
export const scoreChunk = (
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
export const sharedHistoryAttention =
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
    // per pair, plus the per-row term [U·C, H] of row n mod U·C: left in parts
    const pre = { x: b.reshape(perItem, [length * rows, width]), bias: perRow }
    return b.reshape(
      Dense.continueFrom(b, model.attention, pre, mode, b.reshape(rowMask, [length * rows])),
      [length, rows],
    )
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
export const candidateScorer = (
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
