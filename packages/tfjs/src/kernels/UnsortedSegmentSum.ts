/**
 * `UnsortedSegmentSum` as a single scatter-add pass, for the `cpu` and `wasm` backends, and its
 * gradient.
 *
 * Why it exists: the gradient of every embedding lookup (`tf.gather`, the first layer of DIN and
 * DeepFM and of the mediator/teacher embeddings of CausalD) is an `UnsortedSegmentSum` of the
 * upstream gradient into the table's rows. TensorFlow.js 4.22 ships
 * - no `UnsortedSegmentSum` kernel for `wasm` (tfjs issue 8082), so training on wasm fails with
 *   "Kernel 'UnsortedSegmentSum' not registered for backend 'wasm'";
 * - a `cpu` kernel that loops once per segment over all rows (equal + cast + multiply + sum per
 *   segment: O(segments x rows x inner)), which made one DIN step at batch 128 take ~21 s.
 * The kernels here cost O(rows x inner) and allocate only their output.
 *
 * Semantics (TensorFlow's `tf.math.unsorted_segment_sum`):
 * - `x` has shape `[...idsShape, ...inner]`, `segmentIds` (int32) has shape `idsShape` (a prefix
 *   of `x.shape`, usually rank 1), `numSegments` is an attribute;
 * - the output has shape `[numSegments, ...inner]` and dtype `x.dtype` (float32 or int32), and
 *   `out[s] = sum of x[i] over all i with segmentIds[i] = s`; segments no id refers to are 0;
 * - out-of-range ids are DROPPED silently: negative ids (as TensorFlow does on every device) and
 *   ids >= numSegments (as TensorFlow does on GPU; TensorFlow's CPU kernel raises
 *   InvalidArgument instead). Dropping is also what the stock tfjs kernel does, and it keeps a
 *   kernel usable inside a training step, where throwing would abort the step with no context.
 *   The gradient below drops the same ids, so forward and backward agree.
 * - float32 sums accumulate in float32 in row order (as TensorFlow does); int32 sums wrap on
 *   overflow (two's complement, as TensorFlow's int32 does).
 *
 * @module
 */
import type { TensorInfo } from "@tensorflow/tfjs-core"
import {
  cast,
  type GradConfig,
  gather,
  greaterEqual,
  type KernelConfig,
  type KernelFunc,
  less,
  logicalAnd,
  mul,
  type NamedAttrMap,
  reshape,
  scalar,
  type Tensor,
  UnsortedSegmentSum,
  where,
  zeros,
  zerosLike,
} from "@tensorflow/tfjs-core"

/** What a scatter-add reads and writes: the two numeric dtypes TensorFlow sums segments of. */
export type SegmentValues = Float32Array | Int32Array

/** The output layout of a segment sum. */
export interface SegmentSumLayout {
  /** `[numSegments, ...inner]`. */
  readonly outShape: number[]
  /** Number of segment ids (product of `segmentIds.shape`): the rows of `x` that are summed. */
  readonly rows: number
  /** Elements per row (product of the inner shape). */
  readonly rowSize: number
}

/**
 * Validates the shapes of a segment sum and computes its output layout.
 * Throws an `Error` that names the offending shape when `segmentIds.shape` is not a prefix of
 * `x.shape` or `numSegments` is not a non-negative integer.
 */
export const segmentSumLayout = (
  xShape: ReadonlyArray<number>,
  segmentIdsShape: ReadonlyArray<number>,
  numSegments: number,
): SegmentSumLayout => {
  if (!Number.isInteger(numSegments) || numSegments < 0) {
    throw new Error(
      `UnsortedSegmentSum: numSegments must be a non-negative integer, got ${numSegments}`,
    )
  }
  const k = segmentIdsShape.length
  const prefixMatches =
    k <= xShape.length && segmentIdsShape.every((size, axis) => size === xShape[axis])
  if (!prefixMatches) {
    throw new Error(
      `UnsortedSegmentSum: segmentIds.shape [${segmentIdsShape.join(",")}] must be a prefix of ` +
        `x.shape [${xShape.join(",")}]`,
    )
  }
  const inner = xShape.slice(k)
  let rows = 1
  for (const size of segmentIdsShape) rows *= size
  let rowSize = 1
  for (const size of inner) rowSize *= size
  return { outShape: [numSegments, ...inner], rows, rowSize }
}

/**
 * `out[s, :] = sum of x[i, :] over rows i with segmentIds[i] = s`, one pass over the rows.
 * `out` (length `numSegments * rowSize`) is zeroed first; ids outside `[0, numSegments)` are
 * dropped. `x` is read as `segmentIds.length` rows of `rowSize` elements.
 */
export const scatterAddSegments = (
  x: SegmentValues,
  segmentIds: Int32Array,
  numSegments: number,
  rowSize: number,
  out: SegmentValues,
): void => {
  out.fill(0)
  const rows = segmentIds.length
  if (rowSize === 1) {
    for (let i = 0; i < rows; i++) {
      const s = segmentIds[i]!
      if (s >= 0 && s < numSegments) out[s] = out[s]! + x[i]!
    }
    return
  }
  for (let i = 0; i < rows; i++) {
    const s = segmentIds[i]!
    if (s < 0 || s >= numSegments) continue
    const src = i * rowSize
    const dst = s * rowSize
    for (let j = 0; j < rowSize; j++) out[dst + j] = out[dst + j]! + x[src + j]!
  }
}

type NumericDType = "float32" | "int32"

interface SegmentSumArgs {
  readonly x: TensorInfo
  readonly segmentIds: TensorInfo
  readonly numSegments: number
}

const readArgs = (params: Parameters<KernelFunc>[0]): SegmentSumArgs => {
  const { x, segmentIds } = params.inputs
  if (x == null || segmentIds == null) {
    throw new Error("UnsortedSegmentSum: expected inputs `x` and `segmentIds`")
  }
  if (x.dtype !== "float32" && x.dtype !== "int32") {
    throw new Error(`UnsortedSegmentSum: x must be float32 or int32, got ${x.dtype}`)
  }
  if (segmentIds.dtype !== "int32") {
    throw new Error(`UnsortedSegmentSum: segmentIds must be int32, got ${segmentIds.dtype}`)
  }
  const numSegments = params.attrs?.["numSegments"]
  if (typeof numSegments !== "number") {
    throw new Error("UnsortedSegmentSum: attribute numSegments must be a number")
  }
  return { x, segmentIds, numSegments }
}

const allocate = (dtype: NumericDType, size: number): SegmentValues =>
  dtype === "int32" ? new Int32Array(size) : new Float32Array(size)

/** The slice of the cpu backend (`MathBackendCPU`) this kernel uses. */
interface CpuBackend {
  readonly data: { get(dataId: object): { values?: unknown } }
  makeTensorInfo(shape: number[], dtype: NumericDType, values: SegmentValues): TensorInfo
}

const cpuValues = (backend: CpuBackend, info: TensorInfo): SegmentValues => {
  const values = backend.data.get(info.dataId).values
  if (values instanceof Float32Array || values instanceof Int32Array) return values
  throw new Error(`UnsortedSegmentSum (cpu): tensor of dtype ${info.dtype} has no typed values`)
}

/** The cpu kernel: reads the backend's typed arrays in place, writes a fresh output array. */
export const unsortedSegmentSumCpu: KernelFunc = (params) => {
  const { x, segmentIds, numSegments } = readArgs(params)
  const backend = params.backend as CpuBackend
  const dtype = x.dtype as NumericDType
  const { outShape, rows, rowSize } = segmentSumLayout(x.shape, segmentIds.shape, numSegments)
  const out = allocate(dtype, numSegments * rowSize)
  if (rows > 0 && rowSize > 0) {
    const ids = cpuValues(backend, segmentIds)
    scatterAddSegments(cpuValues(backend, x), ids as Int32Array, numSegments, rowSize, out)
  }
  return backend.makeTensorInfo(outShape, dtype, out)
}

/**
 * The slice of the wasm backend (`BackendWasm`) this kernel uses: tensors live on the wasm heap
 * and `typedArrayFromHeap` views them without copying.
 */
interface WasmBackend {
  makeOutput(shape: number[], dtype: NumericDType): TensorInfo
  typedArrayFromHeap(info: TensorInfo): Float32Array | Int32Array | Uint8Array
}

/**
 * The wasm kernel, in JavaScript over views of the wasm heap. The output is allocated FIRST:
 * allocating may grow (and so detach) the heap's ArrayBuffer, which would invalidate views of the
 * inputs taken before it. `makeOutput` does not clear memory; `scatterAddSegments` zeroes it.
 */
export const unsortedSegmentSumWasm: KernelFunc = (params) => {
  const { x, segmentIds, numSegments } = readArgs(params)
  const backend = params.backend as WasmBackend
  const dtype = x.dtype as NumericDType
  const { outShape, rows, rowSize } = segmentSumLayout(x.shape, segmentIds.shape, numSegments)
  const out = backend.makeOutput(outShape, dtype)
  const outValues = backend.typedArrayFromHeap(out) as SegmentValues
  if (rows > 0 && rowSize > 0) {
    const xValues = backend.typedArrayFromHeap(x) as SegmentValues
    const ids = backend.typedArrayFromHeap(segmentIds) as Int32Array
    scatterAddSegments(xValues, ids, numSegments, rowSize, outValues)
  } else {
    outValues.fill(0)
  }
  return out
}

export const unsortedSegmentSumCpuConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: "cpu",
  kernelFunc: unsortedSegmentSumCpu,
}

export const unsortedSegmentSumWasmConfig: KernelConfig = {
  kernelName: UnsortedSegmentSum,
  backendName: "wasm",
  kernelFunc: unsortedSegmentSumWasm,
}

/**
 * dx[i] = dy[segmentIds[i]] for in-range ids and 0 for dropped ones. The stock tfjs gradient only
 * drops negative ids and fails on ids >= numSegments ("GatherV2: the index value ... is not in
 * [0, ...]"), which disagrees with the forward kernels above.
 */
const gatherInRange = (dy: Tensor, segmentIds: Tensor, numSegments: number): Tensor => {
  const inner = dy.shape.slice(1)
  if (numSegments === 0) return zeros([...segmentIds.shape, ...inner], dy.dtype)
  const inRange = logicalAnd(
    greaterEqual(segmentIds, scalar(0, "int32")),
    less(segmentIds, scalar(numSegments, "int32")),
  )
  const safeIds = where(inRange, segmentIds, zerosLike(segmentIds))
  const gathered = gather(dy, safeIds, 0)
  // One mask value per id, broadcast over the row it gates.
  const mask = reshape(cast(inRange, dy.dtype), [...segmentIds.shape, ...inner.map(() => 1)])
  return mul(gathered, mask)
}

export const unsortedSegmentSumGradConfig: GradConfig = {
  kernelName: UnsortedSegmentSum,
  inputsToSave: ["segmentIds"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const upstream = Array.isArray(dy) ? dy[0]! : dy
    const segmentIds = saved[0]!
    const numSegments = attrs["numSegments"] as number
    return { x: () => gatherInRange(upstream, segmentIds, numSegments) }
  },
}
