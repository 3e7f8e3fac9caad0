/**
 * Table 2: the statistics of the run's data set, with the paper's data sets for scale.
 *
 * @module
 */
import * as Paper from "../PaperNumbers.ts"
import type { Results } from "../Results.ts"
import { csv, markdownTable, type Table } from "./Format.ts"

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
