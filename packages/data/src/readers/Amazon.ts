/**
 * Amazon review data (McAuley et al.): the ratings-only CSV (`item,user,rating,time`, no
 * header) and the 5-core JSON lines (`reviewerID`, `asin`, `unixReviewTime`, optional
 * `overall` rating). Ids are text (reviewer ids, ASINs), coded in first-appearance order.
 *
 * @module
 */
import { Effect } from "effect"
import { type DataError, excerpt, ParseError } from "../Errors.ts"
import { type InteractionLog, LogBuilder, StringIds } from "../Interactions.ts"
import { readDelimited } from "./Delimited.ts"
import { scanLines } from "./Lines.ts"

/** Amazon ratings-only CSV: `item,user,rating,time` (unix seconds), no header. */
export const readAmazonRatings = (file: string): Effect.Effect<InteractionLog, DataError> =>
  readDelimited(file, {
    separator: ",",
    columns: ["item", "user", "rating", "time"],
    ids: "string",
    record: "item,user,rating,time",
  })

/** Amazon 5-core JSON lines: one review object a line. */
export const readAmazonJsonLines = (file: string): Effect.Effect<InteractionLog, DataError> =>
  Effect.suspend(() => {
    const users = new StringIds()
    const items = new StringIds()
    const builder = new LogBuilder({ rating: true })
    const expected = 'a JSON object with "reviewerID", "asin" and "unixReviewTime"'
    const scan = scanLines(file, expected, (buf, s, e, line) => {
      const fail = (what: string) =>
        new ParseError({ file, line, expected: what, found: excerpt(buf, s, e) })
      let value: unknown
      try {
        value = JSON.parse(buf.toString("utf8", s, e))
      } catch {
        throw fail(expected)
      }
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw fail(expected)
      const o = value as Record<string, unknown>
      const user = o["reviewerID"]
      const item = o["asin"]
      const time = o["unixReviewTime"]
      const rating = o["overall"]
      if (typeof user !== "string" || user.length === 0)
        throw fail('a string "reviewerID" (the user)')
      if (typeof item !== "string" || item.length === 0) throw fail('a string "asin" (the item)')
      if (typeof time !== "number" || !Number.isFinite(time))
        throw fail('a numeric "unixReviewTime"')
      if (rating !== undefined && (typeof rating !== "number" || !Number.isFinite(rating)))
        throw fail('a numeric "overall" rating or none')
      builder.push(users.code(user), items.code(item), time, rating ?? 0)
    })
    return Effect.map(scan, () => builder.finish(file, users, items))
  })
