/**
 * DeRec: the deconfounded recommender (the paper's baseline "DeRec", ref. [14]).
 *
 * Source: Y. Wang, D. Liang, L. Charlin, D. M. Blei, "The deconfounded recommender: a causal
 * inference approach to recommendation", arXiv:1808.06581, 2018. Step 1 fits Poisson
 * factorisation to the binary exposure matrix A (which items each user was exposed to); its
 * reconstruction â_ui = E[θ_u]ᵀ E[β_i] is a substitute for the unobserved confounders that drive
 * both exposure and ratings. Step 2 fits the outcome model augmented with it, with a per-user
 * coefficient γ_u:
 *   ô_ui = f(x_ui) + γ_u · â_ui
 *
 * Departures from the source, and why:
 * - The exposure matrix is the training part of the interactions (the data sets have no
 *   separate exposure data; an exposure log can be added with `includeShown`), and Poisson
 *   factorisation is fitted by maximum likelihood with multiplicative updates instead of
 *   variational inference (see `PoissonFactorization.ts`): â_ui = θ_u · β_i.
 * - The outcome model f is the shared base recommender (DIN, DeepFM, ...) trained with L_Rec on
 *   clicks and sampled negatives, instead of Gaussian/Poisson matrix factorisation of ratings.
 *   γ_u starts at 0 (the base model) and is trained jointly with f; γ has no prior (Wang et al.
 *   put a Gaussian prior on it; `l2` adds the equivalent penalty to all parameters).
 * - The result (`model`) is the augmented model: it scores any (user, item) pair, validation and
 *   test candidates included, from the factors fitted on training data only. The factors are
 *   constants recomputed deterministically from the data and the seed, not checkpointed; γ is
 *   one of the model's parameters and is saved with it.
 *
 * @module
 */
import { Losses, type Parameter, type Tensor, type TensorBackend } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import type { Recommender, RecommenderInputs } from "@causald/models"
import {
  type BatchContext,
  type Objective,
  type RecommendationLoss,
  recommendationLoss,
} from "../Objective.ts"
import * as PoissonFactorization from "./PoissonFactorization.ts"

export interface DeRecConfig {
  /** K of the Poisson factorisation. */
  readonly rank: number
  /** Multiplicative updates of the Poisson factorisation. */
  readonly iterations: number
  /** Count an exposure log's shown-not-clicked items as exposures (default false). */
  readonly includeShown: boolean
  readonly recommendationLoss: RecommendationLoss
  readonly l2: number
}

export const defaultDeRecConfig: DeRecConfig = {
  rank: 10,
  iterations: 50,
  includeShown: false,
  recommendationLoss: "bce",
  l2: 0,
}

/** A base recommender whose logit is augmented with γ_u · â_ui. */
export interface DeconfoundedRecommender extends Recommender {
  readonly base: Recommender
  /** γ: [U, 1], one coefficient per user. */
  readonly gamma: Parameter
  /** â_ui = θ_u · β_i of the rows: [B]. */
  readonly substituteConfounder: (inputs: RecommenderInputs) => Tensor
  /** Frees γ and the factor tensors (not the base model). */
  readonly dispose: () => void
}

/** Augments `base` with the substitute confounder of fitted factors and a zero-initialised γ. */
export const deconfounded = (
  backend: TensorBackend,
  base: Recommender,
  factors: PoissonFactorization.PoissonFactors,
  name = "derec",
): DeconfoundedRecommender => {
  const { users, items } = PoissonFactorization.factorTensors(backend, factors)
  const gamma = backend.parameter(`${name}/gamma`, new Float32Array(factors.numUsers), [
    factors.numUsers,
    1,
  ])
  const substituteConfounder = (inputs: RecommenderInputs): Tensor =>
    backend.sum(
      backend.mul(backend.gather(users, inputs.user), backend.gather(items, inputs.item)),
      -1,
    )
  const predict = (mediator: Tensor, inputs: RecommenderInputs): Tensor => {
    const g = backend.reshape(backend.gather(gamma.value, inputs.user), [-1])
    return backend.add(base.predict(mediator, inputs), backend.mul(g, substituteConfounder(inputs)))
  }
  return {
    kind: `${base.kind}+derec`,
    parameters: [...base.parameters, gamma],
    mediatorSize: base.mediatorSize,
    itemSize: base.itemSize,
    encode: base.encode,
    embedItems: base.embedItems,
    predict,
    base,
    gamma,
    substituteConfounder,
    dispose: () => backend.dispose([gamma, users, items]),
  }
}

export interface DeRecObjective extends Objective<undefined> {
  readonly model: DeconfoundedRecommender
  readonly config: DeRecConfig
  /** The fitted Poisson factorisation and its log-likelihood at every iteration. */
  readonly exposure: PoissonFactorization.PoissonFit
  /** Frees γ and the factors (the base model belongs to the caller). */
  readonly dispose: () => void
}

/** Fits the substitute confounder on `data`'s training part; trains base model and γ. */
export const deRec = (
  backend: TensorBackend,
  student: Recommender,
  data: PreparedDataset,
  config: DeRecConfig = defaultDeRecConfig,
  seed = 0,
): DeRecObjective => {
  const exposure = PoissonFactorization.fit(
    PoissonFactorization.exposureMatrix(data, { includeShown: config.includeShown }),
    { rank: config.rank, iterations: config.iterations, seed },
  )
  const model = deconfounded(backend, student, exposure.factors)
  const loss = (context: BatchContext): Tensor => {
    const logits = model.predict(model.encode(context.inputs), context.inputs)
    const rec = recommendationLoss(backend, config.recommendationLoss, logits, context)
    return config.l2 ? backend.add(rec, Losses.l2(backend, model.parameters, config.l2)) : rec
  }
  return {
    model,
    parameters: model.parameters,
    config,
    exposure,
    prepare: () => undefined,
    loss,
    dispose: model.dispose,
  }
}
