/**
 * MovieLens readers (GroupLens): 100K `u.data` and (optional) `u.user`, 1M/10M `ratings.dat` and
 * `users.dat`, 20M/25M `ratings.csv`. Every rated movie is an interaction (a threshold can be
 * applied by the protocol's `minRating`). User and item ids are the numeric MovieLens ids,
 * coded in ascending order.
 *
 * @module
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { type DataError, excerpt, MissingUserAttributes, ParseError } from "../Errors.ts"
import type { InteractionLog } from "../Interactions.ts"
import type { UserAttribute } from "../Prepared.ts"
import { readDelimited } from "./Delimited.ts"
import { parseUint, scanLines, splitFields } from "./Lines.ts"

/** MovieLens 100K `u.data`: `user \t item \t rating \t unix_time`. */
export const readMovieLens100kRatings = (file: string): Effect.Effect<InteractionLog, DataError> =>
  readDelimited(file, {
    separator: "\t",
    columns: ["user", "item", "rating", "time"],
    ids: "numeric",
    record: "user<TAB>item<TAB>rating<TAB>time",
  })

/** MovieLens 1M / 10M `ratings.dat`: `user::item::rating::time`. */
export const readMovieLensDat = (file: string): Effect.Effect<InteractionLog, DataError> =>
  readDelimited(file, {
    separator: "::",
    columns: ["user", "item", "rating", "time"],
    ids: "numeric",
    record: "user::item::rating::time",
  })

/** MovieLens 20M / 25M `ratings.csv`: header `userId,movieId,rating,timestamp`. */
export const readMovieLensCsv = (file: string): Effect.Effect<InteractionLog, DataError> =>
  readDelimited(file, {
    separator: ",",
    columns: ["user", "item", "rating", "time"],
    ids: "numeric",
    header: "userId,movieId,rating,timestamp",
    record: "userId,movieId,rating,timestamp",
  })

/** MovieLens-1M age codes (also used as bands for the raw ages of 100K). */
export const ageBands: ReadonlyArray<string> = [
  "Under 18",
  "18-24",
  "25-34",
  "35-44",
  "45-49",
  "50-55",
  "56+",
]

/** The ML-1M age band of an age in years. */
export const ageBand = (age: number): number =>
  age < 18 ? 0 : age < 25 ? 1 : age < 35 ? 2 : age < 45 ? 3 : age < 50 ? 4 : age < 56 ? 5 : 6

/** MovieLens-1M occupation codes 0..20 (from its README). */
export const ml1mOccupations: ReadonlyArray<string> = [
  "other",
  "academic/educator",
  "artist",
  "clerical/admin",
  "college/grad student",
  "customer service",
  "doctor/health care",
  "executive/managerial",
  "farmer",
  "homemaker",
  "K-12 student",
  "lawyer",
  "programmer",
  "retired",
  "sales/marketing",
  "scientist",
  "self-employed",
  "technician/engineer",
  "tradesman/craftsman",
  "unemployed",
  "writer",
]

interface RawAttributes {
  /** per MovieLens user id: gender, age band, occupation label */
  readonly rows: Map<string, readonly [string, number, string]>
}

/** Attaches gender, age band and occupation attributes to every user of the log. */
const attach = (
  log: InteractionLog,
  file: string,
  raw: RawAttributes,
  occupationLabels?: ReadonlyArray<string>,
): Effect.Effect<InteractionLog, DataError> =>
  Effect.suspend(() => {
    const U = log.userIds.length
    const gender = new Int32Array(U)
    const age = new Int32Array(U)
    const occupation = new Int32Array(U)
    const occupations =
      occupationLabels ?? [...new Set([...raw.rows.values()].map((r) => r[2]))].sort()
    const genders = [...new Set([...raw.rows.values()].map((r) => r[0]))].sort()
    for (let u = 0; u < U; u++) {
      const row = raw.rows.get(log.userIds[u]!)
      if (row === undefined)
        return Effect.fail(new MissingUserAttributes({ file, user: log.userIds[u]! }))
      gender[u] = genders.indexOf(row[0])
      age[u] = row[1]
      occupation[u] = occupations.indexOf(row[2])
    }
    const attributes: Array<UserAttribute> = [
      { name: "gender", codes: gender, labels: genders },
      { name: "age", codes: age, labels: ageBands },
      { name: "occupation", codes: occupation, labels: occupations },
    ]
    return Effect.succeed({ ...log, attributes })
  })

/** MovieLens 100K `u.user`: `user|age|gender|occupation|zip`; age is turned into a band. */
export const readMovieLens100kUsers = (
  file: string,
  log: InteractionLog,
): Effect.Effect<InteractionLog, DataError> =>
  Effect.suspend(() => {
    const rows = new Map<string, readonly [string, number, string]>()
    const bounds = new Int32Array(12)
    const sep = new Uint8Array([124])
    const scan = scanLines(file, "records user|age|gender|occupation|zip", (buf, s, e, line) => {
      const n = splitFields(buf, s, e, sep, bounds, 5)
      const fail = (expected: string) =>
        new ParseError({ file, line, expected, found: excerpt(buf, s, e) })
      if (n !== 5) throw fail("5 fields separated by '|' (user|age|gender|occupation|zip)")
      const user = parseUint(buf, bounds[0]!, bounds[1]!)
      const years = parseUint(buf, bounds[2]!, bounds[3]!)
      const gender = buf.toString("utf8", bounds[4]!, bounds[5]!).trim()
      const occupation = buf.toString("utf8", bounds[6]!, bounds[7]!).trim()
      if (user < 0) throw fail("a non-negative integer user id (column 1)")
      if (years < 0) throw fail("an age in years (column 2)")
      if (gender !== "M" && gender !== "F") throw fail("gender M or F (column 3)")
      if (occupation.length === 0) throw fail("an occupation (column 4)")
      rows.set(String(user), [gender, ageBand(years), occupation])
    })
    return Effect.flatMap(scan, () => attach(log, file, { rows }))
  })

const ml1mAgeCodes: ReadonlyArray<number> = [1, 18, 25, 35, 45, 50, 56]

/** MovieLens 1M `users.dat`: `UserID::Gender::Age::Occupation::Zip-code` (coded ages). */
export const readMovieLens1mUsers = (
  file: string,
  log: InteractionLog,
): Effect.Effect<InteractionLog, DataError> =>
  Effect.suspend(() => {
    const rows = new Map<string, readonly [string, number, string]>()
    const bounds = new Int32Array(12)
    const sep = new Uint8Array([58, 58])
    const record = "records UserID::Gender::Age::Occupation::Zip-code"
    const scan = scanLines(file, record, (buf, s, e, line) => {
      const n = splitFields(buf, s, e, sep, bounds, 5)
      const fail = (expected: string) =>
        new ParseError({ file, line, expected, found: excerpt(buf, s, e) })
      if (n !== 5) throw fail("5 fields separated by '::' (UserID::Gender::Age::Occupation::Zip)")
      const user = parseUint(buf, bounds[0]!, bounds[1]!)
      const gender = buf.toString("utf8", bounds[2]!, bounds[3]!).trim()
      const band = ml1mAgeCodes.indexOf(parseUint(buf, bounds[4]!, bounds[5]!))
      const occupation = parseUint(buf, bounds[6]!, bounds[7]!)
      if (user < 0) throw fail("a non-negative integer user id (column 1)")
      if (gender !== "M" && gender !== "F") throw fail("gender M or F (column 2)")
      if (band < 0) throw fail("an age code 1, 18, 25, 35, 45, 50 or 56 (column 3)")
      if (occupation < 0 || occupation >= ml1mOccupations.length)
        throw fail("an occupation code 0..20 (column 4)")
      rows.set(String(user), [gender, band, ml1mOccupations[occupation]!])
    })
    return Effect.flatMap(scan, () => attach(log, file, { rows }, ml1mOccupations))
  })

/**
 * MovieLens 100K from its folder: `u.data`, with the `u.user` attributes when the folder has
 * that file (without it the users have no attributes, so no attribute split or grouping).
 */
export const readMovieLens100k = (directory: string): Effect.Effect<InteractionLog, DataError> =>
  Effect.flatMap(readMovieLens100kRatings(join(directory, "u.data")), (log) =>
    existsSync(join(directory, "u.user"))
      ? readMovieLens100kUsers(join(directory, "u.user"), log)
      : Effect.succeed(log),
  )
