/**
 * The raw interaction log a reader produces before the protocol: one row per line of the file,
 * in file order, held in growing typed arrays (no object per row) so that 25M-row files load in
 * a few hundred megabytes.
 *
 * @module
 */
import type { UserAttribute } from "./Prepared.ts"

/** Rows of a data file, users and items as dense codes with their original ids. */
export interface InteractionLog {
  /** What the log was read from (file paths), for messages. */
  readonly source: string
  /** Number of rows. */
  readonly size: number
  /** Int32Array(size): user code in 0..userIds.length-1 */
  readonly user: Int32Array
  /** Int32Array(size): item code in 0..itemIds.length-1 */
  readonly item: Int32Array
  /** Float64Array(size): timestamp (or position, for files without time); ties keep file order */
  readonly time: Float64Array
  /** Float32Array(size): the rating, when the format has one */
  readonly rating?: Float32Array
  /** Uint8Array(size): exposure logs only, 1 = clicked (positive), 0 = shown, not clicked */
  readonly clicked?: Uint8Array
  /** Original id of each user code; numeric ids are coded in ascending numeric order. */
  readonly userIds: ReadonlyArray<string>
  /** Original id of each item code; numeric ids are coded in ascending numeric order. */
  readonly itemIds: ReadonlyArray<string>
  /** Categorical user attributes, `codes` indexed by user code. */
  readonly attributes?: ReadonlyArray<UserAttribute>
}

const grow = <T extends Int32Array | Float64Array | Float32Array | Uint8Array>(
  a: T,
  make: (n: number) => T,
): T => {
  const b = make(a.length * 2)
  b.set(a)
  return b
}

/** Appends rows to growing typed arrays (capacity doubles). */
export class LogBuilder {
  size = 0
  user: Int32Array
  item: Int32Array
  time: Float64Array
  rating: Float32Array | undefined
  clicked: Uint8Array | undefined

  constructor(options: { readonly rating?: boolean; readonly clicked?: boolean } = {}) {
    const n = 1 << 16
    this.user = new Int32Array(n)
    this.item = new Int32Array(n)
    this.time = new Float64Array(n)
    this.rating = options.rating === true ? new Float32Array(n) : undefined
    this.clicked = options.clicked === true ? new Uint8Array(n) : undefined
  }

  /** Appends a row; `rating` and `clicked` are ignored when the log has no such column. */
  push(user: number, item: number, time: number, rating = 0, clicked = 1): void {
    if (this.size === this.user.length) {
      this.user = grow(this.user, (n) => new Int32Array(n))
      this.item = grow(this.item, (n) => new Int32Array(n))
      this.time = grow(this.time, (n) => new Float64Array(n))
      if (this.rating !== undefined) this.rating = grow(this.rating, (n) => new Float32Array(n))
      if (this.clicked !== undefined) this.clicked = grow(this.clicked, (n) => new Uint8Array(n))
    }
    const i = this.size++
    this.user[i] = user
    this.item[i] = item
    this.time[i] = time
    if (this.rating !== undefined) this.rating[i] = rating
    if (this.clicked !== undefined) this.clicked[i] = clicked
  }

  /**
   * The finished log. User and item codes are remapped through the interners' final order
   * (ascending numeric id for numeric ids).
   */
  finish(
    source: string,
    users: IdInterner,
    items: IdInterner,
    attributes?: ReadonlyArray<UserAttribute>,
  ): InteractionLog {
    const n = this.size
    const user = this.user.subarray(0, n)
    const item = this.item.subarray(0, n)
    const u = users.finish()
    const it = items.finish()
    if (u.remap !== undefined) for (let i = 0; i < n; i++) user[i] = u.remap[user[i]!]!
    if (it.remap !== undefined) for (let i = 0; i < n; i++) item[i] = it.remap[item[i]!]!
    return {
      source,
      size: n,
      user,
      item,
      time: this.time.subarray(0, n),
      ...(this.rating === undefined ? {} : { rating: this.rating.subarray(0, n) }),
      ...(this.clicked === undefined ? {} : { clicked: this.clicked.subarray(0, n) }),
      userIds: u.ids,
      itemIds: it.ids,
      ...(attributes === undefined ? {} : { attributes }),
    }
  }
}

/** Dense codes for original ids, in first-appearance order while reading. */
export interface IdInterner {
  /** Number of distinct ids so far. */
  readonly count: number
  /**
   * Final ids by code, and the remapping from first-appearance codes to final codes when the
   * order changes (numeric ids are sorted ascending).
   */
  finish(): { readonly ids: ReadonlyArray<string>; readonly remap?: Int32Array }
}

/** Interner for non-negative integer ids: a direct lookup table while ids are small. */
export class NumericIds implements IdInterner {
  count = 0
  private table = new Int32Array(1024).fill(-1)
  private readonly large = new Map<number, number>()
  private ids = new Float64Array(1024)

  /** The code of `id` (a non-negative safe integer), assigning the next code when new. */
  code(id: number): number {
    if (id < 1 << 26) {
      if (id >= this.table.length) {
        let n = this.table.length
        while (n <= id) n *= 2
        const t = new Int32Array(n).fill(-1)
        t.set(this.table)
        this.table = t
      }
      const c = this.table[id]!
      if (c >= 0) return c
      this.table[id] = this.count
    } else {
      const c = this.large.get(id)
      if (c !== undefined) return c
      this.large.set(id, this.count)
    }
    if (this.count === this.ids.length) {
      const b = new Float64Array(this.ids.length * 2)
      b.set(this.ids)
      this.ids = b
    }
    this.ids[this.count] = id
    return this.count++
  }

  finish(): { readonly ids: ReadonlyArray<string>; readonly remap: Int32Array } {
    const n = this.count
    const order = new Int32Array(n)
    for (let i = 0; i < n; i++) order[i] = i
    const ids = this.ids
    order.sort((a, b) => ids[a]! - ids[b]!)
    const remap = new Int32Array(n)
    const labels = new Array<string>(n)
    for (let rank = 0; rank < n; rank++) {
      remap[order[rank]!] = rank
      labels[rank] = String(ids[order[rank]!])
    }
    return { ids: labels, remap }
  }
}

/** Interner for string ids (Amazon ASINs and reviewer ids), in first-appearance order. */
export class StringIds implements IdInterner {
  private readonly map = new Map<string, number>()
  private readonly ids: Array<string> = []

  get count(): number {
    return this.ids.length
  }

  code(id: string): number {
    const c = this.map.get(id)
    if (c !== undefined) return c
    this.map.set(id, this.ids.length)
    this.ids.push(id)
    return this.ids.length - 1
  }

  finish(): { readonly ids: ReadonlyArray<string> } {
    return { ids: this.ids }
  }
}
