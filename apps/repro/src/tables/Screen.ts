/**
 * The readings screen (`--experiments readings`): CausalD under each reading of the paper's open
 * points against the base model, with t-tests over the seeds.
 *
 * @module
 */
import { Statistics } from "@causald/core"
import { Result } from "effect"
import { methodLabel } from "../Methods.ts"
import type {
  MethodResult,
  RankingSummaries,
  ReadingResult,
  Results,
  Summary,
  TruthAgreement,
} from "../Results.ts"
import { cell, csv, formatP, markdownTable, seedsNote, setting, type Table } from "./Format.ts"

/** Two-sided Student t-test p-value of two summaries over seeds (null when it cannot run). */
const pValue = (a: Summary, b: Summary): number | null => {
  const t = Statistics.studentTTest(a.perSeed, b.perSeed)
  return Result.isSuccess(t) ? t.success.pValue : null
}

/** A row of the screen: the base model, or CausalD under one reading. */
interface Row {
  readonly name: string
  readonly reading: string
  readonly metrics: RankingSummaries
  readonly truth: TruthAgreement | null
  readonly interventional: RankingSummaries | undefined
  readonly fullRanking: RankingSummaries | undefined
}

/** The base model's row (when it ran), then CausalD's under each screened reading. */
const screenRows = (
  base: MethodResult | undefined,
  baseName: string,
  readings: ReadonlyArray<ReadingResult>,
): ReadonlyArray<Row> => [
  ...(base === undefined
    ? []
    : [
        {
          name: baseName,
          reading: "",
          metrics: base.metrics,
          truth: base.truth,
          interventional: base.interventional,
          fullRanking: base.fullRanking,
        },
      ]),
  ...readings.map((r) => ({
    name: `CausalD ${r.name}`,
    reading: r.reading,
    metrics: r.metrics,
    truth: r.truth,
    interventional: r.interventional,
    fullRanking: r.fullRanking,
  })),
]

/** The screen as CSV: every column, measured or not, so that screens share one layout. */
const screenCsv = (
  rows: ReadonlyArray<Row>,
  vsBase: (r: Row, metric: "AUC" | "NDCG@10") => number | null,
): string =>
  csv(
    [
      "reading",
      "choices",
      "auc_mean",
      "auc_std",
      "ndcg10_mean",
      "ndcg10_std",
      "r10_mean",
      "r10_std",
      "p_auc_vs_base",
      "p_ndcg10_vs_base",
      "truth_rank_correlation",
      "oracle_gap_closed",
      "auc_interventional",
      "auc_full",
      "ndcg10_full",
    ],
    rows.map((r) => [
      r.name,
      r.reading,
      ...(["AUC", "NDCG@10", "R@10"] as const).flatMap((m) => [
        r.metrics[m].mean,
        r.metrics[m].std ?? "",
      ]),
      vsBase(r, "AUC") ?? "",
      vsBase(r, "NDCG@10") ?? "",
      r.truth?.rankCorrelation.mean ?? "",
      r.truth?.gapClosed?.mean ?? "",
      r.interventional?.AUC.mean ?? "",
      r.fullRanking?.AUC.mean ?? "",
      r.fullRanking?.["NDCG@10"].mean ?? "",
    ]),
  )

/**
 * The readings screen (`--experiments readings`): the base model, then CausalD under each reading
 * of the paper's open points, with two-sided t-tests over the seeds against the base model on AUC
 * and NDCG@10; on a simulated world also the agreement with the truth (and, on the front-door
 * world, the share of the oracle gap and the interventional AUC). Undefined without a screen.
 */
export const readingsTable = (results: Results): Table | undefined => {
  const readings = results.readings
  if (readings === undefined || readings.length === 0) return undefined
  const base = results.methods.find((m) => m.method === "base")
  const baseName = methodLabel("base", results.manifest.configuration.base)
  const withTruth = readings.some((r) => r.truth !== null)
  const withGap = readings.some((r) => r.truth?.gapClosed !== undefined)
  const withDo = readings.some((r) => r.interventional !== undefined)
  const withFull = readings.some((r) => r.fullRanking !== undefined)
  const rows = screenRows(base, baseName, readings)
  const vsBase = (r: Row, metric: "AUC" | "NDCG@10") =>
    base === undefined || r.name === baseName
      ? null
      : pValue(r.metrics[metric], base.metrics[metric])
  const header = [
    "Reading",
    "AUC",
    "NDCG@10",
    "R@10",
    `p AUC vs ${baseName}`,
    `p NDCG@10 vs ${baseName}`,
    ...(withTruth ? ["rank corr. with truth"] : []),
    ...(withGap ? ["oracle gap closed"] : []),
    ...(withDo ? ["AUC do(x)"] : []),
    ...(withFull ? ["AUC full", "NDCG@10 full"] : []),
  ]
  const columns = (r: Row) => [
    cell(r.metrics.AUC),
    cell(r.metrics["NDCG@10"]),
    cell(r.metrics["R@10"]),
    formatP(vsBase(r, "AUC")),
    formatP(vsBase(r, "NDCG@10")),
    ...(withTruth ? [cell(r.truth?.rankCorrelation)] : []),
    ...(withGap ? [cell(r.truth?.gapClosed)] : []),
    ...(withDo ? [cell(r.interventional?.AUC)] : []),
    ...(withFull ? [cell(r.fullRanking?.AUC), cell(r.fullRanking?.["NDCG@10"])] : []),
  ]
  const markdown = [
    `# Readings of the paper (${setting(results)})`,
    "",
    markdownTable(
      header,
      ["l", ...header.slice(1).map(() => "r" as const)],
      rows.map((r) => [r.reading === "" ? r.name : `${r.name} (${r.reading})`, ...columns(r)]),
    ),
    "",
    `${seedsNote(results)}. CausalD under each reading of the points the paper leaves open (apps/repro/src/Readings.ts): the literal reading, each single change from it, and the presets. p: two-sided Student t-test over the seeds against ${baseName}.`,
    "",
  ].join("\n")
  return { markdown, csv: screenCsv(rows, vsBase) }
}
