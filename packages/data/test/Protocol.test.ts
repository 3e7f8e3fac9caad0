import { describe, expect, test } from "bun:test"
import * as aq from "arquero"
import fc from "fast-check"
import { checkPrepared, type PreparedConfig, userSequence } from "../src/Prepared.ts"
import { kCore, prepareLog } from "../src/Protocol.ts"
import { logOf, thrown } from "./helpers.ts"

const config = (over: Partial<PreparedConfig> = {}): PreparedConfig => ({
  kCore: 0,
  historyLength: 5,
  negativesPerPositive: 1,
  candidates: 2,
  seed: 1,
  minRating: null,
  ...over,
})

/** Raw-id sequences of a prepared data set, keyed by raw user id. */
const rawSequences = (data: ReturnType<typeof prepareLog>): Record<string, Array<string>> =>
  Object.fromEntries(
    data.userIds.map((id, u) => [
      id,
      Array.from(userSequence(data, u)).map((i) => data.itemIds[i]!),
    ]),
  )

/**
 * The protocol written independently with arquero verbs: order by (user, time, file row),
 * dedupe (user, item) keeping the first, then k-core by alternating grouped filters until the
 * row count is stable.
 */
const arqueroReference = (
  rows: ReadonlyArray<readonly [number, number, number]>,
  k: number,
): Record<string, Array<string>> => {
  let t = aq
    .table({
      user: rows.map((r) => r[0]),
      item: rows.map((r) => r[1]),
      time: rows.map((r) => r[2]),
      row: rows.map((_, i) => i),
    })
    .orderby("user", "time", "row")
    .reify()
    .dedupe("user", "item")
    .orderby("user", "time", "row")
    .reify()
  for (;;) {
    const before = t.numRows()
    t = t
      .groupby("user")
      .derive({ n: aq.op.count() })
      .filter(aq.escape((d: { n: number }) => d.n >= k))
      .ungroup()
      .groupby("item")
      .derive({ m: aq.op.count() })
      .filter(aq.escape((d: { m: number }) => d.m >= k))
      .ungroup()
      .select("user", "item", "time", "row")
      .orderby("user", "time", "row")
      .reify()
    if (t.numRows() === before) break
  }
  const out: Record<string, Array<string>> = {}
  for (const r of t.objects() as Array<{ user: number; item: number }>) {
    const key = String(r.user)
    if (out[key] === undefined) out[key] = []
    out[key].push(String(r.item))
  }
  return out
}

describe("protocol", () => {
  test("chronological order, ties kept in file order, duplicates keep the earliest", () => {
    const data = prepareLog(
      logOf([
        [1, 30, 5],
        [1, 10, 2],
        [1, 20, 5], // same time as item 30: file order puts 30 first
        [1, 10, 9], // duplicate of item 10, later: dropped
        [1, 40, 1],
        [2, 10, 1],
        [2, 20, 2],
        [2, 30, 3],
        [3, 50, 1],
        [3, 60, 1],
        [3, 70, 1],
      ]),
      "ties",
      config(),
    )
    expect(rawSequences(data)).toEqual({
      "1": ["40", "10", "30", "20"],
      "2": ["10", "20", "30"],
      "3": ["50", "60", "70"],
    })
    expect(data.test.target[0]).toBe(data.itemIds.indexOf("20"))
    expect(data.validation.target[0]).toBe(data.itemIds.indexOf("30"))
    expect(data.stats).toEqual({ users: 3, items: 7, interactions: 10, density: 10 / 21 })
    expect(checkPrepared(data)).toEqual([])
  })

  test("ids are re-indexed densely in ascending original order, item 0 is padding", () => {
    const data = prepareLog(
      logOf([
        [900, 77, 1],
        [900, 5, 2],
        [900, 1000, 3],
        [3, 5, 1],
        [3, 77, 2],
        [3, 1000, 3],
        [40, 8, 1],
        [40, 9, 2],
        [40, 5, 3],
      ]),
      "ids",
      config({ candidates: 1 }),
    )
    expect(data.userIds).toEqual(["3", "40", "900"])
    expect(data.itemIds).toEqual(["", "5", "8", "9", "77", "1000"])
    expect(Array.from(data.sequenceItems)).toEqual([1, 4, 5, 2, 3, 1, 4, 1, 5])
  })

  test("property: k-core and dedupe agree with an arquero implementation", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.tuple(
            fc.integer({ min: 0, max: 12 }),
            fc.integer({ min: 0, max: 15 }),
            fc.integer({ min: 0, max: 6 }),
          ),
          { minLength: 1, maxLength: 160 },
        ),
        fc.integer({ min: 2, max: 5 }),
        (rows, k) => {
          const expected = arqueroReference(rows, k)
          const users = Object.keys(expected)
          const enough = users.length > 0 && users.every((u) => expected[u]!.length >= 3)
          if (!enough) return
          const items = new Set(Object.values(expected).flat()).size
          const longest = Math.max(...Object.values(expected).map((s) => s.length))
          if (items - longest < 1) return
          const data = prepareLog(logOf(rows), "p", config({ kCore: k, candidates: 1 }))
          expect(rawSequences(data)).toEqual(expected)
          expect(checkPrepared(data)).toEqual([])
          // stable: every user and item has at least k interactions
          const itemCount = new Int32Array(data.numItems + 1)
          for (const i of data.sequenceItems) itemCount[i]!++
          for (let i = 1; i <= data.numItems; i++) expect(itemCount[i]).toBeGreaterThanOrEqual(k)
        },
      ),
      { seed: 7, numRuns: 150 },
    )
  })

  test("kCore repeats until stable (removing a user can break an item)", () => {
    // item 3 has 2 users; user 2 has only items 3 and 4 (< 3): removing user 2 drops item 3
    // below 2, which then drops user 1 to 2 items at k = 3
    const users = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2])
    const items = Int32Array.from([0, 1, 2, 0, 1, 3, 3, 4])
    const { alive, passes } = kCore(users, items, 3, 5, 2)
    expect(Array.from(alive)).toEqual([1, 1, 0, 1, 1, 0, 0, 0])
    expect(passes).toBeGreaterThanOrEqual(2)
  })

  test("candidates: target first, N distinct unconsumed items, fixed by the seed", () => {
    const rows: Array<[number, number, number]> = []
    for (let u = 0; u < 40; u++) for (let t = 0; t < 8; t++) rows.push([u, (u * 7 + t * 3) % 60, t])
    const a = prepareLog(logOf(rows), "c", config({ candidates: 30, seed: 5 }))
    const b = prepareLog(logOf(rows), "c", config({ candidates: 30, seed: 5 }))
    const c = prepareLog(logOf(rows), "c", config({ candidates: 30, seed: 6 }))
    expect(checkPrepared(a)).toEqual([])
    expect(b.test.candidates).toEqual(a.test.candidates)
    expect(b.validation.candidates).toEqual(a.validation.candidates)
    expect(c.test.candidates).not.toEqual(a.test.candidates)
    expect(a.validation.candidates).not.toEqual(a.test.candidates)
  })

  test("a dense user gets every unconsumed item when N equals what is left", () => {
    const rows: Array<[number, number, number]> = []
    for (let i = 1; i <= 8; i++) rows.push([1, i, i])
    for (let i = 5; i <= 10; i++) rows.push([2, i, i])
    const data = prepareLog(logOf(rows), "dense", config({ candidates: 2 }))
    const C = 3
    expect(
      Array.from(data.test.candidates.subarray(1, C))
        .map((i) => data.itemIds[i])
        .sort(),
    ).toEqual(["10", "9"])
    expect(checkPrepared(data)).toEqual([])
  })

  test("minRating drops low ratings before deduplication", () => {
    const log = logOf(
      [
        [1, 1, 1],
        [1, 2, 2],
        [1, 3, 3],
        [1, 4, 4],
        [2, 1, 1],
        [2, 2, 2],
        [2, 3, 3],
        [2, 4, 4],
      ],
      { rating: [5, 1, 4, 4, 5, 5, 3, 4] },
    )
    const data = prepareLog(log, "r", config({ minRating: 4, candidates: 1 }))
    expect(rawSequences(data)).toEqual({ "1": ["1", "3", "4"], "2": ["1", "2", "4"] })
  })

  test("exposure logs: clicks are positives, shown-not-clicked items exposure negatives", () => {
    const log = logOf(
      [
        [1, 1, 1],
        [1, 5, 2], // shown, not clicked
        [1, 2, 3],
        [1, 3, 4],
        [1, 2, 5], // shown again after the click: not a negative
        [1, 5, 6], // duplicate negative
        [2, 2, 1],
        [2, 3, 2],
        [2, 1, 3],
        [2, 4, 4], // shown, not clicked
        [2, 5, 5],
        [3, 6, 1],
        [3, 7, 2],
        [3, 4, 3],
        [3, 9, 4], // shown, never clicked by anyone: not an item of the data set
      ],
      { clicked: [1, 0, 1, 1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 1, 0] },
    )
    const data = prepareLog(log, "x", config({ candidates: 1 }))
    expect(rawSequences(data)).toEqual({
      "1": ["1", "2", "3"],
      "2": ["2", "3", "1", "5"],
      "3": ["6", "7", "4"],
    })
    const x = data.exposureNegatives!
    expect(Array.from(x.offsets)).toEqual([0, 1, 2, 2])
    expect(Array.from(x.items).map((i) => data.itemIds[i])).toEqual(["5", "4"])
  })

  test("typed errors: nothing left, too few interactions, not enough candidates, options", () => {
    const rows: Array<[number, number, number]> = [
      [1, 1, 1],
      [1, 2, 2],
      [2, 1, 1],
      [2, 2, 2],
      [2, 3, 3],
    ]
    const none = thrown(() => prepareLog(logOf(rows), "tiny", config({ kCore: 16 })))
    expect(none._tag).toBe("NoUsersLeft")
    expect(none.message).toContain("16-core")
    const few = thrown(() => prepareLog(logOf(rows), "tiny", config({ kCore: 1 })))
    expect(few._tag).toBe("TooFewInteractions")
    expect(few.message).toContain("user 1 has 2 interactions")
    const full = thrown(() =>
      prepareLog(logOf(rows.slice(2)), "tiny", config({ kCore: 1, candidates: 1 })),
    )
    expect(full._tag).toBe("NotEnoughCandidates")
    const bad = thrown(() => prepareLog(logOf(rows), "tiny", config({ historyLength: 0 })))
    expect(bad._tag).toBe("InvalidOption")
    expect(bad.message).toContain("historyLength")
    // an exposure log without a click has no positive interaction, whatever the k-core
    const unclicked = logOf(rows, { clicked: rows.map(() => 0) })
    for (const kCore of [1, 16]) {
      const noClick = thrown(() => prepareLog(unclicked, "log", config({ kCore })))
      expect(noClick._tag).toBe("NoPositiveInteractions")
      expect(noClick.message).toContain("no positive interactions in 5 rows")
      expect(noClick.message).toContain("clicked = 1")
      expect(noClick.message).not.toContain("core")
    }
  })
})
