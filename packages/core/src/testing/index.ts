/**
 * `@causald/core/testing`: the backend conformance suite of the tensor interface and its float64
 * reference. A backend package runs {@link conformanceCases} (and {@link crossBackendCases}
 * across its backends) under its own test runner.
 *
 * @module @causald/core/testing
 */
export * from "./Conformance.ts"
export type { NdArray } from "./Reference.ts"
export * as Reference from "./Reference.ts"
