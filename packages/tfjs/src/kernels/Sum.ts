/**
 * `Sum` over leading axes for the `wasm` backend, in one pass in JavaScript.
 *
 * Why: the stock wasm kernel reduces innermost axes only, so a sum over a leading axis first
 * transposes the whole input. Every bias gradient and every broadcast-add gradient is such a
 * sum: in a DIN training step at batch 4096, [204800, 40] -> [40] took 54 ms and
 * [50, 4096, 80] -> [4096, 80] 59 ms of a ~830 ms step (bench/NOTES.md). Viewing x as
 * [outer, inner] with the leading `outer` elements reduced, `out[j] = Σ_i x[i, j]` is one pass
 * in memory order.
 *
 * Other reductions (innermost or interleaved axes, dtypes other than float32 / int32) go to the
 * stock kernel, except on an empty input, whose sum is zeros (the stock kernel returns
 * uninitialised memory there). Float32 sums accumulate in float32 in index order, as the stock kernel does after
 * its transpose; int32 sums wrap like int32.
 *
 * @module
 */
import {
  backend_util,
  broadcastTo,
  type GradConfig,
  type KernelConfig,
  type KernelFunc,
  reshape,
  Sum,
  type Tensor,
  type TensorInfo,
  util,
} from "@tensorflow/tfjs-core"
import { stockKernel, stockSetup } from "./Stock.ts"

/** The slice of the wasm backend (`BackendWasm`) this kernel uses. */
interface WasmBackend {
  makeOutput(shape: number[], dtype: TensorInfo["dtype"]): TensorInfo
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array
}

/** out[j] = Σ_i x[i·inner + j] for i < outer; `out` has `inner` elements. */
export const sumLeading = (
  x: Float32Array | Int32Array,
  outer: number,
  inner: number,
  out: Float32Array | Int32Array,
): void => {
  out.fill(0)
  if (out instanceof Int32Array) {
    for (let i = 0; i < outer; i++) {
      const base = i * inner
      for (let j = 0; j < inner; j++) out[j] = (out[j]! + x[base + j]!) | 0
    }
    return
  }
  for (let i = 0; i < outer; i++) {
    const base = i * inner
    for (let j = 0; j < inner; j++) out[j] = out[j]! + x[base + j]!
  }
}

/** The number of leading axes `axes` reduces when they are exactly 0..k-1, else -1. */
const leadingCount = (axes: ReadonlyArray<number>): number => {
  const sorted = [...new Set(axes)].sort((a, b) => a - b)
  return sorted.every((a, i) => a === i) ? sorted.length : -1
}

export const sumWasm: KernelFunc = (params) => {
  const { x } = params.inputs as { x?: TensorInfo }
  if (x == null) throw new Error("Sum: expected input `x`")
  const axis = params.attrs?.["axis"] as number | number[]
  const keepDims = (params.attrs?.["keepDims"] as boolean | undefined) ?? false
  const axes = util.parseAxisParam(axis, x.shape)
  const k = leadingCount(axes)
  const numeric = x.dtype === "float32" || x.dtype === "int32"
  const empty = util.sizeFromShape(x.shape) === 0
  // Innermost reductions are already single-pass in the stock kernel.
  if (!numeric || (!empty && (k <= 0 || k === x.shape.length)))
    return stockKernel(Sum, "wasm")(params)
  const backend = params.backend as WasmBackend
  const [reduced] = backend_util.computeOutAndReduceShapes(x.shape, axes)
  const outShape = keepDims ? backend_util.expandShapeToKeepDim(reduced, axes) : reduced
  // Views are taken after the output exists: growing the heap detaches earlier ones.
  const out = backend.makeOutput(outShape, x.dtype)
  const outValues = backend.typedArrayFromHeap(out) as Float32Array | Int32Array
  // The stock kernel leaves the output of an empty input uninitialised; a sum of nothing is 0.
  if (empty) outValues.fill(0)
  else
    sumLeading(
      backend.typedArrayFromHeap(x) as Float32Array | Int32Array,
      util.sizeFromShape(x.shape.slice(0, k)),
      util.sizeFromShape(x.shape.slice(k)),
      outValues,
    )
  return out
}

export const sumWasmConfig: KernelConfig = {
  kernelName: Sum,
  backendName: "wasm",
  kernelFunc: sumWasm,
  setupFunc: stockSetup(Sum, "wasm"),
}

/**
 * The gradient of `Sum` on every backend: dy broadcast back over the summed axes. The stock
 * gradient multiplies by `ones(x.shape)`, which builds that array in JavaScript and uploads it
 * on every backward pass (6.3 MB for DIN's pooling Σ_j w_j h_j at batch 4096): JavaScript
 * garbage that let the resident set grow between collections (bench/NOTES.md, "CausalD memory").
 */
export const sumGradConfig: GradConfig = {
  kernelName: Sum,
  inputsToSave: ["x"],
  gradFunc: (dy, saved, attrs) => {
    const upstream = Array.isArray(dy) ? dy[0]! : (dy as Tensor)
    const x = saved[0]!
    const expanded = [...x.shape]
    for (const a of util.parseAxisParam(attrs["axis"] as number | number[], x.shape))
      expanded[a] = 1
    return { x: () => broadcastTo(reshape(upstream, expanded), x.shape) }
  },
}
