/**
 * Every job's state across machines, for the coordinator of `--cluster`.
 *
 * A worker records each job and shared model (`shared <folder>`) it trains in
 * `<out>/cluster/<name>.json` (its host and pid, the stage of training it is in, with done/total
 * and that stage's ETA, and when it last reported), at most once a second; a job that waits for a
 * shared model says which, and a job that failed says why. The coordinator reads these files from
 * the shared output folder ({@link overview}) and shows each job, and each shared model it has
 * heard of, as pending, waiting for a shared model, running (where, how far, ETA, heard when),
 * failed or done. The files are progress only: no decision of the engine depends on them, so a
 * stale one (its worker killed) shows as such ("heard 40 s ago") until another worker takes the
 * job over.
 *
 * @module
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { hostname } from "node:os"
import { Progress } from "@causald/training"
import { Effect, Layer, Schema } from "effect"

/** What a worker last said about the job it trains. */
export const JobStatus = Schema.Struct({
  job: Schema.String,
  worker: Schema.String,
  state: Schema.Literals(["running", "waiting", "failed", "done"]),
  stage: Schema.String,
  done: Schema.Number,
  total: Schema.Number,
  /** The stage's remaining seconds at the rate since it started; null when not known yet. */
  etaSeconds: Schema.NullOr(Schema.Number),
  updatedAt: Schema.Number,
  /** While waiting: the shared model awaited (`shared <folder>`). */
  waitingFor: Schema.optionalKey(Schema.String),
  /** When failed: why, in one line. */
  reason: Schema.optionalKey(Schema.String),
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

/** Marks `job` as waiting (its training slot given back) for the shared model `shared`. */
export const jobWaiting = (out: string, job: string, shared: string): Effect.Effect<void> =>
  Effect.sync(() => {
    if (current?.job === job) current = null
    write(out, {
      job,
      worker,
      state: "waiting",
      stage: "waiting",
      done: 0,
      total: 0,
      etaSeconds: null,
      updatedAt: Date.now(),
      waitingFor: shared,
    })
  })

/** Marks `job` as failed here, for `reason`. */
export const jobFailed = (out: string, job: string, reason: string): Effect.Effect<void> =>
  Effect.sync(() => {
    if (current?.job === job) current = null
    write(out, {
      job,
      worker,
      state: "failed",
      stage: "failed",
      done: 0,
      total: 0,
      etaSeconds: null,
      updatedAt: Date.now(),
      reason,
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

/**
 * One line about a job for the coordinator: pending, waiting for a shared model, running (where,
 * how far, ETA), failed (why) or done.
 */
export const describe = (job: string, status: JobStatus | undefined, nowMs: number): string => {
  if (status === undefined) return `${job}: pending`
  if (status.state === "done") return `${job}: done on ${status.worker}`
  const heard = Progress.formatDuration((nowMs - status.updatedAt) / 1000)
  if (status.state === "failed")
    return `${job}: failed on ${status.worker}: ${status.reason ?? "(no reason given)"}`
  if (status.state === "waiting")
    return `${job}: waiting for ${status.waitingFor ?? "a shared model"} (on ${status.worker}, heard ${heard} ago)`
  const eta =
    status.etaSeconds === null ? "" : `, ETA ${Progress.formatDuration(status.etaSeconds)}`
  return `${job}: running on ${status.worker}, ${status.stage} ${status.done}/${status.total}${eta} (heard ${heard} ago)`
}

/** Every status file of the study writing to `out`. */
export const readAll = (out: string): ReadonlyArray<JobStatus> => {
  let names: ReadonlyArray<string>
  try {
    names = readdirSync(`${out}/cluster`).filter((name) => name.endsWith(".json"))
  } catch {
    return []
  }
  return names.flatMap((name) => {
    try {
      return [
        Schema.decodeUnknownSync(JobStatus)(
          JSON.parse(readFileSync(`${out}/cluster/${name}`, "utf8")),
        ),
      ]
    } catch {
      return []
    }
  })
}

/** Whether a status is a shared model's (`shared <folder>`, `cluster/Jobs.ts`). */
const isShared = (name: string) => name.startsWith("shared ")

/**
 * The coordinator's notes on the study writing to `out`: a line per unfinished job of `jobs`,
 * then one per shared model not done (those a worker has written about, and those a job waits
 * for that no worker has started yet: pending, with who awaits them), then how many shared
 * models are done.
 */
export const overview = (
  out: string,
  jobs: ReadonlyArray<string>,
  nowMs: number,
): ReadonlyArray<string> => {
  const all = readAll(out)
  const byName = new Map(all.map((status) => [status.job, status]))
  const lines = jobs.map((job) => describe(job, byName.get(job), nowMs))
  const awaitedBy = new Map<string, Array<string>>()
  for (const status of all)
    if (status.state === "waiting" && status.waitingFor !== undefined)
      awaitedBy.set(status.waitingFor, [...(awaitedBy.get(status.waitingFor) ?? []), status.job])
  const shared = [
    ...new Set([...all.map((s) => s.job).filter(isShared), ...awaitedBy.keys()]),
  ].sort()
  let done = 0
  for (const name of shared) {
    const status = byName.get(name)
    if (status?.state === "done") done += 1
    else if (status === undefined)
      lines.push(`${name}: pending (awaited by ${(awaitedBy.get(name) ?? []).sort().join(", ")})`)
    else lines.push(describe(name, status, nowMs))
  }
  if (shared.length > 0) lines.push(`shared models: ${done} done of ${shared.length} known so far`)
  return lines
}
