/**
 * Op specifications: an op of the tensor interface with its float64 reference, from which the
 * suite makes a forward case and (for a differentiable op) a gradient case checked against
 * central finite differences.
 *
 * @module
 */
import * as fc from "fast-check"
import type { DType, Tensor, TensorBackend } from "../../Tensor.ts"
import type { NdArray } from "../Reference.ts"
import * as R from "../Reference.ts"
import {
  type ConformanceCase,
  type ConformanceOptions,
  defaults,
  finiteDifferenceStep,
  forwardTolerance,
  gradientTolerance,
  type Tolerance,
} from "./Case.ts"
import { assertClose, check, randomNd, show } from "./HostValues.ts"
import { inSession, type Session } from "./Sessions.ts"

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

export const propertyCase = <T>(
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
export const unitCase = (name: string, body: (s: Session) => void): ConformanceCase => ({
  name,
  run: (backend) => inSession(backend, body),
})

export const scalarOf = (x: NdArray): number => R.sum(x).data[0]

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
