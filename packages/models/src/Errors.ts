/**
 * Typed errors of the models package: a configuration or a batch that a model cannot take.
 * Plain functions throw them (they are `Error`s); Effect programs catch them as typed failures.
 *
 * @module
 */
import { Schema } from "effect"

/** A model option or vocabulary size out of range. */
export class InvalidConfig extends Schema.TaggedError<InvalidConfig>()("InvalidConfig", {
  option: Schema.String,
  expected: Schema.String,
  found: Schema.String,
}) {
  override get message(): string {
    return `model option ${this.option}: expected ${this.expected}, found ${this.found}`
  }
}

/** A batch whose arrays do not fit together or hold ids outside the vocabulary. */
export class InvalidBatch extends Schema.TaggedError<InvalidBatch>()("InvalidBatch", {
  field: Schema.String,
  expected: Schema.String,
  found: Schema.String,
}) {
  override get message(): string {
    return `batch field ${this.field}: expected ${this.expected}, found ${this.found}`
  }
}
