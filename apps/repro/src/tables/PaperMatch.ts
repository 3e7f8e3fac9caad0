/**
 * Where a run's data set and base model match one of the paper's settings (MovieLens or Amazon,
 * with DIN or DeepFM), so that the paper's numbers stand beside ours, and the paper's table
 * numbers.
 *
 * @module
 */
import { type Base, paperTable } from "../Methods.ts"
import * as Paper from "../PaperNumbers.ts"
import type { Results } from "../Results.ts"

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

/** The paper's number of the table of `base` (3 or 4); "3/4" for a base model the paper did not run. */
export const paperTableNumber = (base: Base): string => String(paperTable[base] ?? "3/4")

/** Amazon is the only paper data set of Tables 5-7 a run can match. */
export const shortMatch = (results: Results): PaperMatch | undefined => {
  const m = paperMatch(results)
  return m?.dataset === "Amazon" ? m : undefined
}
