/**
 * The fused ψ_FDA over the partners (`src/kernels/BroadcastReluDot.ts`, eq. 13 of the causal
 * label) against core's composition `Fused.broadcastReluDotComposed` on wasm and on cpu: values
 * and the gradients of rows, partners, w and the bias on random inputs of odd widths (the 4-lane
 * loop and its tail), repeated and unused partner ids; where it declines; a bad id; no leaks.
 * Then the causal label itself (`CausalLabel.estimate`, eq. 14): with `CAUSALD_FUSED=off` bit for
 * bit the composition it had before the kernel, with the kernel within float rounding of it.
 *
 * wasm runs the threaded binary (2 threads) unless `CAUSALD_WASM_THREADS` is set.
 */
import { describe, expect, test } from "bun:test"
import { CausalLabel, Fused, Mlp, Random, type Tensor, type TensorBackend } from "@causald/core"
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { fusedKernelOptions } from "../src/kernels/BiasSigmoid.ts"
import {
  BroadcastReluDot,
  BroadcastReluDotGrad,
  broadcastReluDot,
  broadcastReluDotLoaded,
  loadBroadcastReluDot,
} from "../src/kernels/BroadcastReluDot.ts"
import { makeTfjsBackend } from "../src/TfjsBackend.ts"
import { maxRelDiff, onWasmWithKernel, uniform } from "./fusedKernelHarness.ts"

onWasmWithKernel(loadBroadcastReluDot)

interface Case {
  readonly k: number
  readonly b: number
  readonly s: number
  readonly h: number
  readonly p: number
}

interface Outputs {
  readonly y: Float32Array
  readonly drows: Float32Array
  readonly dpartners: Float32Array
  readonly dw: Float32Array
  readonly dbias: Float32Array
  readonly kernels: ReadonlyArray<string>
}

/** out and the gradients of Σ out ⊙ v (random v) for rows, partners, w and bias. */
const run = async (b: TensorBackend, c: Case, seed: number, fused: boolean): Promise<Outputs> => {
  const rand = uniform(seed)
  const g = Random.generator(seed + 1)
  const rows = b.parameter("rows", rand(c.k * c.b * c.h), [c.k, c.b, c.h])
  const partners = b.parameter("partners", rand(c.p * c.h), [c.p, c.h])
  const w = b.parameter("w", rand(c.h), [c.h, 1])
  const bias = b.parameter("bias", rand(1), [1])
  const params = [rows, partners, w, bias]
  // ids in [0, P - 1): the last partner row is never used (its gradient is exactly zero)
  const ids = Int32Array.from({ length: c.b * c.s }, () =>
    Random.integer(g, 0, Math.max(0, c.p - 2)),
  )
  const v = rand(c.k * c.b * c.s)
  let out: Omit<Outputs, "kernels"> | undefined
  const profile = await tf.profile(() => {
    b.tidy(() => {
      const layer = () => ({
        rows: rows.value,
        partners: partners.value,
        ids: b.tensor(ids, [c.b, c.s], "int32"),
        weight: w.value,
        bias: bias.value,
      })
      const f = () =>
        fused
          ? Fused.broadcastReluDot(b, layer(), () => {
              throw new Error("the fused kernel declined")
            })
          : Fused.broadcastReluDotComposed(b, layer())
      const y = f()
      const { grads } = b.valueAndGrads(
        () => b.sum(b.mul(f(), b.tensor(v, [c.k, c.b, c.s]))),
        params,
      )
      const [drows, dpartners, dw, dbias] = grads.map((x) => b.read(x) as Float32Array)
      out = {
        y: b.read(y) as Float32Array,
        drows: drows!,
        dpartners: dpartners!,
        dw: dw!,
        dbias: dbias!,
      }
    })
  })
  b.dispose(params)
  return { ...out!, kernels: profile.kernelNames }
}

const cases: ReadonlyArray<Case> = [
  { k: 1, b: 1, s: 1, h: 1, p: 1 },
  { k: 4, b: 9, s: 16, h: 16, p: 9 },
  { k: 3, b: 7, s: 5, h: 3, p: 7 },
  { k: 2, b: 5, s: 3, h: 17, p: 6 },
  { k: 1, b: 6, s: 2, h: 6, p: 3 },
  { k: 4, b: 3, s: 8, h: 5, p: 11 },
]

describe("BroadcastReluDot on wasm", () => {
  test("is loaded, and declines off wasm, switched off, or for shapes it does not take", async () => {
    expect(broadcastReluDotLoaded()).toBe(true)
    tf.tidy(() => {
      const ids = tf.zeros([3, 2], "int32")
      const ok = (rows: tf.Tensor, partners: tf.Tensor, i: tf.Tensor, w: tf.Tensor, b: tf.Tensor) =>
        broadcastReluDot(rows, partners, i, w, b) !== undefined
      expect(ok(tf.zeros([2, 3, 4]), tf.zeros([5, 4]), ids, tf.zeros([4, 1]), tf.zeros([1]))).toBe(
        true,
      )
      expect(ok(tf.zeros([2, 3, 4]), tf.zeros([5, 4]), ids, tf.zeros([4]), tf.scalar(0))).toBe(true)
      expect(ok(tf.zeros([2, 3, 4]), tf.zeros([5, 3]), ids, tf.zeros([4, 1]), tf.zeros([1]))).toBe(
        false,
      )
      expect(ok(tf.zeros([2, 4, 4]), tf.zeros([5, 4]), ids, tf.zeros([4, 1]), tf.zeros([1]))).toBe(
        false,
      )
      expect(ok(tf.zeros([2, 3, 4]), tf.zeros([5, 4]), ids, tf.zeros([4, 2]), tf.zeros([1]))).toBe(
        false,
      )
      expect(ok(tf.zeros([2, 3, 4]), tf.zeros([5, 4]), ids, tf.zeros([4, 1]), tf.zeros([2]))).toBe(
        false,
      )
      expect(
        ok(
          tf.zeros([2, 3, 4]),
          tf.zeros([5, 4]),
          tf.zeros([3, 2]),
          tf.zeros([4, 1]),
          tf.zeros([1]),
        ),
      ).toBe(false) // float ids
      fusedKernelOptions.enabled = false
      expect(ok(tf.zeros([2, 3, 4]), tf.zeros([5, 4]), ids, tf.zeros([4, 1]), tf.zeros([1]))).toBe(
        false,
      )
    })
    await tf.setBackend("cpu")
    fusedKernelOptions.enabled = true
    tf.tidy(() =>
      expect(
        broadcastReluDot(
          tf.zeros([2, 3, 4]),
          tf.zeros([5, 4]),
          tf.zeros([3, 2], "int32"),
          tf.zeros([4, 1]),
          tf.zeros([1]),
        ),
      ).toBeUndefined(),
    )
  })

  test("equals the composition: values and the gradients of rows, partners, w and bias", async () => {
    const wasm = makeTfjsBackend("wasm")
    for (const [i, c] of cases.entries()) {
      const fused = await run(wasm, c, 500 + i, true)
      const composed = await run(wasm, c, 500 + i, false)
      await tf.setBackend("cpu")
      const cpu = await run(makeTfjsBackend("cpu"), c, 500 + i, false)
      await tf.setBackend("wasm")
      const at = { ...c }
      expect({ ...at, ran: fused.kernels.includes(BroadcastReluDot) }).toEqual({ ...at, ran: true })
      expect({ ...at, grad: fused.kernels.includes(BroadcastReluDotGrad) }).toEqual({
        ...at,
        grad: true,
      })
      expect(composed.kernels.some((k) => k.startsWith("CausalDBroadcastReluDot"))).toBe(false)
      for (const reference of [composed, cpu])
        for (const key of ["y", "drows", "dpartners", "dw", "dbias"] as const)
          expect({ ...at, key, close: maxRelDiff(fused[key], reference[key]) < 2e-6 }).toEqual({
            ...at,
            key,
            close: true,
          })
      if (c.p > 1)
        expect(Array.from(fused.dpartners.subarray((c.p - 1) * c.h))).toEqual(
          new Array<number>(c.h).fill(0),
        )
      expect(Math.max(...fused.dw.map(Math.abs))).toBeGreaterThan(1e-3)
      expect(Math.max(...fused.drows.map(Math.abs))).toBeGreaterThan(1e-3)
    }
  })

  test("a partner id outside the partner block throws instead of reading outside it", () => {
    for (const bad of [5, -1])
      expect(() =>
        tf.tidy(() =>
          broadcastReluDot(
            tf.zeros([2, 3, 4]),
            tf.zeros([5, 4]),
            tf.tensor2d([0, 1, bad, 2, 3, 4], [3, 2], "int32"),
            tf.zeros([4, 1]),
            tf.zeros([1]),
          ),
        ),
      ).toThrow()
  })

  test("leaves no tensor behind, forward and backward", async () => {
    const b = makeTfjsBackend("wasm")
    await run(b, cases[1]!, 1, true)
    const before = tf.memory().numTensors
    await run(b, cases[1]!, 2, true)
    await run(b, cases[3]!, 3, true)
    expect(tf.memory().numTensors).toBe(before)
  })
})

/**
 * `CausalLabel.interventionalClick` as it was before the fused op (commit fd36b86), op for op:
 * the reference of what `CAUSALD_FUSED=off` must still compute.
 */
const interventionalClickBefore = (
  backend: TensorBackend,
  estimator: CausalLabel.CausalLabelEstimator,
  inputs: CausalLabel.CausalLabelInputs,
  partners: Tensor,
): Tensor => {
  const { mediatorSize: d, itemSize: e } = estimator.config
  const [wPartner, wMediator, wItem] = Mlp.firstLayerBlocks(backend, estimator.psi, [d, d, e]) as [
    Tensor,
    Tensor,
    Tensor,
  ]
  const [k, b] = inputs.teacherMediators.shape as [number, number, number]
  const partnerTerm = backend.gather(backend.matmul(inputs.partnerMediators, wPartner), partners)
  const mediatorTerm = backend.reshape(
    backend.matmul(backend.reshape(inputs.teacherMediators, [k * b, d]), wMediator),
    [k, b, 1, -1],
  )
  const itemTerm = backend.add(backend.matmul(inputs.items, wItem), estimator.psi.biases[0]!.value)
  const rowTerm = backend.add(mediatorTerm, backend.reshape(itemTerm, [1, b, 1, -1]))
  const pre = backend.add(rowTerm, backend.expandDims(partnerTerm, 0))
  const [, , s, h] = pre.shape as [number, number, number, number]
  const logits = Mlp.continueFrom(backend, estimator.psi, backend.reshape(pre, [k * b * s, h]))
  return backend.sigmoid(backend.reshape(logits, [k, b, s]))
}

describe("the causal label (eq. 14) on the fused ψ_FDA", () => {
  // K 4 teachers, B 11 rows, S 6 partners, d 8, e 5, ψ_FDA hidden [16] (the default) or [6]
  const [k, rows, s, d, e] = [4, 11, 6, 8, 5]

  /** õ and the gradients of Σ õ ⊙ v for the estimator's parameters, and the kernels that ran. */
  const label = async (
    b: TensorBackend,
    hidden: ReadonlyArray<number>,
    mode: "fused" | "off" | "before",
  ) => {
    const estimator = CausalLabel.make(
      b,
      { mediatorSize: d, itemSize: e, hidden },
      Random.generator(7),
    )
    const rand = uniform(8)
    const g = Random.generator(9)
    const host = {
      teachers: rand(k * rows * d),
      student: rand(rows * d),
      partners: rand(rows * d),
      items: rand(rows * e),
      ids: CausalLabel.sampledPartners(g, rows, s),
      v: rand(rows),
    }
    const before = fusedKernelOptions.enabled
    fusedKernelOptions.enabled = mode === "fused"
    let out: Array<Float32Array> = []
    try {
      const profile = await tf.profile(() =>
        b.tidy(() => {
          const inputs: CausalLabel.CausalLabelInputs = {
            teacherMediators: b.tensor(host.teachers, [k, rows, d]),
            studentMediator: b.tensor(host.student, [rows, d]),
            partnerMediators: b.tensor(host.partners, [rows, d]),
            items: b.tensor(host.items, [rows, e]),
          }
          const ids = b.tensor(host.ids, [rows, s], "int32")
          // õ as `CausalLabel.estimate` forms it (eq. 14), on either interventional click
          const click =
            mode === "before" ? interventionalClickBefore : CausalLabel.interventionalClick
          const f = () => {
            const clicks = b.mean(click(b, estimator, inputs, ids), -1) // [K, B]
            const alpha = CausalLabel.mediatorPosterior(
              b,
              estimator,
              inputs.teacherMediators,
              inputs.studentMediator,
            )
            return b.sum(b.mul(alpha, b.transpose(clicks)), -1)
          }
          const y = f()
          const { grads } = b.valueAndGrads(
            () => b.sum(b.mul(f(), b.tensor(host.v, [rows]))),
            estimator.parameters,
          )
          out = [b.read(y) as Float32Array, ...grads.map((x) => b.read(x) as Float32Array)]
        }),
      )
      return { out, kernels: profile.kernelNames }
    } finally {
      fusedKernelOptions.enabled = before
      b.dispose(estimator.parameters)
    }
  }

  test("CAUSALD_FUSED=off is the composition before the kernel, bit for bit; the kernel agrees within rounding", async () => {
    const wasm = makeTfjsBackend("wasm")
    const beforeKernel = await label(wasm, [16], "before")
    const off = await label(wasm, [16], "off")
    const fused = await label(wasm, [16], "fused")
    expect(off.kernels.some((x) => x.startsWith("CausalDBroadcastReluDot"))).toBe(false)
    expect(fused.kernels).toContain(BroadcastReluDot)
    expect(fused.kernels).toContain(BroadcastReluDotGrad)
    // õ, then W1, W2 and ψ_FDA's two layers (weights, biases): every one was reached
    expect(off.out.length).toBe(1 + 6)
    off.out.forEach((values, i) => {
      expect({ i, bits: Array.from(new Uint32Array(values.buffer)) }).toEqual({
        i,
        bits: Array.from(new Uint32Array(beforeKernel.out[i]!.buffer)),
      })
      expect({ i, close: maxRelDiff(fused.out[i]!, values) < 1e-5 }).toEqual({ i, close: true })
      expect(Math.max(...values.map(Math.abs))).toBeGreaterThan(1e-6)
    })
  })

  test("a ψ_FDA with two hidden layers composes, and equals the composition before", async () => {
    const wasm = makeTfjsBackend("wasm")
    const fused = await label(wasm, [16, 6], "fused")
    const beforeKernel = await label(wasm, [16, 6], "before")
    expect(fused.kernels.some((x) => x.startsWith("CausalDBroadcastReluDot"))).toBe(false)
    for (const [i, values] of fused.out.entries())
      expect({ i, bits: Array.from(new Uint32Array(values.buffer)) }).toEqual({
        i,
        bits: Array.from(new Uint32Array(beforeKernel.out[i]!.buffer)),
      })
  })
})
