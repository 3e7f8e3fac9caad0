/**
 * `Tile` for the `wasm` backend as contiguous runs copied inside one heap view.
 *
 * Why: the stock tfjs-backend-wasm 4.22 kernel computes a source index per output element; DIN
 * tiles the target embeddings over the history ([1, 4096, 8] -> [50, 4096, 8]), which took
 * 66-90 ms of a profiled wasm step (bench/NOTES.md, "wasm threads"). The trailing axes with a
 * repetition of 1 are copied whole: here 50 runs of 32,768 values. Strings go to the stock
 * kernel.
 *
 * @module
 */
import {
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  Tile,
  util,
} from "@tensorflow/tfjs-core"
import { copyRun, type HeapView, heapIndex, heapView, type WasmHeapBackend } from "./Heap.ts"
import { stockKernel, stockSetup } from "./Stock.ts"

/**
 * out = tile(x, reps) within one heap view, x at `x0` with shape `shape`, out at `out0`.
 * Output runs of the axes after the last repeated one are contiguous in both. Trailing axes of
 * size 1 in x (a broadcast of a size-1 axis, e.g. [K, B, 1] -> [K, B, 8] in the gradient of a sum
 * over the last axis, or a scalar to a whole shape in the gradient of a sum) repeat each value
 * `fill` times in a row: written by a loop per value, not as runs of one element each.
 */
export const tileRuns = (
  heap: HeapView,
  x0: number,
  out0: number,
  shape: ReadonlyArray<number>,
  reps: ReadonlyArray<number>,
): void => {
  const rank = shape.length
  let t = rank
  let fill = 1
  while (t > 0 && shape[t - 1] === 1) {
    fill *= reps[t - 1]!
    t--
  }
  let q = t
  while (q > 0 && reps[q - 1] === 1) q--
  const run = util.sizeFromShape(shape.slice(q, t))
  const strides = [...util.computeStrides([...shape]), 1]
  const outer = shape.slice(0, q).map((n, i) => n * reps[i]!)
  const runs = util.sizeFromShape(outer)
  const index = new Array<number>(q).fill(0)
  let dst = out0
  for (let k = 0; k < runs; k++) {
    let src = x0
    for (let a = 0; a < q; a++) src += (index[a]! % shape[a]!) * strides[a]!
    if (fill === 1) {
      copyRun(heap, dst, src, run)
      dst += run
    } else
      for (let e = 0; e < run; e++) {
        const value = heap[src + e]!
        if (fill <= 16) for (let f = 0; f < fill; f++) heap[dst + f] = value
        else heap.fill(value, dst, dst + fill)
        dst += fill
      }
    for (let a = q - 1; a >= 0; a--) {
      if (++index[a]! < outer[a]!) break
      index[a] = 0
    }
  }
}

export const tileWasm: KernelFunc = (params) => {
  const { x } = params.inputs as { x?: TensorInfo }
  if (x == null) throw new Error("Tile: expected input `x`")
  if (x.dtype === "string" || x.dtype === "complex64") return stockKernel(Tile, "wasm")(params)
  const reps = params.attrs?.["reps"] as ReadonlyArray<number> | undefined
  if (reps === undefined || reps.length !== x.shape.length)
    throw new Error(
      `Tile: reps [${reps?.join(",")}] must have one entry per axis of x [${x.shape.join(",")}]`,
    )
  const backend = params.backend as unknown as WasmHeapBackend
  const out = backend.makeOutput(
    x.shape.map((n, i) => n * reps[i]!),
    x.dtype,
  )
  if (util.sizeFromShape(out.shape) === 0) return out
  // Views after the output exists: growing the heap moves nothing but detaches views.
  tileRuns(
    heapView(backend, x.dtype),
    heapIndex(backend, x),
    heapIndex(backend, out),
    x.shape,
    reps,
  )
  return out
}

export const tileWasmConfig: KernelConfig = {
  kernelName: Tile,
  backendName: "wasm",
  kernelFunc: tileWasm,
  setupFunc: stockSetup(Tile, "wasm"),
}
