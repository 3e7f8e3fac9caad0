/**
 * Rows sorted by history length and cut into chunks, each run at its own longest history: padded
 * positions only add masked zeros (DIN's activation unit, DeepFM's masked mean), so trimming them
 * changes no output, and real data are mostly padding (Amazon Beauty: median history 4 of 50).
 * The same scheme as the CausalD teachers' chunks (`@causald/training`, `CausalDObjective`).
 *
 * @module
 */

/** Positions 0..lengths.length-1 ordered by length (stable counting sort: lengths are 0..L). */
export const byLength = (lengths: Int32Array): Int32Array => {
  let max = 0
  for (let i = 0; i < lengths.length; i++) max = Math.max(max, lengths[i]!)
  const starts = new Int32Array(max + 2)
  for (let i = 0; i < lengths.length; i++) starts[lengths[i]! + 1]! += 1
  for (let v = 1; v < starts.length; v++) starts[v]! += starts[v - 1]!
  const out = new Int32Array(lengths.length)
  for (let i = 0; i < lengths.length; i++) out[starts[lengths[i]!]!++] = i
  return out
}

/**
 * Chunk boundaries [0, ..., n] over the rows `order` (sorted by length) minimising
 * Σ rows·max(1, longest length of the chunk) + overhead·chunks. Cuts fall between distinct
 * lengths only (at most L + 1 groups), so the dynamic programme is O(L²).
 */
export const chunks = (lengths: Int32Array, order: Int32Array, overhead: number): Int32Array => {
  const n = order.length
  if (n === 0) return Int32Array.of(0)
  const ends: Array<number> = []
  const width: Array<number> = []
  for (let i = 0; i < n; i++)
    if (i === n - 1 || lengths[order[i]!] !== lengths[order[i + 1]!]) {
      ends.push(i + 1)
      width.push(Math.max(1, lengths[order[i]!]!))
    }
  const groups = ends.length
  const best = new Float64Array(groups + 1)
  const from = new Int32Array(groups + 1)
  for (let g = 1; g <= groups; g++) {
    best[g] = Number.POSITIVE_INFINITY
    for (let f = 0; f < g; f++) {
      const start = f === 0 ? 0 : ends[f - 1]!
      const cost = best[f]! + (ends[g - 1]! - start) * width[g - 1]! + overhead
      if (cost < best[g]!) {
        best[g] = cost
        from[g] = f
      }
    }
  }
  const cuts: Array<number> = []
  for (let g = groups; g > 0; g = from[g]!) cuts.push(ends[g - 1]!)
  cuts.push(0)
  return Int32Array.from(cuts.reverse())
}

/** The inverse permutation: `inverse[order[i]] = i`. */
export const inverse = (order: Int32Array): Int32Array => {
  const out = new Int32Array(order.length)
  for (let i = 0; i < order.length; i++) out[order[i]!] = i
  return out
}
