/**
 * `Transpose` for the `wasm` backend, for permutations that swap two adjacent groups of axes
 * (a matrix transpose, optionally batched), as a blocked loop in JavaScript over one heap view.
 *
 * Why: the stock tfjs-backend-wasm 4.22 kernel costs ~9.5 ns per element (3 ms for a [4096, 80]
 * block, 74 ms for [204800, 40] in a profiled wasm DIN step, bench/NOTES.md "wasm threads");
 * every gradient of a product transposes an operand (`MatMul.ts`). A permutation
 * `[0..p-1, p+r.., p..p+r-1]` is the transpose of P matrices [R, C] (R = product of the moved
 * axes, C of the rest); it is copied in 32 x 32 tiles so that reads and writes both stay within
 * a few cache lines. Other permutations and dtypes go to the stock kernel.
 *
 * @module
 */
import {
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  Transpose,
  util,
} from "@tensorflow/tfjs-core"
import { type HeapView, heapIndex, heapView, type WasmHeapBackend } from "./Heap.ts"
import { stockKernel, stockSetup } from "./Stock.ts"

const TILE = 32

/**
 * heap[out0 + (p·C + c)·R + r] = heap[x0 + (p·R + r)·C + c]: P matrices [R, C] transposed.
 */
export const transposeMatrices = (
  heap: HeapView,
  x0: number,
  out0: number,
  p: number,
  rows: number,
  cols: number,
): void => {
  const size = rows * cols
  for (let m = 0; m < p; m++) {
    const src = x0 + m * size
    const dst = out0 + m * size
    for (let r0 = 0; r0 < rows; r0 += TILE) {
      const r1 = Math.min(r0 + TILE, rows)
      for (let c0 = 0; c0 < cols; c0 += TILE) {
        const c1 = Math.min(c0 + TILE, cols)
        for (let r = r0; r < r1; r++) {
          const from = src + r * cols
          for (let c = c0; c < c1; c++) heap[dst + c * rows + r] = heap[from + c]!
        }
      }
    }
  }
}

/** [P, R, C] when `perm` swaps two adjacent axis groups after a fixed prefix, else undefined. */
export const matrixView = (
  shape: ReadonlyArray<number>,
  perm: ReadonlyArray<number>,
): [number, number, number] | undefined => {
  const rank = shape.length
  let p = 0
  while (p < rank && perm[p] === p) p++
  if (p === rank) return undefined
  // perm[p..] = [s, s+1, .., rank-1, p, p+1, .., s-1] for some split s.
  const s = perm[p]!
  for (let i = p; i < rank; i++) {
    const expected = i - p < rank - s ? s + (i - p) : p + (i - p - (rank - s))
    if (perm[i] !== expected) return undefined
  }
  return [
    util.sizeFromShape(shape.slice(0, p)),
    util.sizeFromShape(shape.slice(p, s)),
    util.sizeFromShape(shape.slice(s)),
  ]
}

/** Shape and permutation without the axes of size 1, along which a transpose moves no data. */
export const dropUnitAxes = (
  shape: ReadonlyArray<number>,
  perm: ReadonlyArray<number>,
): [Array<number>, Array<number>] => {
  const kept = perm.filter((a) => shape[a] !== 1)
  const order = [...kept].sort((a, b) => a - b)
  return [order.map((a) => shape[a]!), kept.map((a) => order.indexOf(a))]
}

export const transposeWasm: KernelFunc = (params) => {
  const { x } = params.inputs as { x?: TensorInfo }
  if (x == null) throw new Error("Transpose: expected input `x`")
  const perm = params.attrs?.["perm"] as ReadonlyArray<number> | undefined
  if (perm === undefined || x.dtype === "string" || x.dtype === "complex64")
    return stockKernel(Transpose, "wasm")(params)
  const backend = params.backend as unknown as WasmHeapBackend
  const outShape = perm.map((a) => x.shape[a]!)
  const [shape, reduced] = dropUnitAxes(x.shape, perm)
  // Permutations that move only unit axes go to the stock kernel, which copies. Sharing the
  // input's data (as Identity does) made DIN's gradients wrong: the tensor ids of the wasm
  // backend's C++ side would then stand for two shapes ([1, 40] and [40, 1]).
  const view = matrixView(shape, reduced)
  if (view === undefined) return stockKernel(Transpose, "wasm")(params)
  const out = backend.makeOutput(outShape, x.dtype)
  const [p, rows, cols] = view
  if (p * rows * cols === 0) return out
  // Views after the output exists: growing the heap moves nothing but detaches views.
  transposeMatrices(
    heapView(backend, x.dtype),
    heapIndex(backend, x),
    heapIndex(backend, out),
    p,
    rows,
    cols,
  )
  return out
}

export const transposeWasmConfig: KernelConfig = {
  kernelName: Transpose,
  backendName: "wasm",
  kernelFunc: transposeWasm,
  setupFunc: stockSetup(Transpose, "wasm"),
}
