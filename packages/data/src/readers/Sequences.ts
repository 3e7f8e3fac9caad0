/**
 * Sequence files: one user a line, `user item1 item2 ...`, items in chronological order,
 * separated by spaces or tabs, no timestamps (the format of the Amazon Beauty and Toys files
 * of the shared data). Ids are non-negative integers. The time of a row is its position in the
 * file, so the order of the file is the chronological order; a user on several lines continues
 * its sequence in file order.
 *
 * @module
 */
import { Effect } from "effect"
import { type DataError, excerpt, ParseError } from "../Errors.ts"
import { type InteractionLog, LogBuilder, NumericIds } from "../Interactions.ts"
import { parseUint, scanLines } from "./Lines.ts"

/** Reads a sequence file into an {@link InteractionLog}. */
export const readSequences = (file: string): Effect.Effect<InteractionLog, DataError> =>
  Effect.suspend(() => {
    const users = new NumericIds()
    const items = new NumericIds()
    const builder = new LogBuilder()
    let row = 0
    const scan = scanLines(file, "records user item1 item2 ...", (buf, s, e, line) => {
      let user = -1
      let count = 0
      let i = s
      while (i < e) {
        while (i < e && (buf[i] === 32 || buf[i] === 9)) i++
        if (i >= e) break
        let j = i
        while (j < e && buf[j] !== 32 && buf[j] !== 9) j++
        const v = parseUint(buf, i, j)
        if (v < 0)
          throw new ParseError({
            file,
            line,
            expected: `a non-negative integer ${user < 0 ? "user" : "item"} id separated by spaces`,
            found: excerpt(buf, i, j),
          })
        if (user < 0) user = users.code(v)
        else {
          builder.push(user, items.code(v), row++)
          count++
        }
        i = j
      }
      if (count === 0)
        throw new ParseError({
          file,
          line,
          expected: "a user id followed by at least one item id",
          found: excerpt(buf, s, e),
        })
    })
    return Effect.map(scan, () => builder.finish(file, users, items))
  })
