/**
 * The command line of a bench script, on `effect/cli`: each script declares its flags (with
 * these builders, which state every default in the help text) and {@link parseFlags} reads
 * `process.argv` into a typed record. `--help` prints every flag and exits; a rejected flag is
 * reported as `bench/<script>: <what was expected>` with a pointer to `--help`, exit code 2, no
 * stack trace. {@link failWith} reports the scripts' own failures the same way.
 */
import { NodeServices } from "@effect/platform-node"
import { Console, Effect, Option } from "effect"
import { CliError, CliOutput, Command, Flag } from "effect/cli"

/** Prints `bench/<script>: message` on stderr and exits with status 2. */
export const failWith =
  (script: string) =>
  (message: string): never => {
    console.error(`bench/${script}: ${message}`)
    process.exit(2)
  }

const invalid = (option: string, value: string, expected: string) =>
  new CliError.InvalidValue({ option, value, expected, kind: "flag" })

const atLeast = (name: string, min: number) => (n: number) =>
  Number.isInteger(n) && n >= min
    ? Effect.succeed(n)
    : Effect.fail(invalid(name, String(n), `an integer >= ${min}`))

/** An integer flag of at least `min`, `fallback` when absent. */
export const integer = (
  name: string,
  fallback: number,
  min: number,
  description: string,
): Flag.Flag<number> =>
  Flag.Int(name).pipe(
    Flag.withMetavar("N"),
    Flag.withDescription(`${description} (default ${fallback})`),
    Flag.withDefault(fallback),
    Flag.mapEffect(atLeast(name, min)),
  )

/** An integer flag of at least `min` whose default is decided elsewhere: undefined when absent. */
export const optionalInteger = (
  name: string,
  min: number,
  description: string,
): Flag.Flag<number | undefined> =>
  Flag.Int(name).pipe(
    Flag.withMetavar("N"),
    Flag.withDescription(description),
    Flag.optional,
    Flag.mapEffect((n) =>
      Option.isNone(n) ? Effect.succeed(undefined) : atLeast(name, min)(n.value),
    ),
  )

/** One of `allowed`, `fallback` when absent. */
export const choice = <const A extends ReadonlyArray<string>>(
  name: string,
  allowed: A,
  fallback: A[number],
  description: string,
): Flag.Flag<A[number]> =>
  Flag.Literals(name, allowed).pipe(
    Flag.withDescription(`${description} (default ${fallback})`),
    Flag.withDefault(fallback),
  )

/** One of `allowed` whose default is decided elsewhere: undefined when absent. */
export const optionalChoice = <const A extends ReadonlyArray<string>>(
  name: string,
  allowed: A,
  description: string,
): Flag.Flag<A[number] | undefined> =>
  Flag.Literals(name, allowed).pipe(
    Flag.withDescription(description),
    Flag.optional,
    Flag.map(Option.getOrUndefined),
  )

/** `on` or `off` (`fallback` when absent) as a boolean. */
export const onOff = (name: string, fallback: boolean, description: string): Flag.Flag<boolean> =>
  Flag.Literals(name, ["on", "off"] as const).pipe(
    Flag.withDescription(`${description} (default ${fallback ? "on" : "off"})`),
    Flag.withDefault(fallback ? "on" : "off"),
    Flag.map((v) => v === "on"),
  )

/** A text flag, undefined when absent (the script supplies its default or requires it). */
export const text = (
  name: string,
  metavar: string,
  description: string,
): Flag.Flag<string | undefined> =>
  Flag.String(name).pipe(
    Flag.withMetavar(metavar),
    Flag.withDescription(description),
    Flag.optional,
    Flag.map(Option.getOrUndefined),
  )

/**
 * A comma-separated list of some of `allowed` (all of them when absent), checked element by
 * element.
 */
export const list = <const A extends ReadonlyArray<string>>(
  name: string,
  allowed: A,
  description: string,
  fallback: ReadonlyArray<A[number]> = allowed,
): Flag.Flag<ReadonlyArray<A[number]>> =>
  Flag.String(name).pipe(
    Flag.withMetavar("LIST"),
    Flag.withDescription(
      `${description}: some of ${allowed.join(",")} (default ${fallback.join(",")})`,
    ),
    Flag.withDefault(fallback.join(",")),
    Flag.mapEffect((raw) => {
      const items = raw.split(",")
      const unknown = items.find((i) => !(allowed as ReadonlyArray<string>).includes(i))
      return unknown === undefined
        ? Effect.succeed(items as ReadonlyArray<A[number]>)
        : Effect.fail(invalid(name, unknown, `some of ${allowed.join(", ")}, comma-separated`))
    }),
  )

/** A bare flag: true when present. */
export const present = (name: string, description: string): Flag.Flag<boolean> =>
  Flag.Boolean(name).pipe(Flag.withDescription(description), Flag.withDefault(false))

/** A flag error as one line: its message with the line breaks folded in. */
const oneLine = (error: CliError.CliError): string =>
  error._tag === "UnrecognizedOption"
    ? `unrecognized flag ${error.option}${error.suggestions.length > 0 ? ` (did you mean ${error.suggestions.join(" or ")}?)` : ""}`
    : error.message.replace(/\s*\n\s*/g, " ").trim()

/** Flag errors as one line each on stderr, with a pointer to `--help`; help as usual. */
const presenter = (command: string): CliOutput.Presenter => ({
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(
          [
            ...event.errors.map((e) => `${command}: ${oneLine(e)}`),
            `Run "bun run ${command} --help" for every flag and what it accepts.`,
          ].join("\n"),
        )
      : CliOutput.defaultPresenter.present(event),
})

/**
 * Reads `argv` (the arguments after the script) into the flags' values. `--help` (and
 * `--version`) print and exit with status 0; a rejected flag exits with status 2.
 */
export const parseFlags = async <const Flags extends Command.Command.Config>(
  command: string,
  description: string,
  flags: Flags,
  argv: ReadonlyArray<string> = process.argv.slice(2),
): Promise<Command.Command.Config.Infer<Flags>> => {
  const parsed: { value?: Command.Command.Config.Infer<Flags> } = {}
  const cmd = Command.make(command, flags).pipe(
    Command.withDescription(description),
    Command.withHandler((values) =>
      Effect.sync(() => {
        parsed.value = values
      }),
    ),
  )
  const exit = await Effect.runPromiseExit(
    Command.runWith(cmd, { version: "0.1.0" })(argv).pipe(
      Effect.provide(CliOutput.layerPresenter(presenter(command))),
      Effect.provide(NodeServices.layer),
    ),
  )
  if (exit._tag === "Failure") process.exit(2)
  if (parsed.value === undefined) process.exit(0)
  return parsed.value
}
