/**
 * Trivial durable workflows for the engine's smoke test, and their runner process
 * (`bun smoke.ts URL DIR`). `Smoke`'s one activity records each start in `DIR/<name>.log`, then
 * waits for `DIR/<name>.go` before it records its end: the test can kill the runner while the
 * activity runs, and see it run again, to its end, on the next runner. `Flaky` (suspended on
 * failure, like the study's workflows) fails while `DIR/<name>.fail` exists: the test sees the
 * failure, removes the file and resumes the execution, which then succeeds; it waits while
 * `DIR/<name>.hold` exists, so that the test can stop its runner in the middle.
 */
import { appendFileSync, existsSync, readFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema } from "effect"
import { Activity, Workflow } from "effect/workflow"
import { freePort, runnerLayer } from "../../src/cluster/Engine.ts"

export const Smoke = Workflow.make("Smoke", {
  payload: { name: Schema.String, dir: Schema.String },
  success: Schema.Number,
  idempotencyKey: ({ name }) => name,
})

const starts = (log: string): number =>
  existsSync(log)
    ? readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l === "start").length
    : 0

export const SmokeLayer = Smoke.toLayer(({ name, dir }) =>
  Activity.make({
    name: "step",
    success: Schema.Number,
    execute: Effect.gen(function* () {
      const log = `${dir}/${name}.log`
      appendFileSync(log, `start\n`)
      while (!existsSync(`${dir}/${name}.go`)) yield* Effect.sleep("100 millis")
      appendFileSync(log, `done ${process.pid}\n`)
      return starts(log)
    }),
  }),
)

export const Flaky = Workflow.make("Flaky", {
  payload: { name: Schema.String, dir: Schema.String },
  success: Schema.Number,
  error: Schema.String,
  idempotencyKey: ({ name }) => name,
}).annotate(Workflow.SuspendOnFailure, true)

export const FlakyLayer = Flaky.toLayer(({ name, dir }) =>
  Activity.make({
    name: "step",
    success: Schema.Number,
    error: Schema.String,
    execute: Effect.gen(function* () {
      const log = `${dir}/${name}.log`
      appendFileSync(log, `start\n`)
      if (existsSync(`${dir}/${name}.fail`)) return yield* Effect.fail("asked to fail")
      while (existsSync(`${dir}/${name}.hold`)) yield* Effect.sleep("100 millis")
      return starts(log)
    }),
  }),
)

if (import.meta.main) {
  const [url, dir] = process.argv.slice(2)
  if (url === undefined || dir === undefined) throw new Error("usage: smoke.ts URL DIR")
  Effect.gen(function* () {
    const port = yield* freePort()
    appendFileSync(`${dir}/runners.log`, `runner ${process.pid} on port ${port}\n`)
    return yield* Layer.launch(
      Layer.merge(SmokeLayer, FlakyLayer).pipe(
        Layer.provide(runnerLayer(url, { host: "127.0.0.1", port })),
      ),
    )
  }).pipe(NodeRuntime.runMain)
}
