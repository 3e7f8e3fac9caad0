/**
 * The small tables of AUC, NDCG@10 and R@10: Tables 5/6 (the ablation) and Table 7 (the number of
 * teachers), the paper's columns beside ours on Amazon.
 *
 * @module
 */
import { methodLabel } from "../Methods.ts"
import * as Paper from "../PaperNumbers.ts"
import { findMethod, type RankingMetric, type Results, type Summary } from "../Results.ts"
import {
  cell,
  csv,
  fixed,
  mark,
  markdownTable,
  marks,
  seedsNote,
  setting,
  type Table,
} from "./Format.ts"
import { shortMatch } from "./PaperMatch.ts"

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
