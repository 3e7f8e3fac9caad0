/**
 * The items of the simulated worlds (`Simulated.ts`, `FrontDoor.ts`): topics with noisy unit
 * embeddings, and a Zipf-like popularity. Both worlds draw them the same way, in this order, from
 * the generator they pass.
 *
 * @internal
 */
import { Random } from "@causald/core"

/** Scales `v[offset .. offset + n)` to unit length (a zero vector is left as it is). */
export const normalise = (v: Float64Array, offset: number, n: number): void => {
  let s = 0
  for (let k = 0; k < n; k++) s += v[offset + k]! ** 2
  const norm = Math.sqrt(s) || 1
  for (let k = 0; k < n; k++) v[offset + k]! /= norm
}

/**
 * Items 1..I: topic t_j uniform on T topics, unit embedding e_j = normalise(onehot(t_j) + eps g_j)
 * with g_j ~ N(0, I_T), stored row-major at `embedding[j * T + k]` (row 0 unused).
 */
export const topicEmbeddings = (
  g: Random.RandomGenerator,
  items: number,
  topics: number,
  noise: number,
): { readonly topic: Int32Array; readonly embedding: Float64Array } => {
  const topic = new Int32Array(items + 1)
  const embedding = new Float64Array((items + 1) * topics)
  for (let j = 1; j <= items; j++) {
    topic[j] = Random.int(g, topics)
    for (let k = 0; k < topics; k++)
      embedding[j * topics + k] = (k === topic[j] ? 1 : 0) + noise * Random.normal(g)
    normalise(embedding, j * topics, topics)
  }
  return { topic, embedding }
}

/** Popularity pop_j of items 1..I: the z-score of -log(rank_j) for a random ranking (Zipf-like). */
export const zipfPopularity = (g: Random.RandomGenerator, items: number): Float64Array => {
  const rank = new Int32Array(items)
  for (let j = 0; j < items; j++) rank[j] = j + 1
  Random.shuffle(g, rank)
  const popularity = new Float64Array(items + 1)
  let mean = 0
  for (let j = 1; j <= items; j++) {
    popularity[j] = -Math.log(rank[j - 1]!)
    mean += popularity[j]! / items
  }
  let sd = 0
  for (let j = 1; j <= items; j++) sd += (popularity[j]! - mean) ** 2 / items
  sd = Math.sqrt(sd) || 1
  for (let j = 1; j <= items; j++) popularity[j] = (popularity[j]! - mean) / sd
  return popularity
}
