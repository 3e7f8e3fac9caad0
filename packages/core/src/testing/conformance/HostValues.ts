/**
 * Host values of the conformance suite: tensors to and from float64 arrays, the assertions that
 * compare them, and the seeded random arrays of the deterministic cases.
 *
 * @module
 */
import type { Tensor, TensorBackend } from "../../Tensor.ts"
import type { NdArray } from "../Reference.ts"
import * as R from "../Reference.ts"
import type { Tolerance } from "./Case.ts"

/** A tensor of the values of `x` (float32, or int32 truncating). */
export const toTensor = (
  backend: TensorBackend,
  x: NdArray,
  dtype: "float32" | "int32" = "float32",
): Tensor =>
  dtype === "int32"
    ? backend.tensor(Int32Array.from(x.data, Math.trunc), x.shape, "int32")
    : backend.tensor(Float32Array.from(x.data), x.shape, "float32")

/** The values of a tensor (any dtype) as float64. */
export const fromTensor = (backend: TensorBackend, x: Tensor): NdArray => ({
  shape: [...x.shape],
  data: Float64Array.from(backend.read(x)),
})

export const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i])

export const show = (shape: ReadonlyArray<number>): string => `[${shape.join(",")}]`

const indexOf = (flat: number, shape: ReadonlyArray<number>): string => {
  const index: Array<number> = []
  for (let i = shape.length - 1; i >= 0; i--) {
    index.unshift(flat % shape[i])
    flat = Math.floor(flat / shape[i])
  }
  return `[${index.join(",")}]`
}

/** Throws unless `actual` has `expected`'s shape and values within `tolerance` (NaN matches only NaN). */
export const assertClose = (
  label: string,
  actual: NdArray,
  expected: NdArray,
  tolerance: Tolerance,
): void => {
  if (!sameShape(actual.shape, expected.shape))
    throw new Error(`${label}: shape ${show(actual.shape)}, expected ${show(expected.shape)}`)
  const bad: Array<string> = []
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual.data[i]
    const e = expected.data[i]
    const ok = Number.isNaN(e)
      ? Number.isNaN(a)
      : a === e || Math.abs(a - e) <= tolerance.atol + tolerance.rtol * Math.abs(e)
    if (!ok) bad.push(`at ${indexOf(i, expected.shape)} got ${a}, expected ${e}`)
  }
  if (bad.length > 0)
    throw new Error(
      `${label}: ${bad.length} of ${expected.data.length} values differ beyond atol ${tolerance.atol} + rtol ${tolerance.rtol}: ${bad.slice(0, 6).join("; ")}`,
    )
}

/** Throws unless both lists hold the same number of arrays and each pair agrees within `tolerance`. */
export const assertAgree = (
  label: string,
  reference: ReadonlyArray<NdArray>,
  other: ReadonlyArray<NdArray>,
  tolerance: Tolerance,
): void => {
  if (reference.length !== other.length)
    throw new Error(`${label}: ${other.length} arrays, expected ${reference.length}`)
  for (const [i, r] of reference.entries())
    assertClose(`${label} (array ${i})`, other[i], r, tolerance)
}

export const check = (condition: boolean, message: () => string): void => {
  if (!condition) throw new Error(message())
}

/** Collects failed expectations and throws them together, so a case reports every problem. */
export const expectations = () => {
  const failures: Array<string> = []
  return {
    that: (condition: boolean, message: string): void => {
      if (!condition) failures.push(message)
    },
    done: (): void => check(failures.length === 0, () => failures.join("; ")),
  }
}

/** A small seeded generator (mulberry32): the random weights and tables of the cases. */
export const seededRandom = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Seeded float32-representable values uniform in [min, max). */
export const randomNd = (
  seed: number,
  shape: ReadonlyArray<number>,
  min = -1,
  max = 1,
): NdArray => {
  const next = seededRandom(seed)
  return R.nd(
    shape,
    Array.from({ length: R.sizeOf(shape) }, () => Math.fround(min + (max - min) * next())),
  )
}

/** Seeded integers uniform in [0, bound). */
export const randomIds = (seed: number, shape: ReadonlyArray<number>, bound: number): NdArray => {
  const next = seededRandom(seed)
  return R.nd(
    shape,
    Array.from({ length: R.sizeOf(shape) }, () => Math.floor(next() * bound)),
  )
}
