/**
 * Exposure logs (the paper's Alipay setting): `user,item,clicked,time`, one impression a line,
 * `clicked` 1 for a click (a positive interaction) and 0 for an item shown and not clicked (an
 * exposure negative). An optional header `user,item,clicked,time` is skipped. Ids are text.
 *
 * @module
 */
import type { Effect } from "effect"
import type { DataError } from "../Errors.ts"
import type { InteractionLog } from "../Interactions.ts"
import { readDelimited } from "./Delimited.ts"

/** Reads an exposure log into an {@link InteractionLog} with its `clicked` column. */
export const readExposureLog = (file: string): Effect.Effect<InteractionLog, DataError> =>
  readDelimited(file, {
    separator: ",",
    columns: ["user", "item", "clicked", "time"],
    ids: "string",
    header: "user,item,clicked,time",
    record: "user,item,clicked,time",
  })
