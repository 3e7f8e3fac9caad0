/**
 * Jobs of very different lengths on two runners, for the placement test (`Balance.test.ts`), as
 * a runner process (`bun balance.ts URL DIR MODE`). Each job sleeps its `seconds` and records, in
 * `DIR/<name>.log`, the runner's pid, its start and its end (ms), once it has ended; each start's
 * pid goes to `DIR/<name>.starts`.
 *
 * - `pull`: placement as the study's jobs have it (`cluster/Jobs.ts`): the execution offers the
 *   job to the engine's worker-pull queue (`DurableQueue`, with the study's queue storage,
 *   `queueLayer`), and each runner takes one item at a time, when it is free.
 * - `shard` (the control): placement as the study's jobs had it before: the job runs as the
 *   execution's activity, on the runner that owns the execution's shard, one at a time per
 *   runner (a semaphore), so a job may wait behind a long one while the other runner idles.
 */
import { appendFileSync } from "node:fs"
import { NodeRuntime } from "@effect/platform-node"
import { Effect, Layer, Schema, Semaphore } from "effect"
import { Activity, DurableQueue, Workflow } from "effect/workflow"
import { freePort, runnerLayer } from "../../src/cluster/Engine.ts"
import { queueLayer } from "../../src/cluster/Jobs.ts"

const payload = { name: Schema.String, seconds: Schema.Number, dir: Schema.String }

export const Pulled = Workflow.make("BalancePulled", {
  payload,
  idempotencyKey: ({ name }) => name,
})

export const Sharded = Workflow.make("BalanceSharded", {
  payload,
  idempotencyKey: ({ name }) => name,
})

const TimedQueue = DurableQueue.make({
  name: "balance/timed",
  payload,
  idempotencyKey: ({ name }) => name,
})

/** The job: sleeps, recording where and when it ran. */
const run = ({ name, seconds, dir }: typeof Pulled.payloadSchema.Type) =>
  Effect.gen(function* () {
    const start = Date.now()
    appendFileSync(`${dir}/${name}.starts`, `${process.pid}\n`)
    yield* Effect.sleep(`${seconds * 1000} millis`)
    appendFileSync(`${dir}/${name}.log`, `${process.pid} ${start} ${Date.now()}\n`)
  })

const oneAtATime = Semaphore.makeUnsafe(1)

const pullLayer = Layer.merge(
  Pulled.toLayer((job) => DurableQueue.process(TimedQueue, job)),
  DurableQueue.worker(TimedQueue, run, { concurrency: 1 }),
).pipe(Layer.provide(queueLayer), Layer.orDie)

const shardLayer = Sharded.toLayer((job) =>
  Activity.make({ name: "run", execute: Semaphore.withPermits(oneAtATime, 1)(run(job)) }),
)

if (import.meta.main) {
  const [url, dir, mode] = process.argv.slice(2)
  if (url === undefined || dir === undefined || (mode !== "pull" && mode !== "shard"))
    throw new Error("usage: balance.ts URL DIR pull|shard")
  Effect.gen(function* () {
    const port = yield* freePort()
    appendFileSync(`${dir}/runners.log`, `runner ${process.pid} on port ${port}\n`)
    return yield* Layer.launch(
      (mode === "pull" ? pullLayer : shardLayer).pipe(
        Layer.provide(runnerLayer(url, { host: "127.0.0.1", port })),
      ),
    )
  }).pipe(NodeRuntime.runMain)
}
