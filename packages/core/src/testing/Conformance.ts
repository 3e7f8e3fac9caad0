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
 * @module
 */
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import {
  type DType,
  type OptimizerSpec,
  type Parameter,
  type Tensor,
  type TensorBackend,
  Tensors,
  tensorScope,
} from "../Tensor.ts"
import type { NdArray } from "./Reference.ts"
import * as R from "./Reference.ts"

// --- the shape of the suite ----------------------------------------------------------------

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

const defaults = { seed: 20_240_611, numRuns: 50 }

// --- host values ---------------------------------------------------------------------------

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

const sameShape = (a: ReadonlyArray<number>, b: ReadonlyArray<number>): boolean =>
  a.length === b.length && a.every((d, i) => d === b[i])

const show = (shape: ReadonlyArray<number>): string => `[${shape.join(",")}]`

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

const check = (condition: boolean, message: () => string): void => {
  if (!condition) throw new Error(message())
}

/** Collects failed expectations and throws them together, so a case reports every problem. */
const expectations = () => {
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

// --- sessions: scopes that must leave nothing behind -----------------------------------------

/** What a check creates through {@link inSession}; everything is freed when the session ends. */
export interface Session {
  readonly backend: TensorBackend
  readonly tensor: (x: NdArray, dtype?: "float32" | "int32") => Tensor
  readonly read: (x: Tensor) => NdArray
  /** A parameter holding `x`, disposed when the session ends. */
  readonly parameter: (name: string, x: NdArray) => Parameter
  /** An optimiser whose slots are disposed when the session ends. */
  readonly optimizer: (spec: OptimizerSpec) => ReturnType<TensorBackend["optimizer"]>
}

/**
 * Runs `body` inside a tensor scope, then closes it and disposes the parameters and optimisers
 * the body made through the session, and throws if the number of live tensors is not back to
 * where it started (a tensor survived a closed scope). Return host values only.
 */
export const inSession = <A>(backend: TensorBackend, body: (session: Session) => A): A => {
  const before = backend.liveTensors()
  const params: Array<Parameter> = []
  const optimizers: Array<ReturnType<TensorBackend["optimizer"]>> = []
  const session: Session = {
    backend,
    tensor: (x, dtype) => toTensor(backend, x, dtype),
    read: (x) => fromTensor(backend, x),
    parameter: (name, x) => {
      const p = backend.parameter(name, Float32Array.from(x.data), x.shape)
      params.push(p)
      return p
    },
    optimizer: (spec) => {
      const o = backend.optimizer(spec)
      optimizers.push(o)
      return o
    },
  }
  let result: A
  backend.beginScope()
  try {
    result = body(session)
  } finally {
    backend.endScope()
    for (const o of optimizers) o.dispose()
    backend.dispose(params)
  }
  const after = backend.liveTensors()
  check(
    after === before,
    () =>
      `${after - before} tensor(s) outlived a closed scope (live ${before} before, ${after} after)`,
  )
  return result
}

// --- arbitraries ---------------------------------------------------------------------------

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

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/** Axes of a rank-`rank` array: undefined, one axis, or a list, each possibly negative. */
const arbAxes = (rank: number): fc.Arbitrary<number | Array<number> | undefined> => {
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

// --- op specifications ---------------------------------------------------------------------

/** One drawn example of an op: its float inputs (what gradients are taken of) and other arguments. */
export interface Example<A> {
  readonly xs: ReadonlyArray<NdArray>
  readonly args: A
}

/** An op of the interface and its reference, from which a forward case and a gradient case are made. */
export interface OpSpec<A> {
  readonly name: string
  readonly arb: fc.Arbitrary<Example<A>>
  readonly op: (backend: TensorBackend, xs: ReadonlyArray<Tensor>, args: A) => Tensor
  readonly ref: (xs: ReadonlyArray<NdArray>, args: A) => NdArray
  /** dtype of the result (default float32). */
  readonly dtype?: DType
  /** Whether to check the gradient (default true). */
  readonly differentiable?: boolean
  readonly tolerance?: Tolerance
}

const seedOf = (name: string, base: number): number => {
  let h = base | 0
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193)
  return h | 0
}

const propertyCase = <T>(
  name: string,
  arb: fc.Arbitrary<T>,
  body: (backend: TensorBackend, value: T) => void,
  options: Required<ConformanceOptions>,
  numRuns = options.numRuns,
): ConformanceCase => ({
  name,
  run: (backend) =>
    fc.assert(
      fc.property(arb, (value) => {
        body(backend, value)
      }),
      { seed: seedOf(name, options.seed), numRuns, includeErrorInReport: true },
    ),
})

/** A deterministic case, run inside a leak-checked session. */
const unitCase = (name: string, body: (s: Session) => void): ConformanceCase => ({
  name,
  run: (backend) => inSession(backend, body),
})

const scalarOf = (x: NdArray): number => R.sum(x).data[0]

/**
 * The value and gradients of `sum(weights * op(inputs))` on the backend, with the inputs as
 * parameters: what `valueAndGrads` returns, read back to host arrays. With `intermediate`, the op
 * sees `param.value * 1` (computed inside the loss, as in a model) rather than the parameter's
 * own tensor: a gradient that closes over an input freed by the forward pass fails only then.
 */
export const lossGradients = (
  backend: TensorBackend,
  inputs: ReadonlyArray<NdArray>,
  op: (xs: ReadonlyArray<Tensor>) => Tensor,
  weights: NdArray,
  intermediate = false,
): { readonly value: number; readonly grads: ReadonlyArray<NdArray> } =>
  inSession(backend, (s) => {
    const params = inputs.map((x, i) => s.parameter(`input${i}`, x))
    const w = s.tensor(weights)
    const loss = (): Tensor => {
      const xs = params.map((p) =>
        intermediate ? backend.mul(p.value, backend.scalar(1)) : p.value,
      )
      return backend.sum(backend.mul(w, op(xs)))
    }
    const result = backend.valueAndGrads(loss, params)
    check(
      result.value.shape.length === 0,
      () => `valueAndGrads: value has shape ${show(result.value.shape)}, expected a scalar`,
    )
    check(
      result.grads.length === params.length,
      () => `valueAndGrads: ${result.grads.length} gradients for ${params.length} parameters`,
    )
    return { value: s.read(result.value).data[0], grads: result.grads.map(s.read) }
  })

/** Central finite differences of a float64 scalar function of several arrays. */
export const finiteDifferences = (
  f: (xs: ReadonlyArray<NdArray>) => number,
  inputs: ReadonlyArray<NdArray>,
  h: number = finiteDifferenceStep,
): Array<NdArray> =>
  inputs.map((x, k) => {
    const grad = new Float64Array(x.data.length)
    for (let i = 0; i < x.data.length; i++) {
      const shifted = (delta: number): number => {
        const data = x.data.slice()
        data[i] += delta
        return f(inputs.map((y, j) => (j === k ? { shape: x.shape, data } : y)))
      }
      grad[i] = (shifted(h) - shifted(-h)) / (2 * h)
    }
    return { shape: [...x.shape], data: grad }
  })

/** The forward case and, for a differentiable op, the gradient case of a spec. */
export const opCases = <A>(
  spec: OpSpec<A>,
  options: ConformanceOptions = {},
): Array<ConformanceCase> => {
  const o = { ...defaults, ...options }
  const forward = propertyCase(
    `${spec.name}: values`,
    spec.arb,
    (backend, ex) =>
      inSession(backend, (s) => {
        const y = spec.op(
          backend,
          ex.xs.map((x) => s.tensor(x)),
          ex.args,
        )
        const dtype = spec.dtype ?? "float32"
        check(y.dtype === dtype, () => `${spec.name}: dtype ${y.dtype}, expected ${dtype}`)
        assertClose(
          spec.name,
          s.read(y),
          spec.ref(ex.xs, ex.args),
          spec.tolerance ?? forwardTolerance,
        )
      }),
    o,
  )
  if (spec.differentiable === false) return [forward]
  const gradient = propertyCase(
    `${spec.name}: gradient`,
    fc.tuple(spec.arb, fc.integer(), fc.boolean()),
    (backend, [ex, seed, intermediate]) => {
      const weights = randomNd(seed, spec.ref(ex.xs, ex.args).shape)
      const loss = (xs: ReadonlyArray<NdArray>): number =>
        scalarOf(R.mul(weights, spec.ref(xs, ex.args)))
      const { value, grads } = lossGradients(
        backend,
        ex.xs,
        (ts) => spec.op(backend, ts, ex.args),
        weights,
        intermediate,
      )
      assertClose(
        `${spec.name} loss value`,
        R.nd([], [value]),
        R.nd([], [loss(ex.xs)]),
        forwardTolerance,
      )
      const expected = finiteDifferences(loss, ex.xs)
      for (const [i, g] of expected.entries())
        assertClose(`${spec.name} gradient of input ${i}`, grads[i], g, gradientTolerance)
    },
    o,
  )
  return [forward, gradient]
}

// --- the op specs ------------------------------------------------------------------------

type Unary = (x: Tensor) => Tensor

const unary = (
  name: string,
  op: (b: TensorBackend) => Unary,
  ref: (x: NdArray) => NdArray,
  domain: Domain,
): OpSpec<null> => ({
  name,
  arb: arbShape().chain((shape) => arbNd(shape, domain).map((x) => ({ xs: [x], args: null }))),
  op: (b, [x]) => op(b)(x),
  ref: ([x]) => ref(x),
})

type Binary = (a: Tensor, b: Tensor) => Tensor

const arbPair = (values: (shape: ReadonlyArray<number>, side: 0 | 1) => fc.Arbitrary<NdArray>) =>
  arbBroadcastShapes(2).chain(([sa, sb]) =>
    fc.tuple(values(sa, 0), values(sb, 1)).map((xs) => ({ xs, args: null })),
  )

const binary = (
  name: string,
  op: (b: TensorBackend) => Binary,
  ref: (a: NdArray, b: NdArray) => NdArray,
  values: (shape: ReadonlyArray<number>, side: 0 | 1) => fc.Arbitrary<NdArray>,
  rest: Partial<OpSpec<null>> = {},
): OpSpec<null> => ({
  name,
  arb: arbPair(values),
  op: (b, [x, y]) => op(b)(x, y),
  ref: ([x, y]) => ref(x, y),
  ...rest,
})

const plain = (shape: ReadonlyArray<number>) => arbNd(shape)
const grid = (shape: ReadonlyArray<number>, side: 0 | 1) => arbGridNd(shape, side === 0)

const reduction = (
  name: string,
  op: (b: TensorBackend) => TensorBackend["sum"],
  ref: typeof R.sum,
  values: (shape: ReadonlyArray<number>) => fc.Arbitrary<NdArray>,
): OpSpec<{ axes: number | Array<number> | undefined; keepDims: boolean | undefined }> => ({
  name,
  arb: arbShape().chain((shape) =>
    fc
      .tuple(values(shape), arbAxes(shape.length), fc.option(fc.boolean(), { nil: undefined }))
      .map(([x, axes, keepDims]) => ({ xs: [x], args: { axes, keepDims } })),
  ),
  op: (b, [x], { axes, keepDims }) => op(b)(x, axes, keepDims),
  ref: ([x], { axes, keepDims }) => ref(x, axes, keepDims ?? false),
})

const normalisation = (
  name: string,
  op: (b: TensorBackend) => TensorBackend["softmax"],
  ref: typeof R.softmax,
  lastAxis: boolean,
): OpSpec<{ axis: number | undefined }> => ({
  name: `${name} (${lastAxis ? "last axis" : "non-last axis"})`,
  arb: arbShape({ minRank: lastAxis ? 1 : 2 }).chain((shape) => {
    const r = shape.length
    const axis: fc.Arbitrary<number | undefined> = lastAxis
      ? fc.constantFrom(undefined, -1, r - 1)
      : fc.integer({ min: 0, max: r - 2 }).chain((a) => fc.constantFrom(a, a - r))
    return fc
      .tuple(arbNd(shape, { min: -3, max: 3 }), axis)
      .map(([x, a]) => ({ xs: [x], args: { axis: a } }))
  }),
  op: (b, [x], { axis }) => op(b)(x, axis),
  ref: ([x], { axis }) => ref(x, axis),
})

/** Reshape targets: the same factors regrouped (and reordered), one size possibly -1. */
const arbReshape = fc
  .record({
    factors: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 4 }),
    cutsIn: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    cutsOut: fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
    order: fc.array(fc.integer(), { minLength: 4, maxLength: 4 }),
    infer: fc.option(fc.nat(), { nil: undefined }),
  })
  .map(({ factors, cutsIn, cutsOut, order, infer }) => {
    // Consecutive factors multiply into one axis unless a cut starts a new axis.
    const group = (fs: ReadonlyArray<number>, cuts: ReadonlyArray<boolean>): Array<number> => {
      const shape: Array<number> = []
      fs.forEach((f, i) => {
        if (i === 0 || cuts[i]) shape.push(f)
        else shape[shape.length - 1] *= f
      })
      return shape
    }
    const permuted = factors.map((f, i) => [f, order[i]] as const).sort((a, b) => a[1] - b[1])
    const from = group(factors, cutsIn)
    const to = group(
      permuted.map(([f]) => f),
      cutsOut,
    )
    const target =
      infer === undefined || to.length === 0
        ? to
        : to.map((d, i) => (i === infer % to.length ? -1 : d))
    return { from, target }
  })

const arbSlice = arbShape({ minRank: 1 }).chain((shape) =>
  fc
    .tuple(
      arbNd(shape),
      fc.tuple(
        ...shape.map((d) =>
          fc
            .integer({ min: 0, max: d - 1 })
            .chain((begin) =>
              fc
                .oneof(fc.constant(-1), fc.integer({ min: 1, max: d - begin }))
                .map((size) => [begin, size] as const),
            ),
        ),
      ),
    )
    .map(([x, bs]) => ({
      xs: [x],
      args: { begin: bs.map(([b]) => b), size: bs.map(([, s]) => s) },
    })),
)

const arbConcat = arbShape({ minRank: 1 }).chain((shape) =>
  fc
    .tuple(
      fc.integer({ min: 0, max: shape.length - 1 }),
      fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 3 }),
      fc.boolean(),
    )
    .chain(([axis, sizes, negative]) =>
      fc
        .tuple(...sizes.map((n) => arbNd(shape.map((d, i) => (i === axis ? n : d)))))
        .map((xs) => ({ xs, args: { axis: negative ? axis - shape.length : axis } })),
    ),
)

const arbGather = fc
  .tuple(fc.integer({ min: 1, max: 5 }), arbShape({ maxRank: 2 }), arbShape({ maxRank: 2 }))
  .chain(([rows, inner, idsShape]) =>
    fc
      .tuple(arbNd([rows, ...inner]), arbSmallIntNd(idsShape, 0, rows - 1))
      .map(([table, ids]) => ({ xs: [table], args: { ids } })),
  )

const arbMatmul = fc
  .record({
    batch: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    m: fc.integer({ min: 1, max: 4 }),
    k: fc.integer({ min: 1, max: 4 }),
    n: fc.integer({ min: 1, max: 4 }),
    transposeA: fc.boolean(),
    transposeB: fc.boolean(),
  })
  .chain(({ batch, m, k, n, transposeA, transposeB }) => {
    const lead = batch === undefined ? [] : [batch]
    return fc
      .tuple(
        arbNd([...lead, ...(transposeA ? [k, m] : [m, k])]),
        arbNd([...lead, ...(transposeB ? [n, k] : [k, n])]),
      )
      .map((xs) => ({ xs, args: { transposeA, transposeB } }))
  })

/** Every op of the interface as a spec (forward values, and gradients where differentiable). */
export const opSpecs = (): ReadonlyArray<OpSpec<never>> => {
  const specs: Array<OpSpec<never>> = []
  // Each spec is existentially typed in its argument type; the cases never mix two specs' args.
  const push = <A>(spec: OpSpec<A>): void => {
    specs.push(spec as unknown as OpSpec<never>)
  }
  push(binary("add", (b) => b.add, R.add, plain))
  push(binary("sub", (b) => b.sub, R.sub, plain))
  push(binary("mul", (b) => b.mul, R.mul, plain))
  push(
    binary(
      "div",
      (b) => b.div,
      R.div,
      (shape, side) => arbNd(shape, side === 0 ? defaultDomain : { min: -2, max: 2, gap: 0.5 }),
    ),
  )
  push(binary("maximum", (b) => b.maximum, R.maximum, grid))
  push(binary("minimum", (b) => b.minimum, R.minimum, grid))

  push(unary("neg", (b) => b.neg, R.neg, { min: -3, max: 3 }))
  push(unary("exp", (b) => b.exp, R.exp, { min: -3, max: 3 }))
  push(unary("log", (b) => b.log, R.log, { min: 0.1, max: 4 }))
  push(unary("sqrt", (b) => b.sqrt, R.sqrt, { min: 0.1, max: 4 }))
  push(unary("square", (b) => b.square, R.square, { min: -3, max: 3 }))
  push(unary("abs", (b) => b.abs, R.abs, { min: -3, max: 3, gap: 0.05 }))
  push(unary("sigmoid", (b) => b.sigmoid, R.sigmoid, { min: -6, max: 6 }))
  push(unary("relu", (b) => b.relu, R.relu, { min: -3, max: 3, gap: 0.05 }))
  push(unary("tanh", (b) => b.tanh, R.tanh, { min: -3, max: 3 }))
  push(unary("softplus", (b) => b.softplus, R.softplus, { min: -6, max: 6 }))
  push(unary("logSigmoid", (b) => b.logSigmoid, R.logSigmoid, { min: -6, max: 6 }))
  // Large |x|: a naive ln(1 + e^x) overflows float32 beyond x = 88.
  push(
    unary("softplus (large |x|)", (b) => b.softplus, R.softplus, { min: -120, max: 120, gap: 20 }),
  )
  push(
    unary("logSigmoid (large |x|)", (b) => b.logSigmoid, R.logSigmoid, {
      min: -120,
      max: 120,
      gap: 20,
    }),
  )

  const comparison = (
    name: string,
    op: (b: TensorBackend) => Binary,
    ref: (a: NdArray, b: NdArray) => NdArray,
  ) =>
    binary(name, op, ref, (shape) => arbSmallIntNd(shape), { dtype: "bool", differentiable: false })
  push(comparison("greater", (b) => b.greater, R.greater))
  push(comparison("greaterEqual", (b) => b.greaterEqual, R.greaterEqual))
  push(comparison("less", (b) => b.less, R.less))
  push(comparison("lessEqual", (b) => b.lessEqual, R.lessEqual))
  push(comparison("equal", (b) => b.equal, R.equal))

  push<{ condition: NdArray }>({
    name: "where",
    arb: arbBroadcastShapes(3).chain(([sc, sa, sb]) =>
      fc
        .tuple(arbSmallIntNd(sc, 0, 1), arbNd(sa), arbNd(sb))
        .map(([condition, a, b]) => ({ xs: [a, b], args: { condition } })),
    ),
    op: (b, [x, y], { condition }) =>
      b.where(b.cast(toTensor(b, condition, "int32"), "bool"), x, y),
    ref: ([x, y], { condition }) => R.where(condition, x, y),
  })

  push(reduction("sum", (b) => b.sum, R.sum, plain))
  push(reduction("mean", (b) => b.mean, R.mean, plain))
  push(reduction("max", (b) => b.max, R.max, arbDistinctNd))

  push(normalisation("softmax", (b) => b.softmax, R.softmax, true))
  push(normalisation("logSoftmax", (b) => b.logSoftmax, R.logSoftmax, true))
  push(normalisation("softmax", (b) => b.softmax, R.softmax, false))
  push(normalisation("logSoftmax", (b) => b.logSoftmax, R.logSoftmax, false))

  push<{ target: Array<number> }>({
    name: "reshape",
    arb: arbReshape.chain(({ from, target }) =>
      arbNd(from).map((x) => ({ xs: [x], args: { target } })),
    ),
    op: (b, [x], { target }) => b.reshape(x, target),
    ref: ([x], { target }) => R.reshape(x, target),
  })
  push<{ axis: number }>({
    name: "expandDims",
    arb: arbShape().chain((shape) =>
      fc
        .tuple(arbNd(shape), fc.integer({ min: -(shape.length + 1), max: shape.length }))
        .map(([x, axis]) => ({ xs: [x], args: { axis } })),
    ),
    op: (b, [x], { axis }) => b.expandDims(x, axis),
    ref: ([x], { axis }) => R.expandDims(x, axis),
  })
  push<{ to: Array<number> }>({
    name: "broadcastTo",
    arb: arbBroadcastTo().chain(({ from, to }) =>
      arbNd(from).map((x) => ({ xs: [x], args: { to } })),
    ),
    op: (b, [x], { to }) => b.broadcastTo(x, to),
    ref: ([x], { to }) => R.broadcastTo(x, to),
  })
  push<{ reps: Array<number> }>({
    name: "tile",
    arb: arbShape({ minRank: 1, maxDim: 3 }).chain((shape) =>
      fc
        .tuple(
          arbNd(shape),
          fc.array(fc.integer({ min: 1, max: 3 }), {
            minLength: shape.length,
            maxLength: shape.length,
          }),
        )
        .map(([x, reps]) => ({ xs: [x], args: { reps } })),
    ),
    op: (b, [x], { reps }) => b.tile(x, reps),
    ref: ([x], { reps }) => R.tile(x, reps),
  })
  push<{ axis: number }>({
    name: "concat",
    arb: arbConcat,
    op: (b, xs, { axis }) => b.concat(xs, axis),
    ref: (xs, { axis }) => R.concat(xs, axis),
  })
  push<{ begin: Array<number>; size: Array<number> }>({
    name: "slice",
    arb: arbSlice,
    op: (b, [x], { begin, size }) => b.slice(x, begin, size),
    ref: ([x], { begin, size }) => R.slice(x, begin, size),
  })
  push<{ perm: Array<number> | undefined }>({
    name: "transpose",
    arb: arbShape().chain((shape) =>
      fc
        .tuple(
          arbNd(shape),
          fc.option(fc.shuffledSubarray(range(shape.length), { minLength: shape.length }), {
            nil: undefined,
          }),
        )
        .map(([x, perm]) => ({ xs: [x], args: { perm } })),
    ),
    op: (b, [x], { perm }) => b.transpose(x, perm),
    ref: ([x], { perm }) => R.transpose(x, perm),
  })
  push<{ ids: NdArray }>({
    name: "gather",
    arb: arbGather,
    op: (b, [table], { ids }) => b.gather(table, toTensor(b, ids, "int32")),
    ref: ([table], { ids }) => R.gather(table, ids),
  })
  push<{ transposeA: boolean; transposeB: boolean }>({
    name: "matmul",
    arb: arbMatmul,
    op: (b, [x, y], options) => b.matmul(x, y, options),
    ref: ([x, y], options) => R.matmul(x, y, options),
  })
  return specs
}

// --- optimisers ----------------------------------------------------------------------------

/**
 * The update rules in float64 (the interface's definitions): `grads[t][i]` is the gradient of
 * parameter i at step t + 1. Sgd: w -= lr g. Adagrad (TensorFlow's): acc starts at
 * `initialAccumulator` (0.1), acc += g^2, w -= lr g / sqrt(acc + 1e-10). Adam: bias-corrected
 * moments, w -= lr m^ / (sqrt(v^) + eps).
 */
export const referenceOptimizer = (
  spec: OptimizerSpec,
  initial: ReadonlyArray<NdArray>,
  grads: ReadonlyArray<ReadonlyArray<NdArray>>,
): Array<NdArray> => {
  const w = initial.map((x) => x.data.slice())
  const acc = initial.map((x) =>
    new Float64Array(x.data.length).fill(
      spec._tag === "Adagrad" ? (spec.initialAccumulator ?? defaultInitialAccumulator) : 0,
    ),
  )
  const m = initial.map((x) => new Float64Array(x.data.length))
  const v = initial.map((x) => new Float64Array(x.data.length))
  grads.forEach((step, t) => {
    step.forEach((g, i) => {
      for (let j = 0; j < g.data.length; j++) {
        const gj = g.data[j]
        if (spec._tag === "Sgd") w[i][j] -= spec.learningRate * gj
        else if (spec._tag === "Adagrad") {
          acc[i][j] += gj * gj
          w[i][j] -= (spec.learningRate * gj) / Math.sqrt(acc[i][j] + adagradEpsilon)
        } else {
          const b1 = spec.beta1 ?? 0.9
          const b2 = spec.beta2 ?? 0.999
          m[i][j] = b1 * m[i][j] + (1 - b1) * gj
          v[i][j] = b2 * v[i][j] + (1 - b2) * gj * gj
          const mHat = m[i][j] / (1 - b1 ** (t + 1))
          const vHat = v[i][j] / (1 - b2 ** (t + 1))
          w[i][j] -= (spec.learningRate * mHat) / (Math.sqrt(vHat) + (spec.epsilon ?? 1e-8))
        }
      }
    })
  })
  return initial.map((x, i) => ({ shape: [...x.shape], data: w[i] }))
}

/** Two parameters of random shapes, their initial values, and `steps` gradients for each. */
const arbTraining = (steps: { min: number; max: number }) =>
  fc
    .tuple(
      arbShape({ maxRank: 2 }),
      arbShape({ minRank: 1, maxRank: 3 }),
      fc.integer({ min: steps.min, max: steps.max }),
    )
    .chain(([s0, s1, n]) =>
      fc.record({
        initial: fc.tuple(arbNd(s0), arbNd(s1)),
        grads: fc.array(fc.tuple(arbNd(s0, { min: -1, max: 1 }), arbNd(s1, { min: -1, max: 1 })), {
          minLength: n,
          maxLength: n,
        }),
      }),
    )

/** Applies `grads` (one list per step) with an optimiser of the session; returns the parameters' values. */
const train = (
  s: Session,
  optimizer: ReturnType<TensorBackend["optimizer"]>,
  params: ReadonlyArray<Parameter>,
  grads: ReadonlyArray<ReadonlyArray<NdArray>>,
): Array<NdArray> => {
  for (const step of grads)
    s.backend.tidy(() => {
      optimizer.apply(
        params,
        step.map((g) => s.tensor(g)),
      )
    })
  return params.map((p) => s.read(p.value))
}

const optimizerSpecs: ReadonlyArray<OptimizerSpec> = [
  { _tag: "Sgd", learningRate: 0.1 },
  { _tag: "Adagrad", learningRate: 0.05 },
  { _tag: "Adagrad", learningRate: 0.3, initialAccumulator: 0.5 },
  { _tag: "Adam", learningRate: 0.01 },
  { _tag: "Adam", learningRate: 0.05, beta1: 0.8, beta2: 0.99, epsilon: 1e-6 },
]

const describeSpec = (spec: OptimizerSpec): string =>
  `${spec._tag}(${Object.entries(spec)
    .filter(([k]) => k !== "_tag")
    .map(([k, v]) => `${k}=${v}`)
    .join(", ")})`

const optimizerCases = (o: Required<ConformanceOptions>): Array<ConformanceCase> => [
  ...optimizerSpecs.map((spec) =>
    propertyCase(
      `optimizer ${describeSpec(spec)}: 1-4 steps match the float64 update rule`,
      arbTraining({ min: 1, max: 4 }),
      (backend, { initial, grads }) => {
        const actual = inSession(backend, (s) => {
          const params = initial.map((x, i) => s.parameter(`w${i}`, x))
          return train(s, s.optimizer(spec), params, grads)
        })
        const expected = referenceOptimizer(spec, initial, grads)
        for (const [i, e] of expected.entries())
          assertClose(`${spec._tag} parameter ${i}`, actual[i], e, optimizerTolerance)
      },
      o,
      Math.max(1, Math.ceil(o.numRuns / 2)),
    ),
  ),
  ...optimizerSpecs
    .filter((spec) => spec._tag !== "Sgd")
    .map((spec) =>
      propertyCase(
        `optimizer ${describeSpec(spec)}: state()/load() into a fresh optimiser continues identically`,
        fc.tuple(arbTraining({ min: 1, max: 3 }), fc.integer({ min: 1, max: 3 })),
        (backend, [{ initial, grads }, cut]) => {
          const head = grads.slice(0, Math.min(cut, grads.length))
          const tail = grads.slice(head.length)
          const [continued, resumed] = inSession(backend, (s) => {
            const params = initial.map((x, i) => s.parameter(`w${i}`, x))
            const first = s.optimizer(spec)
            const atCut = train(s, first, params, head)
            const state = first.state()
            const continued = train(s, first, params, tail)
            // A resumed run: parameters restored from the checkpoint, slots from state().
            const restored = atCut.map((x, i) => s.parameter(`w${i}`, x))
            const second = s.optimizer(spec)
            second.load(state)
            return [continued, train(s, second, restored, tail)] as const
          })
          for (const [i, r] of resumed.entries())
            assertClose(`resumed parameter ${i}`, r, continued[i], { atol: 0, rtol: 0 })
        },
        o,
        Math.max(1, Math.ceil(o.numRuns / 3)),
      ),
    ),
  unitCase(
    "optimizer: apply frees nothing it is given, leaks nothing, and its slots outlive scopes",
    (s) => {
      const b = s.backend
      const p = s.parameter("w", R.nd([2, 2], [1, 2, 3, 4]))
      for (const spec of optimizerSpecs) {
        const opt = s.optimizer(spec)
        const g = s.tensor(R.nd([2, 2], [0.5, -0.5, 0.25, 1]))
        b.tidy(() => opt.apply([p], [g])) // first step creates the slots
        const live = b.liveTensors()
        for (let i = 0; i < 3; i++) {
          b.beginScope()
          opt.apply([p], [g])
          b.endScope()
        }
        check(
          b.liveTensors() === live,
          () => `${spec._tag}: live tensors ${live} -> ${b.liveTensors()} over 3 steps`,
        )
        check(
          s.read(g).data[0] === 0.5,
          () => `${spec._tag}: the gradient was changed or freed by apply`,
        )
        check(
          s.read(p.value).data.every(Number.isFinite),
          () => `${spec._tag}: parameter not finite after updates`,
        )
        opt.dispose()
        const freed = live - b.liveTensors()
        check(
          spec._tag === "Sgd" ? freed === 0 : freed > 0,
          () => `${spec._tag}: dispose() freed ${freed} tensors`,
        )
      }
    },
  ),
]

// --- the rest of the contract --------------------------------------------------------------

const arbFloat = (shape: ReadonlyArray<number>) => arbNd(shape, { min: -3, max: 3 })

const contractCases = (o: Required<ConformanceOptions>): Array<ConformanceCase> => [
  // Creation, dtypes and reading.
  unitCase("tensor/scalar/zeros/ones/cast: dtypes default and read back exactly", (s) => {
    const b = s.backend
    const failures: Array<string> = []
    const expect = (
      label: string,
      x: Tensor,
      dtype: DType,
      shape: ReadonlyArray<number>,
      values: ReadonlyArray<number>,
      kind: string,
    ) => {
      const host = b.read(x)
      if (x.dtype !== dtype) failures.push(`${label}: dtype ${x.dtype}, expected ${dtype}`)
      if (!sameShape(x.shape, shape))
        failures.push(`${label}: shape ${show(x.shape)}, expected ${show(shape)}`)
      if (host.constructor.name !== kind)
        failures.push(`${label}: read returned ${host.constructor.name}, expected ${kind}`)
      if (host.length !== values.length || values.some((v, i) => host[i] !== v))
        failures.push(`${label}: read [${[...host].join(",")}], expected [${values.join(",")}]`)
    }
    const big = [2147483647, -2147483648, 16777217, -1]
    expect(
      "tensor(Float32Array)",
      b.tensor(Float32Array.of(1.5, -2), [2, 1]),
      "float32",
      [2, 1],
      [1.5, -2],
      "Float32Array",
    )
    expect("tensor(number[])", b.tensor([0.25, 3], [2]), "float32", [2], [0.25, 3], "Float32Array")
    expect(
      "tensor(Int32Array)",
      b.tensor(Int32Array.from(big), [2, 2]),
      "int32",
      [2, 2],
      big,
      "Int32Array",
    )
    expect(
      "tensor(number[], int32)",
      b.tensor([7, -3], [2], "int32"),
      "int32",
      [2],
      [7, -3],
      "Int32Array",
    )
    expect("scalar", b.scalar(2.5), "float32", [], [2.5], "Float32Array")
    expect("scalar int32", b.scalar(-4, "int32"), "int32", [], [-4], "Int32Array")
    expect("zeros", b.zeros([2, 3]), "float32", [2, 3], [0, 0, 0, 0, 0, 0], "Float32Array")
    expect("ones int32", b.ones([3], "int32"), "int32", [3], [1, 1, 1], "Int32Array")
    expect("zeros rank 0", b.zeros([]), "float32", [], [0], "Float32Array")
    const mask = b.greater(b.tensor([1, 2, 3], [3]), b.scalar(1.5))
    expect("comparison", mask, "bool", [3], [0, 1, 1], "Uint8Array")
    expect("cast bool -> int32", b.cast(mask, "int32"), "int32", [3], [0, 1, 1], "Int32Array")
    expect(
      "cast bool -> float32",
      b.cast(mask, "float32"),
      "float32",
      [3],
      [0, 1, 1],
      "Float32Array",
    )
    expect(
      "cast float32 -> int32 truncates",
      b.cast(b.tensor([2.7, -2.7, 0.5], [3]), "int32"),
      "int32",
      [3],
      [2, -2, 0],
      "Int32Array",
    )
    expect(
      "cast float32 -> bool",
      b.cast(b.tensor([0, -0.5, 3], [3]), "bool"),
      "bool",
      [3],
      [0, 1, 1],
      "Uint8Array",
    )
    expect(
      "cast int32 -> bool",
      b.cast(b.tensor([0, -7, 1], [3], "int32"), "bool"),
      "bool",
      [3],
      [0, 1, 1],
      "Uint8Array",
    )
    expect(
      "cast int32 -> float32",
      b.cast(b.tensor(Int32Array.from(big), [4]), "float32"),
      "float32",
      [4],
      big.map(Math.fround),
      "Float32Array",
    )
    check(failures.length === 0, () => failures.join("; "))
  }),
  propertyCase(
    "cast: float32 to int32/bool and back match the reference",
    arbShape().chain((shape) => arbNd(shape, { min: -5, max: 5 })),
    (backend, x) =>
      inSession(backend, (s) => {
        const t = s.tensor(x)
        for (const dtype of ["int32", "bool", "float32"] as const) {
          const y = backend.cast(t, dtype)
          check(y.dtype === dtype, () => `cast to ${dtype}: dtype ${y.dtype}`)
          assertClose(`cast to ${dtype}`, s.read(y), R.cast(x, dtype), { atol: 0, rtol: 0 })
        }
      }),
    o,
  ),
  unitCase("read returns a fresh copy; tensor() and parameter() copy their host values", (s) => {
    const b = s.backend
    const e = expectations()
    const t = b.tensor([1, 2], [2])
    const first = b.read(t)
    first[0] = 99
    e.that(b.read(t)[0] === 1, "read: writing to the returned array changed the tensor")
    const source = Float32Array.of(3, 4)
    const u = b.tensor(source, [2])
    source[0] = 77
    e.that(
      b.read(u)[0] === 3,
      "tensor: writing to the source Float32Array afterwards changed the tensor (tensors are immutable)",
    )
    const ints = Int32Array.of(3, 4)
    const v = b.tensor(ints, [2])
    ints[0] = 77
    e.that(
      b.read(v)[0] === 3,
      "tensor: writing to the source Int32Array afterwards changed the tensor (tensors are immutable)",
    )
    const initial = Float32Array.of(5, 6)
    const p = b.parameter("copied", initial, [2])
    initial[0] = 55
    e.that(
      b.read(p.value)[0] === 5,
      "parameter: writing to `initial` afterwards changed the parameter (it must hold a copy)",
    )
    b.dispose(p)
    e.done()
  }),
  unitCase("isTensor: true for tensors and parameter values, false for other values", (s) => {
    const b = s.backend
    const t = b.tensor([1], [1])
    check(b.isTensor(t), () => "isTensor(tensor) is false")
    for (const [label, v] of [
      ["a number", 1],
      ["null", null],
      ["a plain object with shape and dtype", { shape: [1], dtype: "float32" }],
      ["a Float32Array", Float32Array.of(1)],
    ] as const)
      check(!b.isTensor(v), () => `isTensor(${label}) is true`)
    const p = s.parameter("p", R.nd([1], [1]))
    check(
      !b.isTensor(p),
      () => "isTensor(parameter) is true (a Parameter is not a Tensor; use param.value)",
    )
    check(b.isTensor(p.value), () => "isTensor(param.value) is false")
  }),
  unitCase("isTensor: false once a tensor is disposed (the contract: a live tensor)", (s) => {
    const b = s.backend
    const d = b.tensor([1], [1])
    b.dispose(d)
    check(!b.isTensor(d), () => "isTensor(disposed tensor) is true")
  }),

  // Differentiation.
  propertyCase(
    "stopGradient: same values; d/dx sum(stopGradient(x) * x) = x, not 2x",
    arbShape().chain((shape) => arbFloat(shape)),
    (backend, x) => {
      const values = inSession(backend, (s) => s.read(backend.stopGradient(s.tensor(x))))
      assertClose("stopGradient values", values, x, { atol: 0, rtol: 0 })
      const { grads } = lossGradients(
        backend,
        [x],
        ([t]) => backend.mul(backend.stopGradient(t), t),
        R.map(x, () => 1),
      )
      assertClose("gradient of stopGradient(x) * x", grads[0], x, gradientTolerance)
    },
    o,
  ),
  unitCase("stopGradient: freeing its result (by a closed scope) leaves its input alive", (s) => {
    const b = s.backend
    const p = s.parameter("p", R.nd([3], [1, 2, 3]))
    b.tidy(() => {
      b.read(b.stopGradient(p.value))
    })
    let after: NdArray | string
    try {
      after = s.read(p.value)
    } catch (error) {
      after = String(error)
    }
    check(
      typeof after !== "string" && after.data.join(",") === "1,2,3",
      () =>
        `parameter after a scope freed stopGradient(param.value): ${typeof after === "string" ? `read fails: ${after}` : `[${[...after.data].join(",")}]`}, expected [1,2,3]`,
    )
    const x = b.keep(b.tensor([4, 5], [2]))
    b.beginScope()
    b.stopGradient(x)
    b.endScope()
    let kept: string
    try {
      kept = [...b.read(x)].join(",")
    } catch (error) {
      kept = String(error)
    } finally {
      b.dispose(x)
    }
    check(
      kept === "4,5",
      () => `kept tensor after a scope freed stopGradient(x): ${kept}, expected 4,5`,
    )
  }),
  propertyCase(
    "valueAndGrads: gradients only for the listed parameters, in their order; unused ones get zeros",
    fc
      .tuple(arbShape({ minRank: 1 }), arbShape())
      .chain(([shape, other]) => fc.tuple(arbFloat(shape), arbFloat(shape), arbFloat(other))),
    (backend, [pv, rv, qv]) => {
      const [value, grads, rAfter] = inSession(backend, (s) => {
        const p = s.parameter("p", pv)
        const r = s.parameter("r", rv) // used by the loss but not listed: a constant here
        const q = s.parameter("q", qv) // listed but unused: a zero gradient
        const result = backend.valueAndGrads(
          () =>
            backend.add(
              backend.sum(backend.mul(p.value, r.value)),
              backend.sum(backend.square(p.value)),
            ),
          [q, p],
        )
        check(
          result.grads.length === 2,
          () => `${result.grads.length} gradients for 2 listed parameters`,
        )
        return [s.read(result.value), result.grads.map(s.read), s.read(r.value)] as const
      })
      const expectedValue = scalarOf(R.add(R.sum(R.mul(pv, rv)), R.sum(R.square(pv))))
      assertClose("loss value", value, R.nd([], [expectedValue]), forwardTolerance)
      assertClose(
        "gradient of the unused parameter q",
        grads[0],
        R.map(qv, () => 0),
        { atol: 0, rtol: 0 },
      )
      assertClose(
        "gradient of p",
        grads[1],
        R.add(
          rv,
          R.map(pv, (v) => 2 * v),
        ),
        forwardTolerance,
      )
      assertClose("the unlisted parameter r", rAfter, rv, { atol: 0, rtol: 0 })
    },
    o,
  ),
  unitCase("gather: repeated ids accumulate their gradients into the row", (s) => {
    const b = s.backend
    const table = R.nd(
      [4, 3],
      Array.from({ length: 12 }, (_, i) => i / 10),
    )
    const ids = R.nd([2, 3], [1, 1, 3, 1, 0, 1])
    const { grads } = lossGradients(
      b,
      [table],
      ([t]) => b.gather(t, toTensor(b, ids, "int32")),
      R.map(R.gather(table, ids), () => 1),
    )
    // Row 1 is looked up four times, rows 0 and 3 once, row 2 never.
    assertClose(
      "embedding gradient",
      grads[0],
      R.nd([4, 3], [1, 1, 1, 4, 4, 4, 0, 0, 0, 1, 1, 1]),
      { atol: 0, rtol: 0 },
    )
  }),

  // Parameters and checkpoints.
  propertyCase(
    "snapshot/assign: round trip restores values; the parameter object and name stay",
    arbShape().chain((shape) => fc.tuple(arbFloat(shape), arbFloat(shape))),
    (backend, [initial, replacement]) =>
      inSession(backend, (s) => {
        const p = s.parameter("layer/weight", initial)
        const value = (label: string): NdArray => {
          check(
            sameShape(p.value.shape, initial.shape),
            () => `${label}: parameter shape ${show(p.value.shape)}`,
          )
          return s.read(p.value)
        }
        const [saved] = backend.snapshot([p])
        check(
          saved.name === "layer/weight",
          () => `snapshot name ${saved.name}, expected layer/weight`,
        )
        check(
          saved.dtype === "float32" && sameShape(saved.shape, initial.shape),
          () => `snapshot ${saved.dtype} ${show(saved.shape)}`,
        )
        assertClose("snapshot data", R.nd(saved.shape, saved.data), initial, { atol: 0, rtol: 0 })
        backend.beginScope()
        backend.assign(p, s.tensor(replacement)) // the assigned tensor is freed with this scope
        backend.endScope()
        assertClose("value after assign", value("after assign"), replacement, { atol: 0, rtol: 0 })
        assertClose(
          "snapshot after assign",
          R.nd(initial.shape, backend.snapshot([p])[0].data),
          replacement,
          { atol: 0, rtol: 0 },
        )
        assertClose("snapshot not aliased", R.nd(saved.shape, saved.data), initial, {
          atol: 0,
          rtol: 0,
        })
        backend.tidy(() => backend.assign(p, backend.tensor(saved.data, saved.shape)))
        assertClose("value restored from the snapshot", value("after restore"), initial, {
          atol: 0,
          rtol: 0,
        })
      }),
    o,
  ),

  // Memory.
  unitCase(
    "tidy frees everything created inside except its result (a tensor, or tensors in arrays/records)",
    (s) => {
      const b = s.backend
      const start = b.liveTensors()
      const y = b.tidy(() => {
        const x = b.tensor([1, 2, 3], [3])
        return b.sum(b.mul(b.exp(x), x))
      })
      check(
        b.liveTensors() === start + 1,
        () => `after tidy returning one tensor: ${b.liveTensors() - start} live, expected 1`,
      )
      check(
        Math.abs(b.read(y)[0] - (Math.E + 2 * Math.E ** 2 + 3 * Math.E ** 3)) < 1e-3,
        () => "tidy result has wrong value",
      )
      b.dispose(y)
      const out = b.tidy(() => {
        const x = b.tensor([1, 2], [2])
        b.square(x)
        return { a: b.neg(x), rest: [b.exp(x), 3] }
      })
      check(
        b.liveTensors() === start + 2,
        () => `after tidy returning {a, rest: [t, 3]}: ${b.liveTensors() - start} live, expected 2`,
      )
      check(b.read(out.a)[1] === -2, () => "tidy record result has wrong value")
      b.dispose([out.a, out.rest[0] as Tensor])
      const n = b.tidy(() => b.read(b.sum(b.tensor([1, 2], [2])))[0])
      check(
        n === 3 && b.liveTensors() === start,
        () => `after tidy returning a number: ${b.liveTensors() - start} live, expected 0`,
      )
    },
  ),
  unitCase("beginScope/endScope free the scope's tensors except those kept; scopes nest", (s) => {
    const b = s.backend
    const start = b.liveTensors()
    b.beginScope()
    const x = b.tensor([1, 2], [2])
    b.beginScope()
    const y = b.add(x, x)
    const z = b.mul(y, y)
    b.endScope([z])
    check(
      b.liveTensors() === start + 2,
      () => `after the inner scope kept z: ${b.liveTensors() - start} live, expected 2 (x, z)`,
    )
    check(b.read(z)[1] === 16, () => "the kept tensor has a wrong value")
    const w = b.exp(z)
    b.endScope([w])
    check(
      b.liveTensors() === start + 1,
      () => `after the outer scope kept w: ${b.liveTensors() - start} live, expected 1`,
    )
    b.dispose([w, w]) // freeing twice is harmless
    check(b.liveTensors() === start, () => `after dispose: ${b.liveTensors() - start} live`)
  }),
  unitCase("keep exempts a tensor from every enclosing scope until dispose", (s) => {
    const b = s.backend
    const start = b.liveTensors()
    let kept: Tensor | undefined
    b.tidy(() => {
      b.beginScope()
      kept = b.keep(b.square(b.tensor([3], [1])))
      b.endScope()
      return undefined
    })
    check(
      kept !== undefined && b.liveTensors() === start + 1,
      () => `${b.liveTensors() - start} live after two scopes, expected 1`,
    )
    check(b.read(kept as Tensor)[0] === 9, () => "kept tensor has a wrong value")
    b.dispose(kept as Tensor)
    check(
      b.liveTensors() === start,
      () => `${b.liveTensors() - start} live after dispose, expected 0`,
    )
  }),
  unitCase(
    "parameters: counted as live, never freed by a scope, freed by dispose (twice is harmless)",
    (s) => {
      const b = s.backend
      const start = b.liveTensors()
      b.beginScope()
      const p = b.parameter("p", Float32Array.of(1, 2), [2])
      b.endScope()
      check(
        b.liveTensors() === start + 1,
        () =>
          `${b.liveTensors() - start} live after creating a parameter in a closed scope, expected 1`,
      )
      check(b.read(p.value)[1] === 2, () => "parameter lost its value when the scope closed")
      b.tidy(() => {
        b.add(p.value, p.value)
      })
      check(b.read(p.value)[0] === 1, () => "parameter lost its value after use in tidy")
      b.dispose(p)
      b.dispose([p])
      check(
        b.liveTensors() === start,
        () => `${b.liveTensors() - start} live after disposing the parameter, expected 0`,
      )
    },
  ),
  unitCase(
    "tensorScope: frees a program's tensors on success (except its result) and on failure",
    (s) => {
      const b = s.backend
      const start = b.liveTensors()
      const run = <A, E>(program: Effect.Effect<A, E, Tensors>) =>
        Effect.runSync(Effect.result(tensorScope(program).pipe(Effect.provideService(Tensors, b))))
      const ok = run(
        Effect.sync(() => {
          const x = b.tensor([1, 2], [2])
          b.exp(x)
          return { y: b.neg(x), label: "kept" }
        }),
      )
      check(Result.isSuccess(ok), () => "tensorScope: the program failed")
      check(
        b.liveTensors() === start + 1,
        () =>
          `after a successful program: ${b.liveTensors() - start} live, expected 1 (its result)`,
      )
      if (Result.isSuccess(ok)) b.dispose(ok.success.y)
      const failed = run(
        Effect.sync(() => b.square(b.tensor([3], [1]))).pipe(
          Effect.flatMap(() => Effect.fail("expected failure")),
        ),
      )
      check(Result.isFailure(failed), () => "tensorScope: a failing program succeeded")
      check(
        b.liveTensors() === start,
        () => `after a failed program: ${b.liveTensors() - start} live, expected 0`,
      )
    },
  ),
  propertyCase(
    "memory: a training step inside a closed scope leaves the live count where it started",
    fc
      .tuple(
        arbShape({ minRank: 1, maxRank: 2 }),
        fc.constantFrom<OptimizerSpec>(...optimizerSpecs),
      )
      .chain(([shape, spec]) => fc.tuple(arbFloat(shape), fc.constant(spec))),
    (backend, [x, spec]) =>
      inSession(backend, (s) => {
        const p = s.parameter("w", x)
        const opt = s.optimizer(spec)
        let live = -1
        for (let step = 0; step < 3; step++) {
          backend.beginScope()
          const { grads } = backend.valueAndGrads(
            () =>
              backend.mean(backend.softplus(backend.mul(p.value, backend.stopGradient(p.value)))),
            [p],
          )
          opt.apply([p], grads)
          backend.endScope()
          // Slots appear on the first step; from then on nothing may accumulate.
          if (step > 0)
            check(
              backend.liveTensors() === live,
              () => `step ${step}: live ${live} -> ${backend.liveTensors()}`,
            )
          live = backend.liveTensors()
        }
      }),
    o,
    Math.max(1, Math.ceil(o.numRuns / 3)),
  ),
]

// --- the suite -----------------------------------------------------------------------------

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
