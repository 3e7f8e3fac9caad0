/** The coordinator's line per job, from what its worker last wrote (`cluster/Status.ts`). */
import { afterAll, describe, expect, test } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Progress } from "@causald/training"
import { Effect } from "effect"
import {
  describe as describeJob,
  jobFinished,
  jobStarted,
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
})
