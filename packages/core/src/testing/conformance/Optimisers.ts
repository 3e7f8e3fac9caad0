/**
 * The optimisers of the conformance suite: the update rules in float64 and the cases that hold
 * the backend's Sgd, Adagrad and Adam to them, with their checkpoints and disposal.
 *
 * @module
 */
import * as fc from "fast-check"
import type { OptimizerSpec, Parameter, TensorBackend } from "../../Tensor.ts"
import type { NdArray } from "../Reference.ts"
import * as R from "../Reference.ts"
import { arbNd, arbShape } from "./Arbitraries.ts"
import {
  adagradEpsilon,
  type ConformanceCase,
  type ConformanceOptions,
  defaultInitialAccumulator,
  optimizerTolerance,
} from "./Case.ts"
import { assertClose, check } from "./HostValues.ts"
import { propertyCase, unitCase } from "./OpSpec.ts"
import { inSession, type Session } from "./Sessions.ts"

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

export const optimizerSpecs: ReadonlyArray<OptimizerSpec> = [
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

export const optimizerCases = (o: Required<ConformanceOptions>): Array<ConformanceCase> => [
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
