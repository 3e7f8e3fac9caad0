/**
 * A float64 reference of every operation of the tensor interface (`Tensor.ts`), in plain
 * TypeScript on a tiny row-major ndarray. It is the oracle of the conformance suite: written for
 * obvious correctness (one index computation per element, no fast paths), not for speed.
 *
 * Bool results are arrays of 0/1; int32 casts truncate toward zero.
 *
 * @module
 */

/** A row-major n-dimensional array of float64 values. `shape: []` is a scalar. */
export interface NdArray {
  readonly shape: ReadonlyArray<number>
  readonly data: Float64Array
}

/** Number of elements of a shape. */
export const sizeOf = (shape: ReadonlyArray<number>): number => shape.reduce((a, d) => a * d, 1)

/** An ndarray from values (copied), checking that their count matches the shape. */
export const nd = (shape: ReadonlyArray<number>, values: ArrayLike<number>): NdArray => {
  if (values.length !== sizeOf(shape))
    throw new Error(`nd: ${values.length} values for shape [${shape.join(",")}]`)
  return { shape: [...shape], data: Float64Array.from(values) }
}

/** Row-major strides (in elements) of a shape. */
export const stridesOf = (shape: ReadonlyArray<number>): Array<number> => {
  const strides = new Array<number>(shape.length)
  let stride = 1
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride
    stride *= shape[i]
  }
  return strides
}

/** The multi-index of flat position `flat` in `shape`. */
const unravel = (flat: number, shape: ReadonlyArray<number>): Array<number> => {
  const index = new Array<number>(shape.length)
  for (let i = shape.length - 1; i >= 0; i--) {
    index[i] = flat % shape[i]
    flat = Math.floor(flat / shape[i])
  }
  return index
}

const ravel = (index: ReadonlyArray<number>, strides: ReadonlyArray<number>): number =>
  index.reduce((o, k, i) => o + k * strides[i], 0)

/** An ndarray of `shape` whose element at multi-index `i` is `f(i)`. */
const build = (shape: ReadonlyArray<number>, f: (index: Array<number>) => number): NdArray => {
  const data = new Float64Array(sizeOf(shape))
  for (let i = 0; i < data.length; i++) data[i] = f(unravel(i, shape))
  return { shape: [...shape], data }
}

/** `x` at a multi-index. */
const at = (x: NdArray, index: ReadonlyArray<number>): number =>
  x.data[ravel(index, stridesOf(x.shape))]

/** Normalises a possibly negative axis of a rank-`rank` array. */
export const normalizeAxis = (axis: number, rank: number): number => {
  const a = axis < 0 ? axis + rank : axis
  if (a < 0 || a >= rank) throw new Error(`axis ${axis} out of range for rank ${rank}`)
  return a
}

// --- broadcasting and elementwise ------------------------------------------------------------

/** The NumPy broadcast of shapes: trailing axes aligned, size-1 axes stretched. */
export const broadcastShapes = (...shapes: ReadonlyArray<ReadonlyArray<number>>): Array<number> => {
  const rank = Math.max(0, ...shapes.map((s) => s.length))
  const out = new Array<number>(rank).fill(1)
  for (const s of shapes)
    s.forEach((d, i) => {
      const j = rank - s.length + i
      if (d !== 1 && out[j] !== 1 && out[j] !== d)
        throw new Error(
          `shapes [${shapes.map((x) => x.join(",")).join("] and [")}] do not broadcast`,
        )
      if (d !== 1) out[j] = d
    })
  return out
}

export const broadcastTo = (x: NdArray, shape: ReadonlyArray<number>): NdArray => {
  const offset = shape.length - x.shape.length
  if (offset < 0 || x.shape.some((d, i) => d !== 1 && d !== shape[offset + i]))
    throw new Error(`cannot broadcast [${x.shape.join(",")}] to [${shape.join(",")}]`)
  return build(shape, (index) =>
    at(
      x,
      x.shape.map((d, i) => (d === 1 ? 0 : index[offset + i])),
    ),
  )
}

export const map = (x: NdArray, f: (v: number) => number): NdArray => ({
  shape: [...x.shape],
  data: x.data.map(f),
})

export const zipWith = (a: NdArray, b: NdArray, f: (x: number, y: number) => number): NdArray => {
  const shape = broadcastShapes(a.shape, b.shape)
  const ab = broadcastTo(a, shape)
  const bb = broadcastTo(b, shape)
  return { shape, data: ab.data.map((v, i) => f(v, bb.data[i])) }
}

export const add = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => x + y)
export const sub = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => x - y)
export const mul = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => x * y)
export const div = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => x / y)
export const maximum = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, Math.max)
export const minimum = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, Math.min)

/** ln(1 + e^x) without overflow. */
const softplusScalar = (x: number): number =>
  x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x))

export const neg = (x: NdArray): NdArray => map(x, (v) => -v)
export const exp = (x: NdArray): NdArray => map(x, Math.exp)
export const log = (x: NdArray): NdArray => map(x, Math.log)
export const sqrt = (x: NdArray): NdArray => map(x, Math.sqrt)
export const square = (x: NdArray): NdArray => map(x, (v) => v * v)
export const abs = (x: NdArray): NdArray => map(x, Math.abs)
export const sigmoid = (x: NdArray): NdArray => map(x, (v) => 1 / (1 + Math.exp(-v)))
export const relu = (x: NdArray): NdArray => map(x, (v) => Math.max(v, 0))
export const tanh = (x: NdArray): NdArray => map(x, Math.tanh)
export const softplus = (x: NdArray): NdArray => map(x, softplusScalar)
export const logSigmoid = (x: NdArray): NdArray => map(x, (v) => -softplusScalar(-v))

const bool = (p: boolean): number => (p ? 1 : 0)
export const greater = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => bool(x > y))
export const greaterEqual = (a: NdArray, b: NdArray): NdArray =>
  zipWith(a, b, (x, y) => bool(x >= y))
export const less = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => bool(x < y))
export const lessEqual = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => bool(x <= y))
export const equal = (a: NdArray, b: NdArray): NdArray => zipWith(a, b, (x, y) => bool(x === y))

/** `condition ? a : b`, all three broadcast together; `condition` is 0/1. */
export const where = (condition: NdArray, a: NdArray, b: NdArray): NdArray => {
  const shape = broadcastShapes(condition.shape, a.shape, b.shape)
  const [c, x, y] = [condition, a, b].map((t) => broadcastTo(t, shape)) as [
    NdArray,
    NdArray,
    NdArray,
  ]
  return { shape, data: c.data.map((v, i) => (v !== 0 ? x.data[i] : y.data[i])) }
}

/** float32 rounds, int32 truncates toward zero, bool is `x != 0`. */
export const cast = (x: NdArray, dtype: "float32" | "int32" | "bool"): NdArray =>
  map(x, dtype === "float32" ? Math.fround : dtype === "int32" ? Math.trunc : (v) => bool(v !== 0))

// --- reductions -----------------------------------------------------------------------------

/** Sorted distinct non-negative axes; `undefined` means every axis. */
export const normalizeAxes = (
  axes: number | ReadonlyArray<number> | undefined,
  rank: number,
): Array<number> =>
  axes === undefined
    ? Array.from({ length: rank }, (_, i) => i)
    : [
        ...new Set((typeof axes === "number" ? [axes] : axes).map((a) => normalizeAxis(a, rank))),
      ].sort((a, b) => a - b)

const reduce = (
  x: NdArray,
  axes: number | ReadonlyArray<number> | undefined,
  keepDims: boolean,
  init: number,
  f: (acc: number, v: number) => number,
): NdArray => {
  const reduced = normalizeAxes(axes, x.shape.length)
  const keptShape = x.shape.map((d, i) => (reduced.includes(i) ? 1 : d))
  const keptStrides = stridesOf(keptShape)
  const out = new Float64Array(sizeOf(keptShape)).fill(init)
  for (let i = 0; i < x.data.length; i++) {
    const o = ravel(
      unravel(i, x.shape).map((k, axis) => (reduced.includes(axis) ? 0 : k)),
      keptStrides,
    )
    out[o] = f(out[o], x.data[i])
  }
  return { shape: keepDims ? keptShape : x.shape.filter((_, i) => !reduced.includes(i)), data: out }
}

export const sum = (x: NdArray, axes?: number | ReadonlyArray<number>, keepDims = false): NdArray =>
  reduce(x, axes, keepDims, 0, (a, v) => a + v)

export const max = (x: NdArray, axes?: number | ReadonlyArray<number>, keepDims = false): NdArray =>
  reduce(x, axes, keepDims, Number.NEGATIVE_INFINITY, Math.max)

export const mean = (
  x: NdArray,
  axes?: number | ReadonlyArray<number>,
  keepDims = false,
): NdArray => {
  const count = normalizeAxes(axes, x.shape.length).reduce((n, a) => n * x.shape[a], 1)
  return map(sum(x, axes, keepDims), (v) => v / count)
}

export const softmax = (x: NdArray, axis = -1): NdArray => {
  const e = exp(sub(x, max(x, axis, true)))
  return div(e, sum(e, axis, true))
}

export const logSoftmax = (x: NdArray, axis = -1): NdArray => {
  const shifted = sub(x, max(x, axis, true))
  return sub(shifted, log(sum(exp(shifted), axis, true)))
}

// --- shape ----------------------------------------------------------------------------------

/** One dimension may be -1 (inferred from the size). */
export const reshape = (x: NdArray, shape: ReadonlyArray<number>): NdArray => {
  const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1)
  const resolved = shape.map((d) => (d === -1 ? x.data.length / known : d))
  if (sizeOf(resolved) !== x.data.length || resolved.some((d) => !Number.isInteger(d)))
    throw new Error(`cannot reshape [${x.shape.join(",")}] to [${shape.join(",")}]`)
  return { shape: resolved, data: x.data.slice() }
}

export const expandDims = (x: NdArray, axis: number): NdArray => {
  const a = axis < 0 ? x.shape.length + 1 + axis : axis
  return reshape(x, [...x.shape.slice(0, a), 1, ...x.shape.slice(a)])
}

export const tile = (x: NdArray, reps: ReadonlyArray<number>): NdArray =>
  build(
    x.shape.map((d, i) => d * reps[i]),
    (index) =>
      at(
        x,
        index.map((k, i) => k % x.shape[i]),
      ),
  )

export const concat = (xs: ReadonlyArray<NdArray>, axis: number): NdArray => {
  const first = xs[0]
  const a = normalizeAxis(axis, first.shape.length)
  const shape = first.shape.map((d, i) => (i === a ? xs.reduce((n, x) => n + x.shape[a], 0) : d))
  return build(shape, (index) => {
    let k = index[a]
    for (const x of xs) {
      if (k < x.shape[a])
        return at(
          x,
          index.map((v, i) => (i === a ? k : v)),
        )
      k -= x.shape[a]
    }
    throw new Error("concat: index out of range")
  })
}

/** `size[i] = -1` takes everything from `begin[i]` to the end of axis i. */
export const slice = (
  x: NdArray,
  begin: ReadonlyArray<number>,
  size: ReadonlyArray<number>,
): NdArray =>
  build(
    x.shape.map((d, i) => (size[i] === -1 ? d - begin[i] : size[i])),
    (index) =>
      at(
        x,
        index.map((k, i) => k + begin[i]),
      ),
  )

/** Output axis i is input axis perm[i]; without `perm`, axes are reversed. */
export const transpose = (x: NdArray, perm?: ReadonlyArray<number>): NdArray => {
  const p = perm ?? x.shape.map((_, i) => x.shape.length - 1 - i)
  return build(
    p.map((a) => x.shape[a]),
    (index) => {
      const source = new Array<number>(p.length)
      p.forEach((a, i) => {
        source[a] = index[i]
      })
      return at(x, source)
    },
  )
}

// --- lookups and products -------------------------------------------------------------------

/** Rows of `table` at integer `ids` (any shape): shape ids.shape ++ table.shape[1..]. */
export const gather = (table: NdArray, ids: NdArray): NdArray => {
  const inner = table.shape.slice(1)
  return build([...ids.shape, ...inner], (index) => {
    const id = ids.data[ravel(index.slice(0, ids.shape.length), stridesOf(ids.shape))]
    if (!Number.isInteger(id) || id < 0 || id >= table.shape[0])
      throw new Error(`gather: id ${id} out of range`)
    return at(table, [id, ...index.slice(ids.shape.length)])
  })
}

/** The transpose of the last two axes. */
const swapLast = (x: NdArray): NdArray => {
  const r = x.shape.length
  return transpose(
    x,
    x.shape.map((_, i) => (i === r - 2 ? r - 1 : i === r - 1 ? r - 2 : i)),
  )
}

/** [m, k] x [k, n] -> [m, n], or [b, m, k] x [b, k, n] -> [b, m, n]; flags transpose the last two axes first. */
export const matmul = (
  a: NdArray,
  b: NdArray,
  options: { readonly transposeA?: boolean; readonly transposeB?: boolean } = {},
): NdArray => {
  const x = options.transposeA === true ? swapLast(a) : a
  const y = options.transposeB === true ? swapLast(b) : b
  const r = x.shape.length
  const [m, k] = x.shape.slice(r - 2) as [number, number]
  const n = y.shape[r - 1]
  if (y.shape[r - 2] !== k || y.shape.length !== r || (r === 3 && x.shape[0] !== y.shape[0]))
    throw new Error(`matmul: [${a.shape.join(",")}] x [${b.shape.join(",")}] do not match`)
  return build([...x.shape.slice(0, r - 2), m, n], (index) => {
    const batch = index.slice(0, r - 2)
    const [i, j] = index.slice(r - 2) as [number, number]
    let s = 0
    for (let l = 0; l < k; l++) s += at(x, [...batch, i, l]) * at(y, [...batch, l, j])
    return s
  })
}
