/**
 * The study's vocabulary: the data sets, splits, backends, experiments and bounds that the command
 * line accepts and the study, results and reports speak of. Defined here once, apart from the
 * parser (`Cli.ts`), so a module that only needs a name does not import the command line. The
 * methods and base models are in `Methods.ts`.
 *
 * @module
 */
import type { DataSource } from "@causald/data"

/**
 * Data sets the study reads; every one but the simulated worlds `simulated` and `frontdoor`
 * (`@causald/data`'s `Simulated` and `FrontDoor`) needs `--data`.
 */
export const datasets = [
  "simulated",
  "frontdoor",
  "movielens-100k",
  "movielens-1m",
  "amazon-csv",
  "amazon-json",
  "sequences",
  "exposure-log",
] as const
export type Dataset = (typeof datasets)[number]

/** The simulated worlds: their data come from a generator, not from `--data`. */
export const simulatedDatasets = ["simulated", "frontdoor"] as const
export type SimulatedDataset = (typeof simulatedDatasets)[number]
export const isSimulated = (d: Dataset): d is SimulatedDataset =>
  (simulatedDatasets as ReadonlyArray<Dataset>).includes(d)

/** The data set's loader format (`@causald/data`'s `DataSource`). */
export const formatOf = {
  "movielens-100k": "movielens-100k",
  "movielens-1m": "movielens-dat",
  "amazon-csv": "amazon-ratings",
  "amazon-json": "amazon-json",
  sequences: "sequences",
  "exposure-log": "exposure",
} as const satisfies { readonly [D in Exclude<Dataset, SimulatedDataset>]: DataSource["format"] }

/** The confounding strengths of the strength figure (issue: agreement with the truth against s). */
export const strengthGrid = [0, 0.25, 0.5, 0.75, 1] as const

/** What the teachers' user subsets are split by (section 3.3.1); `random` gives IID subsets. */
export const splits = ["activeness", "consistency", "attribute", "random"] as const
export type SplitBy = (typeof splits)[number]

/**
 * In-batch partners x_j per row of CausalD's causal label (eq. 14): S sampled with replacement
 * (an unbiased Monte-Carlo estimate of the inner average, the default with S = 16) or `all`, the
 * exact average over the whole batch as the paper prints it, whose [K, B, B, h] tensor costs
 * O(K B²) and is refused above `CausalDObjective.EXACT_LIMIT` elements.
 */
export type Partners = number | "all"
export const defaultPartners = 16

/** Tensor backends (see the repository README). */
export const backends = ["auto", "tensorflow", "wasm", "cpu"] as const
export type Backend = (typeof backends)[number]

/**
 * The stated range of every numeric flag; a value outside is refused with the flag and its range.
 * The paper runs 5 seeds, K in {2, 4, 8, 16} and searches λ in {0.01, 0.1, 1, 10}; the upper
 * bounds leave ample room above that and refuse values that only make a run diverge or never end
 * (`--lambda-bda 1e30` trained to a loss of 1.7e30 and AUC 0.52).
 */
export const bounds = {
  seeds: { min: 1, max: 50 },
  firstSeed: { min: 1, max: 1000 },
  teachers: { min: 2, max: 64 },
  epochs: { min: 1, max: 1000 },
  workers: { min: 1, max: 64 },
  partners: { min: 1, max: 1024 },
  intents: { min: 2, max: 64 },
  lambda: { min: 0, max: 1000 },
  kCore: { min: 1, max: 1000 },
  batchSize: { min: 16, max: 65536 },
  learningRate: { min: 0, max: 10 },
  fullRankingUsers: { min: 1, max: 10_000_000 },
} as const

/**
 * The paper's tables and figures the study can produce. Which methods each needs is part of the
 * methods' registry (`Methods.experimentNeeds`).
 */
export const experiments = [
  "table2",
  "table3",
  "table5",
  "table7",
  "fig1",
  "fig4",
  "fig5",
  "strength",
  "readings",
] as const
export type Experiment = (typeof experiments)[number]

/**
 * Experiments run only when `--experiments` names them: the readings screen trains a CausalD
 * student per reading and seed (`Readings.screen`), many times a study's cost.
 */
export const optInExperiments: ReadonlyArray<Experiment> = ["readings"]

/** Experiments only a data set with a confounding dial and exact oracles can run. */
export const frontDoorOnly: ReadonlyArray<Experiment> = ["strength"]
