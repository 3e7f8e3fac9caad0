/**
 * The study's training jobs (`study/Jobs.ts`) as durable workflows of the engine (`Engine.ts`).
 *
 * Each job is one execution of the workflow {@link TrainJob}, keyed by the study (a digest of
 * its options) and the job's name, so that starting it again (a coordinator restarted) joins the
 * execution rather than adding one. Its one activity trains the job's model folders with the
 * ordinary training code, which checkpoints each epoch and resumes from `last.ckpt`: when the
 * runner dies mid-job, the engine replays the workflow on another runner, the activity (which has
 * no recorded result) runs again there, and training continues from the last checkpoint. A
 * finished activity's result is recorded, so a finished job never runs again.
 *
 * What several jobs need (the trainer's `Shared` models: a seed's base model, a set of teachers,
 * KD's teacher, a search) is an execution of its own, {@link TrainShared}, keyed by the study and
 * the shared folder: a job that reaches one (`TrainerOptions.beforeShared`) starts it, or joins
 * it when another job did, waits for it with this process's training slot given back, then
 * reloads it. So each model folder is trained by exactly one execution, and the engine runs an
 * execution on one runner at a time: the workers' training therefore takes over any lease it
 * finds (`leases: "take-over"`, one switch, in {@link trainerOf}), so that a lease left by a
 * worker that died on another host does not block the job handed over.
 *
 * The coordinator ({@link trainOnCluster}) starts every job and waits for all; it then runs the
 * study as one process would, reloading the finished models, and alone writes the outputs.
 *
 * A failure (a worker on the wrong `--backend`, a diverging run) is not the final word on a key:
 * both workflows are annotated `Workflow.SuspendOnFailure`, so a failed execution is suspended
 * (its cause kept) rather than completed, and is retried with the engine's own `resume`. The
 * coordinator resumes each of its jobs found failed when it starts (a rerun after fixing the
 * workers retries them, on the same database), and a job resumes a shared model that it finds
 * failed when it starts waiting for it (one that fails while it waits fails the job).
 *
 * @module
 */
import { createHash } from "node:crypto"
import { Tensors } from "@causald/core"
import {
  Cause,
  Context,
  type Duration,
  Effect,
  Layer,
  Option,
  Schedule,
  Schema,
  Semaphore,
} from "effect"
import type { SqlClient } from "effect/sql"
import { Activity, Workflow, WorkflowEngine } from "effect/workflow"
import { explain } from "../Explain.ts"
import { StudyOptions } from "../Options.ts"
import { makeContext, type Services, type StudyContext } from "../study/Context.ts"
import * as Jobs from "../study/Jobs.ts"
import { makeTrainer, Shared, sharedFolder, type Trainer } from "../study/Trainer.ts"
import { noWorkerYet, registeredRunners } from "./Engine.ts"
import * as Status from "./Status.ts"

/** A job failed on its worker (bad data, a diverging run): the worker's one-line reason. */
export class JobFailed extends Schema.TaggedError<JobFailed>()("JobFailed", {
  job: Schema.String,
  reason: Schema.String,
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

/**
 * Why a failed execution failed, from the cause its suspension keeps: the worker's
 * {@link JobFailed} as a defect (its fields), else the defect's message.
 */
const failureReason = (cause: Cause.Cause<never> | undefined): string => {
  if (cause === undefined) return "(no reason recorded; see its worker's log)"
  const error = Cause.squash(cause)
  const failed = Schema.decodeUnknownOption(JobFailed)(error)
  if (Option.isSome(failed)) return failed.value.reason
  const message = (error as { message?: unknown } | null)?.message
  return typeof message === "string" ? message : explain(error)
}

/**
 * If the execution `id` is suspended by a failure (`SuspendOnFailure`), resumes it through the
 * engine, which runs it again (its activity from the start, training from the last checkpoint):
 * a retry. Returns the reason of the failure retried, or null.
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

/** The name of a shared execution in notes and status files. */
const sharedName = (folder: string) => `shared ${folder}`

/**
 * One job at a time per worker process: a training job takes a core and its memory, and a
 * runner is handed many workflows at once (all of its shards' jobs). A job waiting for a shared
 * model gives its permit back meanwhile (the shared model may be trained here).
 */
const oneAtATime = Semaphore.makeUnsafe(1)

/**
 * What this fiber trains (a job's or a shared model's name), for its status after a wait, and
 * whether it holds its training slot now (given back while it waits for a shared model).
 */
const CurrentJob = Context.Reference<{ readonly name: string; holds: boolean } | null>(
  "causald/cluster/CurrentJob",
  { defaultValue: () => null },
)

/** How often a job waiting for a shared model asks whether it is done. */
const sharedPollEvery = "1 second"

/**
 * Waits for the execution that trains `shared`, starting it unless another job has (or resuming
 * it when it has failed before: see the module's note): a detached start and polling (a shared
 * execution outlives any one job awaiting it, and is awaited by several), with this process's
 * training slot given back while it waits, and the job's status saying what it waits for.
 */
const awaitShared =
  (ctx: StudyContext, backend: string) =>
  (shared: Shared): Effect.Effect<void, JobFailed, WorkflowEngine.WorkflowEngine> => {
    const folder = sharedFolder(ctx, shared)
    const name = sharedName(folder)
    const wait = Effect.gen(function* () {
      const id = yield* TrainShared.execute(
        { options: ctx.options, shared, folder, backend },
        { discard: true, detached: true },
      )
      const retried = yield* retryIfFailed(TrainShared, id)
      if (retried !== null)
        yield* ctx.progress.note("cluster", `retrying ${name}: its last run failed: ${retried}`)
      yield* settle(TrainShared, id, name, sharedPollEvery)
    })
    return Effect.gen(function* () {
      const job = yield* CurrentJob
      // Not inside a job of this module (never on a worker): nothing to give back.
      if (job === null || !job.holds) return yield* wait
      // The slot is taken again only when the wait succeeded: a job that fails or is interrupted
      // here ends holding none, and `asJob` then releases none.
      yield* Effect.uninterruptible(
        Effect.andThen(
          oneAtATime.release(1),
          Effect.sync(() => (job.holds = false)),
        ),
      )
      yield* Status.jobWaiting(ctx.options.out, job.name, name)
      yield* wait
      yield* Effect.uninterruptibleMask((restore) =>
        Effect.andThen(
          restore(oneAtATime.take(1)),
          Effect.sync(() => (job.holds = true)),
        ),
      )
      yield* ctx.progress.note("cluster", `training ${job.name}`)
      yield* Status.jobStarted(ctx.options.out, job.name)
    })
  }

/**
 * A worker's studies: the context (prepared data, folders) and trainer of each study it has
 * jobs of, built once, on its first job (the coordinator has prepared and cached the data). The
 * trainer awaits shared models on the engine, and takes over any lease (see the module's note):
 * this is the one place where the cluster's training departs from one process's.
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
    // The engine alone: the rest of this fiber's context (its workflow instance, its job) is the
    // first job's, not that of the job that will wait.
    const engine = yield* WorkflowEngine.WorkflowEngine
    // A worker role: the context checks the output folder's binding to the data, writes nothing.
    const ctx = yield* makeContext(options, { index: 1, workers: 2 })
    const trainer = makeTrainer(ctx, {
      leases: "take-over",
      beforeShared: (shared) =>
        Effect.provideService(
          awaitShared(ctx, backend)(shared),
          WorkflowEngine.WorkflowEngine,
          engine,
        ),
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

/** Runs `train` as `name` of the study `options` on this process, one at a time. */
const asJob = (
  options: StudyOptions,
  backend: string,
  name: string,
  train: (trainer: Trainer) => Effect.Effect<void, unknown, Services>,
): Effect.Effect<void, JobFailed, Services | WorkflowEngine.WorkflowEngine> => {
  const job = { name, holds: false }
  const take = Effect.uninterruptibleMask((restore) =>
    Effect.andThen(
      restore(oneAtATime.take(1)),
      Effect.sync(() => (job.holds = true)),
    ),
  )
  const release = Effect.suspend(() =>
    job.holds
      ? Effect.andThen(
          oneAtATime.release(1),
          Effect.sync(() => (job.holds = false)),
        )
      : Effect.void,
  )
  return Effect.acquireUseRelease(
    take,
    () =>
      Effect.gen(function* () {
        const own = (yield* Tensors).name
        const mismatch = checkBackend(backend, own)
        if (mismatch !== null) return yield* Effect.fail(mismatch)
        const trainer = yield* trainerOf(options, backend)
        yield* trainer.ctx.progress.note("cluster", `training ${name}`)
        yield* Status.jobStarted(options.out, name)
        yield* train(trainer)
        yield* Status.jobFinished(options.out, name)
        yield* trainer.ctx.progress.note("cluster", `trained ${name}`)
      }).pipe(
        Effect.provideService(CurrentJob, job),
        Effect.mapError((error) => new JobFailed({ job: name, reason: explain(error) })),
        Effect.tapError((failed) => Status.jobFailed(options.out, name, failed.reason)),
      ),
    () => release,
  )
}

/** Trains job `name` of the study `options` on this process. */
const train = (options: StudyOptions, backend: string, name: string) =>
  asJob(options, backend, name, (trainer) =>
    Effect.gen(function* () {
      const job = Jobs.jobs(trainer).find((j) => j.name === name)
      if (job === undefined) return yield* Effect.fail(`the study has no job "${name}"`)
      yield* job.run
    }),
  )

/** The workflows as a worker runs them: one activity each, training the job or shared model. */
export const trainJobLayer: Layer.Layer<never, never, WorkflowEngine.WorkflowEngine | Services> =
  Layer.mergeAll(
    TrainJob.toLayer(({ options, job, backend }) =>
      Activity.make({
        name: "train",
        error: JobFailed,
        execute: train(options, backend, job),
      }),
    ),
    TrainShared.toLayer(({ options, shared, folder, backend }) =>
      Activity.make({
        name: "train",
        error: JobFailed,
        execute: asJob(options, backend, sharedName(folder), (trainer) =>
          trainer.trainShared(shared),
        ),
      }),
    ),
  )

/** How often the coordinator shows the state of every unfinished job. */
export const statusEvery = "30 seconds"

/** How often the coordinator asks the engine whether a job has ended. */
const jobPollEvery = "2 seconds"

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
