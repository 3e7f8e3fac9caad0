/**
 * Users in groups: for measuring performance heterogeneity (Fig. 1 and 4 of the paper: equally
 * sized groups by user activeness and by behaviour consistency on popular items), for the
 * group-wise baseline, and for building the K heterogeneous teachers of section 3.3.1 (non-IID
 * user subsets split by a confounder, with P(z_k) proportional to the subset's users, eq. 19),
 * and their homogeneous (random, IID) counterpart.
 *
 * Every quantity is computed on the training part of the sequences (all but the last two
 * items), so grouping never looks at validation or test targets.
 *
 * @module
 */

import { Random } from "@causald/core"
import * as aq from "arquero"
import { InvalidOption } from "./Errors.ts"
import type { PreparedDataset } from "./Prepared.ts"

/** A partition of the users into groups. */
export interface UserGroups {
  /** What the users were grouped by, e.g. `activeness`, `consistency`, `gender`, `random`. */
  readonly name: string
  /** Int32Array(U): group of each user, in 0..G-1. */
  readonly groupOf: Int32Array
  /** Int32Array(G): users per group. */
  readonly sizes: Int32Array
  /** Float64Array(G): sizes / U, the P(z_k) of eq. (19). */
  readonly weights: Float64Array
  readonly labels: ReadonlyArray<string>
  /** Float64Array(U): the per-user value the grouping is based on, when numeric. */
  readonly values?: Float64Array
}

/** Activeness of every user: the number of training interactions (n - 2). */
export const activeness = (data: PreparedDataset): Float64Array => {
  const out = new Float64Array(data.numUsers)
  for (let u = 0; u < data.numUsers; u++)
    out[u] = data.sequenceOffsets[u + 1]! - data.sequenceOffsets[u]! - 2
  return out
}

/**
 * P(z_k) of eq. (19) as each group's share of the training interactions rather than of the users
 * (`UserGroups.weights`): a reading of the paper for activeness groups, whose equal user counts
 * make the user shares uniform.
 */
export const interactionWeights = (data: PreparedDataset, groups: UserGroups): Float64Array => {
  const counts = new Float64Array(groups.sizes.length)
  const perUser = activeness(data)
  let total = 0
  groups.groupOf.forEach((g, u) => {
    counts[g]! += perUser[u]!
    total += perUser[u]!
  })
  return counts.map((c) => c / total)
}

/** Training interactions of every item (index 0 unused). */
export const itemPopularity = (data: PreparedDataset): Int32Array => {
  const pop = new Int32Array(data.numItems + 1)
  for (let u = 0; u < data.numUsers; u++)
    for (let p = data.sequenceOffsets[u]!; p < data.sequenceOffsets[u + 1]! - 2; p++)
      pop[data.sequenceItems[p]!]!++
  return pop
}

/**
 * Items into `groups` equally sized popularity groups (footnote 1: eighteen): items ranked by
 * training popularity, most popular first (ties by item id), group g holds ranks
 * [g*I/G, (g+1)*I/G). Returns Int32Array(I+1) (index 0 unused, -1).
 */
export const popularityGroups = (data: PreparedDataset, groups = 18): Int32Array => {
  const I = data.numItems
  if (!Number.isInteger(groups) || groups < 1 || groups > I)
    throw new InvalidOption({
      option: "popularityGroups",
      expected: `an integer in 1..${I}`,
      found: String(groups),
    })
  const pop = itemPopularity(data)
  const order = new Int32Array(I)
  for (let i = 0; i < I; i++) order[i] = i + 1
  order.sort((a, b) => pop[b]! - pop[a]! || a - b)
  const out = new Int32Array(I + 1).fill(-1)
  for (let r = 0; r < I; r++) out[order[r]!] = Math.floor((r * groups) / I)
  return out
}

/** Options of {@link consistency}. */
export interface ConsistencyOptions {
  /** Number of item popularity groups (footnote 1: 18). */
  readonly popularityGroups?: number
  /** Additive (Laplace) smoothing added to every group count of each half; default 1. */
  readonly smoothing?: number
}

/**
 * Behaviour (in)consistency on popular items, footnote 1 of the paper: the training part of each
 * user's sequence is split into two halves (past: the first floor(m/2) items, now: the rest);
 * each half is a distribution over the popularity groups, with `smoothing` added to every count
 * so that empty groups have a finite log; the score is KL(past || now). Larger = less
 * consistent. Returns Float64Array(U).
 */
export const consistency = (
  data: PreparedDataset,
  options: ConsistencyOptions = {},
): Float64Array => {
  const G = options.popularityGroups ?? 18
  const alpha = options.smoothing ?? 1
  if (!(alpha > 0))
    throw new InvalidOption({ option: "smoothing", expected: "a number > 0", found: String(alpha) })
  const group = popularityGroups(data, G)
  const past = new Float64Array(G)
  const now = new Float64Array(G)
  const out = new Float64Array(data.numUsers)
  for (let u = 0; u < data.numUsers; u++) {
    const s = data.sequenceOffsets[u]!
    const m = data.sequenceOffsets[u + 1]! - 2 - s
    const half = Math.floor(m / 2)
    past.fill(alpha)
    now.fill(alpha)
    for (let k = 0; k < m; k++) {
      const g = group[data.sequenceItems[s + k]!]!
      if (k < half) past[g]!++
      else now[g]!++
    }
    const zp = half + G * alpha
    const zn = m - half + G * alpha
    let kl = 0
    for (let g = 0; g < G; g++) {
      const p = past[g]! / zp
      kl += p * Math.log(p / (now[g]! / zn))
    }
    out[u] = kl
  }
  return out
}

const finish = (
  name: string,
  groupOf: Int32Array,
  labels: ReadonlyArray<string>,
  values?: Float64Array,
): UserGroups => {
  const sizes = new Int32Array(labels.length)
  for (const g of groupOf) sizes[g]!++
  const weights = new Float64Array(labels.length)
  for (let g = 0; g < labels.length; g++) weights[g] = sizes[g]! / groupOf.length
  return { name, groupOf, sizes, weights, labels, ...(values === undefined ? {} : { values }) }
}

const groupCount = (option: string, G: number, U: number) => {
  if (!Number.isInteger(G) || G < 1 || G > U)
    throw new InvalidOption({ option, expected: `an integer in 1..${U}`, found: String(G) })
}

/**
 * Users into G equally sized groups by a per-user value (ranks [g*U/G, (g+1)*U/G) of the users
 * sorted by value, ties by user id): group 0 holds the lowest values.
 */
export const quantileGroups = (name: string, values: Float64Array, G: number): UserGroups => {
  const U = values.length
  groupCount("groups", G, U)
  const order = new Int32Array(U)
  for (let u = 0; u < U; u++) order[u] = u
  order.sort((a, b) => values[a]! - values[b]! || a - b)
  const groupOf = new Int32Array(U)
  const labels: Array<string> = []
  const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toPrecision(3))
  for (let g = 0; g < G; g++) {
    const lo = Math.floor((g * U) / G)
    const hi = Math.floor(((g + 1) * U) / G)
    for (let r = lo; r < hi; r++) groupOf[order[r]!] = g
    labels.push(
      `${name} ${g + 1}/${G} [${fmt(values[order[lo]!]!)}, ${fmt(values[order[hi - 1]!]!)}]`,
    )
  }
  return finish(name, groupOf, labels, values)
}

/** G equally sized groups by activeness (group 0 the least active users). */
export const activenessGroups = (data: PreparedDataset, G: number): UserGroups =>
  quantileGroups("activeness", activeness(data), G)

/** G equally sized groups by behaviour inconsistency (group 0 the most consistent users). */
export const consistencyGroups = (
  data: PreparedDataset,
  G: number,
  options: ConsistencyOptions = {},
): UserGroups => quantileGroups("consistency", consistency(data, options), G)

/**
 * G equally sized groups by the simulator's hidden confounder (simulated data only; group 0 the
 * lowest values), for analysis: the confounder is never observed by a model.
 */
export const confounderGroups = (data: PreparedDataset, G: number): UserGroups => {
  if (data.confounder === undefined)
    throw new InvalidOption({
      option: "confounder",
      expected: "a simulated data set (with confounder values)",
      found: `data set ${data.name} without confounder`,
    })
  return quantileGroups(data.confounder.name, Float64Array.from(data.confounder.values), G)
}

/** One group per value of a categorical attribute (e.g. ml-100k gender, age band, occupation). */
export const attributeGroups = (data: PreparedDataset, attribute: string): UserGroups => {
  const a = data.attributes?.find((x) => x.name === attribute)
  if (a === undefined)
    throw new InvalidOption({
      option: "attribute",
      expected: `one of: ${(data.attributes ?? []).map((x) => x.name).join(", ") || "(this data set has no attributes)"}`,
      found: attribute,
    })
  return finish(attribute, a.codes.slice(), a.labels)
}

/** Drops empty groups and renumbers the others in order. */
const withoutEmpty = (groups: UserGroups): UserGroups => {
  const keep: Array<number> = []
  groups.sizes.forEach((s, g) => {
    if (s > 0) keep.push(g)
  })
  if (keep.length === groups.labels.length) return groups
  const renumber = new Int32Array(groups.labels.length).fill(-1)
  keep.forEach((g, i) => {
    renumber[g] = i
  })
  const groupOf = groups.groupOf.map((g) => renumber[g]!)
  return finish(
    groups.name,
    groupOf,
    keep.map((g) => groups.labels[g]!),
    groups.values,
  )
}

/** What to split the teachers' user subsets by (section 3.3.1). */
export type TeacherSplit =
  | "activeness"
  | "consistency"
  | "confounder"
  | { readonly attribute: string }

/**
 * The K heterogeneous (non-IID) user subsets of section 3.3.1: users split by an (observed)
 * confounder, K equally sized quantile groups of activeness, inconsistency or (simulated data)
 * the hidden confounder, or one subset per non-empty value of an attribute (then `teachers` is
 * ignored). `weights` are P(z_k) of eq. (19).
 */
export const teacherSubsets = (
  data: PreparedDataset,
  by: TeacherSplit,
  teachers: number,
): UserGroups => {
  if (by === "activeness") return activenessGroups(data, teachers)
  if (by === "consistency") return consistencyGroups(data, teachers)
  if (by === "confounder") return confounderGroups(data, teachers)
  return withoutEmpty(attributeGroups(data, by.attribute))
}

/** K random (IID) subsets of equal size, seeded: the homogeneous-teacher ablation (5.4). */
export const randomSubsets = (data: PreparedDataset, K: number, seed: number): UserGroups => {
  const U = data.numUsers
  groupCount("teachers", K, U)
  const order = new Int32Array(U)
  for (let u = 0; u < U; u++) order[u] = u
  Random.shuffle(Random.rng(seed, "random-subsets"), order)
  const groupOf = new Int32Array(U)
  for (let k = 0; k < K; k++)
    for (let r = Math.floor((k * U) / K); r < Math.floor(((k + 1) * U) / K); r++)
      groupOf[order[r]!] = k
  return finish(
    "random",
    groupOf,
    Array.from({ length: K }, (_, k) => `random ${k + 1}/${K}`),
  )
}

/** The users of group g, ascending (e.g. the `users` option of the batch builders). */
export const members = (groups: UserGroups, g: number): Int32Array => {
  const out = new Int32Array(groups.sizes[g] ?? 0)
  let k = 0
  for (let u = 0; u < groups.groupOf.length; u++) if (groups.groupOf[u] === g) out[k++] = u
  return out
}

/**
 * A per-group statistics table (arquero): users, share of users (P(z_k)), mean activeness, mean
 * inconsistency and share of training interactions of each group.
 */
export const summary = (data: PreparedDataset, groups: UserGroups): aq.ColumnTable => {
  const t = aq.table({
    group: groups.groupOf,
    activeness: activeness(data),
    inconsistency: consistency(data),
  })
  const total = data.sequenceItems.length - 2 * data.numUsers
  return t
    .groupby("group")
    .rollup({
      users: aq.op.count(),
      meanActiveness: aq.op.mean("activeness"),
      meanInconsistency: aq.op.mean("inconsistency"),
      trainingInteractions: aq.op.sum("activeness"),
    })
    .orderby("group")
    .derive({
      label: aq.escape((d: { group: number }) => groups.labels[d.group] ?? ""),
      weight: aq.escape((d: { users: number }) => d.users / data.numUsers),
      interactionShare: aq.escape((d: { trainingInteractions: number }) =>
        total > 0 ? d.trainingInteractions / total : 0,
      ),
    })
}
