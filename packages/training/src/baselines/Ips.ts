/**
 * IPS: inverse propensity scoring with the propensity of a user group given the item, as the
 * CausalD paper adapts it (section 5.1, baseline "IPS", ref. [39]).
 *
 * Source: L. Yang, Y. Cui, Y. Xuan, C. Wang, S. Belongie, D. Estrin, "Unbiased offline
 * recommender evaluation for missing-not-at-random implicit feedback", RecSys 2018. An observed
 * interaction's loss is weighted by the inverse of its propensity, and the propensity is clipped
 * from below to bound the estimator's variance. The CausalD paper measures P(ug | i), the
 * probability of the heterogeneous user group ug given the item, uses p(ug_u | i) as the
 * propensity of a sample (u, i), and searches the clipping threshold in {1/2, 1/3, ..., 1/10}:
 *   w_ui = 1 / max(P(ug_u | i), τ)  ≤ 1/τ,     L_IPS = (1/B) Σ_r w_r ℓ_r
 *
 * Departures from the source, and why:
 * - Yang et al. estimate the propensity of an item's exposure from its popularity; the CausalD
 *   paper replaces it by P(ug | i), which is what is implemented (the paper's baseline).
 * - P(ug | i) is estimated from the training interactions (never validation or test targets)
 *   with additive smoothing towards the group prior P(ug): (n_{g,i} + α P(g)) / (n_i + α), so that
 *   an item without training interactions gets the prior instead of 0/0. α = 1 by default.
 * - Every row of a batch is weighted, sampled negatives included: the paper weighs "a given
 *   data sample (u, i)", and a sampled negative (u, j) has the propensity p(ug_u | j) too.
 * - The weighted loss is divided by the number of rows, not by Σ w (IPS, not self-normalised
 *   SNIPS), as in Yang et al.'s unbiased estimator.
 * - With BPR or sampled softmax as L_Rec, a positive and its negatives form one term, weighted by
 *   the positive's weight.
 *
 * @module
 */

import type { TensorBackend } from "@causald/core"
import type { PreparedDataset, UserGroups } from "@causald/data"
import type { Recommender } from "@causald/models"
import type { Objective, RecommendationLoss } from "../Objective.ts"
import { InvalidBaselineOption, requireNumber } from "./Errors.ts"
import { type RowWeights, rowWeighted } from "./WeightedLoss.ts"

/** The clipping thresholds the paper searches: {1/2, 1/3, ..., 1/10}. */
export const clippingGrid: ReadonlyArray<number> = Array.from({ length: 9 }, (_, i) => 1 / (i + 2))

export interface IpsConfig {
  /** τ: propensities are clipped below at τ, so weights never exceed 1/τ. In (0, 1]. */
  readonly clip: number
  /** α of the additive smoothing of P(ug | i). */
  readonly smoothing: number
  readonly recommendationLoss: RecommendationLoss
  readonly l2: number
}

export const defaultIpsConfig: IpsConfig = {
  clip: 1 / 10,
  smoothing: 1,
  recommendationLoss: "bce",
  l2: 0,
}

/** P(ug | i) of every item: `table[i * G + g]`, rows of items 1..I each sum to 1 (row 0 unused). */
export interface GroupPropensity {
  readonly groups: number
  readonly table: Float32Array
}

/**
 * P(ug | i) from the training interactions (the training part of each sequence), smoothed
 * towards the group prior `groups.weights` with strength `smoothing`.
 */
export const groupPropensity = (
  data: PreparedDataset,
  groups: UserGroups,
  smoothing = 1,
): GroupPropensity => {
  const G = groups.sizes.length
  if (groups.groupOf.length !== data.numUsers)
    throw new InvalidBaselineOption({
      method: "ips",
      option: "groups",
      expected: `a group for each of the ${data.numUsers} users`,
      found: `${groups.groupOf.length} entries`,
    })
  requireNumber("ips", "smoothing", smoothing, { min: 0, minExclusive: true })
  const counts = new Float64Array((data.numItems + 1) * G)
  const totals = new Float64Array(data.numItems + 1)
  const off = data.sequenceOffsets
  const seq = data.sequenceItems
  for (let u = 0; u < data.numUsers; u++) {
    const g = groups.groupOf[u]!
    for (let p = off[u]!; p < off[u + 1]! - 2; p++) {
      const i = seq[p]!
      counts[i * G + g]! += 1
      totals[i]! += 1
    }
  }
  const table = new Float32Array((data.numItems + 1) * G)
  for (let i = 1; i <= data.numItems; i++) {
    const denominator = totals[i]! + smoothing
    for (let g = 0; g < G; g++)
      table[i * G + g] = (counts[i * G + g]! + smoothing * groups.weights[g]!) / denominator
  }
  return { groups: G, table }
}

/** w_r = 1 / max(P(ug_{u_r} | i_r), τ) of every row: never above 1/τ. */
export const ipsWeights = (
  propensity: GroupPropensity,
  groupOf: Int32Array,
  user: Int32Array,
  item: Int32Array,
  clip: number,
): Float32Array => {
  const G = propensity.groups
  const out = new Float32Array(user.length)
  for (let r = 0; r < user.length; r++) {
    const p = propensity.table[item[r]! * G + groupOf[user[r]!]!]!
    out[r] = 1 / Math.max(p, clip)
  }
  return out
}

/** The batch's constants: each row's weight [B]. */
export type IpsPrepared = RowWeights

export interface IpsObjective extends Objective<IpsPrepared> {
  readonly config: IpsConfig
  readonly propensity: GroupPropensity
  readonly dispose: () => void
}

/** The IPS-weighted objective of a base model over the given heterogeneous user groups. */
export const ips = (
  backend: TensorBackend,
  student: Recommender,
  data: PreparedDataset,
  groups: UserGroups,
  config: IpsConfig = defaultIpsConfig,
): IpsObjective => {
  requireNumber("ips", "clip", config.clip, { min: 0, minExclusive: true, max: 1 })
  const propensity = groupPropensity(data, groups, config.smoothing)
  return {
    ...rowWeighted(backend, student, config, (batch) =>
      ipsWeights(propensity, groups.groupOf, batch.user, batch.item, config.clip),
    ),
    config,
    propensity,
  }
}
