/**
 * Tables 3 and 4: overall performance and Heterogeneity, with the best in bold, the runner-up
 * underlined and the p-value of the best against the runner-up; the paper's rows under ours
 * where the setting matches.
 *
 * @module
 */
import { type Method, methodLabel, overallMethods } from "../Methods.ts"
import * as Paper from "../PaperNumbers.ts"
import {
  direction,
  findMethod,
  type Results,
  ranking,
  type TableMetric,
  tableMetrics,
} from "../Results.ts"
import {
  cell,
  csv,
  fixed,
  formatP,
  type Mark,
  mark,
  markdownTable,
  seedsNote,
  setting,
  type Table,
} from "./Format.ts"
import { type PaperMatch, paperMatch, paperTableNumber } from "./PaperMatch.ts"

const metricName = (metric: TableMetric): string =>
  metric === "Heterogeneity" ? "Heterogeneity ↓" : metric

/** A row of the table, in Markdown and in CSV. */
interface Row {
  readonly markdown: Array<string>
  readonly csv: Array<string | number>
}

/** This run's row of `metric`: each column's summary marked, then the best against the runner-up. */
const ourRow = (results: Results, columns: ReadonlyArray<Method>, metric: TableMetric): Row => {
  const base = results.manifest.configuration.base
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
  return {
    markdown: [
      metricName(metric),
      "this run",
      ...columns.map((m, i) => mark(cell(summaries[i]), rankMark(m))),
      comparison === undefined ? "–" : `${formatP(comparison.pValue)}${pair}`,
    ],
    csv: [
      "this run",
      metric,
      direction(metric),
      ...summaries.flatMap((s) => [s?.mean ?? "", s?.std ?? ""]),
      comparison?.best ?? "",
      comparison?.runnerUp ?? "",
      comparison?.pValue ?? "",
    ],
  }
}

/** The paper's row of `metric` printed under ours, with its underlines and p-value. */
const paperRow = (
  columns: ReadonlyArray<Method>,
  paper: Paper.OverallRow,
  match: PaperMatch,
  metric: TableMetric,
): Row => {
  const source = `paper (Table ${paperTableNumber(match.base)}, ${match.dataset})`
  return {
    markdown: [
      "",
      source,
      ...columns.map((m) => {
        const v = paper.values[m]
        if (v === undefined) return "–"
        return paper.underlined.includes(m) ? `<u>${fixed(v)}</u>` : fixed(v)
      }),
      `${formatP(paper.pValue)} (CausalD vs best baseline)`,
    ],
    csv: [
      source,
      metric,
      direction(metric),
      ...columns.flatMap((m) => [paper.values[m] ?? "", ""]),
      "",
      "",
      paper.pValue ?? "",
    ],
  }
}

/** What the table shows and how: seeds, marks, Heterogeneity, the p-value, the paper's rows. */
const notes = (results: Results, match: PaperMatch | undefined): ReadonlyArray<string> => {
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
  return notes
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
  const rows: Array<Row> = []
  for (const metric of tableMetrics) {
    rows.push(ourRow(results, columns, metric))
    const paper = paperRows?.find((r) => r.metric === metric)
    if (paper !== undefined && match !== undefined)
      rows.push(paperRow(columns, paper, match, metric))
  }
  return {
    markdown: [
      `# Table ${paperTableNumber(base)}: overall performance and heterogeneity (${setting(results)})`,
      "",
      markdownTable(
        ["Metric", "Source", ...labels, "p-value"],
        ["l", "l", ...labels.map(() => "r" as const), "l"],
        rows.map((r) => r.markdown),
      ),
      "",
      ...notes(results, match).map((n) => `${n}\n`),
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
      rows.map((r) => r.csv),
    ),
  }
}
