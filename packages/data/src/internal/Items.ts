/**
 * The items of the simulated worlds (`Simulated.ts`, `FrontDoor.ts`): topics with noisy unit
 * embeddings, and a Zipf-like popularity. Both worlds draw them the same way, in this order, from
 * the generator they pass.
 *
 * @internal
 */
import { Random } from "@causald/core"
import { computeStats, type PreparedConfig, type PreparedDataset } from "../Prepared.ts"
import { splitAndDraw } from "../Protocol.ts"

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

/** What a simulated world's data set is made from besides its sequences. */
export interface GeneratedProtocol {
  readonly name: string
  readonly seed: number
  readonly historyLength: number
  readonly negativesPerPositive: number
  readonly candidates: number
}

/**
 * A prepared data set from generated sequences (`draw(u)` gives user u's chronological items):
 * the users' sequences in CSR form, ids `u<u>` and `i<j>`, no k-core, and the paper's
 * leave-last-out split with stored candidates (`Protocol.splitAndDraw`).
 */
export const fromGeneratedSequences = (
  users: number,
  items: number,
  protocol: GeneratedProtocol,
  draw: (user: number) => Int32Array,
): PreparedDataset => {
  const sequences: Array<Int32Array> = []
  const sequenceOffsets = new Int32Array(users + 1)
  for (let u = 0; u < users; u++) {
    const seq = draw(u)
    sequences.push(seq)
    sequenceOffsets[u + 1] = sequenceOffsets[u]! + seq.length
  }
  const sequenceItems = new Int32Array(sequenceOffsets[users]!)
  sequences.forEach((s, u) => {
    sequenceItems.set(s, sequenceOffsets[u]!)
  })
  const config: PreparedConfig = {
    kCore: 0,
    historyLength: protocol.historyLength,
    negativesPerPositive: protocol.negativesPerPositive,
    candidates: protocol.candidates,
    seed: protocol.seed,
    minRating: null,
  }
  const userIds = Array.from({ length: users }, (_, u) => `u${u}`)
  const itemIds = Array.from({ length: items + 1 }, (_, j) => (j === 0 ? "" : `i${j}`))
  return {
    name: protocol.name,
    config,
    stats: computeStats(users, items, sequenceItems.length),
    numUsers: users,
    numItems: items,
    userIds,
    itemIds,
    sequenceOffsets,
    sequenceItems,
    ...splitAndDraw(sequenceOffsets, sequenceItems, items, config, protocol.name, userIds),
  }
}
