/**
 * `Slice` for the `wasm` backend as contiguous runs copied inside one heap view.
 *
 * Why: the stock kernel first copies the WHOLE input to a JavaScript array (`readSync`), then
 * creates a typed-array view per output row (see `Heap.ts` for what each view costs). Here the
 * trailing axes the slice takes whole are merged into one run, and every run is copied with
 * `copyWithin` on the heap. Strings go to the stock kernel.
 *
 * @module
 */
import {
  type KernelConfig,
  type KernelFunc,
  Slice,
  slice_util,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core"
import { copyRun, heapIndex, heapView, type WasmHeapBackend } from "./Heap.ts"
import { stockKernel, stockSetup } from "./Stock.ts"

export const sliceWasm: KernelFunc = (params) => {
  const { x } = params.inputs as { x?: TensorInfo }
  if (x == null) throw new Error("Slice: expected input `x`")
  if (x.dtype === "string" || x.dtype === "complex64") return stockKernel(Slice, "wasm")(params)
  const backend = params.backend as unknown as WasmHeapBackend
  const [begin, size] = slice_util.parseSliceParams(
    x as never,
    params.attrs?.["begin"] as number[],
    params.attrs?.["size"] as number[],
  )
  const out = backend.makeOutput(size, x.dtype)
  if (util.sizeFromShape(size) === 0) return out
  const rank = x.shape.length
  if (rank === 0) {
    const heap = heapView(backend, x.dtype)
    heap[heapIndex(backend, out)] = heap[heapIndex(backend, x)]!
    return out
  }
  const strides = [...util.computeStrides(x.shape), 1]
  // Merge the trailing axes taken whole into the run of the last partial axis.
  let runAxis = rank - 1
  while (runAxis > 0 && size[runAxis] === x.shape[runAxis]) runAxis--
  const run = size[runAxis]! * strides[runAxis]!
  const heap = heapView(backend, x.dtype)
  const src0 = heapIndex(backend, x)
  let dst = heapIndex(backend, out)
  let base = src0
  for (let a = 0; a < rank; a++) base += begin[a]! * strides[a]!
  // Odometer over the axes before runAxis.
  const index = new Array<number>(runAxis).fill(0)
  const runs = util.sizeFromShape(size.slice(0, runAxis))
  for (let r = 0; r < runs; r++) {
    let src = base
    for (let a = 0; a < runAxis; a++) src += index[a]! * strides[a]!
    copyRun(heap, dst, src, run)
    dst += run
    for (let a = runAxis - 1; a >= 0; a--) {
      if (++index[a]! < size[a]!) break
      index[a] = 0
    }
  }
  return out
}

export const sliceWasmConfig: KernelConfig = {
  kernelName: Slice,
  backendName: "wasm",
  kernelFunc: sliceWasm,
  setupFunc: stockSetup(Slice, "wasm"),
}
