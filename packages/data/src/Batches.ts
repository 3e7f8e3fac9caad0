/**
 * Batch builders over a {@link PreparedDataset}: plain generator functions filling typed
 * arrays, for the training loop and for scoring the stored evaluation candidates.
 *
 * History layout (training and evaluation): row r owns `history[r*L .. r*L+L)`. It holds the
 * `historyLength[r] = min(L, t)` most recent items before the target, **left-aligned in
 * chronological order** (oldest of the kept items first, the item right before the target at
 * position `historyLength[r]-1`), followed by `0` padding. A mask is `position < historyLength`.
 *
 * Buffer ownership: by default every yielded batch has freshly allocated arrays, which the
 * consumer owns and may keep (tfjs `tf.tensor(typedArray)` may keep a reference to the array
 * without copying, so this is the safe default). With `reuseBuffers: true` all batches of one
 * generator share the same buffers (the last, smaller batch gets `subarray` views): a batch is
 * then valid only until the generator is advanced, so copy what you keep.
 *
 * @module
 */

import { Random } from "@causald/core"
import { InvalidOption } from "./Errors.ts"
import type { PreparedDataset } from "./Prepared.ts"

/** Options of {@link trainingBatches}. */
export interface TrainingBatchOptions {
  /**
   * Rows per batch (positives and negatives together). A batch holds
   * `floor(batchSize / (1 + negatives))` positives, each followed by its negatives, so a batch
   * never splits a positive from its negatives. Must be at least `1 + negatives`.
   */
  readonly batchSize: number
  /** Sampled negatives per positive; default `data.config.negativesPerPositive`. */
  readonly negatives?: number
  /** Seeds the shuffle and the negatives: the same seed gives the same epoch. */
  readonly epochSeed: number
  /** Train on these users only (teachers, group-wise training); default all users. */
  readonly users?: Int32Array | ReadonlyArray<number>
  /** History width L of the rows; default `data.config.historyLength`. */
  readonly historyLength?: number
  /** Shuffle the positives (default true); false keeps user order then chronological order. */
  readonly shuffle?: boolean
  /** Share buffers between batches (see the module documentation); default false. */
  readonly reuseBuffers?: boolean
}

/**
 * One training batch of `size` rows. Rows come in groups of `groupSize = 1 + negatives`: row
 * `g*groupSize` is a positive (label 1), the next `negatives` rows are negatives for the same
 * user and history (label 0). Pointwise losses (BCE) use every row with `label`; pairwise losses
 * (BPR) pair each negative row r with its positive row `positiveRow[r]`.
 */
export interface TrainingBatch {
  /** Number of rows. */
  readonly size: number
  /** Number of positives (= size / groupSize). */
  readonly positives: number
  /** 1 + negatives. */
  readonly groupSize: number
  /** L: the width of a row of `history`. */
  readonly maxHistoryLength: number
  /** Int32Array(size): user of each row. */
  readonly user: Int32Array
  /** Int32Array(size*L): see the module documentation for the layout. */
  readonly history: Int32Array
  /** Int32Array(size): number of real items in each row's history (1..L). */
  readonly historyLength: Int32Array
  /** Int32Array(size): the candidate item of each row (positive target or sampled negative). */
  readonly item: Int32Array
  /** Float32Array(size): 1 for the positive, 0 for its negatives. */
  readonly label: Float32Array
  /** Int32Array(size): the row of the positive of this row's group (itself for a positive). */
  readonly positiveRow: Int32Array
  /**
   * Int32Array(size): the stable index of this row's group's positive (user u, position t) among
   * all training positives of the data set, `0 .. trainingPositiveCount(data) - 1`, users in
   * order then t ascending ({@link trainingPositiveIndex}). It depends on neither the epoch seed,
   * the shuffle nor the `users` option, so a positive row (its history and target) is the same
   * in every epoch under the same index: what lets frozen teachers' outputs for positives be
   * computed once (`CausalDObjective`'s positive cache). Negatives carry their positive's index.
   */
  readonly positiveIndex: Int32Array
}

/** Options of {@link evaluationBatches}. */
export interface EvaluationBatchOptions {
  /** Users per batch (each with 1+N candidates to score). */
  readonly batchSize: number
  /** History width L of the rows; default `data.config.historyLength`. */
  readonly historyLength?: number
  /** Evaluate these users only; default all users in order. */
  readonly users?: Int32Array | ReadonlyArray<number>
  /**
   * The same candidates for every user (full ranking: every item), instead of the split's stored
   * ones; the batches' `candidatesPerUser` is its length.
   */
  readonly candidates?: Int32Array
  /** Share buffers between batches (see the module documentation); default false. */
  readonly reuseBuffers?: boolean
}

/** One evaluation batch of `size` users, each with `candidatesPerUser = 1 + N` candidates. */
export interface EvaluationBatch {
  readonly size: number
  readonly candidatesPerUser: number
  /** L: the width of a row of `history`. */
  readonly maxHistoryLength: number
  /** Int32Array(size) */
  readonly user: Int32Array
  /** Int32Array(size*L): the history before the split's target (module documentation). */
  readonly history: Int32Array
  /** Int32Array(size) */
  readonly historyLength: Int32Array
  /** Int32Array(size*(1+N)): column 0 is the target (label 1), the others label 0. */
  readonly candidates: Int32Array
  /** Float32Array(size*(1+N)), simulated data only: true P(click | do(history), candidate). */
  readonly truth?: Float32Array
}

// ---------------------------------------------------------------------------------------------
// per data set lookup tables, built once

interface Lookup {
  /** owner[p] = user of position p of sequenceItems */
  readonly owner: Int32Array
  /** each user's items sorted ascending (same CSR offsets), for membership tests */
  readonly sorted: Int32Array
  /** positiveBase[u] = training positives of the users before u: the first index of u's positives */
  readonly positiveBase: Int32Array
}

/** Training positives of user u: positions t = 1 .. n-3 (the last two are validation and test). */
const userPositives = (off: Int32Array, u: number): number => Math.max(0, off[u + 1]! - off[u]! - 3)

const lookups = new WeakMap<PreparedDataset, Lookup>()

const lookup = (data: PreparedDataset): Lookup => {
  const cached = lookups.get(data)
  if (cached !== undefined) return cached
  const off = data.sequenceOffsets
  const owner = new Int32Array(data.sequenceItems.length)
  const sorted = data.sequenceItems.slice()
  const positiveBase = new Int32Array(data.numUsers + 1)
  for (let u = 0; u < data.numUsers; u++) {
    owner.fill(u, off[u]!, off[u + 1]!)
    sorted.subarray(off[u]!, off[u + 1]!).sort()
    positiveBase[u + 1] = positiveBase[u]! + userPositives(off, u)
  }
  const built = { owner, sorted, positiveBase }
  lookups.set(data, built)
  return built
}

/** Whether `item` is in the ascending run sorted[s..e). */
const contains = (sorted: Int32Array, s: number, e: number, item: number): boolean => {
  let lo = s
  let hi = e - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    const v = sorted[mid]!
    if (v === item) return true
    if (v < item) lo = mid + 1
    else hi = mid - 1
  }
  return false
}

/**
 * An item in 1..I that the user (consumed items sorted[s..e)) never consumed, uniformly.
 * Rejection sampling while the user has consumed at most half of the items, otherwise the
 * r-th unconsumed item directly.
 */
const sampleUnconsumed = (
  g: Random.RandomGenerator,
  sorted: Int32Array,
  s: number,
  e: number,
  numItems: number,
): number => {
  const consumed = e - s
  if (consumed >= numItems) throw new Error("a user consumed every item: no negative exists")
  if (consumed * 2 <= numItems) {
    for (;;) {
      const item = 1 + Random.int(g, numItems)
      if (!contains(sorted, s, e, item)) return item
    }
  }
  let item = 1 + Random.int(g, numItems - consumed)
  for (let p = s; p < e; p++) {
    if (sorted[p]! <= item) item++
    else break
  }
  return item
}

const userList = (
  data: PreparedDataset,
  users: Int32Array | ReadonlyArray<number> | undefined,
): Int32Array => {
  if (users === undefined) {
    const all = new Int32Array(data.numUsers)
    for (let u = 0; u < all.length; u++) all[u] = u
    return all
  }
  const out = Int32Array.from(users)
  const seen = new Uint8Array(data.numUsers)
  for (const u of out) {
    if (!Number.isInteger(u) || u < 0 || u >= data.numUsers)
      throw new InvalidOption({
        option: "users",
        expected: `user ids in 0..${data.numUsers - 1}`,
        found: String(u),
      })
    if (seen[u] === 1)
      throw new InvalidOption({
        option: "users",
        expected: "distinct user ids",
        found: `${u} twice`,
      })
    seen[u] = 1
  }
  return out
}

const positiveInteger = (option: string, value: number, min: number): void => {
  if (!Number.isInteger(value) || value < min)
    throw new InvalidOption({ option, expected: `an integer >= ${min}`, found: String(value) })
}

/** Number of training positives of the given users: every position t >= 1 of the training part. */
export const trainingPositiveCount = (
  data: PreparedDataset,
  users?: Int32Array | ReadonlyArray<number>,
): number => {
  const list = userList(data, users)
  let count = 0
  for (const u of list) count += userPositives(data.sequenceOffsets, u)
  return count
}

/**
 * The stable index of the training positive of user `user` at position `t` of the sequence
 * (1 <= t <= n - 3): its rank among all users' training positives, users in order then t
 * ascending. This is {@link TrainingBatch.positiveIndex}; throws {@link InvalidOption} when
 * (user, t) is not a training positive.
 */
export const trainingPositiveIndex = (data: PreparedDataset, user: number, t: number): number => {
  if (!Number.isInteger(user) || user < 0 || user >= data.numUsers)
    throw new InvalidOption({
      option: "user",
      expected: `a user id in 0..${data.numUsers - 1}`,
      found: String(user),
    })
  const n = userPositives(data.sequenceOffsets, user)
  if (!Number.isInteger(t) || t < 1 || t > n)
    throw new InvalidOption({
      option: "t",
      expected: `a training position in 1..${n} of user ${user}`,
      found: String(t),
    })
  return lookup(data).positiveBase[user]! + t - 1
}

/** Number of batches {@link trainingBatches} yields with these options (steps per epoch). */
export const trainingBatchCount = (
  data: PreparedDataset,
  options: TrainingBatchOptions,
): number => {
  const negatives = options.negatives ?? data.config.negativesPerPositive
  const perBatch = Math.floor(options.batchSize / (1 + negatives))
  positiveInteger("batchSize", perBatch, 1)
  return Math.ceil(trainingPositiveCount(data, options.users) / perBatch)
}

/** Copies the (at most L) items of seq[start..end) that are most recent into row `row`. */
const fillHistory = (
  seq: Int32Array,
  start: number,
  end: number,
  history: Int32Array,
  historyLength: Int32Array,
  row: number,
  L: number,
  zero: boolean,
): void => {
  const from = Math.max(start, end - L)
  const h = end - from
  const base = row * L
  for (let k = 0; k < h; k++) history[base + k] = seq[from + k]!
  if (zero) history.fill(0, base + h, base + L)
  historyLength[row] = h
}

/**
 * Training batches for one epoch. Positives: every position t >= 1 of the training part of each
 * selected user's sequence, with the items before t as history. Each positive is followed by
 * `negatives` items drawn uniformly (with replacement) among the items the user never consumed
 * in the whole sequence. The positives are shuffled and the negatives drawn from a generator
 * seeded by `epochSeed`: a new seed per epoch redraws both, the same seed repeats the epoch.
 *
 * Throws {@link InvalidOption} for a bad batch size, negative count or user list.
 */
export function* trainingBatches(
  data: PreparedDataset,
  options: TrainingBatchOptions,
): Generator<TrainingBatch, void, undefined> {
  const negatives = options.negatives ?? data.config.negativesPerPositive
  positiveInteger("negatives", negatives, 0)
  const groupSize = 1 + negatives
  const perBatch = Math.floor(options.batchSize / groupSize)
  if (!Number.isInteger(options.batchSize) || perBatch < 1)
    throw new InvalidOption({
      option: "batchSize",
      expected: `an integer >= 1 + negatives = ${groupSize}`,
      found: String(options.batchSize),
    })
  const users = userList(data, options.users)
  const L = options.historyLength ?? data.config.historyLength
  positiveInteger("historyLength", L, 1)
  const I = data.numItems
  const off = data.sequenceOffsets
  const seq = data.sequenceItems
  const { owner, sorted, positiveBase } = lookup(data)

  // positions p into sequenceItems of every training positive
  const total = trainingPositiveCount(data, users)
  const positions = new Int32Array(total)
  let k = 0
  for (const u of users) {
    for (let p = off[u]! + 1; p < off[u + 1]! - 2; p++) positions[k++] = p
  }
  const g = Random.rng(options.epochSeed, "training-epoch")
  if (options.shuffle ?? true) Random.shuffle(g, positions)

  const reuse = options.reuseBuffers ?? false
  const capacity = perBatch * groupSize
  const allocate = (rows: number) => ({
    user: new Int32Array(rows),
    history: new Int32Array(rows * L),
    historyLength: new Int32Array(rows),
    item: new Int32Array(rows),
    label: new Float32Array(rows),
    positiveRow: new Int32Array(rows),
    positiveIndex: new Int32Array(rows),
  })
  const shared = reuse ? allocate(capacity) : undefined

  for (let first = 0; first < total; first += perBatch) {
    const positives = Math.min(perBatch, total - first)
    const rows = positives * groupSize
    const b = shared ?? allocate(rows)
    for (let i = 0; i < positives; i++) {
      const p = positions[first + i]!
      const u = owner[p]!
      const s = off[u]!
      const e = off[u + 1]!
      const r0 = i * groupSize
      // position p is t = p - s of user u: index positiveBase[u] + t - 1
      const index = positiveBase[u]! + p - s - 1
      fillHistory(seq, s, p, b.history, b.historyLength, r0, L, reuse)
      b.user[r0] = u
      b.item[r0] = seq[p]!
      b.label[r0] = 1
      b.positiveRow[r0] = r0
      b.positiveIndex[r0] = index
      for (let j = 1; j < groupSize; j++) {
        const r = r0 + j
        b.history.copyWithin(r * L, r0 * L, r0 * L + L)
        b.historyLength[r] = b.historyLength[r0]!
        b.user[r] = u
        b.item[r] = sampleUnconsumed(g, sorted, s, e, I)
        b.label[r] = 0
        b.positiveRow[r] = r0
        b.positiveIndex[r] = index
      }
    }
    const full = rows === capacity || !reuse
    yield {
      size: rows,
      positives,
      groupSize,
      maxHistoryLength: L,
      user: full ? b.user : b.user.subarray(0, rows),
      history: full ? b.history : b.history.subarray(0, rows * L),
      historyLength: full ? b.historyLength : b.historyLength.subarray(0, rows),
      item: full ? b.item : b.item.subarray(0, rows),
      label: full ? b.label : b.label.subarray(0, rows),
      positiveRow: full ? b.positiveRow : b.positiveRow.subarray(0, rows),
      positiveIndex: full ? b.positiveIndex : b.positiveIndex.subarray(0, rows),
    }
  }
}

/**
 * Evaluation batches over the stored candidates of `split`: per user the history before the
 * split's target (training part for validation; training part and validation target for test)
 * and the 1+N candidates, target first. Deterministic, in the order of `users`.
 */
export function* evaluationBatches(
  data: PreparedDataset,
  split: "validation" | "test",
  options: EvaluationBatchOptions,
): Generator<EvaluationBatch, void, undefined> {
  positiveInteger("batchSize", options.batchSize, 1)
  const users = userList(data, options.users)
  const L = options.historyLength ?? data.config.historyLength
  positiveInteger("historyLength", L, 1)
  const common = options.candidates
  const C = common?.length ?? 1 + data.config.candidates
  const off = data.sequenceOffsets
  const seq = data.sequenceItems
  const stored = data[split].candidates
  const truth =
    data.truth === undefined || common !== undefined
      ? undefined
      : split === "validation"
        ? data.truth.validationTruth
        : data.truth.testTruth
  const drop = split === "validation" ? 2 : 1
  const reuse = options.reuseBuffers ?? false
  const allocate = (n: number) => ({
    user: new Int32Array(n),
    history: new Int32Array(n * L),
    historyLength: new Int32Array(n),
    candidates: new Int32Array(n * C),
    truth: truth === undefined ? undefined : new Float32Array(n * C),
  })
  const shared = reuse ? allocate(options.batchSize) : undefined
  for (let first = 0; first < users.length; first += options.batchSize) {
    const n = Math.min(options.batchSize, users.length - first)
    const b = shared ?? allocate(n)
    for (let i = 0; i < n; i++) {
      const u = users[first + i]!
      b.user[i] = u
      fillHistory(seq, off[u]!, off[u + 1]! - drop, b.history, b.historyLength, i, L, reuse)
      b.candidates.set(common ?? stored.subarray(u * C, u * C + C), i * C)
      if (truth !== undefined && b.truth !== undefined)
        b.truth.set(truth.subarray(u * C, u * C + C), i * C)
    }
    const full = !reuse || n === options.batchSize
    const batch: EvaluationBatch = {
      size: n,
      candidatesPerUser: C,
      maxHistoryLength: L,
      user: full ? b.user : b.user.subarray(0, n),
      history: full ? b.history : b.history.subarray(0, n * L),
      historyLength: full ? b.historyLength : b.historyLength.subarray(0, n),
      candidates: full ? b.candidates : b.candidates.subarray(0, n * C),
    }
    yield b.truth === undefined
      ? batch
      : { ...batch, truth: full ? b.truth : b.truth.subarray(0, n * C) }
  }
}
