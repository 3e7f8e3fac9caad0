/**
 * The threaded wasm binary (`src/WasmThreads.ts`): the thread count's sources and errors, that
 * the backend really runs on a thread pool over a SharedArrayBuffer-backed memory when asked,
 * that products computed on the pool and the JavaScript heap kernels (`src/kernels`) still give
 * the cpu backend's values, and that the heap view follows the memory when it grows.
 *
 * One process holds one wasm module: the first file to start wasm decides its binary (test files
 * share the process), so the checks follow the recorded status rather than assume it.
 */
import { describe, expect, test } from "bun:test"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result } from "effect"
import { startBackend } from "../src/TfjsTensors.ts"
import {
  defaultWasmThreads,
  MAX_WASM_THREADS,
  parseWasmThreads,
  resolveWasmThreads,
  WASM_THREADS_ENV,
  wasmThreadsStatus,
} from "../src/WasmThreads.ts"

const parse = (value: string) =>
  Effect.runSync(Effect.result(parseWasmThreads("--wasm-threads", value)))

const withEnv = <A>(value: string | undefined, f: () => A): A => {
  const before = process.env[WASM_THREADS_ENV]
  if (value === undefined) delete process.env[WASM_THREADS_ENV]
  else process.env[WASM_THREADS_ENV] = value
  try {
    return f()
  } finally {
    if (before === undefined) delete process.env[WASM_THREADS_ENV]
    else process.env[WASM_THREADS_ENV] = before
  }
}

describe("thread count", () => {
  test("accepts integers 1..8 and rejects others, naming the source and the value", () => {
    for (const ok of ["1", "2", "8"]) expect(parse(ok)).toEqual(Result.succeed(Number(ok)))
    for (const bad of ["0", "9", "2.5", "-1", "two", ""]) {
      const result = parse(bad)
      expect(Result.isFailure(result)).toBe(true)
      if (Result.isFailure(result)) {
        expect(result.failure._tag).toBe("InvalidWasmThreads")
        expect(result.failure.message).toContain("--wasm-threads")
        expect(result.failure.message).toContain(`"${bad}"`)
      }
    }
  })

  test("option, else CAUSALD_WASM_THREADS, else one thread", () => {
    expect(withEnv("3", () => Effect.runSync(resolveWasmThreads(2)))).toBe(2)
    expect(withEnv("3", () => Effect.runSync(resolveWasmThreads()))).toBe(3)
    const fallback = withEnv(undefined, () => Effect.runSync(resolveWasmThreads()))
    expect(fallback).toBe(defaultWasmThreads())
    expect(fallback).toBe(1)
    const bad = withEnv("lots", () => Effect.runSync(Effect.result(resolveWasmThreads())))
    expect(Result.isFailure(bad) && bad.failure.message.startsWith(WASM_THREADS_ENV)).toBe(true)
  })
})

interface HeapBackend {
  readonly wasm: { readonly HEAPU8: Uint8Array; readonly wasmMemory?: WebAssembly.Memory }
}

describe("wasm backend", () => {
  test("runs the binary its status names: threaded means a pool over a shared memory", async () => {
    await Effect.runPromise(startBackend("wasm", { wasmThreads: 2 }))
    const status = wasmThreadsStatus()
    expect(status).toBeDefined()
    if (status === undefined) return
    const heap = (tf.backend() as unknown as HeapBackend).wasm
    if (status.requested >= 2 && status.note === undefined) {
      expect(status.binary).toBe("threaded-simd")
      expect(status.threads).toBe(Math.min(status.requested, MAX_WASM_THREADS))
      expect(heap.HEAPU8.buffer).toBeInstanceOf(SharedArrayBuffer)
    } else {
      expect(status.binary).toBe("simd")
      expect(status.threads).toBe(1)
      expect(heap.HEAPU8.buffer).not.toBeInstanceOf(SharedArrayBuffer)
    }
  })

  test("products on the pool, heap kernels and a grown heap give the cpu values", async () => {
    const rows = 2048
    const rng = (seed: number) => (n: number) =>
      Float32Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 0.37))
    const a = rng(1)(rows * 64)
    const w = rng(2)(64 * 48)
    const ids = Int32Array.from({ length: 3000 }, (_, i) => (i * 7919) % rows)
    const compute = (): Array<Float32Array> =>
      tf.tidy(() => {
        const h = tf.matMul(tf.tensor2d(a, [rows, 64]), tf.tensor2d(w, [64, 48]))
        const g = tf.gather(h, tf.tensor1d(ids, "int32"))
        const s = tf.sum(tf.slice(tf.concat([g, g], 1), [5, 10], [2000, 60]), 0)
        return [h, g, s].map((t) => t.dataSync() as Float32Array)
      })
    await Effect.runPromise(startBackend("wasm"))
    const heap = (tf.backend() as unknown as HeapBackend).wasm
    const before = heap.wasmMemory?.buffer.byteLength ?? heap.HEAPU8.byteLength
    // 128 MB more than the heap had: the memory must grow, the kernels then read the new end.
    const filler = tf.zeros([before / 4 + 32 * 1024 * 1024])
    const onWasm = compute()
    const grown = heap.wasmMemory?.buffer.byteLength ?? heap.HEAPU8.byteLength
    filler.dispose()
    expect(grown).toBeGreaterThan(before)
    if (heap.wasmMemory !== undefined) expect(heap.HEAPU8.buffer).toBe(heap.wasmMemory.buffer)
    await Effect.runPromise(startBackend("cpu"))
    const onCpu = compute()
    onWasm.forEach((x, i) => {
      const y = onCpu[i]!
      expect(x.length).toBe(y.length)
      let worst = 0
      for (let j = 0; j < x.length; j++)
        worst = Math.max(worst, Math.abs(x[j]! - y[j]!) / (1 + Math.abs(y[j]!)))
      expect(worst).toBeLessThan(1e-4)
    })
  })
})
