/**
 * `bun run recommend` on a small trained run: the top K of a user, a user list and a raw history
 * from the saved checkpoint, the user's items left out, the scores the model's logits, the
 * output formats, and every bad input as one line naming what is wrong.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { cpSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Tensors } from "@causald/core"
import { Inputs, logits } from "@causald/models"
import { Effect, Option } from "effect"
import { openModel } from "../src/Cli.ts"
import { type RecommendOptions, recommend, recommendRows } from "../src/Recommend.ts"
import * as Scoring from "../src/Scoring.ts"
import {
  failureOf,
  markUnfinished,
  recommendOptions,
  runEffect,
  runUse,
  tempFolder,
  trainRun,
} from "./fixture.ts"

const temp = tempFolder("causald-use-recommend-")
const run = join(temp.dir, "run")
afterAll(temp.remove)
beforeAll(async () => {
  await trainRun(run, "din,causald")
}, 120_000)

const options = (over: Partial<RecommendOptions>) => recommendOptions(run, over)

const messageOf = async (over: Partial<RecommendOptions>): Promise<string> =>
  (await failureOf(recommendRows(options(over)))).message

describe("recommend", () => {
  test("one user: K distinct items it does not have, best first, scored by the model's logits", async () => {
    const { rows, check } = await runEffect(
      Effect.gen(function* () {
        const { rows } = yield* recommendRows(options({ user: Option.some("u3") }))
        // the same model, loaded again: its logits of (the user's last L items, each item)
        const { run: opened, loaded } = yield* openModel(options({}))
        const backend = yield* Tensors
        const data = opened.data
        const query = Scoring.userQuery(data, 3)
        const items = Scoring.idsOf(data).item
        const ids = Int32Array.from(rows.map((r) => items.get(r.item)!))
        const L = query.history.length
        const history = new Int32Array(ids.length * L)
        for (let r = 0; r < ids.length; r++) history.set(query.history, r * L)
        const direct = backend.tidy(
          () =>
            backend.read(
              logits(
                loaded.model,
                Inputs.toInputs(backend, {
                  user: new Int32Array(ids.length).fill(3),
                  history,
                  historyLength: new Int32Array(ids.length).fill(L),
                  item: ids,
                }),
              ),
            ) as Float32Array,
        )
        loaded.dispose()
        const sequence = new Set(
          data.sequenceItems.subarray(data.sequenceOffsets[3]!, data.sequenceOffsets[4]!),
        )
        return { rows, check: { direct, sequence, ids } }
      }),
    )
    expect(rows.map((r) => r.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    expect(rows.every((r) => r.user === "u3")).toBe(true)
    expect(new Set(rows.map((r) => r.item)).size).toBe(10)
    for (const id of check.ids) expect(check.sequence.has(id)).toBe(false)
    for (let r = 1; r < rows.length; r++)
      expect(rows[r]!.score).toBeLessThanOrEqual(rows[r - 1]!.score)
    rows.forEach((row, r) => {
      expect(Math.abs(row.score - check.direct[r]!)).toBeLessThan(1e-5)
    })
  })

  test("one user's recommendation takes well under a second once the model is loaded", async () => {
    const ms = await runEffect(
      Effect.gen(function* () {
        const { run: opened, loaded } = yield* openModel(options({}))
        const backend = yield* Tensors
        // first call warms the backend's kernels; the second is what a user waits for
        Scoring.recommend(
          backend,
          loaded.model,
          opened.data,
          [Scoring.userQuery(opened.data, 5)],
          10,
        )
        const t0 = performance.now()
        const lists = Scoring.recommend(
          backend,
          loaded.model,
          opened.data,
          [Scoring.userQuery(opened.data, 7)],
          10,
        )
        const elapsed = performance.now() - t0
        loaded.dispose()
        expect(lists[0]!.length).toBe(10)
        return elapsed
      }),
    )
    expect(ms).toBeLessThan(500)
  })

  test("a user range, a users file and a raw history", async () => {
    const range = await runEffect(recommendRows(options({ userRange: Option.some("2..4"), k: 3 })))
    expect(range.rows.map((r) => r.user)).toEqual([
      "u2",
      "u2",
      "u2",
      "u3",
      "u3",
      "u3",
      "u4",
      "u4",
      "u4",
    ])
    const file = join(temp.dir, "users.txt")
    writeFileSync(file, "u4\n\nu2\n")
    const listed = await runEffect(recommendRows(options({ usersFile: Option.some(file), k: 3 })))
    // the same users score the same, in the file's order
    expect(listed.rows).toEqual([...range.rows.slice(6, 9), ...range.rows.slice(0, 3)])
    const history = await runEffect(
      recommendRows(options({ history: Option.some("i3, i5,i7"), k: 80 - 3 })),
    )
    expect(history.rows.every((r) => r.user === null)).toBe(true)
    // every item but the history's three
    expect(history.rows.length).toBe(77)
    expect(history.rows.map((r) => r.item)).not.toContain("i5")
  })

  test("CSV and JSON with the scores, into --output, the format from its extension", async () => {
    const csv = join(temp.dir, "top.csv")
    await runEffect(recommend(options({ user: Option.some("u1"), k: 4, output: Option.some(csv) })))
    const lines = readFileSync(csv, "utf8").trim().split("\n")
    expect(lines[0]).toBe("user,rank,item,score")
    expect(lines.length).toBe(5)
    expect(lines[1]!.split(",")[0]).toBe("u1")
    const json = join(temp.dir, "top.json")
    await runEffect(
      recommend(options({ user: Option.some("u1"), k: 4, output: Option.some(json) })),
    )
    const parsed = JSON.parse(readFileSync(json, "utf8"))
    expect(parsed.method).toBe("causald")
    expect(parsed.seed).toBe(1)
    expect(parsed.recommendations.map((r: { item: string }) => r.item)).toEqual(
      lines.slice(1).map((l) => l.split(",")[2]),
    )
    expect(parsed.recommendations[0].score).toBe(Number(lines[1]!.split(",")[3]))
  })

  test("unknown users and items, a bad range, file or K: one line naming them", async () => {
    expect(await messageOf({ user: Option.some("nobody") })).toStartWith(
      '--user nobody: unknown user "nobody"',
    )
    expect(await messageOf({ history: Option.some("i1,zz") })).toStartWith(
      '--history: unknown item "zz"',
    )
    expect(await messageOf({ history: Option.some(" , ") })).toContain("at least one item id")
    const file = join(temp.dir, "bad-users.txt")
    writeFileSync(file, "u1\nghost\n")
    expect(await messageOf({ usersFile: Option.some(file) })).toStartWith(
      `--users-file ${file}, line 2: unknown user "ghost"`,
    )
    expect(await messageOf({ usersFile: Option.some(join(temp.dir, "none.txt")) })).toContain(
      "cannot read",
    )
    expect(await messageOf({ userRange: Option.some("5..2") })).toStartWith("--user-range 5..2:")
    expect(await messageOf({ userRange: Option.some("0..240") })).toContain("B <= 239")
    expect(await messageOf({ user: Option.some("u1"), k: 0 })).toBe(
      "--k 0: expected an integer in 1..1000",
    )
    expect(await messageOf({ user: Option.some("u1"), k: 81 })).toContain(
      "at most the data's 80 items",
    )
    expect(await messageOf({})).toContain("say for whom")
    expect(
      await messageOf({ user: Option.some("u1"), userRange: Option.some("0..1") }),
    ).toStartWith("--user and --user-range:")
  })

  test("unknown methods and seeds, the other base, folders that are not runs, unfinished runs and models", async () => {
    const user = { user: Option.some("u1") }
    expect(await messageOf({ ...user, method: "ips" })).toContain(
      "has no trained model of this method; it has base (din), causald",
    )
    expect(await messageOf({ ...user, seed: Option.some(2) })).toContain(
      "has no such seed; it has 1",
    )
    expect(await messageOf({ ...user, method: "deepfm" })).toContain(
      "this run's base recommender is din",
    )
    expect(await messageOf({ ...user, run: join(temp.dir, "absent") })).toEndWith("no such folder")
    expect(await messageOf({ ...user, run: temp.dir })).toContain("not a repro run folder")
    // a run still training: no results.json yet
    const copy = join(temp.dir, "copy")
    cpSync(run, copy, { recursive: true })
    rmSync(join(copy, "results.json"))
    expect(await messageOf({ ...user, run: copy })).toContain("the study has not finished")
    // a model whose training has not finished
    cpSync(run, copy, { recursive: true })
    cpSync(join(copy, "models", "base", "seed-1"), join(copy, "models", "base", "seed-2"), {
      recursive: true,
    })
    await runEffect(markUnfinished(join(copy, "models", "base", "seed-2", "last.ckpt")))
    expect(await messageOf({ ...user, run: copy, method: "din", seed: Option.some(2) })).toContain(
      "has not finished training (2 epochs done)",
    )
    // a run whose data is not what its models were trained on
    const fingerprint = join(copy, "fingerprint.json")
    const record = JSON.parse(readFileSync(fingerprint, "utf8"))
    writeFileSync(fingerprint, JSON.stringify({ ...record, data: "0".repeat(64) }))
    expect(await messageOf({ ...user, run: copy })).toContain(
      "differs from what its models were trained on",
    )
  })

  test("as a process: a table on stdout; an error as one line on stderr with status 1", async () => {
    const ok = await runUse("recommend-main.ts", ["--run", run, "--user", "u3", "--k", "3"])
    expect(ok.code).toBe(0)
    const lines = ok.stdout.trim().split("\n")
    expect(lines[0]).toMatch(/^user\s+rank\s+item\s+score$/)
    expect(lines.length).toBe(4)
    const bad = await runUse("recommend-main.ts", ["--run", run, "--user", "ghost"])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toBe("")
    expect(bad.stderr.trim().split("\n")).toEqual([
      expect.stringContaining('recommend: --user ghost: unknown user "ghost"'),
    ])
    const flag = await runUse("recommend-main.ts", ["--run", run, "--users", "u1"])
    expect(flag.code).toBe(1)
    expect(flag.stderr).not.toContain("    at ")
  }, 60_000)
})
