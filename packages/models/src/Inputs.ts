/**
 * From the data package's typed-array batches to {@link RecommenderInputs} tensors, and scoring
 * of the stored evaluation candidates.
 *
 * The batch types here are structural (the fields the models read), so `@causald/data`'s
 * `TrainingBatch` and `EvaluationBatch` are accepted as they are, without a dependency on it.
 *
 * @module
 */
import type { Tensor, TensorBackend } from "@causald/core"
import { InvalidBatch } from "./Errors.ts"
import * as LengthChunks from "./LengthChunks.ts"
import {
  type CandidateScorer,
  forInference,
  logits,
  type Recommender,
  type CandidateBatch as RecommenderCandidateBatch,
  type RecommenderInputs,
  type Vocabulary,
} from "./Recommender.ts"

/** The history length the paper uses (section 5.1: the last 50 items). The models take any L. */
export const paperHistoryLength = 50

/** Rows (user, history, candidate item): the fields of a `TrainingBatch` the models read. */
export interface RowBatch {
  /** Int32Array(B) */
  readonly user: Int32Array
  /** Int32Array(B·L): row r is `history[r·L .. r·L + L)`, left-aligned, 0-padded. */
  readonly history: Int32Array
  /** Int32Array(B): real items at the start of each row's history (0..L). */
  readonly historyLength: Int32Array
  /** Int32Array(B) */
  readonly item: Int32Array
}

/** Users with 1 + N candidates each: the fields of an `EvaluationBatch` the models read. */
export type CandidateBatch = RecommenderCandidateBatch

const invalid = (field: string, expected: string, found: string | number): InvalidBatch =>
  new InvalidBatch({ field, expected, found: String(found) })

/** Checks the shapes (and ids, given a vocabulary) of a row batch; returns L. */
const checkRows = (batch: RowBatch, vocabulary: Vocabulary | undefined): number => {
  const rows = batch.user.length
  if (rows === 0) throw invalid("user", "at least one row", 0)
  if (batch.item.length !== rows)
    throw invalid("item", `${rows} ids (one per row)`, batch.item.length)
  if (batch.historyLength.length !== rows)
    throw invalid("historyLength", `${rows} lengths (one per row)`, batch.historyLength.length)
  const L = batch.history.length / rows
  if (!Number.isInteger(L) || L < 1)
    throw invalid("history", `a positive multiple of ${rows} ids (rows x L)`, batch.history.length)
  for (let r = 0; r < rows; r++) {
    const n = batch.historyLength[r]!
    if (n < 0 || n > L) throw invalid(`historyLength[${r}]`, `a length in 0..${L}`, n)
  }
  if (vocabulary !== undefined) {
    const { numUsers, numItems } = vocabulary
    for (let r = 0; r < rows; r++) {
      const u = batch.user[r]!
      if (u < 0 || u >= numUsers) throw invalid(`user[${r}]`, `a user id in 0..${numUsers - 1}`, u)
      const i = batch.item[r]!
      if (i < 1 || i > numItems) throw invalid(`item[${r}]`, `an item id in 1..${numItems}`, i)
      const n = batch.historyLength[r]!
      for (let j = 0; j < L; j++) {
        const h = batch.history[r * L + j]!
        if (j < n ? h < 1 || h > numItems : h < 0 || h > numItems)
          throw invalid(
            `history[${r * L + j}]`,
            j < n ? `an item id in 1..${numItems}` : `0 (padding) or an item id`,
            h,
          )
      }
    }
  }
  return L
}

/** Writes into `mask` 1 on the first historyLength[r] positions of each row, 0 after. */
const fillHistoryMask = (mask: Float32Array, historyLength: Int32Array, width: number) => {
  mask.fill(0)
  for (let r = 0; r < historyLength.length; r++)
    mask.fill(1, r * width, r * width + historyLength[r]!)
  return mask
}

/** 1 on the first historyLength[r] positions of each row (histories are left-aligned), 0 after. */
export const historyMask = (historyLength: Int32Array, width: number): Float32Array =>
  fillHistoryMask(new Float32Array(historyLength.length * width), historyLength, width)

/**
 * Host scratch for {@link historyMaskOnHost}, reused from call to call: the backend copies the
 * values it is given, and a fresh array per batch is garbage that JavaScriptCore frees late
 * (bench/NOTES.md, "CausalD memory").
 */
let maskScratch = new Float32Array(0)

/** The history mask [B, L] built on the host (as {@link historyMask}) and uploaded. */
export const historyMaskOnHost = (
  b: TensorBackend,
  historyLength: Int32Array,
  L: number,
): Tensor => {
  const size = historyLength.length * L
  if (maskScratch.length < size) maskScratch = new Float32Array(size)
  return b.tensor(fillHistoryMask(maskScratch.subarray(0, size), historyLength, L), [
    historyLength.length,
    L,
  ])
}

/** The same mask built on the device from the lengths (compare with {@link historyMaskOnHost}). */
export const historyMaskOnDevice = (
  b: TensorBackend,
  historyLength: Int32Array,
  L: number,
): Tensor => {
  const positions = new Int32Array(L)
  for (let j = 0; j < L; j++) positions[j] = j
  return b.cast(
    b.less(b.tensor(positions, [1, L]), b.tensor(historyLength.slice(), [historyLength.length, 1])),
    "float32",
  )
}

/**
 * The tensors of a row batch. The backend copies host values (`TensorBackend.tensor`, checked by
 * the conformance suite), so the batch may be refilled (the data package's `reuseBuffers`) while
 * the tensors live; a second copy here was only garbage (bench/NOTES.md, "CausalD memory"). The
 * mask is built on the host (measured faster than on the device on cpu and wasm:
 * `bench/NOTES.md`). With `vocabulary`, every id is
 * checked; any inconsistency throws {@link InvalidBatch} naming the field.
 */
export const toInputs = (
  b: TensorBackend,
  batch: RowBatch,
  vocabulary?: Vocabulary,
): RecommenderInputs => {
  const L = checkRows(batch, vocabulary)
  const rows = batch.user.length
  return {
    user: b.tensor(batch.user, [rows], "int32"),
    history: b.tensor(batch.history, [rows, L], "int32"),
    historyMask: historyMaskOnHost(b, batch.historyLength, L),
    item: b.tensor(batch.item, [rows], "int32"),
    historyLength: batch.historyLength.slice(),
  }
}

/** Host rows of {@link scoreCandidates}' chunks, reused from call to call (see `maskScratch`). */
let rowScratch = {
  user: new Int32Array(0),
  history: new Int32Array(0),
  historyLength: new Int32Array(0),
  item: new Int32Array(0),
}

/** Options of {@link scoreCandidates}. */
export interface ScoreOptions {
  /** Rows (user x candidate) per forward pass: bounds memory. Default 4096. */
  readonly rowsPerChunk?: number
  /** Checks every id against the vocabulary. */
  readonly vocabulary?: Vocabulary
  /**
   * Uses the model's {@link Recommender.candidateScorer} (DIN: each history once per user) when
   * it has one. Default true; false repeats the histories (for comparisons).
   */
  readonly shareHistory?: boolean
  /** Lets the model's scorer precompute (history item, candidate) terms. Default true. */
  readonly pairTable?: boolean
  /**
   * Sorts the users by history length and runs each chunk at its longest history. Default true;
   * false keeps the users' order and the full width L (for comparisons).
   */
  readonly trimHistory?: boolean
}

/** Checks every id of a candidate batch against the vocabulary (history width L). */
const checkCandidates = (batch: CandidateBatch, L: number, vocabulary: Vocabulary): void => {
  const { numUsers, numItems } = vocabulary
  const C = batch.candidatesPerUser
  for (let u = 0; u < batch.size; u++) {
    const id = batch.user[u]!
    if (id < 0 || id >= numUsers) throw invalid(`user[${u}]`, `a user id in 0..${numUsers - 1}`, id)
    const n = batch.historyLength[u]!
    if (n < 0 || n > L) throw invalid(`historyLength[${u}]`, `a length in 0..${L}`, n)
    for (let j = 0; j < L; j++) {
      const h = batch.history[u * L + j]!
      if (j < n ? h < 1 || h > numItems : h < 0 || h > numItems)
        throw invalid(
          `history[${u * L + j}]`,
          j < n ? `an item id in 1..${numItems}` : `0 (padding) or an item id`,
          h,
        )
    }
    for (let c = 0; c < C; c++) {
      const i = batch.candidates[u * C + c]!
      if (i < 1 || i > numItems)
        throw invalid(`candidates[${u * C + c}]`, `an item id in 1..${numItems}`, i)
    }
  }
}

/**
 * Scores every candidate of every user: the logits ψ*(φ(x), y), row-major [size x (1 + N)]
 * (column 0 is the target). Users are sorted by history length and scored in chunks of about
 * `rowsPerChunk` rows, each at the longest history of its users (padding changes no output, so
 * the trimmed positions only cost time), each chunk in its own tensor scope, so memory stays
 * bounded and no tensor outlives the call. A model with a {@link Recommender.candidateScorer}
 * (DIN) gets each history once per user; any other sees it repeated across the user's
 * candidates. The model runs as at inference ({@link forInference}), so a score does not depend
 * on how rows are chunked or ordered.
 */
export const scoreCandidates = (
  b: TensorBackend,
  model: Recommender,
  batch: CandidateBatch,
  options: ScoreOptions = {},
): Float32Array => {
  const { size, candidatesPerUser: C } = batch
  if (!Number.isInteger(size) || size < 1) throw invalid("size", "an integer >= 1", size)
  if (!Number.isInteger(C) || C < 1) throw invalid("candidatesPerUser", "an integer >= 1", C)
  if (batch.user.length !== size) throw invalid("user", `${size} ids`, batch.user.length)
  if (batch.historyLength.length !== size)
    throw invalid("historyLength", `${size} lengths`, batch.historyLength.length)
  if (batch.candidates.length !== size * C)
    throw invalid("candidates", `${size} x ${C} = ${size * C} ids`, batch.candidates.length)
  const L = batch.history.length / size
  if (!Number.isInteger(L) || L < 1)
    throw invalid("history", `a positive multiple of ${size} ids`, batch.history.length)
  const rowsPerChunk = options.rowsPerChunk ?? 4096
  if (!Number.isInteger(rowsPerChunk) || rowsPerChunk < 1)
    throw invalid("rowsPerChunk", "an integer >= 1", rowsPerChunk)
  for (let u = 0; u < size; u++) {
    const n = batch.historyLength[u]!
    if (!(n >= 0 && n <= L)) throw invalid(`historyLength[${u}]`, `a length in 0..${L}`, n)
  }
  if (options.vocabulary !== undefined) checkCandidates(batch, L, options.vocabulary)

  const inference = forInference(model)
  const scorer: CandidateScorer | undefined =
    options.shareHistory === false || inference.candidateScorer === undefined
      ? undefined
      : inference.candidateScorer(batch, { pairTable: options.pairTable !== false })
  try {
    return scoreChunks(b, inference, scorer, batch, L, rowsPerChunk, options.trimHistory !== false)
  } finally {
    scorer?.dispose()
  }
}

/** The chunk loop of {@link scoreCandidates}, after its checks. */
const scoreChunks = (
  b: TensorBackend,
  inference: Recommender,
  scorer: CandidateScorer | undefined,
  batch: CandidateBatch,
  L: number,
  rowsPerChunk: number,
  trim: boolean,
): Float32Array => {
  const { size, candidatesPerUser: C } = batch
  const shared = scorer?.score
  const usersPerChunk = Math.max(1, Math.floor(rowsPerChunk / C))
  const capacity = Math.min(usersPerChunk, size) * (shared === undefined ? C : 1)
  // Reused from call to call, as the mask's scratch (the backend copies what it is given).
  if (rowScratch.user.length < capacity || rowScratch.history.length < capacity * L)
    rowScratch = {
      user: new Int32Array(capacity),
      history: new Int32Array(capacity * L),
      historyLength: new Int32Array(capacity),
      item: new Int32Array(Math.min(usersPerChunk, size) * C),
    }
  if (rowScratch.item.length < Math.min(usersPerChunk, size) * C)
    rowScratch = { ...rowScratch, item: new Int32Array(Math.min(usersPerChunk, size) * C) }
  const { user, history, historyLength, item } = rowScratch
  // users by history length, so that a chunk's width is close to each of its users' lengths
  let order: Int32Array
  if (trim) order = LengthChunks.byLength(batch.historyLength)
  else {
    order = new Int32Array(size)
    for (let u = 0; u < size; u++) order[u] = u
  }
  const out = new Float32Array(size * C)
  for (let first = 0; first < size; first += usersPerChunk) {
    const n = Math.min(usersPerChunk, size - first)
    const width = trim ? Math.max(1, batch.historyLength[order[first + n - 1]!]!) : L
    for (let i = 0; i < n; i++) {
      const u = order[first + i]!
      item.set(batch.candidates.subarray(u * C, u * C + C), i * C)
    }
    let scores: Float32Array
    if (shared !== undefined) {
      for (let i = 0; i < n; i++) {
        const u = order[first + i]!
        user[i] = batch.user[u]!
        historyLength[i] = batch.historyLength[u]!
        history.set(batch.history.subarray(u * L, u * L + width), i * width)
      }
      scores = b.tidy(
        () =>
          b.read(
            shared({
              user: b.tensor(user.subarray(0, n), [n], "int32"),
              history: b.tensor(history.subarray(0, n * width), [n, width], "int32"),
              historyMask: historyMaskOnHost(b, historyLength.subarray(0, n), width),
              candidates: b.tensor(item.subarray(0, n * C), [n, C], "int32"),
              host: {
                history: history.subarray(0, n * width),
                historyLength: historyLength.subarray(0, n),
                candidates: item.subarray(0, n * C),
              },
            }),
          ) as Float32Array,
      )
    } else {
      const rows = n * C
      for (let i = 0; i < n; i++) {
        const u = order[first + i]!
        const source = batch.history.subarray(u * L, u * L + width)
        for (let c = 0; c < C; c++) {
          const r = i * C + c
          user[r] = batch.user[u]!
          historyLength[r] = batch.historyLength[u]!
          history.set(source, r * width)
        }
      }
      const chunk: RowBatch = {
        user: user.subarray(0, rows),
        history: history.subarray(0, rows * width),
        historyLength: historyLength.subarray(0, rows),
        item: item.subarray(0, rows),
      }
      scores = b.tidy(() => b.read(logits(inference, toInputs(b, chunk))) as Float32Array)
    }
    for (let i = 0; i < n; i++) {
      const u = order[first + i]!
      out.set(scores.subarray(i * C, i * C + C), u * C)
    }
  }
  return out
}
