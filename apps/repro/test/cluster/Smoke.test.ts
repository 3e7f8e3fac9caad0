/**
 * The engine under `--cluster`, on a real PostgreSQL server: a durable workflow started by a
 * client-only member runs on a runner process; the runner is killed (SIGKILL) in the middle of
 * the workflow's activity, a second runner takes the workflow over, runs the activity again and
 * the client gets its result, once.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Fiber } from "effect"
import { clientLayer } from "../../src/cluster/Engine.ts"
import { freshDatabase, testServerUrl } from "./database.ts"
import { Smoke } from "./smoke.ts"

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
})
