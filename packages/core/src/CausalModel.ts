/**
 * Ground-truth structural causal models over discrete variables, to test the estimators of
 * the Adjustment module against a known P(Y | do(X)).
 *
 * A {@link Model} is a causal Bayesian network: nodes in topological order, each with its parents
 * and a conditional probability table (CPT). The true interventional distribution is computed by
 * intervening on the model itself ({@link intervene}: cut the treatment's incoming edges and fix its
 * value, then marginalise), never with the adjustment formulas under test.
 *
 * Two generators build the graphs of the paper's Figure 3 with random CPTs drawn from the seeded
 * named streams of {@link Random} ("front-door", "back-door"; samples from "sample"):
 * - {@link frontDoor}: U -> X, U -> Y, X -> M -> Y with U unobserved (optionally U -> M, which breaks
 *   the front-door criterion);
 * - {@link backDoor}: Z -> X, Z -> Y, X -> Y with Z observed.
 *
 * @since 0.1.0
 */
import { Result, Schema } from "effect"
import type { EffectTable, Joint } from "./Adjustment.ts"
import * as Internal from "./internal/Joint.ts"
import * as Random from "./Random.ts"

/**
 * One variable of a causal model and its mechanism P(node | parents).
 *
 * `cpt` is row-major with one row per configuration of the parents (parents in the order of
 * `parents`, the last varying fastest) and one column per value of the node: P(node = v | pa) is at
 * `flat(pa) * cardinality + v`. Each row sums to one.
 *
 * @since 0.1.0
 */
export interface Node<V extends string> {
  readonly name: V
  readonly cardinality: number
  readonly parents: ReadonlyArray<V>
  readonly cpt: Float64Array
}

/**
 * A causal Bayesian network over variables V, of which O are observed.
 *
 * @since 0.1.0
 */
export interface Model<V extends string, O extends V = V> {
  /** Nodes in a topological order: every parent comes before its children. */
  readonly nodes: ReadonlyArray<Node<V>>
  /** The observed variables, in the order used by {@link observationalJoint} and {@link sample}. */
  readonly observed: ReadonlyArray<O>
}

/**
 * A model or generator option is malformed (unknown or out-of-order parent, CPT of the wrong size
 * or not row-stochastic, bad cardinality, seed or confounding strength).
 *
 * @since 0.1.0
 */
export class InvalidModel extends Schema.TaggedError<InvalidModel>()("InvalidModel", {
  reason: Schema.String,
}) {
  override get message(): string {
    return `invalid causal model: ${this.reason}`
  }
}

const ROW_TOLERANCE = 1e-9

/**
 * Validates a model: distinct names, parents declared earlier (topological order), positive integer
 * cardinalities, CPTs of the right size with finite non-negative rows summing to one, observed
 * variables known.
 *
 * @since 0.1.0
 */
export const make = <V extends string, O extends V>(
  nodes: ReadonlyArray<Node<V>>,
  observed: ReadonlyArray<O>,
): Result.Result<Model<V, O>, InvalidModel> => {
  const fail = (reason: string) => Result.fail(new InvalidModel({ reason }))
  const seen = new Map<string, number>()
  for (const node of nodes) {
    if (seen.has(node.name)) return fail(`duplicate variable ${node.name}`)
    if (!Number.isInteger(node.cardinality) || node.cardinality < 1) {
      return fail(`cardinality of ${node.name} must be a positive integer, got ${node.cardinality}`)
    }
    let rows = 1
    for (const parent of node.parents) {
      const k = seen.get(parent)
      if (k === undefined) {
        return fail(`parent ${parent} of ${node.name} is not declared before it`)
      }
      rows *= k
    }
    if (node.cpt.length !== rows * node.cardinality) {
      return fail(
        `CPT of ${node.name} has ${node.cpt.length} entries, expected ${rows} parent configurations x ${node.cardinality} values`,
      )
    }
    for (let r = 0; r < rows; r++) {
      let total = 0
      for (let v = 0; v < node.cardinality; v++) {
        const p = node.cpt[r * node.cardinality + v]
        if (!Number.isFinite(p) || p < 0) {
          return fail(`CPT of ${node.name}, parent configuration ${r}, value ${v} is ${p}`)
        }
        total += p
      }
      if (Math.abs(total - 1) > ROW_TOLERANCE) {
        return fail(`CPT row ${r} of ${node.name} sums to ${total}, not 1`)
      }
    }
    seen.set(node.name, node.cardinality)
  }
  for (const o of observed) {
    if (!seen.has(o)) return fail(`observed variable ${o} is not a node`)
  }
  if (new Set(observed).size !== observed.length) return fail("observed variables repeat")
  return Result.succeed({ nodes: [...nodes], observed: [...observed] })
}

/** For each node, the positions of its parents in `nodes`. */
const parentIndices = <V extends string>(nodes: ReadonlyArray<Node<V>>): Array<Array<number>> =>
  nodes.map((node) => node.parents.map((p) => nodes.findIndex((n) => n.name === p)))

/** Row of `node`'s CPT for the parents' values in `values`. */
const cptRow = (
  parents: ReadonlyArray<number>,
  cardinalities: ReadonlyArray<number>,
  values: ArrayLike<number>,
): number => {
  let row = 0
  for (const p of parents) row = row * cardinalities[p] + values[p]
  return row
}

/**
 * The full joint distribution over every variable (latent ones included), axes in node order:
 * the product of the CPTs, P(v_1, ..., v_n) = prod_i P(v_i | pa_i). {@link make} has validated
 * every CPT, so this is a distribution, a {@link Joint} the Adjustment estimators accept. CPT rows
 * may each miss one by the 1e-9 that {@link make} allows, and over several nodes the product can
 * then miss one by more than the 1e-9 a Joint allows: only in that case it is divided by its sum.
 *
 * @since 0.1.0
 */
export const joint = <V extends string, O extends V>(model: Model<V, O>): Joint<V> => {
  const { nodes } = model
  const cards = nodes.map((n) => n.cardinality)
  const parents = parentIndices(nodes)
  const cells = cards.reduce((a, b) => a * b, 1)
  const probabilities = new Float64Array(cells)
  const values = new Int32Array(nodes.length)
  for (let cell = 0; cell < cells; cell++) {
    let p = 1
    for (let i = 0; i < nodes.length && p !== 0; i++) {
      const node = nodes[i]
      p *= node.cpt[cptRow(parents[i], cards, values) * node.cardinality + values[i]]
    }
    probabilities[cell] = p
    for (let i = nodes.length - 1; i >= 0; i--) {
      values[i]++
      if (values[i] < cards[i]) break
      values[i] = 0
    }
  }
  const total = probabilities.reduce((a, b) => a + b, 0)
  if (Math.abs(total - 1) > Internal.SUM_TOLERANCE) {
    for (let cell = 0; cell < cells; cell++) probabilities[cell] /= total
  }
  return Internal.make(
    nodes.map((n) => n.name),
    cards,
    probabilities,
  )
}

const marginalise = <V extends string, K extends V>(
  full: Joint<V>,
  keep: ReadonlyArray<K>,
): Joint<K> => {
  const axes = keep.map((k) => full.variables.indexOf(k))
  const outCards = axes.map((a) => full.cardinalities[a])
  const out = new Float64Array(outCards.reduce((a, b) => a * b, 1))
  const rank = full.cardinalities.length
  const values = new Int32Array(rank)
  for (let cell = 0; cell < full.probabilities.length; cell++) {
    let target = 0
    for (let j = 0; j < axes.length; j++) target = target * outCards[j] + values[axes[j]]
    out[target] += full.probabilities[cell]
    for (let i = rank - 1; i >= 0; i--) {
      values[i]++
      if (values[i] < full.cardinalities[i]) break
      values[i] = 0
    }
  }
  return Internal.make(keep, outCards, out)
}

/**
 * The exact joint distribution of the observed variables (latent ones summed out), axes in the
 * order of `model.observed`.
 *
 * @since 0.1.0
 */
export const observationalJoint = <V extends string, O extends V>(model: Model<V, O>): Joint<O> =>
  marginalise(joint(model), model.observed)

/**
 * The intervention do(variable = value): the node loses its parents (its incoming edges are cut)
 * and takes `value` with probability one; every other mechanism is unchanged.
 *
 * @since 0.1.0
 */
export const intervene = <V extends string, O extends V>(
  model: Model<V, O>,
  variable: V,
  value: number,
): Result.Result<Model<V, O>, InvalidModel> => {
  const node = model.nodes.find((n) => n.name === variable)
  if (node === undefined) {
    return Result.fail(new InvalidModel({ reason: `cannot intervene on unknown ${variable}` }))
  }
  if (!Number.isInteger(value) || value < 0 || value >= node.cardinality) {
    return Result.fail(
      new InvalidModel({
        reason: `do(${variable} = ${value}): expected a value in 0..${node.cardinality - 1}`,
      }),
    )
  }
  const cpt = new Float64Array(node.cardinality)
  cpt[value] = 1
  return Result.succeed({
    nodes: model.nodes.map((n) => (n === node ? { ...node, parents: [], cpt } : n)),
    observed: model.observed,
  })
}

/**
 * The true P(Y = y | do(X = x)) as `table[x][y]`, by intervening on the model for each x and
 * marginalising the post-intervention joint onto Y.
 *
 * @since 0.1.0
 */
export const interventional = <V extends string, O extends V>(
  model: Model<V, O>,
  variables: { readonly treatment: V; readonly outcome: V },
): Result.Result<EffectTable, InvalidModel> => {
  const treatment = model.nodes.find((n) => n.name === variables.treatment)
  if (treatment === undefined || !model.nodes.some((n) => n.name === variables.outcome)) {
    return Result.fail(
      new InvalidModel({
        reason: `treatment ${variables.treatment} or outcome ${variables.outcome} is not a node`,
      }),
    )
  }
  const rows: Array<Float64Array> = []
  for (let x = 0; x < treatment.cardinality; x++) {
    const intervened = intervene(model, variables.treatment, x)
    if (Result.isFailure(intervened)) return Result.fail(intervened.failure)
    rows.push(marginalise(joint(intervened.success), [variables.outcome]).probabilities)
  }
  return Result.succeed(rows)
}

/**
 * n i.i.d. observations of the observed variables by ancestral sampling, reproducible from `seed`
 * (any integer: the "sample" stream of {@link Random.rng}, apart from the CPTs' streams).
 * `columns[v][i]` is the value of v in observation i.
 *
 * @since 0.1.0
 */
export const sample = <V extends string, O extends V>(
  model: Model<V, O>,
  n: number,
  seed: number,
): Result.Result<{ readonly [K in O]: Int32Array }, InvalidModel> => {
  if (!Number.isInteger(n) || n < 0) {
    return Result.fail(
      new InvalidModel({ reason: `sample size must be a natural number, got ${n}` }),
    )
  }
  if (!Number.isInteger(seed)) {
    return Result.fail(new InvalidModel({ reason: `seed must be an integer, got ${seed}` }))
  }
  const { nodes } = model
  const cards = nodes.map((node) => node.cardinality)
  const parents = parentIndices(nodes)
  const rng = Random.rng(seed, "sample")
  // One view per CPT row, made once: the draw loop allocates nothing.
  const rows = nodes.map((node) =>
    Array.from({ length: node.cpt.length / node.cardinality }, (_, r) =>
      node.cpt.subarray(r * node.cardinality, (r + 1) * node.cardinality),
    ),
  )
  const columns = nodes.map(() => new Int32Array(n))
  const values = new Int32Array(nodes.length)
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < nodes.length; j++) {
      const k = nodes[j].cardinality
      values[j] = Random.categorical(rng, rows[j][cptRow(parents[j], cards, values)], k, 1)
      columns[j][i] = values[j]
    }
  }
  const out: Partial<Record<O, Int32Array>> = {}
  for (const o of model.observed) out[o] = columns[nodes.findIndex((node) => node.name === o)]
  return Result.succeed(out as { readonly [K in O]: Int32Array })
}

/**
 * A random CPT with `rows` rows over `k` values: each row mixes a random distribution, whose
 * entries differ by less than a factor 2 (weights uniform in [1, 2)), with weight 1 - s, and a
 * point mass on `target(row)` with weight s. The random part keeps every entry positive; the point
 * mass makes the dependence on the parent as strong as the caller needs.
 */
const randomCpt = (
  rng: Random.RandomGenerator,
  rows: number,
  k: number,
  strength: number,
  target: (row: number) => number,
): Float64Array => {
  const cpt = new Float64Array(rows * k)
  for (let r = 0; r < rows; r++) {
    let total = 0
    for (let v = 0; v < k; v++) {
      const w = 1 + Random.float(rng)
      cpt[r * k + v] = w
      total += w
    }
    for (let v = 0; v < k; v++) cpt[r * k + v] = ((1 - strength) * cpt[r * k + v]) / total
    if (strength > 0) cpt[r * k + target(r)] += strength
  }
  return cpt
}

const noTarget = () => 0

/** Strength of X -> M: P(M | X = x) puts an extra mass 1/2 on x mod |M|, so do(X) visibly matters. */
const MEDIATION = 0.5

/**
 * Options of {@link frontDoor}.
 *
 * @since 0.1.0
 */
export interface FrontDoorOptions {
  /** Seed of the CPTs' random stream (any integer; see {@link Random.rng}). */
  readonly seed: number
  /** Cardinalities of U, X, M, Y; each at least 2, default 2. */
  readonly cardinalities?: Partial<Record<"U" | "X" | "M" | "Y", number>>
  /**
   * Confounding strength s in [0, 1), default 0.5: P(X | U = u) and P(Y | M, U = u) put an extra
   * mass s on the value u mod 2 (see {@link frontDoor}).
   */
  readonly confounding?: number
  /** Add the edge U -> M (with the same strength s), which breaks front-door requirement (ii). */
  readonly confounderAffectsMediator?: boolean
}

/**
 * Options of {@link backDoor}.
 *
 * @since 0.1.0
 */
export interface BackDoorOptions {
  /** Seed of the CPTs' random stream (any integer; see {@link Random.rng}). */
  readonly seed: number
  /** Cardinalities of Z, X, Y; each at least 2, default 2. */
  readonly cardinalities?: Partial<Record<"Z" | "X" | "Y", number>>
  /**
   * Confounding strength s in [0, 1), default 0.5: P(X | Z = z) and P(Y | X, Z = z) put an extra
   * mass s on the value z mod 2.
   */
  readonly confounding?: number
}

const checkOptions = (
  seed: number,
  cards: Record<string, number>,
  strength: number,
): string | undefined => {
  if (!Number.isInteger(seed)) return `seed must be an integer, got ${seed}`
  for (const [name, k] of Object.entries(cards)) {
    if (!Number.isInteger(k) || k < 2)
      return `cardinality of ${name} must be an integer >= 2, got ${k}`
  }
  if (!(strength >= 0 && strength < 1)) return `confounding must be in [0, 1), got ${strength}`
  return undefined
}

/**
 * A random model of the front-door graph: U -> X, U -> Y, X -> M -> Y, with U unobserved and X, M, Y
 * observed (and U -> M when `confounderAffectsMediator`).
 *
 * Confounding through U is made strong on purpose: with strength s, X and Y both lean towards the
 * parity u mod 2 of the confounder. For s well above 1/2 this bounds the naive bias
 * |P(y | x) - P(y | do(x))| away from zero (the tests derive the bound), so estimators that ignore
 * U are visibly wrong. P(U) is a random row whose entries differ by less than a factor 2;
 * P(M | X = x) puts mass 1/2 on x mod |M| and spreads the rest at random, so X has a clear effect.
 * With the edge U -> M, P(M | X, U = u) instead leans towards u mod 2 with strength s.
 *
 * @since 0.1.0
 */
export const frontDoor = (
  options: FrontDoorOptions,
): Result.Result<Model<"U" | "X" | "M" | "Y", "X" | "M" | "Y">, InvalidModel> => {
  const c = { U: 2, X: 2, M: 2, Y: 2, ...options.cardinalities }
  const s = options.confounding ?? 0.5
  const invalid = checkOptions(options.seed, c, s)
  if (invalid !== undefined) return Result.fail(new InvalidModel({ reason: invalid }))
  const rng = Random.rng(options.seed, "front-door")
  const withEdge = options.confounderAffectsMediator === true
  const pU = randomCpt(rng, 1, c.U, 0, noTarget)
  const pX = randomCpt(rng, c.U, c.X, s, (u) => u % 2)
  // M's parents are [X] or [X, U]; with U the row index is x * |U| + u.
  const pM = withEdge
    ? randomCpt(rng, c.X * c.U, c.M, s, (row) => (row % c.U) % 2)
    : randomCpt(rng, c.X, c.M, MEDIATION, (x) => x % c.M)
  // Y's parents are [M, U]: row index m * |U| + u.
  const pY = randomCpt(rng, c.M * c.U, c.Y, s, (row) => (row % c.U) % 2)
  return make<"U" | "X" | "M" | "Y", "X" | "M" | "Y">(
    [
      { name: "U", cardinality: c.U, parents: [], cpt: pU },
      { name: "X", cardinality: c.X, parents: ["U"], cpt: pX },
      { name: "M", cardinality: c.M, parents: withEdge ? ["X", "U"] : ["X"], cpt: pM },
      { name: "Y", cardinality: c.Y, parents: ["M", "U"], cpt: pY },
    ],
    ["X", "M", "Y"],
  )
}

/**
 * A random model of the back-door graph: Z -> X, Z -> Y, X -> Y, all observed. With strength s, X
 * and Y both lean towards the parity z mod 2 of the confounder; P(Z) is a random row whose entries
 * differ by less than a factor 2.
 *
 * @since 0.1.0
 */
export const backDoor = (
  options: BackDoorOptions,
): Result.Result<Model<"Z" | "X" | "Y", "Z" | "X" | "Y">, InvalidModel> => {
  const c = { Z: 2, X: 2, Y: 2, ...options.cardinalities }
  const s = options.confounding ?? 0.5
  const invalid = checkOptions(options.seed, c, s)
  if (invalid !== undefined) return Result.fail(new InvalidModel({ reason: invalid }))
  const rng = Random.rng(options.seed, "back-door")
  const pZ = randomCpt(rng, 1, c.Z, 0, noTarget)
  const pX = randomCpt(rng, c.Z, c.X, s, (z) => z % 2)
  // Y's parents are [X, Z]: row index x * |Z| + z.
  const pY = randomCpt(rng, c.X * c.Z, c.Y, s, (row) => (row % c.Z) % 2)
  return make<"Z" | "X" | "Y", "Z" | "X" | "Y">(
    [
      { name: "Z", cardinality: c.Z, parents: [], cpt: pZ },
      { name: "X", cardinality: c.X, parents: ["Z"], cpt: pX },
      { name: "Y", cardinality: c.Y, parents: ["X", "Z"], cpt: pY },
    ],
    ["Z", "X", "Y"],
  )
}
