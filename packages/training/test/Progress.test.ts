import { describe, expect, test } from "bun:test"
import { Effect, type Layer } from "effect"
import { eta, formatDuration, layerJsonLines, Progress } from "../src/Progress.ts"

describe("progress", () => {
  test("the ETA extrapolates the rate since the stage (or its resume) started", () => {
    expect(eta(10, 5, 20)).toBe(30)
    expect(eta(10, 15, 20, 10)).toBe(10) // 5 units in 10 s since resuming at 10
    expect(Number.isNaN(eta(3, 0, 20))).toBe(true)
  })

  test("durations read as hours, minutes or seconds", () => {
    expect(formatDuration(5)).toBe("5s")
    expect(formatDuration(65)).toBe("1m05s")
    expect(formatDuration(3720)).toBe("1h02m")
    expect(formatDuration(Number.NaN)).toBe("?")
  })

  test("off a terminal, progress is JSON lines with the stage, counts, metrics and ETA", async () => {
    const lines: Array<string> = []
    const write = process.stderr.write
    process.stderr.write = ((chunk: string) => {
      lines.push(chunk)
      return true
    }) as typeof process.stderr.write
    try {
      await Effect.runPromise(
        Effect.gen(function* () {
          const progress = yield* Progress
          yield* progress.update({
            stage: "teacher 1/4 epoch 1",
            done: 1,
            total: 3,
            metrics: { loss: 0.69 },
          })
          yield* progress.update({
            stage: "teacher 1/4 epoch 1",
            done: 3,
            total: 3,
            metrics: { loss: 0.5 },
          })
        }).pipe(Effect.provide(layerJsonLines as Layer.Layer<Progress>)),
      )
    } finally {
      process.stderr.write = write
    }
    const records = lines.map((l) => JSON.parse(l))
    expect(records[0]).toMatchObject({
      event: "progress",
      stage: "teacher 1/4 epoch 1",
      done: 1,
      total: 3,
      metrics: { loss: 0.69 },
    })
    expect(records.at(-1)).toMatchObject({ event: "done", done: 3, total: 3, etaSeconds: 0 })
  })
})
