/**
 * The content hash that binds a repro run's folder to its data (`fingerprint.json`): written by
 * `apps/repro` before anything trains, checked by `apps/use` before a trained model is used on
 * data prepared again from the run's recorded options.
 *
 * @module
 */
import { createHash } from "node:crypto"
import type { PreparedDataset } from "./Prepared.ts"

/**
 * SHA-256 of what models train and are selected on: the sizes and protocol settings (k-core,
 * history length, negatives, candidates, the split's seed, rating threshold), the sequences, the
 * validation and test targets and candidates, the attributes and exposure negatives, and the
 * front-door world's interventional test. Integer arrays only: the simulators' float truths
 * never reach a model. Neither do the ids' spellings, so a renamed copy of a file binds alike.
 */
export const dataFingerprint = (data: PreparedDataset): string => {
  const hash = createHash("sha256")
  hash.update(
    `causald-fingerprint v1\n${JSON.stringify({ users: data.numUsers, items: data.numItems, config: data.config })}\n`,
  )
  const add = (key: string, a: Int32Array) => {
    hash.update(`${key} ${a.length}\n`)
    hash.update(new Uint8Array(a.buffer, a.byteOffset, a.byteLength))
  }
  add("sequenceOffsets", data.sequenceOffsets)
  add("sequenceItems", data.sequenceItems)
  add("validation.target", data.validation.target)
  add("validation.candidates", data.validation.candidates)
  add("test.target", data.test.target)
  add("test.candidates", data.test.candidates)
  for (const a of data.attributes ?? []) {
    hash.update(`attribute ${JSON.stringify([a.name, a.labels])}\n`)
    add(`attribute.${a.name}`, a.codes)
  }
  if (data.exposureNegatives !== undefined) {
    add("exposure.offsets", data.exposureNegatives.offsets)
    add("exposure.items", data.exposureNegatives.items)
  }
  if (data.oracles !== undefined) {
    add("interventional.target", data.oracles.interventionalTest.target)
    add("interventional.candidates", data.oracles.interventionalTest.candidates)
  }
  return hash.digest("hex")
}
