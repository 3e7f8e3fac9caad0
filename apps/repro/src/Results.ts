/**
 * `results.json`: everything a run measured, versioned (`schemaVersion: 2`) and described field
 * by field in `apps/repro/README.md`. The tables, figures and report are pure functions of it, so
 * they can be regenerated from a stored run.
 *
 * Numbers are plain finite JSON numbers; a quantity that cannot be computed (the standard
 * deviation of one seed, a p-value of constant samples) is `null`, never NaN.
 *
 * @module
 */
import { Statistics } from "@causald/core"
import { Result, Schema } from "effect"
import { OutputFingerprint } from "./Fingerprint.ts"
import { type Method, methodLabel, methods, overallMethods } from "./Methods.ts"
import { StudyOptions } from "./Options.ts"
import { datasets } from "./Vocabulary.ts"

/** The version this module writes and reads. */
export const schemaVersion = 2

/** The ranking metrics of section 5.1, named as `Ranking.metricNames()` of the core. */
export const rankingMetrics = ["AUC", "R@5", "R@10", "NDCG@5", "NDCG@10"] as const
export type RankingMetric = (typeof rankingMetrics)[number]

/** The rows of Tables 3 and 4: the ranking metrics and Heterogeneity. */
export const tableMetrics = [...rankingMetrics, "Heterogeneity"] as const
export type TableMetric = (typeof tableMetrics)[number]

/** Heterogeneity (eq. 8) is the only metric where lower is better. */
export const direction = (metric: TableMetric): "higher" | "lower" =>
  metric === "Heterogeneity" ? "lower" : "higher"

/** One quantity over the seeds: the values in `manifest.seeds` order, their mean and sample std. */
export const Summary = Schema.Struct({
  perSeed: Schema.Array(Schema.Finite),
  mean: Schema.Finite,
  /** Sample standard deviation (denominator n - 1); null for a single seed. */
  std: Schema.NullOr(Schema.Finite),
})
export type Summary = typeof Summary.Type

const rankingFields = <S extends Schema.Constraint>(s: S) => ({
  AUC: s,
  "R@5": s,
  "R@10": s,
  "NDCG@5": s,
  "NDCG@10": s,
})

/** The five ranking metrics, each summarised over seeds. */
export const RankingSummaries = Schema.Struct(rankingFields(Summary))
export type RankingSummaries = typeof RankingSummaries.Type

/** The table metrics of a method: the ranking metrics and Heterogeneity (null if not measured). */
export const MethodMetrics = Schema.Struct({
  ...rankingFields(Summary),
  /** The paper's Heterogeneity (mean of S_h° over the five metrics, eq. 8); needs `groupwise`. */
  Heterogeneity: Schema.NullOr(Summary),
})
export type MethodMetrics = typeof MethodMetrics.Type

/**
 * Agreement of a model's test scores with the true interventional click probabilities
 * P(click | do(history), item) of a simulated data set, over each user's 1 + N candidates.
 */
export const TruthAgreement = Schema.Struct({
  /** Mean over users of Spearman's rank correlation between scores and truth. */
  rankCorrelation: Summary,
  /** Mean over users of the share of candidate pairs ordered as the truth orders them. */
  pairwiseAccuracy: Summary,
  /**
   * Front-door world only: the share of the oracle gap closed, (ρ - ρ_obs) / (1 - ρ_obs), with ρ
   * this rank correlation and ρ_obs the observational oracle's: 0 is no better than the best
   * unadjusted predictor, 1 is the truth, below 0 is worse than the observational oracle.
   */
  gapClosed: Schema.optionalKey(Summary),
})
export type TruthAgreement = typeof TruthAgreement.Type

/** One method's overall results. */
export const MethodResult = Schema.Struct({
  method: Schema.Literals(methods),
  label: Schema.String,
  metrics: MethodMetrics,
  truth: Schema.NullOr(TruthAgreement),
  /**
   * Front-door world only: the ranking metrics on the test split whose clicks were drawn under
   * do(history) (the debiased evaluation real data cannot give).
   */
  interventional: Schema.optionalKey(RankingSummaries),
  /**
   * `--full-ranking`: the ranking metrics of each test target against every item the user has not
   * consumed, instead of 100 sampled negatives.
   */
  fullRanking: Schema.optionalKey(RankingSummaries),
})
export type MethodResult = typeof MethodResult.Type

/** The exact predictors of the front-door world, scored like a method (no seeds: one value). */
export const oracles = ["observational-oracle", "truth"] as const
export type Oracle = (typeof oracles)[number]

/** An oracle's row: its ranking metrics on both test splits and its agreement with the truth. */
export const OracleResult = Schema.Struct({
  oracle: Schema.Literals(oracles),
  label: Schema.String,
  /** Ranking metrics on the observational test split. */
  metrics: Schema.Struct(rankingFields(Schema.Finite)),
  /** Ranking metrics on the interventional test split. */
  interventional: Schema.Struct(rankingFields(Schema.Finite)),
  rankCorrelation: Schema.Finite,
  pairwiseAccuracy: Schema.Finite,
})
export type OracleResult = typeof OracleResult.Type

/** The label of an oracle row. */
export const oracleLabel = (oracle: Oracle): string =>
  oracle === "truth" ? "Truth P(y | do(x))" : "Observational oracle P(y | x)"

/**
 * One confounding strength of the strength figure: the observational oracle's agreement with the
 * truth and each method's, over the seeds (front-door world, `--experiments strength`).
 */
export const StrengthPoint = Schema.Struct({
  strength: Schema.Finite,
  /** The run folder of this strength (relative to the study's), or "." for the study itself. */
  folder: Schema.String,
  oracleRankCorrelation: Schema.Finite,
  methods: Schema.Array(
    Schema.Struct({
      method: Schema.Literals(methods),
      rankCorrelation: Summary,
      gapClosed: Schema.NullOr(Summary),
    }),
  ),
})
export type StrengthPoint = typeof StrengthPoint.Type

/**
 * Best against runner-up on one table metric: a two-sided Student t-test over the seeds
 * (scipy.stats.ttest_ind as the paper, section 5.1).
 */
export const Comparison = Schema.Struct({
  metric: Schema.Literals(tableMetrics),
  direction: Schema.Literals(["higher", "lower"]),
  best: Schema.Literals(methods),
  runnerUp: Schema.NullOr(Schema.Literals(methods)),
  statistic: Schema.NullOr(Schema.Finite),
  degreesOfFreedom: Schema.NullOr(Schema.Finite),
  pValue: Schema.NullOr(Schema.Finite),
  /** Why `pValue` is null, when it is. */
  note: Schema.NullOr(Schema.String),
})
export type Comparison = typeof Comparison.Type

/** A metric per user group over seeds: `perSeed[s][g]`, and per group the mean and sample std. */
export const GroupSummary = Schema.Struct({
  perSeed: Schema.Array(Schema.Array(Schema.Finite)),
  mean: Schema.Array(Schema.Finite),
  std: Schema.Array(Schema.NullOr(Schema.Finite)),
})
export type GroupSummary = typeof GroupSummary.Type

/** Per-group test metrics of every method under one grouping of the users. */
export const Grouping = Schema.Struct({
  /** What users are grouped by: `activeness`, `consistency`, an attribute name, `confounder`. */
  name: Schema.String,
  labels: Schema.Array(Schema.String),
  sizes: Schema.Array(Schema.Int),
  /** The grouping variable's mean per group (the bars of Fig. 4), when it is numeric. */
  value: Schema.NullOr(Schema.Struct({ name: Schema.String, mean: Schema.Array(Schema.Finite) })),
  methods: Schema.Array(
    Schema.Struct({
      method: Schema.Literals(methods),
      metrics: Schema.Struct(rankingFields(GroupSummary)),
    }),
  ),
})
export type Grouping = typeof Grouping.Type

/** CausalD run with one other setting (Table 7's K, Fig. 5's λ). */
export const VariantPoint = Schema.Struct({ value: Schema.Finite, metrics: RankingSummaries })
export type VariantPoint = typeof VariantPoint.Type

/** One reading of the screen (`--experiments readings`): CausalD under it, over the seeds. */
export const ReadingResult = Schema.Struct({
  /** The screen entry's name (`Readings.screen`). */
  name: Schema.String,
  /** Its non-literal choices, e.g. "bdaDistance=mse, studentInit=base", or "literal". */
  reading: Schema.String,
  metrics: RankingSummaries,
  truth: Schema.NullOr(TruthAgreement),
  interventional: Schema.optionalKey(RankingSummaries),
  fullRanking: Schema.optionalKey(RankingSummaries),
})
export type ReadingResult = typeof ReadingResult.Type

/** The data set as prepared (Table 2) and the protocol. */
export const DatasetSummary = Schema.Struct({
  name: Schema.String,
  kind: Schema.Literals(datasets),
  users: Schema.Int,
  items: Schema.Int,
  interactions: Schema.Int,
  /** interactions / (users x items) */
  density: Schema.Finite,
  kCore: Schema.Int,
  /** Sampled negatives N per test user (the paper: 100). */
  candidates: Schema.Int,
  historyLength: Schema.Int,
  /** Whether true interventional click probabilities exist (simulated data). */
  hasTruth: Schema.Boolean,
})
export type DatasetSummary = typeof DatasetSummary.Type

/** One part of joined results (`bun run repro-merge`): where it came from and how it was made. */
export const ManifestPart = Schema.Struct({
  /** The part's folder (absolute, as given to `repro-merge`). */
  folder: Schema.String,
  seeds: Schema.Array(Schema.Int),
  backend: Schema.String,
  gitRevision: Schema.NullOr(Schema.String),
  gitDirty: Schema.NullOr(Schema.Boolean),
  cpuModel: Schema.NullOr(Schema.String),
  startedAt: Schema.String,
  finishedAt: Schema.String,
  wallTimeSeconds: Schema.Finite,
})
export type ManifestPart = typeof ManifestPart.Type

/** How the run was made. */
export const Manifest = Schema.Struct({
  configuration: StudyOptions,
  seeds: Schema.Array(Schema.Int),
  /** The tensor backend that actually ran. */
  backend: Schema.String,
  /** Installed versions of the packages that shape the numbers. */
  packages: Schema.Record(Schema.String, Schema.String),
  gitRevision: Schema.NullOr(Schema.String),
  gitDirty: Schema.NullOr(Schema.Boolean),
  runtime: Schema.Struct({
    bun: Schema.String,
    platform: Schema.String,
    arch: Schema.String,
    cpus: Schema.Int,
    /** The CPU's model name (`os.cpus()`); absent in results written before it was recorded. */
    cpuModel: Schema.optionalKey(Schema.String),
  }),
  /** ISO 8601 UTC. */
  startedAt: Schema.String,
  finishedAt: Schema.String,
  wallTimeSeconds: Schema.Finite,
  stages: Schema.Array(Schema.Struct({ name: Schema.String, seconds: Schema.Finite })),
  /**
   * Every model the study trained or reloaded (folder under `models/`), with its epochs and the
   * seconds they took, summed from its checkpoint: the training cost of the whole study, also
   * when workers or earlier, interrupted invocations trained the models.
   */
  training: Schema.Array(
    Schema.Struct({ model: Schema.String, epochs: Schema.Int, seconds: Schema.Finite }),
  ),
  /**
   * What the models were trained on (the output folder's `fingerprint.json`): `repro-merge` joins
   * only parts with the same one. Absent in results written before it was recorded.
   */
  fingerprint: Schema.optionalKey(OutputFingerprint),
  /**
   * Results joined by `bun run repro-merge` (`Merge.ts`): each part's folder, seeds and how it
   * was made. Absent in the results of one invocation.
   */
  parts: Schema.optionalKey(Schema.Array(ManifestPart)),
})
export type Manifest = typeof Manifest.Type

/** The whole of `results.json`. */
export const Results = Schema.Struct({
  schemaVersion: Schema.Literal(schemaVersion),
  manifest: Manifest,
  dataset: DatasetSummary,
  /** Which grouping and unit the Heterogeneity figures use. */
  heterogeneity: Schema.Struct({
    grouping: Schema.String,
    scale: Schema.Literals(["percent", "fraction"]),
  }),
  methods: Schema.Array(MethodResult),
  comparisons: Schema.Array(Comparison),
  groupings: Schema.Array(Grouping),
  /** Table 7: CausalD with K teachers, `value` = K. */
  teacherCounts: Schema.NullOr(Schema.Array(VariantPoint)),
  /** Fig. 5: CausalD with one coefficient varied, the other at its configured value. */
  /**
   * Loss coefficients chosen by `--search` on validation data (method or "causald lambdaFda" ->
   * value); empty when each method ran with its default.
   */
  coefficients: Schema.Record(Schema.String, Schema.Finite),
  sensitivity: Schema.NullOr(
    Schema.Struct({
      lambdaBda: Schema.Array(VariantPoint),
      lambdaFda: Schema.Array(VariantPoint),
    }),
  ),
  /** Front-door world only: the observational oracle and the truth scored as methods. */
  oracles: Schema.optionalKey(Schema.Array(OracleResult)),
  /** Front-door world, `--experiments strength`: agreement with the truth against s. */
  strength: Schema.optionalKey(Schema.Array(StrengthPoint)),
  /** `--experiments readings`: CausalD under each reading of the paper's open points. */
  readings: Schema.optionalKey(Schema.Array(ReadingResult)),
})
export type Results = typeof Results.Type

/** `results.json` could not be read: bad JSON, another schema version or a field out of shape. */
export class ResultsFormatError extends Schema.TaggedError<ResultsFormatError>()(
  "ResultsFormatError",
  { source: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `${this.source}: ${this.reason}`
  }
}

/** The JSON text of `results.json` (2-space indented); fails on a value outside the schema. */
export const encodeResults = (results: Results): Result.Result<string, ResultsFormatError> =>
  Result.mapError(
    Schema.encodeResult(Results)(results),
    (e) => new ResultsFormatError({ source: "results", reason: e.message }),
  ).pipe(Result.map((encoded) => `${JSON.stringify(encoded, null, 2)}\n`))

/** Reads `results.json` text; `source` names the file in errors. */
export const decodeResults = (
  text: string,
  source = "results.json",
): Result.Result<Results, ResultsFormatError> => {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (e) {
    return Result.fail(new ResultsFormatError({ source, reason: `not JSON: ${String(e)}` }))
  }
  const version =
    typeof json === "object" && json !== null && "schemaVersion" in json
      ? json.schemaVersion
      : undefined
  if (version !== schemaVersion) {
    return Result.fail(
      new ResultsFormatError({
        source,
        reason: `schemaVersion ${JSON.stringify(version)} is not supported (this version reads ${schemaVersion})`,
      }),
    )
  }
  return Result.mapError(
    Schema.decodeUnknownResult(Results)(json),
    (e) => new ResultsFormatError({ source, reason: e.message }),
  )
}

/** Mean and sample standard deviation of one quantity over the seeds. */
export const summarize = (perSeed: ReadonlyArray<number>): Summary => ({
  perSeed: [...perSeed],
  mean: Statistics.mean(perSeed),
  std: perSeed.length < 2 ? null : Statistics.sampleStandardDeviation(perSeed),
})

/** Per-group mean and sample std from `perSeed[s][g]`. */
export const summarizeGroups = (perSeed: ReadonlyArray<ReadonlyArray<number>>): GroupSummary => {
  const groups = perSeed[0]?.length ?? 0
  const column = (g: number) => perSeed.map((row) => row[g])
  const mean: Array<number> = []
  const std: Array<number | null> = []
  for (let g = 0; g < groups; g++) {
    const s = summarize(column(g))
    mean.push(s.mean)
    std.push(s.std)
  }
  return { perSeed: perSeed.map((row) => [...row]), mean, std }
}

/** A method's summary of one table metric, or undefined when not measured. */
export const metricOf = (m: MethodResult, metric: TableMetric): Summary | undefined => {
  const s = m.metrics[metric]
  return s === null ? undefined : s
}

/**
 * Ranks `candidates` (default: the Table 3 methods) present in `methodResults` by mean on each
 * table metric, in the metric's direction, and tests the best against the runner-up. Ties keep
 * the candidates' order.
 */
export const compareMethods = (
  methodResults: ReadonlyArray<MethodResult>,
  candidates: ReadonlyArray<Method> = overallMethods,
): ReadonlyArray<Comparison> => {
  const out: Array<Comparison> = []
  for (const metric of tableMetrics) {
    const dir = direction(metric)
    const ranked = ranking(methodResults, metric, candidates)
    const best = ranked[0]
    if (best === undefined) continue
    const runner = ranked[1]
    const base = {
      metric,
      direction: dir,
      best: best.method,
      runnerUp: runner?.method ?? null,
    } as const
    if (runner === undefined) {
      out.push({
        ...base,
        statistic: null,
        degreesOfFreedom: null,
        pValue: null,
        note: "only one method measured",
      })
      continue
    }
    const test = Statistics.studentTTest(best.summary.perSeed, runner.summary.perSeed)
    out.push(
      Result.isSuccess(test)
        ? {
            ...base,
            statistic: test.success.statistic,
            degreesOfFreedom: test.success.degreesOfFreedom,
            pValue: test.success.pValue,
            note: null,
          }
        : {
            ...base,
            statistic: null,
            degreesOfFreedom: null,
            pValue: null,
            note: test.failure.reason,
          },
    )
  }
  return out
}

/** The candidates measured on `metric`, best first (by mean, in the metric's direction). */
export const ranking = (
  methodResults: ReadonlyArray<MethodResult>,
  metric: TableMetric,
  candidates: ReadonlyArray<Method> = overallMethods,
): ReadonlyArray<{ readonly method: Method; readonly summary: Summary }> => {
  const sign = direction(metric) === "higher" ? -1 : 1
  const present: Array<{ method: Method; summary: Summary; order: number }> = []
  candidates.forEach((method, order) => {
    const r = methodResults.find((x) => x.method === method)
    const summary = r === undefined ? undefined : metricOf(r, metric)
    if (summary !== undefined) present.push({ method, summary, order })
  })
  present.sort((a, b) => sign * (a.summary.mean - b.summary.mean) || a.order - b.order)
  return present.map(({ method, summary }) => ({ method, summary }))
}

/** Looks a method up. */
export const findMethod = (results: Results, method: Method): MethodResult | undefined =>
  results.methods.find((m) => m.method === method)

/** Looks a grouping up by name. */
export const findGrouping = (results: Results, name: string): Grouping | undefined =>
  results.groupings.find((g) => g.name === name)

/** The base model name of a run ("DIN" or "DeepFM"). */
export const baseLabel = (results: Results): string =>
  methodLabel("base", results.manifest.configuration.base)
