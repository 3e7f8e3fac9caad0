/**
 * Typed errors of the training objectives. An objective built with options it cannot use (no
 * teachers, a teacher prior of the wrong length, mediators of another width, an exact causal label
 * over its size limit, a ranking loss without negatives) fails with {@link InvalidObjectiveOption},
 * which names the objective, the option, what was expected and what was found, so a caller can
 * tell which setting to change (the study turns `partners` into `--partners`). Constructors are
 * plain functions and throw it, as the baselines throw their `InvalidBaselineOption`; it is also a
 * yieldable Effect error.
 *
 * @module
 */
import { Schema } from "effect"

/** An objective's option was rejected. */
export class InvalidObjectiveOption extends Schema.TaggedError<InvalidObjectiveOption>()(
  "InvalidObjectiveOption",
  {
    objective: Schema.String,
    option: Schema.String,
    expected: Schema.String,
    found: Schema.String,
  },
) {
  override get message(): string {
    return `${this.objective}: ${this.option} must be ${this.expected}, found ${this.found}`
  }
}
