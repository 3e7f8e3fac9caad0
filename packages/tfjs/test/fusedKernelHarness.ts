/**
 * What every fused kernel's test file shares: the wasm backend set up as the adapter sets it up
 * (tfjs's kernels registered, no native BLAS, two wasm threads unless `CAUSALD_WASM_THREADS`
 * says otherwise) with the kernel under test loaded, the fused path switched back on after each
 * test, seeded inputs and the error measure the kernels are held to.
 */
import { afterEach, beforeAll, expect } from "bun:test"
import { Random } from "@causald/core"
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { fusedKernelOptions } from "../src/kernels/BiasSigmoid.ts"
import { registerKernels } from "../src/kernels/index.ts"
import { setNativeBlas } from "../src/kernels/NativeMatMul.ts"
import { configureWasmThreads, resolveWasmThreads, WASM_THREADS_ENV } from "../src/WasmThreads.ts"

/**
 * Registers the file's hooks: before all tests, wasm with `load`'s kernel (which must load);
 * after each, the fused kernels on again and wasm the active backend.
 */
export const onWasmWithKernel = (load: (backend: unknown) => Promise<string | undefined>) => {
  beforeAll(async () => {
    registerKernels()
    setNativeBlas(undefined)
    const threads = process.env[WASM_THREADS_ENV] ? undefined : 2
    await Effect.runPromise(Effect.flatMap(resolveWasmThreads(threads), configureWasmThreads))
    expect(await tf.setBackend("wasm")).toBe(true)
    await tf.ready()
    expect(await load(tf.backend())).toBeUndefined()
  })
  afterEach(async () => {
    fusedKernelOptions.enabled = true
    expect(await tf.setBackend("wasm")).toBe(true)
  })
}

/** Seeded floats in [-scale, scale) (the core's generator). */
export const uniform = (seed: number, scale = 1) => {
  const g = Random.generator(seed)
  return (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => scale * (2 * Random.float(g) - 1))
}

/** Largest |a - b| / (1 + |b|): relative error with an absolute floor near zero. */
export const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let worst = 0
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)))
  return worst
}
