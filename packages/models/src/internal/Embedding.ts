/**
 * Embedding tables and the vocabulary check shared by the base models (their options are checked
 * by their configuration schemas, `ConfigSchema.ts`).
 *
 * @module
 */
import { type Parameter, Random, type TensorBackend } from "@causald/core"
import { InvalidConfig } from "../Errors.ts"
import type { Vocabulary } from "../Recommender.ts"

/**
 * A [rows, width] table drawn from N(0, std²); with `paddingRow`, row 0 (the padding item) is
 * zero. Padding never reaches an output (every model masks it), so its row only stays zero.
 */
export const table = (
  backend: TensorBackend,
  name: string,
  rows: number,
  width: number,
  rng: Random.RandomGenerator,
  std: number,
  paddingRow: boolean,
): Parameter => {
  const values = Random.normalArray(rng, rows * width, std)
  if (paddingRow) values.fill(0, 0, width)
  return backend.parameter(name, values, [rows, width])
}

/** Throws {@link InvalidConfig} unless `value` is an integer >= `min`. */
export const checkInteger = (option: string, value: number, min: number): void => {
  if (!Number.isInteger(value) || value < min)
    throw new InvalidConfig({ option, expected: `an integer >= ${min}`, found: String(value) })
}

/** Throws {@link InvalidConfig} unless the vocabulary sizes are positive integers. */
export const checkVocabulary = (vocabulary: Vocabulary): void => {
  checkInteger("vocabulary.numUsers", vocabulary.numUsers, 1)
  checkInteger("vocabulary.numItems", vocabulary.numItems, 1)
}
