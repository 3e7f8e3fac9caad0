/**
 * The study's training jobs (`study/Jobs.ts`) as durable workflows of the engine (`Engine.ts`).
 *
 * Each job is one execution of the workflow {@link TrainJob}, keyed by the study (a digest of
 * its options) and the job's name, so that starting it again (a coordinator restarted) joins the
 * execution rather than adding one. The execution trains nothing itself: it offers its job to the
 * engine's worker-pull queue ({@link TrainQueue}, `DurableQueue` of `effect/workflow`, items in
 * PostgreSQL) and waits for the outcome. Each worker takes one item at a time, only when it has
 * nothing else to train, so jobs go to whichever worker is free, not to the owner of a shard.
 * The worker trains the job's model folders with the ordinary training code, which checkpoints
 * each epoch and resumes from `last.ckpt`: when a worker dies mid-job, its item's lock expires
 * and another worker takes the item, continuing from the last checkpoint; when a runner dies, the
 * engine replays its (waiting) executions on another, which join the item already offered. The
 * outcome is recorded (a `DurableDeferred`), so a finished job never runs again.
 *
 * What several jobs need (the trainer's `Shared` models: a seed's base model, a set of teachers,
 * KD's teacher, a search) is an execution of its own, {@link TrainShared}, keyed by the study and
 * the shared folder. A worker's turn that reaches one not trained yet (`TrainerOptions
 * .beforeShared`) ends there and gives the worker back (`NeedsShared`); the job's execution then
 * starts the shared execution, or joins it when another job did, waits for it (an activity, on
 * the runner, holding no worker), and offers the job again; the next turn reloads the finished
 * model. So each model folder is trained by exactly one execution, and the queue gives an item
 * to one worker at a time: the workers' training therefore takes over any lease it finds
 * (`leases: "take-over"`, one switch, in {@link trainerOf}), so that a lease left by a worker
 * that died on another host does not block the job handed over.
 *
 * The coordinator ({@link trainOnCluster}) starts every job and waits for all; it then runs the
 * study as one process would, reloading the finished models, and alone writes the outputs.
 *
 * A failure (a worker on the wrong `--backend`, a diverging run) is not the final word on a key:
 * both workflows are annotated `Workflow.SuspendOnFailure`, so a failed execution is suspended
 * (its cause kept) rather than completed, and is retried with the engine's own `resume`. The
 * coordinator resumes each of its jobs found failed when it starts (a rerun after fixing the
 * workers retries them, on the same database), with the go-ahead ({@link Retry}) that makes the
 * execution offer its job again; and a job resumes a shared model that it finds failed when it
 * starts waiting for it (one that fails while it waits fails the job).
 *
 * @module
 */
import { createHash } from "node:crypto"
import { Tensors } from "@causald/core"
import { Progress } from "@causald/training"
import { Cause, type Duration, Effect, Exit, Layer, Option, Schedule, Schema } from "effect"
import { PersistedQueue } from "effect/persistence"
import type { SqlClient } from "effect/sql"
import { Activity, DurableDeferred, DurableQueue, Workflow, WorkflowEngine } from "effect/workflow"
import { explain } from "../Explain.ts"
import { StudyOptions } from "../Options.ts"
import { makeContext, type Services, type StudyContext } from "../study/Context.ts"
import * as Jobs from "../study/Jobs.ts"
import { makeTrainer, Shared, sharedFolder, type Trainer } from "../study/Trainer.ts"
import { noWorkerYet, registeredRunners } from "./Engine.ts"
import * as Status from "./Status.ts"

/**
 * A job failed on its worker (bad data, a diverging run): the worker's one-line reason, and the
 * round of the execution it failed in (see {@link Retry}), when it failed on a worker.
 */
export class JobFailed extends Schema.TaggedError<JobFailed>()("JobFailed", {
  job: Schema.String,
  reason: Schema.String,
  round: Schema.optionalKey(Schema.Number),
}) {
  override get message(): string {
    return `training job "${this.job}" failed on its worker: ${this.reason}`
  }
}

/** The study's identity in execution keys: a digest of its resolved options. */
export const studyKey = (options: StudyOptions): string =>
  createHash("sha256").update(JSON.stringify(options)).digest("hex").slice(0, 16)

/**
 * One training job of a study: its options (as the coordinator resolved them), its name, and
 * the tensor backend the coordinator runs (a worker on another one refuses the job: its numbers
 * would differ from the study's).
 */
export const TrainJob = Workflow.make("causald/TrainJob", {
  payload: { options: StudyOptions, job: Schema.String, backend: Schema.String },
  error: JobFailed,
  idempotencyKey: ({ options, job }) => `${studyKey(options)}/${job}`,
}).annotate(Workflow.SuspendOnFailure, true)

/**
 * A model (or set) that several jobs of a study need (`Training.Shared`), trained once: keyed by
 * the study and its folder (`Training.sharedFolder`), so two entries with one folder (the
 * teachers of every seed) are one execution, whichever job started it.
 */
export const TrainShared = Workflow.make("causald/TrainShared", {
  payload: {
    options: StudyOptions,
    shared: Shared,
    folder: Schema.String,
    backend: Schema.String,
  },
  error: JobFailed,
  idempotencyKey: ({ options, folder }) => `${studyKey(options)}/shared ${folder}`,
}).annotate(Workflow.SuspendOnFailure, true)

/** {@link TrainJob} or {@link TrainShared}: what the coordinator and the jobs await. */
type StudyWorkflow = typeof TrainJob | typeof TrainShared

/** What a worker trains for an execution: a job of the study, or a shared model. */
const Task = Schema.Union([
  Schema.TaggedStruct("Job", { job: Schema.String }),
  Schema.TaggedStruct("Shared", { shared: Shared, folder: Schema.String }),
])
type Task = typeof Task.Type

/** How a worker's turn at a {@link Task} ended. */
const Outcome = Schema.Union([
  Schema.TaggedStruct("Done", {}),
  /** It reached a shared model not trained yet, and gave its turn back. */
  Schema.TaggedStruct("NeedsShared", { shared: Shared, folder: Schema.String }),
  Schema.TaggedStruct("Failed", { reason: Schema.String }),
])
type Outcome = typeof Outcome.Type

/**
 * The study's training turns, as the engine's own worker-pull queue (`DurableQueue`, its items
 * in PostgreSQL): an execution offers one item per round and waits for its outcome; every worker
 * takes one item at a time, when it has nothing else to train, so no worker idles while an item
 * waits (placement by shard would leave a job queued behind a long one on a busy worker). An
 * item whose worker died is taken by another once its lock expires (`queueStore`), and its
 * training resumes from the last checkpoint.
 */
const TrainQueue = DurableQueue.make({
  name: "causald/train",
  payload: {
    options: StudyOptions,
    backend: Schema.String,
    task: Task,
    round: Schema.Number,
  },
  success: Outcome,
  idempotencyKey: ({ round }) => `round ${round}`,
})

/** The environment variable that sets {@link queueLockSeconds} (tests shorten it). */
export const QUEUE_LOCK_ENV = "CAUSALD_QUEUE_LOCK_SECONDS"

/**
 * How long a queue item stays with a worker that stopped refreshing its lock before another
 * worker takes it: 120 s by default. A worker refreshes it from its event loop, and some steps
 * hold that loop for many seconds in one synchronous block (the frozen teachers' item-pair tables
 * are built on the first CausalD step: 33 s at 3,700 items on an idle core), so a short expiry
 * could hand a live worker's job to a second one (two trainers on one folder, since cluster
 * workers take over leases). The price of the margin: a killed worker's job waits up to this
 * long before it resumes elsewhere.
 */
export const queueLockSeconds = (): number => {
  const raw = process.env[QUEUE_LOCK_ENV]
  const n = raw === undefined || raw.trim() === "" ? 120 : Number(raw)
  return Number.isFinite(n) && n >= 5 ? n : 120
}

/**
 * The queue's storage: the engine's database; an item held by a worker that stopped refreshing
 * its lock (killed) is handed to another after {@link queueLockSeconds}.
 */
export const queueLayer = Layer.suspend(() => {
  const expiry = queueLockSeconds()
  return PersistedQueue.layer.pipe(
    Layer.provide(
      PersistedQueue.layerStoreSql({
        tableName: "causald_train_queue",
        pollInterval: "250 millis",
        lockRefreshInterval: `${Math.max(1, Math.min(10, Math.floor(expiry / 5)))} seconds`,
        lockExpiration: `${expiry} seconds`,
      }),
    ),
  )
})

/**
 * The coordinator's go-ahead to retry round `round` of an execution that failed in it (see
 * {@link retryIfFailed}).
 */
const Retry = (round: number) => DurableDeferred.make(`causald/retry round ${round}`)

/** The name of a shared execution in notes and status files. */
const sharedName = (folder: string) => `shared ${folder}`

/** The name of a task in notes and status files. */
const taskName = (task: Task) => (task._tag === "Job" ? task.job : sharedName(task.folder))

/** The failure a suspension's cause keeps, when it is a {@link JobFailed}. */
const failureOf = (cause: Cause.Cause<never> | undefined): JobFailed | undefined =>
  cause === undefined
    ? undefined
    : Option.getOrUndefined(Schema.decodeUnknownOption(JobFailed)(Cause.squash(cause)))

/**
 * Why a failed execution failed, from the cause its suspension keeps: the worker's
 * {@link JobFailed} as a defect (its fields), else the defect's message.
 */
const failureReason = (cause: Cause.Cause<never> | undefined): string => {
  if (cause === undefined) return "(no reason recorded; see its worker's log)"
  const failed = failureOf(cause)
  if (failed !== undefined) return failed.reason
  const error = Cause.squash(cause)
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === "string" ? message : explain(error)
}

/**
 * If the execution `id` is suspended by a failure (`SuspendOnFailure`), resumes it through the
 * engine, which runs it again: a failure on a worker is given the go-ahead of its round
 * ({@link Retry}), so that the execution offers the task again in the next round; a failed
 * wait for a shared model runs again (and retries the shared model). Returns the reason of the
 * failure retried, or null.
 */
const retryIfFailed = (
  workflow: StudyWorkflow,
  id: string,
): Effect.Effect<string | null, never, WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function* () {
    const polled = yield* workflow.poll(id)
    if (Option.isNone(polled)) return null
    const result = polled.value
    if (result._tag !== "Suspended" || result.failed !== true) return null
    const round = failureOf(result.cause)?.round
    if (round !== undefined) {
      const retry = Retry(round)
      yield* DurableDeferred.done(retry, {
        token: DurableDeferred.tokenFromExecutionId(retry, { workflow, executionId: id }),
        exit: Exit.void,
      })
    }
    yield* workflow.resume(id)
    return failureReason(result.cause)
  })

/**
 * Waits for the execution `id` to end, asking every `every`: its result once complete, or
 * {@link JobFailed} with the failure's reason once suspended by a failure.
 */
const settle = (
  workflow: StudyWorkflow,
  id: string,
  name: string,
  every: Duration.Input,
): Effect.Effect<void, JobFailed, WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function* () {
    while (true) {
      const polled = yield* workflow.poll(id)
      if (Option.isSome(polled)) {
        const result = polled.value
        if (result._tag === "Complete") return yield* result.exit
        if (result.failed === true)
          return yield* new JobFailed({ job: name, reason: failureReason(result.cause) })
      }
      yield* Effect.sleep(every)
    }
  })

/** How often an execution waiting for a shared model asks whether it is done. */
const sharedPollEvery = "250 millis"

/**
 * The body of both workflows: the task offered to {@link TrainQueue} round after round, until a
 * worker has trained it. A turn that reached a shared model not trained yet ends the round; the
 * execution then starts (or joins) the shared model's execution and waits for it (an activity:
 * a failed shared model is resumed once, and a failure while waiting fails this execution,
 * which a coordinator rerun retries), and offers the task again. A turn that failed fails the
 * execution (suspended, `SuspendOnFailure`) until the coordinator gives that round's
 * {@link Retry} go-ahead and resumes it: then the next round runs.
 */
const pulled = (
  options: StudyOptions,
  backend: string,
  task: Task,
): Effect.Effect<
  void,
  JobFailed,
  | WorkflowEngine.WorkflowEngine
  | WorkflowEngine.WorkflowInstance
  | PersistedQueue.PersistedQueueFactory
  | Progress.Progress
> =>
  Effect.gen(function* () {
    const name = taskName(task)
    for (let round = 0; ; round++) {
      const outcome = yield* DurableQueue.process(TrainQueue, { options, backend, task, round })
      if (outcome._tag === "Done") return
      if (outcome._tag === "NeedsShared") {
        const { shared, folder } = outcome
        const wanted = sharedName(folder)
        yield* Activity.make({
          name: `await ${round}`,
          error: JobFailed,
          execute: Effect.gen(function* () {
            const id = yield* TrainShared.execute(
              { options, shared, folder, backend },
              { discard: true, detached: true },
            )
            const retried = yield* retryIfFailed(TrainShared, id)
            if (retried !== null) {
              const progress = yield* Progress.Progress
              yield* progress.note("cluster", `retrying ${wanted}: its last run failed: ${retried}`)
            }
            yield* settle(TrainShared, id, wanted, sharedPollEvery).pipe(
              Effect.mapError((failed) => new JobFailed({ job: name, reason: failed.message })),
            )
          }),
        })
        continue
      }
      const reason = outcome.reason
      yield* Activity.make({
        name: `failed ${round}`,
        error: JobFailed,
        execute: Effect.gen(function* () {
          const engine = yield* WorkflowEngine.WorkflowEngine
          const goAhead = yield* engine.deferredResult(Retry(round))
          if (Option.isNone(goAhead)) return yield* new JobFailed({ job: name, reason, round })
        }),
      })
    }
  })

/**
 * The workflows as the runners run them: {@link pulled}, which trains nothing itself (the
 * workers take the turns from the queue, {@link queueWorkerLayer}).
 */
export const trainJobLayer: Layer.Layer<
  never,
  never,
  WorkflowEngine.WorkflowEngine | PersistedQueue.PersistedQueueFactory | Progress.Progress
> = Layer.mergeAll(
  TrainJob.toLayer(({ options, job, backend }) => pulled(options, backend, { _tag: "Job", job })),
  TrainShared.toLayer(({ options, shared, folder, backend }) =>
    pulled(options, backend, { _tag: "Shared", shared, folder }),
  ),
)

/** A turn reached a shared model that is not trained yet (see {@link pulled}). */
class NeedsShared extends Schema.TaggedError<NeedsShared>()("NeedsShared", {
  shared: Shared,
  folder: Schema.String,
}) {}

/**
 * A worker's studies: the context (prepared data, folders) and trainer of each study it has
 * jobs of, built once, on its first turn (the coordinator has prepared and cached the data). The
 * trainer goes on past a shared model only once its execution has completed, and takes over any
 * lease (see the module's note): this is the one place where the cluster's training departs from
 * one process's.
 */
const trainers = new Map<string, Trainer>()

const trainerOf = (
  options: StudyOptions,
  backend: string,
): Effect.Effect<Trainer, unknown, Services | WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function* () {
    const key = studyKey(options)
    const known = trainers.get(key)
    if (known !== undefined) return known
    // The engine alone: the rest of this fiber's context is the first turn's.
    const engine = yield* WorkflowEngine.WorkflowEngine
    // A worker role: the context checks the output folder's binding to the data, writes nothing.
    const ctx = yield* makeContext(options, { index: 1, workers: 2 })
    const trainer = makeTrainer(ctx, {
      leases: "take-over",
      beforeShared: (shared) =>
        Effect.gen(function* () {
          const folder = sharedFolder(ctx, shared)
          const id = yield* TrainShared.executionId({ options, shared, folder, backend })
          const polled = yield* TrainShared.poll(id)
          if (Option.isSome(polled) && polled.value._tag === "Complete")
            return yield* polled.value.exit
          return yield* new NeedsShared({ shared, folder })
        }).pipe(Effect.provideService(WorkflowEngine.WorkflowEngine, engine)),
    })
    trainers.set(key, trainer)
    return trainer
  })

/**
 * The worker's tensor backend must be the coordinator's: the same code on another backend gives
 * other numbers (`--backend`), and a study's models must all come from one. Backends are compared
 * by the name every output records (e.g. `wasm+onednn`); the flag to give is its first part.
 */
export const checkBackend = (study: string, worker: string): string | null =>
  study === worker
    ? null
    : `this worker computes on the ${worker} backend but the study (its coordinator) on ${study}: start repro-worker with --backend ${study.split("+")[0]}`

/**
 * A worker's turn at an item of {@link TrainQueue}: trains the job or shared model (from its last
 * checkpoint) and says how it ended; never fails (a failure is an {@link Outcome}), but an
 * interruption (the worker stopped) leaves the item to the queue, for another worker.
 */
const turn = (item: typeof TrainQueue.payloadSchema.Type) => {
  const { options, backend, task } = item
  const name = taskName(task)
  return Effect.gen(function* () {
    const own = (yield* Tensors).name
    const mismatch = checkBackend(backend, own)
    if (mismatch !== null) return yield* Effect.fail(mismatch)
    const trainer = yield* trainerOf(options, backend)
    yield* trainer.ctx.progress.note("cluster", `training ${name}`)
    yield* Status.jobStarted(options.out, name)
    if (task._tag === "Shared") yield* trainer.trainShared(task.shared)
    else {
      const job = Jobs.jobs(trainer).find((j) => j.name === task.job)
      if (job === undefined) return yield* Effect.fail(`the study has no job "${task.job}"`)
      yield* job.run
    }
    yield* Status.jobFinished(options.out, name)
    yield* trainer.ctx.progress.note("cluster", `trained ${name}`)
    return { _tag: "Done" } as Outcome
  }).pipe(
    // A failure or a defect is an outcome (a defect recorded as the deferred's result would fail
    // every replay, retry or not); an interruption (the worker stopped) leaves the item.
    Effect.catchCause((cause) => {
      // (only interruptions: no failure of any type in it)
      if (Cause.hasInterruptsOnly(cause)) return Effect.failCause(cause as Cause.Cause<never>)
      const error = Cause.squash(cause)
      return error instanceof NeedsShared
        ? Effect.as(Status.jobWaiting(options.out, name, sharedName(error.folder)), {
            _tag: "NeedsShared",
            shared: error.shared,
            folder: error.folder,
          } as Outcome)
        : Effect.gen(function* () {
            const reason = explain(error)
            yield* Status.jobFailed(options.out, name, reason)
            return { _tag: "Failed", reason } as Outcome
          })
    }),
  )
}

/**
 * A worker's training: one turn at a time, pulled from {@link TrainQueue} only when the last one
 * has ended (a training job takes a core and its memory).
 */
export const queueWorkerLayer = DurableQueue.worker(TrainQueue, turn, { concurrency: 1 })

/** Everything a worker process runs: the workflows, the queue's worker, the queue's storage. */
export const workerLayer = Layer.mergeAll(trainJobLayer, queueWorkerLayer).pipe(
  Layer.provide(queueLayer),
  Layer.orDie,
)

/** How often the coordinator shows the state of every unfinished job. */
export const statusEvery = "30 seconds"

/** How often the coordinator asks the engine whether a job has ended. */
const jobPollEvery = "500 millis"

/**
 * The coordinator's training: every job of `all` started on the engine (a job found failed, from
 * an earlier run of the study on this database, resumed: retried) and awaited, with the count
 * (and the progress line's ETA) as they finish, and every {@link statusEvery} the state of each
 * unfinished job and of the shared models (`Status.overview`); the first failure fails the study.
 */
export const trainOnCluster = (
  ctx: StudyContext,
  all: ReadonlyArray<Jobs.Job>,
  url: string,
): Effect.Effect<void, JobFailed, WorkflowEngine.WorkflowEngine | SqlClient.SqlClient> =>
  Effect.gen(function* () {
    let done = 0
    const finished = new Set<string>()
    const stage = `models (cluster, ${all.length} jobs)`
    yield* ctx.progress.update({ stage, done, total: all.length })
    /** Whether no worker is registered (said outright instead of every job as pending). */
    const noWorker = Effect.gen(function* () {
      const runners = yield* registeredRunners
      if (runners === null || runners.length > 0) return false
      yield* ctx.progress.note("cluster", noWorkerYet(url, ctx.options.out))
      return true
    })
    yield* noWorker
    const states = Effect.gen(function* () {
      if (yield* noWorker) return
      const unfinished = all.map((job) => job.name).filter((name) => !finished.has(name))
      for (const line of Status.overview(ctx.options.out, unfinished, Date.now()))
        yield* ctx.progress.note("cluster", line)
    })
    yield* Effect.forkScoped(
      Effect.repeat(Effect.delay(states, statusEvery), Schedule.spaced(statusEvery)),
    )
    yield* Effect.forEach(
      all,
      (job) =>
        Effect.gen(function* () {
          const id = yield* TrainJob.execute(
            { options: ctx.options, job: job.name, backend: ctx.backend.name },
            { discard: true },
          )
          const retried = yield* retryIfFailed(TrainJob, id)
          if (retried !== null)
            yield* ctx.progress.note(
              "cluster",
              `retrying ${job.name}: its last run failed: ${retried}`,
            )
          yield* settle(TrainJob, id, job.name, jobPollEvery)
          done += 1
          finished.add(job.name)
          yield* ctx.progress.note("cluster", `job done: ${job.name}`)
          yield* ctx.progress.update({ stage, done, total: all.length })
        }),
      { concurrency: "unbounded", discard: true },
    )
  }).pipe(Effect.scoped)
