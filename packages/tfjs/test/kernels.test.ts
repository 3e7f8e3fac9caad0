/**
 * The kernel and gradient repairs of `src/kernels/` on the `cpu` and `wasm` backends: the
 * scatter-add `UnsortedSegmentSum` against a float64 reference, the gradient of `gather` (every
 * embedding lookup) on wasm against cpu, the broadcasting gradients of Maximum / Minimum /
 * BatchMatMul against independent formulations, `logSigmoid` on an intermediate tensor, and
 * the wasm speed kernels (GatherV2, Slice, SplitV, Concat and Tile as run copies in one heap view, a
 * copy-free Identity, Sum over leading axes, a tiled Transpose, long x^T y products in blocks
 * and as one SIMD pass) and the Sum gradient without `ones` against the cpu backend.
 *
 * wasm runs the threaded binary (2 threads; its heap is a SharedArrayBuffer-backed memory)
 * unless `CAUSALD_WASM_THREADS` is set: run once with `CAUSALD_WASM_THREADS=1` for the other.
 */

import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { Random } from "@causald/core"
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import fc from "fast-check"
import { concatWasm } from "../src/kernels/Concat.ts"
import { gatherV2Wasm } from "../src/kernels/GatherV2.ts"
import { identityWasm } from "../src/kernels/Identity.ts"
import { gradientConfigs, kernelConfigs, registerKernels } from "../src/kernels/index.ts"
import { logSigmoid } from "../src/kernels/LogSigmoid.ts"
import {
  blockedTransposedProduct,
  LONG_REDUCTION,
  product,
  productOptions,
  SIMD_REDUCTION,
} from "../src/kernels/MatMul.ts"
import { setNativeBlas } from "../src/kernels/NativeMatMul.ts"
import { sliceWasm } from "../src/kernels/Slice.ts"
import { splitVWasm } from "../src/kernels/SplitV.ts"
import { sumGradConfig, sumWasm } from "../src/kernels/Sum.ts"
import { tileWasm } from "../src/kernels/Tile.ts"
import { dropUnitAxes, matrixView, transposeWasm } from "../src/kernels/Transpose.ts"
import {
  loadTransposedProduct,
  ROWS_PER_BLOCK,
  TransposedProduct,
  transposedProduct,
  transposedProductApplies,
  transposedProductLoaded,
} from "../src/kernels/TransposedProduct.ts"
import {
  segmentSumLayout,
  unsortedSegmentSumCpu,
  unsortedSegmentSumWasm,
} from "../src/kernels/UnsortedSegmentSum.ts"
import { configureWasmThreads, resolveWasmThreads, WASM_THREADS_ENV } from "../src/WasmThreads.ts"

const backends = ["cpu", "wasm"] as const
type BackendName = (typeof backends)[number]

// The wasm backend must load its .wasm binary from the installed package, never the network.
const fetchCalls: Array<string> = []
const realFetch = globalThis.fetch
const warnings: Array<string> = []
const realWarn = console.warn

beforeAll(async () => {
  globalThis.fetch = Object.assign(
    (input: unknown) => {
      fetchCalls.push(String(input))
      return Promise.reject(new Error(`network fetch attempted: ${String(input)}`))
    },
    { preconnect: realFetch.preconnect },
  ) as typeof fetch
  console.warn = (...args: Array<unknown>) => {
    warnings.push(args.map(String).join(" "))
  }
  registerKernels()
  registerKernels()
  // The wasm kernels themselves: a native BLAS left active by an earlier test file of this
  // process would take their products (native.test.ts tests that path).
  setNativeBlas(undefined)
  const threads = process.env[WASM_THREADS_ENV] ? undefined : 2
  await Effect.runPromise(Effect.flatMap(resolveWasmThreads(threads), configureWasmThreads))
  // Initialise wasm now so that every later `setBackend` is instant.
  expect(await tf.setBackend("wasm")).toBe(true)
  await tf.ready()
  expect(await loadTransposedProduct(tf.backend())).toBeUndefined()
})

afterAll(() => {
  globalThis.fetch = realFetch
  console.warn = realWarn
})

const use = async (backend: BackendName): Promise<void> => {
  expect(await tf.setBackend(backend)).toBe(true)
}

/** Seeded floats in [-1, 1) (the core's generator), for inputs of the backend checks. */
const uniform = (seed: number) => {
  const g = Random.generator(seed)
  return (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => 2 * Random.float(g) - 1)
}

const values = (t: tf.Tensor): Array<number> => Array.from(t.dataSync())

/** A small tensor's shape (ranks 1-4, sides 1-5), dtype and value seed. */
const smallTensor = fc.record({
  shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 4 }),
  dtype: fc.constantFrom("float32" as const, "int32" as const, "bool" as const),
  seed: fc.integer({ min: 1, max: 2 ** 30 }),
})

/**
 * `n` values of `rand` as a tensor of `dtype` holds them: floats as drawn, int32 scaled by
 * `intScale` and rounded, bool by sign.
 */
const typedValues = (
  rand: (n: number) => Float32Array,
  n: number,
  dtype: "float32" | "int32" | "bool",
  intScale = 1000,
): Array<number> =>
  Array.from(rand(n), (u) =>
    dtype === "float32" ? u : dtype === "int32" ? Math.round(u * intScale) : u > 0 ? 1 : 0,
  )

/** Largest |a - b| / (1 + |b|): relative error with an absolute floor near zero. */
const maxRelDiff = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length)
  let worst = 0
  for (let i = 0; i < a.length; i++) {
    worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)))
  }
  return worst
}

/** The definition, in float64: out[s] = sum of the rows whose id is s, other ids dropped. */
const referenceSegmentSum = (
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  numSegments: number,
  rowSize: number,
): Float64Array => {
  const out = new Float64Array(numSegments * rowSize)
  for (let i = 0; i < ids.length; i++) {
    const s = ids[i]!
    if (s < 0 || s >= numSegments) continue
    for (let j = 0; j < rowSize; j++) out[s * rowSize + j]! += x[i * rowSize + j]!
  }
  return out
}

interface SegmentCase {
  readonly idsShape: ReadonlyArray<number>
  readonly inner: ReadonlyArray<number>
  readonly numSegments: number
  readonly dtype: "float32" | "int32"
  readonly ids: ReadonlyArray<number>
  readonly x: ReadonlyArray<number>
}

const size = (shape: ReadonlyArray<number>): number => shape.reduce((a, b) => a * b, 1)

/** Rank-1 or rank-2 ids (possibly empty), ids from -3 to numSegments + 2 (so duplicates and
 * out-of-range ids on both sides), an inner shape of rank 0 to 2, float32 or int32 values. */
const segmentCase: fc.Arbitrary<SegmentCase> = fc
  .record({
    idsShape: fc.oneof(
      fc.tuple(fc.integer({ min: 0, max: 40 })),
      fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 0, max: 6 })),
    ),
    inner: fc.array(fc.integer({ min: 1, max: 4 }), { maxLength: 2 }),
    numSegments: fc.integer({ min: 0, max: 10 }),
    dtype: fc.constantFrom("float32" as const, "int32" as const),
  })
  .chain(({ idsShape, inner, numSegments, dtype }) => {
    const rows = size(idsShape)
    const element =
      dtype === "int32"
        ? fc.integer({ min: -1000, max: 1000 })
        : fc.float({ min: -10, max: 10, noNaN: true, noDefaultInfinity: true })
    return fc.record({
      idsShape: fc.constant(idsShape),
      inner: fc.constant(inner),
      numSegments: fc.constant(numSegments),
      dtype: fc.constant(dtype),
      ids: fc.array(fc.integer({ min: -3, max: numSegments + 2 }), {
        minLength: rows,
        maxLength: rows,
      }),
      x: fc.array(element, { minLength: rows * size(inner), maxLength: rows * size(inner) }),
    })
  })

const runSegmentSum = (
  c: SegmentCase,
): { shape: Array<number>; dtype: string; out: Array<number> } =>
  tf.tidy(() => {
    const x = tf.tensor(c.x as Array<number>, [...c.idsShape, ...c.inner], c.dtype)
    const ids = tf.tensor(c.ids as Array<number>, [...c.idsShape], "int32")
    const y = tf.unsortedSegmentSum(x, ids as tf.Tensor1D, c.numSegments)
    return { shape: y.shape, dtype: y.dtype, out: values(y) }
  })

describe("registerKernels", () => {
  test("installs the scatter-add kernel on both backends and the repaired gradients", () => {
    expect(tf.getKernel("UnsortedSegmentSum", "cpu")?.kernelFunc).toBe(unsortedSegmentSumCpu)
    expect(tf.getKernel("UnsortedSegmentSum", "wasm")?.kernelFunc).toBe(unsortedSegmentSumWasm)
    for (const config of gradientConfigs) expect(tf.getGradient(config.kernelName)).toBe(config)
    expect(kernelConfigs.length).toBeGreaterThan(0)
  })

  test("is idempotent and replaces the stock cpu kernel without a warning", () => {
    registerKernels()
    expect(warnings.filter((w) => /already registered|Overriding/.test(w))).toEqual([])
  })

  test("the wasm backend initialised without any network fetch", () => {
    expect(fetchCalls).toEqual([])
  })
})

describe("segmentSumLayout", () => {
  test("rejects ids whose shape is not a prefix of x's, naming both shapes", () => {
    expect(() => segmentSumLayout([4, 3], [3], 2)).toThrow(
      "segmentIds.shape [3] must be a prefix of x.shape [4,3]",
    )
    expect(() => segmentSumLayout([4], [4, 1], 2)).toThrow("must be a prefix")
  })

  test("rejects a negative or fractional numSegments", () => {
    expect(() => segmentSumLayout([4], [4], -1)).toThrow("non-negative integer, got -1")
    expect(() => segmentSumLayout([4], [4], 1.5)).toThrow("non-negative integer, got 1.5")
  })
})

for (const backend of backends) {
  describe(`UnsortedSegmentSum on ${backend}`, () => {
    beforeAll(() => use(backend))

    test("equals a float64 scatter-add on random inputs (dups, out-of-range, empty)", () => {
      fc.assert(
        fc.property(segmentCase, (c) => {
          const rowSize = size(c.inner)
          const got = runSegmentSum(c)
          expect(got.shape).toEqual([c.numSegments, ...c.inner])
          expect(got.dtype).toBe(c.dtype)
          const want = referenceSegmentSum(c.x, c.ids, c.numSegments, rowSize)
          if (c.dtype === "int32") expect(got.out).toEqual(Array.from(want))
          else expect(maxRelDiff(got.out, want)).toBeLessThan(1e-5)
        }),
        { seed: 20240607, numRuns: 100 },
      )
    })

    test("sums duplicate ids and drops negative ids and ids >= numSegments", () => {
      const got = runSegmentSum({
        idsShape: [6],
        inner: [2],
        numSegments: 3,
        dtype: "float32",
        ids: [2, -1, 0, 2, 3, 7],
        x: [1, 2, 10, 20, 100, 200, 1000, 2000, 5, 5, 9, 9],
      })
      expect(got.out).toEqual([100, 200, 0, 0, 1001, 2002])
    })

    test("empty ids or zero segments give zeros of the right shape", () => {
      const none = runSegmentSum({
        idsShape: [0],
        inner: [3],
        numSegments: 2,
        dtype: "float32",
        ids: [],
        x: [],
      })
      expect(none.shape).toEqual([2, 3])
      expect(none.out).toEqual([0, 0, 0, 0, 0, 0])
      const noSegments = runSegmentSum({
        idsShape: [2],
        inner: [],
        numSegments: 0,
        dtype: "int32",
        ids: [0, 1],
        x: [4, 5],
      })
      expect(noSegments.shape).toEqual([0])
    })

    test("its gradient gathers dy for in-range ids and gives 0 for dropped ones", () => {
      const dx = tf.tidy(() => {
        const ids = tf.tensor1d([1, -2, 0, 5, 1], "int32")
        const dy = tf.tensor2d([
          [1, 2],
          [3, 4],
          [5, 6],
        ])
        const f = (x: tf.Tensor) => tf.sum(tf.mul(tf.unsortedSegmentSum(x, ids, 3), dy))
        return values(tf.grad(f)(tf.zeros([5, 2])))
      })
      expect(dx).toEqual([3, 4, 0, 0, 1, 2, 0, 0, 3, 4])
    })

    test("leaves no tensor behind", () => {
      const before = tf.memory().numTensors
      tf.tidy(() => {
        const x = tf.ones([5, 2])
        tf.grad((t: tf.Tensor) =>
          tf.sum(tf.unsortedSegmentSum(t, tf.tensor1d([0, 1, 1, 4, 9], "int32"), 5)),
        )(x)
      })
      expect(tf.memory().numTensors).toBe(before)
    })
  })
}

/** Evaluates `run` on cpu and on wasm (same inputs) and returns both results. */
const onBoth = async <A>(run: () => A): Promise<Record<BackendName, A>> => {
  await use("cpu")
  const cpu = run()
  await use("wasm")
  const wasm = run()
  return { cpu, wasm }
}

describe("gradients on wasm equal the cpu ones", () => {
  test("gather (embedding lookup): random table and ids, to 1e-5", async () => {
    const cases = fc.sample(
      fc.record({
        rows: fc.integer({ min: 1, max: 60 }),
        dim: fc.integer({ min: 1, max: 9 }),
        lookups: fc.integer({ min: 0, max: 300 }),
        seed: fc.integer({ min: 1, max: 2 ** 30 }),
      }),
      { seed: 7, numRuns: 15 },
    )
    for (const c of cases) {
      const rand = uniform(c.seed)
      const table = rand(c.rows * c.dim)
      const ids = Int32Array.from(rand(c.lookups), (u) => Math.floor(((u + 1) / 2) * c.rows))
      const weight = rand(c.lookups * c.dim)
      const grads = await onBoth(() =>
        tf.tidy(() => {
          const w = tf.tensor2d(weight, [c.lookups, c.dim])
          const loss = (t: tf.Tensor) =>
            tf.sum(tf.mul(tf.gather(t, tf.tensor1d(ids, "int32"), 0), w))
          return values(tf.grad(loss)(tf.tensor2d(table, [c.rows, c.dim])))
        }),
      )
      const reference = referenceSegmentSum(weight, ids, c.rows, c.dim)
      expect(maxRelDiff(grads.wasm, grads.cpu)).toBeLessThan(1e-5)
      expect(maxRelDiff(grads.cpu, reference)).toBeLessThan(1e-5)
    }
  })

  test("gather with rank-2 ids (a behaviour sequence)", async () => {
    const rand = uniform(99)
    const table = rand(20 * 4)
    const ids = Int32Array.from(rand(8 * 5), (u) => Math.floor(((u + 1) / 2) * 20))
    const weight = rand(8 * 5 * 4)
    const grads = await onBoth(() =>
      tf.tidy(() => {
        const w = tf.tensor3d(weight, [8, 5, 4])
        const loss = (t: tf.Tensor) =>
          tf.sum(tf.mul(tf.gather(t, tf.tensor2d(ids, [8, 5], "int32"), 0), w))
        return values(tf.grad(loss)(tf.tensor2d(table, [20, 4])))
      }),
    )
    expect(maxRelDiff(grads.wasm, grads.cpu)).toBeLessThan(1e-5)
    expect(maxRelDiff(grads.cpu, referenceSegmentSum(weight, ids, 20, 4))).toBeLessThan(1e-5)
  })

  test("maximum / minimum with a broadcast operand: summed over the broadcast axes", async () => {
    const rand = uniform(5)
    const a = rand(4 * 3)
    const b = rand(3)
    const w = rand(4 * 3)
    for (const [op, takesA] of [
      [tf.maximum, (x: number, y: number) => x >= y],
      [tf.minimum, (x: number, y: number) => x <= y],
    ] as const) {
      const grads = await onBoth(() =>
        tf.tidy(() => {
          const loss = (x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(op(tf.mul(x, 1), y), tf.tensor2d(w, [4, 3])))
          return tf
            .grads(loss)([tf.tensor2d(a, [4, 3]), tf.tensor1d(b)])
            .map(values)
        }),
      )
      const da = a.map((x, i) => (takesA(x, b[i % 3]!) ? w[i]! : 0))
      const db = [0, 1, 2].map((j) =>
        [0, 1, 2, 3].reduce((s, r) => s + (takesA(a[r * 3 + j]!, b[j]!) ? 0 : w[r * 3 + j]!), 0),
      )
      for (const got of [grads.cpu, grads.wasm]) {
        expect(maxRelDiff(got[0]!, da)).toBeLessThan(1e-6)
        expect(maxRelDiff(got[1]!, db)).toBeLessThan(1e-5)
      }
    }
  })

  test("matMul [b, t, d] x [d, h] and [1, d, h]: equals the explicitly broadcast product", async () => {
    const rand = uniform(11)
    const a = rand(3 * 4 * 5)
    const b = rand(5 * 2)
    const w = rand(3 * 4 * 2)
    for (const bShape of [
      [5, 2],
      [1, 5, 2],
    ]) {
      const grads = await onBoth(() =>
        tf.tidy(() => {
          const weights = tf.tensor3d(w, [3, 4, 2])
          const direct = (x: tf.Tensor, y: tf.Tensor) => tf.sum(tf.mul(tf.matMul(x, y), weights))
          // broadcastTo's own gradient sums over the tiled axis: an independent formulation.
          const tiled = (x: tf.Tensor, y: tf.Tensor) =>
            tf.sum(tf.mul(tf.matMul(x, tf.broadcastTo(y, [3, 5, 2])), weights))
          const inputs = [tf.tensor3d(a, [3, 4, 5]), tf.tensor(b, bShape)]
          return [tf.grads(direct)(inputs).map(values), tf.grads(tiled)(inputs).map(values)]
        }),
      )
      for (const [got, want] of [grads.cpu, grads.wasm]) {
        expect(maxRelDiff(got![0]!, want![0]!)).toBeLessThan(1e-5)
        expect(maxRelDiff(got![1]!, want![1]!)).toBeLessThan(1e-5)
      }
      expect(maxRelDiff(grads.wasm[0]![1]!, grads.cpu[0]![1]!)).toBeLessThan(1e-5)
    }
  })

  test("logSigmoid of an intermediate tensor: ln sigmoid(x) and gradient sigmoid(-x)", async () => {
    const x = [-200, -30, -2, -0.5, 0, 0.5, 2, 30, 200]
    const got = await onBoth(() =>
      tf.tidy(() => {
        const input = tf.tensor1d(x)
        const value = values(logSigmoid(tf.mul(input, 1)))
        const grad = values(tf.grad((t: tf.Tensor) => tf.sum(logSigmoid(tf.mul(t, 1))))(input))
        return { value, grad }
      }),
    )
    const wantValue = x.map((v) =>
      v < 0 ? v - Math.log1p(Math.exp(v)) : -Math.log1p(Math.exp(-v)),
    )
    const wantGrad = x.map((v) => 1 / (1 + Math.exp(v)))
    for (const r of [got.cpu, got.wasm]) {
      expect(maxRelDiff(r.value, wantValue)).toBeLessThan(1e-5)
      expect(maxRelDiff(r.grad, wantGrad)).toBeLessThan(1e-6)
    }
  })
})

describe("wasm speed kernels equal the cpu backend", () => {
  test("are installed on wasm only", () => {
    expect(tf.getKernel("GatherV2", "wasm")?.kernelFunc).toBe(gatherV2Wasm)
    expect(tf.getKernel("Identity", "wasm")?.kernelFunc).toBe(identityWasm)
    expect(tf.getKernel("Sum", "wasm")?.kernelFunc).toBe(sumWasm)
    expect(tf.getKernel("Slice", "wasm")?.kernelFunc).toBe(sliceWasm)
    expect(tf.getKernel("Concat", "wasm")?.kernelFunc).toBe(concatWasm)
    expect(tf.getKernel("SplitV", "wasm")?.kernelFunc).toBe(splitVWasm)
    expect(tf.getKernel("Transpose", "wasm")?.kernelFunc).toBe(transposeWasm)
    expect(tf.getKernel("Tile", "wasm")?.kernelFunc).toBe(tileWasm)
    expect(tf.getGradient("Sum")).toBe(sumGradConfig)
    expect(tf.getKernel("GatherV2", "cpu")?.kernelFunc).not.toBe(gatherV2Wasm)
  })

  test("GatherV2: any axis, batchDims 0 or 1, float32 / int32 / bool, ids of rank 1-2", async () => {
    const cases = fc.sample(
      fc.record({
        shape: fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 3 }),
        axisPick: fc.nat(),
        batched: fc.boolean(),
        idsShape: fc.array(fc.integer({ min: 0, max: 4 }), { minLength: 1, maxLength: 2 }),
        dtype: fc.constantFrom("float32" as const, "int32" as const, "bool" as const),
        seed: fc.integer({ min: 1, max: 2 ** 30 }),
      }),
      { seed: 11, numRuns: 40 },
    )
    let batchedCases = 0
    for (const c of cases) {
      const batchDims = c.batched && c.shape.length >= 2 ? 1 : 0
      const axis = batchDims + (c.axisPick % (c.shape.length - batchDims))
      const idsShape = batchDims === 1 ? [c.shape[0]!, ...c.idsShape.slice(1)] : c.idsShape
      if (batchDims === 1 && idsShape.length < 2) idsShape.push(3)
      batchedCases += batchDims
      const rand = uniform(c.seed)
      const xValues = typedValues(rand, size(c.shape), c.dtype)
      const ids = Array.from(rand(size(idsShape)), (u) =>
        Math.floor(((u + 1) / 2) * c.shape[axis]!),
      )
      const out = await onBoth(() =>
        tf.tidy(() => {
          const y = tf.gather(
            tf.tensor(xValues, c.shape, c.dtype),
            tf.tensor(ids, idsShape, "int32"),
            axis,
            batchDims,
          )
          return { shape: y.shape, dtype: y.dtype, values: values(y) }
        }),
      )
      expect(out.wasm).toEqual(out.cpu)
    }
    expect(batchedCases).toBeGreaterThan(0)
  })

  test("GatherV2: an index out of range throws, naming it, and leaks nothing", async () => {
    await use("wasm")
    const before = tf.memory().numTensors
    const table = tf.tensor2d([1, 2, 3, 4], [2, 2])
    const ids = tf.tensor1d([0, 2], "int32")
    expect(() => tf.gather(table, ids, 0)).toThrow("GatherV2: the index value 2 is not in [0, 1]")
    tf.dispose([table, ids])
    expect(tf.memory().numTensors).toBe(before)
  })

  test("Identity shares data: a clone outlives its source, and memory is freed with both", async () => {
    await use("wasm")
    const bytes = tf.memory().numBytes
    const x = tf.tensor1d([1, 2, 3])
    const y = tf.clone(x)
    x.dispose()
    expect(values(y)).toEqual([1, 2, 3])
    // A gradient that saves its input (clone inside) still equals cpu's.
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(t), t)))(y)
    const gradient = values(g)
    tf.dispose([y, g])
    expect(tf.memory().numBytes).toBe(bytes)
    await use("cpu")
    const reference = tf.tidy(() =>
      values(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sigmoid(t), t)))(tf.tensor1d([1, 2, 3]))),
    )
    expect(maxRelDiff(gradient, reference)).toBeLessThan(1e-6)
  })

  // An empty input sums to zeros (the stock wasm kernel returned uninitialised memory there).
  test("Sum: leading, innermost and middle axes, keepDims, int32, empty", async () => {
    const cases: Array<{ shape: number[]; axis: number | number[]; keepDims: boolean }> = [
      { shape: [7, 5], axis: 0, keepDims: false },
      { shape: [7, 5], axis: 0, keepDims: true },
      { shape: [4, 3, 6], axis: [1, 0], keepDims: false },
      { shape: [4, 3, 6], axis: [0, 1], keepDims: true },
      { shape: [4, 3, 6], axis: 1, keepDims: false },
      { shape: [4, 3, 6], axis: -1, keepDims: true },
      { shape: [4, 3, 6], axis: [0, 1, 2], keepDims: false },
      { shape: [0, 3], axis: 0, keepDims: false },
      { shape: [3, 0], axis: 1, keepDims: true },
      { shape: [6], axis: 0, keepDims: false },
    ]
    for (const dtype of ["float32", "int32"] as const)
      for (const c of cases) {
        const rand = uniform(size(c.shape) + 3)
        const x = Array.from(rand(size(c.shape)), (u) =>
          dtype === "int32" ? Math.round(u * 100) : u,
        )
        const out = await onBoth(() =>
          tf.tidy(() => {
            const y = tf.sum(tf.tensor(x, c.shape, dtype), c.axis, c.keepDims)
            return { shape: y.shape, dtype: y.dtype, values: values(y) }
          }),
        )
        expect(out.wasm.shape).toEqual(out.cpu.shape)
        expect(out.wasm.dtype).toBe(out.cpu.dtype)
        expect(maxRelDiff(out.wasm.values, out.cpu.values)).toBeLessThan(1e-6)
      }
  })

  test("Slice: random begins and sizes on ranks 1-4, three dtypes", async () => {
    const cases = fc.sample(
      smallTensor.chain((c) =>
        fc.record({
          c: fc.constant(c),
          begin: fc.tuple(...c.shape.map((n) => fc.integer({ min: 0, max: n - 1 }))),
          fraction: fc.tuple(...c.shape.map(() => fc.double({ min: 0, max: 1, noNaN: true }))),
        }),
      ),
      { seed: 13, numRuns: 60 },
    )
    for (const { c, begin, fraction } of cases) {
      // Sizes from 0 to what is left after begin (so whole trailing axes occur often).
      const sizes = c.shape.map((n, a) => Math.round(fraction[a]! * (n - begin[a]!)))
      const rand = uniform(c.seed)
      const x = typedValues(rand, size(c.shape), c.dtype)
      const out = await onBoth(() =>
        tf.tidy(() => {
          const y = tf.slice(tf.tensor(x, c.shape, c.dtype), begin, sizes)
          return { shape: y.shape, dtype: y.dtype, values: values(y) }
        }),
      )
      expect(out.wasm).toEqual(out.cpu)
    }
  })

  test("Concat: 1-4 inputs on any axis, empty inputs, three dtypes", async () => {
    const cases = fc.sample(
      fc.record({
        shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
        axisPick: fc.nat(),
        widths: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 4 }),
        dtype: fc.constantFrom("float32" as const, "int32" as const, "bool" as const),
        seed: fc.integer({ min: 1, max: 2 ** 30 }),
      }),
      { seed: 17, numRuns: 50 },
    )
    for (const c of cases) {
      const axis = c.axisPick % c.shape.length
      const rand = uniform(c.seed)
      const parts = c.widths.map((w) => {
        const shape = c.shape.map((n, a) => (a === axis ? w : n))
        return {
          shape,
          x: typedValues(rand, size(shape), c.dtype, 99),
        }
      })
      const out = await onBoth(() =>
        tf.tidy(() => {
          const y = tf.concat(
            parts.map((p) => tf.tensor(p.x, p.shape, c.dtype)),
            axis,
          )
          return { shape: y.shape, dtype: y.dtype, values: values(y) }
        }),
      )
      expect(out.wasm).toEqual(out.cpu)
    }
  })

  test("SplitV (concat's gradient): 1-4 parts on any axis, empty parts, three dtypes", async () => {
    const cases = fc.sample(
      fc.record({
        shape: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 3 }),
        axisPick: fc.nat(),
        widths: fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 4 }),
        dtype: fc.constantFrom("float32" as const, "int32" as const, "bool" as const),
        seed: fc.integer({ min: 1, max: 2 ** 30 }),
      }),
      { seed: 19, numRuns: 50 },
    )
    for (const c of cases) {
      const axis = c.axisPick % c.shape.length
      const shape = c.shape.map((n, a) => (a === axis ? c.widths.reduce((x, y) => x + y, 0) : n))
      const x = typedValues(uniform(c.seed), size(shape), c.dtype, 99)
      const out = await onBoth(() =>
        tf.tidy(() =>
          tf
            .split(tf.tensor(x, shape, c.dtype), c.widths, axis)
            .map((y) => ({ shape: y.shape, dtype: y.dtype, values: values(y) })),
        ),
      )
      expect(out.wasm).toEqual(out.cpu)
    }
  })

  test("Transpose: matrix views of permutations, unit axes dropped", () => {
    expect(matrixView([3, 4], [1, 0])).toEqual([1, 3, 4])
    expect(matrixView([2, 3, 4], [0, 2, 1])).toEqual([2, 3, 4])
    expect(matrixView([2, 3, 4], [1, 2, 0])).toEqual([1, 2, 12])
    expect(matrixView([2, 3, 4], [2, 0, 1])).toEqual([1, 6, 4])
    expect(matrixView([2, 3, 4], [1, 0, 2])).toBeUndefined()
    expect(matrixView([2, 3], [0, 1])).toBeUndefined()
    expect(dropUnitAxes([5, 1, 3], [2, 1, 0])).toEqual([
      [5, 3],
      [1, 0],
    ])
    expect(dropUnitAxes([4, 1], [1, 0])).toEqual([[4], [0]])
  })

  test("Transpose: every permutation of ranks 1-4, unit axes, three dtypes", async () => {
    const permutations = (n: number): Array<Array<number>> =>
      n === 0
        ? [[]]
        : permutations(n - 1).flatMap((p) =>
            Array.from({ length: n }, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]),
          )
    const cases = fc.sample(
      fc.record({
        shape: fc.array(fc.integer({ min: 1, max: 37 }), { minLength: 1, maxLength: 4 }),
        permPick: fc.nat(),
        dtype: fc.constantFrom("float32" as const, "int32" as const, "bool" as const),
        seed: fc.integer({ min: 1, max: 2 ** 30 }),
      }),
      { seed: 23, numRuns: 80 },
    )
    for (const c of cases) {
      if (size(c.shape) > 20000) c.shape = c.shape.map((n) => Math.min(n, 12))
      const perms = permutations(c.shape.length)
      const perm = perms[c.permPick % perms.length]!
      const rand = uniform(c.seed)
      const x = typedValues(rand, size(c.shape), c.dtype)
      const out = await onBoth(() =>
        tf.tidy(() => {
          const y = tf.transpose(tf.tensor(x, c.shape, c.dtype), perm)
          return { shape: y.shape, dtype: y.dtype, values: values(y) }
        }),
      )
      expect(out.wasm).toEqual(out.cpu)
    }
  })

  test("Transpose moving only unit axes: its output and input both serve as product weights", async () => {
    // Sharing the input's data here (as Identity does) aborted the wasm module on dispose
    // ("Out of bounds memory access" in disposeData) and made DIN's gradients wrong.
    const out = await onBoth(() =>
      tf.tidy(() => {
        const x = tf.tensor2d(
          Float32Array.from({ length: 40 }, (_, i) => Math.sin(i)),
          [1, 40],
        )
        const a = tf.tensor2d(
          Float32Array.from({ length: 5 }, (_, i) => i + 1),
          [5, 1],
        )
        const b = tf.tensor2d(
          Float32Array.from({ length: 120 }, (_, i) => Math.cos(i)),
          [3, 40],
        )
        return [...values(tf.matMul(a, x)), ...values(tf.matMul(b, tf.transpose(x)))]
      }),
    )
    expect(maxRelDiff(out.wasm, out.cpu)).toBeLessThan(1e-5)
  })

  test("Tile: random repetitions on ranks 1-4, three dtypes, and the tile's gradient", async () => {
    const cases = fc.sample(
      smallTensor.chain((c) =>
        fc.record({
          c: fc.constant(c),
          reps: fc.tuple(...c.shape.map(() => fc.integer({ min: 0, max: 3 }))),
        }),
      ),
      { seed: 29, numRuns: 60 },
    )
    for (const { c, reps } of cases) {
      const rand = uniform(c.seed)
      const x = typedValues(rand, size(c.shape), c.dtype)
      const out = await onBoth(() =>
        tf.tidy(() => {
          const y = tf.tile(tf.tensor(x, c.shape, c.dtype), reps)
          return { shape: y.shape, dtype: y.dtype, values: values(y) }
        }),
      )
      expect(out.wasm).toEqual(out.cpu)
    }
    // trailing axes of size 1 repeated (each value written `fill` times in a row): a sum's
    // gradient over the last axis, a scalar to a whole shape (fill > 16: TypedArray.fill)
    const broadcasts: ReadonlyArray<[Array<number>, Array<number>]> = [
      [
        [3, 5, 1],
        [1, 1, 8],
      ],
      [
        [1, 1, 1],
        [2, 3, 40],
      ],
      [
        [2, 1, 1],
        [2, 3, 2],
      ],
      [
        [2, 3, 1, 1],
        [3, 1, 2, 5],
      ],
      [[1], [17]],
    ]
    for (const [shape, reps] of broadcasts)
      for (const dtype of ["float32", "int32", "bool"] as const) {
        const x = typedValues(uniform(size(shape)), size(shape), dtype)
        const out = await onBoth(() =>
          tf.tidy(() => {
            const y = tf.tile(tf.tensor(x, shape, dtype), reps)
            return { shape: y.shape, dtype: y.dtype, values: values(y) }
          }),
        )
        expect({ shape, reps, dtype, out: out.wasm }).toEqual({ shape, reps, dtype, out: out.cpu })
      }
    const rand = uniform(31)
    const x = rand(4 * 6)
    const w = rand(3 * 4 * 6)
    const grads = await onBoth(() =>
      tf.tidy(() =>
        values(
          tf.grad((t: tf.Tensor) =>
            tf.sum(tf.mul(tf.tile(t, [3, 1, 1]), tf.tensor3d(w, [3, 4, 6]))),
          )(tf.tensor3d(x, [1, 4, 6])),
        ),
      ),
    )
    expect(maxRelDiff(grads.wasm, grads.cpu)).toBeLessThan(1e-5)
  })

  test("x^T y over a long reduction: blocked on wasm, equal to the flagged product on cpu", async () => {
    // K not a multiple of the block, widths on both sides of the flip (a < b, a > b, a = 1).
    for (const [k, a, b] of [
      [LONG_REDUCTION + 1234, 8, 80],
      [LONG_REDUCTION + 77, 40, 24],
      [LONG_REDUCTION, 1, 40],
    ] as const) {
      const rand = uniform(k + a + b)
      const x = rand(k * a)
      const y = rand(k * b)
      const out = await onBoth(() =>
        tf.tidy(() => {
          const xt = tf.tensor2d(x, [k, a])
          const yt = tf.tensor2d(y, [k, b])
          const blocked = blockedTransposedProduct(xt, yt)
          expect(blocked.shape).toEqual([a, b])
          return {
            viaProduct: values(product(xt, true, yt, false)),
            blocked: values(blocked),
            flagged: values(tf.matMul(xt, yt, true, false)),
          }
        }),
      )
      // Sums of ~33,000 products in float32, in different orders: compare relative to the scale.
      for (const v of [out.wasm.viaProduct, out.wasm.blocked, out.cpu.blocked])
        expect(maxRelDiff(v, out.cpu.flagged)).toBeLessThan(2e-3)
    }
  })

  test("x^T y by the SIMD kernel: tiles and their remainders, partial row blocks, K = 0", async () => {
    expect(transposedProductLoaded()).toBe(true)
    // a: 4-row tiles and 1-row remainders; b: 8-column tiles and a 4-column remainder; K around
    // the row block; b not a multiple of 4 flips the product (then a must be).
    const shapes = [
      [1, 1, 4],
      [ROWS_PER_BLOCK - 1, 3, 8],
      [ROWS_PER_BLOCK + 1, 5, 12],
      [3 * ROWS_PER_BLOCK + 17, 8, 80],
      [1000, 40, 20],
      [777, 9, 44],
      [300, 8, 3],
      [300, 4, 1],
      [0, 4, 8],
    ] as const
    await use("wasm")
    for (const [k, a, b] of shapes) {
      expect(transposedProductApplies(a, b)).toBe(true)
      const rand = uniform(7 * k + a + b)
      const x = rand(k * a)
      const y = rand(k * b)
      const [got, want] = tf.tidy(() => {
        const xt = tf.tensor2d(x, [k, a])
        const yt = tf.tensor2d(y, [k, b])
        const out = transposedProduct(xt, yt)
        expect(out.shape).toEqual([a, b])
        return [values(out), values(tf.matMul(xt, yt, true, false))]
      })
      // float64 reference, for K = 0 and as a check of the stock product itself
      const exact = Array.from({ length: a * b }, (_, ij) => {
        let sum = 0
        for (let r = 0; r < k; r++) sum += x[r * a + Math.floor(ij / b)]! * y[r * b + (ij % b)]!
        return sum
      })
      expect(maxRelDiff(got, exact)).toBeLessThan(1e-5)
      expect(maxRelDiff(want, exact)).toBeLessThan(1e-5)
    }
    // Neither width a multiple of 4: not applicable, and the kernel itself refuses it by name.
    expect(transposedProductApplies(6, 3)).toBe(false)
    const before = tf.memory().numTensors
    expect(() =>
      tf.tidy(() =>
        tf.engine().runKernel(TransposedProduct, { x: tf.zeros([5, 6]), y: tf.zeros([5, 6]) }, {}),
      ),
    ).toThrow(/b a multiple of 4, got \[5,6\] and \[5,6\]/)
    expect(tf.memory().numTensors).toBe(before)
  })

  test("x^T y over a long reduction on wasm: the SIMD kernel, the blocked form and cpu agree", async () => {
    for (const k of [SIMD_REDUCTION + 5, LONG_REDUCTION + 1234]) {
      await use("wasm")
      const rand = uniform(k)
      const x = rand(k * 40)
      const y = rand(k * 80)
      const run = () =>
        tf.tidy(() =>
          values(product(tf.tensor2d(x, [k, 40]), true, tf.tensor2d(y, [k, 80]), false)),
        )
      let simd: Array<number> = []
      const profile = await tf.profile(() => {
        simd = run()
      })
      expect(profile.kernelNames).toContain(TransposedProduct)
      productOptions.simdLongReductions = false
      let other: Array<number>
      try {
        other = run() // blocked at the long K, XNNPACK with an explicit transpose below it
      } finally {
        productOptions.simdLongReductions = true
      }
      await use("cpu")
      const cpu = run()
      expect(maxRelDiff(simd, cpu)).toBeLessThan(2e-3)
      expect(maxRelDiff(other, cpu)).toBeLessThan(2e-3)
    }
  })

  test("Sum's gradient broadcasts dy over the summed axes (no ones array), on both backends", async () => {
    const rand = uniform(21)
    const x = rand(3 * 4 * 5)
    const w = rand(4)
    const grads = await onBoth(() =>
      tf.tidy(() =>
        values(
          tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.sum(t, [0, 2]), tf.tensor1d(w))))(
            tf.tensor3d(x, [3, 4, 5]),
          ),
        ),
      ),
    )
    // d/dx[i, j, k] of Σ_j w_j Σ_{i,k} x[i, j, k] is w_j.
    const expected = Array.from({ length: 60 }, (_, n) => w[Math.floor(n / 5) % 4]!)
    expect(maxRelDiff(grads.cpu, expected)).toBeLessThan(1e-6)
    expect(maxRelDiff(grads.wasm, expected)).toBeLessThan(1e-6)
  })
})
