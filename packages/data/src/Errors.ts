/**
 * Typed errors of the data package. Every failure a user can cause (a missing or malformed
 * file, a protocol that leaves nothing to train on, a bad option) is one of these tagged
 * errors, naming the file, the line and what was expected. Plain functions throw them; the
 * Effect programs turn them into typed failures (see {@link attempt}).
 *
 * @module
 */
import { Effect, Schema } from "effect"

/** A file could not be opened, read or written (not found, permission, disk full). */
export class FileError extends Schema.TaggedError<FileError>()("FileError", {
  file: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.file}: ${this.reason}`
  }
}

/** A file holds no record at all (zero bytes, or only blank lines / a header). */
export class EmptyFile extends Schema.TaggedError<EmptyFile>()("EmptyFile", {
  file: Schema.String,
  expected: Schema.String,
}) {
  override get message(): string {
    return `${this.file}: the file holds no record; expected ${this.expected}`
  }
}

/** A line does not have the expected shape (separator, field count, numeric id or time). */
export class ParseError extends Schema.TaggedError<ParseError>()("ParseError", {
  file: Schema.String,
  line: Schema.Number,
  expected: Schema.String,
  found: Schema.String,
}) {
  override get message(): string {
    return `${this.file}:${this.line}: expected ${this.expected}, found ${this.found}`
  }
}

/** A line holds bytes that are not valid UTF-8. */
export class InvalidUtf8 extends Schema.TaggedError<InvalidUtf8>()("InvalidUtf8", {
  file: Schema.String,
  line: Schema.Number,
}) {
  override get message(): string {
    return `${this.file}:${this.line}: expected UTF-8 text, found an invalid byte sequence`
  }
}

/** A user of the interaction file has no row in the user-attribute file. */
export class MissingUserAttributes extends Schema.TaggedError<MissingUserAttributes>()(
  "MissingUserAttributes",
  { file: Schema.String, user: Schema.String },
) {
  override get message(): string {
    return `${this.file}: expected a row for user ${this.user}, found none`
  }
}

/**
 * No row is a positive interaction (an exposure log without a clicked row, or no rating at or
 * above the threshold): there is nothing to train on, whatever the k-core.
 */
export class NoPositiveInteractions extends Schema.TaggedError<NoPositiveInteractions>()(
  "NoPositiveInteractions",
  { dataset: Schema.String, rows: Schema.Number, expected: Schema.String },
) {
  override get message(): string {
    return `${this.dataset}: no positive interactions in ${this.rows} rows; expected ${this.expected}`
  }
}

/** k-core filtering removed every user. */
export class NoUsersLeft extends Schema.TaggedError<NoUsersLeft>()("NoUsersLeft", {
  dataset: Schema.String,
  kCore: Schema.Number,
  usersBefore: Schema.Number,
  interactionsBefore: Schema.Number,
}) {
  override get message(): string {
    return (
      `${this.dataset}: no user is left after ${this.kCore}-core filtering ` +
      `(${this.usersBefore} users, ${this.interactionsBefore} interactions before); ` +
      `expected a smaller k-core for this data set`
    )
  }
}

/**
 * A user reaches the leave-last-out split with fewer than 3 interactions (one for training
 * history, one validation target, one test target). Only possible with a k-core below 3.
 */
export class TooFewInteractions extends Schema.TaggedError<TooFewInteractions>()(
  "TooFewInteractions",
  { dataset: Schema.String, user: Schema.String, count: Schema.Number, needed: Schema.Number },
) {
  override get message(): string {
    return (
      `${this.dataset}: user ${this.user} has ${this.count} interactions at the split; ` +
      `expected at least ${this.needed} (raise the k-core)`
    )
  }
}

/** A user has consumed so many items that N unconsumed candidates cannot be drawn. */
export class NotEnoughCandidates extends Schema.TaggedError<NotEnoughCandidates>()(
  "NotEnoughCandidates",
  { dataset: Schema.String, user: Schema.String, available: Schema.Number, needed: Schema.Number },
) {
  override get message(): string {
    return (
      `${this.dataset}: user ${this.user} has ${this.available} unconsumed items; ` +
      `expected at least ${this.needed} to draw the evaluation candidates`
    )
  }
}

/** An option is out of its domain (negative batch size, unknown attribute, ...). */
export class InvalidOption extends Schema.TaggedError<InvalidOption>()("InvalidOption", {
  option: Schema.String,
  expected: Schema.String,
  found: Schema.String,
}) {
  override get message(): string {
    return `option ${this.option}: expected ${this.expected}, found ${this.found}`
  }
}

/** The cache folder cannot be created or written. */
export class CacheError extends Schema.TaggedError<CacheError>()("CacheError", {
  file: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `cache ${this.file}: ${this.reason}`
  }
}

/** Every error the data package can fail with. */
export type DataError =
  | FileError
  | EmptyFile
  | ParseError
  | InvalidUtf8
  | MissingUserAttributes
  | NoPositiveInteractions
  | NoUsersLeft
  | TooFewInteractions
  | NotEnoughCandidates
  | InvalidOption
  | CacheError

const tags: ReadonlySet<string> = new Set([
  "FileError",
  "EmptyFile",
  "ParseError",
  "InvalidUtf8",
  "MissingUserAttributes",
  "NoPositiveInteractions",
  "NoUsersLeft",
  "TooFewInteractions",
  "NotEnoughCandidates",
  "InvalidOption",
  "CacheError",
])

/** Whether a thrown value is one of this package's typed errors. */
export const isDataError = (u: unknown): u is DataError =>
  typeof u === "object" &&
  u !== null &&
  "_tag" in u &&
  typeof (u as { _tag: unknown })._tag === "string" &&
  tags.has((u as { _tag: string })._tag)

/**
 * Runs a plain function that may throw a {@link DataError}: the typed error becomes the
 * Effect's failure, anything else is a defect (a bug, not bad input).
 */
export const attempt = <A>(f: () => A): Effect.Effect<A, DataError> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      return isDataError(e) ? Effect.fail(e) : Effect.die(e)
    }
  })

/** Shows a piece of a line in an error message: at most 80 characters, control bytes escaped. */
export const excerpt = (bytes: Uint8Array, start: number, end: number): string => {
  const stop = Math.min(end, start + 80)
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes.subarray(start, stop))
  return JSON.stringify(text + (stop < end ? "..." : ""))
}
