/**
 * `Concat` for the `wasm` backend as contiguous runs copied inside one heap view.
 *
 * Why: the stock kernel creates a typed-array view per row and input (see `Heap.ts` for what
 * each view costs): DIN's predictor input [m, t] at batch 4096 made 8,192 per step. As the stock
 * kernel does, the inputs are seen as [outer, inner_i] matrices (axes before `axis` collapsed
 * into outer) and each output row is the inputs' rows one after the other. Strings go to the
 * stock kernel.
 *
 * @module
 */
import {
  backend_util,
  Concat,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core"
import { copyRun, heapIndex, heapView, type WasmHeapBackend } from "./Heap.ts"
import { identityWasm } from "./Identity.ts"
import { stockKernel, stockSetup } from "./Stock.ts"

export const concatWasm: KernelFunc = (params) => {
  const inputs = params.inputs as unknown as ReadonlyArray<TensorInfo>
  if (inputs.length === 0) throw new Error("Concat: expected at least one input")
  const dtype = inputs[0]!.dtype
  if (dtype === "string" || dtype === "complex64") return stockKernel(Concat, "wasm")(params)
  const backend = params.backend as unknown as WasmHeapBackend
  const axis = util.parseAxisParam(params.attrs?.["axis"] as number, inputs[0]!.shape)[0]!
  const shapes = inputs.map((t) => t.shape)
  backend_util.assertParamsConsistent(shapes, axis)
  const outShape = backend_util.computeOutShape(shapes, axis)
  const nonEmpty = inputs.filter((t) => util.sizeFromShape(t.shape) > 0)
  if (nonEmpty.length === 1) return identityWasm({ ...params, inputs: { x: nonEmpty[0]! } })
  const out = backend.makeOutput(outShape, dtype)
  if (util.sizeFromShape(outShape) === 0) return out
  const outer = util.sizeFromShape(nonEmpty[0]!.shape.slice(0, axis))
  const inner = nonEmpty.map((t) => util.sizeFromShape(t.shape.slice(axis)))
  // Views and offsets after the output exists: growing the heap moves nothing but detaches views.
  const heap = heapView(backend, dtype)
  const starts = nonEmpty.map((t) => heapIndex(backend, t))
  let dst = heapIndex(backend, out)
  for (let row = 0; row < outer; row++)
    for (let i = 0; i < nonEmpty.length; i++) {
      const n = inner[i]!
      copyRun(heap, dst, starts[i]! + row * n, n)
      dst += n
    }
  return out
}

export const concatWasmConfig: KernelConfig = {
  kernelName: Concat,
  backendName: "wasm",
  kernelFunc: concatWasm,
  setupFunc: stockSetup(Concat, "wasm"),
}
