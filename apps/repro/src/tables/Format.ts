/**
 * What every table shares: the {@link Table} pair of Markdown and CSV, numbers to four places
 * (`mean ± std` cells), the paper's p-value style, the best in bold and the runner-up underlined
 * ({@link marks}), Markdown and CSV layout, and the notes on seeds and setting.
 *
 * @module
 */
import { stringify } from "csv-stringify/sync"
import { baseLabel, type Results, type Summary } from "../Results.ts"

/** A table as Markdown (for reading) and CSV (for analysis). */
export interface Table {
  readonly markdown: string
  readonly csv: string
}

/** `1.36e-07`: the paper's p-value style. */
export const formatP = (p: number | null): string => {
  if (p === null) return "–"
  const [mantissa, exponent] = p.toExponential(2).split("e")
  const e = Number(exponent)
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`
}

export const fixed = (x: number): string => x.toFixed(4)

export const cell = (s: Summary | undefined): string =>
  s === undefined ? "–" : s.std === null ? fixed(s.mean) : `${fixed(s.mean)} ± ${fixed(s.std)}`

export type Mark = "best" | "runnerUp" | undefined

export const mark = (text: string, m: Mark): string =>
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

export const markdownTable = (
  header: ReadonlyArray<string>,
  align: ReadonlyArray<"l" | "r">,
  rows: ReadonlyArray<ReadonlyArray<string>>,
): string =>
  [
    `| ${header.join(" | ")} |`,
    `|${align.map((a) => (a === "r" ? "---:" : "---")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`),
  ].join("\n")

export const csv = (
  header: ReadonlyArray<string>,
  rows: ReadonlyArray<ReadonlyArray<string | number>>,
) => stringify([header, ...rows] as Array<Array<string | number>>)

export const seedsNote = (results: Results): string => {
  const n = results.manifest.seeds.length
  return n === 1 ? "one seed (no standard deviation)" : `mean ± sample std over ${n} seeds`
}

export const setting = (results: Results): string =>
  `${results.dataset.name}, base ${baseLabel(results)}`
