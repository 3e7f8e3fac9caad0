/**
 * Agreement with the true causal effect on a simulated world: each method's rank correlation and
 * pairwise accuracy against P(click | do(history), item), with the oracles on the front-door world.
 *
 * @module
 */
import { methodLabel } from "../Methods.ts"
import type { Results } from "../Results.ts"
import { cell, mark, marks, seedsNote, setting, type Table } from "./Format.ts"

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
