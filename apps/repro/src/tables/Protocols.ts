/**
 * Every method's ranking metrics under two evaluation protocols side by side: observational
 * against interventional test (front-door world) and sampled against full ranking
 * (`--full-ranking`).
 *
 * @module
 */
import { methodLabel } from "../Methods.ts"
import type { RankingSummaries, Results } from "../Results.ts"
import { cell, mark, marks, seedsNote, setting, type Table } from "./Format.ts"

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
