/**
 * A reader for one-row-per-line delimited interaction files, driven by a column spec. The
 * MovieLens, Amazon ratings-only and exposure-log readers are instances of it.
 *
 * @module
 */
import { Effect } from "effect"
import { type DataError, excerpt, ParseError } from "../Errors.ts"
import { type InteractionLog, LogBuilder, NumericIds, StringIds } from "../Interactions.ts"
import {
  fieldText,
  parseNumber,
  parseUint,
  scanLines,
  separatorName,
  splitFields,
} from "./Lines.ts"

/** What a column of a delimited file holds. */
export type Column = "user" | "item" | "rating" | "time" | "clicked"

/** The layout of a delimited interaction file. */
export interface DelimitedSpec {
  /** One or two bytes, e.g. `"\t"`, `","`, `"::"`. */
  readonly separator: string
  /** The columns in file order; `user`, `item` and `time` are required. */
  readonly columns: ReadonlyArray<Column>
  /** Non-negative integer ids, or any text. */
  readonly ids: "numeric" | "string"
  /** A header line that may appear as the first line (skipped when it matches exactly). */
  readonly header?: string
  /** How a record looks, for messages, e.g. `user<TAB>item<TAB>rating<TAB>time`. */
  readonly record: string
}

const columnNumber = (i: number) => `column ${i + 1}`

/**
 * Reads a delimited interaction file into an {@link InteractionLog}. Fails with a
 * {@link ParseError} naming the file, the line and the expected shape at the first bad line.
 */
export const readDelimited = (
  file: string,
  spec: DelimitedSpec,
): Effect.Effect<InteractionLog, DataError> => Effect.suspend(() => delimitedProgram(file, spec))

// the mutable parse state lives inside the suspended program, so running it twice is safe
const delimitedProgram = (
  file: string,
  spec: DelimitedSpec,
): Effect.Effect<InteractionLog, DataError> => {
  const sep = new TextEncoder().encode(spec.separator)
  const k = spec.columns.length
  const bounds = new Int32Array(2 * (k + 1))
  const numeric = spec.ids === "numeric"
  const numUsers = new NumericIds()
  const numItems = new NumericIds()
  const strUsers = new StringIds()
  const strItems = new StringIds()
  const hasRating = spec.columns.includes("rating")
  const hasClicked = spec.columns.includes("clicked")
  const builder = new LogBuilder({ rating: hasRating, clicked: hasClicked })
  const header = spec.header
  const ui = spec.columns.indexOf("user")
  const ii = spec.columns.indexOf("item")
  const ri = spec.columns.indexOf("rating")
  const ti = spec.columns.indexOf("time")
  const ci = spec.columns.indexOf("clicked")
  let firstRecord = true

  const bad = (line: number, expected: string, buf: Buffer, s: number, e: number) =>
    new ParseError({ file, line, expected, found: excerpt(buf, s, e) })

  const id = (
    buf: Buffer,
    line: number,
    col: number,
    what: string,
    ni: NumericIds,
    si: StringIds,
  ): number => {
    const s = bounds[2 * col]!
    const e = bounds[2 * col + 1]!
    if (numeric) {
      const v = parseUint(buf, s, e)
      if (v < 0)
        throw bad(line, `a non-negative integer ${what} id (${columnNumber(col)})`, buf, s, e)
      return ni.code(v)
    }
    const text = fieldText(buf, s, e)
    if (text.length === 0) throw bad(line, `a ${what} id (${columnNumber(col)})`, buf, s, e)
    return si.code(text)
  }

  const onLine = (buf: Buffer, s: number, e: number, line: number) => {
    if (firstRecord) {
      firstRecord = false
      if (header !== undefined && buf.toString("utf8", s, e).trim() === header) return
    }
    const n = splitFields(buf, s, e, sep, bounds, k)
    if (n !== k)
      throw new ParseError({
        file,
        line,
        expected: `${k} fields separated by ${separatorName(sep)} (${spec.record})`,
        found: `${n > k ? `more than ${k}` : n} field${n === 1 ? "" : "s"}: ${excerpt(buf, s, e)}`,
      })
    const user = id(buf, line, ui, "user", numUsers, strUsers)
    const item = id(buf, line, ii, "item", numItems, strItems)
    const time = parseNumber(buf, bounds[2 * ti]!, bounds[2 * ti + 1]!)
    if (Number.isNaN(time))
      throw bad(
        line,
        `a numeric timestamp (${columnNumber(ti)})`,
        buf,
        bounds[2 * ti]!,
        bounds[2 * ti + 1]!,
      )
    let rating = 0
    if (ri >= 0) {
      rating = parseNumber(buf, bounds[2 * ri]!, bounds[2 * ri + 1]!)
      if (Number.isNaN(rating))
        throw bad(
          line,
          `a numeric rating (${columnNumber(ri)})`,
          buf,
          bounds[2 * ri]!,
          bounds[2 * ri + 1]!,
        )
    }
    let clicked = 1
    if (ci >= 0) {
      clicked = parseUint(buf, bounds[2 * ci]!, bounds[2 * ci + 1]!)
      if (clicked !== 0 && clicked !== 1)
        throw bad(
          line,
          `0 or 1 for clicked (${columnNumber(ci)})`,
          buf,
          bounds[2 * ci]!,
          bounds[2 * ci + 1]!,
        )
    }
    builder.push(user, item, time, rating, clicked)
  }

  return Effect.map(scanLines(file, `records ${spec.record}`, onLine), () =>
    builder.finish(file, numeric ? numUsers : strUsers, numeric ? numItems : strItems),
  )
}
