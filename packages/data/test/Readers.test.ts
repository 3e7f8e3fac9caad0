import { afterAll, describe, expect, test } from "bun:test"
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import type { DataError } from "../src/Errors.ts"
import { readAmazonJsonLines, readAmazonRatings } from "../src/readers/Amazon.ts"
import { readExposureLog } from "../src/readers/Exposure.ts"
import {
  readMovieLens1mUsers,
  readMovieLens100k,
  readMovieLens100kRatings,
  readMovieLensCsv,
  readMovieLensDat,
} from "../src/readers/MovieLens.ts"
import { readSequences } from "../src/readers/Sequences.ts"
import { load } from "../src/Sources.ts"
import { failure, tempDir, writeFile } from "./helpers.ts"

const { dir, cleanup } = tempDir()
afterAll(cleanup)

const rowsOf = (log: {
  size: number
  user: Int32Array
  item: Int32Array
  time: Float64Array
  userIds: ReadonlyArray<string>
  itemIds: ReadonlyArray<string>
}) =>
  Array.from({ length: log.size }, (_, r) => [
    log.userIds[log.user[r]!],
    log.itemIds[log.item[r]!],
    log.time[r],
  ])

describe("readers: good files", () => {
  test("MovieLens 100K folder: u.data and u.user attributes", async () => {
    const ml = join(dir, "ml")
    mkdirSync(ml)
    writeFile(ml, "u.data", "3\t50\t4\t881250949\n1\t50\t5\t881250950\n3\t7\t1\t881250000\n")
    writeFile(ml, "u.user", "1|24|M|technician|85711\n3|53|F|other|94043\n9|17|M|student|1\n")
    const log = await Effect.runPromise(readMovieLens100k(ml))
    expect(rowsOf(log)).toEqual([
      ["3", "50", 881250949],
      ["1", "50", 881250950],
      ["3", "7", 881250000],
    ])
    expect(log.userIds).toEqual(["1", "3"])
    expect(Array.from(log.rating!)).toEqual([4, 5, 1])
    const attribute = (name: string) => {
      const a = log.attributes!.find((x) => x.name === name)!
      return Array.from(a.codes).map((c) => a.labels[c])
    }
    expect(attribute("gender")).toEqual(["M", "F"])
    expect(attribute("age")).toEqual(["18-24", "50-55"])
    expect(attribute("occupation")).toEqual(["technician", "other"])
  })

  test("MovieLens 100K folder without u.user: the ratings alone, no attributes", async () => {
    const ml = join(dir, "ml-no-users")
    mkdirSync(ml)
    writeFile(ml, "u.data", "3\t50\t4\t881250949\n1\t50\t5\t881250950\n")
    const log = await Effect.runPromise(readMovieLens100k(ml))
    expect(log.userIds).toEqual(["1", "3"])
    expect(log.attributes).toBeUndefined()
  })

  test("MovieLens 1M ratings.dat and users.dat", async () => {
    const ratings = writeFile(dir, "ratings.dat", "1::1193::5::978300760\n2::661::3::978302109\n")
    const users = writeFile(dir, "users.dat", "1::F::1::10::48067\n2::M::56::16::70072\n")
    const log = await Effect.runPromise(
      Effect.flatMap(readMovieLensDat(ratings), (l) => readMovieLens1mUsers(users, l)),
    )
    expect(rowsOf(log)).toEqual([
      ["1", "1193", 978300760],
      ["2", "661", 978302109],
    ])
    const age = log.attributes!.find((a) => a.name === "age")!
    expect(Array.from(age.codes).map((c) => age.labels[c])).toEqual(["Under 18", "56+"])
    const occupation = log.attributes!.find((a) => a.name === "occupation")!
    expect(Array.from(occupation.codes).map((c) => occupation.labels[c])).toEqual([
      "K-12 student",
      "self-employed",
    ])
  })

  test("MovieLens 25M ratings.csv with header, BOM and CRLF line ends", async () => {
    const file = writeFile(
      dir,
      "ratings.csv",
      "\uFEFFuserId,movieId,rating,timestamp\r\n1,296,5.0,1147880044\r\n1,306,3.5,1147868817\r\n\r\n",
    )
    const log = await Effect.runPromise(readMovieLensCsv(file))
    expect(rowsOf(log)).toEqual([
      ["1", "296", 1147880044],
      ["1", "306", 1147868817],
    ])
    expect(Array.from(log.rating!)).toEqual([5, 3.5])
  })

  test("Amazon ratings-only CSV: item first, text ids", async () => {
    const file = writeFile(
      dir,
      "amazon.csv",
      "0001713353,A1C6M8LCIX4M6M,5.0,1123804800\n0001713353,A1REUF3A1YCPHM,5.0,1112140800\n",
    )
    const log = await Effect.runPromise(readAmazonRatings(file))
    expect(rowsOf(log)).toEqual([
      ["A1C6M8LCIX4M6M", "0001713353", 1123804800],
      ["A1REUF3A1YCPHM", "0001713353", 1112140800],
    ])
  })

  test("Amazon 5-core JSON lines", async () => {
    const file = writeFile(
      dir,
      "books.json",
      [
        '{"reviewerID": "A2SUAM1J3GNN3B", "asin": "0000013714", "overall": 5.0, "unixReviewTime": 1393545600, "reviewText": "Ünïcödé ok"}',
        '{"reviewerID": "A1", "asin": "B2", "unixReviewTime": 1393545601}',
      ].join("\n"),
    )
    const log = await Effect.runPromise(readAmazonJsonLines(file))
    expect(rowsOf(log)).toEqual([
      ["A2SUAM1J3GNN3B", "0000013714", 1393545600],
      ["A1", "B2", 1393545601],
    ])
  })

  test("sequence files: position is time, a user on two lines continues its sequence", async () => {
    const file = writeFile(dir, "seq.txt", "1 5 6 7\n2 5\t8\n1 9\n")
    const log = await Effect.runPromise(readSequences(file))
    expect(rowsOf(log)).toEqual([
      ["1", "5", 0],
      ["1", "6", 1],
      ["1", "7", 2],
      ["2", "5", 3],
      ["2", "8", 4],
      ["1", "9", 5],
    ])
  })

  test("exposure logs with a header", async () => {
    const file = writeFile(dir, "exposure.csv", "user,item,clicked,time\nu1,a,1,10\nu1,b,0,11\n")
    const log = await Effect.runPromise(readExposureLog(file))
    expect(rowsOf(log)).toEqual([
      ["u1", "a", 10],
      ["u1", "b", 11],
    ])
    expect(Array.from(log.clicked!)).toEqual([1, 0])
  })

  test("a file larger than the 4 MiB read chunk: every line read, line numbers exact", async () => {
    const lines: Array<string> = []
    for (let i = 0; i < 200_000; i++) lines.push(`${i % 997}\t${i % 1499}\t3\t${1e9 + i}`)
    const good = writeFile(dir, "big.data", lines.join("\n"))
    const ok = await Effect.runPromise(readMovieLens100kRatings(good))
    expect(ok.size).toBe(200_000)
    expect(ok.time[199_999]).toBe(1e9 + 199_999)
    lines[180_000] = "12\t34\tx\t5"
    const bad = writeFile(dir, "big-bad.data", lines.join("\n"))
    const e = await failure(readMovieLens100kRatings(bad))
    expect(e).toMatchObject({ _tag: "ParseError", file: bad, line: 180_001 })
  })
})

describe("readers: bad files get typed errors naming the file and the line", () => {
  const ml100k = (name: string, content: string | Uint8Array): Promise<DataError> =>
    failure(readMovieLens100kRatings(writeFile(dir, name, content)))

  test("empty file and a file of blank lines", async () => {
    const e = await ml100k("empty.data", "")
    expect(e._tag).toBe("EmptyFile")
    expect(e.message).toContain("empty.data")
    expect(e.message).toContain("user<TAB>item<TAB>rating<TAB>time")
    expect((await ml100k("blank.data", "\n  \n\r\n"))._tag).toBe("EmptyFile")
  })

  test("wrong separator", async () => {
    const e = await ml100k("semicolon.data", "1;2;3;4\n")
    expect(e).toMatchObject({ _tag: "ParseError", line: 1 })
    expect(e.message).toContain("4 fields separated by TAB")
    expect(e.message).toContain('"1;2;3;4"')
  })

  test("non-numeric id, non-numeric time, truncated line, too many fields", async () => {
    const id = await ml100k("id.data", "1\t2\t3\t4\nabc\t2\t3\t4\n")
    expect(id).toMatchObject({ _tag: "ParseError", line: 2 })
    expect(id.message).toContain("non-negative integer user id (column 1)")
    const item = await ml100k("item.data", "1\t-2\t3\t4\n")
    expect(item.message).toContain("item id (column 2)")
    const time = await ml100k("time.data", "1\t2\t3\t4\n1\t3\t3\t4\n1\t4\t3\tyesterday\n")
    expect(time).toMatchObject({ _tag: "ParseError", line: 3 })
    expect(time.message).toContain("numeric timestamp (column 4)")
    const truncated = await ml100k("truncated.data", "1\t2\t3\t4\n1\t2\t3")
    expect(truncated).toMatchObject({ _tag: "ParseError", line: 2 })
    expect(truncated.message).toContain("found 3 fields")
    const extra = await ml100k("extra.data", "1\t2\t3\t4\t5\n")
    expect(extra.message).toContain("more than 4 fields")
  })

  test("invalid UTF-8", async () => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode("1\t2\t3\t4\n1\t3\t3\t4\n1\t"),
      0xc3,
      0x28,
      ...new TextEncoder().encode("\t3\t4\n"),
    ])
    const e = await ml100k("utf8.data", bytes)
    expect(e).toMatchObject({ _tag: "InvalidUtf8", line: 3 })
    const json = await failure(
      readAmazonJsonLines(writeFile(dir, "utf8.json", new Uint8Array([0x7b, 0xff, 0x7d, 0x0a]))),
    )
    expect(json).toMatchObject({ _tag: "InvalidUtf8", line: 1 })
  })

  test("missing file, a folder instead of a file", async () => {
    const missing = await failure(readSequences(join(dir, "nope.txt")))
    expect(missing._tag).toBe("FileError")
    expect(missing.message).toContain("nope.txt: no such file")
    const folder = await failure(readSequences(dir))
    expect(folder._tag).toBe("FileError")
  })

  test("format-specific mistakes", async () => {
    const json = await failure(
      readAmazonJsonLines(writeFile(dir, "bad.json", '{"reviewerID":"a","unixReviewTime":1}\n')),
    )
    expect(json).toMatchObject({ _tag: "ParseError", line: 1 })
    expect(json.message).toContain('"asin"')
    const notJson = await failure(
      readAmazonJsonLines(writeFile(dir, "notjson.json", "{'reviewerID': 'a'}\n")),
    )
    expect(notJson.message).toContain("a JSON object")
    const noItems = await failure(readSequences(writeFile(dir, "noitems.txt", "1 2 3\n4\n")))
    expect(noItems).toMatchObject({ _tag: "ParseError", line: 2 })
    const textItem = await failure(readSequences(writeFile(dir, "text.txt", "1 2 x3\n")))
    expect(textItem.message).toContain('"x3"')
    const clicked = await failure(readExposureLog(writeFile(dir, "clicked.csv", "u,i,2,5\n")))
    expect(clicked.message).toContain("0 or 1 for clicked (column 3)")
    const header = await failure(
      readMovieLensCsv(writeFile(dir, "header.csv", "user,movie,rating,timestamp\n1,2,3,4\n")),
    )
    expect(header).toMatchObject({ _tag: "ParseError", line: 1 })
    const rating = await failure(readAmazonRatings(writeFile(dir, "rating.csv", "i,u,five,1\n")))
    expect(rating.message).toContain("numeric rating (column 3)")
  })

  test("a user without attributes in u.user", async () => {
    const ml = join(dir, "ml-missing")
    mkdirSync(ml)
    writeFile(ml, "u.data", "1\t1\t3\t4\n2\t1\t3\t4\n")
    writeFile(ml, "u.user", "1|24|M|technician|85711\n")
    const e = await failure(readMovieLens100k(ml))
    expect(e).toMatchObject({ _tag: "MissingUserAttributes", user: "2" })
    writeFile(ml, "u.user", "1|24|X|technician|85711\n2|30|M|other|1\n")
    const gender = await failure(readMovieLens100k(ml))
    expect(gender.message).toContain("gender M or F (column 3)")
  })

  test("nothing left after filtering, and a user with fewer than 3 interactions at the split", async () => {
    const file = writeFile(dir, "short.txt", "1 1 2 3\n2 1 2\n3 4 5 6 7\n")
    const none = await failure(load({ format: "sequences", file }))
    expect(none._tag).toBe("NoUsersLeft")
    expect(none.message).toContain("5-core")
    const few = await failure(load({ format: "sequences", file }, { kCore: 1, candidates: 2 }))
    expect(few).toMatchObject({ _tag: "TooFewInteractions", user: "2", count: 2 })
    const option = await failure(load({ format: "sequences", file }, { kCore: -1 }))
    expect(option).toMatchObject({ _tag: "InvalidOption", option: "kCore" })
  })
})

test("loadPromise rejects with the typed error itself", async () => {
  const { loadPromise } = await import("../src/Sources.ts")
  const e = await loadPromise({ format: "sequences", file: join(dir, "absent.txt") }).catch(
    (x: unknown) => x,
  )
  expect(e).toMatchObject({ _tag: "FileError", reason: "no such file" })
})
