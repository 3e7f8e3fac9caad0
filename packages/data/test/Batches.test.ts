import { describe, expect, test } from "bun:test"
import fc from "fast-check"
import {
  evaluationBatches,
  type TrainingBatch,
  trainingBatchCount,
  trainingBatches,
  trainingPositiveCount,
  trainingPositiveIndex,
} from "../src/Batches.ts"
import type { PreparedDataset } from "../src/Prepared.ts"
import { prepareLog } from "../src/Protocol.ts"
import { simulate } from "../src/Simulated.ts"
import { logOf, thrown } from "./helpers.ts"

const config = (over: Partial<PreparedDataset["config"]> = {}) => ({
  kCore: 0,
  historyLength: 3,
  negativesPerPositive: 2,
  candidates: 2,
  seed: 7,
  minRating: null,
  ...over,
})

/** Users 10, 20, 30 with 5, 3 and 6 distinct items among 1..12, time = position. */
const small = (): PreparedDataset => {
  const rows: Array<[number, number, number]> = []
  const add = (u: number, items: Array<number>) =>
    items.forEach((i, t) => {
      rows.push([u, i, t])
    })
  add(10, [1, 2, 3, 4, 5])
  add(20, [6, 7, 8])
  add(30, [9, 10, 11, 12, 1, 2])
  return prepareLog(logOf(rows), "small", config())
}

const allRows = (batches: Iterable<TrainingBatch>) => {
  const rows: Array<{ user: number; item: number; label: number; history: Array<number> }> = []
  for (const b of batches)
    for (let r = 0; r < b.size; r++)
      rows.push({
        user: b.user[r]!,
        item: b.item[r]!,
        label: b.label[r]!,
        history: Array.from(
          b.history.subarray(r * b.maxHistoryLength, r * b.maxHistoryLength + b.historyLength[r]!),
        ),
      })
  return rows
}

/** Checks every documented invariant of the training batches of `data`. */
const checkTraining = (
  data: PreparedDataset,
  batches: Array<TrainingBatch>,
  negatives: number,
  users?: Int32Array,
) => {
  const L = data.config.historyLength
  const consumed = (u: number) =>
    new Set(data.sequenceItems.subarray(data.sequenceOffsets[u]!, data.sequenceOffsets[u + 1]!))
  const positives = new Set<string>()
  const indices = new Set<number>()
  for (const b of batches) {
    expect(b.groupSize).toBe(1 + negatives)
    expect(b.size).toBe(b.positives * b.groupSize)
    expect(b.user.length).toBe(b.size)
    expect(b.history.length).toBe(b.size * L)
    for (let r = 0; r < b.size; r++) {
      const p = b.positiveRow[r]!
      expect(p).toBe(r - (r % b.groupSize))
      expect(b.positiveIndex[r]).toBe(b.positiveIndex[p]!)
      const u = b.user[r]!
      if (users !== undefined) expect(users.includes(u)).toBe(true)
      expect(b.user[p]).toBe(u)
      const h = b.historyLength[r]!
      expect(h).toBeGreaterThanOrEqual(1)
      expect(h).toBeLessThanOrEqual(L)
      for (let k = h; k < L; k++) expect(b.history[r * L + k]).toBe(0)
      for (let k = 0; k < L; k++) expect(b.history[r * L + k]).toBe(b.history[p * L + k]!)
      if (r === p) {
        expect(b.label[r]).toBe(1)
        // the positive is the item right after its history in the training part
        const s = data.sequenceOffsets[u]!
        const e = data.sequenceOffsets[u + 1]!
        const seq = Array.from(data.sequenceItems.subarray(s, e - 2))
        const t = seq.indexOf(b.item[r]!)
        expect(t).toBeGreaterThanOrEqual(1)
        expect(Array.from(b.history.subarray(r * L, r * L + h))).toEqual(
          seq.slice(Math.max(0, t - L), t),
        )
        positives.add(`${u}:${t}`)
        expect(b.positiveIndex[r]).toBe(trainingPositiveIndex(data, u, t))
        indices.add(b.positiveIndex[r]!)
      } else {
        expect(b.label[r]).toBe(0)
        expect(consumed(u).has(b.item[r]!)).toBe(false)
        expect(b.item[r]).toBeGreaterThanOrEqual(1)
        expect(b.item[r]).toBeLessThanOrEqual(data.numItems)
      }
    }
  }
  // every training positive exactly once
  expect(positives.size).toBe(trainingPositiveCount(data, users))
  expect(batches.reduce((s, b) => s + b.positives, 0)).toBe(positives.size)
  // one index per positive, inside the data set's range
  expect(indices.size).toBe(positives.size)
  for (const i of indices) {
    expect(i).toBeGreaterThanOrEqual(0)
    expect(i).toBeLessThan(trainingPositiveCount(data))
  }
}

describe("trainingBatches", () => {
  test("positives are every position t >= 1 of the training part, with their histories", () => {
    const data = small()
    // training parts: [1,2,3] -> 2 positives; [6] -> 0; [9,10,11,12] -> 3
    expect(trainingPositiveCount(data)).toBe(5)
    const batches = [...trainingBatches(data, { batchSize: 6, epochSeed: 1, shuffle: false })]
    expect(batches.length).toBe(trainingBatchCount(data, { batchSize: 6, epochSeed: 1 }))
    expect(batches.map((b) => b.positives)).toEqual([2, 2, 1])
    const rows = allRows(batches).filter((r) => r.label === 1)
    const item = (u: number, raw: string) => data.itemIds.indexOf(raw) + 0 * u
    expect(rows.map((r) => [data.userIds[r.user], data.itemIds[r.item]])).toEqual([
      ["10", "2"],
      ["10", "3"],
      ["30", "10"],
      ["30", "11"],
      ["30", "12"],
    ])
    // history length L = 3: the most recent 3 items, oldest first
    expect(rows[4]!.history).toEqual([item(0, "9"), item(0, "10"), item(0, "11")])
    expect(rows[0]!.history).toEqual([item(0, "1")])
    checkTraining(data, batches, 2)
  })

  test("the same epoch seed repeats the epoch, another seed reshuffles and redraws", () => {
    const data = simulate({ users: 60, items: 150, candidates: 20, maxLength: 30 })
    const a = allRows(trainingBatches(data, { batchSize: 64, epochSeed: 3 }))
    const b = allRows(trainingBatches(data, { batchSize: 64, epochSeed: 3 }))
    const c = allRows(trainingBatches(data, { batchSize: 64, epochSeed: 4 }))
    expect(b).toEqual(a)
    expect(c).not.toEqual(a)
    const key = (r: { user: number; item: number; label: number }) => `${r.user}:${r.item}`
    const positives = (rows: typeof a) =>
      rows
        .filter((r) => r.label === 1)
        .map(key)
        .sort()
    expect(positives(c)).toEqual(positives(a))
  })

  test("reused buffers hold the same rows as fresh ones, the last batch is a view", () => {
    const data = simulate({ users: 40, items: 150, candidates: 20, maxLength: 25 })
    const fresh = allRows(trainingBatches(data, { batchSize: 50, epochSeed: 9 }))
    const reused: Array<ReturnType<typeof allRows>[number]> = []
    let last: TrainingBatch | undefined
    const buffers = new Set<ArrayBufferLike>()
    for (const batch of trainingBatches(data, {
      batchSize: 50,
      epochSeed: 9,
      reuseBuffers: true,
    })) {
      reused.push(...allRows([batch]))
      buffers.add(batch.history.buffer)
      last = batch
    }
    expect(reused).toEqual(fresh)
    expect(buffers.size).toBe(1)
    expect(last!.history.length).toBe(last!.size * data.config.historyLength)
  })

  test("a user subset trains on those users only", () => {
    const data = simulate({ users: 50, items: 150, candidates: 20, maxLength: 25 })
    const users = Int32Array.from([3, 7, 11, 40])
    const batches = [...trainingBatches(data, { batchSize: 32, epochSeed: 1, users })]
    checkTraining(data, batches, data.config.negativesPerPositive, users)
  })

  test("a positive's index names the same row in every epoch, order and user subset", () => {
    const data = simulate({ users: 50, items: 150, candidates: 20, maxLength: 25 })
    const L = data.config.historyLength
    const byIndex = (batches: Iterable<TrainingBatch>) => {
      const rows = new Map<number, string>()
      for (const b of batches)
        for (let r = 0; r < b.size; r += b.groupSize) {
          const history = Array.from(b.history.subarray(r * L, r * L + b.historyLength[r]!))
          rows.set(b.positiveIndex[r]!, `${b.user[r]}|${b.item[r]}|${history.join(",")}`)
        }
      return rows
    }
    const ordered = byIndex(trainingBatches(data, { batchSize: 30, epochSeed: 1, shuffle: false }))
    // unshuffled, all users: the indices are 0, 1, 2, ... in batch order
    expect([...ordered.keys()]).toEqual(
      Array.from({ length: trainingPositiveCount(data) }, (_, i) => i),
    )
    const other = byIndex(trainingBatches(data, { batchSize: 64, epochSeed: 2, negatives: 3 }))
    expect(new Map([...other].sort((a, b) => a[0] - b[0]))).toEqual(ordered)
    const users = Int32Array.from([4, 9, 33])
    const subset = byIndex(trainingBatches(data, { batchSize: 8, epochSeed: 5, users }))
    expect(subset.size).toBe(trainingPositiveCount(data, users))
    for (const [i, row] of subset) expect(row).toBe(ordered.get(i)!)
    expect(thrown(() => trainingPositiveIndex(data, 0, 0))._tag).toBe("InvalidOption")
    expect(thrown(() => trainingPositiveIndex(data, 50, 1))._tag).toBe("InvalidOption")
  })

  test("bad options are typed errors", () => {
    const data = small()
    const run = (o: Parameters<typeof trainingBatches>[1]) => () => [...trainingBatches(data, o)]
    expect(thrown(run({ batchSize: 2, epochSeed: 0 }))._tag).toBe("InvalidOption") // < 1 + 2
    expect(thrown(run({ batchSize: 8, epochSeed: 0, negatives: -1 }))._tag).toBe("InvalidOption")
    expect(thrown(run({ batchSize: 8, epochSeed: 0, users: [0, 0] }))._tag).toBe("InvalidOption")
    const e = thrown(run({ batchSize: 8, epochSeed: 0, users: [5] }))
    expect(e.message).toContain("0..2")
  })

  test("property: invariants hold for random data sets and options", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uniqueArray(fc.integer({ min: 1, max: 30 }), { minLength: 3, maxLength: 12 }), {
          minLength: 1,
          maxLength: 8,
        }),
        fc.integer({ min: 0, max: 3 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer(),
        (sequences, negatives, batchSize, L, epochSeed) => {
          const rows: Array<[number, number, number]> = []
          sequences.forEach((s, u) => {
            s.forEach((i, t) => {
              rows.push([u, i, t])
            })
          })
          // add a user consuming nothing of the items 31..45, so every user has unconsumed items
          for (let i = 31; i <= 45; i++) rows.push([99, i, i])
          const data = prepareLog(logOf(rows), "p", config({ historyLength: L, candidates: 3 }))
          const size = Math.max(batchSize, 1 + negatives)
          const batches = [...trainingBatches(data, { batchSize: size, negatives, epochSeed })]
          checkTraining(data, batches, negatives)
        },
      ),
      { seed: 42, numRuns: 60 },
    )
  })
})

describe("evaluationBatches", () => {
  test("histories stop before the split's target; candidates and truth are the stored ones", () => {
    const data = simulate({ users: 30, items: 150, candidates: 20, maxLength: 25 })
    const L = data.config.historyLength
    const C = 21
    for (const split of ["validation", "test"] as const) {
      const seen: Array<number> = []
      for (const b of evaluationBatches(data, split, { batchSize: 7 })) {
        expect(b.candidatesPerUser).toBe(C)
        expect(b.truth?.length).toBe(b.size * C)
        for (let i = 0; i < b.size; i++) {
          const u = b.user[i]!
          seen.push(u)
          const s = data.sequenceOffsets[u]!
          const e = data.sequenceOffsets[u + 1]! - (split === "validation" ? 2 : 1)
          const expected = Array.from(data.sequenceItems.subarray(Math.max(s, e - L), e))
          expect(Array.from(b.history.subarray(i * L, i * L + b.historyLength[i]!))).toEqual(
            expected,
          )
          expect(b.candidates[i * C]).toBe(data[split].target[u]!)
          expect(Array.from(b.candidates.subarray(i * C, i * C + C))).toEqual(
            Array.from(data[split].candidates.subarray(u * C, u * C + C)),
          )
          const truth = split === "validation" ? data.truth!.validationTruth : data.truth!.testTruth
          expect(Array.from(b.truth!.subarray(i * C, i * C + C))).toEqual(
            Array.from(truth.subarray(u * C, u * C + C)),
          )
        }
      }
      expect(seen).toEqual(Array.from({ length: 30 }, (_, u) => u))
    }
  })

  test("a user subset in the given order, with reused buffers", () => {
    const data = small()
    const batches = [
      ...evaluationBatches(data, "test", { batchSize: 2, users: [2, 0], reuseBuffers: true }),
    ]
    expect(batches.length).toBe(1)
    expect(Array.from(batches[0]!.user)).toEqual([2, 0])
    expect(batches[0]!.truth).toBeUndefined()
    // user 0 (raw 10): test history = [1,2,3,4] -> last 3
    const L = 3
    expect(Array.from(batches[0]!.history.subarray(L, 2 * L)).map((i) => data.itemIds[i])).toEqual([
      "2",
      "3",
      "4",
    ])
  })
})

test("the history width can be overridden per call", () => {
  const data = simulate({ users: 20, items: 150, candidates: 20, maxLength: 30 })
  const [train] = [...trainingBatches(data, { batchSize: 16, epochSeed: 0, historyLength: 4 })]
  expect(train!.maxHistoryLength).toBe(4)
  expect(train!.history.length).toBe(train!.size * 4)
  expect(Math.max(...train!.historyLength)).toBeLessThanOrEqual(4)
  const [evaluation] = [...evaluationBatches(data, "test", { batchSize: 5, historyLength: 2 })]
  expect(Array.from(evaluation!.historyLength)).toEqual([2, 2, 2, 2, 2])
  const u = evaluation!.user[0]!
  const end = data.sequenceOffsets[u + 1]! - 1
  expect(Array.from(evaluation!.history.subarray(0, 2))).toEqual(
    Array.from(data.sequenceItems.subarray(end - 2, end)),
  )
  expect(() => [
    ...trainingBatches(data, { batchSize: 16, epochSeed: 0, historyLength: 0 }),
  ]).toThrow("historyLength")
})
