/**
 * The conformance suite of the tensor interface (`Tensor.ts`): one list of cases, defined once,
 * that every backend runs (as TensorFlow.js runs one suite against each of its backends). A
 * case is plain data, `{ name, run(backend) }`, and throws on a mismatch, so any test runner can
 * drive it.
 *
 * What it checks, against the float64 oracle of `Reference.ts`:
 * - forward values of every op, with shapes and values drawn by fast-check (ranks 0-3 where the
 *   op allows, broadcasting pairs built deliberately), within float32 tolerances;
 * - the gradient of every differentiable op: inputs become parameters, the loss is
 *   sum(w * op(inputs)) for random weights w, and `valueAndGrads` must match central finite
 *   differences of the float64 reference (inputs are kept away from kinks and ties, where the
 *   derivative is not defined);
 * - stopGradient, gradient routing, the three optimisers against their update rules, optimiser
 *   and parameter checkpoints, dtypes, and memory: every property runs inside a scope and fails
 *   if any tensor outlives it.
 *
 * Seeds are fixed (derived from each case's name), so a failure reproduces exactly.
 *
 * Its parts live in `conformance/`, one file per concept: the shape of a case and the
 * tolerances (`Case.ts`), host values and assertions (`HostValues.ts`), leak-checked sessions
 * (`Sessions.ts`), arbitraries (`Arbitraries.ts`), op specifications and the cases made from
 * them (`OpSpec.ts`), the op specs themselves (`OpSpecs.ts`), the optimisers (`Optimisers.ts`),
 * the rest of the contract (`Contract.ts`) and the whole suite (`Suite.ts`). This module is
 * their public face.
 *
 * @module
 */

export type { Domain, ShapeConstraints } from "./conformance/Arbitraries.ts"
export {
  arbBroadcastShapes,
  arbBroadcastTo,
  arbDistinctNd,
  arbGridNd,
  arbNd,
  arbShape,
  arbSmallIntNd,
  arbValues,
  defaultDomain,
} from "./conformance/Arbitraries.ts"
export type {
  ConformanceCase,
  ConformanceOptions,
  CrossBackendCase,
  Tolerance,
} from "./conformance/Case.ts"
export {
  adagradEpsilon,
  defaultInitialAccumulator,
  finiteDifferenceStep,
  forwardTolerance,
  gradientTolerance,
  optimizerTolerance,
} from "./conformance/Case.ts"
export {
  assertAgree,
  assertClose,
  fromTensor,
  randomIds,
  randomNd,
  seededRandom,
  toTensor,
} from "./conformance/HostValues.ts"
export type { Example, OpSpec } from "./conformance/OpSpec.ts"
export { finiteDifferences, lossGradients, opCases } from "./conformance/OpSpec.ts"
export { opSpecs } from "./conformance/OpSpecs.ts"
export { referenceOptimizer } from "./conformance/Optimisers.ts"
export type { Session } from "./conformance/Sessions.ts"
export { inSession } from "./conformance/Sessions.ts"
export { conformanceCases, crossBackendCases, makeConformanceCases } from "./conformance/Suite.ts"
