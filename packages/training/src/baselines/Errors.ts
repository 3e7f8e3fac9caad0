/**
 * Typed errors of the baselines: a baseline built with an option it cannot use (a clipping
 * threshold outside (0, 1], no user groups for IPS, the wrong number of teachers) fails with
 * {@link InvalidBaselineOption}, which names the method, the option, what was expected and what
 * was found. Constructors are plain functions and throw it; it is also a yieldable Effect error.
 *
 * @module
 */
import { Schema } from "effect"

/** A baseline's option was rejected. */
export class InvalidBaselineOption extends Schema.TaggedError<InvalidBaselineOption>()(
  "InvalidBaselineOption",
  {
    method: Schema.String,
    option: Schema.String,
    expected: Schema.String,
    found: Schema.String,
  },
) {
  override get message(): string {
    return `${this.method}: option ${this.option} must be ${this.expected}, found ${this.found}`
  }
}

/** Throws {@link InvalidBaselineOption} unless `value` is a finite number in the given range. */
export const requireNumber = (
  method: string,
  option: string,
  value: number,
  range: {
    readonly min?: number
    readonly max?: number
    readonly minExclusive?: boolean
    readonly integer?: boolean
  },
): void => {
  const { min, max, minExclusive = false, integer = false } = range
  const ok =
    Number.isFinite(value) &&
    (!integer || Number.isInteger(value)) &&
    (min === undefined || (minExclusive ? value > min : value >= min)) &&
    (max === undefined || value <= max)
  if (ok) return
  const bounds = [
    min === undefined ? "" : minExclusive ? `> ${min}` : `>= ${min}`,
    max === undefined ? "" : `<= ${max}`,
  ]
    .filter((b) => b !== "")
    .join(" and ")
  throw new InvalidBaselineOption({
    method,
    option,
    expected: `${integer ? "an integer" : "a number"}${bounds === "" ? "" : ` ${bounds}`}`,
    found: String(value),
  })
}
