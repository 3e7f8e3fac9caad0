/**
 * From `@causald/data`'s typed-array batches to model inputs, and scoring of evaluation
 * candidates.
 *
 * @module
 */
import type { Tensor, TensorBackend } from "@causald/core"
import { logits, type Recommender, type RecommenderInputs } from "./Recommender.ts"

/** The fields of a training or evaluation batch that a model reads. */
export interface BatchArrays {
  readonly size: number
  readonly user: Int32Array
  readonly history: Int32Array
  readonly historyLength: Int32Array
}

/** 1 on the first historyLength[r] positions of each row (histories are left-aligned), 0 after. */
export const historyMask = (historyLength: Int32Array, width: number): Float32Array => {
  const mask = new Float32Array(historyLength.length * width)
  for (let r = 0; r < historyLength.length; r++)
    mask.fill(1, r * width, r * width + historyLength[r]!)
  return mask
}

/** Tensors of a batch's rows: `item` defaults to the batch's own `item` field. */
export const toInputs = (
  backend: TensorBackend,
  batch: BatchArrays & { readonly item: Int32Array },
): RecommenderInputs => {
  const width = batch.history.length / batch.size
  return {
    user: backend.tensor(batch.user, [batch.size], "int32"),
    history: backend.tensor(batch.history, [batch.size, width], "int32"),
    historyMask: backend.tensor(historyMask(batch.historyLength, width), [batch.size, width]),
    item: backend.tensor(batch.item, [batch.size], "int32"),
  }
}

/** Users scored per model call: rows = users x (1+N). */
const USERS_PER_CALL = 64

/**
 * Scores [size x (1+N)] of an evaluation batch (each user's history against each of its
 * candidates, target in column 0), in chunks of users so memory stays bounded.
 */
export const scoreCandidates = (
  backend: TensorBackend,
  model: Recommender,
  batch: BatchArrays & { readonly candidates: Int32Array; readonly candidatesPerUser: number },
): Float32Array => {
  const C = batch.candidatesPerUser
  const L = batch.history.length / batch.size
  const out = new Float32Array(batch.size * C)
  for (let start = 0; start < batch.size; start += USERS_PER_CALL) {
    const users = Math.min(USERS_PER_CALL, batch.size - start)
    const rows = users * C
    const user = new Int32Array(rows)
    const history = new Int32Array(rows * L)
    const historyLength = new Int32Array(rows)
    for (let u = 0; u < users; u++) {
      const source = batch.history.subarray((start + u) * L, (start + u + 1) * L)
      for (let c = 0; c < C; c++) {
        const r = u * C + c
        user[r] = batch.user[start + u]!
        history.set(source, r * L)
        historyLength[r] = batch.historyLength[start + u]!
      }
    }
    const item = batch.candidates.subarray(start * C, (start + users) * C)
    const scores = backend.tidy(() => {
      const inputs = toInputs(backend, { size: rows, user, history, historyLength, item })
      return backend.read(logits(model, inputs) as Tensor)
    })
    out.set(scores, start * C)
  }
  return out
}
