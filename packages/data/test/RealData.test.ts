/**
 * Tests on the real data sets of the shared folder (`../shared/data` beside the repository).
 * They are skipped, with a visible message, where that folder is absent.
 */
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { trainingBatchCount, trainingPositiveCount } from "../src/Batches.ts"
import { checkPrepared, userSequence } from "../src/Prepared.ts"
import { load } from "../src/Sources.ts"

const repoRoot = join(import.meta.dir, "..", "..", "..")
const shared = join(repoRoot, "..", "shared", "data")
const ml100k = join(shared, "ml-100k")
const beauty = join(shared, "amazon", "Beauty.txt")
const hasMl100k = existsSync(join(ml100k, "u.data"))
const hasBeauty = existsSync(beauty)
if (!hasMl100k) console.log(`SKIP ml-100k tests: ${ml100k} is absent`)
if (!hasBeauty) console.log(`SKIP Amazon Beauty tests: ${beauty} is absent`)

describe("real data", () => {
  test.skipIf(!hasMl100k)("ml-100k, 16-core: the Table 2 row of the data README", async () => {
    const data = await Effect.runPromise(load({ format: "movielens-100k", directory: ml100k }))
    expect(data.config.kCore).toBe(16)
    expect(data.stats.users).toBe(943)
    expect(data.stats.items).toBe(1010)
    expect(data.stats.interactions).toBe(96216)
    expect(data.stats.density).toBeCloseTo(96216 / (943 * 1010), 12)
    expect(checkPrepared(data)).toEqual([])
    expect(data.attributes?.map((a) => a.name)).toEqual(["gender", "age", "occupation"])
    // the data README's reference run: 186,774 training pairs (one negative each), 46 steps
    // an epoch at batch 4096
    expect(2 * trainingPositiveCount(data)).toBe(186774)
    expect(trainingBatchCount(data, { batchSize: 4096, epochSeed: 0 })).toBe(46)

    // no candidate (test or validation) was consumed by its user, anywhere in the sequence
    const C = 1 + data.config.candidates
    for (let u = 0; u < data.numUsers; u++) {
      const consumed = new Set(userSequence(data, u))
      for (const split of [data.test, data.validation])
        for (let c = 1; c < C; c++) expect(consumed.has(split.candidates[u * C + c]!)).toBe(false)
    }

    // the split is chronological: read u.data independently and compare timestamps
    const time = new Map<string, number>()
    for (const line of readFileSync(join(ml100k, "u.data"), "utf8").split("\n")) {
      const [user, item, , t] = line.split("\t")
      if (user !== undefined && item !== undefined && t !== undefined)
        time.set(`${user}:${item}`, Number(t))
    }
    let checked = 0
    for (let u = 0; u < data.numUsers; u++) {
      const times = Array.from(userSequence(data, u)).map(
        (i) => time.get(`${data.userIds[u]}:${data.itemIds[i]}`)!,
      )
      for (let k = 1; k < times.length; k++) expect(times[k]!).toBeGreaterThanOrEqual(times[k - 1]!)
      const test = times[times.length - 1]!
      const validation = times[times.length - 2]!
      expect(Math.max(...times.slice(0, -1))).toBeLessThanOrEqual(test)
      expect(Math.max(...times.slice(0, -2))).toBeLessThanOrEqual(validation)
      checked++
    }
    expect(checked).toBe(943)
  })

  test.skipIf(!hasBeauty)(
    "Amazon Beauty, 5-core: every user kept, targets are line ends",
    async () => {
      const data = await Effect.runPromise(load({ format: "sequences", file: beauty }))
      expect(data.config.kCore).toBe(5)
      expect(data.stats).toMatchObject({ users: 22363, items: 12101, interactions: 198502 })
      expect(checkPrepared(data)).toEqual([])
      const lines = readFileSync(beauty, "utf8").trim().split("\n")
      for (const line of lines.slice(0, 500)) {
        const [user, ...items] = line.trim().split(/\s+/)
        const u = data.userIds.indexOf(user!)
        expect(data.itemIds[data.test.target[u]!]).toBe(items[items.length - 1]!)
        expect(data.itemIds[data.validation.target[u]!]).toBe(items[items.length - 2]!)
      }
    },
  )
})
