/**
 * `--workers N`: the study on N processes sharing one output folder.
 *
 * The main process prepares the data, then starts N-1 worker processes of this program, each
 * given the resolved options and its index in the environment variable {@link workerVariable}
 * (so every worker reads the same data and writes under the same `--out`). A worker only trains:
 * it visits the study's models in the main order rotated by `index * ceil(models / N)`, so the
 * processes start on different models and meet only where one has finished, or is training, what
 * the other needs; the lease of each model's folder (`@causald/training` `Lease`) makes the late
 * one wait, then reload. The main process runs the ordinary study, which reuses every finished
 * model, waits for its workers, and alone writes the outputs. Every model is deterministic given
 * its seed, so the numbers are those of one process.
 *
 * A worker's output (progress as JSON lines) goes to `<out>/worker-<i>.log`. A worker that fails
 * fails the study with its index and log; an interrupted study (Ctrl-C, SIGTERM) stops its workers,
 * and a worker whose main process is gone (SIGKILL) stops at its next progress report.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Progress } from "@causald/training"
import { Effect, Layer, Schema, type Scope } from "effect"
import { StudyOptions } from "./Options.ts"

/** The environment variable that makes `src/main.ts` a worker: a JSON {@link WorkerTask}. */
export const workerVariable = "CAUSALD_REPRO_WORKER"

/** What a worker process is told: its index (1..workers-1) and the study's resolved options. */
export const WorkerTask = Schema.Struct({
  index: Schema.Int,
  workers: Schema.Int,
  options: StudyOptions,
})
export type WorkerTask = typeof WorkerTask.Type

/** A worker process failed (or could not start). */
export class WorkerFailed extends Schema.TaggedError<WorkerFailed>()("WorkerFailed", {
  index: Schema.Int,
  log: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `worker ${this.index} ${this.reason}; see ${this.log}`
  }
}

/**
 * The worker task of this process from {@link workerVariable}: `null` in the main process; a
 * message naming the variable when it is set but not a task.
 */
export const taskFromEnvironment = (
  env: { readonly [name: string]: string | undefined } = process.env,
): WorkerTask | null | { readonly invalid: string } => {
  const text = env[workerVariable]
  if (text === undefined || text === "") return null
  try {
    return Schema.decodeUnknownSync(WorkerTask)(JSON.parse(text))
  } catch (error) {
    return {
      invalid: `${workerVariable} is not a worker task (index, workers, options): ${error instanceof Error ? error.message : String(error)}`,
    }
  }
}

/**
 * The order in which worker `index` of `workers` visits `jobs`: the list rotated by
 * `index * ceil(jobs / workers)`, so the workers start evenly spread over it.
 */
export const rotation = <A>(
  jobs: ReadonlyArray<A>,
  index: number,
  workers: number,
): ReadonlyArray<A> => {
  if (jobs.length === 0) return jobs
  const shift = (index * Math.ceil(jobs.length / workers)) % jobs.length
  return [...jobs.slice(shift), ...jobs.slice(0, shift)]
}

/**
 * Process `index`'s first pass over `jobs` (in its {@link rotation}): each job is visited unless
 * `held` says another process is running it now; those are returned, in order, for later. A
 * process that reached a model being trained elsewhere would otherwise wait, its core idle,
 * while other models are still to train.
 */
export const firstPass = <J, E, R, E2, R2>(
  jobs: ReadonlyArray<J>,
  index: number,
  processes: number,
  held: (job: J) => Effect.Effect<boolean, E2, R2>,
  visit: (job: J) => Effect.Effect<void, E, R>,
): Effect.Effect<ReadonlyArray<J>, E | E2, R | R2> =>
  Effect.gen(function* () {
    const deferred: Array<J> = []
    for (const job of rotation(jobs, index, processes)) {
      if (yield* held(job)) deferred.push(job)
      else yield* visit(job)
    }
    return deferred
  })

/** The log file of worker `index`. */
export const logOf = (out: string, index: number): string => `${out}/worker-${index}.log`

const mainModule = fileURLToPath(new URL("./main.ts", import.meta.url))

/** The last non-empty line of a log that is not progress (the worker's own error), if any. */
const lastWords = (log: string): string => {
  try {
    const lines = readFileSync(log, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.length > 0 && !l.startsWith("{"))
    const last = lines[lines.length - 1]
    return last === undefined ? "" : `: ${last.slice(0, 500)}`
  } catch {
    return ""
  }
}

interface Worker {
  readonly index: number
  readonly log: string
  readonly process: ChildProcess
  /** Resolves with the exit code (or the signal's name) when the process has ended. */
  readonly exited: Promise<number | string>
}

/** Started workers: what fails when one fails, and what waits for all of them. */
export interface WorkerPool {
  /** Never succeeds; fails as soon as a worker fails. */
  readonly failure: Effect.Effect<never, WorkerFailed>
  /** Waits for every worker to end; fails with the first that failed. */
  readonly join: Effect.Effect<void, WorkerFailed>
}

const outcome = (worker: Worker) =>
  Effect.flatMap(
    Effect.promise(() => worker.exited),
    (code) =>
      code === 0
        ? Effect.void
        : Effect.fail(
            new WorkerFailed({
              index: worker.index,
              log: worker.log,
              reason: `${typeof code === "number" ? `exited with status ${code}` : `ended (${code})`}${lastWords(worker.log)}`,
            }),
          ),
  )

/** Stops a worker that still runs: SIGTERM (it releases its leases), SIGKILL after 10 s. */
const stop = (worker: Worker) =>
  Effect.promise(async () => {
    if (worker.process.exitCode !== null || worker.process.signalCode !== null) return
    worker.process.kill("SIGTERM")
    const timer = setTimeout(() => worker.process.kill("SIGKILL"), 10_000)
    await worker.exited
    clearTimeout(timer)
  })

/**
 * Starts workers 1..workers-1 of the study `options` for the enclosing scope; closing the scope
 * stops any that still run (the study failed or was interrupted).
 */
export const startWorkers = (
  options: StudyOptions,
  workers: number,
): Effect.Effect<WorkerPool, WorkerFailed, Scope.Scope | Progress.Progress> =>
  Effect.gen(function* () {
    const progress = yield* Progress.Progress
    const started: Array<Worker> = []
    for (let index = 1; index < workers; index++) {
      const log = logOf(options.out, index)
      const worker = yield* Effect.acquireRelease(
        Effect.try({
          try: (): Worker => {
            mkdirSync(options.out, { recursive: true })
            const fd = openSync(log, "w")
            try {
              const task: WorkerTask = { index, workers, options }
              const child = spawn(process.execPath, [mainModule], {
                env: { ...process.env, [workerVariable]: JSON.stringify(task) },
                stdio: ["ignore", fd, fd],
              })
              const exited = new Promise<number | string>((resolve) => {
                child.once("exit", (code, signal) => resolve(code ?? signal ?? "an unknown signal"))
                child.once("error", (error) => resolve(error.message))
              })
              return { index, log, process: child, exited }
            } finally {
              closeSync(fd)
            }
          },
          catch: (error) =>
            new WorkerFailed({
              index,
              log,
              reason: `could not start: ${error instanceof Error ? error.message : String(error)}`,
            }),
        }),
        stop,
      )
      started.push(worker)
      yield* progress.note(
        "workers",
        `worker ${index} started (pid ${worker.process.pid}), log ${log}`,
      )
    }
    return {
      failure: Effect.andThen(
        Effect.forEach(started, outcome, { concurrency: "unbounded", discard: true }),
        Effect.never,
      ),
      join: Effect.forEach(started, outcome, { discard: true }),
    }
  })

/**
 * A worker's progress: `inner`, and the check that its main process is still there. Once the
 * main process is gone (SIGKILL), the next report interrupts the worker, which releases its
 * lease and stops rather than train for nobody. (A report comes with every training step; a
 * timer would not do, as a training fiber yields to the event loop only now and then.)
 */
export const workerProgress = (
  inner: Layer.Layer<Progress.Progress>,
): Layer.Layer<Progress.Progress> =>
  Layer.effect(
    Progress.Progress,
    Effect.gen(function* () {
      const progress = yield* Progress.Progress
      const parent = process.ppid
      const checked = (report: Effect.Effect<void>): Effect.Effect<void> =>
        Effect.suspend(() =>
          process.ppid === parent
            ? report
            : Effect.andThen(
                Effect.sync(() =>
                  process.stderr.write(`the main process (pid ${parent}) is gone; stopping\n`),
                ),
                Effect.interrupt,
              ),
        )
      return Progress.Progress.of({
        update: (update) => checked(progress.update(update)),
        note: (stage, message, metrics) => checked(progress.note(stage, message, metrics)),
      })
    }),
  ).pipe(Layer.provide(inner))
