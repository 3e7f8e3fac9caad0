/**
 * A simulated recommender with a known causal effect. The paper cannot measure
 * P(Y | do(X)) on real data; here the data-generating process is known, so every validation
 * and test candidate carries its true interventional click probability.
 *
 * A hidden per-user confounder c (conformity: a taste for popular items that also drives
 * activeness) acts on both the history X (how many items, and which) and the next click Y (a
 * popularity boost), the back-door path X <- c -> Y of the paper's causal graph (Fig. 2). Items
 * have latent topics, users true interests that seed their history; the next click depends on
 * the history through the user's recent interests (the causal path X -> Y).
 *
 * Model (equations in packages/data/README.md), with s the confounding strength in [0, 1]:
 * - item j: topic t_j, unit embedding e_j = normalise(onehot(t_j) + eps * g_j), popularity
 *   pop_j (z-scored -log of a random Zipf rank);
 * - user u: c_u uniform on Z levels {0, 1/(Z-1), ..., 1} (the prior P(c)), unit interest
 *   theta_u over two topics;
 * - utility f(h, j, c) = beta0 + beta * <h, e_j> + (b + s * kappa * c) * pop_j;
 * - click model P(click | x, j, c) = sigmoid(f(h(x), j, c)), h(x) the mean embedding of the
 *   last R items of x;
 * - length n_u = minLength + floor(a_u * (maxLength - minLength + 1)), with
 *   a_u = (1 - s rho) v_u + s rho c_u, v_u ~ U[0, 1): activeness grows with c when s > 0;
 * - sequence: x_0 drawn with P(j) proportional to exp(f(theta_u, j, c_u)), then x_t with
 *   P(j | x_<t) proportional to exp(f(h(x_<t), j, c_u)) over items not yet consumed
 *   (multinomial logit on the same utility as the click model);
 * - truth: P(click | do(x), j) = sum_c P(c) sigmoid(f(h(x), j, c)), the click model averaged over
 *   the confounder's prior (back-door adjustment over the true confounder), not its posterior
 *   given the history.
 *
 * @module
 */

import { Random } from "@causald/core"
import type { Effect } from "effect"
import { attempt, type DataError, InvalidOption } from "./Errors.ts"
import {
  fromGeneratedSequences,
  normalise,
  topicEmbeddings,
  zipfPopularity,
} from "./internal/Items.ts"
import type { PreparedDataset } from "./Prepared.ts"

/** Sizes and strengths of the simulation; every field has a small default. */
export interface SimulationOptions {
  readonly users?: number
  readonly items?: number
  readonly topics?: number
  /** Shortest and longest whole sequence (training part + validation + test target). */
  readonly minLength?: number
  readonly maxLength?: number
  /** Confounding strength s in [0, 1]: 0 makes c independent of both X and Y. */
  readonly strength?: number
  /** Number Z of confounder levels (uniform prior). */
  readonly confounderLevels?: number
  /** beta0: utility intercept. */
  readonly bias?: number
  /** beta: weight of the match between recent history and the item. */
  readonly interestWeight?: number
  /** b: popularity preference every user has. */
  readonly popularityWeight?: number
  /** kappa: extra popularity preference per unit of conformity at full strength. */
  readonly conformityWeight?: number
  /** rho: share of the activeness draw taken from the confounder at full strength. */
  readonly activenessWeight?: number
  /** R: number of most recent items forming the interest summary h(x). */
  readonly recent?: number
  /** eps: noise of item embeddings around their topic. */
  readonly itemNoise?: number
  readonly seed?: number
  readonly candidates?: number
  readonly historyLength?: number
  readonly negativesPerPositive?: number
  readonly name?: string
}

/** The resolved options. */
export type SimulationParameters = Required<SimulationOptions>

/** Defaults: a whole study (many models x 3 seeds) runs in minutes on 2 cores. */
export const defaultSimulation: SimulationParameters = {
  users: 2000,
  items: 500,
  topics: 10,
  minLength: 10,
  maxLength: 60,
  strength: 1,
  confounderLevels: 5,
  bias: -2,
  interestWeight: 6,
  popularityWeight: 0.3,
  conformityWeight: 1,
  activenessWeight: 0.5,
  recent: 10,
  itemNoise: 0.3,
  seed: 0,
  candidates: 100,
  historyLength: 50,
  negativesPerPositive: 1,
  name: "simulated",
}

/** The hidden world behind a simulated data set. */
export interface SimulationWorld {
  readonly parameters: SimulationParameters
  /** Int32Array(I+1): topic of each item (index 0 unused). */
  readonly topic: Int32Array
  /** Float64Array((I+1)*T): unit item embeddings, row j for item j. */
  readonly embedding: Float64Array
  /** Float64Array(I+1): standardised popularity pop_j. */
  readonly popularity: Float64Array
  /** Float64Array(U*T): unit interest theta_u of each user. */
  readonly interest: Float64Array
  /** Float64Array(Z): the confounder levels (uniform prior). */
  readonly levels: Float64Array
  /** Float64Array(U): the confounder value of each user. */
  readonly confounder: Float64Array
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))

const resolve = (options: SimulationOptions): SimulationParameters => {
  const p: SimulationParameters = { ...defaultSimulation, ...options }
  const int = (option: string, v: number, min: number) => {
    if (!Number.isInteger(v) || v < min)
      throw new InvalidOption({ option, expected: `an integer >= ${min}`, found: String(v) })
  }
  int("users", p.users, 1)
  int("topics", p.topics, 1)
  int("minLength", p.minLength, 3)
  int("maxLength", p.maxLength, p.minLength)
  int("confounderLevels", p.confounderLevels, 1)
  int("recent", p.recent, 1)
  int("candidates", p.candidates, 1)
  int("items", p.items, p.maxLength + p.candidates)
  int("historyLength", p.historyLength, 1)
  int("negativesPerPositive", p.negativesPerPositive, 0)
  int("seed", p.seed, Number.MIN_SAFE_INTEGER)
  if (!(p.strength >= 0 && p.strength <= 1))
    throw new InvalidOption({
      option: "strength",
      expected: "a number in [0, 1]",
      found: String(p.strength),
    })
  for (const k of [
    "bias",
    "interestWeight",
    "popularityWeight",
    "conformityWeight",
    "itemNoise",
    "activenessWeight",
  ] as const)
    if (!Number.isFinite(p[k]))
      throw new InvalidOption({ option: k, expected: "a finite number", found: String(p[k]) })
  return p
}

/** Builds the hidden world (items, users, confounder) from the parameters. */
const makeWorld = (p: SimulationParameters): SimulationWorld => {
  const { users: U, items: I, topics: T } = p
  const gi = Random.rng(p.seed, "simulation-items")
  const { topic, embedding } = topicEmbeddings(gi, I, T, p.itemNoise)
  const popularity = zipfPopularity(gi, I)

  const Z = p.confounderLevels
  const levels = new Float64Array(Z)
  for (let z = 0; z < Z; z++) levels[z] = Z === 1 ? 0 : z / (Z - 1)
  const gu = Random.rng(p.seed, "simulation-users")
  const confounder = new Float64Array(U)
  const interest = new Float64Array(U * T)
  for (let u = 0; u < U; u++) {
    confounder[u] = levels[Random.int(gu, Z)]!
    const a = Random.int(gu, T)
    const b = Random.int(gu, T)
    for (let k = 0; k < T; k++)
      interest[u * T + k] =
        (k === a ? 1 : 0) + (k === b ? 0.5 : 0) + p.itemNoise * Random.normal(gu)
    normalise(interest, u * T, T)
  }
  return { parameters: p, topic, embedding, popularity, interest, levels, confounder }
}

/** The interest summary h(x): mean embedding of the last R items of `history` (into `out`). */
export const interestSummary = (
  world: SimulationWorld,
  history: ArrayLike<number>,
  out: Float64Array = new Float64Array(world.parameters.topics),
): Float64Array => {
  const T = world.parameters.topics
  out.fill(0)
  const from = Math.max(0, history.length - world.parameters.recent)
  const n = history.length - from
  for (let t = from; t < history.length; t++) {
    const j = history[t]!
    for (let k = 0; k < T; k++) out[k]! += world.embedding[j * T + k]! / n
  }
  return out
}

/** The utility f(h, j, c). */
const utility = (world: SimulationWorld, h: Float64Array, j: number, c: number): number => {
  const p = world.parameters
  const T = p.topics
  let dot = 0
  for (let k = 0; k < T; k++) dot += h[k]! * world.embedding[j * T + k]!
  return (
    p.bias +
    p.interestWeight * dot +
    (p.popularityWeight + p.strength * p.conformityWeight * c) * world.popularity[j]!
  )
}

/** The click model P(click | history, item, c). */
export const clickProbability = (
  world: SimulationWorld,
  history: ArrayLike<number>,
  item: number,
  c: number,
): number => sigmoid(utility(world, interestSummary(world, history), item, c))

/** P(click | do(history), item): the click model averaged over the confounder's prior. */
export const interventionalClickProbability = (
  world: SimulationWorld,
  history: ArrayLike<number>,
  item: number,
): number => {
  const h = interestSummary(world, history)
  let s = 0
  for (const c of world.levels) s += sigmoid(utility(world, h, item, c))
  return s / world.levels.length
}

/** Draws the chronological sequence of user u (items 1..I, distinct). */
const drawSequence = (
  world: SimulationWorld,
  u: number,
  g: Random.RandomGenerator,
  weights: Float64Array,
  consumed: Uint8Array,
  h: Float64Array,
): Int32Array => {
  const p = world.parameters
  const I = p.items
  const T = p.topics
  const c = world.confounder[u]!
  const share = p.strength * p.activenessWeight
  const a = (1 - share) * Random.float(g) + share * c
  const n = Math.min(p.maxLength, p.minLength + Math.floor(a * (p.maxLength - p.minLength + 1)))
  const seq = new Int32Array(n)
  consumed.fill(0)
  for (let k = 0; k < T; k++) h[k] = world.interest[u * T + k]!
  for (let t = 0; t < n; t++) {
    if (t > 0) interestSummary(world, seq.subarray(0, t), h)
    let total = 0
    for (let j = 1; j <= I; j++) {
      const w = consumed[j] === 1 ? 0 : Math.exp(utility(world, h, j, c))
      weights[j - 1] = w
      total += w
    }
    const j = 1 + Random.categorical(g, weights, I, total)
    consumed[j] = 1
    seq[t] = j
  }
  return seq
}

/**
 * A simulated data set and the world that generated it (for analysis). Deterministic in the
 * options (`seed` included). Throws {@link InvalidOption} for options out of their domain.
 */
export const simulateWorld = (
  options: SimulationOptions = {},
): { readonly data: PreparedDataset; readonly world: SimulationWorld } => {
  const p = resolve(options)
  const world = makeWorld(p)
  const { users: U, items: I, topics: T } = p
  const g = Random.rng(p.seed, "simulation-sequences")
  const weights = new Float64Array(I)
  const consumed = new Uint8Array(I + 1)
  const h = new Float64Array(T)
  const prepared = fromGeneratedSequences(U, I, p, (u) =>
    drawSequence(world, u, g, weights, consumed, h),
  )
  const { sequenceOffsets, sequenceItems } = prepared

  // the truth: P(click | do(history), candidate) for every stored candidate
  const C = 1 + p.candidates
  const truthOf = (candidates: Int32Array, drop: number): Float32Array => {
    const out = new Float32Array(U * C)
    for (let u = 0; u < U; u++) {
      const history = sequenceItems.subarray(sequenceOffsets[u]!, sequenceOffsets[u + 1]! - drop)
      interestSummary(world, history, h)
      for (let col = 0; col < C; col++) {
        const j = candidates[u * C + col]!
        let s = 0
        for (const c of world.levels) s += sigmoid(utility(world, h, j, c))
        out[u * C + col] = s / world.levels.length
      }
    }
    return out
  }

  const data: PreparedDataset = {
    ...prepared,
    truth: {
      validationTruth: truthOf(prepared.validation.candidates, 2),
      testTruth: truthOf(prepared.test.candidates, 1),
    },
    confounder: { name: "conformity", values: Float32Array.from(world.confounder) },
  }
  return { data, world }
}

/** A simulated data set (see {@link simulateWorld}). */
export const simulate = (options: SimulationOptions = {}): PreparedDataset =>
  simulateWorld(options).data

/** {@link simulate} as an Effect program failing with {@link InvalidOption}. */
export const generate = (
  options: SimulationOptions = {},
): Effect.Effect<PreparedDataset, DataError> => attempt(() => simulate(options))
