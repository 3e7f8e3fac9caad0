/**
 * The CLI as a process, for `Cli.test.ts`: parses the real arguments with Effect's runner and
 * prints the resulting options as JSON (the study itself is not run).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { main } from "../src/Cli.ts"

main((options) => Effect.sync(() => console.log(JSON.stringify(options)))).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain,
)
