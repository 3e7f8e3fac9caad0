/**
 * What the commands of `apps/use` share: the flags naming a trained model (`--run`, `--method`,
 * `--seed`, `--backend`), one-line errors, and running a command on the process arguments.
 *
 * @module
 */

import { fileURLToPath } from "node:url"
import type { Tensors } from "@causald/core"
import { type BackendChoice, backendChoices, layer as tensorsLayer } from "@causald/tfjs"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Console, Effect, type FileSystem, Logger, Option, Stdio } from "effect"
import { CliError, CliOutput, Command, Flag } from "effect/cli"
import { type LoadedModel, loadModel, type OpenRun, open, UseError } from "./Run.ts"

export const version = "0.1.0"

/** The repository root of this checkout (three levels above this file). */
export const repoRoot: string = fileURLToPath(new URL("../../../", import.meta.url))

/** Where repro caches prepared real data sets; reading it again from there is fast. */
export const cacheDir = `${repoRoot}/.cache/data`

/** The flags naming a trained model of a run. */
export const modelFlags = {
  run: Flag.String("run").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription("A finished repro run's folder (the --out of bun run repro)"),
  ),
  method: Flag.String("method").pipe(
    Flag.withDescription(
      "The trained method to use: causald (default), din / deepfm / base (the base model), kd, " +
        "ips, ... (any method the run trained, by its folder under models/)",
    ),
    Flag.withDefault("causald"),
  ),
  seed: Flag.Int("seed").pipe(
    Flag.withDescription("The seed of the model; default the run's first seed"),
    Flag.optional,
  ),
  backend: Flag.Literals("backend", backendChoices).pipe(
    Flag.withDescription("Tensor backend (auto: tensorflow if installed, else wasm, else cpu)"),
    Flag.withDefault("auto" as BackendChoice),
  ),
} as const

export interface ModelOptions {
  readonly run: string
  readonly method: string
  readonly seed: Option.Option<number>
}

/** Opens the run and loads the model that the flags name. */
export const openModel = (
  options: ModelOptions,
): Effect.Effect<
  { readonly run: OpenRun; readonly loaded: LoadedModel },
  UseError,
  FileSystem.FileSystem | Tensors
> =>
  Effect.gen(function* () {
    const run = yield* open(options.run, cacheDir)
    const seed = Option.getOrElse(options.seed, () => run.seeds[0] ?? 1)
    const loaded = yield* loadModel(run, options.method, seed)
    return { run, loaded }
  })

/**
 * Runs `use` with the run and model the flags name; the model's parameters are freed after it,
 * whether it succeeds or fails.
 */
export const withModel = <A, E, R>(
  options: ModelOptions,
  use: (opened: { readonly run: OpenRun; readonly loaded: LoadedModel }) => Effect.Effect<A, E, R>,
): Effect.Effect<A, E | UseError, R | FileSystem.FileSystem | Tensors> =>
  Effect.acquireUseRelease(openModel(options), use, ({ loaded }) =>
    Effect.sync(() => loaded.dispose()),
  )

/** The tensor backend a command runs on, a failure to start it as one line. */
export const backendLayer = (choice: BackendChoice) => tensorsLayer(choice)

/** A CLI error as one line. */
const oneLine = (error: CliError.CliError): string =>
  error._tag === "UnrecognizedOption"
    ? `Unrecognized flag: ${error.option}${error.suggestions.length > 0 ? ` (did you mean ${error.suggestions.join(" or ")}?)` : ""}`
    : error.message.replace(/\s*\n\s*/g, " ").trim()

/** Flag errors as one line each and a pointer to `--help`, on standard error. */
const presenter = (name: string): CliOutput.Presenter => ({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(
          [
            ...event.errors.map((e) => `${name}: ${oneLine(e)}`),
            `Run "bun run ${name} --help" for every flag and what it accepts.`,
          ].join("\n"),
        )
      : CliOutput.defaultPresenter.present(event),
})

/** Any failure as one line: a {@link UseError}'s message, else the error's own message. */
export const explain = (error: unknown): string =>
  (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")

/**
 * Runs `command` on the process arguments: flag errors as one line with a pointer to `--help`,
 * failures of the command as `<name>: <one line>` on standard error with exit status 1, never a
 * stack trace.
 */
export const runMain = <Name extends string, I, C, E>(
  name: string,
  command: Command.Command<Name, I, C, E, FileSystem.FileSystem>,
) =>
  Effect.gen(function* () {
    const args = yield* Effect.flatMap(Stdio.Stdio, (stdio) => stdio.args)
    yield* Command.runWith(command, { version })(args)
  }).pipe(
    Effect.catchCause((cause) =>
      Effect.sync(() => {
        const error = Cause.squash(cause)
        // a flag error was already presented (one line and a pointer to --help)
        if (!CliError.isCliError(error)) process.stderr.write(`${name}: ${explain(error)}\n`)
        process.exitCode = 1
      }),
    ),
    Effect.provide(CliOutput.layerPresenter(presenter(name))),
    Effect.provideService(Logger.LogToStderr, true),
    Effect.provide(NodeServices.layer),
    NodeRuntime.runMain as never,
  )

export { UseError }
