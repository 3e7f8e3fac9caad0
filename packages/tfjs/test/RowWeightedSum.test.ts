/**
 * The fused row-weighted sum (`src/kernels/RowWeightedSum.ts`, DIN's mediator m = Σ_j w_j h_j)
 * against core's composition `Fused.rowWeightedSumComposed` on wasm and on cpu: values and the
 * gradients of h and w on random inputs of odd widths (the 4-lane loop and its tail), rows by id
 * (repeated, unused) or n mod R, no rows at all; where it declines; a bad row id; no leaks.
 *
 * wasm runs the threaded binary (2 threads) unless `CAUSALD_WASM_THREADS` is set.
 */
import { describe, expect, test } from "bun:test"
import { Fused, Random, type TensorBackend } from "@causald/core"
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { fusedKernelOptions } from "../src/kernels/BiasSigmoid.ts"
import {
  loadRowWeightedSum,
  RowWeightedSum,
  RowWeightedSumGrad,
  RowWeightedSumRows,
  rowWeightedSum,
  rowWeightedSumLoaded,
} from "../src/kernels/RowWeightedSum.ts"
import { makeTfjsBackend } from "../src/TfjsBackend.ts"
import { maxRelDiff, onWasmWithKernel, uniform } from "./fusedKernelHarness.ts"

onWasmWithKernel(loadRowWeightedSum)

interface Case {
  readonly n: number
  readonly d: number
  readonly r: number
  readonly rows: boolean
}

/** out and the gradients of Σ out ⊙ v (random v) for h and w, and the kernels that ran. */
const run = async (b: TensorBackend, c: Case, seed: number, fused: boolean) => {
  const rand = uniform(seed)
  const g = Random.generator(seed + 1)
  const h = b.parameter("h", rand(c.n * c.d), [c.n, c.d])
  const w = b.parameter("w", rand(c.n), [c.n])
  // ids in [0, R - 1): the last output row gets no term (exactly zero, and so its gradient)
  const ids = Int32Array.from({ length: c.n }, () => Random.integer(g, 0, Math.max(0, c.r - 2)))
  const v = rand(c.r * c.d)
  let out: { y: Float32Array; dh: Float32Array; dw: Float32Array } | undefined
  const profile = await tf.profile(() => {
    b.tidy(() => {
      const rows = c.rows ? b.tensor(ids, [c.n], "int32") : undefined
      const f = () =>
        fused
          ? Fused.rowWeightedSum(b, h.value, w.value, c.r, rows, () => {
              throw new Error("the fused kernel declined")
            })
          : Fused.rowWeightedSumComposed(b, h.value, w.value, c.r, rows)
      const y = f()
      const { grads } = b.valueAndGrads(() => b.sum(b.mul(f(), b.tensor(v, [c.r, c.d]))), [h, w])
      out = {
        y: b.read(y) as Float32Array,
        dh: b.read(grads[0]!) as Float32Array,
        dw: b.read(grads[1]!) as Float32Array,
      }
    })
  })
  b.dispose([h, w])
  return { ...out!, kernels: profile.kernelNames }
}

const cases: ReadonlyArray<Case> = [
  { n: 1, d: 1, r: 1, rows: false },
  { n: 12, d: 8, r: 4, rows: false },
  { n: 35, d: 3, r: 7, rows: false },
  { n: 18, d: 9, r: 18, rows: false },
  { n: 23, d: 8, r: 5, rows: true },
  { n: 40, d: 5, r: 9, rows: true },
  { n: 7, d: 12, r: 2, rows: true },
  { n: 0, d: 8, r: 3, rows: true },
]

describe("RowWeightedSum on wasm", () => {
  test("is loaded, and declines off wasm, switched off, or for shapes it does not take", async () => {
    expect(rowWeightedSumLoaded()).toBe(true)
    tf.tidy(() => {
      const h = tf.zeros([6, 8])
      expect(rowWeightedSum(h, tf.zeros([6]), 3)).toBeDefined()
      expect(rowWeightedSum(h, tf.zeros([6]), 4)).toBeUndefined() // 6 rows, not a multiple of 4
      expect(rowWeightedSum(h, tf.zeros([6, 1]), 3)).toBeUndefined()
      expect(rowWeightedSum(h, tf.zeros([5]), 5)).toBeUndefined()
      expect(rowWeightedSum(h, tf.zeros([6]), 0)).toBeUndefined()
      expect(rowWeightedSum(h, tf.zeros([6]), 2, tf.zeros([6]))).toBeUndefined() // float ids
      fusedKernelOptions.enabled = false
      expect(rowWeightedSum(h, tf.zeros([6]), 3)).toBeUndefined()
    })
    await tf.setBackend("cpu")
    fusedKernelOptions.enabled = true
    tf.tidy(() => expect(rowWeightedSum(tf.zeros([6, 8]), tf.zeros([6]), 3)).toBeUndefined())
  })

  test("equals the composition: values and the gradients of h and w (odd widths, rows by id or n mod R)", async () => {
    const wasm = makeTfjsBackend("wasm")
    for (const [i, c] of cases.entries()) {
      const fused = await run(wasm, c, 300 + i, true)
      const composed = await run(wasm, c, 300 + i, false)
      await tf.setBackend("cpu")
      const cpu = await run(makeTfjsBackend("cpu"), c, 300 + i, false)
      await tf.setBackend("wasm")
      const at = { ...c }
      expect({
        ...at,
        ran: fused.kernels.includes(c.rows ? RowWeightedSumRows : RowWeightedSum),
      }).toEqual({ ...at, ran: true })
      expect({ ...at, grad: fused.kernels.includes(RowWeightedSumGrad) }).toEqual({
        ...at,
        grad: true,
      })
      expect(composed.kernels.some((k) => k.startsWith("CausalDRowWeightedSum"))).toBe(false)
      for (const reference of [composed, cpu]) {
        expect({ ...at, y: maxRelDiff(fused.y, reference.y) < 1e-6 }).toEqual({ ...at, y: true })
        expect({ ...at, dh: maxRelDiff(fused.dh, reference.dh) < 1e-6 }).toEqual({
          ...at,
          dh: true,
        })
        expect({ ...at, dw: maxRelDiff(fused.dw, reference.dw) < 1e-6 }).toEqual({
          ...at,
          dw: true,
        })
      }
      if (c.rows && c.r > 1)
        expect(Array.from(fused.y.subarray((c.r - 1) * c.d))).toEqual(
          new Array<number>(c.d).fill(0),
        )
      if (c.n > 0) expect(Math.max(...fused.dw.map(Math.abs))).toBeGreaterThan(1e-3)
    }
  })

  test("a row id outside the output throws instead of writing outside it", () => {
    for (const bad of [3, -1])
      expect(() =>
        tf.tidy(() =>
          rowWeightedSum(tf.zeros([3, 4]), tf.zeros([3]), 3, tf.tensor1d([0, bad, 1], "int32")),
        ),
      ).toThrow()
  })

  test("leaves no tensor behind, forward and backward", async () => {
    const b = makeTfjsBackend("wasm")
    await run(b, cases[4]!, 1, true)
    const before = tf.memory().numTensors
    await run(b, cases[4]!, 2, true)
    await run(b, cases[2]!, 3, true)
    expect(tf.memory().numTensors).toBe(before)
  })
})
