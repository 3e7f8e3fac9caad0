/**
 * A simulated recommender in which front-door adjustment (paper eq. 3-5) is identified, with exact
 * oracles. The other simulator (`Simulated.ts`) summarises the history deterministically, so
 * P(m | x') = 0 for every history x' that does not produce m and eq. 5 is undefined there. Here
 * the mediator is stochastic and every value is possible after every history, so the front-door
 * formula evaluated with the world's own P(m | x), P(x) and P(y | m, x) equals the truth
 * P(y | do(x)) (`FrontDoor.test.ts` checks it on enumerated worlds with the core's estimator).
 *
 * The causal graph is the paper's Fig. 3 with a mediator: U -> X, U -> Y, X -> M -> Y; no U -> M,
 * no X -> Y but through M.
 * - U, a hidden taste for popular items (conformity, price sensitivity): Z levels
 *   u_z = -1 + 2z / (Z - 1), uniform prior. It acts on the history (which items: the same
 *   popularity term as the click; how many: activeness) and directly on the click.
 * - M, the user's current intent: one of T topics, P(m | x) ∝ exp(τ h_m(x)), h_m(x) the mean
 *   affinity of the last R items of x to topic m (uniform for an empty history). Every intent
 *   has positive probability after every history (positivity).
 * - Y, the click on item j: P(y = 1 | m, u, j) = σ(f(m, u, j)),
 *   f(m, u, j) = β0 + β a_{m,j} + (b + s κ u) pop_j, with a_{m,j} the item's affinity to topic m
 *   and pop_j its standardised popularity. s in [0, 1] is the confounding strength: at s = 0 U
 *   acts on nothing and observational = interventional.
 * - X, the history: length n = n_min + floor(a W), W = n_max - n_min + 1,
 *   a = (1 - s ρ) v + s ρ (u + 1) / 2, v ~ U[0, 1); then each next item is chosen as a click is
 *   made: m_t ~ P(m | x_<t), x_t ~ P(j | m_t, u) ∝ exp f(m_t, u, j) over items not yet consumed.
 *
 * Exact quantities for a history x (the test history: all but the last item; validation: all but
 * the last two, `drop` = 1 or 2):
 * - truth: P(y | do(x), j) = sum_m P(m | x) sum_u P(u) σ(f(m, u, j)) (U from its prior);
 * - observational oracle: P(y | x, j) = sum_m P(m | x) sum_u P(u | x) σ(f(m, u, j)), with
 *   P(u | x) ∝ P(u) P(n = |x| + drop | u) prod_t P(x_t | x_<t, u): the Bayes-optimal prediction
 *   of a model fitted to this data without adjustment.
 * The test clicks are also drawn under do(x) (`oracles.interventionalTest`): U from its prior,
 * independent of the history, then M and the chosen item as above.
 *
 * Equations, parameters and defaults: packages/data/README.md, "The front-door world".
 *
 * @module
 */

import { Random } from "@causald/core"
import type { Effect } from "effect"
import { attempt, type DataError, InvalidOption } from "./Errors.ts"
import { fromGeneratedSequences, topicEmbeddings, zipfPopularity } from "./internal/Items.ts"
import type { EvaluationSplit, PreparedDataset } from "./Prepared.ts"

/** Sizes and strengths of the front-door world; every field has a default. */
export interface FrontDoorOptions {
  readonly users?: number
  readonly items?: number
  /** T: the mediator's values (intents, one per topic); at least 2. */
  readonly intents?: number
  /** Shortest and longest whole sequence n (training part + validation + test target). */
  readonly minLength?: number
  readonly maxLength?: number
  /** Confounding strength s in [0, 1]: 0 makes U act on nothing. */
  readonly strength?: number
  /** Z: levels of the hidden confounder U (uniform prior). */
  readonly confounderLevels?: number
  /** β0: utility intercept. */
  readonly bias?: number
  /** β: weight of the item's affinity to the current intent. */
  readonly intentWeight?: number
  /** b: popularity preference every user has. */
  readonly popularityWeight?: number
  /** κ: popularity preference per unit of U at full strength (U in [-1, 1]). */
  readonly conformityWeight?: number
  /** ρ in [0, 1): share of the activeness draw taken from U at full strength. */
  readonly activenessWeight?: number
  /** τ: how sharply the recent items set the intent (0: uniform intent). */
  readonly intentSharpness?: number
  /** R: number of most recent items that set the intent. */
  readonly recent?: number
  /** ε: noise of the item-topic affinities. */
  readonly itemNoise?: number
  readonly seed?: number
  readonly candidates?: number
  readonly historyLength?: number
  readonly negativesPerPositive?: number
  readonly name?: string
}

/** The resolved options. */
export type FrontDoorParameters = Required<FrontDoorOptions>

/**
 * Defaults: a study of many models x 5 seeds runs in minutes on 2 cores, and the observational
 * oracle's rank correlation with the truth is clearly below 1 (packages/data/README.md).
 */
export const defaultFrontDoor: FrontDoorParameters = {
  users: 1000,
  items: 200,
  intents: 8,
  minLength: 8,
  maxLength: 30,
  strength: 1,
  confounderLevels: 5,
  bias: -2,
  intentWeight: 6,
  popularityWeight: 0,
  conformityWeight: 2,
  activenessWeight: 0.5,
  intentSharpness: 6,
  recent: 5,
  itemNoise: 0.3,
  seed: 0,
  candidates: 100,
  historyLength: 30,
  negativesPerPositive: 1,
  name: "frontdoor",
}

/** The hidden world behind a front-door data set. */
export interface FrontDoorWorld {
  readonly parameters: FrontDoorParameters
  /** Int32Array(I+1): topic of each item (index 0 unused). */
  readonly topic: Int32Array
  /** Float64Array((I+1)*T): affinity a_{m,j} at j*T + m (item j's unit topic embedding). */
  readonly affinity: Float64Array
  /** Float64Array(I+1): standardised popularity pop_j. */
  readonly popularity: Float64Array
  /** Float64Array(Z): the confounder's levels u_z (uniform prior). */
  readonly levels: Float64Array
  /** Float64Array(T*Z*(I+1)): exp f(m, u_z, j) at (m*Z + z)*(I+1) + j. */
  readonly choiceWeight: Float64Array
  /** Float64Array(T*Z*(I+1)): σ(f(m, u_z, j)), same layout. */
  readonly click: Float64Array
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-z))

/**
 * The options resolved against the defaults and checked; throws {@link InvalidOption} naming
 * the option. `forDataset` adds the data set's own constraints (sequences of at least 3 items,
 * enough unconsumed items for the candidates).
 */
export const resolve = (options: FrontDoorOptions, forDataset = true): FrontDoorParameters => {
  const p: FrontDoorParameters = { ...defaultFrontDoor, ...options }
  const int = (option: string, v: number, min: number, why = "") => {
    if (!Number.isInteger(v) || v < min)
      throw new InvalidOption({ option, expected: `an integer >= ${min}${why}`, found: String(v) })
  }
  const inRange = (option: string, v: number, ok: boolean, expected: string) => {
    if (!ok) throw new InvalidOption({ option, expected, found: String(v) })
  }
  int("users", p.users, 1)
  int("intents", p.intents, 2, " (the mediator needs several values)")
  int("minLength", p.minLength, forDataset ? 3 : 1)
  int("maxLength", p.maxLength, p.minLength)
  int("confounderLevels", p.confounderLevels, 1)
  int("recent", p.recent, 1)
  int("candidates", p.candidates, 1)
  int("items", p.items, forDataset ? p.maxLength + p.candidates : p.maxLength)
  int("historyLength", p.historyLength, 1)
  int("negativesPerPositive", p.negativesPerPositive, 0)
  int("seed", p.seed, Number.MIN_SAFE_INTEGER)
  inRange("strength", p.strength, p.strength >= 0 && p.strength <= 1, "a number in [0, 1]")
  inRange(
    "activenessWeight",
    p.activenessWeight,
    p.activenessWeight >= 0 && p.activenessWeight < 1,
    "a number in [0, 1)",
  )
  inRange(
    "intentSharpness",
    p.intentSharpness,
    p.intentSharpness >= 0 && Number.isFinite(p.intentSharpness),
    "a finite number >= 0",
  )
  for (const k of [
    "bias",
    "intentWeight",
    "popularityWeight",
    "conformityWeight",
    "itemNoise",
  ] as const)
    inRange(k, p[k], Number.isFinite(p[k]) && Math.abs(p[k]) <= 50, "a finite number in [-50, 50]")
  return p
}

/** Builds the hidden world (items, confounder levels, utilities) from resolved parameters. */
export const makeWorld = (p: FrontDoorParameters): FrontDoorWorld => {
  const { items: I, intents: T, confounderLevels: Z } = p
  const g = Random.rng(p.seed, "frontdoor-items")
  const { topic, embedding: affinity } = topicEmbeddings(g, I, T, p.itemNoise)
  const popularity = zipfPopularity(g, I)

  const levels = new Float64Array(Z)
  for (let z = 0; z < Z; z++) levels[z] = Z === 1 ? 0 : -1 + (2 * z) / (Z - 1)
  const choiceWeight = new Float64Array(T * Z * (I + 1))
  const click = new Float64Array(T * Z * (I + 1))
  for (let m = 0; m < T; m++)
    for (let z = 0; z < Z; z++) {
      const w = p.popularityWeight + p.strength * p.conformityWeight * levels[z]!
      const row = (m * Z + z) * (I + 1)
      for (let j = 1; j <= I; j++) {
        const f = p.bias + p.intentWeight * affinity[j * T + m]! + w * popularity[j]!
        choiceWeight[row + j] = Math.exp(f)
        click[row + j] = sigmoid(f)
      }
    }
  return { parameters: p, topic, affinity, popularity, levels, choiceWeight, click }
}

/** P(m | x) for every intent m, into `out` (eq. 5's first factor; never zero). */
export const intentDistribution = (
  world: FrontDoorWorld,
  history: ArrayLike<number>,
  out: Float64Array = new Float64Array(world.parameters.intents),
): Float64Array => {
  const p = world.parameters
  const T = p.intents
  const from = Math.max(0, history.length - p.recent)
  const n = history.length - from
  for (let m = 0; m < T; m++) {
    let h = 0
    for (let t = from; t < history.length; t++) h += world.affinity[history[t]! * T + m]!
    out[m] = n === 0 ? 0 : (p.intentSharpness * h) / n
  }
  return softmaxInPlace(out, T)
}

/**
 * exp(v_k - max v) / sum, in place over `v[0 .. n)`: a distribution from log-weights; all zeros
 * when every log-weight is -Infinity.
 */
const softmaxInPlace = (v: Float64Array, n: number): Float64Array => {
  let max = Number.NEGATIVE_INFINITY
  for (let k = 0; k < n; k++) if (v[k]! > max) max = v[k]!
  if (max === Number.NEGATIVE_INFINITY) return v.fill(0)
  let total = 0
  for (let k = 0; k < n; k++) {
    v[k] = Math.exp(v[k]! - max)
    total += v[k]!
  }
  for (let k = 0; k < n; k++) v[k]! /= total
  return v
}

/** P(n = length | U = u_z): the activeness model's probability of a sequence length. */
export const lengthProbability = (world: FrontDoorWorld, length: number, z: number): number => {
  const p = world.parameters
  const W = p.maxLength - p.minLength + 1
  const share = p.strength * p.activenessWeight
  const c = (world.levels[z]! + 1) / 2
  const k = length - p.minLength
  if (k < 0 || k >= W) return 0
  // n = length  <=>  (1 - share) v + share c in [k / W, (k + 1) / W), v ~ U[0, 1)
  const lo = (k / W - share * c) / (1 - share)
  const hi = ((k + 1) / W - share * c) / (1 - share)
  return Math.max(0, Math.min(1, hi) - Math.max(0, lo))
}

/**
 * log prod_t P(x_t | x_<t, U = u_z) for every level z, into `out`: each step a mixture over the
 * intent P(m | x_<t) of the choice among items not yet consumed.
 */
export const historyLogLikelihood = (
  world: FrontDoorWorld,
  history: ArrayLike<number>,
  out: Float64Array = new Float64Array(world.parameters.confounderLevels),
): Float64Array => {
  const p = world.parameters
  const { intents: T, confounderLevels: Z } = p
  const I1 = p.items + 1
  // D[m, z] = sum over unconsumed j of exp f(m, u_z, j), kept by subtraction
  const D = new Float64Array(T * Z)
  for (let r = 0; r < T * Z; r++) {
    let s = 0
    for (let j = 1; j < I1; j++) s += world.choiceWeight[r * I1 + j]!
    D[r] = s
  }
  const pm = new Float64Array(T)
  out.fill(0)
  for (let t = 0; t < history.length; t++) {
    intentDistribution(world, sliceOf(history, t), pm)
    const j = history[t]!
    for (let z = 0; z < Z; z++) {
      let step = 0
      for (let m = 0; m < T; m++) {
        const r = m * Z + z
        step += (pm[m]! * world.choiceWeight[r * I1 + j]!) / D[r]!
      }
      out[z]! += Math.log(step)
    }
    for (let r = 0; r < T * Z; r++) D[r]! -= world.choiceWeight[r * I1 + j]!
  }
  return out
}

const sliceOf = (a: ArrayLike<number>, end: number): ArrayLike<number> =>
  ArrayBuffer.isView(a)
    ? (a as unknown as Int32Array).subarray(0, end)
    : Array.from(a).slice(0, end)

/**
 * P(U = u_z | x) at the decision point after x, where `drop` items followed it (1: x is the test
 * history, 2: the validation history): ∝ P(u_z) P(n = |x| + drop | u_z) prod_t P(x_t | x_<t, u_z).
 * All zeros when no level can produce the history.
 */
export const confounderPosterior = (
  world: FrontDoorWorld,
  history: ArrayLike<number>,
  drop: number,
  out: Float64Array = new Float64Array(world.parameters.confounderLevels),
): Float64Array => {
  const Z = world.parameters.confounderLevels
  historyLogLikelihood(world, history, out)
  for (let z = 0; z < Z; z++) {
    const l = lengthProbability(world, history.length + drop, z)
    out[z] = l > 0 ? out[z]! + Math.log(l) : Number.NEGATIVE_INFINITY
  }
  return softmaxInPlace(out, Z)
}

/** sum_m P(m | x) sum_z w_z σ(f(m, u_z, j)): the click probability under confounder weights w. */
const clickUnder = (
  world: FrontDoorWorld,
  intent: Float64Array,
  weights: ArrayLike<number>,
  j: number,
): number => {
  const { intents: T, confounderLevels: Z } = world.parameters
  const I1 = world.parameters.items + 1
  let s = 0
  for (let m = 0; m < T; m++) {
    let inner = 0
    for (let z = 0; z < Z; z++) inner += weights[z]! * world.click[(m * Z + z) * I1 + j]!
    s += intent[m]! * inner
  }
  return s
}

const priorOf = (world: FrontDoorWorld): Float64Array =>
  new Float64Array(world.parameters.confounderLevels).fill(1 / world.parameters.confounderLevels)

/** The truth P(y = 1 | do(x), j): U from its prior, independent of the history. */
export const interventionalClickProbability = (
  world: FrontDoorWorld,
  history: ArrayLike<number>,
  item: number,
): number => clickUnder(world, intentDistribution(world, history), priorOf(world), item)

/** The observational oracle P(y = 1 | x, j) after `drop` further items (see the module doc). */
export const observationalClickProbability = (
  world: FrontDoorWorld,
  history: ArrayLike<number>,
  item: number,
  drop: number,
): number =>
  clickUnder(
    world,
    intentDistribution(world, history),
    confounderPosterior(world, history, drop),
    item,
  )

/** P(y = 1 | m, u_z, j): the click model. */
export const clickProbability = (world: FrontDoorWorld, m: number, z: number, j: number): number =>
  world.click[(m * world.parameters.confounderLevels + z) * (world.parameters.items + 1) + j]!

/**
 * Draws item `j` from P(j | m, u_z) ∝ exp f(m, u_z, j) over items with `consumed[j] === 0`.
 */
const drawItem = (
  world: FrontDoorWorld,
  g: Random.RandomGenerator,
  m: number,
  z: number,
  consumed: Uint8Array,
  weights: Float64Array,
): number => {
  const I = world.parameters.items
  const row = (m * world.parameters.confounderLevels + z) * (I + 1)
  let total = 0
  for (let j = 1; j <= I; j++) {
    const w = consumed[j] === 1 ? 0 : world.choiceWeight[row + j]!
    weights[j - 1] = w
    total += w
  }
  return 1 + Random.categorical(g, weights, I, total)
}

/** Draws an index from a probability vector. */
const drawIndex = (g: Random.RandomGenerator, probabilities: Float64Array): number =>
  Random.categorical(g, probabilities, probabilities.length, 1)

/** Draws the length and chronological items of a user with confounder level z. */
const drawSequence = (
  world: FrontDoorWorld,
  z: number,
  g: Random.RandomGenerator,
  weights: Float64Array,
  consumed: Uint8Array,
  intent: Float64Array,
): Int32Array => {
  const p = world.parameters
  const share = p.strength * p.activenessWeight
  const a = (1 - share) * Random.float(g) + (share * (world.levels[z]! + 1)) / 2
  const W = p.maxLength - p.minLength + 1
  const n = Math.min(p.maxLength, p.minLength + Math.floor(a * W))
  const seq = new Int32Array(n)
  consumed.fill(0)
  for (let t = 0; t < n; t++) {
    const m = drawIndex(g, intentDistribution(world, seq.subarray(0, t), intent))
    const j = drawItem(world, g, m, z, consumed, weights)
    consumed[j] = 1
    seq[t] = j
  }
  return seq
}

/** The exact quantities of one split's candidates: the truth and the observational oracle. */
const oraclesOf = (
  world: FrontDoorWorld,
  offsets: Int32Array,
  items: Int32Array,
  candidates: Int32Array,
  drop: number,
): { readonly truth: Float32Array; readonly observational: Float32Array } => {
  const U = offsets.length - 1
  const C = 1 + world.parameters.candidates
  const truth = new Float32Array(U * C)
  const observational = new Float32Array(U * C)
  const intent = new Float64Array(world.parameters.intents)
  const posterior = new Float64Array(world.parameters.confounderLevels)
  const prior = priorOf(world)
  for (let u = 0; u < U; u++) {
    const history = items.subarray(offsets[u]!, offsets[u + 1]! - drop)
    intentDistribution(world, history, intent)
    confounderPosterior(world, history, drop, posterior)
    for (let c = 0; c < C; c++) {
      const j = candidates[u * C + c]!
      truth[u * C + c] = clickUnder(world, intent, prior, j)
      observational[u * C + c] = clickUnder(world, intent, posterior, j)
    }
  }
  return { truth, observational }
}

/**
 * The test split with its clicks drawn under do(test history): for each user U' from its prior,
 * M from P(m | x), the target from P(j | m, u') among items not in x. The candidates are the
 * observational test's set with the new target in column 0 (the observational target takes the
 * new target's column when that was a negative, and drops out otherwise).
 */
const interventionalTestOf = (
  world: FrontDoorWorld,
  offsets: Int32Array,
  items: Int32Array,
  test: EvaluationSplit,
): EvaluationSplit => {
  const p = world.parameters
  const U = offsets.length - 1
  const C = 1 + p.candidates
  const g = Random.rng(p.seed, "frontdoor-interventional-test")
  const consumed = new Uint8Array(p.items + 1)
  const weights = new Float64Array(p.items)
  const intent = new Float64Array(p.intents)
  const target = new Int32Array(U)
  const candidates = Int32Array.from(test.candidates)
  for (let u = 0; u < U; u++) {
    const history = items.subarray(offsets[u]!, offsets[u + 1]! - 1)
    consumed.fill(0)
    for (const j of history) consumed[j] = 1
    const z = Random.int(g, p.confounderLevels)
    const m = drawIndex(g, intentDistribution(world, history, intent))
    const j = drawItem(world, g, m, z, consumed, weights)
    target[u] = j
    const row = candidates.subarray(u * C, u * C + C)
    const at = row.indexOf(j)
    if (at > 0) row[at] = row[0]!
    row[0] = j
  }
  return { target, candidates }
}

/**
 * A front-door data set and the world that generated it. Deterministic in the options (`seed`
 * included). Throws {@link InvalidOption} for options out of their domain.
 */
export const simulateFrontDoorWorld = (
  options: FrontDoorOptions = {},
): { readonly data: PreparedDataset; readonly world: FrontDoorWorld } => {
  const p = resolve(options)
  const world = makeWorld(p)
  const { users: U, items: I } = p
  const gu = Random.rng(p.seed, "frontdoor-users")
  const g = Random.rng(p.seed, "frontdoor-sequences")
  const weights = new Float64Array(I)
  const consumed = new Uint8Array(I + 1)
  const intent = new Float64Array(p.intents)
  const level = new Int32Array(U)
  const prepared = fromGeneratedSequences(U, I, p, (u) => {
    level[u] = Random.int(gu, p.confounderLevels)
    return drawSequence(world, level[u]!, g, weights, consumed, intent)
  })
  const { sequenceOffsets, sequenceItems } = prepared
  const splits = { validation: prepared.validation, test: prepared.test }
  const validation = oraclesOf(
    world,
    sequenceOffsets,
    sequenceItems,
    splits.validation.candidates,
    2,
  )
  const test = oraclesOf(world, sequenceOffsets, sequenceItems, splits.test.candidates, 1)
  const interventionalTest = interventionalTestOf(
    world,
    sequenceOffsets,
    sequenceItems,
    splits.test,
  )
  const interventional = oraclesOf(
    world,
    sequenceOffsets,
    sequenceItems,
    interventionalTest.candidates,
    1,
  )
  const data: PreparedDataset = {
    ...prepared,
    truth: { validationTruth: validation.truth, testTruth: test.truth },
    oracles: {
      validationObservational: validation.observational,
      testObservational: test.observational,
      interventionalTest,
      interventionalTestTruth: interventional.truth,
      interventionalTestObservational: interventional.observational,
    },
    confounder: {
      name: "popularity taste",
      values: Float32Array.from(level, (z) => world.levels[z]!),
    },
  }
  return { data, world }
}

/** A front-door data set (see {@link simulateFrontDoorWorld}). */
export const simulateFrontDoor = (options: FrontDoorOptions = {}): PreparedDataset =>
  simulateFrontDoorWorld(options).data

/** {@link simulateFrontDoor} as an Effect program failing with {@link InvalidOption}. */
export const generate = (
  options: FrontDoorOptions = {},
): Effect.Effect<PreparedDataset, DataError> => attempt(() => simulateFrontDoor(options))
