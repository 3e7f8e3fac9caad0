/**
 * The methods a study trains, as one registry: each method's name, its title, the teachers it
 * needs, its searched coefficients and a reference to its objective. The command line's choices,
 * the tables' columns and the study's training all derive from {@link methods}, so a baseline is
 * added once: its module and its entry in `baselines/index.ts` (this registry takes every
 * baseline from there, in the paper's column order).
 *
 * The order of {@link methodNames} is the study's order (results, logs): the base model, group-wise
 * training, the baselines of Tables 3-4, then CausalD and its ablations of Table 5.
 *
 * @module
 */
import {
  type Baseline,
  type BaselineName,
  baselineNames,
  baselines,
  coefficientGrid,
  type Hyperparameter,
} from "./baselines/index.ts"
import type { CausalDConfig } from "./CausalDObjective.ts"

/**
 * CausalD and its ablations (Table 5): trained with CausalD's objective, its causal label and
 * feature guidance. `wo-fda` drops the front-door loss; `ho-teachers` swaps the heterogeneous
 * teachers for teachers on random (IID) user subsets.
 */
export const causalDVariants = ["causald", "wo-fda", "ho-teachers"] as const
export type CausalDVariant = (typeof causalDVariants)[number]

/** Every method, in the study's order. */
export const methodNames = ["base", "groupwise", ...baselineNames, ...causalDVariants] as const
export type MethodName = (typeof methodNames)[number]

/**
 * The teachers a method trains against: none; KD's own teacher on all users ("single"); the
 * heterogeneous teachers on the non-IID user subsets of section 3.3.1 ("multiple"); or teachers on
 * random IID subsets ("homogeneous", the Ho Teachers ablation).
 */
export type TeacherNeed = "none" | "single" | "multiple" | "homogeneous"

/**
 * A coefficient searched on validation data (section 5.1). `default` null: the value comes from
 * the study's options (CausalD's λ_BDA and λ_FDA, `--lambda-bda`, `--lambda-fda`). CausalD's
 * coefficients are listed in the order they are searched (λ_FDA, then λ_BDA given it).
 */
export interface Coefficient {
  readonly name: Hyperparameter["name"] | "lambdaFda" | "lambdaBda"
  readonly default: number | null
  readonly grid: ReadonlyArray<number>
}

/** What trains a method: a reference to its objective's constructor. */
export type MethodObjective =
  /** The base model's recommendation loss alone (`Objective.recommendation`). */
  | { readonly _tag: "Recommendation" }
  /** The base model's loss, one model per user group (eq. 7; `PerGroup`). */
  | { readonly _tag: "GroupWise" }
  /** A baseline of Tables 3-4 (`baselines/index.ts`, its `make`). */
  | { readonly _tag: "Baseline"; readonly baseline: Baseline }
  /** CausalD's objective (`CausalDObjective.causalD`) with these settings fixed. */
  | {
      readonly _tag: "CausalD"
      readonly fixed: Partial<Pick<CausalDConfig, "lambdaBda" | "lambdaFda" | "frontDoor">>
    }

export interface MethodSpec {
  readonly name: MethodName
  /** Its name as the paper prints it, given the base model's (DIN, DeepFM). */
  readonly title: (baseTitle: string) => string
  readonly teachers: TeacherNeed
  readonly coefficients: ReadonlyArray<Coefficient>
  readonly objective: MethodObjective
}

const lambdaOf = (name: "lambdaFda" | "lambdaBda"): Coefficient => ({
  name,
  default: null,
  grid: coefficientGrid,
})

const baselineSpec = (name: BaselineName): MethodSpec => {
  const baseline = baselines[name]
  return {
    name,
    title: () => baseline.title,
    teachers: baseline.teachers,
    coefficients: baseline.hyperparameter === null ? [] : [baseline.hyperparameter],
    objective: { _tag: "Baseline", baseline },
  }
}

const causalD = {
  causald: {
    name: "causald",
    title: () => "CausalD",
    teachers: "multiple",
    coefficients: [lambdaOf("lambdaFda"), lambdaOf("lambdaBda")],
    objective: { _tag: "CausalD", fixed: {} },
  },
  "wo-fda": {
    name: "wo-fda",
    title: () => "w.o. FDA",
    teachers: "multiple",
    // λ_BDA as searched for CausalD; λ_FDA is what the ablation removes
    coefficients: [lambdaOf("lambdaBda")],
    objective: { _tag: "CausalD", fixed: { frontDoor: false, lambdaFda: 0 } },
  },
  "ho-teachers": {
    name: "ho-teachers",
    title: () => "Ho Teachers",
    teachers: "homogeneous",
    coefficients: [lambdaOf("lambdaFda"), lambdaOf("lambdaBda")],
    objective: { _tag: "CausalD", fixed: {} },
  },
} as const satisfies { readonly [V in CausalDVariant]: MethodSpec }

/** The registry: every method by name. */
export const methods: { readonly [M in MethodName]: MethodSpec } = {
  base: {
    name: "base",
    title: (baseTitle) => baseTitle,
    teachers: "none",
    coefficients: [],
    objective: { _tag: "Recommendation" },
  },
  groupwise: {
    name: "groupwise",
    title: (baseTitle) => `${baseTitle} (Group-wise)`,
    teachers: "none",
    coefficients: [],
    objective: { _tag: "GroupWise" },
  },
  ...(Object.fromEntries(baselineNames.map((name) => [name, baselineSpec(name)])) as {
    readonly [B in BaselineName]: MethodSpec
  }),
  ...causalD,
}

/** Whether a method is trained with CausalD's objective (its causal label and feature guidance). */
export const usesCausalLabel = (name: MethodName): boolean =>
  methods[name].objective._tag === "CausalD"
