/**
 * `--workers`: the rotation of the models over workers, the worker task in the environment, and,
 * as processes on the `--quick` study, the same numbers with two workers as with one, a failing
 * worker failing the study, and an interrupted study stopping its workers.
 */
import { afterAll, describe, expect, test } from "bun:test"
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { firstPass, logOf, rotation, taskFromEnvironment, workerVariable } from "../src/Workers.ts"
import {
  twoSeedStudy as args,
  finish,
  options as fixtureOptions,
  readRunResults,
} from "./fixture.ts"

const main = join(import.meta.dir, "..", "src", "main.ts")
const root = mkdtempSync(join(tmpdir(), "causald-workers-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

describe("firstPass", () => {
  test("visits its rotation, skipping the jobs held elsewhere and returning them in order", () => {
    const run = (index: number, held: ReadonlySet<number>) => {
      const visited: Array<number> = []
      const deferred = Effect.runSync(
        firstPass(
          [1, 2, 3, 4, 5, 6],
          index,
          2,
          (job) => Effect.succeed(held.has(job)),
          (job) => Effect.sync(() => void visited.push(job)),
        ),
      )
      return { visited, deferred }
    }
    expect(run(0, new Set())).toEqual({ visited: [1, 2, 3, 4, 5, 6], deferred: [] })
    expect(run(0, new Set([2, 5]))).toEqual({ visited: [1, 3, 4, 6], deferred: [2, 5] })
    expect(run(1, new Set([4, 1]))).toEqual({ visited: [5, 6, 2, 3], deferred: [4, 1] })
  })
})

describe("rotation", () => {
  test("worker i starts i * ceil(n / N) models in, and visits every model once", () => {
    expect(rotation([1, 2, 3, 4, 5, 6], 0, 2)).toEqual([1, 2, 3, 4, 5, 6])
    expect(rotation([1, 2, 3, 4, 5, 6], 1, 2)).toEqual([4, 5, 6, 1, 2, 3])
    expect(rotation([1, 2, 3, 4, 5], 1, 2)).toEqual([4, 5, 1, 2, 3])
    expect(rotation([1, 2, 3, 4, 5], 2, 3)).toEqual([5, 1, 2, 3, 4])
    expect(rotation([], 1, 2)).toEqual([])
    for (let n = 0; n <= 12; n++)
      for (let workers = 1; workers <= 4; workers++)
        for (let index = 0; index < workers; index++) {
          const jobs = Array.from({ length: n }, (_, j) => j)
          const order = rotation(jobs, index, workers)
          expect([...order].sort((x, y) => x - y)).toEqual(jobs)
          if (n > 0) expect(order[0]).toBe((index * Math.ceil(n / workers)) % n)
        }
  })
})

describe("taskFromEnvironment", () => {
  test("null in the main process; the task in a worker; a message naming the variable otherwise", () => {
    expect(taskFromEnvironment({})).toBeNull()
    const task = { index: 1, workers: 2, options: fixtureOptions }
    expect(taskFromEnvironment({ [workerVariable]: JSON.stringify(task) })).toEqual(task)
    const bad = taskFromEnvironment({ [workerVariable]: JSON.stringify({ index: 1 }) })
    expect(bad !== null && "invalid" in bad && bad.invalid).toContain(workerVariable)
  })
})

const run = (extra: ReadonlyArray<string>) =>
  Bun.spawn(["bun", main, ...args, ...extra], { stdout: "ignore", stderr: "pipe" })
/** The lease files under `dir`. */
const leases = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, encoding: "utf8" }).filter((f) => /(^|\/)lease$/.test(f))

describe("bun run repro --workers", () => {
  test("two workers give the numbers of one, and leave no lease behind", async () => {
    const one = join(root, "one")
    const two = join(root, "two")
    const [a, b] = await Promise.all([
      finish(run(["--out", one])),
      finish(run(["--workers", "2", "--out", two])),
    ])
    expect(a.code).toBe(0)
    expect(b.code).toBe(0)
    expect(b.stderr).toContain("worker 1 started")
    const [r1, r2] = [readRunResults(one), readRunResults(two)]
    expect(r2.methods).toEqual(r1.methods)
    expect(r2.comparisons).toEqual(r1.comparisons)
    expect(r2.groupings).toEqual(r1.groupings)
    expect(r2.manifest.configuration.workers).toBe(2)
    // The main process's share of the training is a stage of the manifest's wall times.
    expect(r2.manifest.stages.map((s) => s.name)).toContain("models (first pass, 2 processes)")
    expect(r1.manifest.stages.map((s) => s.name)).not.toContain("models (first pass, 2 processes)")
    // The worker trained its share.
    const log = readFileSync(logOf(two, 1), "utf8")
    expect(log).toContain('"stage":"models"')
    expect(leases(join(two, "models"))).toEqual([])
  }, 90_000)

  test("a failing worker fails the study with its index and log", async () => {
    const out = join(root, "failing")
    // Worker 1 starts on the second seed's group-wise models (the rotation), long before the main
    // process reaches them; a lease that is not one stops it there.
    mkdirSync(join(out, "models", "groupwise-seed2-0"), { recursive: true })
    writeFileSync(join(out, "models", "groupwise-seed2-0", "lease"), "not a lease")
    // On the cpu backend the main process's first three models take longer than a worker's
    // start; on wasm with oneDNN and the fused kernels the main process once reached the lease
    // first and failed the study itself.
    const onCpu = args.map((a, i) => (args[i - 1] === "--backend" ? "cpu" : a))
    const { code, stderr } = await finish(
      Bun.spawn(["bun", main, ...onCpu, "--workers", "2", "--out", out], {
        stdout: "ignore",
        stderr: "pipe",
      }),
    )
    expect(code).toBe(1)
    expect(stderr).toContain(`worker 1 exited with status 1`)
    expect(stderr).toContain("not a lease written by this program")
    expect(stderr).toContain(`see ${logOf(out, 1)}`)
    expect(existsSync(join(out, "results.json"))).toBe(false)
  }, 60_000)

  test("an interrupted study stops its workers", async () => {
    const proc = run(["--workers", "2", "--out", join(root, "interrupted")])
    const reader = proc.stderr.getReader()
    let seen = ""
    let pid: number | undefined
    while (pid === undefined) {
      const { value, done } = await reader.read()
      if (done) break
      seen += new TextDecoder().decode(value)
      const match = /worker 1 started \(pid (\d+)\)/.exec(seen)
      if (match) pid = Number(match[1])
    }
    expect(pid).toBeDefined()
    proc.kill("SIGTERM")
    await proc.exited
    const alive = () => {
      try {
        process.kill(pid!, 0)
        return true
      } catch {
        return false
      }
    }
    // polled for up to 60 s: a worker on a loaded machine takes longer to see its signal
    for (let i = 0; i < 600 && alive(); i++) await Bun.sleep(100)
    expect(alive()).toBe(false)
  }, 120_000)
})
