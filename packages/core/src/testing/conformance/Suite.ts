/**
 * The suite: every case of the conformance suite, and the checks that compare backends with each
 * other.
 *
 * @module
 */
import {
  type ConformanceCase,
  type ConformanceOptions,
  type CrossBackendCase,
  defaults,
} from "./Case.ts"
import { contractCases } from "./Contract.ts"
import { randomIds, randomNd, show, toTensor } from "./HostValues.ts"
import { lossGradients, opCases } from "./OpSpec.ts"
import { opSpecs } from "./OpSpecs.ts"
import { optimizerCases } from "./Optimisers.ts"

/** The whole suite with explicit options. */
export const makeConformanceCases = (
  options: ConformanceOptions = {},
): ReadonlyArray<ConformanceCase> => {
  const o = { ...defaults, ...options }
  return [
    ...opSpecs().flatMap((spec) => opCases(spec, o)),
    ...contractCases(o),
    ...optimizerCases(o),
  ]
}

/** The conformance suite every backend runs (fixed seed, 50 runs per property). */
export const conformanceCases: ReadonlyArray<ConformanceCase> = makeConformanceCases()

/** The gradient of an embedding lookup, sum(w * gather(table, ids)), for one random table and ids. */
const embeddingGradientCase = (
  rows: number,
  dim: number,
  idsShape: ReadonlyArray<number>,
  seed: number,
): CrossBackendCase => ({
  name: `embedding gradient: table [${rows},${dim}], ids ${show(idsShape)}`,
  tolerance: { atol: 1e-5, rtol: 0 },
  compute: (backend) => {
    const table = randomNd(seed, [rows, dim])
    const ids = randomIds(seed + 1, idsShape, rows)
    const weights = randomNd(seed + 2, [...idsShape, dim])
    return lossGradients(
      backend,
      [table],
      ([t]) => backend.gather(t, toTensor(backend, ids, "int32")),
      weights,
    ).grads
  },
})

/** Checks that compare backends with each other (the first backend is the reference). */
export const crossBackendCases: ReadonlyArray<CrossBackendCase> = [
  embeddingGradientCase(7, 3, [16], 11),
  embeddingGradientCase(50, 8, [32, 5], 12),
  embeddingGradientCase(1000, 16, [128, 20], 13),
]
