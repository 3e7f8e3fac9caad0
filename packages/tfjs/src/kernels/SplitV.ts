/**
 * `SplitV` for the `wasm` backend: each part by this folder's {@link sliceWasm}.
 *
 * Why: the stock kernel calls the stock wasm `Slice` directly (not through the registry, so the
 * repaired `Slice.ts` never ran for it), which copies the whole input to JavaScript and makes a
 * typed-array view per output row. `SplitV` is the gradient of every `concat`: in a profiled
 * DIN step on MovieLens 100K (batch 512, packed history pairs) the split of the pooled
 * [19813, 8] pairs took 6.5 of 42 ms of kernels, the largest single kernel of the step
 * (`bench/NOTES.md`, "Fused attention unit").
 *
 * @module
 */
import {
  backend_util,
  type KernelConfig,
  type KernelFunc,
  SplitV,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core"
import { sliceWasm } from "./Slice.ts"
import { stockSetup } from "./Stock.ts"

export const splitVWasm: KernelFunc = (params) => {
  const { x } = params.inputs as { x?: TensorInfo }
  if (x == null) throw new Error("SplitV: expected input `x`")
  const { numOrSizeSplits, axis } = params.attrs as unknown as {
    numOrSizeSplits: number | Array<number>
    axis: number | Array<number>
  }
  const at = util.parseAxisParam(axis, x.shape)[0]!
  const sizes = backend_util.prepareSplitSize(x as never, numOrSizeSplits, at)
  const begin = new Array<number>(x.shape.length).fill(0)
  return sizes.map((s) => {
    const size = [...x.shape]
    size[at] = s
    const part = sliceWasm({
      inputs: { x },
      attrs: { begin: [...begin], size },
      backend: params.backend,
    }) as TensorInfo
    begin[at]! += s
    return part
  })
}

export const splitVWasmConfig: KernelConfig = {
  kernelName: SplitV,
  backendName: "wasm",
  kernelFunc: splitVWasm,
  setupFunc: stockSetup(SplitV, "wasm"),
}
