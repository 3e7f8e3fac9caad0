/**
 * The paper's tables from a run's results, as Markdown and CSV: Table 2 (data statistics), Table
 * 3/4 (overall performance and Heterogeneity, with the best in bold, the runner-up underlined and
 * the p-value of the best against the runner-up), Table 5 (ablation) and Table 7 (number of
 * teachers), the agreement with the truth, the two-protocol tables and the readings screen. Where
 * the data set and base model match one of the paper's, its numbers stand beside ours. Pure:
 * results in, strings out.
 *
 * One module per family in `tables/`: `Statistics.ts` (Table 2), `Overall.ts` (Tables 3/4),
 * `Short.ts` (Tables 5-7), `Truth.ts`, `Protocols.ts` (interventional test, full ranking),
 * `Screen.ts` (readings), over the shared `Format.ts` and `PaperMatch.ts`. This module is what
 * the rest imports.
 *
 * @module
 */
export { formatP, marks, type Table } from "./tables/Format.ts"
export { table3 } from "./tables/Overall.ts"
export { type PaperMatch, paperMatch } from "./tables/PaperMatch.ts"
export { fullRankingTable, interventionalTable } from "./tables/Protocols.ts"
export { readingsTable } from "./tables/Screen.ts"
export { table5, table7 } from "./tables/Short.ts"
export { table2 } from "./tables/Statistics.ts"
export { truthTable } from "./tables/Truth.ts"
