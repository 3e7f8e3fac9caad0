/**
 * Poisson factorisation of the binary user x item exposure matrix: the exposure model of
 * CausalRec (Liang, Charlin and Blei 2016) and the substitute-confounder model of the
 * deconfounded recommender (Wang, Liang, Charlin and Blei 2018).
 *
 *   a_ui ~ Poisson(λ_ui),  λ_ui = θ_u · β_i,  θ_u, β_i ∈ R_+^K
 *   log p(A | θ, β) = Σ_{(u,i): a_ui = 1} log λ_ui − Σ_{u,i} λ_ui      (a_ui ∈ {0, 1}: log a! = 0)
 *
 * Fitted by Lee and Seung's multiplicative updates for the generalised KL divergence ("Algorithms
 * for non-negative matrix factorization", NIPS 2000), which is the negative Poisson
 * log-likelihood up to a constant: each half-step (all θ given β, then all β given the new θ)
 * never lowers the likelihood, so it rises at every iteration. Both updates touch only the
 * non-zeros plus column sums, O(nnz · K) per iteration, and the likelihood's second sum factorises
 * as Σ_k (Σ_u θ_uk)(Σ_i β_ik).
 *
 * Departures from the sources, and why: both papers fit hierarchical Poisson factorisation with
 * Gamma priors by variational inference (Gopalan et al. 2015) and use posterior means. This is
 * the maximum-likelihood fit (no priors), whose monotone ascent is guaranteed and testable; the
 * point estimates play the role of the posterior means (λ̂_ui = θ_u · β_i is the reconstructed
 * exposure of DeRec; P(a_ui ≥ 1) = 1 − exp(−λ̂_ui) the exposure probability of CausalRec).
 *
 * @module
 */
import { Random, type Tensor, type TensorBackend } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import { requireNumber } from "./Errors.ts"

/** A binary user x item matrix in CSR form: the items of user u, ascending and distinct. */
export interface ExposureMatrix {
  readonly numUsers: number
  /** Items are 1..numItems (0 is padding and never exposed). */
  readonly numItems: number
  /** Int32Array(U+1) */
  readonly offsets: Int32Array
  /** Int32Array(nnz) */
  readonly items: Int32Array
}

/** Builds a matrix from each user's exposed items (any order, repeats ignored). */
export const fromRows = (
  numUsers: number,
  numItems: number,
  rows: (u: number) => Iterable<number>,
): ExposureMatrix => {
  const offsets = new Int32Array(numUsers + 1)
  const parts: Array<Int32Array> = []
  const seen = new Int32Array(numItems + 1).fill(-1)
  let nnz = 0
  for (let u = 0; u < numUsers; u++) {
    const row: Array<number> = []
    for (const i of rows(u)) {
      if (!(Number.isInteger(i) && i >= 1 && i <= numItems))
        throw new RangeError(`exposure of user ${u}: item ${i} is outside 1..${numItems}`)
      if (seen[i] === u) continue
      seen[i] = u
      row.push(i)
    }
    const sorted = Int32Array.from(row).sort()
    parts.push(sorted)
    nnz += sorted.length
    offsets[u + 1] = nnz
  }
  const items = new Int32Array(nnz)
  parts.forEach((p, u) => {
    items.set(p, offsets[u]!)
  })
  return { numUsers, numItems, offsets, items }
}

/**
 * The exposure matrix of a data set's training part: a_ui = 1 when user u interacted with item i
 * before its validation target. With `includeShown` and an exposure log (items shown and not
 * clicked, `exposureNegatives`), those count as exposed too; they are off by default because the
 * log is not cut at the validation time.
 */
export const exposureMatrix = (
  data: PreparedDataset,
  options: { readonly includeShown?: boolean } = {},
): ExposureMatrix => {
  const shown = options.includeShown ? data.exposureNegatives : undefined
  const off = data.sequenceOffsets
  const seq = data.sequenceItems
  return fromRows(data.numUsers, data.numItems, function* (u) {
    for (let p = off[u]!; p < off[u + 1]! - 2; p++) yield seq[p]!
    if (shown !== undefined)
      for (let p = shown.offsets[u]!; p < shown.offsets[u + 1]!; p++) yield shown.items[p]!
  })
}

/** θ (U x K, row-major) and β ((I+1) x K, row 0 unused and zero). */
export interface PoissonFactors {
  readonly rank: number
  readonly numUsers: number
  readonly numItems: number
  readonly users: Float64Array
  readonly items: Float64Array
}

/**
 * Positive starting factors, uniform in [0.5, 1.5) times a scale that makes the mean rate the
 * matrix's density.
 */
export const initialFactors = (
  matrix: ExposureMatrix,
  rank: number,
  seed: number,
): PoissonFactors => {
  requireNumber("poisson-factorization", "rank", rank, { min: 1, integer: true })
  const U = matrix.numUsers
  const I = matrix.numItems
  const density = Math.max(matrix.items.length, 1) / (U * I)
  const scale = Math.sqrt(density / rank)
  const g = Random.rng(seed, "poisson-factorization")
  const users = new Float64Array(U * rank)
  const items = new Float64Array((I + 1) * rank)
  for (let j = 0; j < users.length; j++) users[j] = (0.5 + Random.float(g)) * scale
  for (let j = rank; j < items.length; j++) items[j] = (0.5 + Random.float(g)) * scale
  return { rank, numUsers: U, numItems: I, users, items }
}

/** λ_ui = θ_u · β_i */
export const rate = (f: PoissonFactors, u: number, i: number): number => {
  const K = f.rank
  let s = 0
  for (let k = 0; k < K; k++) s += f.users[u * K + k]! * f.items[i * K + k]!
  return s
}

/** log p(A | θ, β): Σ over exposures of log λ_ui minus the sum of all rates (items 1..I). */
export const logLikelihood = (matrix: ExposureMatrix, f: PoissonFactors): number => {
  const K = f.rank
  const userSum = new Float64Array(K)
  const itemSum = new Float64Array(K)
  for (let u = 0; u < f.numUsers; u++)
    for (let k = 0; k < K; k++) userSum[k]! += f.users[u * K + k]!
  for (let i = 1; i <= f.numItems; i++)
    for (let k = 0; k < K; k++) itemSum[k]! += f.items[i * K + k]!
  let total = 0
  for (let k = 0; k < K; k++) total -= userSum[k]! * itemSum[k]!
  for (let u = 0; u < matrix.numUsers; u++)
    for (let p = matrix.offsets[u]!; p < matrix.offsets[u + 1]!; p++)
      total += Math.log(rate(f, u, matrix.items[p]!))
  return total
}

/**
 * One multiplicative update (Lee and Seung, KL divergence), in place:
 *   θ_uk ← θ_uk · Σ_i β_ik a_ui / λ_ui  /  Σ_i β_ik
 *   β_ik ← β_ik · Σ_u θ_uk a_ui / λ_ui  /  Σ_u θ_uk      (with the new θ)
 */
export const update = (matrix: ExposureMatrix, f: PoissonFactors): void => {
  const K = f.rank
  const { users: theta, items: beta } = f
  const numerator = new Float64Array(K)
  const columnSum = new Float64Array(K)
  // θ given β
  for (let i = 1; i <= f.numItems; i++)
    for (let k = 0; k < K; k++) columnSum[k]! += beta[i * K + k]!
  for (let u = 0; u < f.numUsers; u++) {
    numerator.fill(0)
    for (let p = matrix.offsets[u]!; p < matrix.offsets[u + 1]!; p++) {
      const i = matrix.items[p]!
      const r = 1 / rate(f, u, i)
      for (let k = 0; k < K; k++) numerator[k]! += beta[i * K + k]! * r
    }
    for (let k = 0; k < K; k++)
      if (columnSum[k]! > 0) theta[u * K + k] = (theta[u * K + k]! * numerator[k]!) / columnSum[k]!
  }
  // β given the new θ
  const itemNumerator = new Float64Array(beta.length)
  columnSum.fill(0)
  for (let u = 0; u < f.numUsers; u++)
    for (let k = 0; k < K; k++) columnSum[k]! += theta[u * K + k]!
  for (let u = 0; u < f.numUsers; u++)
    for (let p = matrix.offsets[u]!; p < matrix.offsets[u + 1]!; p++) {
      const i = matrix.items[p]!
      const r = 1 / rate(f, u, i)
      for (let k = 0; k < K; k++) itemNumerator[i * K + k]! += theta[u * K + k]! * r
    }
  for (let i = 1; i <= f.numItems; i++)
    for (let k = 0; k < K; k++)
      if (columnSum[k]! > 0)
        beta[i * K + k] = (beta[i * K + k]! * itemNumerator[i * K + k]!) / columnSum[k]!
}

export interface PoissonFitOptions {
  /** K */
  readonly rank: number
  readonly iterations: number
  readonly seed: number
}

export const defaultPoissonFitOptions: PoissonFitOptions = { rank: 10, iterations: 50, seed: 0 }

/** A fitted factorisation and its log-likelihood before and after every iteration. */
export interface PoissonFit {
  readonly factors: PoissonFactors
  /** Float64Array(iterations + 1): entry 0 at the starting factors. */
  readonly logLikelihood: Float64Array
}

/** Fits θ, β by `iterations` multiplicative updates from seeded positive starting factors. */
export const fit = (matrix: ExposureMatrix, options: PoissonFitOptions): PoissonFit => {
  requireNumber("poisson-factorization", "iterations", options.iterations, {
    min: 0,
    integer: true,
  })
  if (matrix.items.length === 0)
    throw new RangeError("the exposure matrix is empty: there is nothing to factorise")
  const factors = initialFactors(matrix, options.rank, options.seed)
  const history = new Float64Array(options.iterations + 1)
  history[0] = logLikelihood(matrix, factors)
  for (let t = 1; t <= options.iterations; t++) {
    update(matrix, factors)
    history[t] = logLikelihood(matrix, factors)
  }
  return { factors, logLikelihood: history }
}

/** P(a_ui ≥ 1) = 1 − exp(−λ_ui): the probability that user u is exposed to item i. */
export const exposureProbability = (f: PoissonFactors, u: number, i: number): number =>
  -Math.expm1(-rate(f, u, i))

/** θ [U, K] and β [I+1, K] as float32 tensors, kept alive until the caller disposes them. */
export const factorTensors = (
  backend: TensorBackend,
  f: PoissonFactors,
): { readonly users: Tensor; readonly items: Tensor } => ({
  users: backend.keep(backend.tensor(Float32Array.from(f.users), [f.numUsers, f.rank])),
  items: backend.keep(backend.tensor(Float32Array.from(f.items), [f.numItems + 1, f.rank])),
})
