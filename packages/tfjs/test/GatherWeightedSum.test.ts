/**
 * The fused gather-and-weighted-sum (`src/kernels/GatherWeightedSum.ts`, DeepFM's masked mean of
 * the history) against core's composition `Fused.gatherWeightedSumComposed` on wasm and on cpu:
 * values and the gradients of the table and w on random inputs of odd widths (the 4-lane loop and
 * its tail), repeated and unused ids; where it declines; a bad id; no leaks.
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
  GatherWeightedSum,
  GatherWeightedSumGrad,
  gatherWeightedSum,
  gatherWeightedSumLoaded,
  loadGatherWeightedSum,
} from "../src/kernels/GatherWeightedSum.ts"
import { makeTfjsBackend } from "../src/TfjsBackend.ts"
import { maxRelDiff, onWasmWithKernel, uniform } from "./fusedKernelHarness.ts"

onWasmWithKernel(loadGatherWeightedSum)

interface Case {
  readonly v: number
  readonly d: number
  readonly b: number
  readonly l: number
}

interface Outputs {
  readonly y: Float32Array
  readonly dtable: Float32Array
  readonly dw: Float32Array
  readonly kernels: ReadonlyArray<string>
}

/** out and the gradients of Σ out ⊙ u (random u) for the table and w. */
const run = async (b: TensorBackend, c: Case, seed: number, fused: boolean): Promise<Outputs> => {
  const rand = uniform(seed)
  const g = Random.generator(seed + 1)
  const table = b.parameter("table", rand(c.v * c.d), [c.v, c.d])
  const w = b.parameter("w", rand(c.b * c.l), [c.b, c.l])
  // ids in [0, V - 1): the last table row is never used (its gradient is exactly zero)
  const ids = Int32Array.from({ length: c.b * c.l }, () =>
    Random.integer(g, 0, Math.max(0, c.v - 2)),
  )
  const u = rand(c.b * c.d)
  let out: Omit<Outputs, "kernels"> | undefined
  const profile = await tf.profile(() => {
    b.tidy(() => {
      const idTensor = b.tensor(ids, [c.b, c.l], "int32")
      const f = () =>
        fused
          ? Fused.gatherWeightedSum(b, table.value, idTensor, w.value, () => {
              throw new Error("the fused kernel declined")
            })
          : Fused.gatherWeightedSumComposed(b, table.value, idTensor, w.value)
      const y = f()
      const { grads } = b.valueAndGrads(
        () => b.sum(b.mul(f(), b.tensor(u, [c.b, c.d]))),
        [table, w],
      )
      out = {
        y: b.read(y) as Float32Array,
        dtable: b.read(grads[0]!) as Float32Array,
        dw: b.read(grads[1]!) as Float32Array,
      }
    })
  })
  b.dispose([table, w])
  return { ...out!, kernels: profile.kernelNames }
}

const cases: ReadonlyArray<Case> = [
  { v: 1, d: 1, b: 1, l: 1 },
  { v: 30, d: 8, b: 17, l: 50 },
  { v: 9, d: 3, b: 5, l: 7 },
  { v: 12, d: 9, b: 6, l: 4 },
  { v: 4, d: 5, b: 3, l: 11 },
]

describe("GatherWeightedSum on wasm", () => {
  test("is loaded, and declines off wasm, switched off, or for shapes it does not take", async () => {
    expect(gatherWeightedSumLoaded()).toBe(true)
    tf.tidy(() => {
      const ids = tf.zeros([3, 4], "int32")
      const ok = (table: tf.Tensor, i: tf.Tensor, w: tf.Tensor) =>
        gatherWeightedSum(table, i, w) !== undefined
      expect(ok(tf.zeros([5, 8]), ids, tf.zeros([3, 4]))).toBe(true)
      expect(ok(tf.zeros([5, 8]), ids, tf.zeros([3, 5]))).toBe(false)
      expect(ok(tf.zeros([5, 8]), ids, tf.zeros([12]))).toBe(false)
      expect(ok(tf.zeros([5, 8]), tf.zeros([3, 4]), tf.zeros([3, 4]))).toBe(false) // float ids
      expect(ok(tf.zeros([5, 8, 1]), ids, tf.zeros([3, 4]))).toBe(false)
      fusedKernelOptions.enabled = false
      expect(ok(tf.zeros([5, 8]), ids, tf.zeros([3, 4]))).toBe(false)
    })
    await tf.setBackend("cpu")
    fusedKernelOptions.enabled = true
    tf.tidy(() =>
      expect(
        gatherWeightedSum(tf.zeros([5, 8]), tf.zeros([3, 4], "int32"), tf.zeros([3, 4])),
      ).toBeUndefined(),
    )
  })

  test("equals the composition: values and the gradients of the table and w", async () => {
    const wasm = makeTfjsBackend("wasm")
    for (const [i, c] of cases.entries()) {
      const fused = await run(wasm, c, 700 + i, true)
      const composed = await run(wasm, c, 700 + i, false)
      await tf.setBackend("cpu")
      const cpu = await run(makeTfjsBackend("cpu"), c, 700 + i, false)
      await tf.setBackend("wasm")
      const at = { ...c }
      expect({ ...at, ran: fused.kernels.includes(GatherWeightedSum) }).toEqual({
        ...at,
        ran: true,
      })
      expect({ ...at, grad: fused.kernels.includes(GatherWeightedSumGrad) }).toEqual({
        ...at,
        grad: true,
      })
      expect(composed.kernels.some((k) => k.startsWith("CausalDGatherWeightedSum"))).toBe(false)
      for (const reference of [composed, cpu])
        for (const key of ["y", "dtable", "dw"] as const)
          expect({ ...at, key, close: maxRelDiff(fused[key], reference[key]) < 2e-6 }).toEqual({
            ...at,
            key,
            close: true,
          })
      if (c.v > 1)
        expect(Array.from(fused.dtable.subarray((c.v - 1) * c.d))).toEqual(
          new Array<number>(c.d).fill(0),
        )
      expect(Math.max(...fused.dw.map(Math.abs))).toBeGreaterThan(1e-3)
      expect(Math.max(...fused.dtable.map(Math.abs))).toBeGreaterThan(1e-3)
    }
  })

  test("an id outside the table throws instead of reading outside it", () => {
    for (const bad of [5, -1])
      expect(() =>
        tf.tidy(() =>
          gatherWeightedSum(
            tf.zeros([5, 4]),
            tf.tensor2d([0, 1, bad, 2, 3, 4], [3, 2], "int32"),
            tf.zeros([3, 2]),
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
