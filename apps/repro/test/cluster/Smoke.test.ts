/**
 * The engine under `--cluster`, on a real PostgreSQL server: a durable workflow started by a
 * client-only member runs on a runner process; the runner is killed (SIGKILL) in the middle of
 * the workflow's activity, a second runner takes the workflow over, runs the activity again and
 * the client gets its result, once. A workflow suspended on failure (as the study's are) keeps
 * its failure and is retried by the engine's `resume`.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Fiber, Option } from "effect"
import { clientLayer } from "../../src/cluster/Engine.ts"
import { freshDatabase, testServerUrl } from "./database.ts"
import { Flaky, Smoke } from "./smoke.ts"

const root = mkdtempSync(join(tmpdir(), "causald-cluster-smoke-"))
const started: Array<ChildProcess> = []
afterAll(() => {
  for (const child of started) if (child.exitCode === null) child.kill("SIGKILL")
  rmSync(root, { recursive: true, force: true })
})

const runner = (url: string, dir: string): ChildProcess => {
  const child = spawn(process.execPath, [join(import.meta.dir, "smoke.ts"), url, dir], {
    stdio: ["ignore", "ignore", "inherit"],
  })
  started.push(child)
  return child
}

describe.skipIf(testServerUrl === undefined)("cluster engine on PostgreSQL", () => {
  test("a workflow survives the SIGKILL of its runner and completes once on another", async () => {
    const url = await freshDatabase(testServerUrl as string, "smoke")
    const dir = join(root, "one")
    mkdirSync(dir)
    const log = join(dir, "job.log")
    const first = runner(url, dir)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const execution = yield* Effect.forkChild(Smoke.execute({ name: "job", dir }))
        while (!existsSync(log)) yield* Effect.sleep("100 millis")
        first.kill("SIGKILL")
        runner(url, dir)
        writeFileSync(join(dir, "job.go"), "")
        return yield* Fiber.join(execution)
      }).pipe(Effect.provide(clientLayer(url)), Effect.timeout("90 seconds")),
    )
    const lines = readFileSync(log, "utf8").trim().split("\n")
    // Started on the first runner, started again and finished on the second: once to its end.
    expect(result).toBe(2)
    expect(lines.filter((l) => l === "start")).toHaveLength(2)
    expect(lines.filter((l) => l.startsWith("done"))).toHaveLength(1)
  }, 120_000)

  test("a workflow suspended on failure is retried by the engine's resume, and then succeeds", async () => {
    const url = await freshDatabase(testServerUrl as string, "flaky")
    const dir = join(root, "flaky")
    mkdirSync(dir)
    writeFileSync(join(dir, "job.fail"), "")
    runner(url, dir)
    const { failed, result } = await Effect.runPromise(
      Effect.gen(function* () {
        const payload = { name: "job", dir }
        const id = yield* Flaky.execute(payload, { discard: true })
        const settled = Effect.gen(function* () {
          while (true) {
            const polled = yield* Flaky.poll(id)
            if (Option.isSome(polled)) {
              const r = polled.value
              if (r._tag === "Complete" || r.failed === true) return r
            }
            yield* Effect.sleep("200 millis")
          }
        })
        const failed = yield* settled
        rmSync(join(dir, "job.fail"))
        // Starting it again only joins the failed execution: it stays failed.
        yield* Flaky.execute(payload, { discard: true })
        const still = yield* Flaky.poll(id)
        expect(Option.isSome(still) && still.value._tag === "Suspended").toBe(true)
        yield* Flaky.resume(id)
        const result = yield* settled
        return { failed, result }
      }).pipe(Effect.provide(clientLayer(url)), Effect.timeout("90 seconds")),
    )
    expect(failed._tag === "Suspended" && failed.failed).toBe(true)
    // the suspension keeps the failure's cause (the activity's error, as a defect)
    expect(failed._tag === "Suspended" && failed.cause && Cause.squash(failed.cause)).toBe(
      "asked to fail",
    )
    expect(result._tag).toBe("Complete")
    // the activity ran twice: failed, then (resumed) succeeded with the count of its starts
    expect(result._tag === "Complete" && result.exit._tag === "Success" && result.exit.value).toBe(
      2,
    )
  }, 120_000)

  test("a workflow suspended on failure whose runner stops gracefully (SIGTERM) mid-activity is not taken for suspended: another runner completes it", async () => {
    const url = await freshDatabase(testServerUrl as string, "flakyterm")
    const dir = join(root, "flaky-term")
    mkdirSync(dir)
    const log = join(dir, "job.log")
    writeFileSync(join(dir, "job.hold"), "")
    const first = runner(url, dir)
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const id = yield* Flaky.execute({ name: "job", dir }, { discard: true })
        while (!existsSync(log)) yield* Effect.sleep("100 millis")
        first.kill("SIGTERM")
        while (first.exitCode === null && first.signalCode === null)
          yield* Effect.sleep("100 millis")
        runner(url, dir)
        rmSync(join(dir, "job.hold"))
        while (true) {
          const polled = yield* Flaky.poll(id)
          if (Option.isSome(polled) && polled.value._tag === "Complete") return polled.value
          yield* Effect.sleep("200 millis")
        }
      }).pipe(Effect.provide(clientLayer(url)), Effect.timeout("90 seconds")),
    )
    expect(result.exit._tag === "Success" && result.exit.value).toBe(2)
  }, 120_000)
})
