/**
 * `bun run repro`: the paper's study from the command line (see `--help`).
 *
 * Expected failures (bad data, an option that does not fit the data, an output folder that
 * cannot be written or holds another data set's models, an unavailable backend, a diverging run)
 * print one line that says what and where (`Explain.ts`), and exit with status 1; no stack
 * trace. Log warnings go to standard error, like the progress: standard output holds the
 * results table alone.
 *
 * With `CAUSALD_REPRO_WORKER` set (by `--workers`, never by hand) this process is a worker of a
 * study: it trains its share of the models, reports progress as JSON lines, and writes nothing.
 *
 * With `--cluster URL` the models are trained by the workers of that cluster
 * (`bun run repro-worker`, `cluster/`); this process waits for them, then writes the outputs.
 */
import { Progress } from "@causald/training"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Layer, Logger } from "effect"
import { main } from "./Cli.ts"
import { clientLayer } from "./cluster/Engine.ts"
import { trainOnCluster } from "./cluster/Jobs.ts"
import { explain } from "./Explain.ts"
import type { StudyOptions } from "./Options.ts"
import { study, studyLayer, type TrainElsewhere } from "./Study.ts"
import { taskFromEnvironment, workerProgress } from "./Workers.ts"

const reportFailure = (prefix: string) => (cause: Cause.Cause<unknown>) =>
  Effect.sync(() => {
    const message = explain(Cause.squash(cause))
    process.stderr.write(`\n${prefix}: ${message}\n`)
    process.exitCode = 1
  })

/**
 * The study of `options`; with `--cluster URL` its models trained by the workers of that
 * cluster, the connection made first, so that a wrong URL fails before the data is prepared.
 */
const studyOn = (options: StudyOptions, cluster: string | undefined) =>
  cluster === undefined
    ? study(options)
    : (options.workers ?? 1) > 1
      ? Effect.fail("--cluster trains on the cluster's workers: drop --workers")
      : Effect.gen(function* () {
          const engine = yield* Layer.build(clientLayer(cluster))
          const elsewhere: TrainElsewhere = (ctx, jobs) =>
            trainOnCluster(ctx, jobs, cluster).pipe(Effect.provideContext(engine))
          return yield* study(options, null, true, elsewhere)
        }).pipe(Effect.scoped)

const task = taskFromEnvironment()

const program =
  task === null
    ? main((options, launch) =>
        studyOn(options, launch.cluster).pipe(
          Effect.provide(studyLayer(options)),
          Effect.asVoid,
          Effect.catchCause(reportFailure("repro failed")),
        ),
      )
    : "invalid" in task
      ? reportFailure("repro worker failed")(Cause.fail(task.invalid))
      : study(task.options, { index: task.index, workers: task.workers }).pipe(
          Effect.provide(studyLayer(task.options, workerProgress(Progress.layerJsonLines))),
          Effect.asVoid,
          Effect.catchCause(reportFailure(`repro worker ${task.index} failed`)),
        )

program.pipe(
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain,
)
