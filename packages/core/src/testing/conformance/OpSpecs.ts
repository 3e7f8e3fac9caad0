/**
 * The op specs: every op of the tensor interface, with the arbitraries of its arguments and its
 * float64 reference.
 *
 * @module
 */
import * as fc from "fast-check"
import * as Fused from "../../Fused.ts"
import type { Tensor, TensorBackend } from "../../Tensor.ts"
import type { NdArray } from "../Reference.ts"
import * as R from "../Reference.ts"
import {
  arbAxes,
  arbBroadcastShapes,
  arbBroadcastTo,
  arbDistinctNd,
  arbGridNd,
  arbNd,
  arbShape,
  arbSmallIntNd,
  type Domain,
  defaultDomain,
  range,
} from "./Arbitraries.ts"
import { toTensor } from "./HostValues.ts"
import type { OpSpec } from "./OpSpec.ts"

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
  // The optional fused ops, through core's Fused (the backend's kernel where it has one, else
  // the composition): the same float64 definition holds for both.
  push<BiasRows>({
    name: "Fused.biasSigmoid",
    arb: arbBiasSigmoid,
    op: (b, [x, bias, addend], { rowOf, ids }) =>
      Fused.biasSigmoid(b, {
        x: x!,
        bias: bias!,
        ...(addend === undefined ? {} : { addend }),
        ...(rowOf === "ids" ? { rows: toTensor(b, R.nd([ids.length], ids), "int32") } : {}),
      }),
    ref: ([x, bias, addend], { rowOf, ids }) => {
      const [n, h] = x!.shape as [number, number]
      const rowCount = bias!.shape.length === 1 ? 1 : bias!.shape[0]!
      const out = new Float64Array(n * h)
      for (let i = 0; i < n; i++) {
        const row = rowOf === "ids" ? ids[i]! : i % rowCount
        for (let j = 0; j < h; j++) {
          const v = x!.data[i * h + j]! + (addend?.data[i * h + j] ?? 0) + bias!.data[row * h + j]!
          out[i * h + j] = 1 / (1 + Math.exp(-v))
        }
      }
      return R.nd([n, h], out)
    },
  })
  push<{ rowCount: number; ids: ReadonlyArray<number> | undefined }>({
    name: "Fused.rowWeightedSum",
    arb: arbRowWeightedSum,
    op: (b, [h, w], { rowCount, ids }) => {
      const rows = ids === undefined ? undefined : toTensor(b, R.nd([ids.length], ids), "int32")
      return Fused.rowWeightedSum(b, h!, w!, rowCount, rows, () =>
        Fused.rowWeightedSumComposed(b, h!, w!, rowCount, rows),
      )
    },
    ref: ([h, w], { rowCount, ids }) => {
      const [n, d] = h!.shape as [number, number]
      const out = new Float64Array(rowCount * d)
      for (let i = 0; i < n; i++) {
        const row = ids === undefined ? i % rowCount : ids[i]!
        for (let k = 0; k < d; k++) out[row * d + k]! += w!.data[i]! * h!.data[i * d + k]!
      }
      return R.nd([rowCount, d], out)
    },
  })
  push<{ ids: NdArray }>({
    name: "Fused.broadcastReluDot",
    arb: arbBroadcastReluDot,
    op: (b, [rows, partners, weight, bias], { ids }) => {
      const layer = {
        rows: rows!,
        partners: partners!,
        ids: toTensor(b, ids, "int32"),
        weight: weight!,
        bias: bias!,
      }
      return Fused.broadcastReluDot(b, layer, () => Fused.broadcastReluDotComposed(b, layer))
    },
    ref: ([rows, partners, weight, bias], { ids }) => {
      const [k, n, h] = rows!.shape as [number, number, number]
      const s = ids.shape[1]!
      const out = new Float64Array(k * n * s)
      for (let kk = 0; kk < k; kk++)
        for (let i = 0; i < n; i++)
          for (let j = 0; j < s; j++) {
            const partner = ids.data[i * s + j]!
            let sum = bias!.data[0]!
            for (let c = 0; c < h; c++) {
              const v = rows!.data[(kk * n + i) * h + c]! + partners!.data[partner * h + c]!
              sum += Math.max(v, 0) * weight!.data[c]!
            }
            out[(kk * n + i) * s + j] = sum
          }
      return R.nd([k, n, s], out)
    },
  })
  push<{ ids: NdArray }>({
    name: "Fused.gatherWeightedSum",
    arb: arbGatherWeightedSum,
    op: (b, [table, w], { ids }) => {
      const idTensor = toTensor(b, ids, "int32")
      return Fused.gatherWeightedSum(b, table!, idTensor, w!, () =>
        Fused.gatherWeightedSumComposed(b, table!, idTensor, w!),
      )
    },
    ref: ([table, w], { ids }) => {
      const [, d] = table!.shape as [number, number]
      const [n, l] = ids.shape as [number, number]
      const out = new Float64Array(n * d)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < l; j++) {
          const row = ids.data[i * l + j]!
          for (let c = 0; c < d; c++)
            out[i * d + c]! += w!.data[i * l + j]! * table!.data[row * d + c]!
        }
      return R.nd([n, d], out)
    },
  })
  return specs
}

/** {@link Fused.gatherWeightedSum}: table [V, d], w [B, L], ids [B, L] (V, B, L in 1-4, d in 1-6). */
const arbGatherWeightedSum = fc
  .record({
    v: fc.integer({ min: 1, max: 4 }),
    d: fc.integer({ min: 1, max: 6 }),
    n: fc.integer({ min: 1, max: 4 }),
    l: fc.integer({ min: 1, max: 4 }),
  })
  .chain(({ v, d, n, l }) =>
    fc
      .tuple(
        arbNd([v, d]),
        arbNd([n, l]),
        fc.array(fc.integer({ min: 0, max: v - 1 }), { minLength: n * l, maxLength: n * l }),
      )
      .map(([table, w, ids]) => ({ xs: [table, w], args: { ids: R.nd([n, l], ids) } })),
  )

/**
 * {@link Fused.broadcastReluDot} (ψ_FDA over the partners, eq. 13): rows [K, B, h], partners
 * [P, h], w [h, 1], bias [1], ids [B, S] (K, B, S, P in 1-3, h in 1-6). The rows are odd
 * multiples of 0.05 and the partners even ones, so every pre-activation is at least 0.05 from
 * ReLU's kink (finite differences).
 */
const arbBroadcastReluDot = fc
  .record({
    k: fc.integer({ min: 1, max: 3 }),
    n: fc.integer({ min: 1, max: 3 }),
    s: fc.integer({ min: 1, max: 3 }),
    h: fc.integer({ min: 1, max: 6 }),
    p: fc.integer({ min: 1, max: 3 }),
  })
  .chain(({ k, n, s, h, p }) =>
    fc
      .tuple(
        arbGridNd([k, n, h], true),
        arbGridNd([p, h], false),
        arbNd([h, 1]),
        arbNd([1]),
        fc.array(fc.integer({ min: 0, max: p - 1 }), { minLength: n * s, maxLength: n * s }),
      )
      .map(([rows, partners, weight, bias, ids]) => ({
        xs: [rows, partners, weight, bias],
        args: { ids: R.nd([n, s], ids) },
      })),
  )

/** Bias rows of {@link Fused.biasSigmoid}: by ids, or row n mod R. */
interface BiasRows {
  readonly rowOf: "ids" | "modulo"
  readonly ids: ReadonlyArray<number>
}

/** x [n, h] (n, h in 1-6), a bias [h] or [R, h] (by ids or n mod R), with or without an addend. */
const arbBiasSigmoid: fc.Arbitrary<{ xs: Array<NdArray>; args: BiasRows }> = fc
  .record({
    n: fc.integer({ min: 1, max: 6 }),
    h: fc.integer({ min: 1, max: 6 }),
    rowOf: fc.constantFrom("ids" as const, "modulo" as const, "vector" as const),
    rowCount: fc.integer({ min: 1, max: 3 }),
    addend: fc.boolean(),
  })
  .chain(({ n, h, rowOf, rowCount, addend }) => {
    // n mod R needs R | n: R = n, or 1 when the draw does not divide
    const r =
      rowOf === "vector" ? 1 : rowOf === "modulo" ? (n % rowCount === 0 ? rowCount : 1) : rowCount
    const biasShape = rowOf === "vector" ? [h] : [r, h]
    return fc
      .tuple(
        arbNd([n, h]),
        arbNd(biasShape),
        addend ? arbNd([n, h]).map((a): NdArray | undefined => a) : fc.constant(undefined),
        fc.array(fc.integer({ min: 0, max: r - 1 }), { minLength: n, maxLength: n }),
      )
      .map(([x, bias, a, ids]) => ({
        xs: a === undefined ? [x, bias] : [x, bias, a],
        args: { rowOf: rowOf === "ids" ? ("ids" as const) : ("modulo" as const), ids },
      }))
  })

/** h [n, d] and w [n] (n, d in 1-6), R rows by ids or n mod R. */
const arbRowWeightedSum = fc
  .record({
    n: fc.integer({ min: 1, max: 6 }),
    d: fc.integer({ min: 1, max: 6 }),
    rowCount: fc.integer({ min: 1, max: 3 }),
    byIds: fc.boolean(),
  })
  .chain(({ n, d, rowCount, byIds }) => {
    const r = byIds || n % rowCount === 0 ? rowCount : 1
    return fc
      .tuple(
        arbNd([n, d]),
        arbNd([n]),
        fc.array(fc.integer({ min: 0, max: r - 1 }), { minLength: n, maxLength: n }),
      )
      .map(([h, w, ids]) => ({
        xs: [h, w],
        args: { rowCount: r, ids: byIds ? ids : undefined },
      }))
  })
