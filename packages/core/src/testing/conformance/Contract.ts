/**
 * The rest of the tensor interface's contract: creation, dtypes and reading, stopGradient,
 * gradient routing, parameters and their checkpoints, and memory.
 *
 * @module
 */
import { Effect, Result } from "effect"
import * as fc from "fast-check"
import { type DType, type OptimizerSpec, type Tensor, Tensors, tensorScope } from "../../Tensor.ts"
import type { NdArray } from "../Reference.ts"
import * as R from "../Reference.ts"
import { arbNd, arbShape } from "./Arbitraries.ts"
import {
  type ConformanceCase,
  type ConformanceOptions,
  forwardTolerance,
  gradientTolerance,
} from "./Case.ts"
import { assertClose, check, expectations, sameShape, show, toTensor } from "./HostValues.ts"
import { lossGradients, propertyCase, scalarOf, unitCase } from "./OpSpec.ts"
import { optimizerSpecs } from "./Optimisers.ts"
import { inSession } from "./Sessions.ts"

const arbFloat = (shape: ReadonlyArray<number>) => arbNd(shape, { min: -3, max: 3 })

export const contractCases = (o: Required<ConformanceOptions>): Array<ConformanceCase> => [
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
