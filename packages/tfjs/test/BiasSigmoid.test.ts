/**
 * The fused bias-sigmoid (`src/kernels/BiasSigmoid.ts`) against the composition it replaces
 * (core's `Fused.preActivation` then `sigmoid`, the ops DIN's activation unit ran before): values
 * and the gradients of x, addend and bias on random inputs of odd sizes (the kernel's 4-lane
 * loop and its 1-lane tail), bias rows by `rows` (repeated and unused rows) or n mod R, extreme
 * and NaN inputs; where it applies and where it declines; a bad row id; no leaked tensor.
 *
 * wasm runs the threaded binary (2 threads; its heap is a SharedArrayBuffer-backed memory)
 * unless `CAUSALD_WASM_THREADS` is set: run once with `CAUSALD_WASM_THREADS=1` for the other.
 */
import { describe, expect, test } from "bun:test"
import { Fused, Random, type TensorBackend } from "@causald/core"
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import {
  BiasSigmoid,
  BiasSigmoidGrad,
  BiasSigmoidRows,
  biasSigmoid,
  biasSigmoidLoaded,
  fusedKernelOptions,
  loadBiasSigmoid,
} from "../src/kernels/BiasSigmoid.ts"
import { makeTfjsBackend } from "../src/TfjsBackend.ts"
import { maxRelDiff, onWasmWithKernel, uniform as seededUniform } from "./fusedKernelHarness.ts"

onWasmWithKernel(loadBiasSigmoid)

/** Seeded floats in [-4, 4) by default: the sigmoid's interesting range. */
const uniform = (seed: number, scale = 4) => seededUniform(seed, scale)

interface Case {
  readonly n: number
  readonly h: number
  /** Bias rows; 0 = a rank-1 bias [h]. */
  readonly r: number
  readonly addend: boolean
  readonly rows: boolean
}

interface Outcome {
  readonly y: Float32Array
  readonly dx: Float32Array
  readonly daddend: Float32Array | undefined
  readonly dbias: Float32Array
  readonly kernels: ReadonlyArray<string>
}

/**
 * y = Fused.biasSigmoid of the case's random inputs on backend `b`, and the gradients of
 * Σ y ⊙ w (random w) for x, addend and bias; `kernels` are the tfjs kernels that ran.
 */
const run = async (b: TensorBackend, c: Case, seed: number): Promise<Outcome> => {
  const rand = uniform(seed)
  const g = Random.generator(seed + 1)
  const biasShape = c.r === 0 ? [c.h] : [c.r, c.h]
  const x = b.parameter("x", rand(c.n * c.h), [c.n, c.h])
  const addend = b.parameter("addend", rand(c.n * c.h), [c.n, c.h])
  const bias = b.parameter("bias", rand(c.h * Math.max(1, c.r)), biasShape)
  // rows: ids drawn from [0, R - 1) so that the last bias row is never used (its gradient is 0)
  const ids = Int32Array.from({ length: c.n }, () => Random.integer(g, 0, Math.max(0, c.r - 2)))
  const weights = rand(c.n * c.h)
  const params = c.addend ? [x, addend, bias] : [x, bias]
  let out: Outcome | undefined
  const profile = await tf.profile(() => {
    b.tidy(() => {
      const rows = c.rows ? b.tensor(ids, [c.n], "int32") : undefined
      const w = b.tensor(weights, [c.n, c.h])
      const pre = {
        x: x.value,
        bias: bias.value,
        ...(c.addend ? { addend: addend.value } : {}),
        ...(rows === undefined ? {} : { rows }),
      }
      const y = Fused.biasSigmoid(b, pre)
      const { grads } = b.valueAndGrads(() => b.sum(b.mul(Fused.biasSigmoid(b, pre), w)), params)
      const read = grads.map((t) => b.read(t) as Float32Array)
      out = {
        y: b.read(y) as Float32Array,
        dx: read[0]!,
        daddend: c.addend ? read[1]! : undefined,
        dbias: read[c.addend ? 2 : 1]!,
        kernels: [],
      }
    })
  })
  b.dispose([x, addend, bias])
  return { ...out!, kernels: profile.kernelNames }
}

const cases: ReadonlyArray<Case> = [
  { n: 1, h: 1, r: 0, addend: false, rows: false },
  { n: 7, h: 3, r: 0, addend: true, rows: false },
  { n: 9, h: 4, r: 1, addend: true, rows: false },
  { n: 15, h: 6, r: 5, addend: true, rows: false },
  { n: 33, h: 80, r: 11, addend: true, rows: false },
  { n: 31, h: 40, r: 0, addend: false, rows: false },
  { n: 13, h: 83, r: 13, addend: false, rows: false },
  { n: 17, h: 5, r: 4, addend: true, rows: true },
  { n: 29, h: 80, r: 7, addend: true, rows: true },
  { n: 3, h: 9, r: 1, addend: false, rows: true },
  { n: 0, h: 8, r: 2, addend: true, rows: true },
]

describe("BiasSigmoid on wasm", () => {
  test("is loaded, and declines (undefined) off wasm, switched off, or for shapes it does not take", async () => {
    expect(biasSigmoidLoaded()).toBe(true)
    tf.tidy(() => {
      const x = tf.zeros([6, 4])
      expect(biasSigmoid(x, tf.zeros([4]))).toBeDefined()
      expect(biasSigmoid(x, tf.zeros([3, 4]))).toBeDefined()
      expect(biasSigmoid(x, tf.zeros([4, 4]))).toBeUndefined() // 6 rows, not a multiple of 4
      expect(biasSigmoid(x, tf.zeros([5]))).toBeUndefined() // bias width
      expect(biasSigmoid(x, tf.zeros([2, 4]), { addend: tf.zeros([6, 5]) })).toBeUndefined()
      expect(biasSigmoid(x, tf.zeros([2, 4]), { rows: tf.zeros([6]) })).toBeUndefined() // float ids
      expect(biasSigmoid(x, tf.zeros([2, 4]), { rows: tf.zeros([5], "int32") })).toBeUndefined()
      expect(biasSigmoid(tf.zeros([6, 4], "int32"), tf.zeros([4]))).toBeUndefined()
      expect(biasSigmoid(tf.zeros([2, 3, 4]), tf.zeros([4]))).toBeUndefined()
      fusedKernelOptions.enabled = false
      expect(biasSigmoid(x, tf.zeros([4]))).toBeUndefined()
    })
    await tf.setBackend("cpu")
    fusedKernelOptions.enabled = true
    tf.tidy(() => expect(biasSigmoid(tf.zeros([6, 4]), tf.zeros([4]))).toBeUndefined())
  })

  test("equals the composition: values and the gradients of x, addend and bias (odd sizes, bias rows by id or n mod R)", async () => {
    const b = makeTfjsBackend("wasm")
    for (const [i, c] of cases.entries()) {
      fusedKernelOptions.enabled = true
      const fused = await run(b, c, 100 + i)
      fusedKernelOptions.enabled = false
      const composed = await run(b, c, 100 + i)
      await tf.setBackend("cpu")
      const cpu = await run(makeTfjsBackend("cpu"), c, 100 + i)
      await tf.setBackend("wasm")
      const at = { ...c }
      // the fused kernels ran, and only when switched on
      if (c.n > 0) {
        expect({
          ...at,
          kernels: fused.kernels.includes(c.rows ? BiasSigmoidRows : BiasSigmoid),
        }).toEqual({ ...at, kernels: true })
        expect({ ...at, grad: fused.kernels.includes(BiasSigmoidGrad) }).toEqual({
          ...at,
          grad: true,
        })
      }
      expect(composed.kernels.some((k) => k.startsWith("CausalDBiasSigmoid"))).toBe(false)
      for (const reference of [composed, cpu]) {
        expect({ ...at, y: maxRelDiff(fused.y, reference.y) < 2e-7 }).toEqual({ ...at, y: true })
        expect({ ...at, dx: maxRelDiff(fused.dx, reference.dx) < 1e-6 }).toEqual({
          ...at,
          dx: true,
        })
        if (c.addend)
          expect({ ...at, da: maxRelDiff(fused.daddend!, reference.daddend!) < 1e-6 }).toEqual({
            ...at,
            da: true,
          })
        expect({ ...at, db: maxRelDiff(fused.dbias, reference.dbias) < 1e-5 }).toEqual({
          ...at,
          db: true,
        })
      }
      if (c.rows && c.r > 1) {
        // the unused last bias row gets exactly zero
        expect(Array.from(fused.dbias.subarray((c.r - 1) * c.h))).toEqual(
          new Array<number>(c.h).fill(0),
        )
      }
      if (c.n > 0) expect(Math.max(...fused.dx.map(Math.abs))).toBeGreaterThan(1e-3)
    }
  })

  test("the gradient is tfjs's dy·(y·(1 − y)) in tfjs's order: bit-identical given y", () => {
    const rand = uniform(7)
    tf.tidy(() => {
      const dy = tf.tensor2d(rand(21 * 11), [21, 11])
      const y = tf.sigmoid(tf.tensor2d(rand(21 * 11), [21, 11]))
      const [dx] = tf
        .engine()
        .runKernel(BiasSigmoidGrad, { dy, y }, { biasShape: [11] }) as Array<tf.Tensor>
      const expected = tf.mul(dy, tf.mul(y, tf.sub(tf.scalar(1), y)))
      expect(Array.from(dx!.dataSync())).toEqual(Array.from(expected.dataSync()))
    })
  })

  test("as accurate as tfjs's Sigmoid: within 1.2e-7 (absolute) and 3e-7 (relative) of the float64 sigmoid", () => {
    // a fine grid over the range where sigmoid is neither 0 nor 1 in float32
    const n = 200_000
    const v = Float32Array.from({ length: n }, (_, i) => -16 + (32 * i) / n)
    tf.tidy(() => {
      const x = tf.tensor2d(v, [n / 8, 8])
      for (const y of [biasSigmoid(x, tf.zeros([8]))!.dataSync(), tf.sigmoid(x).dataSync()]) {
        let absolute = 0
        let relative = 0
        for (let i = 0; i < n; i++) {
          const exact = 1 / (1 + Math.exp(-v[i]!))
          absolute = Math.max(absolute, Math.abs(y[i]! - exact))
          relative = Math.max(relative, Math.abs(y[i]! - exact) / exact)
        }
        expect(absolute).toBeLessThan(1.2e-7)
        expect(relative).toBeLessThan(3e-7)
      }
    })
  })

  test("extreme pre-activations: saturates to 0 and 1 without overflow, NaN stays NaN", () => {
    const values = [0, -0, 1e-30, -1e-30, 5, -5, 20, -20, 87, -87, 88, -88, 100, -100, 1e30, -1e30]
    const extra = [Infinity, -Infinity, Number.NaN]
    const all = [...values, ...extra, 0.5] // 20 columns: the 4-lane loop and no tail
    tf.tidy(() => {
      const x = tf.tensor2d(all, [1, all.length])
      const got = biasSigmoid(x, tf.zeros([all.length]))!.dataSync()
      const want = tf.sigmoid(x).dataSync()
      for (let j = 0; j < all.length; j++) {
        const at = { input: all[j] }
        if (Number.isNaN(all[j]!))
          expect({ ...at, nan: Number.isNaN(got[j]!) }).toEqual({ ...at, nan: true })
        else {
          expect({ ...at, diff: Math.abs(got[j]! - want[j]!) < 1e-7 }).toEqual({
            ...at,
            diff: true,
          })
          expect({ ...at, inRange: got[j]! >= 0 && got[j]! <= 1 }).toEqual({ ...at, inRange: true })
        }
      }
    })
  })

  test("a row id outside the bias throws instead of writing outside it", () => {
    expect(() =>
      tf.tidy(() =>
        biasSigmoid(tf.zeros([3, 4]), tf.zeros([2, 4]), { rows: tf.tensor1d([0, 2, 1], "int32") }),
      ),
    ).toThrow()
    expect(() =>
      tf.tidy(() =>
        biasSigmoid(tf.zeros([3, 4]), tf.zeros([2, 4]), { rows: tf.tensor1d([0, -1, 1], "int32") }),
      ),
    ).toThrow()
  })

  test("leaves no tensor behind, forward and backward", async () => {
    const b = makeTfjsBackend("wasm")
    await run(b, cases[8]!, 1) // warm
    const before = tf.memory().numTensors
    await run(b, cases[8]!, 2)
    await run(b, cases[4]!, 3)
    expect(tf.memory().numTensors).toBe(before)
  })
})
