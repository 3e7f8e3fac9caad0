/**
 * The command line of `bun run repro`: flags in, a typed {@link StudyOptions} out.
 *
 * The command is made of small modules in `cli/`: the flags with their `--help` text
 * (`Flags.ts`) and what a single flag accepts (`Values.ts`), the cross-flag rules and defaults
 * (`Resolve.ts`, with `--data` in `Data.ts` and `--out` in `Out.ts`), the context they depend on
 * (`Context.ts`) and the two kinds of error (`Errors.ts`). This module is the entry the rest
 * imports: {@link command}, {@link parse} and {@link main}, and how errors are shown.
 *
 * Single-flag problems (an unknown data set, a seed count out of its range, an unknown method) are
 * `CliError.InvalidValue`s naming the flag and what it accepts; every numeric flag has a stated
 * range (`Vocabulary.bounds`). Rules that involve several flags or the file system (`--data`
 * required for a real data set, an experiment whose methods were left out, an attribute split on
 * a data set without attributes, an `--out` that is empty, a root-like folder, a file, or not
 * writable) are `CliError.ValidationError`s from {@link resolveStudyOptions}, checked before the
 * study starts; what needs the data itself (`--teachers` against its users, `--attribute` against
 * its columns) is checked once it is prepared, before anything trains (`Validate.ts`). {@link main}
 * prints a flag error as one line and a pointer to `--help` on standard error, never with the help
 * text or a stack trace, and routes log warnings to standard error, so standard output holds only
 * the results table.
 *
 * @module
 */
import { Console, Effect, Logger, Option, Stdio } from "effect"
import { type CliError, CliOutput, Command } from "effect/cli"
import type { ParseContext } from "./cli/Context.ts"
import { flags } from "./cli/Flags.ts"
import { resolveStudyOptions } from "./cli/Resolve.ts"
import type { StudyOptions } from "./Options.ts"

export type { ParseContext } from "./cli/Context.ts"
export { flags, kCoreDefaults, type RawOptions } from "./cli/Flags.ts"
export { rootLike, utcStamp } from "./cli/Out.ts"
export { resolveStudyOptions } from "./cli/Resolve.ts"

/** The package version printed by `--version`. */
export const version = "0.1.0"

/** How a study is run, besides its options (which are the study's, in results.json). */
export interface Launch {
  /** `--cluster`: the database of the cluster that trains the models; undefined: here. */
  readonly cluster: string | undefined
}

/**
 * The `repro` command: resolves the options (failing before `run` on any invalid combination) and
 * hands them to `run`, the study.
 */
export const command = <E, R>(
  run: (options: StudyOptions, launch: Launch) => Effect.Effect<void, E, R>,
  context?: ParseContext,
) =>
  Command.make("repro", flags).pipe(
    Command.withDescription(
      "Reproduce the CausalD study (Zhang et al., TKDE): train the teachers, the base model, the " +
        "baselines and CausalD over several seeds, then write results.json, the paper's tables " +
        "and figures, and report.md",
    ),
    Command.validate((raw) => Effect.asVoid(resolveStudyOptions(raw, context))),
    Command.withHandler((raw) =>
      Effect.flatMap(resolveStudyOptions(raw, context), (options) =>
        run(options, { cluster: Option.getOrUndefined(raw.cluster) }),
      ),
    ),
  )

/**
 * Parses `args` (without the program name) to the study's options; `None` when nothing is to be
 * run (`--help`, `--version`). Help and errors go through the installed `CliOutput.Presenter`.
 */
export const parse = (
  args: ReadonlyArray<string>,
  context?: ParseContext,
): Effect.Effect<Option.Option<StudyOptions>, CliError.CliError, Command.Environment> =>
  Effect.suspend(() => {
    let parsed: Option.Option<StudyOptions> = Option.none()
    const cmd = command(
      (options) =>
        Effect.sync(() => {
          parsed = Option.some(options)
        }),
      context,
    )
    return Command.runWith(cmd, { version })(args).pipe(Effect.map(() => parsed))
  })

/** The messages of a CLI error, unwrapping the errors shown with the help text. */
export const errorMessages = (error: CliError.CliError): ReadonlyArray<string> =>
  error._tag === "ShowHelp" ? error.errors.map((e) => e.message) : [error.message]

/** A CLI error as one line: its message with the line breaks (and suggestions) folded in. */
export const oneLine = (error: CliError.CliError): string =>
  error._tag === "UnrecognizedOption"
    ? `Unrecognized flag: ${error.option}${error.suggestions.length > 0 ? ` (did you mean ${error.suggestions.join(" or ")}?)` : ""}`
    : error.message.replace(/\s*\n\s*/g, " ").trim()

/** What follows a flag error: where the flags are described. */
export const helpPointer = 'Run "bun run repro --help" for every flag and what it accepts.'

/**
 * Presents an invalid invocation as one line per error and a pointer to `--help`, all on
 * standard error (Effect's default prints the whole help text on standard output first); help
 * and version as usual.
 */
export const presenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error([...event.errors.map((e) => `repro: ${oneLine(e)}`), helpPointer].join("\n"))
      : CliOutput.defaultPresenter.present(event),
}

/** `--wizard` was cancelled, or its command not confirmed: nothing ran. */
export const wizardCancelled = "repro: the wizard was cancelled; nothing was run"

/**
 * Runs the command on the process arguments (what `src/main.ts` calls): flag errors through
 * {@link presenter}, log warnings on standard error (standard output holds the results table
 * alone), and a `--wizard` that ends without running the study exits with status 1.
 */
export const main = <E, R>(
  run: (options: StudyOptions, launch: Launch) => Effect.Effect<void, E, R>,
) =>
  Effect.gen(function* () {
    const args = yield* Effect.flatMap(Stdio.Stdio, (stdio) => stdio.args)
    let ran = false
    yield* Command.runWith(
      command((options, launch) =>
        Effect.suspend(() => {
          ran = true
          return run(options, launch)
        }),
      ),
      { version },
    )(args)
    if (!ran && args.some((a) => a === "--wizard" || a.startsWith("--wizard="))) {
      yield* Console.error(wizardCancelled)
      yield* Effect.sync(() => {
        process.exitCode = 1
      })
    }
  }).pipe(
    Effect.provide(CliOutput.layerPresenter(presenter)),
    Effect.provideService(Logger.LogToStderr, true),
  )
