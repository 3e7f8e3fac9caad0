/** The coordinator's line per job, from what its worker last wrote (`cluster/Status.ts`). */
import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Progress } from "@causald/training"
import { Effect } from "effect"
import {
  describe as describeJob,
  jobFailed,
  jobFinished,
  jobStarted,
  jobWaiting,
  overview,
  readStatus,
  statusProgress,
} from "../../src/cluster/Status.ts"

const out = mkdtempSync(join(tmpdir(), "causald-cluster-status-"))
afterAll(() => rmSync(out, { recursive: true, force: true }))

describe("job status", () => {
  test("pending, then running with its stage and ETA, then done", async () => {
    const job = "causald seed 1"
    expect(describeJob(job, readStatus(out, job), Date.now())).toBe("causald seed 1: pending")
    await Effect.runPromise(
      Effect.gen(function* () {
        const progress = yield* Progress.Progress
        yield* jobStarted(out, job)
        yield* progress.update({ stage: "causald seed 1 epochs", done: 0, total: 4 })
        yield* Effect.sleep("1100 millis")
        yield* progress.update({ stage: "causald seed 1 epochs", done: 2, total: 4 })
      }).pipe(Effect.provide(statusProgress(Progress.layerSilent))),
    )
    const running = readStatus(out, job)
    expect(running?.state).toBe("running")
    expect(describeJob(job, running, running!.updatedAt + 5000)).toMatch(
      /^causald seed 1: running on .+ \(pid \d+\), causald seed 1 epochs 2\/4, ETA \d+s \(heard 5s ago\)$/,
    )
    await Effect.runPromise(jobFinished(out, job))
    expect(describeJob(job, readStatus(out, job), Date.now())).toMatch(/: done on /)
  })

  test("the coordinator's overview: unfinished jobs, a job waiting for a shared model, shared models with their state and ETA, pending ones with who awaits them", async () => {
    const study = join(out, "overview")
    const run = (effect: Effect.Effect<void, never, Progress.Progress>) =>
      Effect.runPromise(effect.pipe(Effect.provide(statusProgress(Progress.layerSilent))))
    // (names as cluster/Jobs.ts gives them: a shared model is "shared <folder>")
    await run(jobStarted(study, "shared base/seed-1"))
    await run(jobFinished(study, "shared base/seed-1"))
    await run(
      Effect.gen(function* () {
        const progress = yield* Progress.Progress
        yield* jobStarted(study, "shared teachers-activeness-4")
        yield* progress.update({ stage: "teachers-activeness 1/4 epoch 2", done: 0, total: 10 })
        yield* Effect.sleep("1100 millis")
        yield* progress.update({ stage: "teachers-activeness 1/4 epoch 2", done: 5, total: 10 })
      }),
    )
    await run(jobWaiting(study, "causald seed 1", "shared teachers-activeness-4"))
    await run(jobWaiting(study, "base seed 2", "shared base/seed-2"))
    await run(jobFailed(study, "groupwise seed 1", "out of memory"))
    const waiting = readStatus(study, "causald seed 1")
    expect(waiting?.state).toBe("waiting")
    const lines = overview(
      study,
      ["base seed 2", "causald seed 1", "groupwise seed 1", "causald seed 2"],
      Date.now(),
    )
    expect(lines).toHaveLength(7)
    expect(lines[0]).toMatch(
      /^base seed 2: waiting for shared base\/seed-2 \(on .+ \(pid \d+\), heard \d+s ago\)$/,
    )
    expect(lines[1]).toMatch(/^causald seed 1: waiting for shared teachers-activeness-4 \(on /)
    expect(lines[2]).toMatch(/^groupwise seed 1: failed on .+ \(pid \d+\): out of memory$/)
    expect(lines[3]).toBe("causald seed 2: pending")
    // the shared models not done, by name: one no worker has started, one training, with its ETA
    expect(lines[4]).toBe("shared base/seed-2: pending (awaited by base seed 2)")
    expect(lines[5]).toMatch(
      /^shared teachers-activeness-4: running on .+, teachers-activeness 1\/4 epoch 2 5\/10, ETA \d+s \(heard \d+s ago\)$/,
    )
    expect(lines[6]).toBe("shared models: 1 done of 3 known so far")
    // a job that waited and then trains again is no longer waiting
    await run(jobStarted(study, "causald seed 1"))
    expect(overview(study, ["causald seed 1"], Date.now())[0]).toMatch(
      /^causald seed 1: running on /,
    )
  })
})
