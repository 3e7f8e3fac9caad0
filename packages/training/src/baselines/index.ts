/**
 * The baselines of the paper's Tables 3-4 (section 5.1) as a registry: each method's name, its
 * source, the teachers it takes, its searched hyperparameter (default and grid) and a
 * constructor that returns an `Objective`, so `train()` runs every method the same way (same
 * data, same candidates, same teachers, same base model).
 *
 * - teachers "single": KD takes its own teacher, trained on all users (pass `[kdTeacher]`);
 * - teachers "multiple": DebiasD, EnsCTR and MEAL take the same pre-trained heterogeneous
 *   teachers as CausalD;
 * - teachers "none": IPS, CausalRec and DeRec ignore the `teachers` argument.
 *
 * Loss coefficients are searched in {0.01, 0.1, 1, 10} as for every model with an extra loss
 * (section 5.1), IPS's clipping threshold in {1/2, ..., 1/10}; CausalRec's clipping threshold,
 * which the paper does not state, uses IPS's grid; DeRec adds no loss and has nothing to search.
 *
 * @module
 */
import type { TensorBackend } from "@causald/core"
import type { PreparedDataset, UserGroups } from "@causald/data"
import type { Recommender } from "@causald/models"
import type { Objective, RecommendationLoss } from "../Objective.ts"
import * as CausalRec from "./CausalRec.ts"
import * as DebiasD from "./DebiasD.ts"
import * as DeRec from "./DeRec.ts"
import * as EnsCtr from "./EnsCtr.ts"
import { InvalidBaselineOption } from "./Errors.ts"
import * as Ips from "./Ips.ts"
import * as Kd from "./Kd.ts"
import * as Meal from "./Meal.ts"

export * as CausalRec from "./CausalRec.ts"
export * as DebiasD from "./DebiasD.ts"
export * as DeRec from "./DeRec.ts"
export * as EnsCtr from "./EnsCtr.ts"
export * as Errors from "./Errors.ts"
export * as Ips from "./Ips.ts"
export * as Kd from "./Kd.ts"
export * as Meal from "./Meal.ts"
export * as PoissonFactorization from "./PoissonFactorization.ts"
export * as Teachers from "./Teachers.ts"
export * as WeightedLoss from "./WeightedLoss.ts"

/** The baselines, in the column order of Tables 3-4. */
export const baselineNames = [
  "kd",
  "ips",
  "causalrec",
  "derec",
  "debiasd",
  "ensctr",
  "meal",
] as const

export type BaselineName = (typeof baselineNames)[number]

/** The loss coefficients searched for every model with an additional loss (section 5.1). */
export const coefficientGrid: ReadonlyArray<number> = [0.01, 0.1, 1, 10]

/** The propensity clipping thresholds searched for IPS: {1/2, 1/3, ..., 1/10}. */
export const clippingGrid: ReadonlyArray<number> = Ips.clippingGrid

/** A method's searched hyperparameter. */
export interface Hyperparameter {
  /** "lambda": the coefficient of the added loss; "clip": the propensity clipping threshold τ. */
  readonly name: "lambda" | "clip"
  readonly default: number
  readonly grid: ReadonlyArray<number>
}

/** Options shared by the constructors; each method reads the ones it uses. */
export interface BaselineOptions {
  /** Seeds the method's own parameters and its exposure model. */
  readonly seed: number
  /** The value of the method's hyperparameter (λ or τ); default: its `default`. */
  readonly coefficient?: number
  /** IPS: the heterogeneous user groups ug (the teachers' user subsets). Required by IPS. */
  readonly groups?: UserGroups
  /** Temperature of the distillation methods' soft labels; default 1. */
  readonly temperature?: number
  readonly recommendationLoss?: RecommendationLoss
  readonly l2?: number
}

/** A baseline's objective with its prepared constants hidden, and what it owns to free. */
export interface BaselineObjective extends Objective<unknown> {
  readonly method: BaselineName
  /** Frees the method's own tensors (gate, discriminators, mixing weights, γ and factors). */
  readonly dispose: () => void
}

export interface Baseline {
  readonly name: BaselineName
  /** Its column title in Tables 3-4. */
  readonly title: string
  readonly reference: string
  readonly teachers: "none" | "single" | "multiple"
  readonly hyperparameter: Hyperparameter | null
  readonly make: (
    backend: TensorBackend,
    student: Recommender,
    teachers: ReadonlyArray<Recommender>,
    data: PreparedDataset,
    options: BaselineOptions,
  ) => BaselineObjective
}

/** Hides an objective's prepared type: `prepare`'s result is handed back to `loss` unchanged. */
const erase = <P>(
  method: BaselineName,
  objective: Objective<P> & { readonly dispose: () => void },
): BaselineObjective => ({
  method,
  model: objective.model,
  parameters: objective.parameters,
  prepare: objective.prepare,
  loss: (context, prepared, record) => objective.loss(context, prepared as P, record),
  dispose: objective.dispose,
})

const lambda = (value = 1): Hyperparameter => ({
  name: "lambda",
  default: value,
  grid: coefficientGrid,
})
const clip = (value = 1 / 10): Hyperparameter => ({
  name: "clip",
  default: value,
  grid: clippingGrid,
})

const common = (options: BaselineOptions) => ({
  temperature: options.temperature ?? 1,
  recommendationLoss: options.recommendationLoss ?? "bce",
  l2: options.l2 ?? 0,
})

export const baselines: { readonly [N in BaselineName]: Baseline } = {
  kd: {
    name: "kd",
    title: "KD",
    reference: "Hinton, Vinyals and Dean 2015 [21]",
    teachers: "single",
    hyperparameter: lambda(),
    make: (backend, student, teachers, _data, options) => {
      if (teachers.length !== 1)
        throw new InvalidBaselineOption({
          method: "kd",
          option: "teachers",
          expected: "exactly one teacher trained on all users",
          found: `${teachers.length} teachers`,
        })
      return erase(
        "kd",
        Kd.kd(backend, student, teachers[0]!, {
          ...common(options),
          lambda: options.coefficient ?? 1,
        }),
      )
    },
  },
  ips: {
    name: "ips",
    title: "IPS",
    reference: "Yang et al., RecSys 2018 [39]",
    teachers: "none",
    hyperparameter: clip(),
    make: (backend, student, _teachers, data, options) => {
      if (options.groups === undefined)
        throw new InvalidBaselineOption({
          method: "ips",
          option: "groups",
          expected: "the heterogeneous user groups (e.g. the teachers' user subsets)",
          found: "none",
        })
      return erase(
        "ips",
        Ips.ips(backend, student, data, options.groups, {
          ...Ips.defaultIpsConfig,
          ...common(options),
          clip: options.coefficient ?? Ips.defaultIpsConfig.clip,
        }),
      )
    },
  },
  causalrec: {
    name: "causalrec",
    title: "CausalRec",
    reference: "Liang, Charlin and Blei 2016 [54]",
    teachers: "none",
    hyperparameter: clip(),
    make: (backend, student, _teachers, data, options) =>
      erase(
        "causalrec",
        CausalRec.causalRec(
          backend,
          student,
          data,
          {
            ...CausalRec.defaultCausalRecConfig,
            ...common(options),
            clip: options.coefficient ?? CausalRec.defaultCausalRecConfig.clip,
          },
          options.seed,
        ),
      ),
  },
  derec: {
    name: "derec",
    title: "DeRec",
    reference: "Wang, Liang, Charlin and Blei 2018 [14]",
    teachers: "none",
    hyperparameter: null,
    make: (backend, student, _teachers, data, options) =>
      erase(
        "derec",
        DeRec.deRec(
          backend,
          student,
          data,
          { ...DeRec.defaultDeRecConfig, ...common(options) },
          options.seed,
        ),
      ),
  },
  debiasd: {
    name: "debiasd",
    title: "DebiasD",
    reference: "Lukasik, Bhojanapalli, Menon and Kumar 2021 [55]",
    teachers: "multiple",
    hyperparameter: lambda(),
    make: (backend, student, teachers, _data, options) =>
      erase(
        "debiasd",
        DebiasD.debiasD(backend, student, teachers, {
          ...common(options),
          lambda: options.coefficient ?? 1,
        }),
      ),
  },
  ensctr: {
    name: "ensctr",
    title: "EnsCTR",
    reference: "Zhu et al., CIKM 2020 [46]",
    teachers: "multiple",
    hyperparameter: lambda(),
    make: (backend, student, teachers, _data, options) =>
      erase(
        "ensctr",
        EnsCtr.ensCtr(
          backend,
          student,
          teachers,
          { ...common(options), lambda: options.coefficient ?? 1 },
          options.seed,
        ),
      ),
  },
  meal: {
    name: "meal",
    title: "MEAL",
    reference: "Shen, He and Xue, AAAI 2019 [44]",
    teachers: "multiple",
    hyperparameter: lambda(),
    make: (backend, student, teachers, _data, options) =>
      erase(
        "meal",
        Meal.meal(
          backend,
          student,
          teachers,
          {
            ...Meal.defaultMealConfig,
            ...common(options),
            lambda: options.coefficient ?? 1,
          },
          options.seed,
        ),
      ),
  },
}

/** Whether a string names a baseline. */
export const isBaselineName = (name: string): name is BaselineName =>
  (baselineNames as ReadonlyArray<string>).includes(name)

/** Builds a baseline's objective by name (see {@link Baseline.make}). */
export const makeBaseline = (
  name: BaselineName,
  backend: TensorBackend,
  student: Recommender,
  teachers: ReadonlyArray<Recommender>,
  data: PreparedDataset,
  options: BaselineOptions,
): BaselineObjective => baselines[name].make(backend, student, teachers, data, options)
