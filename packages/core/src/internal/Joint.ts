/**
 * The registry of the joint distributions the core has built. Only this module can put a joint in
 * it, so {@link isBuilt} proves at run time that a value came from `Adjustment.fromProbabilities`,
 * `Adjustment.fromSamples`, `Adjustment.marginal` or `CausalModel`, never from an object literal,
 * a spread copy or a cast: what TypeScript's brand on `Adjustment.Joint` says for typed callers,
 * this says for JavaScript ones.
 *
 * Not exported from the package: `make` trusts its caller, so only code that has validated the
 * distribution (or computed it from validated parts, as CausalModel does from row-stochastic CPTs)
 * may call it.
 *
 * @internal
 */
import type { Joint } from "../Adjustment.ts"

const built = new WeakSet<object>()

/** How far from one the probabilities of a Joint may sum. */
export const SUM_TOLERANCE = 1e-9

/**
 * A registered joint over `variables`. The object and its two arrays are frozen, so the shape that
 * was validated cannot change afterwards; `probabilities` is taken as is (not copied), and its
 * entries, which a Float64Array cannot freeze, are checked again by every estimator.
 */
export const make = <V extends string>(
  variables: ReadonlyArray<V>,
  cardinalities: ReadonlyArray<number>,
  probabilities: Float64Array,
): Joint<V> => {
  const joint = Object.freeze({
    variables: Object.freeze([...variables]),
    cardinalities: Object.freeze([...cardinalities]),
    probabilities,
  })
  built.add(joint)
  return joint as Joint<V>
}

/** Whether `u` is a joint that {@link make} built. */
export const isBuilt = (u: unknown): boolean => typeof u === "object" && u !== null && built.has(u)
