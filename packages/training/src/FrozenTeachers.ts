/**
 * The frozen teachers' outputs on a batch's rows, shared by CausalD and every distillation
 * baseline: the mediators m̃_{k,i} = φ_k(x_i) (eq. 9) and the logits ô_{k,i}, computed in an
 * objective's `prepare`, before the gradient tape, so no teacher parameter is ever
 * differentiated or updated.
 *
 * Two savings, both exact:
 * - **Positive cache.** Teachers are frozen and run as at inference (`forInference`: Dice gates
 *   with running statistics), so each row is encoded on its own and a positive's outputs are the
 *   same in every epoch and batch. They are kept on the host, keyed by the batch's
 *   `positiveIndex`; from the second epoch on only the negatives (redrawn each epoch) run the
 *   teachers. CausalD's tests check equal losses with and without it on cpu and wasm.
 * - **History-length chunks.** Rows are encoded sorted by history length, in chunks whose history
 *   width is the chunk's longest history instead of L (`LengthChunks`): padded positions only add
 *   masked zeros, so the outputs are the same (DIN: bit-identical on cpu and wasm, measured; a
 *   kernel that sums in another order for another width could differ by rounding), and short
 *   histories (most of Amazon Beauty's) cost a fraction.
 *
 * - **Pair tables.** A teacher that offers a `frozenEncoder` (DIN: the activation unit's output
 *   for every (history item, candidate) pair, precomputed once) encodes rows on the host by
 *   lookups; only its predictor, for logits, still runs on the backend. Used when every teacher
 *   has one within `maxTableCells` (DIN on MovieLens: 1,011² floats each); otherwise the
 *   chunked forward pass below.
 *
 * Memory of the cache: K·(d + 1) floats per training positive with logits, K·d without (Amazon
 * Beauty, 131,413 positives, K = 4, d = 8: 16.8 MB on the host without logits).
 *
 * @module
 */
import type { Tensor, TensorBackend } from "@causald/core"
import type { Batches } from "@causald/data"
import {
  Din,
  type FrozenEncoder,
  forInference,
  Inputs,
  LengthChunks,
  type Recommender,
} from "@causald/models"
import { InvalidObjectiveOption } from "./Errors.ts"
import type { BatchContext } from "./Objective.ts"

export interface FrozenTeachersOptions {
  /**
   * Keep the outputs of every positive row once computed (default true). A teacher whose encoder
   * mixes rows (batch statistics outside inference mode) needs `false`.
   */
  readonly cachePositives?: boolean
  /**
   * A chunk's fixed cost in row-positions when rows are chunked by history length (default
   * {@link Din.defaultChunkOverhead}). `Infinity` encodes every row at the batch's full width L,
   * for a teacher whose encoder does not ignore padded positions (DIN and DeepFM mask them).
   */
  readonly chunkOverhead?: number
  /** Also compute the teachers' logits ô_{k,i} (default false: mediators only). */
  readonly logits?: boolean
  /**
   * Let teachers precompute their item-pair tables (`Recommender.frozenEncoder`; default true).
   * `false` always runs their forward pass (the form the tables are tested against).
   */
  readonly pairTables?: boolean
  /**
   * Largest pair table per teacher, in floats. Default: {@link defaultTableBudget} shared by the
   * K teachers, so many teachers (Table 7's K = 16) do not multiply the host memory.
   */
  readonly maxTableCells?: number
}

/** Outputs of K teachers on B rows. */
export interface TeacherRows {
  /** m̃_{k,i}: [K, B, d] */
  readonly mediators: Tensor
}

/** Outputs of K teachers on B rows, made with `logits: true`. */
export interface TeacherRowsWithLogits extends TeacherRows {
  /** ô_{k,i}: [K, B] */
  readonly logits: Tensor
}

export interface FrozenTeachers<Rows extends TeacherRows = TeacherRows> {
  readonly teachers: ReadonlyArray<Recommender>
  /** The teachers' outputs on the batch's rows (call outside the gradient tape). */
  readonly outputs: (context: BatchContext) => Rows
  /** Positives whose outputs are cached (0 without `cachePositives`). */
  readonly cachedPositives: () => number
}

/** With `logits: true` the rows carry the teachers' logits as well, so the type says so. */
/** All teachers' pair tables together, in floats: 2^26 (256 MB), 2^24 each for K = 4. */
export const defaultTableBudget = 2 ** 26

export function make(
  backend: TensorBackend,
  teachers: ReadonlyArray<Recommender>,
  options: FrozenTeachersOptions & { readonly logits: true },
): FrozenTeachers<TeacherRowsWithLogits>
export function make(
  backend: TensorBackend,
  teachers: ReadonlyArray<Recommender>,
  options?: FrozenTeachersOptions,
): FrozenTeachers
export function make(
  backend: TensorBackend,
  teachers: ReadonlyArray<Recommender>,
  options: FrozenTeachersOptions = {},
): FrozenTeachers<TeacherRows | TeacherRowsWithLogits> {
  const K = teachers.length
  const d = teachers[0]?.mediatorSize ?? 0
  const withLogits = options.logits ?? false
  // floats per teacher and row on the host: the mediator, then the logit
  const w = d + (withLogits ? 1 : 0)
  const overhead = options.chunkOverhead ?? Din.defaultChunkOverhead
  const encoders = teachers.map((t) => forInference(t))
  const cache = (options.cachePositives ?? true) ? new PositiveCache(K * w) : null
  // the teachers' frozen encoders, when every one has one; asked once, on first use
  let frozen: ReadonlyArray<FrozenEncoder> | null | undefined =
    options.pairTables === false ? null : undefined
  const frozenEncoders = (): ReadonlyArray<FrozenEncoder> | null => {
    if (frozen === undefined) {
      const maxTableCells = options.maxTableCells ?? Math.floor(defaultTableBudget / K)
      const made = encoders.map((t) => t.frozenEncoder?.({ maxTableCells }))
      frozen = made.every((f) => f !== undefined) ? (made as Array<FrozenEncoder>) : null
    }
    return frozen
  }

  /** {@link encodeRows} by the teachers' frozen encoders: mediators on the host, logits by ψ. */
  const encodeByTables = (
    context: BatchContext,
    source: Int32Array,
    tables: ReadonlyArray<FrozenEncoder>,
  ): Float32Array => {
    const { batch } = context
    const n = source.length
    const out = new Float32Array(K * n * w)
    const host = {
      history: batch.history,
      width: batch.maxHistoryLength,
      historyLength: batch.historyLength,
      item: batch.item,
    }
    const rows =
      withLogits && n > 0
        ? Inputs.toInputs(backend, subBatch(batch, source, batch.maxHistoryLength))
        : undefined
    tables.forEach((table, k) => {
      const m = table.mediators(host, source)
      const o =
        rows === undefined
          ? undefined
          : backend.tidy(() => backend.read(encoders[k]!.predict(backend.tensor(m, [n, d]), rows)))
      for (let i = 0; i < n; i++) {
        const to = (k * n + i) * w
        for (let j = 0; j < d; j++) out[to + j] = m[i * d + j]!
        if (o !== undefined) out[to + d] = o[i]!
      }
    })
    return out
  }

  /** The outputs of the given rows of the batch (all rows when null), on the host, [K, rows, w]. */
  const encodeRows = (context: BatchContext, rows: Int32Array | null): Float32Array => {
    const { batch } = context
    const source = rows ?? identity(batch.size)
    const tables = frozenEncoders()
    if (tables !== null) return backend.tidy(() => encodeByTables(context, source, tables))
    const n = source.length
    const out = new Float32Array(K * n * w)
    // positions into `source`, by history length; the batch rows in that order
    const order = LengthChunks.byLength(source.map((r) => batch.historyLength[r]!))
    const sorted = order.map((p) => source[p]!)
    const chunks = LengthChunks.chunks(batch.historyLength, sorted, overhead)
    for (let c = 0; c + 1 < chunks.length; c++) {
      const start = chunks[c]!
      const end = chunks[c + 1]!
      const width =
        overhead === Number.POSITIVE_INFINITY
          ? batch.maxHistoryLength
          : Math.max(1, batch.historyLength[sorted[end - 1]!]!)
      // the whole batch in one chunk at full width: its inputs as they are (no copy, no upload)
      const whole = rows === null && chunks.length === 2 && width === batch.maxHistoryLength
      backend.tidy(() => {
        const inputs = whole
          ? context.inputs
          : Inputs.toInputs(backend, subBatch(batch, sorted.subarray(start, end), width))
        // Each teacher in its own scope: only its [rows, d] (and [rows]) outputs outlive it.
        // Otherwise the step's scope would hold every teacher's [rows·L, 80] and [rows·L, 40]
        // activations until the step ends, tens of MB apiece at B = 4096, L = 50
        // (bench/NOTES.md, "CausalD memory").
        encoders.forEach((t, k) => {
          const [m, o] = backend.tidy(() => {
            const mediator = t.encode(inputs)
            return [
              backend.read(mediator),
              withLogits ? backend.read(t.predict(mediator, inputs)) : undefined,
            ] as const
          })
          for (let i = start; i < end; i++) {
            const to = (k * n + (whole ? i : order[i]!)) * w
            const from = (i - start) * d
            for (let j = 0; j < d; j++) out[to + j] = m[from + j]!
            if (o !== undefined) out[to + d] = o[i - start]!
          }
        })
      })
    }
    return out
  }

  const outputs = (context: BatchContext): TeacherRows | TeacherRowsWithLogits => {
    const { batch } = context
    const B = batch.size
    let all: Float32Array
    if (cache === null) all = encodeRows(context, null)
    else {
      const missing = cache.missingRows(batch)
      const computed = encodeRows(context, missing.length === B ? null : missing)
      all = new Float32Array(K * B * w)
      cache.assemble(batch, missing, computed, all, K)
    }
    if (!withLogits) return { mediators: backend.tensor(all, [K, B, d]) }
    const mediators = new Float32Array(K * B * d)
    const logits = new Float32Array(K * B)
    for (let r = 0; r < K * B; r++) {
      for (let j = 0; j < d; j++) mediators[r * d + j] = all[r * w + j]!
      logits[r] = all[r * w + d]!
    }
    return {
      mediators: backend.tensor(mediators, [K, B, d]),
      logits: backend.tensor(logits, [K, B]),
    }
  }

  return { teachers, outputs, cachedPositives: () => cache?.size ?? 0 }
}

/** 0, 1, ..., n - 1. */
const identity = (n: number): Int32Array => {
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  return out
}

/** The rows `rows` of a batch as a row batch of their own (host copies), `width` history ids each. */
const subBatch = (
  batch: Batches.TrainingBatch,
  rows: Int32Array,
  width: number,
): Inputs.RowBatch => {
  const L = batch.maxHistoryLength
  const n = rows.length
  const out = {
    user: new Int32Array(n),
    history: new Int32Array(n * width),
    historyLength: new Int32Array(n),
    item: new Int32Array(n),
  }
  for (let i = 0; i < n; i++) {
    const r = rows[i]!
    out.user[i] = batch.user[r]!
    out.item[i] = batch.item[r]!
    out.historyLength[i] = batch.historyLength[r]!
    out.history.set(batch.history.subarray(r * L, r * L + width), i * width)
  }
  return out
}

/**
 * The teachers' outputs of positive rows, on the host: `width` floats per positive (K teachers
 * x (d or d + 1)), reached through a slot table indexed by `TrainingBatch.positiveIndex`.
 * A host array rather than a kept tensor: the per-step gather is a copy of `width` floats per
 * row that the [K, B, ·] assembly does anyway, it grows without re-uploading, and a wasm heap
 * never shrinks. Each entry remembers its target item and history length, so a batch from
 * another data set or history width cannot silently read a stale entry.
 */
class PositiveCache {
  private values = new Float32Array(0)
  /** slot + 1 of each positive index; 0 = not cached */
  private slots = new Int32Array(0)
  private items = new Int32Array(0)
  private lengths = new Int32Array(0)
  size = 0

  constructor(readonly width: number) {}

  private slotOf(index: number): number {
    return index < this.slots.length ? this.slots[index]! - 1 : -1
  }

  /** Rows that must run the teachers: negatives and positives not cached yet (ascending). */
  missingRows(batch: Batches.TrainingBatch): Int32Array {
    const out = new Int32Array(batch.size)
    let n = 0
    for (let r = 0; r < batch.size; r++) {
      if (batch.positiveRow[r] !== r) {
        out[n++] = r
        continue
      }
      const index = batch.positiveIndex[r]!
      const slot = this.slotOf(index)
      if (slot < 0) {
        out[n++] = r
        continue
      }
      if (this.items[slot] !== batch.item[r] || this.lengths[slot] !== batch.historyLength[r])
        throw new InvalidObjectiveOption({
          objective: "CausalD's frozen teachers",
          option: "cachePositives",
          expected:
            "false unless one objective trains on one data set and history width (the cache keys positives by index)",
          found: `true, and positive ${index} was item ${this.items[slot]} with ${this.lengths[slot]} history items, now item ${batch.item[r]} with ${batch.historyLength[r]}`,
        })
    }
    return out.subarray(0, n)
  }

  /** A new slot for positive `index`, growing the arrays geometrically (x1.25). */
  private add(index: number, item: number, length: number): number {
    if (index >= this.slots.length) {
      const slots = new Int32Array(Math.max(index + 1, Math.ceil(this.slots.length * 1.25)))
      slots.set(this.slots)
      this.slots = slots
    }
    const slot = this.size++
    if (slot >= this.items.length) {
      const capacity = Math.max(1024, Math.ceil(this.items.length * 1.25))
      const grow = <A extends Int32Array | Float32Array>(
        a: A,
        make: (n: number) => A,
        w: number,
      ) => {
        const b = make(capacity * w)
        b.set(a)
        return b
      }
      this.values = grow(this.values, (n) => new Float32Array(n), this.width)
      this.items = grow(this.items, (n) => new Int32Array(n), 1)
      this.lengths = grow(this.lengths, (n) => new Int32Array(n), 1)
    }
    this.slots[index] = slot + 1
    this.items[slot] = item
    this.lengths[slot] = length
    return slot
  }

  /**
   * Fills `out` [K, B, width / K] from the cache and from `computed` [K, missing.length,
   * width / K] (the teachers' outputs of the missing rows), and caches the missing positives.
   */
  assemble(
    batch: Batches.TrainingBatch,
    missing: Int32Array,
    computed: Float32Array,
    out: Float32Array,
    K: number,
  ): void {
    const w = this.width / K
    const B = batch.size
    const n = missing.length
    // plain loops: a subarray per row and teacher would be tens of thousands of objects a step
    for (let i = 0; i < n; i++) {
      const r = missing[i]!
      for (let k = 0; k < K; k++) {
        const from = (k * n + i) * w
        const to = (k * B + r) * w
        for (let c = 0; c < w; c++) out[to + c] = computed[from + c]!
      }
      if (batch.positiveRow[r] !== r) continue
      const slot = this.add(batch.positiveIndex[r]!, batch.item[r]!, batch.historyLength[r]!)
      const values = this.values
      for (let k = 0; k < K; k++) {
        const from = (k * n + i) * w
        const to = slot * this.width + k * w
        for (let c = 0; c < w; c++) values[to + c] = computed[from + c]!
      }
    }
    // every positive row not missing is cached (missingRows checked it)
    let next = 0
    for (let r = 0; r < B; r++) {
      if (next < n && missing[next] === r) {
        next++
        continue
      }
      const from = this.slotOf(batch.positiveIndex[r]!) * this.width
      const values = this.values
      for (let k = 0; k < K; k++) {
        const to = (k * B + r) * w
        for (let c = 0; c < w; c++) out[to + c] = values[from + k * w + c]!
      }
    }
  }
}
