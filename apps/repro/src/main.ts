/**
 * `bun run repro`: the paper's study from the command line (see `--help`).
 *
 * Expected failures (bad data, an unavailable backend, a diverging run) print one line that
 * says what and where, and exit with status 1; no stack trace.
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect } from "effect"
import { main } from "./Cli.ts"
import { study, studyLayer } from "./Study.ts"

const program = main((options) =>
  study(options).pipe(
    Effect.provide(studyLayer(options)),
    Effect.asVoid,
    Effect.catchCause((cause) =>
      Effect.sync(() => {
        const failure = Cause.squash(cause)
        const message = failure instanceof Error ? failure.message : String(failure)
        process.stderr.write(`\nrepro failed: ${message}\n`)
        process.exitCode = 1
      }),
    ),
  ),
)

program.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
