/**
 * `bun run repro-worker --cluster URL`: a worker of the studies started with
 * `bun run repro ... --cluster URL`. Start any number, on any machines that reach the database and
 * share the studies' output folders at the same paths; each takes the next job from the engine's
 * queue whenever it is free, trains it, and so on, one at a time, until stopped (Ctrl-C, SIGTERM). One killed mid-job (SIGKILL, a lost machine)
 * loses nothing but the epoch it was in: another worker takes the job over from its last
 * checkpoint.
 *
 * Expected failures (the database unreachable, the port taken) print one line and exit with
 * status 1.
 */
import { hostname } from "node:os"
import { layer as tensorsLayer } from "@causald/tfjs"
import { Progress } from "@causald/training"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, Layer, Logger, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { explain } from "../Explain.ts"
import { backends } from "../Vocabulary.ts"
import { freePort, runnerLayer } from "./Engine.ts"
import { workerLayer } from "./Jobs.ts"
import { statusProgress } from "./Status.ts"

const flags = {
  cluster: Flag.String("cluster").pipe(
    Flag.withMetavar("URL"),
    Flag.withDescription("The cluster's PostgreSQL database, as given to `repro --cluster`"),
  ),
  host: Flag.String("host").pipe(
    Flag.withDescription(
      "The name or address by which the other processes of the cluster reach this worker " +
        "(default this machine's host name)",
    ),
    Flag.withDefault(hostname()),
  ),
  listen: Flag.String("listen").pipe(
    Flag.withDescription("The interface to listen on (default 0.0.0.0: all)"),
    Flag.withDefault("0.0.0.0"),
  ),
  port: Flag.Int("port").pipe(
    Flag.withDescription("The port to listen on (default a free one)"),
    Flag.optional,
  ),
  backend: Flag.Literals("backend", backends).pipe(
    Flag.withDescription(
      "Tensor backend (default auto); use the coordinator's, for the numbers of one process",
    ),
    Flag.withDefault("auto"),
  ),
} as const

const command = Command.make("repro-worker", flags).pipe(
  Command.withDescription("Train the jobs of `repro --cluster URL` studies, until stopped"),
  Command.withHandler((f) =>
    Effect.gen(function* () {
      const port = Option.isSome(f.port) ? f.port.value : yield* freePort(f.listen)
      process.stderr.write(`repro-worker: runner ${f.host}:${port} (pid ${process.pid})\n`)
      return yield* Layer.launch(
        workerLayer.pipe(
          Layer.provide(runnerLayer(f.cluster, { host: f.host, port, listenHost: f.listen })),
          Layer.provide(tensorsLayer(f.backend === "auto" ? undefined : f.backend)),
          Layer.provide(statusProgress(Progress.layerJsonLines)),
        ),
      )
    }).pipe(
      Effect.catchCause((cause) =>
        Cause.hasInterruptsOnly(cause)
          ? Effect.void
          : Effect.sync(() => {
              process.stderr.write(`\nrepro-worker failed: ${explain(Cause.squash(cause))}\n`)
              process.exitCode = 1
            }),
      ),
    ),
  ),
)

Command.run(command, { version: "0.1.0" }).pipe(
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain,
)
