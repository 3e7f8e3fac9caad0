/**
 * The fast-check arbitraries of the conformance suite: values kept off kinks and ties, shapes,
 * broadcasting pairs and axes.
 *
 * @module
 */
import * as fc from "fast-check"
import type { NdArray } from "../Reference.ts"
import * as R from "../Reference.ts"

/** Where values are drawn: [min, max], and at least `gap` away from 0 when given (kinks). */
export interface Domain {
  readonly min: number
  readonly max: number
  readonly gap?: number
}

export const defaultDomain: Domain = { min: -2, max: 2 }

/** `n` float32-representable values of a domain. */
export const arbValues = (n: number, domain: Domain = defaultDomain): fc.Arbitrary<Float64Array> =>
  fc
    .array(fc.double({ min: domain.min, max: domain.max, noNaN: true }), {
      minLength: n,
      maxLength: n,
    })
    .map((vs) => {
      const gap = domain.gap ?? 0
      return Float64Array.from(vs, (v) =>
        Math.fround(Math.abs(v) >= gap ? v : v > 0 || Object.is(v, 0) ? v + gap : v - gap),
      )
    })

export const arbNd = (
  shape: ReadonlyArray<number>,
  domain: Domain = defaultDomain,
): fc.Arbitrary<NdArray> =>
  arbValues(R.sizeOf(shape), domain).map((data) => ({ shape: [...shape], data }))

/**
 * Pairwise distinct values 0.04 apart in [-4, 4]: no ties for `max` and softmax, and every
 * value farther than the finite-difference step from the others.
 */
export const arbDistinctNd = (shape: ReadonlyArray<number>): fc.Arbitrary<NdArray> => {
  const n = R.sizeOf(shape)
  return fc
    .uniqueArray(fc.integer({ min: -100, max: 100 }), { minLength: n, maxLength: n })
    .map((ks) => ({ shape: [...shape], data: Float64Array.from(ks, (k) => Math.fround(k / 25)) }))
}

/** Values on a grid: odd multiples of 0.05 (`odd`) or even ones, so an odd and an even never tie. */
export const arbGridNd = (shape: ReadonlyArray<number>, odd: boolean): fc.Arbitrary<NdArray> =>
  fc
    .array(fc.integer({ min: -20, max: 19 }), {
      minLength: R.sizeOf(shape),
      maxLength: R.sizeOf(shape),
    })
    .map((ks) => ({
      shape: [...shape],
      data: Float64Array.from(ks, (k) => Math.fround((2 * k + (odd ? 1 : 0)) * 0.05)),
    }))

/** Small integers as floats: comparisons see many ties. */
export const arbSmallIntNd = (
  shape: ReadonlyArray<number>,
  min = -2,
  max = 2,
): fc.Arbitrary<NdArray> =>
  fc
    .array(fc.integer({ min, max }), { minLength: R.sizeOf(shape), maxLength: R.sizeOf(shape) })
    .map((ks) => ({ shape: [...shape], data: Float64Array.from(ks) }))

export interface ShapeConstraints {
  readonly minRank?: number
  readonly maxRank?: number
  readonly minDim?: number
  readonly maxDim?: number
}

export const arbShape = (c: ShapeConstraints = {}): fc.Arbitrary<Array<number>> =>
  fc.array(fc.integer({ min: c.minDim ?? 1, max: c.maxDim ?? 4 }), {
    minLength: c.minRank ?? 0,
    maxLength: c.maxRank ?? 3,
  })

/** A view of `base` that broadcasts to it: leading axes dropped, some axes set to 1. */
const arbBroadcastView = (base: ReadonlyArray<number>): fc.Arbitrary<Array<number>> =>
  fc
    .record({
      drop: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: base.length })),
      ones: fc.array(fc.integer({ min: 0, max: 3 }), {
        minLength: base.length,
        maxLength: base.length,
      }),
    })
    .map(({ drop, ones }) => base.slice(drop).map((d, i) => (ones[drop + i] === 0 ? 1 : d)))

/** `count` shapes that broadcast together (NumPy rules): each a view of one common shape. */
export const arbBroadcastShapes = (
  count: number,
  c: ShapeConstraints = {},
): fc.Arbitrary<Array<Array<number>>> =>
  arbShape(c).chain((base) =>
    fc.tuple(...Array.from({ length: count }, () => arbBroadcastView(base))),
  )

/** A shape and a target it broadcasts to (the target may add leading axes). */
export const arbBroadcastTo = (
  c: ShapeConstraints = {},
): fc.Arbitrary<{ from: Array<number>; to: Array<number> }> =>
  arbShape(c).chain((to) => arbBroadcastView(to).map((from) => ({ from, to })))

export const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/** Axes of a rank-`rank` array: undefined, one axis, or a list, each possibly negative. */
export const arbAxes = (rank: number): fc.Arbitrary<number | Array<number> | undefined> => {
  const signed = (a: number): fc.Arbitrary<number> => fc.constantFrom(a, a - rank)
  if (rank === 0) return fc.constant(undefined)
  return fc.oneof(
    fc.constant(undefined),
    fc.integer({ min: 0, max: rank - 1 }).chain(signed),
    fc
      .shuffledSubarray(range(rank), { minLength: 1 })
      .chain((axes) => fc.tuple(...axes.map(signed))),
  )
}
