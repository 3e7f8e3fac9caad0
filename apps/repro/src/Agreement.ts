/**
 * Agreement of a model's scores with the true interventional click probabilities
 * P(click | do(history), item) that the simulated data set knows for every test candidate
 * (`PreparedDataset.truth.testTruth`). This is the quantity CausalD is built to estimate (eq. 5):
 * a model that ranks each user's candidates as the causal effect does has learned the
 * intervention rather than the confounded correlation.
 *
 * Per user, over the 1 + N candidates (row-major `[users x candidatesPerUser]`, as `Ranking.sampled`):
 * - Spearman's rank correlation between scores and truth (ties get average ranks); users whose
 *   scores or truths are all equal have no correlation and are left out of its mean;
 * - pairwise accuracy: among candidate pairs whose truths differ, the share the scores order the
 *   same way, a score tie counting one half (the AUC of the scores against truth-ranked pairs).
 *
 * @module
 */

/** Means over users of the two agreement measures. */
export interface Agreement {
  /** Mean Spearman correlation over users where it is defined (NaN if none). */
  readonly rankCorrelation: number
  /** Mean pairwise accuracy over users with at least one pair of differing truths (NaN if none). */
  readonly pairwiseAccuracy: number
  /** Users that entered each mean. */
  readonly correlatedUsers: number
  readonly pairedUsers: number
}

/** Average ranks (1-based) of `values[from..from+n)` into `out[0..n)`; `order` is scratch. */
const averageRanks = (
  values: ArrayLike<number>,
  from: number,
  n: number,
  order: Int32Array,
  out: Float64Array,
): void => {
  for (let i = 0; i < n; i++) order[i] = i
  const view = order.subarray(0, n)
  view.sort((a, b) => values[from + a] - values[from + b])
  let i = 0
  while (i < n) {
    let j = i
    while (j + 1 < n && values[from + view[j + 1]] === values[from + view[i]]) j++
    const rank = (i + j) / 2 + 1
    for (let k = i; k <= j; k++) out[view[k]] = rank
    i = j + 1
  }
}

/** Pearson correlation of two rank vectors of length n; NaN when one is constant. */
const correlation = (a: Float64Array, b: Float64Array, n: number): number => {
  let ma = 0
  let mb = 0
  for (let i = 0; i < n; i++) {
    ma += a[i]
    mb += b[i]
  }
  ma /= n
  mb /= n
  let sab = 0
  let saa = 0
  let sbb = 0
  for (let i = 0; i < n; i++) {
    const da = a[i] - ma
    const db = b[i] - mb
    sab += da * db
    saa += da * da
    sbb += db * db
  }
  return saa === 0 || sbb === 0 ? Number.NaN : sab / Math.sqrt(saa * sbb)
}

/**
 * Agreement of `scores` with `truth`, both `[users x candidatesPerUser]` row-major. Throws a
 * RangeError when the shapes differ or do not divide: a defect of the caller, not of the data.
 */
export const truthAgreement = (
  scores: ArrayLike<number>,
  truth: ArrayLike<number>,
  candidatesPerUser: number,
): Agreement => {
  const C = candidatesPerUser
  if (!Number.isInteger(C) || C < 2 || scores.length !== truth.length || scores.length % C !== 0) {
    throw new RangeError(
      `truthAgreement: ${scores.length} scores and ${truth.length} truths do not form rows of ${C} candidates`,
    )
  }
  const users = scores.length / C
  const order = new Int32Array(C)
  const rs = new Float64Array(C)
  const rt = new Float64Array(C)
  let rho = 0
  let correlatedUsers = 0
  let accuracy = 0
  let pairedUsers = 0
  for (let u = 0; u < users; u++) {
    const from = u * C
    averageRanks(scores, from, C, order, rs)
    averageRanks(truth, from, C, order, rt)
    const r = correlation(rs, rt, C)
    if (!Number.isNaN(r)) {
      rho += r
      correlatedUsers++
    }
    let agree = 0
    let pairs = 0
    for (let i = 0; i < C; i++) {
      const ti = truth[from + i]
      const si = scores[from + i]
      for (let j = i + 1; j < C; j++) {
        const dt = ti - truth[from + j]
        if (dt === 0) continue
        pairs++
        const ds = si - scores[from + j]
        if (ds === 0) agree += 0.5
        else if (ds > 0 === dt > 0) agree += 1
      }
    }
    if (pairs > 0) {
      accuracy += agree / pairs
      pairedUsers++
    }
  }
  return {
    rankCorrelation: correlatedUsers === 0 ? Number.NaN : rho / correlatedUsers,
    pairwiseAccuracy: pairedUsers === 0 ? Number.NaN : accuracy / pairedUsers,
    correlatedUsers,
    pairedUsers,
  }
}
