/**
 * `GatherV2` for the `wasm` backend as slice copies in JavaScript over the wasm heap.
 *
 * Why: every embedding lookup is a gather, and the stock tfjs-backend-wasm 4.22 kernel costs
 * ~37 ns per ELEMENT: it checks each index with an assertion that builds a closure per index,
 * then copies element by element with strided index arithmetic in C++. DIN's history lookup
 * ([4096, 50] ids into a [3701, 8] table, 1.6 M floats) took 60 ms of a 200 ms forward pass,
 * and a CausalD step runs it once per teacher (bench/NOTES.md, "CausalD step"). Copying whole
 * slices (`sliceSize` contiguous elements per index) within one heap view (`Heap.ts`: no
 * typed-array view per row) is one pass over the output.
 *
 * Semantics are the stock kernel's: output `[...batch, ...outer, ...indices, ...slice]`
 * (`backend_util.segment_util.collectGatherOpShapeInfo`), and an index outside
 * `[0, x.shape[axis])` throws "GatherV2: the index value i is not in [0, n - 1]".
 *
 * @module
 */
import {
  backend_util,
  GatherV2,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core"
import { copyRun, type HeapView, heapIndex, heapView, type WasmHeapBackend } from "./Heap.ts"

/**
 * `out[b, o, i, :] = x[b, o, indices[b, i], :]` within one heap view: x at element `x0` as
 * `[batch, outer, dimSize, slice]`, indices as `[batch, perBatch]`, out at `out0` as
 * `[batch, outer, perBatch, slice]`. Indices must already be checked.
 */
export const gatherSlices = (
  heap: HeapView,
  x0: number,
  indices: Int32Array,
  out0: number,
  info: { batchSize: number; outerSize: number; dimSize: number; sliceSize: number },
): void => {
  const { batchSize, outerSize, dimSize, sliceSize } = info
  const perBatch = indices.length / batchSize
  let dst = out0
  for (let b = 0; b < batchSize; b++) {
    for (let o = 0; o < outerSize; o++) {
      const base = x0 + (b * outerSize + o) * dimSize * sliceSize
      for (let i = 0; i < perBatch; i++) {
        copyRun(heap, dst, base + indices[b * perBatch + i]! * sliceSize, sliceSize)
        dst += sliceSize
      }
    }
  }
}

export const gatherV2Wasm: KernelFunc = (params) => {
  const { x, indices } = params.inputs as { x?: TensorInfo; indices?: TensorInfo }
  if (x == null || indices == null) throw new Error("GatherV2: expected inputs `x` and `indices`")
  if (x.dtype !== "float32" && x.dtype !== "int32" && x.dtype !== "bool")
    throw new Error(`GatherV2 (wasm): x must be float32, int32 or bool, got ${x.dtype}`)
  if (indices.dtype !== "int32")
    throw new Error(`GatherV2 (wasm): indices must be int32, got ${indices.dtype}`)
  const backend = params.backend as unknown as WasmHeapBackend
  const axis = util.parseAxisParam((params.attrs?.["axis"] as number) ?? 0, x.shape)[0]!
  const batchDims = (params.attrs?.["batchDims"] as number) ?? 0
  const info = backend_util.segment_util.collectGatherOpShapeInfo(
    x as never,
    indices as never,
    axis,
    batchDims,
  )
  const count = util.sizeFromShape(indices.shape)
  const ids = heapView(backend, "int32").subarray(
    heapIndex(backend, indices),
    heapIndex(backend, indices) + count,
  ) as Int32Array
  for (let i = 0; i < count; i++) {
    const index = ids[i]!
    if (index < 0 || index >= info.dimSize)
      throw new Error(`GatherV2: the index value ${index} is not in [0, ${info.dimSize - 1}]`)
  }
  const out = backend.makeOutput(info.outputShape, x.dtype)
  if (util.sizeFromShape(out.shape) === 0) return out
  // Views are taken again after the output exists: growing the heap detaches earlier ones.
  const i0 = heapIndex(backend, indices)
  gatherSlices(
    heapView(backend, x.dtype),
    heapIndex(backend, x),
    heapView(backend, "int32").subarray(i0, i0 + count) as Int32Array,
    heapIndex(backend, out),
    info,
  )
  return out
}

export const gatherV2WasmConfig: KernelConfig = {
  kernelName: GatherV2,
  backendName: "wasm",
  kernelFunc: gatherV2Wasm,
}
