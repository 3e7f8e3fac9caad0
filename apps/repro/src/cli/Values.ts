/**
 * What a single flag accepts: integers and numbers within a stated range ({@link bounds}), comma
 * lists against a vocabulary, JSON. Each fails with a `CliError.InvalidValue` naming the flag and
 * what it accepts (`Errors.invalid`).
 *
 * @module
 */
import { Effect } from "effect"
import { Flag } from "effect/cli"
import { bounds } from "../Vocabulary.ts"
import { invalid } from "./Errors.ts"

/** An integer flag within `range` (one of {@link bounds}). */
export const integerIn =
  (name: string, range: { readonly min: number; readonly max: number }, hint: string) =>
  (flag: Flag.Flag<number>) =>
    Flag.mapEffect(flag, (n) =>
      Number.isInteger(n) && n >= range.min && n <= range.max
        ? Effect.succeed(n)
        : Effect.fail(invalid(name, String(n), `an integer in ${range.min}..${range.max}${hint}`)),
    )

/** A loss coefficient in [0, 1000] ({@link bounds}). */
export const coefficient = (name: string) =>
  numberIn(name, bounds.lambda, " (the paper searches 0.01, 0.1, 1, 10)")

/**
 * A number in [min, max] (with `openMin`, in (min, max]), else an error naming the flag and the
 * range.
 */
export const numberIn =
  (
    name: string,
    range: { readonly min: number; readonly max: number },
    hint = "",
    openMin = false,
  ) =>
  (flag: Flag.Flag<number>) =>
    Flag.mapEffect(flag, (x) =>
      (openMin ? x > range.min : x >= range.min) && x <= range.max
        ? Effect.succeed(x)
        : Effect.fail(
            invalid(
              name,
              String(x),
              `a number in ${openMin ? "(" : "["}${range.min}, ${range.max}]${hint}`,
            ),
          ),
    )

/** Parses a comma list against `accepted` (plus `all`), keeping the canonical order. */
export const commaList = <A extends string>(
  name: string,
  accepted: ReadonlyArray<A>,
  aliases: { readonly [name: string]: A },
  shown: string,
) =>
  Flag.mapEffect((raw: string) => {
    const parts = raw
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0)
    if (parts.length === 0) return Effect.fail(invalid(name, raw, `a comma list of: ${shown}`))
    const chosen = new Set<A>()
    for (const p of parts) {
      if (p === "all") {
        for (const a of accepted) chosen.add(a)
        continue
      }
      const a = aliases[p] ?? accepted.find((x) => x === p)
      if (a === undefined) {
        return Effect.fail(invalid(name, p, `a comma list of: ${shown}, or all`))
      }
      chosen.add(a)
    }
    return Effect.succeed(accepted.filter((a) => chosen.has(a)))
  })

/** `raw` parsed as JSON; undefined when it is not JSON. */
export const parseJson = (raw: string): unknown => {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}
