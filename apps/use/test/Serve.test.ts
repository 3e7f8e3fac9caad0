/**
 * The scoring service on a small trained run: its answers equal `recommend`'s, concurrent
 * requests are scored in shared batches, `/health` gives the model's provenance, and every bad
 * request gets a 4xx with a reason while the service goes on.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Tensors } from "@causald/core"
import { Effect, Option } from "effect"
import { openModel } from "../src/Cli.ts"
import { type RecommendOptions, type Row, recommendRows } from "../src/Recommend.ts"
import type { LoadedModel } from "../src/Run.ts"
import * as Serve from "../src/Serve.ts"
import {
  recommendOptions as optionsFor,
  runEffect,
  runUse,
  tempFolder,
  trainRun,
} from "./fixture.ts"

const temp = tempFolder("causald-use-serve-")
const run = join(temp.dir, "run")
let service: Serve.Service
let loaded: LoadedModel
afterAll(() => {
  loaded?.dispose()
  temp.remove()
})
beforeAll(async () => {
  await trainRun(run, "din,causald")
  const opened = await runEffect(
    Effect.gen(function* () {
      const { run: r, loaded } = yield* openModel({ run, method: "causald", seed: Option.none() })
      return { r, loaded, backend: yield* Tensors }
    }),
  )
  loaded = opened.loaded
  service = Serve.make(opened.backend, opened.r, opened.loaded)
}, 120_000)

/** A JSON answer, read loosely (the assertions check its shape). */
// biome-ignore lint/suspicious/noExplicitAny: the service's JSON answers, checked field by field
type Answer = any
const read = (response: Response): Promise<Answer> => response.json()

const post = (path: string, body: unknown) =>
  service.fetch(
    new Request(`http://127.0.0.1${path}`, {
      method: "POST",
      body: typeof body === "string" ? body : JSON.stringify(body),
    }),
  )

const recommendOptions = (over: Partial<RecommendOptions>) => optionsFor(run, over)

const expectSame = (
  served: ReadonlyArray<{ item: string; score: number }>,
  rows: ReadonlyArray<Row>,
) => {
  expect(served.map((s) => s.item)).toEqual(rows.map((r) => r.item))
  served.forEach((s, i) => {
    expect(Math.abs(s.score - rows[i]!.score)).toBeLessThan(1e-6)
  })
}

describe("serve", () => {
  test("GET /health: the run, model, data fingerprint, reading and backend", async () => {
    const response = await service.fetch(new Request("http://127.0.0.1/health"))
    expect(response.status).toBe(200)
    const health = await read(response)
    const fingerprint = JSON.parse(readFileSync(join(run, "fingerprint.json"), "utf8"))
    expect(health.status).toBe("ok")
    expect(health.method).toBe("causald")
    expect(health.seed).toBe(1)
    expect(health.model).toBe("din")
    expect(health.data.fingerprint).toBe(fingerprint.data)
    expect(health.data.users).toBe(240)
    expect(health.reading.preset).toBe("literal")
    expect(health.reading.settings.lambdaBda).toBe(1)
    expect(typeof health.backend).toBe("string")
  })

  test("POST /recommend and /score answer what recommend gives", async () => {
    const rows = (await runEffect(recommendRows(recommendOptions({ user: Option.some("u7") }))))
      .rows
    const response = await post("/recommend", { user: "u7" })
    expect(response.status).toBe(200)
    const body = await read(response)
    expect(body.user).toBe("u7")
    expectSame(body.items, rows)
    const scored = await read(
      await post("/score", { user: "u7", items: rows.map((r) => r.item).reverse() }),
    )
    expectSame([...scored.scores].reverse(), rows)
    const history = (
      await runEffect(recommendRows(recommendOptions({ history: Option.some("i4,i9,i12"), k: 5 })))
    ).rows
    expectSame(
      (await read(await post("/recommend", { history: ["i4", "i9", "i12"], k: 5 }))).items,
      history,
    )
  })

  test("concurrent requests are scored in shared batches, each as if alone", async () => {
    const users = Array.from({ length: 40 }, (_, u) => `u${u * 5}`)
    const alone: Array<Answer> = []
    for (const user of users) alone.push(await read(await post("/recommend", { user, k: 5 })))
    const before = service.stats.batches
    const together: Array<Answer> = await Promise.all(
      users.map(async (user, i) =>
        i % 2 === 0
          ? read(await post("/recommend", { user, k: 5 }))
          : (
              await post("/score", {
                user,
                items: alone[i].items.map((s: { item: string }) => s.item),
              })
            ).json(),
      ),
    )
    expect(service.stats.batches - before).toBeLessThan(users.length / 2)
    expect(service.stats.largest).toBeGreaterThan(1)
    together.forEach((answer, i) => {
      const expected = alone[i].items
      const got = i % 2 === 0 ? answer.items : answer.scores
      expect(got.map((s: { item: string }) => s.item)).toEqual(
        expected.map((s: { item: string }) => s.item),
      )
      got.forEach((s: { score: number }, j: number) => {
        expect(Math.abs(s.score - expected[j].score)).toBeLessThan(1e-6)
      })
    })
  })

  test("bad requests: a 4xx with the reason, never a crash", async () => {
    const cases: Array<[Response, number, string]> = [
      [await post("/recommend", "{not json"), 400, "not valid JSON"],
      [await post("/score", { history: ["i1"] }), 400, "items"],
      [await post("/recommend", { user: 3 }), 400, "user"],
      [await post("/recommend", { user: "u1", k: "ten" }), 400, "k"],
      [await post("/recommend", { user: "u1", k: 0 }), 400, "k: 0, expected 1..80"],
      [await post("/recommend", {}), 400, 'expected "user" or "history"'],
      [await post("/recommend", { history: [] }), 400, "at least one item"],
      [await post("/recommend", { user: "ghost" }), 404, 'unknown user "ghost"'],
      [
        await post("/score", { history: ["i1"], items: ["i2", "nope"] }),
        404,
        'unknown item "nope"',
      ],
      [await post("/recommend", { history: ["i1", "i999"] }), 404, 'unknown item "i999"'],
      [await post("/recommend", { user: "u1", pad: "x".repeat(70_000) }), 413, "at most 65536"],
      [await post("/recommend", { history: Array(1001).fill("i1") }), 413, "at most 1000"],
      [await post("/score", { user: "u1", items: Array(5001).fill("i1") }), 413, "at most 5000"],
      [await service.fetch(new Request("http://127.0.0.1/recommend")), 405, "use POST"],
      [await post("/health", {}), 405, "use GET"],
      [await post("/nowhere", {}), 404, "no such path"],
    ]
    for (const [response, status, reason] of cases) {
      expect(response.status).toBe(status)
      expect((await read(response)).error).toContain(reason)
    }
    // still serving
    expect((await post("/recommend", { user: "u1", k: 2 })).status).toBe(200)
  })

  test("as a process on loopback: listens, answers, refuses a bad port in one line", async () => {
    const proc = Bun.spawn(
      ["bun", join(import.meta.dir, "..", "src", "serve-main.ts"), "--run", run, "--port", "0"],
      { stdout: "ignore", stderr: "pipe" },
    )
    try {
      const reader = proc.stderr.getReader()
      let text = ""
      while (!/http:\/\/127\.0\.0\.1:\d+/.test(text)) {
        const { value, done } = await reader.read()
        if (done) throw new Error(`serve ended: ${text}`)
        text += new TextDecoder().decode(value)
      }
      const url = /http:\/\/127\.0\.0\.1:\d+/.exec(text)![0]
      const health = await read(await fetch(`${url}/health`))
      expect(health.method).toBe("causald")
      const big = await fetch(`${url}/recommend`, { method: "POST", body: "x".repeat(2_000_000) })
      expect(big.status).toBe(413)
      expect(
        (await fetch(`${url}/recommend`, { method: "POST", body: '{"user":"u2"}' })).status,
      ).toBe(200)
    } finally {
      proc.kill()
      await proc.exited
    }
    const bad = await runUse("serve-main.ts", ["--run", run, "--port", "70000"])
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toBe("serve: --port 70000: expected 0..65535")
  }, 60_000)
})
