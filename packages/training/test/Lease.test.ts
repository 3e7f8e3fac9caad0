import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { type TensorBackend, Tensors } from "@causald/core"
import { startBackend } from "@causald/tfjs"
import { NodeFileSystem } from "@effect/platform-node"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import {
  acquire,
  type Holder,
  heldByOther,
  LeaseError,
  leasePath,
  processStart,
} from "../src/Lease.ts"
import { recommendation } from "../src/Objective.ts"
import { Progress } from "../src/Progress.ts"
import { defaultTrainingConfig, train } from "../src/Train.ts"
import { meanPool, smallData } from "./fixtures.ts"

const root = mkdtempSync(join(tmpdir(), "causald-lease-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
let count = 0
const freshDir = () => {
  const dir = join(root, `run-${count++}`)
  mkdirSync(dir, { recursive: true })
  return dir
}

/** Progress that records its notes. */
const recording = () => {
  const notes: Array<string> = []
  const layer = Layer.succeed(
    Progress,
    Progress.of({
      update: () => Effect.void,
      note: (stage, message) => Effect.sync(() => void notes.push(`${stage}: ${message}`)),
    }),
  )
  return { notes, layer }
}

const run = <A, E>(
  effect: Effect.Effect<A, E, import("effect").FileSystem.FileSystem | Progress>,
  progress: Layer.Layer<Progress>,
) => Effect.runPromiseExit(effect.pipe(Effect.provide(Layer.merge(NodeFileSystem.layer, progress))))

const holderOf = (dir: string): Holder => JSON.parse(readFileSync(leasePath(dir), "utf8"))

/** A process id that was alive a moment ago and is now gone. */
const deadPid = async (): Promise<number> => {
  const proc = Bun.spawn(["true"])
  await proc.exited
  return proc.pid
}

const writeLease = (dir: string, pid: number, started: number | null) =>
  writeFileSync(
    leasePath(dir),
    JSON.stringify({ pid, host: hostname(), started, token: `t-${pid}-${count}` }),
  )

describe("Lease", () => {
  test("heldByOther: true only while another live process holds it; ours, a dead one's, none or an unreadable file are not", async () => {
    const { layer } = recording()
    const probe = (dir: string) => run(heldByOther(dir), layer)
    const value = async (dir: string) => {
      const exit = await probe(dir)
      return Exit.isSuccess(exit) ? exit.value : "failed"
    }
    const none = freshDir()
    expect(await value(none)).toBe(false)
    const live = freshDir()
    const other = Bun.spawn(["sleep", "30"])
    writeLease(live, other.pid, processStart(other.pid))
    expect(await value(live)).toBe(true)
    other.kill("SIGKILL")
    await other.exited
    expect(await value(live)).toBe(false)
    const unreadable = freshDir()
    writeFileSync(leasePath(unreadable), "not a lease")
    expect(await value(unreadable)).toBe(false)
    const ours = freshDir()
    const exit = await run(
      Effect.scoped(Effect.flatMap(acquire(ours, { name: "ours" }), () => heldByOther(ours))),
      layer,
    )
    expect(Exit.isSuccess(exit) && exit.value).toBe(false)
  })

  test("a live lease makes a second acquirer wait until it is released", async () => {
    const dir = freshDir()
    const { notes, layer } = recording()
    const events: Array<string> = []
    const program = Effect.gen(function* () {
      // the second acquirer starts once the first holds the lease, however slow the machine
      const held = yield* Deferred.make<void>()
      const first = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            yield* acquire(dir, { name: "first", pollMillis: 10 })
            events.push("first acquired")
            yield* Deferred.succeed(held, undefined)
            yield* Effect.sleep(150)
            events.push("first releases")
          }),
        ),
      )
      yield* Deferred.await(held)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const holder = yield* acquire(dir, { name: "second", pollMillis: 10 })
          events.push("second acquired")
          expect(holderOf(dir).token).toBe(holder.token)
        }),
      )
      yield* Fiber.join(first)
    })
    const exit = await run(program, layer)
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(events).toEqual(["first acquired", "first releases", "second acquired"])
    expect(notes).toContain(`second: waiting for second (held by pid ${process.pid})`)
    expect(existsSync(leasePath(dir))).toBe(false)
  })

  test("a lease held by another live process is waited for, and taken over once it dies", async () => {
    const dir = freshDir()
    const holder = Bun.spawn(["sleep", "30"])
    writeLease(dir, holder.pid, processStart(holder.pid))
    const { notes, layer } = recording()
    setTimeout(() => holder.kill("SIGKILL"), 200)
    const started = Date.now()
    const exit = await run(Effect.scoped(acquire(dir, { name: "r", pollMillis: 20 })), layer)
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(Date.now() - started).toBeGreaterThanOrEqual(150)
    expect(notes[0]).toBe(`r: waiting for r (held by pid ${holder.pid})`)
    expect(notes[1]).toBe(`r: took over the lease of r from pid ${holder.pid}, which is gone`)
  })

  test("a stale lease (dead process, or a reused process id) is taken over at once", async () => {
    for (const stale of ["dead", "reused"] as const) {
      const dir = freshDir()
      // A reused id: our own live process id, but with another start time and token.
      if (stale === "dead") writeLease(dir, await deadPid(), null)
      else writeLease(dir, process.pid, -1)
      const { notes, layer } = recording()
      const exit = await run(
        Effect.scoped(
          Effect.map(acquire(dir, { name: "r", pollMillis: 5_000 }), (h) => {
            expect(holderOf(dir).token).toBe(h.token)
          }),
        ),
        layer,
      )
      expect(Exit.isSuccess(exit)).toBe(true)
      expect(notes.length).toBe(1)
      expect(notes[0]).toContain("took over the lease of r")
      expect(existsSync(leasePath(dir))).toBe(false)
    }
  })

  test("another host's lease: waited for by default, taken over at once with takeOver; our own is still waited for", async () => {
    const foreign = (dir: string) =>
      writeFileSync(
        leasePath(dir),
        JSON.stringify({ pid: 1, host: `not-${hostname()}`, started: null, token: "t-far" }),
      )
    // By default it counts as live: the acquirer is still waiting when interrupted.
    const waiting = freshDir()
    foreign(waiting)
    const plain = recording()
    const timedOut = await run(
      Effect.scoped(acquire(waiting, { name: "r", pollMillis: 10 })).pipe(
        Effect.timeoutOption(200),
      ),
      plain.layer,
    )
    expect(Exit.isSuccess(timedOut) && timedOut.value._tag === "None").toBe(true)
    expect(plain.notes).toEqual([`r: waiting for r (held by pid 1 on not-${hostname()})`])
    expect(holderOf(waiting).token).toBe("t-far")
    // With takeOver it is replaced by ours at once, and ours is removed on release.
    const dir = freshDir()
    foreign(dir)
    const { notes, layer } = recording()
    const exit = await run(
      Effect.scoped(
        Effect.map(acquire(dir, { name: "r", pollMillis: 5_000, takeOver: true }), (h) => {
          expect(holderOf(dir).token).toBe(h.token)
        }),
      ),
      layer,
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    expect(notes).toEqual([
      `r: took over the lease of r from pid 1 on not-${hostname()}, as asked (takeOver)`,
    ])
    expect(existsSync(leasePath(dir))).toBe(false)
    // A lease this process holds (another fiber's) is waited for even with takeOver.
    const events: Array<string> = []
    const own = freshDir()
    const program = Effect.gen(function* () {
      const held = yield* Deferred.make<void>()
      const first = yield* Effect.forkChild(
        Effect.scoped(
          Effect.gen(function* () {
            yield* acquire(own, { name: "first", pollMillis: 10 })
            yield* Deferred.succeed(held, undefined)
            yield* Effect.sleep(100)
            events.push("first releases")
          }),
        ),
      )
      yield* Deferred.await(held)
      yield* Effect.scoped(acquire(own, { name: "second", pollMillis: 10, takeOver: true }))
      events.push("second acquired")
      yield* Fiber.join(first)
    })
    expect(Exit.isSuccess(await run(program, recording().layer))).toBe(true)
    expect(events).toEqual(["first releases", "second acquired"])
  })

  test("of several processes finding one stale lease, one holds it at a time", async () => {
    const dir = freshDir()
    writeLease(dir, await deadPid(), null)
    const spans: Array<[number, number]> = []
    const holdFor = Effect.scoped(
      Effect.gen(function* () {
        yield* acquire(dir, { name: "r", pollMillis: 5 })
        const from = Date.now()
        yield* Effect.sleep(40)
        spans.push([from, Date.now()])
      }),
    )
    const { notes, layer } = recording()
    const exit = await run(Effect.all([holdFor, holdFor, holdFor], { concurrency: 3 }), layer)
    expect(Exit.isSuccess(exit)).toBe(true)
    spans.sort((a, b) => a[0] - b[0])
    expect(spans.length).toBe(3)
    for (let i = 1; i < spans.length; i++)
      expect(spans[i]![0]).toBeGreaterThanOrEqual(spans[i - 1]![1])
    expect(notes.filter((n) => n.includes("took over")).length).toBe(1)
  })

  test("the lease is released when the run fails or is interrupted", async () => {
    const dir = freshDir()
    const { layer } = recording()
    const failing = Effect.scoped(
      Effect.gen(function* () {
        yield* acquire(dir, { name: "r" })
        expect(existsSync(leasePath(dir))).toBe(true)
        return yield* Effect.fail("boom")
      }),
    )
    const failed = await run(failing, layer)
    expect(Exit.isFailure(failed)).toBe(true)
    expect(existsSync(leasePath(dir))).toBe(false)

    const interrupted = Effect.gen(function* () {
      const held = yield* Deferred.make<void>()
      const fiber = yield* Effect.forkChild(
        Effect.scoped(
          Effect.andThen(
            acquire(dir, { name: "r" }),
            Effect.andThen(Deferred.succeed(held, undefined), Effect.never),
          ),
        ),
      )
      // interrupted once it holds the lease (a fixed sleep raced the acquisition under load)
      yield* Deferred.await(held)
      expect(existsSync(leasePath(dir))).toBe(true)
      yield* Fiber.interrupt(fiber)
    })
    expect(Exit.isSuccess(await run(interrupted, layer))).toBe(true)
    expect(existsSync(leasePath(dir))).toBe(false)
  })

  test("a lease that is not one is refused with an error naming the file", async () => {
    const dir = freshDir()
    writeFileSync(leasePath(dir), "hello")
    const exit = await run(Effect.scoped(acquire(dir, { name: "r" })), recording().layer)
    expect(Exit.isFailure(exit)).toBe(true)
    if (Exit.isFailure(exit)) {
      const error = exit.cause.reasons[0]
      expect(error?._tag).toBe("Fail")
      if (error?._tag === "Fail") {
        expect(error.error).toBeInstanceOf(LeaseError)
        expect((error.error as LeaseError).message).toContain(leasePath(dir))
      }
    }
  })
})

describe("Train.train with a lease", () => {
  let backend: TensorBackend
  beforeAll(async () => {
    backend = await Effect.runPromise(startBackend("cpu"))
  })

  test("two trainings of one run: one trains, the other waits and reloads the same result", async () => {
    const data = smallData()
    const dir = join(freshDir(), "base")
    const config = {
      ...defaultTrainingConfig,
      maxEpochs: 2,
      minEpochs: 2,
      batchSize: 256,
      optimizer: { _tag: "Adagrad", learningRate: 0.5 } as const,
      seed: 3,
    }
    const one = (name: string) => {
      const model = meanPool(backend, data.numItems, 8, 1)
      return train({
        name,
        directory: dir,
        data,
        objective: recommendation(backend, model),
        config,
      })
    }
    const { notes, layer } = recording()
    const exit = await Effect.runPromiseExit(
      Effect.all([one("a"), one("b")], { concurrency: 2 }).pipe(
        Effect.provide(
          Layer.mergeAll(NodeFileSystem.layer, Layer.succeed(Tensors, backend), layer),
        ),
      ),
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    const [a, b] = exit.value
    expect([a.resumed, b.resumed].sort()).toEqual([false, true])
    expect(a.bestValidationAuc).toBe(b.bestValidationAuc)
    expect(a.history).toEqual(b.history)
    expect(notes.some((n) => /waiting for [ab] \(held by pid/.test(n))).toBe(true)
    expect(existsSync(leasePath(dir))).toBe(false)
  })
})
