/**
 * CausalRec: clicks weighted by their inverse exposure probability under an exposure model
 * (the paper's baseline "CausalRec", ref. [54]).
 *
 * Source: D. Liang, L. Charlin, D. M. Blei, "Causal inference for recommendation", Workshop on
 * Causation: Foundation to Application, UAI 2016. Recommendation as a causal question: the
 * exposure a_ui is the treatment, the click the outcome. Step 1 fits an exposure model,
 * a_ui ~ Poisson factorisation, giving the propensity p_ui = P(a_ui = 1); step 2 fits the click
 * model by inverse propensity weighting, each observed click weighted by 1 / p_ui:
 *   w_r = 1 / max(1 − exp(−θ_u · β_i), τ) for a click (u, i),  w_r = 1 for a sampled negative
 *   L_CausalRec = (1/B) Σ_r w_r ℓ_r
 *
 * Departures from the source, and why:
 * - The exposure model is Poisson factorisation fitted by maximum likelihood with multiplicative
 *   updates instead of variational inference (see `PoissonFactorization.ts`), on the training
 *   part of the interactions (the data sets have no separate exposure data; an exposure log can
 *   be added with `includeShown`).
 * - The click model is the shared base recommender (DIN, DeepFM, ...) rather than matrix
 *   factorisation, so that every baseline differs from the base model only by its training.
 * - Only clicks carry inverse-exposure weights; the sampled negatives are items the user never
 *   interacted with (their exposure is unknown, not observed as 0-clicks), so they keep weight 1.
 * - Propensities are clipped below at τ (weights ≤ 1/τ), the clipping the CausalD paper applies
 *   to IPS, searched in the same grid {1/2, ..., 1/10}; Liang et al. do not clip.
 *
 * @module
 */
import type { TensorBackend } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import type { Recommender } from "@causald/models"
import type { Objective, RecommendationLoss } from "../Objective.ts"
import { requireNumber } from "./Errors.ts"
import * as PoissonFactorization from "./PoissonFactorization.ts"
import { type RowWeights, rowWeighted } from "./WeightedLoss.ts"

export interface CausalRecConfig {
  /** τ: exposure probabilities are clipped below at τ, so weights never exceed 1/τ. In (0, 1]. */
  readonly clip: number
  /** K of the exposure model. */
  readonly rank: number
  /** Multiplicative updates of the exposure model. */
  readonly iterations: number
  /** Count an exposure log's shown-not-clicked items as exposures (default false). */
  readonly includeShown: boolean
  readonly recommendationLoss: RecommendationLoss
  readonly l2: number
}

export const defaultCausalRecConfig: CausalRecConfig = {
  clip: 1 / 10,
  rank: 10,
  iterations: 50,
  includeShown: false,
  recommendationLoss: "bce",
  l2: 0,
}

/** w_r of every row: 1 / max(P(a_ui = 1), τ) for clicks (label 1), 1 for sampled negatives. */
export const exposureWeights = (
  factors: PoissonFactorization.PoissonFactors,
  user: Int32Array,
  item: Int32Array,
  label: Float32Array,
  clip: number,
): Float32Array => {
  const out = new Float32Array(user.length)
  for (let r = 0; r < user.length; r++)
    out[r] =
      label[r] === 1
        ? 1 / Math.max(PoissonFactorization.exposureProbability(factors, user[r]!, item[r]!), clip)
        : 1
  return out
}

/** The batch's constants: each row's weight [B]. */
export type CausalRecPrepared = RowWeights

export interface CausalRecObjective extends Objective<CausalRecPrepared> {
  readonly config: CausalRecConfig
  /** The fitted exposure model and its log-likelihood at every iteration. */
  readonly exposure: PoissonFactorization.PoissonFit
  readonly dispose: () => void
}

/** Fits the exposure model on `data`'s training part, then weighs the base model's clicks. */
export const causalRec = (
  backend: TensorBackend,
  student: Recommender,
  data: PreparedDataset,
  config: CausalRecConfig = defaultCausalRecConfig,
  seed = 0,
): CausalRecObjective => {
  requireNumber("causalrec", "clip", config.clip, { min: 0, minExclusive: true, max: 1 })
  const exposure = PoissonFactorization.fit(
    PoissonFactorization.exposureMatrix(data, { includeShown: config.includeShown }),
    { rank: config.rank, iterations: config.iterations, seed },
  )
  return {
    ...rowWeighted(backend, student, config, (batch) =>
      exposureWeights(exposure.factors, batch.user, batch.item, batch.label, config.clip),
    ),
    config,
    exposure,
  }
}
