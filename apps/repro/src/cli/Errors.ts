/**
 * The command line's two kinds of error: a flag's value out of what it accepts (`invalid`, a
 * `CliError.InvalidValue` naming the flag) and a rule across flags or the file system (`fail`, a
 * `CliError.ValidationError` whose message names the flags involved).
 *
 * @module
 */
import { Effect } from "effect"
import { CliError } from "effect/cli"

/** A flag's value that it does not accept, with what it accepts. */
export const invalid = (option: string, value: string, expected: string) =>
  new CliError.InvalidValue({ option, value, expected, kind: "flag" })

/** A rule across flags (or against the file system) broken, as a failed effect. */
export const fail = (message: string) => Effect.fail(new CliError.ValidationError({ message }))
