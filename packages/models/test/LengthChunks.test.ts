/**
 * History-length chunks (`LengthChunks.ts`): rows sorted by history length, cut where one more
 * chunk costs less than the padding it saves. Used by DIN's "chunks" layout and by the CausalD
 * teachers.
 */
import { expect, test } from "bun:test"
import fc from "fast-check"
import * as LengthChunks from "../src/LengthChunks.ts"

/** Σ rows·(longest history) + overhead·chunks of chunk boundaries over sorted rows. */
const chunkCost = (lengths: Int32Array, rows: Int32Array, cuts: Int32Array, overhead: number) => {
  let cost = 0
  for (let c = 0; c + 1 < cuts.length; c++)
    cost += (cuts[c + 1]! - cuts[c]!) * Math.max(1, lengths[rows[cuts[c + 1]! - 1]!]!) + overhead
  return cost
}

test("property: chunks cover the rows sorted by history length at least cost", () => {
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 60 }),
      fc.integer({ min: 0, max: 200 }),
      (raw, overhead) => {
        const lengths = Int32Array.from(raw)
        // every other row, as the missing rows of a batch
        const rows = Int32Array.from(raw.keys()).filter((r) => r % 2 === 0 || raw.length === 1)
        const order = LengthChunks.byLength(rows.map((r) => lengths[r]!))
        expect([...order].sort((a, b) => a - b)).toEqual([...rows.keys()])
        const sorted = order.map((p) => rows[p]!)
        for (let i = 1; i < sorted.length; i++)
          expect(lengths[sorted[i]!]!).toBeGreaterThanOrEqual(lengths[sorted[i - 1]!]!)
        const cuts = LengthChunks.chunks(lengths, sorted, overhead)
        expect(cuts[0]).toBe(0)
        expect(cuts[cuts.length - 1]).toBe(sorted.length)
        for (let c = 1; c < cuts.length; c++) {
          expect(cuts[c]!).toBeGreaterThan(cuts[c - 1]!)
          // a cut never splits rows of equal length
          if (cuts[c]! < sorted.length)
            expect(lengths[sorted[cuts[c]!]!]).not.toBe(lengths[sorted[cuts[c]! - 1]!])
        }
        // no worse than one chunk, nor than one chunk per distinct length
        const cost = chunkCost(lengths, sorted, cuts, overhead)
        const one = Int32Array.of(0, sorted.length)
        const each = LengthChunks.chunks(lengths, sorted, 0)
        expect(cost).toBeLessThanOrEqual(chunkCost(lengths, sorted, one, overhead))
        expect(cost).toBeLessThanOrEqual(chunkCost(lengths, sorted, each, overhead))
        if (overhead > 12 * raw.length) expect(cuts.length).toBe(2)
      },
    ),
    { seed: 17, numRuns: 200 },
  )
})
