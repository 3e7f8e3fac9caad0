/**
 * The evaluation protocol of the paper (section 5.1) turning an {@link InteractionLog} into a
 * {@link PreparedDataset}:
 *
 * 1. positives: every rated item (ratings below `minRating` dropped when set); for exposure logs
 *    the clicked items (none at all is {@link NoPositiveInteractions}, whatever the k-core);
 * 2. each user's rows in chronological order, ties in time kept in file order;
 * 3. duplicates (same user, same item) removed, keeping the earliest;
 * 4. k-core filtering repeated until stable: every kept user and every kept item has at least k
 *    interactions (paper: 16; defaults per data set in `Sources.defaultKCore`);
 * 5. ids re-indexed densely: users 0..U-1 and items 1..I in the order of their original ids
 *    (ascending numeric ids; first appearance for text ids);
 * 6. chronological leave-last-out split and 1+N stored candidates per user and split
 *    (N sampled items the user never consumed, drawn with `config.seed`).
 *
 * The loops are plain functions on typed arrays (O(rows) per pass): measured on 10M rows,
 * arquero's string-keyed `dedupe` took 22 s and 4.4 GB, which would not fit ml-25m in 8 GiB;
 * arquero is used for the statistics tables (see `Groups.summary`) and as the independent
 * reference implementation the tests compare these loops with.
 *
 * @module
 */

import { Random } from "@causald/core"
import type { Effect } from "effect"
import {
  attempt,
  type DataError,
  InvalidOption,
  NoPositiveInteractions,
  NotEnoughCandidates,
  NoUsersLeft,
  TooFewInteractions,
} from "./Errors.ts"
import type { InteractionLog } from "./Interactions.ts"
import {
  computeStats,
  type ExposureNegatives,
  type PreparedConfig,
  type PreparedDataset,
  type UserAttribute,
} from "./Prepared.ts"

/** Throws {@link InvalidOption} when a setting is out of its domain. */
export const validateConfig = (config: PreparedConfig): void => {
  const int = (option: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new InvalidOption({ option, expected: `an integer >= ${min}`, found: String(v) })
  }
  int("kCore", config.kCore, 0)
  int("historyLength", config.historyLength, 1)
  int("negativesPerPositive", config.negativesPerPositive, 0)
  int("candidates", config.candidates, 1)
  if (!Number.isSafeInteger(config.seed))
    throw new InvalidOption({ option: "seed", expected: "an integer", found: String(config.seed) })
  if (config.minRating !== null && !Number.isFinite(config.minRating))
    throw new InvalidOption({
      option: "minRating",
      expected: "a finite number or null",
      found: String(config.minRating),
    })
}

/**
 * Groups the selected rows by user (counting sort, stable) and orders each user's rows by time,
 * ties by row index (file order). Returns CSR `start` (numUsers+1) and the row `order`.
 */
export const orderByUserAndTime = (
  user: Int32Array,
  time: Float64Array,
  numUsers: number,
  keep: (row: number) => boolean,
): { readonly start: Int32Array; readonly order: Int32Array } => {
  const n = user.length
  const start = new Int32Array(numUsers + 1)
  for (let i = 0; i < n; i++) if (keep(i)) start[user[i]! + 1]!++
  for (let u = 0; u < numUsers; u++) start[u + 1]! += start[u]!
  const order = new Int32Array(start[numUsers]!)
  const next = start.slice(0, numUsers)
  for (let i = 0; i < n; i++) if (keep(i)) order[next[user[i]!]!++] = i
  const byTime = (a: number, b: number) => time[a]! - time[b]! || a - b
  for (let u = 0; u < numUsers; u++) {
    const s = start[u]!
    const e = start[u + 1]!
    let sorted = true
    for (let p = s + 1; p < e; p++)
      if (time[order[p]!]! < time[order[p - 1]!]!) {
        sorted = false
        break
      }
    if (!sorted) order.subarray(s, e).sort(byTime)
  }
  return { start, order }
}

/**
 * k-core filtering of (user, item) pairs repeated until stable: returns the alive flag of each
 * pair and the final degrees. Pairs must be distinct.
 */
export const kCore = (
  users: Int32Array,
  items: Int32Array,
  numUsers: number,
  numItems: number,
  k: number,
): {
  readonly alive: Uint8Array
  readonly userDegree: Int32Array
  readonly itemDegree: Int32Array
  readonly passes: number
} => {
  const n = users.length
  const alive = new Uint8Array(n).fill(1)
  const userDegree = new Int32Array(numUsers)
  const itemDegree = new Int32Array(numItems)
  for (let r = 0; r < n; r++) {
    userDegree[users[r]!]!++
    itemDegree[items[r]!]!++
  }
  let passes = 0
  let changed = k > 1
  while (changed) {
    changed = false
    passes++
    for (let r = 0; r < n; r++) {
      if (alive[r] === 0) continue
      const u = users[r]!
      const i = items[r]!
      if (userDegree[u]! < k || itemDegree[i]! < k) {
        alive[r] = 0
        userDegree[u]!--
        itemDegree[i]!--
        changed = true
      }
    }
  }
  return { alive, userDegree, itemDegree, passes }
}

/**
 * Draws, for every user, the 1+N evaluation candidates: column 0 the target, then N distinct
 * items in 1..I the user never consumed in its whole sequence (uniform without replacement).
 * Throws {@link NotEnoughCandidates} when a user has fewer than N unconsumed items.
 */
export const drawCandidates = (
  offsets: Int32Array,
  items: Int32Array,
  numItems: number,
  target: Int32Array,
  N: number,
  g: Random.RandomGenerator,
  dataset: string,
  userIds: ReadonlyArray<string>,
): Int32Array => {
  const U = offsets.length - 1
  const C = 1 + N
  const out = new Int32Array(U * C)
  const mark = new Int32Array(numItems + 1)
  const pool = new Int32Array(numItems)
  for (let u = 0; u < U; u++) {
    const stamp = u + 1
    const s = offsets[u]!
    const e = offsets[u + 1]!
    for (let p = s; p < e; p++) mark[items[p]!] = stamp
    const available = numItems - (e - s)
    if (available < N)
      throw new NotEnoughCandidates({ dataset, user: userIds[u]!, available, needed: N })
    const row = u * C
    out[row] = target[u]!
    if (available >= 2 * N) {
      for (let c = 1; c < C; c++) {
        let it: number
        do it = 1 + Random.int(g, numItems)
        while (mark[it] === stamp)
        mark[it] = stamp
        out[row + c] = it
      }
    } else {
      let m = 0
      for (let it = 1; it <= numItems; it++) if (mark[it] !== stamp) pool[m++] = it
      for (let c = 0; c < N; c++) {
        const j = c + Random.int(g, m - c)
        const t = pool[c]!
        pool[c] = pool[j]!
        pool[j] = t
        out[row + 1 + c] = pool[c]!
      }
    }
  }
  return out
}

/** Validation and test targets and candidates of CSR sequences (leave-last-out). */
export const splitAndDraw = (
  offsets: Int32Array,
  items: Int32Array,
  numItems: number,
  config: PreparedConfig,
  dataset: string,
  userIds: ReadonlyArray<string>,
): Pick<PreparedDataset, "validation" | "test"> => {
  const U = offsets.length - 1
  const validationTarget = new Int32Array(U)
  const testTarget = new Int32Array(U)
  for (let u = 0; u < U; u++) {
    const n = offsets[u + 1]! - offsets[u]!
    if (n < 3) throw new TooFewInteractions({ dataset, user: userIds[u]!, count: n, needed: 3 })
    validationTarget[u] = items[offsets[u + 1]! - 2]!
    testTarget[u] = items[offsets[u + 1]! - 1]!
  }
  const N = config.candidates
  const draw = (target: Int32Array, stream: string) =>
    drawCandidates(
      offsets,
      items,
      numItems,
      target,
      N,
      Random.rng(config.seed, stream),
      dataset,
      userIds,
    )
  return {
    validation: { target: validationTarget, candidates: draw(validationTarget, "validation") },
    test: { target: testTarget, candidates: draw(testTarget, "test") },
  }
}

/**
 * The whole protocol as a plain function (throws the package's typed errors): see the module
 * documentation. Use {@link prepare} from Effect code.
 */
export const prepareLog = (
  log: InteractionLog,
  name: string,
  config: PreparedConfig,
): PreparedDataset => {
  validateConfig(config)
  const U0 = log.userIds.length
  const I0 = log.itemIds.length
  const { user, item, time, rating, clicked } = log
  const minRating = config.minRating
  const positive = (r: number) =>
    (clicked === undefined || clicked[r] === 1) &&
    (minRating === null || rating === undefined || rating[r]! >= minRating)
  const { start, order } = orderByUserAndTime(user, time, U0, positive)

  // dedupe (user, item), keeping the earliest; rows stay grouped by user, chronological
  const m = order.length
  const pairUser = new Int32Array(m)
  const pairItem = new Int32Array(m)
  const seen = new Int32Array(I0).fill(-1)
  let w = 0
  for (let u = 0; u < U0; u++) {
    for (let p = start[u]!; p < start[u + 1]!; p++) {
      const it = item[order[p]!]!
      if (seen[it] === u) continue
      seen[it] = u
      pairUser[w] = u
      pairItem[w] = it
      w++
    }
  }
  if (w === 0)
    throw new NoPositiveInteractions({
      dataset: name,
      rows: user.length,
      expected:
        clicked !== undefined
          ? "at least one row with clicked = 1 (a click); every row has clicked = 0"
          : minRating !== null
            ? `at least one rating >= ${minRating} (the rating threshold)`
            : "at least one interaction",
    })
  const pairsUser = pairUser.subarray(0, w)
  const pairsItem = pairItem.subarray(0, w)
  let usersBefore = 0
  for (let u = 0; u < U0; u++) if (start[u + 1]! > start[u]!) usersBefore++

  const { alive, userDegree, itemDegree } = kCore(pairsUser, pairsItem, U0, I0, config.kCore)

  // re-index densely in code order
  const newUser = new Int32Array(U0).fill(-1)
  const userIds: Array<string> = []
  for (let u = 0; u < U0; u++)
    if (userDegree[u]! > 0) {
      newUser[u] = userIds.length
      userIds.push(log.userIds[u]!)
    }
  const newItem = new Int32Array(I0).fill(-1)
  const itemIds: Array<string> = [""]
  for (let i = 0; i < I0; i++)
    if (itemDegree[i]! > 0) {
      newItem[i] = itemIds.length
      itemIds.push(log.itemIds[i]!)
    }
  const U = userIds.length
  const I = itemIds.length - 1
  if (U === 0 || I === 0)
    throw new NoUsersLeft({
      dataset: name,
      kCore: config.kCore,
      usersBefore,
      interactionsBefore: w,
    })

  const sequenceOffsets = new Int32Array(U + 1)
  let total = 0
  for (let r = 0; r < w; r++) if (alive[r] === 1) total++
  const sequenceItems = new Int32Array(total)
  let q = 0
  for (let r = 0; r < w; r++) {
    if (alive[r] === 0) continue
    sequenceItems[q++] = newItem[pairsItem[r]!]!
    sequenceOffsets[newUser[pairsUser[r]!]! + 1]!++
  }
  for (let u = 0; u < U; u++) sequenceOffsets[u + 1]! += sequenceOffsets[u]!

  const splits = splitAndDraw(sequenceOffsets, sequenceItems, I, config, name, userIds)

  const attributes: Array<UserAttribute> | undefined = log.attributes?.map((a) => {
    const codes = new Int32Array(U)
    for (let u = 0; u < U0; u++) if (newUser[u]! >= 0) codes[newUser[u]!] = a.codes[u]!
    return { name: a.name, codes, labels: a.labels }
  })

  const exposureNegatives =
    clicked === undefined
      ? undefined
      : exposureCsr(log, newUser, newItem, U, sequenceOffsets, sequenceItems, I)

  return {
    name,
    config,
    stats: computeStats(U, I, total),
    numUsers: U,
    numItems: I,
    userIds,
    itemIds,
    sequenceOffsets,
    sequenceItems,
    ...splits,
    ...(attributes === undefined ? {} : { attributes }),
    ...(exposureNegatives === undefined ? {} : { exposureNegatives }),
  }
}

/**
 * Exposure negatives: items shown to a kept user and not clicked, restricted to kept items and
 * to items the user never clicked, duplicates removed, chronological. They do not take part in
 * the k-core (which counts positives only).
 */
const exposureCsr = (
  log: InteractionLog,
  newUser: Int32Array,
  newItem: Int32Array,
  U: number,
  sequenceOffsets: Int32Array,
  sequenceItems: Int32Array,
  I: number,
): ExposureNegatives => {
  const clicked = log.clicked!
  const keep = (r: number) =>
    clicked[r] === 0 && newUser[log.user[r]!]! >= 0 && newItem[log.item[r]!]! >= 0
  const { start, order } = orderByUserAndTime(log.user, log.time, log.userIds.length, keep)
  const mark = new Int32Array(I + 1).fill(-1)
  const offsets = new Int32Array(U + 1)
  const items = new Int32Array(order.length)
  let w = 0
  for (let u0 = 0; u0 < log.userIds.length; u0++) {
    const u = newUser[u0]!
    if (u < 0) continue
    for (let p = sequenceOffsets[u]!; p < sequenceOffsets[u + 1]!; p++) mark[sequenceItems[p]!] = u
    for (let p = start[u0]!; p < start[u0 + 1]!; p++) {
      const it = newItem[log.item[order[p]!]!]!
      if (mark[it] === u) continue
      mark[it] = u
      items[w++] = it
    }
    offsets[u + 1] = w
  }
  // every kept user is visited, in increasing new id, so offsets are complete
  return { offsets, items: items.slice(0, w) }
}

/** {@link prepareLog} as an Effect program failing with the typed errors. */
export const prepare = (
  log: InteractionLog,
  name: string,
  config: PreparedConfig,
): Effect.Effect<PreparedDataset, DataError> => attempt(() => prepareLog(log, name, config))
