/**
 * Matrix products of the wasm backend on each native BLAS found here (`src/native/Blas.ts`,
 * `src/kernels/NativeMatMul.ts`) against the wasm kernels (XNNPACK, the SIMD transposed product)
 * on the same inputs: forward products in every transpose combination, batched and broadcast
 * batches, the long x^T y weight-gradient product, gradients through `valueAndGrads`, products
 * after the heap grew; and the choice itself (names, `none`, typed errors).
 *
 * A library that is not installed is reported and its tests are skipped (Debian:
 * `apt-get install libdnnl2 libopenblas0-pthread`; `.ci/run` installs them).
 */
import { afterAll, describe, expect, test } from "bun:test"
import { Random, type TensorBackend } from "@causald/core"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Result } from "effect"
import { fusedKernelOptions } from "../src/kernels/BiasSigmoid.ts"
import { gatherWeightedSum } from "../src/kernels/GatherWeightedSum.ts"
import {
  nativeBlas,
  nativeProductApplies,
  nativeProductOptions,
} from "../src/kernels/NativeMatMul.ts"
import { TransposedProduct } from "../src/kernels/TransposedProduct.ts"
import { BLAS_ENV, type BlasName, blasOrder, detectBlas } from "../src/native/Blas.ts"
import { type FusedKernelSet, startBackend, wasmBackendName } from "../src/TfjsTensors.ts"
import { WASM_THREADS_ENV } from "../src/WasmThreads.ts"

/** The kernel set every wasm backend of these tests runs: all of them unless CAUSALD_FUSED=off. */
const fusedSet: FusedKernelSet = fusedKernelOptions.enabled ? "all" : "none"

const wasmOptions = process.env[WASM_THREADS_ENV] ? {} : { wasmThreads: 2 }
const start = (blas: BlasName | "none" | "auto"): Promise<TensorBackend> =>
  Effect.runPromise(startBackend("wasm", { ...wasmOptions, blas }))

const found = detectBlas()
for (const { name, found: f } of found)
  console.log(
    typeof f === "string"
      ? `[native] SKIP ${name}: not found here (${f})`
      : `[native] ${name}: ${f.path}${f.detail === "" ? "" : ` (${f.detail})`}`,
  )
const available = found.flatMap(({ name, found: f }) => (typeof f === "string" ? [] : [name]))

afterAll(async () => {
  // Leave the process on the wasm kernels, as the other test files expect of plain tf.setBackend.
  await start("none")
})

/** Seeded floats in [-1, 1) (the core's generator), for inputs of the backend checks. */
const uniform = (seed: number) => {
  const g = Random.generator(seed)
  return (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => 2 * Random.float(g) - 1)
}

/** Largest |a - b| / (1 + |b|). */
const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let worst = 0
  for (let i = 0; i < a.length; i++)
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)))
  return worst
}

const size = (shape: ReadonlyArray<number>): number => shape.reduce((p, s) => p * s, 1)

/** [a's shape, transposeA, b's shape, transposeB]: products the models and their gradients make. */
const products: ReadonlyArray<readonly [Array<number>, boolean, Array<number>, boolean]> = [
  [[7, 5], false, [5, 3], false],
  [[5, 7], true, [5, 3], false],
  [[7, 5], false, [3, 5], true],
  [[5, 7], true, [3, 5], true],
  [[1, 1], false, [1, 1], false],
  [[4, 6, 5], false, [5, 3], false], // a shared weight: folded into one call
  [[4, 5, 6], true, [5, 3], false],
  [[4, 6, 5], false, [4, 5, 3], false], // equal batches
  [[4, 6, 5], false, [4, 3, 5], true],
  [[6, 5], false, [4, 5, 3], false], // a shared left operand
  [[2, 3, 6, 5], false, [2, 3, 5, 4], false],
  [[2, 1, 6, 5], false, [1, 3, 5, 4], false], // both broadcast: the stock kernel
  [[1200, 40], true, [1200, 80], false], // x^T y with K >= SIMD_REDUCTION
  [[300, 36], false, [36, 80], false],
]

/** Every product of {@link products}, as arrays. */
const computeAll = (): Array<Array<number>> =>
  products.map(([as, ta, bs, tb], i) =>
    tf.tidy(() => {
      const rand = uniform(1000 + i)
      const a = tf.tensor(rand(size(as)), as)
      const b = tf.tensor(rand(size(bs)), bs)
      return Array.from(tf.matMul(a, b, ta, tb).dataSync())
    }),
  )

describe("the fused kernel set in the backend's name", () => {
  test("attention (CAUSALD_FUSED=attention): +fused, and the label's and DeepFM's kernels stand aside", async () => {
    const before = { ...fusedKernelOptions }
    try {
      fusedKernelOptions.enabled = true
      fusedKernelOptions.attentionOnly = true
      const b = await start("none")
      expect(b.name).toBe("wasm+fused")
      const ids = tf.zeros([3, 4], "int32")
      // DeepFM's pooling and ψ_FDA over the partners compose tfjs kernels (undefined: not fused)
      expect(gatherWeightedSum(tf.zeros([5, 8]), ids, tf.zeros([3, 4]))).toBeUndefined()
      fusedKernelOptions.attentionOnly = false
      expect(gatherWeightedSum(tf.zeros([5, 8]), ids, tf.zeros([3, 4]))).toBeDefined()
      const all = await start("none")
      expect(all.name).toBe("wasm+fused2")
    } finally {
      Object.assign(fusedKernelOptions, before)
    }
  })
})

describe("choosing the native BLAS", () => {
  test("none: the backend is plain wasm and products use the wasm kernels", async () => {
    const b = await start("none")
    expect(b.name).toBe(wasmBackendName(undefined, fusedSet))
    expect(b.name).toBe(fusedKernelOptions.enabled ? "wasm+fused2" : "wasm")
    expect(nativeBlas()).toBeUndefined()
    const a = tf.zeros([8, 8])
    expect(nativeProductApplies(a, false, a, false)).toBe(false)
    a.dispose()
  })

  test("auto: the first library found, named in the backend's name", async () => {
    const b = await start("auto")
    const first = available[0]
    expect(b.name).toBe(wasmBackendName(first, fusedSet))
    expect(nativeBlas()?.name).toBe(first)
  })

  test("a library that does not load is a typed error naming it; an unknown name too", async () => {
    const missing = blasOrder.find((n) => !available.includes(n))
    if (missing !== undefined) {
      const result = await Effect.runPromise(
        Effect.result(startBackend("wasm", { ...wasmOptions, blas: missing })),
      )
      expect(Result.isFailure(result)).toBe(true)
      if (Result.isFailure(result)) {
        expect(result.failure._tag).toBe("BackendUnavailable")
        expect(result.failure.message).toContain(`native BLAS "${missing}" is unavailable`)
      }
    }
    const saved = process.env[BLAS_ENV]
    process.env[BLAS_ENV] = "mkl"
    try {
      const result = await Effect.runPromise(
        Effect.result(startBackend("wasm", { ...wasmOptions })),
      )
      expect(Result.isFailure(result)).toBe(true)
      if (Result.isFailure(result))
        expect(result.failure.message).toContain(`${BLAS_ENV}: unknown BLAS "mkl"`)
    } finally {
      if (saved === undefined) delete process.env[BLAS_ENV]
      else process.env[BLAS_ENV] = saved
    }
  })
})

for (const name of blasOrder) {
  describe(`wasm+${name}`, () => {
    if (!available.includes(name)) {
      test.skip(`${name} is not installed here: native products not tested`, () => {})
      return
    }

    test("products equal the wasm kernels' in every transpose and batch form", async () => {
      await start("none")
      const wasm = computeAll()
      const b = await start(name)
      expect(b.name).toBe(wasmBackendName(name, fusedSet))
      const native = computeAll()
      products.forEach(([as, ta, bs, tb], i) => {
        // Both sum K float32 products in different orders: the rounding of each can grow with
        // K (up to K unit roundoffs of the magnitude), so the bound does too.
        const k = ta ? as[as.length - 2]! : as[as.length - 1]!
        const diff = maxRelDiff(native[i]!, wasm[i]!)
        if (diff >= Math.max(1e-5, 2 * k * 2 ** -24))
          throw new Error(`[${as}]${ta ? "^T" : ""} x [${bs}]${tb ? "^T" : ""}: differs by ${diff}`)
      })
    })

    test("the native kernel runs the products, and the stock kernel under the size switch", async () => {
      await start(name)
      const x = tf.ones([1200, 40])
      const y = tf.ones([1200, 80])
      try {
        expect(nativeProductApplies(x, true, y, false)).toBe(true)
        const profile = await tf.profile(() => {
          tf.tidy(() => tf.grad((w: tf.Tensor) => tf.sum(tf.matMul(x, w)))(tf.ones([40, 3])))
        })
        // The weight gradient x^T dy is a native product, not the SIMD transposed product.
        expect(profile.kernelNames).not.toContain(TransposedProduct)
        const saved = nativeProductOptions.minMultiplyAdds
        nativeProductOptions.minMultiplyAdds = 1200 * 40 * 80 + 1
        try {
          expect(nativeProductApplies(x, true, y, false)).toBe(false)
          const out = tf.tidy(() => Array.from(tf.matMul(x, y, true, false).dataSync()))
          expect(out.every((v) => v === 1200)).toBe(true)
        } finally {
          nativeProductOptions.minMultiplyAdds = saved
        }
      } finally {
        x.dispose()
        y.dispose()
      }
    })

    test("gradients through valueAndGrads equal the wasm kernels'", async () => {
      const run = (b: TensorBackend): Array<Array<number>> => {
        const rand = uniform(77)
        const x = b.tensor(rand(3 * 50 * 12), [3, 50, 12])
        const w1 = b.parameter("w1", rand(12 * 16), [12, 16])
        const w2 = b.parameter("w2", rand(16 * 4), [16, 4])
        const { value, grads } = b.valueAndGrads(
          () => b.sum(b.square(b.matmul(b.relu(b.matmul(x, w1.value)), w2.value))),
          [w1, w2],
        )
        const out = [value, ...grads].map((t) => Array.from(b.read(t)))
        b.dispose([x, value, ...grads, w1, w2])
        return out
      }
      const wasm = run(await start("none"))
      const native = run(await start(name))
      wasm.forEach((w, i) => {
        expect(maxRelDiff(native[i]!, w)).toBeLessThan(1e-5)
      })
    })

    test("products read the heap's new address after it grew", async () => {
      const b = await start(name)
      const before = (tf.backend() as unknown as { wasm: { HEAPU8: Uint8Array } }).wasm.HEAPU8
        .buffer.byteLength
      // 4 MB more than the whole heap: it must grow, and the cached address must follow.
      const big = tf.zeros([before / 4 + 2 ** 20])
      try {
        const rand = uniform(5)
        const a = rand(64 * 32)
        const w = rand(32 * 16)
        const got = tf.tidy(() =>
          Array.from(tf.matMul(tf.tensor2d(a, [64, 32]), tf.tensor2d(w, [32, 16])).dataSync()),
        )
        const want = Array.from({ length: 64 * 16 }, (_, ij) => {
          let s = 0
          for (let k = 0; k < 32; k++)
            s += a[Math.floor(ij / 16) * 32 + k]! * w[k * 16 + (ij % 16)]!
          return s
        })
        expect(maxRelDiff(got, want)).toBeLessThan(1e-5)
        expect(b.name).toBe(wasmBackendName(name, fusedSet))
      } finally {
        big.dispose()
      }
    })
  })
}
