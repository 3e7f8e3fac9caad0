/**
 * The shape of the conformance suite: a case, a cross-backend case, their options and the
 * tolerances every comparison uses.
 *
 * @module
 */
import type { TensorBackend } from "../../Tensor.ts"
import type { NdArray } from "../Reference.ts"

/** One check of a backend. `run` throws (an `Error` naming what differed) when the backend fails. */
export interface ConformanceCase {
  readonly name: string
  readonly run: (backend: TensorBackend) => void
}

/**
 * A check that compares backends with each other rather than with the reference. `compute` runs
 * on each backend in turn (some libraries have one active backend at a time) and returns host
 * values; {@link assertAgree} then compares every backend's values with the first one's.
 */
export interface CrossBackendCase {
  readonly name: string
  readonly compute: (backend: TensorBackend) => ReadonlyArray<NdArray>
  readonly tolerance: Tolerance
}

export interface ConformanceOptions {
  /** Base seed of every property (each case mixes in a hash of its name). */
  readonly seed?: number
  /** Examples per property. */
  readonly numRuns?: number
}

/** `|actual - expected| <= atol + rtol * |expected|`, elementwise. */
export interface Tolerance {
  readonly atol: number
  readonly rtol: number
}

/** Forward values: float32 arithmetic against float64. */
export const forwardTolerance: Tolerance = { atol: 1e-5, rtol: 1e-4 }
/** Gradients of float32 backends against float64 central differences. */
export const gradientTolerance: Tolerance = { atol: 2e-3, rtol: 2e-3 }
/** Step of the central finite differences (inputs stay farther than this from every kink). */
export const finiteDifferenceStep = 1e-4
/** Optimiser updates: a few float32 steps against float64. */
export const optimizerTolerance: Tolerance = { atol: 1e-5, rtol: 1e-4 }
/** TensorFlow's Adagrad accumulator start, the interface's default. */
export const defaultInitialAccumulator = 0.1
/** The epsilon the interface's Adagrad adds under the square root (`w -= lr g / sqrt(acc + eps)`). */
export const adagradEpsilon = 1e-10

export const defaults = { seed: 20_240_611, numRuns: 50 }
