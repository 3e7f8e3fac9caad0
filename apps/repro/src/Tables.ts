/**
 * The paper's tables from a run's results, as Markdown and CSV: Table 2 (data statistics), Table
 * 3/4 (overall performance and Heterogeneity, with the best in bold, the runner-up underlined and
 * the p-value of the best against the runner-up), Table 5 (ablation) and Table 7 (number of
 * teachers). Where the data set and base model match one of the paper's, its numbers stand beside
 * ours. Pure: results in, strings out.
 *
 * @module
 */
import { Statistics } from "@causald/core"
import { stringify } from "csv-stringify/sync"
import { Result } from "effect"
import { type Base, type Method, methodLabel, overallMethods, paperTable } from "./Methods.ts"
import * as Paper from "./PaperNumbers.ts"
import {
  baseLabel,
  direction,
  findMethod,
  type RankingMetric,
  type RankingSummaries,
  type Results,
  ranking,
  type Summary,
  type TableMetric,
  tableMetrics,
} from "./Results.ts"

/** A table as Markdown (for reading) and CSV (for analysis). */
export interface Table {
  readonly markdown: string
  readonly csv: string
}

/** The paper's setting a run can be set beside, and how it differs. */
export interface PaperMatch {
  readonly dataset: Paper.PaperDataset
  readonly base: Base
  /** Where the run's data set differs from the paper's, or null. */
  readonly note: string | null
}

/** The paper's data set matching the run's, if any (MovieLens or Amazon, with DIN or DeepFM). */
export const paperMatch = (results: Results): PaperMatch | undefined => {
  const base = results.manifest.configuration.base
  if (Paper.overall[base] === undefined) return undefined
  switch (results.dataset.kind) {
    case "movielens-1m":
      return { dataset: "MovieLens", base, note: null }
    case "movielens-100k":
      return {
        dataset: "MovieLens",
        base,
        note: "the paper used MovieLens-1M (6,040 users); this run uses MovieLens-100K",
      }
    case "amazon-csv":
    case "amazon-json":
      return {
        dataset: "Amazon",
        base,
        note: "the paper used Amazon Books (16-core); check that this run's file is the same category",
      }
    default:
      return undefined
  }
}

/** `1.36e-07`: the paper's p-value style. */
export const formatP = (p: number | null): string => {
  if (p === null) return "–"
  const [mantissa, exponent] = p.toExponential(2).split("e")
  const e = Number(exponent)
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`
}

const fixed = (x: number): string => x.toFixed(4)

const cell = (s: Summary | undefined): string =>
  s === undefined ? "–" : s.std === null ? fixed(s.mean) : `${fixed(s.mean)} ± ${fixed(s.std)}`

type Mark = "best" | "runnerUp" | undefined

const mark = (text: string, m: Mark): string =>
  m === "best" ? `**${text}**` : m === "runnerUp" ? `<u>${text}</u>` : text

/** Best and runner-up positions among `values` (undefined ones skipped; ties keep order). */
export const marks = (
  values: ReadonlyArray<number | undefined>,
  dir: "higher" | "lower",
): ReadonlyArray<Mark> => {
  const order = values
    .map((v, i) => ({ v, i }))
    .filter((x): x is { v: number; i: number } => x.v !== undefined)
    .sort((a, b) => (dir === "higher" ? b.v - a.v : a.v - b.v) || a.i - b.i)
  const out: Array<Mark> = values.map(() => undefined)
  if (order[0] !== undefined) out[order[0].i] = "best"
  if (order[1] !== undefined) out[order[1].i] = "runnerUp"
  return out
}

const markdownTable = (
  header: ReadonlyArray<string>,
  align: ReadonlyArray<"l" | "r">,
  rows: ReadonlyArray<ReadonlyArray<string>>,
): string =>
  [
    `| ${header.join(" | ")} |`,
    `|${align.map((a) => (a === "r" ? "---:" : "---")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n")

const csv = (header: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string | number>>) =>
  stringify([header, ...rows] as Array<Array<string | number>>)

const metricName = (metric: TableMetric): string =>
  metric === "Heterogeneity" ? "Heterogeneity ↓" : metric

const seedsNote = (results: Results): string => {
  const n = results.manifest.seeds.length
  return n === 1 ? "one seed (no standard deviation)" : `mean ± sample std over ${n} seeds`
}

const setting = (results: Results): string => `${results.dataset.name}, base ${baseLabel(results)}`

/** The paper's number of the table of `base` (3 or 4); "3/4" for a base model the paper did not run. */
const paperTableNumber = (base: Base): string => String(paperTable[base] ?? "3/4")

/** Table 2: users, items, interactions and density of this run's data, then the paper's. */
export const table2 = (results: Results): Table => {
  const d = results.dataset
  const header = ["Dataset", "#Users", "#Items", "#Interactions", "#Density"]
  const ours = [
    `${d.name} (this run, ${d.kCore}-core)`,
    d.users,
    d.items,
    d.interactions,
    d.density,
  ]
  const paper = Paper.table2.map((r) => [
    `${r.dataset} (paper)`,
    r.users,
    r.items,
    r.interactions,
    r.density,
  ])
  const rows = [ours, ...paper]
  const show = (r: ReadonlyArray<string | number>) =>
    r.map((x, i) =>
      typeof x === "string" ? x : i === 4 ? x.toFixed(5) : x.toLocaleString("en-US"),
    )
  return {
    markdown: [
      "# Table 2: statistics of the data set",
      "",
      `This run's data after the protocol (${d.kCore}-core, leave-last-out, ${d.candidates} sampled negatives per test user); the paper's data sets below for scale.`,
      "",
      markdownTable(header, ["l", "r", "r", "r", "r"], rows.map(show)),
      "",
    ].join("\n"),
    csv: csv(["dataset", "users", "items", "interactions", "density"], rows),
  }
}

/**
 * Table 3 (base DIN) or 4 (DeepFM): rows are the metrics, columns the methods of the paper's
 * table present in the run, then the p-value of the best against the runner-up. Under each of our
 * rows, the paper's row when the setting matches.
 */
export const table3 = (results: Results): Table => {
  const columns = overallMethods.filter((m) => findMethod(results, m) !== undefined)
  const base = results.manifest.configuration.base
  const labels = columns.map((m) => methodLabel(m, base))
  const match = paperMatch(results)
  const paperRows = match === undefined ? undefined : Paper.overall[match.base]?.[match.dataset]
  const mdRows: Array<Array<string>> = []
  const csvRows: Array<Array<string | number>> = []
  for (const metric of tableMetrics) {
    const ranked = ranking(results.methods, metric, columns)
    const summaries = columns.map((m) => {
      const r = findMethod(results, m)
      const s = r?.metrics[metric]
      return s === null ? undefined : s
    })
    const comparison = results.comparisons.find((c) => c.metric === metric)
    const rankMark = (m: Method): Mark =>
      ranked[0]?.method === m ? "best" : ranked[1]?.method === m ? "runnerUp" : undefined
    const pair =
      comparison?.runnerUp != null
        ? ` (${methodLabel(comparison.best, base)} vs ${methodLabel(comparison.runnerUp, base)})`
        : ""
    mdRows.push([
      metricName(metric),
      "this run",
      ...columns.map((m, i) => mark(cell(summaries[i]), rankMark(m))),
      comparison === undefined ? "–" : `${formatP(comparison.pValue)}${pair}`,
    ])
    csvRows.push([
      "this run",
      metric,
      direction(metric),
      ...summaries.flatMap((s) => [s?.mean ?? "", s?.std ?? ""]),
      comparison?.best ?? "",
      comparison?.runnerUp ?? "",
      comparison?.pValue ?? "",
    ])
    const paper = paperRows?.find((r) => r.metric === metric)
    if (paper !== undefined && match !== undefined) {
      const source = `paper (Table ${paperTableNumber(match.base)}, ${match.dataset})`
      mdRows.push([
        "",
        source,
        ...columns.map((m) => {
          const v = paper.values[m]
          if (v === undefined) return "–"
          return paper.underlined.includes(m) ? `<u>${fixed(v)}</u>` : fixed(v)
        }),
        `${formatP(paper.pValue)} (CausalD vs best baseline)`,
      ])
      csvRows.push([
        source,
        metric,
        direction(metric),
        ...columns.flatMap((m) => [paper.values[m] ?? "", ""]),
        "",
        "",
        paper.pValue ?? "",
      ])
    }
  }
  const heterogeneityMissing = results.methods.every((m) => m.metrics.Heterogeneity === null)
  const notes = [
    `${seedsNote(results)}. **Bold**: best of this run; <u>underlined</u>: runner-up. Higher is better except for Heterogeneity ↓ (the mean bias-amplified heterogeneity S_h° of eq. 8 over the five metrics, ${results.heterogeneity.scale === "percent" ? "in percentage points" : "as a fraction"}, users grouped by ${results.heterogeneity.grouping}), where lower is better.`,
    "p-value: two-sided Student t-test over seeds of this run's best method against its runner-up (the paper: CausalD against the best baseline).",
  ]
  if (heterogeneityMissing) {
    notes.push(
      "Heterogeneity was not measured: it needs the group-wise models (`--heterogeneity on`, the default).",
    )
  }
  if (match !== undefined) {
    notes.push(
      `Paper rows: Table ${paperTableNumber(match.base)} of the paper, ${match.dataset}, base ${methodLabel("base", match.base)}, 5 runs; underlines as printed there.${match.note === null ? "" : ` Note: ${match.note}.`}`,
    )
  }
  return {
    markdown: [
      `# Table ${paperTableNumber(base)}: overall performance and heterogeneity (${setting(results)})`,
      "",
      markdownTable(
        ["Metric", "Source", ...labels, "p-value"],
        ["l", "l", ...labels.map(() => "r" as const), "l"],
        mdRows,
      ),
      "",
      ...notes.map((n) => `${n}\n`),
    ].join("\n"),
    csv: csv(
      [
        "source",
        "metric",
        "direction",
        ...labels.flatMap((l) => [`${l} mean`, `${l} std`]),
        "best",
        "runner_up",
        "p_value",
      ],
      csvRows,
    ),
  }
}

/** The ranking metrics of Tables 5-7 ("NDCG" and "Recall" read as NDCG@10 and R@10). */
const shortMetrics: ReadonlyArray<keyof Paper.ShortMetrics & RankingMetric> = [
  "AUC",
  "NDCG@10",
  "R@10",
]

/** Rows of a small table: a label, our summaries per metric, and the paper's values if any. */
interface ShortRow {
  readonly label: string
  readonly key: string
  readonly ours: { readonly [M in RankingMetric]?: Summary }
  readonly paper: Paper.ShortMetrics | undefined
}

const shortTable = (
  title: string,
  firstColumn: string,
  rows: ReadonlyArray<ShortRow>,
  notes: ReadonlyArray<string>,
): Table => {
  const hasPaper = rows.some((r) => r.paper !== undefined)
  const columnMarks = shortMetrics.map((metric) =>
    marks(
      rows.map((r) => r.ours[metric]?.mean),
      "higher",
    ),
  )
  const header = [
    firstColumn,
    ...shortMetrics,
    ...(hasPaper ? shortMetrics.map((m) => `${m} (paper)`) : []),
  ]
  const mdRows = rows.map((r, i) => [
    r.label,
    ...shortMetrics.map((m, j) => mark(cell(r.ours[m]), columnMarks[j][i])),
    ...(hasPaper ? shortMetrics.map((m) => (r.paper === undefined ? "–" : fixed(r.paper[m]))) : []),
  ])
  const csvRows = rows.map((r) => [
    r.key,
    ...shortMetrics.flatMap((m) => [r.ours[m]?.mean ?? "", r.ours[m]?.std ?? ""]),
    ...(hasPaper ? shortMetrics.map((m) => r.paper?.[m] ?? "") : []),
  ])
  return {
    markdown: [
      title,
      "",
      markdownTable(header, ["l", ...header.slice(1).map(() => "r" as const)], mdRows),
      "",
      ...notes.map((n) => `${n}\n`),
    ].join("\n"),
    csv: csv(
      [
        firstColumn === "Model" ? "method" : "teachers",
        ...shortMetrics.flatMap((m) => [`${m} mean`, `${m} std`]),
        ...(hasPaper ? shortMetrics.map((m) => `${m} paper`) : []),
      ],
      csvRows,
    ),
  }
}

/** Amazon is the only paper data set of Tables 5-7 a run can match. */
const shortMatch = (results: Results): PaperMatch | undefined => {
  const m = paperMatch(results)
  return m?.dataset === "Amazon" ? m : undefined
}

/**
 * Table 5/6: the ablation. Rows base, Ho Teachers, w.o. FDA and CausalD (those run); columns AUC,
 * NDCG@10 and R@10, the paper's beside them on Amazon. Undefined when none of them ran.
 */
export const table5 = (results: Results): Table | undefined => {
  const base = results.manifest.configuration.base
  const match = shortMatch(results)
  const rows: Array<ShortRow> = Paper.ablationMethods.flatMap((m) => {
    const r = findMethod(results, m)
    if (r === undefined) return []
    const label = m === "base" ? `${methodLabel(m, base)} (Base)` : methodLabel(m, base)
    return [
      {
        label,
        key: m,
        ours: r.metrics,
        paper: match === undefined ? undefined : Paper.ablation[match.base]?.Amazon[m],
      },
    ]
  })
  if (rows.length === 0) return undefined
  const table = base === "din" ? "5" : "6"
  return shortTable(`# Table ${table}: ablation (${setting(results)})`, "Model", rows, [
    `${seedsNote(results)}. **Bold**: best; <u>underlined</u>: runner-up. Base → w.o. FDA adds the back-door adjustment loss; w.o. FDA → CausalD adds the front-door adjustment loss; Ho Teachers replaces the heterogeneous teachers by teachers trained on random (IID) user subsets.`,
    ...(match === undefined
      ? []
      : [
          `Paper columns: Table ${table} of the paper, Amazon (its "NDCG" and "Recall" read as NDCG@10 and R@10).${match.note === null ? "" : ` Note: ${match.note}.`}`,
        ]),
  ])
}

/**
 * Table 7: CausalD with different numbers of teachers (the run's `teacherCounts`), the paper's
 * (base DIN, Amazon) beside. Undefined when the run has none.
 */
export const table7 = (results: Results): Table | undefined => {
  const points = results.teacherCounts
  if (points === null || points.length === 0) return undefined
  const match = shortMatch(results)
  const paper = match?.base === "din" ? Paper.teacherCounts.Amazon : undefined
  const rows: Array<ShortRow> = points.map((p) => ({
    label: String(p.value),
    key: String(p.value),
    ours: p.metrics,
    paper: paper?.find((x) => x.teachers === p.value),
  }))
  return shortTable(
    `# Table 7: CausalD with different numbers of teachers (${setting(results)})`,
    "#Teachers",
    rows,
    [
      `${seedsNote(results)}. **Bold**: best; <u>underlined</u>: runner-up. Teachers split by ${results.manifest.configuration.splitBy}.`,
      ...(paper === undefined
        ? []
        : [
            `Paper columns: Table 7 of the paper, Amazon, base DIN.${match?.note == null ? "" : ` Note: ${match.note}.`}`,
          ]),
    ],
  )
}

/**
 * Agreement of each method's test scores with the true interventional click probabilities
 * P(click | do(history), item) of a simulated data set: per method the mean over users of the
 * rank correlation and of the pairwise accuracy (higher is better). On the front-door world the
 * observational oracle and the truth head the table, and a column gives the share of the oracle
 * gap each method closes. Undefined without a truth.
 */
export const truthTable = (results: Results): Table | undefined => {
  const rows = results.methods.filter((m) => m.truth !== null)
  if (rows.length === 0) return undefined
  const base = results.manifest.configuration.base
  const oracles = results.oracles ?? []
  const withGap = rows.some((m) => m.truth!.gapClosed !== undefined)
  const corr = marks(
    rows.map((m) => m.truth!.rankCorrelation.mean),
    "higher",
  )
  const acc = marks(
    rows.map((m) => m.truth!.pairwiseAccuracy.mean),
    "higher",
  )
  const gapCell = (m: (typeof rows)[number]) =>
    withGap ? ` ${m.truth!.gapClosed === undefined ? "" : cell(m.truth!.gapClosed)} |` : ""
  const markdown = [
    `# Agreement with the true causal effect (${setting(results)})`,
    "",
    `| Method | rank correlation | pairwise accuracy |${withGap ? " oracle gap closed |" : ""}`,
    `|---|---:|---:|${withGap ? "---:|" : ""}`,
    ...oracles.map(
      (o) =>
        `| *${o.label.replaceAll("|", "\\|")}* | *${o.rankCorrelation.toFixed(4)}* | *${o.pairwiseAccuracy.toFixed(4)}* |${withGap ? ` *${o.oracle === "truth" ? "1" : "0"}* |` : ""}`,
    ),
    ...rows.map(
      (m, i) =>
        `| ${methodLabel(m.method, base)} | ${mark(cell(m.truth!.rankCorrelation), corr[i])} | ${mark(cell(m.truth!.pairwiseAccuracy), acc[i])} |${gapCell(m)}`,
    ),
    "",
    `Per user, over its 1 + N test candidates: Spearman's rank correlation and the share of candidate pairs ordered as the true P(click | do(history), item) orders them, averaged over users; ${seedsNote(results)}.`,
    ...(oracles.length === 0
      ? []
      : [
          "",
          "Italic rows are exact: the observational oracle P(y | x) is the Bayes-optimal prediction without adjustment, the truth P(y | do(x)) the quantity front-door adjustment identifies.",
        ]),
    ...(withGap
      ? [
          "Oracle gap closed = (ρ - ρ_obs) / (1 - ρ_obs) with ρ_obs the observational oracle's rank correlation: 0 is no closer to the truth than the best unadjusted predictor, 1 is the truth, negative is further from it.",
        ]
      : []),
    "",
  ].join("\n")
  const csv = [
    "method,rank_correlation_mean,rank_correlation_std,pairwise_accuracy_mean,pairwise_accuracy_std,gap_closed_mean,gap_closed_std",
    ...oracles.map((o) => `${o.oracle},${o.rankCorrelation},,${o.pairwiseAccuracy},,,`),
    ...rows.map(
      (m) =>
        `${m.method},${m.truth!.rankCorrelation.mean},${m.truth!.rankCorrelation.std ?? ""},${m.truth!.pairwiseAccuracy.mean},${m.truth!.pairwiseAccuracy.std ?? ""},${m.truth!.gapClosed?.mean ?? ""},${m.truth!.gapClosed?.std ?? ""}`,
    ),
    "",
  ].join("\n")
  return { markdown, csv }
}

/**
 * Every method's AUC, NDCG@10 and R@10 under two protocols side by side (`first` the stored test
 * candidates, `second` another evaluation of the same models), exact rows first.
 */
const twoProtocolTable = (
  results: Results,
  title: string,
  labels: readonly [string, string],
  second: (m: Results["methods"][number]) => RankingSummaries | undefined,
  exact: ReadonlyArray<{
    readonly label: string
    readonly first: RankingFigures
    readonly second: RankingFigures
  }>,
  note: string,
): Table | undefined => {
  const rows = results.methods.filter((m) => second(m) !== undefined)
  if (rows.length === 0 && exact.length === 0) return undefined
  const base = results.manifest.configuration.base
  const columns = ["AUC", "NDCG@10", "R@10"] as const
  const header = columns.flatMap((c) => [`${c} ${labels[0]}`, `${c} ${labels[1]}`])
  const marked = columns.flatMap((c) => [
    marks(
      rows.map((m) => m.metrics[c].mean),
      "higher",
    ),
    marks(
      rows.map((m) => second(m)![c].mean),
      "higher",
    ),
  ])
  const markdown = [
    `# ${title} (${setting(results)})`,
    "",
    `| Method | ${header.join(" | ")} |`,
    `|---|${header.map(() => "---:").join("|")}|`,
    ...exact.map(
      (o) =>
        `| *${o.label.replaceAll("|", "\\|")}* | ${columns.flatMap((c) => [`*${o.first[c].toFixed(4)}*`, `*${o.second[c].toFixed(4)}*`]).join(" | ")} |`,
    ),
    ...rows.map(
      (m, i) =>
        `| ${methodLabel(m.method, base)} | ${columns
          .flatMap((c, k) => [
            mark(cell(m.metrics[c]), marked[2 * k]![i]),
            mark(cell(second(m)![c]), marked[2 * k + 1]![i]),
          ])
          .join(" | ")} |`,
    ),
    "",
    `${note} ${seedsNote(results)}.`,
    "",
  ].join("\n")
  const slug = (l: string) => l.replace(/[^a-z]/gi, "").toLowerCase()
  const csvText = [
    `method,${columns.flatMap((c) => [`${c}_${slug(labels[0])}_mean`, `${c}_${slug(labels[0])}_std`, `${c}_${slug(labels[1])}_mean`, `${c}_${slug(labels[1])}_std`]).join(",")}`,
    ...exact.map(
      (o) => `${o.label},${columns.flatMap((c) => [o.first[c], "", o.second[c], ""]).join(",")}`,
    ),
    ...rows.map(
      (m) =>
        `${m.method},${columns.flatMap((c) => [m.metrics[c].mean, m.metrics[c].std ?? "", second(m)![c].mean, second(m)![c].std ?? ""]).join(",")}`,
    ),
    "",
  ].join("\n")
  return { markdown, csv: csvText }
}

type RankingFigures = { readonly [M in "AUC" | "NDCG@10" | "R@10"]: number }

/**
 * Front-door world: every method's ranking metrics on the observational test split and on the
 * one whose clicks were drawn under do(history), with the two oracles. Undefined elsewhere.
 */
export const interventionalTable = (results: Results): Table | undefined =>
  results.oracles === undefined
    ? undefined
    : twoProtocolTable(
        results,
        "Observational and interventional test",
        ["obs.", "do(x)"],
        (m) => m.interventional,
        results.oracles.map((o) => ({
          label: o.label,
          first: o.metrics,
          second: o.interventional,
        })),
        "obs.: the test clicks as the world generated them (U at the user's own value); do(x): the same test histories with the next click drawn under do(history), U from its prior, the debiased evaluation real data cannot give.",
      )

/**
 * `--full-ranking`: every method's metrics on the paper's sampled protocol (the target against
 * 100 sampled negatives) beside full ranking (against every item the user has not consumed).
 */
export const fullRankingTable = (results: Results): Table | undefined =>
  twoProtocolTable(
    results,
    "Sampled and full ranking",
    ["sampled", "full"],
    (m) => m.fullRanking,
    [],
    `sampled: the test target against the 100 stored negatives (the paper's protocol); full: against every item the user has not consumed in its test history${
      results.manifest.configuration.fullRankingUsers === undefined
        ? ""
        : `, for a seeded sample of ${results.manifest.configuration.fullRankingUsers} users (--full-ranking-users; the sampled protocol's figures are over every user)`
    }.`,
  )

/** Two-sided Student t-test p-value of two summaries over seeds (null when it cannot run). */
const pValue = (a: Summary, b: Summary): number | null => {
  const t = Statistics.studentTTest(a.perSeed, b.perSeed)
  return Result.isSuccess(t) ? t.success.pValue : null
}

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
  type Row = {
    readonly name: string
    readonly reading: string
    readonly metrics: RankingSummaries
    readonly truth: (typeof readings)[number]["truth"]
    readonly interventional: RankingSummaries | undefined
    readonly fullRanking: RankingSummaries | undefined
  }
  const rows: ReadonlyArray<Row> = [
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
  const csvRows = rows.map((r) => [
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
  ])
  return {
    markdown,
    csv: csv(
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
      csvRows,
    ),
  }
}
