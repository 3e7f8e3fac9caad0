/**
 * A model's configuration as an Effect Schema whose every field carries its default: decoding
 * `{}` gives the defaults, decoding a partial object fills in the rest, and a value out of range
 * or an unknown key is an {@link InvalidConfig} naming the field. Each base model states its
 * defaults once, in its schema ({@link option}); {@link resolver} merges layers of options
 * (later layers win) and decodes the result.
 *
 * @module
 */
import { Effect, Result, Schema, SchemaIssue } from "effect"
import { InvalidConfig } from "../Errors.ts"

/** A field of a configuration schema: `schema`, defaulting to `value` when the key is absent. */
export const option = <S extends Schema.Top & { readonly Encoded: S["Type"] }>(
  schema: S,
  value: S["Type"],
) => schema.pipe(Schema.withDecodingDefaultKey(Effect.succeed(value)))

/** An integer >= `min`. */
export const integerAtLeast = (min: number) => Schema.Int.check(Schema.isGreaterThanOrEqualTo(min))

/** A finite number >= 0. */
export const nonNegative = Schema.Finite.check(Schema.isGreaterThanOrEqualTo(0))

/** A non-empty list of layer widths, each a positive integer. */
export const layerSizes = Schema.Array(integerAtLeast(1)).check(Schema.isMinLength(1))

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

/** The value at `path` of `input` (for the error's `found`). */
const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown =>
  path.reduce<unknown>(
    (value, key) =>
      value !== null && typeof value === "object"
        ? (value as Record<PropertyKey, unknown>)[key]
        : undefined,
    input,
  )

/** `attentionHidden[1]` for the path ["attentionHidden", 1]. */
const fieldName = (path: ReadonlyArray<PropertyKey>): string =>
  path
    .map((key, i) =>
      typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`,
    )
    .join("")

/** The first issue of a failed decoding as an {@link InvalidConfig} naming its field. */
const invalidConfig = (issue: SchemaIssue.Issue, input: unknown): InvalidConfig => {
  const first = formatter(issue).issues[0]
  const path = (first?.path ?? []).map((p) => (typeof p === "object" ? p.key : p))
  const message = first?.message ?? "a valid configuration"
  const unknownKey = message === "Expected no excess property"
  const found = valueAt(input, path)
  return new InvalidConfig({
    option: path.length === 0 ? "(configuration)" : fieldName(path),
    expected: unknownKey
      ? "no such option"
      : message.replace(/^Expected /, "").replace(/, got .*$/, ""),
    found: found === undefined ? "nothing" : JSON.stringify(found),
  })
}

/** Later layers win; keys whose value is undefined are skipped. */
const merge = (layers: ReadonlyArray<object | undefined>): Record<string, unknown> => {
  const merged: Record<string, unknown> = {}
  for (const layer of layers)
    if (layer !== undefined)
      for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value
  return merged
}

/**
 * The one resolution step of a configuration schema: its defaults, then each layer in order
 * (for a study: its options, then an experiment's overrides), decoded and checked. Fails with
 * an {@link InvalidConfig} naming the first bad field (an unknown key included).
 */
export const resolver =
  <C>(schema: Schema.Codec<C, Partial<C>>) =>
  (...layers: ReadonlyArray<object | undefined>): Result.Result<C, InvalidConfig> => {
    const input = merge(layers)
    return Result.mapError(
      Schema.decodeUnknownResult(schema)(input, { onExcessProperty: "error", errors: "first" }),
      (error) => invalidConfig(error.issue, input),
    )
  }
