/**
 * The study's results from what its runs measured: each method's metrics over the seeds with
 * Heterogeneity (eq. 8), the groupings, the oracles, the readings screen, the manifest; then
 * `results.json` with its tables, figures and report written, and Table 3 on stdout.
 *
 * @module
 */
import { Heterogeneity } from "@causald/core"
import type { UserGroups } from "@causald/data"
import { Clock, Console, Effect, Result } from "effect"
import { outputFingerprint } from "../Fingerprint.ts"
import { methodLabel } from "../Methods.ts"
import { repoRoot } from "../Options.ts"
import { gitState, packageVersions, runtime, writeStudyOutputs } from "../Output.ts"
import * as Readings from "../Readings.ts"
import {
  compareMethods,
  type Grouping,
  type MethodResult,
  type OracleResult,
  type ReadingResult,
  type Results,
  rankingMetrics,
  type StrengthPoint,
  schemaVersion,
  summarize,
  summarizeGroups,
} from "../Results.ts"
import * as Tables from "../Tables.ts"
import type { StudyContext } from "./Context.ts"
import type { Evaluation, GroupRows } from "./Evaluation.ts"
import { ordinary, screenEntries, withGroupWise } from "./Jobs.ts"
import type { Evaluations } from "./Runs.ts"

/** Heterogeneity (eq. 8, percentage points): a model's per-group metrics against group-wise. */
const heterogeneityOf = (
  ctx: StudyContext,
  groupWise: ReadonlyArray<GroupRows>,
  evaluation: Evaluation,
  seedIndex: number,
): number => {
  const unified = evaluation.groups[ctx.evaluationGrouping.name]!
  const perMetric = (rows: GroupRows) =>
    Object.fromEntries(rankingMetrics.map((m) => [m, rows.map((r) => r[m]!)]))
  return Result.getOrThrow(
    Heterogeneity.heterogeneity(perMetric(unified), perMetric(groupWise[seedIndex]!), {
      scale: "percent",
    }),
  ).heterogeneity
}

/** The observational oracle's rank correlation with the truth, when the data has oracles. */
export const oracleCorrelationOf = (oracles: ReadonlyArray<OracleResult> | undefined) =>
  oracles?.find((o) => o.oracle === "observational-oracle")?.rankCorrelation

/** A model's test evaluations over the seeds, summarised (ranking, truth, interventional). */
const summaries = (runs: ReadonlyArray<Evaluation>, oracleCorrelation: number | undefined) => {
  const metric = (name: string) => summarize(runs.map((r) => r.overall[name]!))
  const interventional = (name: string) => summarize(runs.map((r) => r.interventional![name]!))
  const full = (name: string) => summarize(runs.map((r) => r.fullRanking![name]!))
  return {
    metrics: {
      AUC: metric("AUC"),
      "R@5": metric("R@5"),
      "R@10": metric("R@10"),
      "NDCG@5": metric("NDCG@5"),
      "NDCG@10": metric("NDCG@10"),
    },
    truth:
      runs[0]?.truth === null || runs.length === 0
        ? null
        : {
            rankCorrelation: summarize(runs.map((r) => r.truth!.rankCorrelation)),
            pairwiseAccuracy: summarize(runs.map((r) => r.truth!.pairwiseAccuracy)),
            ...(oracleCorrelation === undefined || oracleCorrelation >= 1
              ? {}
              : {
                  gapClosed: summarize(
                    runs.map((r) => gapClosed(r.truth!.rankCorrelation, oracleCorrelation)),
                  ),
                }),
          },
    ...(runs.length === 0 || runs[0]!.interventional === null
      ? {}
      : {
          interventional: {
            AUC: interventional("AUC"),
            "R@5": interventional("R@5"),
            "R@10": interventional("R@10"),
            "NDCG@5": interventional("NDCG@5"),
            "NDCG@10": interventional("NDCG@10"),
          },
        }),
    ...(runs.length === 0 || runs[0]!.fullRanking === null
      ? {}
      : {
          fullRanking: {
            AUC: full("AUC"),
            "R@5": full("R@5"),
            "R@10": full("R@10"),
            "NDCG@5": full("NDCG@5"),
            "NDCG@10": full("NDCG@10"),
          },
        }),
  }
}

/** Each method's row of results: its metrics over the seeds, then group-wise training's. */
export const methodResults = (
  ctx: StudyContext,
  evaluations: Evaluations,
  oracleCorrelation: number | undefined,
): Array<MethodResult> => {
  const { perSeed, groupWise } = evaluations
  const rows: Array<MethodResult> = ordinary(ctx).map((method) => {
    const runs = perSeed.get(method) ?? []
    const summary = summaries(runs, oracleCorrelation)
    return {
      method,
      label: methodLabel(method, ctx.options.base),
      ...summary,
      metrics: {
        ...summary.metrics,
        Heterogeneity: withGroupWise(ctx)
          ? summarize(runs.map((r, s) => heterogeneityOf(ctx, groupWise, r, s)))
          : null,
      },
    }
  })
  if (ctx.options.methods.includes("groupwise")) {
    const metric = (name: string) =>
      summarize(groupWise.map((rows) => weightedMean(rows, ctx.evaluationGrouping.sizes, name)))
    rows.push({
      method: "groupwise",
      label: methodLabel("groupwise", ctx.options.base),
      metrics: {
        AUC: metric("AUC"),
        "R@5": metric("R@5"),
        "R@10": metric("R@10"),
        "NDCG@5": metric("NDCG@5"),
        "NDCG@10": metric("NDCG@10"),
        Heterogeneity: null,
      },
      truth: null,
    })
  }
  return rows
}

/** The readings screen's rows: each entry's reading and its metrics over the seeds. */
export const readingResults = (
  ctx: StudyContext,
  evaluations: Evaluations,
  oracleCorrelation: number | undefined,
): Array<ReadingResult> =>
  screenEntries(ctx).map((entry) => ({
    name: entry.name,
    reading: Readings.describe(entry.reading),
    ...summaries(evaluations.screen.get(entry.name) ?? [], oracleCorrelation),
  }))

/** Each grouping's groups and every method's metrics per group over the seeds. */
export const groupingResults = (ctx: StudyContext, evaluations: Evaluations): Array<Grouping> => {
  const { perSeed, groupWise } = evaluations
  return ctx.groupings.map((grouping) => ({
    name: grouping.name,
    labels: [...grouping.labels],
    sizes: Array.from(grouping.sizes),
    value:
      grouping.values === undefined
        ? null
        : { name: groupingValueName(grouping.name), mean: groupMeans(grouping) },
    methods: [
      ...ordinary(ctx).map((method) => ({
        method,
        metrics: Object.fromEntries(
          rankingMetrics.map((m) => [
            m,
            summarizeGroups(
              (perSeed.get(method) ?? []).map((r) => r.groups[grouping.name]!.map((g) => g[m]!)),
            ),
          ]),
        ) as Grouping["methods"][number]["metrics"],
      })),
      ...(ctx.options.methods.includes("groupwise") && grouping.name === ctx.evaluationGrouping.name
        ? [
            {
              method: "groupwise" as const,
              metrics: Object.fromEntries(
                rankingMetrics.map((m) => [
                  m,
                  summarizeGroups(groupWise.map((rows) => rows.map((g) => g[m]!))),
                ]),
              ) as Grouping["methods"][number]["metrics"],
            },
          ]
        : []),
    ],
  }))
}

/** What results.json holds besides the manifest and the data set. */
export interface Parts {
  readonly methods: Array<MethodResult>
  readonly groupings: Array<Grouping>
  readonly readings: Array<ReadingResult>
  readonly oracles: Array<OracleResult> | undefined
  readonly strength: Array<StrengthPoint>
  readonly evaluations: Evaluations
}

/** results.json: the manifest (from the ledger), the data set and the parts. */
export const assemble = (ctx: StudyContext, parts: Parts) =>
  Effect.gen(function* () {
    const { options, data, ledger } = ctx
    const { teacherCounts, sensitivity } = parts.evaluations
    const finishedAt = yield* Clock.currentTimeMillis
    const git = gitState(repoRoot)
    const results: Results = {
      schemaVersion,
      manifest: {
        configuration: options,
        seeds: [...ctx.seeds],
        backend: ctx.backend.name,
        packages: packageVersions(),
        gitRevision: git.gitRevision,
        gitDirty: git.gitDirty,
        runtime: runtime(),
        startedAt: new Date(ledger.startedAt).toISOString(),
        finishedAt: new Date(finishedAt).toISOString(),
        wallTimeSeconds: (finishedAt - ledger.startedAt) / 1000,
        stages: ledger.stages,
        training: [...ledger.training].map(([model, t]) => ({ model, ...t })),
        fingerprint: outputFingerprint(data, ctx.baseModel, ctx.profile.training),
      },
      dataset: {
        name: data.name,
        kind: options.dataset,
        users: data.stats.users,
        items: data.stats.items,
        interactions: data.stats.interactions,
        density: data.stats.density,
        kCore: data.config.kCore,
        candidates: data.config.candidates,
        historyLength: data.config.historyLength,
        hasTruth: data.truth !== undefined,
      },
      heterogeneity: { grouping: ctx.evaluationGrouping.name, scale: "percent" },
      methods: parts.methods,
      comparisons: compareMethods(parts.methods),
      groupings: parts.groupings,
      teacherCounts: teacherCounts.length > 0 ? [...teacherCounts] : null,
      coefficients: ledger.coefficients,
      sensitivity:
        sensitivity.lambdaBda.length > 0
          ? { lambdaBda: [...sensitivity.lambdaBda], lambdaFda: [...sensitivity.lambdaFda] }
          : null,
      ...(parts.oracles === undefined ? {} : { oracles: parts.oracles }),
      ...(parts.strength.length === 0 ? {} : { strength: parts.strength }),
      ...(parts.readings.length === 0 ? {} : { readings: parts.readings }),
    }
    return results
  })

/** Writes results.json, its tables, figures and report, and prints Table 3 (`printTables`). */
export const write = (ctx: StudyContext, results: Results, printTables: boolean) =>
  Effect.gen(function* () {
    const written = yield* writeStudyOutputs(results)
    if (printTables) yield* printResults(results)
    yield* ctx.progress.note(
      "study",
      `wrote ${written.files.length} files to ${written.dir}${written.skipped.length ? `; skipped: ${written.skipped.join("; ")}` : ""}`,
    )
  })

/** Table 3, then the agreement with the truth, the interventional test and full ranking, on stdout. */
export const printResults = (results: Results) =>
  Console.log(
    [
      Tables.table3(results),
      Tables.truthTable(results),
      Tables.interventionalTable(results),
      Tables.fullRankingTable(results),
    ]
      .flatMap((t) => (t === undefined ? [] : [`\n${t.markdown}`]))
      .join(""),
  )

/**
 * The share of the oracle gap a rank correlation ρ closes: (ρ - ρ_obs) / (1 - ρ_obs), with ρ_obs
 * the observational oracle's (the truth's own is 1).
 */
const gapClosed = (rho: number, oracle: number): number => (rho - oracle) / (1 - oracle)

/** Mean of a metric over groups, weighted by group sizes (the whole population's mean). */
const weightedMean = (rows: GroupRows, sizes: Int32Array, metric: string): number => {
  let sum = 0
  let n = 0
  rows.forEach((row, g) => {
    sum += row[metric]! * sizes[g]!
    n += sizes[g]!
  })
  return sum / n
}

/** The grouping variable's mean in each group. */
const groupMeans = (grouping: UserGroups): Array<number> => {
  const sums = new Float64Array(grouping.sizes.length)
  grouping.groupOf.forEach((g, u) => {
    sums[g]! += grouping.values![u]!
  })
  return Array.from(sums, (s, g) => s / Math.max(1, grouping.sizes[g]!))
}

/**
 * What a grouping's per-group value is, for the bars of Figure 4. Consistency groups are ordered
 * by KL(past || now) over popularity groups (`Groups.consistency`): larger means LESS consistent,
 * as the x axis says; the bars show that KL.
 */
export const groupingValueName = (grouping: string): string =>
  grouping === "activeness"
    ? "mean activeness (interactions)"
    : grouping === "consistency"
      ? "mean KL(past ‖ now)"
      : `mean ${grouping}`
