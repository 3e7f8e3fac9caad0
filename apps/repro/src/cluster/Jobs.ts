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
 * The coordinator ({@link trainOnCluster}) starts every job and waits for all; it then runs the
 * study as one process would, reloading the finished models, and alone writes the outputs.
 *
 * @module
 */
import { createHash } from "node:crypto"
import { Effect, type Layer, Schedule, Schema, Semaphore } from "effect"
import { Activity, Workflow, type WorkflowEngine } from "effect/workflow"
import { explain } from "../Explain.ts"
import { StudyOptions } from "../Options.ts"
import { makeContext, type Services, type StudyContext } from "../study/Context.ts"
import * as Jobs from "../study/Jobs.ts"
import { makeTrainer, type Trainer } from "../study/Training.ts"
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

/** One training job of a study: its options (as the coordinator resolved them) and its name. */
export const TrainJob = Workflow.make("causald/TrainJob", {
  payload: { options: StudyOptions, job: Schema.String },
  error: JobFailed,
  idempotencyKey: ({ options, job }) => `${studyKey(options)}/${job}`,
})

/**
 * A worker's studies: the context (prepared data, folders) and trainer of each study it has
 * jobs of, built once, on its first job (the coordinator has prepared and cached the data).
 */
const trainers = new Map<string, Trainer>()

const trainerOf = (options: StudyOptions): Effect.Effect<Trainer, unknown, Services> =>
  Effect.suspend(() => {
    const key = studyKey(options)
    const known = trainers.get(key)
    if (known !== undefined) return Effect.succeed(known)
    // A worker role: the context checks the output folder's binding to the data, writes nothing.
    return Effect.map(makeContext(options, { index: 1, workers: 2 }), (ctx: StudyContext) => {
      const trainer = makeTrainer(ctx)
      trainers.set(key, trainer)
      return trainer
    })
  })

/**
 * One job at a time per worker process: a training job takes a core and its memory, and a
 * runner is handed many workflows at once (all of its shards' jobs).
 */
const oneAtATime = Semaphore.makeUnsafe(1)

/** Trains job `name` of the study `options` on this process. */
const train = (options: StudyOptions, name: string): Effect.Effect<void, JobFailed, Services> =>
  Semaphore.withPermits(
    oneAtATime,
    1,
  )(
    Effect.gen(function* () {
      const trainer = yield* trainerOf(options)
      const job = Jobs.jobs(trainer).find((j) => j.name === name)
      if (job === undefined) return yield* Effect.fail(`the study has no job "${name}"`)
      yield* trainer.ctx.progress.note("cluster", `training ${name}`)
      yield* Status.jobStarted(options.out, name)
      yield* job.run
      yield* Status.jobFinished(options.out, name)
      yield* trainer.ctx.progress.note("cluster", `trained ${name}`)
    }).pipe(Effect.mapError((error) => new JobFailed({ job: name, reason: explain(error) }))),
  )

/** The workflow as a worker runs it: one activity, training the job. */
export const trainJobLayer: Layer.Layer<never, never, WorkflowEngine.WorkflowEngine | Services> =
  TrainJob.toLayer(({ options, job }) =>
    Activity.make({
      name: "train",
      error: JobFailed,
      execute: train(options, job),
    }),
  )

/** How often the coordinator shows the state of every unfinished job. */
export const statusEvery = "30 seconds"

/**
 * The coordinator's training: every job of `all` started on the engine and awaited, with the
 * count (and the progress line's ETA) as they finish, and every {@link statusEvery} each unfinished
 * job's state (`Status.ts`); the first failure fails the study.
 */
export const trainOnCluster = (
  ctx: StudyContext,
  all: ReadonlyArray<Jobs.Job>,
): Effect.Effect<void, JobFailed, WorkflowEngine.WorkflowEngine> =>
  Effect.gen(function* () {
    let done = 0
    const finished = new Set<string>()
    const stage = `models (cluster, ${all.length} jobs)`
    yield* ctx.progress.update({ stage, done, total: all.length })
    const states = Effect.gen(function* () {
      const now = Date.now()
      for (const job of all)
        if (!finished.has(job.name))
          yield* ctx.progress.note(
            "cluster",
            Status.describe(job.name, Status.readStatus(ctx.options.out, job.name), now),
          )
    })
    yield* Effect.forkScoped(
      Effect.repeat(Effect.delay(states, statusEvery), Schedule.spaced(statusEvery)),
    )
    yield* Effect.forEach(
      all,
      (job) =>
        Effect.gen(function* () {
          yield* TrainJob.execute({ options: ctx.options, job: job.name })
          done += 1
          finished.add(job.name)
          yield* ctx.progress.note("cluster", `job done: ${job.name}`)
          yield* ctx.progress.update({ stage, done, total: all.length })
        }),
      { concurrency: "unbounded", discard: true },
    )
  }).pipe(Effect.scoped)
