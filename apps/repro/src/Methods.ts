/**
 * The study's methods and base models: `@causald/training`'s registry of methods
 * (`Methods.methods`: name, title, teachers, coefficients and their grids, objective) and
 * `@causald/models`' registry of base models, with what only the study knows about each method:
 * the experiments that need it, whether it is a column of Tables 3-4, and where the paper prints
 * its numbers. The command line's choices and aliases, the labels, the tables' columns and rows,
 * the paper-number lookups and the report all derive from here.
 *
 * Adding a baseline: its module and its entry in `packages/training/src/baselines/index.ts`; it
 * then is a `--methods` choice and a column of Tables 3-4 without an entry here (it has no paper
 * numbers). Adding a base model: its module and its entry in `packages/models/src/BaseModels.ts`
 * (the paper's tables of it, {@link paperTable} and `PaperNumbers.ts`, only if the paper ran it).
 *
 * @module
 */
import { BaseModels } from "@causald/models"
import { type Baselines, Methods as Training } from "@causald/training"
import type { Experiment } from "./Vocabulary.ts"
import { experiments } from "./Vocabulary.ts"

/**
 * The methods of the study, in its order. `base` is the base recommender itself (DIN or DeepFM,
 * `--base`); on the command line `din`, `deepfm` and `base` all name it. `groupwise` is the base
 * trained once per user group (eq. 7, Fig. 1); `wo-fda` and `ho-teachers` are the ablations of
 * Table 5.
 */
export const methods = Training.methodNames
export type Method = Training.MethodName

/** Base recommenders (section 5.1): DIN and DeepFM. */
export const bases = BaseModels.baseModelNames
export type Base = BaseModels.BaseModelName

/**
 * The paper's table of overall performance for each base model it ran (Table 3: DIN, Table 4:
 * DeepFM); a base model it did not run has none, and its runs are not set beside the paper's.
 */
export const paperTable: { readonly [B in Base]?: number } = { din: 3, deepfm: 4 }

/** What the study knows about a method besides its training (`@causald/training`'s registry). */
export interface StudyMethod {
  /** The experiments that need it among `--methods`. */
  readonly neededBy: ReadonlyArray<Experiment>
  /** Whether it is a column of Tables 3-4 (the paper's overall comparison). */
  readonly overall: boolean
  /**
   * Where the paper prints its numbers (`PaperNumbers.ts`): a column of Tables 3-4, and its row of
   * Table 5 (0 is the top row); absent where the paper has none.
   */
  readonly paper: { readonly overall?: true; readonly ablationRow?: number }
}

/** A baseline without an entry below: a column of Tables 3-4 with no paper numbers. */
const baselineDefault: StudyMethod = { neededBy: [], overall: true, paper: {} }
const paperBaseline: StudyMethod = { neededBy: [], overall: true, paper: { overall: true } }

const study: { readonly [M in Exclude<Method, Baselines.BaselineName>]: StudyMethod } & {
  readonly [B in Baselines.BaselineName]?: StudyMethod
} = {
  base: {
    neededBy: ["table5", "fig1", "fig4", "strength", "readings"],
    overall: true,
    paper: { overall: true, ablationRow: 0 },
  },
  groupwise: { neededBy: ["fig1"], overall: false, paper: {} },
  kd: paperBaseline,
  ips: paperBaseline,
  causalrec: paperBaseline,
  derec: paperBaseline,
  debiasd: paperBaseline,
  ensctr: paperBaseline,
  meal: paperBaseline,
  causald: {
    neededBy: ["table5", "table7", "fig4", "fig5", "strength", "readings"],
    overall: true,
    paper: { overall: true, ablationRow: 3 },
  },
  "wo-fda": { neededBy: ["table5", "fig4"], overall: false, paper: { ablationRow: 2 } },
  "ho-teachers": { neededBy: ["table5"], overall: false, paper: { ablationRow: 1 } },
}

/** A method's study metadata. */
export const studyMethod = (m: Method): StudyMethod => study[m] ?? baselineDefault

/** A method's training: teachers, coefficients, objective (`@causald/training`). */
export const spec = (m: Method): Training.MethodSpec => Training.methods[m]

/** The grid a method's coefficient is searched on (section 5.1). */
export const coefficientGrid = (
  m: Method,
  name: Training.Coefficient["name"],
): ReadonlyArray<number> => {
  const coefficient = Training.methods[m].coefficients.find((c) => c.name === name)
  if (coefficient === undefined) throw new Error(`${m} has no coefficient ${name}`)
  return coefficient.grid
}

/** A method's name as the paper prints it, the base one after `--base`. */
export const methodLabel = (method: Method, base: Base): string =>
  Training.methods[method].title(BaseModels.baseModels[base].title)

/** The methods of the study's Tables 3 and 4, in column order. */
export const overallMethods: ReadonlyArray<Method> = methods.filter((m) => studyMethod(m).overall)

/** The methods of the paper's Tables 3 and 4, in its column order. */
export const paperOverallMethods: ReadonlyArray<Method> = methods.filter(
  (m) => studyMethod(m).paper.overall === true,
)

/** The rows of Table 5 (the ablations), in the paper's order. */
export const ablationMethods: ReadonlyArray<Method> = methods
  .filter((m) => studyMethod(m).paper.ablationRow !== undefined)
  .sort((a, b) => studyMethod(a).paper.ablationRow! - studyMethod(b).paper.ablationRow!)

/**
 * The order experiments show methods in: Table 5's rows first (base, Ho Teachers, w.o. FDA,
 * CausalD: each step adds to the one before, as Fig. 4 shows them too), then the study's order.
 */
const shownOrder: ReadonlyArray<Method> = [
  ...ablationMethods,
  ...methods.filter((m) => !ablationMethods.includes(m)),
]

/** The methods an experiment needs among `--methods`, in the order it shows them. */
export const experimentNeeds: { readonly [E in Experiment]: ReadonlyArray<Method> } = (() => {
  const needs = {} as Record<Experiment, ReadonlyArray<Method>>
  for (const e of experiments)
    needs[e] = shownOrder.filter((m) => studyMethod(m).neededBy.includes(e))
  return needs
})()

/** Other names of a method on the command line: each base model's name names `base`. */
export const methodAliases: { readonly [name: string]: Method } = Object.fromEntries(
  bases.map((b) => [b, "base"]),
)

/** A method as the command line names it (`din` for the base model). */
export const cliName = (m: Method): string => (m === "base" ? bases[0] : m)

/** The methods trained with CausalD's objective (its causal label and feature guidance). */
export const usesLabel = (m: Method): boolean => spec(m).objective._tag === "CausalD"
