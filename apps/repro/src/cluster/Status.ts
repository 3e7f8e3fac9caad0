/**
 * Every job's state across machines, for the coordinator of `--cluster`.
 *
 * A worker records the job it trains in `<out>/cluster/<job>.json` (its host and pid, the stage
 * of training it is in, with done/total and that stage's ETA, and when it last reported), at most
 * once a second; the coordinator reads these files from the shared output folder and shows each
 * job as pending, running (where, how far, ETA, heard when) or done. The files are progress
 * only: no decision of the engine depends on them, so a stale one (its worker killed) shows as
 * such ("heard 40 s ago") until another worker takes the job over.
 *
 * @module
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { Progress } from "@causald/training"
import { Effect, Layer, Schema } from "effect"

/** What a worker last said about the job it trains. */
export const JobStatus = Schema.Struct({
  job: Schema.String,
  worker: Schema.String,
  state: Schema.Literals(["running", "done"]),
  stage: Schema.String,
  done: Schema.Number,
  total: Schema.Number,
  /** The stage's remaining seconds at the rate since it started; null when not known yet. */
  etaSeconds: Schema.NullOr(Schema.Number),
  updatedAt: Schema.Number,
})
export type JobStatus = typeof JobStatus.Type

/** The status file of `job` of the study writing to `out`. */
export const statusFile = (out: string, job: string): string =>
  `${out}/cluster/${job.replace(/[^A-Za-z0-9=.-]+/g, "_")}.json`

/** Writes a status atomically (a reader never sees half a file); a failure only loses progress. */
const write = (out: string, status: JobStatus): void => {
  try {
    const file = statusFile(out, status.job)
    mkdirSync(`${out}/cluster`, { recursive: true })
    writeFileSync(`${file}.${process.pid}.tmp`, JSON.stringify(status))
    renameSync(`${file}.${process.pid}.tmp`, file)
  } catch {
    // progress only
  }
}

/** The job this worker process trains now (one at a time), and its stages' start times. */
let current: { out: string; job: string; stages: Map<string, number>; lastMs: number } | null = null

const worker = `${hostname()} (pid ${process.pid})`

/** Marks `job` of the study writing to `out` as running here (or done). */
export const jobStarted = (out: string, job: string): Effect.Effect<void> =>
  Effect.sync(() => {
    current = { out, job, stages: new Map(), lastMs: 0 }
    write(out, {
      job,
      worker,
      state: "running",
      stage: "starting",
      done: 0,
      total: 0,
      etaSeconds: null,
      updatedAt: Date.now(),
    })
  })

export const jobFinished = (out: string, job: string): Effect.Effect<void> =>
  Effect.sync(() => {
    current = null
    write(out, {
      job,
      worker,
      state: "done",
      stage: "done",
      done: 1,
      total: 1,
      etaSeconds: 0,
      updatedAt: Date.now(),
    })
  })

/** A worker's progress: `inner`, and each update recorded in the current job's status file. */
export const statusProgress = (inner: Layer.Layer<Progress.Progress>) =>
  Layer.effect(
    Progress.Progress,
    Effect.gen(function* () {
      const progress = yield* Progress.Progress
      return Progress.Progress.of({
        note: progress.note,
        update: (update) =>
          Effect.andThen(
            Effect.sync(() => {
              const now = Date.now()
              if (current === null) return
              const started = current.stages.get(update.stage) ?? now
              current.stages.set(update.stage, started)
              if (now - current.lastMs < 1000 && update.done < update.total) return
              current.lastMs = now
              const seconds = Progress.eta((now - started) / 1000, update.done, update.total)
              write(current.out, {
                job: current.job,
                worker,
                state: "running",
                stage: update.stage,
                done: update.done,
                total: update.total,
                etaSeconds: Number.isFinite(seconds) ? seconds : null,
                updatedAt: now,
              })
            }),
            progress.update(update),
          ),
      })
    }),
  ).pipe(Layer.provide(inner))

/** The status of `job` in `out`, if a worker has written one. */
export const readStatus = (out: string, job: string): JobStatus | undefined => {
  try {
    return Schema.decodeUnknownSync(JobStatus)(
      JSON.parse(readFileSync(statusFile(out, job), "utf8")),
    )
  } catch {
    return undefined
  }
}

/** One line about a job for the coordinator: pending, running (where, how far, ETA) or done. */
export const describe = (job: string, status: JobStatus | undefined, nowMs: number): string => {
  if (status === undefined) return `${job}: pending`
  if (status.state === "done") return `${job}: done on ${status.worker}`
  const heard = Progress.formatDuration((nowMs - status.updatedAt) / 1000)
  const eta =
    status.etaSeconds === null ? "" : `, ETA ${Progress.formatDuration(status.etaSeconds)}`
  return `${job}: running on ${status.worker}, ${status.stage} ${status.done}/${status.total}${eta} (heard ${heard} ago)`
}
