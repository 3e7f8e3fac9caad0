/**
 * `bun run recommend`: the top-K items of a trained model of a repro run for one user, a list of
 * users (`--users-file`, `--user-range`) or a raw history (`--history`), from the saved best
 * checkpoint (nothing is retrained). Items the user already has (its whole sequence, or the
 * history's items) are left out. Prints a table, or CSV or JSON with the scores (the model's
 * logits, `Scoring.ts`), on standard output or into `--output`.
 *
 * @module
 */
import { Tensors } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import { Effect, FileSystem, Option, Result } from "effect"
import { Command, Flag } from "effect/cli"
import { backendLayer, modelFlags, withModel } from "./Cli.ts"
import type { OpenRun } from "./Run.ts"
import { UseError } from "./Run.ts"
import * as Scoring from "./Scoring.ts"

export const formats = ["table", "csv", "json"] as const
export type Format = (typeof formats)[number]

/** Most items one recommendation may list. */
export const MAX_K = 1000

export const flags = {
  ...modelFlags,
  user: Flag.String("user").pipe(
    Flag.withDescription(
      "A user id as spelled in the data (with --history: the user whose id the model reads)",
    ),
    Flag.optional,
  ),
  usersFile: Flag.String("users-file").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription("A file of user ids, one a line"),
    Flag.optional,
  ),
  userRange: Flag.String("user-range").pipe(
    Flag.withMetavar("A..B"),
    Flag.withDescription("Users at positions A to B (inclusive, 0-based) of the data's user order"),
    Flag.optional,
  ),
  history: Flag.String("history").pipe(
    Flag.withMetavar("ITEMS"),
    Flag.withDescription("A raw history: comma-separated item ids, oldest first"),
    Flag.optional,
  ),
  k: Flag.Int("k").pipe(
    Flag.withDescription(`Items per user, 1..${MAX_K} (at most the data's items); default 10`),
    Flag.withDefault(10),
  ),
  format: Flag.Literals("format", formats).pipe(
    Flag.withDescription(
      "table, csv or json; default from --output's extension (.csv, .json), else table",
    ),
    Flag.optional,
  ),
  output: Flag.String("output").pipe(
    Flag.withMetavar("FILE"),
    Flag.withDescription("Write there instead of standard output"),
    Flag.optional,
  ),
  timings: Flag.Boolean("timings").pipe(
    Flag.withDescription(
      "Print on standard error how long opening the run, loading the model and scoring took",
    ),
    Flag.withDefault(false),
  ),
} as const

export interface RecommendOptions {
  readonly run: string
  readonly method: string
  readonly seed: Option.Option<number>
  readonly user: Option.Option<string>
  readonly usersFile: Option.Option<string>
  readonly userRange: Option.Option<string>
  readonly history: Option.Option<string>
  readonly k: number
  readonly format: Option.Option<Format>
  readonly output: Option.Option<string>
  readonly timings?: boolean
}

/** Who is asked for: users by index, or one raw history (with an optional user). */
type Target =
  | { readonly _tag: "Users"; readonly users: ReadonlyArray<number> }
  | { readonly _tag: "History"; readonly history: Int32Array; readonly user: number }

const usersTarget = (users: ReadonlyArray<number>): Target => ({ _tag: "Users", users })
const historyTarget = (history: Int32Array, user: number): Target => ({
  _tag: "History",
  history,
  user,
})

const fail = (subject: string, reason: string) => Effect.fail(new UseError({ subject, reason }))

/** Checks the flags that need no data: one kind of target, a sane K. */
export const checkFlags = (o: RecommendOptions): Effect.Effect<void, UseError> => {
  const given = [
    Option.isSome(o.user) && Option.isNone(o.history) ? "--user" : null,
    Option.isSome(o.usersFile) ? "--users-file" : null,
    Option.isSome(o.userRange) ? "--user-range" : null,
    Option.isSome(o.history) ? "--history" : null,
  ].filter((f) => f !== null)
  if (given.length === 0)
    return fail(
      "recommend",
      "say for whom: --user ID, --users-file FILE, --user-range A..B or --history ITEMS",
    )
  if (given.length > 1)
    return fail(given.join(" and "), "give one of --user, --users-file, --user-range, --history")
  if (!Number.isInteger(o.k) || o.k < 1 || o.k > MAX_K)
    return fail(`--k ${o.k}`, `expected an integer in 1..${MAX_K}`)
  return Effect.void
}

const parseRange = (
  data: PreparedDataset,
  text: string,
): Result.Result<Array<number>, UseError> => {
  const match = /^\s*(\d+)\s*\.\.\s*(\d+)\s*$/.exec(text)
  const last = data.numUsers - 1
  const bad = Result.fail(
    new UseError({
      subject: `--user-range ${text}`,
      reason: `expected A..B with 0 <= A <= B <= ${last} (positions in the data's ${data.numUsers} users)`,
    }),
  )
  if (match === null) return bad
  const a = Number(match[1])
  const b = Number(match[2])
  if (a > b || b > last) return bad
  return Result.succeed(Array.from({ length: b - a + 1 }, (_, i) => a + i))
}

/** The target of the flags, every id resolved against the data. */
const resolveTarget = (
  run: OpenRun,
  o: RecommendOptions,
): Effect.Effect<Target, UseError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const data = run.data
    const ids = Scoring.idsOf(data)
    if (Option.isSome(o.history)) {
      const items = o.history.value
        .split(",")
        .map((s) => s.trim())
        .filter((s) => s !== "")
      if (items.length === 0)
        return yield* fail("--history", "expected at least one item id (comma-separated)")
      const history = yield* Effect.fromResult(Scoring.resolveItems(data, ids, items, "--history"))
      const user = Option.isSome(o.user)
        ? yield* Effect.fromResult(
            Scoring.resolveUser(data, ids, o.user.value, `--user ${o.user.value}`),
          )
        : -1
      return historyTarget(history, user)
    }
    if (Option.isSome(o.user))
      return usersTarget([
        yield* Effect.fromResult(
          Scoring.resolveUser(data, ids, o.user.value, `--user ${o.user.value}`),
        ),
      ])
    if (Option.isSome(o.userRange))
      return usersTarget(yield* Effect.fromResult(parseRange(data, o.userRange.value)))
    const file = Option.getOrThrow(o.usersFile)
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(file)
      .pipe(
        Effect.mapError(
          (e) =>
            new UseError({ subject: `--users-file ${file}`, reason: `cannot read: ${e.message}` }),
        ),
      )
    const users: Array<number> = []
    const lines = text.split(/\r?\n/)
    for (let n = 0; n < lines.length; n++) {
      const id = lines[n]!.trim()
      if (id === "") continue
      users.push(
        yield* Effect.fromResult(
          Scoring.resolveUser(data, ids, id, `--users-file ${file}, line ${n + 1}`),
        ),
      )
    }
    if (users.length === 0) return yield* fail(`--users-file ${file}`, "has no user id")
    return usersTarget(users)
  })

/** One row of the output. */
export interface Row {
  /** The user's id, or null for a raw history without a user. */
  readonly user: string | null
  readonly rank: number
  readonly item: string
  readonly score: number
}

/** The recommendations as rows. */
export const recommendRows = (
  o: RecommendOptions,
): Effect.Effect<
  {
    readonly rows: ReadonlyArray<Row>
    readonly run: OpenRun
    readonly method: string
    readonly seed: number
  },
  UseError,
  FileSystem.FileSystem | Tensors
> =>
  Effect.gen(function* () {
    yield* checkFlags(o)
    const t0 = performance.now()
    return yield* withModel(o, ({ run, loaded }) =>
      Effect.gen(function* () {
        const t1 = performance.now()

        const data = run.data
        const target = yield* resolveTarget(run, o)
        if (o.k > data.numItems)
          return yield* fail(`--k ${o.k}`, `expected at most the data's ${data.numItems} items`)
        const userless = target._tag === "History" && target.user < 0
        if (userless && Scoring.needsUser(loaded.model))
          return yield* fail(
            "--history",
            `a ${loaded.kind} model reads the user id too: add --user ID (the history then replaces that user's)`,
          )
        const queries =
          target._tag === "Users"
            ? target.users.map((u) => Scoring.userQuery(data, u))
            : [Scoring.historyQuery(data, target.history, target.user)]
        const backend = yield* Tensors
        const t2 = performance.now()
        const lists = Scoring.recommend(backend, loaded.model, data, queries, o.k)
        if (o.timings === true)
          process.stderr.write(
            `timings: open the run and load the model ${(t1 - t0).toFixed(1)} ms, resolve ids ${(t2 - t1).toFixed(1)} ms, score ${queries.length} ${queries.length === 1 ? "query" : "queries"} ${(performance.now() - t2).toFixed(1)} ms (backend ${backend.name})\n`,
          )
        const rows: Array<Row> = []
        for (let q = 0; q < lists.length; q++) {
          const u = queries[q]!.user
          lists[q]!.forEach((s, r) => {
            rows.push({ user: u < 0 ? null : data.userIds[u]!, rank: r + 1, ...s })
          })
        }
        return { rows, run, method: loaded.method, seed: loaded.seed }
      }),
    )
  })

const csvField = (s: string): string => (/[",\n]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s)

/** The rows in a format. Scores are written in full (shortest round-trip form) in CSV and JSON. */
export const formatRows = (
  rows: ReadonlyArray<Row>,
  format: Format,
  about: { readonly run: string; readonly method: string; readonly seed: number },
): string => {
  if (format === "json") return `${JSON.stringify({ ...about, recommendations: rows }, null, 2)}\n`
  if (format === "csv")
    return `user,rank,item,score\n${rows.map((r) => `${csvField(r.user ?? "")},${r.rank},${csvField(r.item)},${r.score}`).join("\n")}\n`
  const cells = rows.map((r) => [r.user ?? "(history)", String(r.rank), r.item, r.score.toFixed(4)])
  const header = ["user", "rank", "item", "score"]
  const widths = header.map((h, c) => Math.max(h.length, ...cells.map((row) => row[c]!.length)))
  const line = (row: ReadonlyArray<string>) =>
    row.map((cell, c) => (c >= 1 ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join("  ")
  return `${[line(header), ...cells.map(line)].join("\n")}\n`
}

/** The format of the flags: `--format`, else from `--output`'s extension, else a table. */
export const formatOf = (o: RecommendOptions): Format =>
  Option.getOrElse(o.format, () => {
    const out = Option.getOrElse(o.output, () => "")
    return out.endsWith(".csv") ? "csv" : out.endsWith(".json") ? "json" : "table"
  })

/** The whole command: recommendations, formatted, written to standard output or `--output`. */
export const recommend = (
  o: RecommendOptions,
): Effect.Effect<string, UseError, FileSystem.FileSystem | Tensors> =>
  Effect.gen(function* () {
    const { rows, method, seed } = yield* recommendRows(o)
    const text = formatRows(rows, formatOf(o), { run: o.run, method, seed })
    if (Option.isSome(o.output)) {
      const fs = yield* FileSystem.FileSystem
      const file = o.output.value
      yield* fs
        .writeFileString(file, text)
        .pipe(
          Effect.mapError(
            (e) =>
              new UseError({ subject: `--output ${file}`, reason: `cannot write: ${e.message}` }),
          ),
        )
    } else process.stdout.write(text)
    return text
  })

export const command = Command.make("recommend", flags).pipe(
  Command.withDescription(
    "The top-K items of a trained model of a repro run for a user, a list of users or a raw history, excluding the items the user already has",
  ),
  Command.withHandler((o) => recommend(o).pipe(Effect.provide(backendLayer(o.backend)))),
)
