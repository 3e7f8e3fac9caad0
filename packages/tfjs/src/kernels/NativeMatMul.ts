/**
 * `BatchMatMul` on the `wasm` backend through the machine's native BLAS (`native/Blas.ts`), in
 * place on the wasm heap: `sgemm` gets the addresses of the operands and of the output, so
 * nothing is copied, and transposes are `sgemm` flags, so none is materialised.
 *
 * Why: WebAssembly SIMD is 128 bits wide; a native library uses AVX-512 (oneDNN also AMX), and
 * the products of the forward and backward passes are most of a DIN or DeepFM step (issue 17;
 * figures in bench/NOTES.md, "Native matrix products").
 *
 * Shapes: any rank >= 2 with batch axes that are equal or where one side has a single batch
 * (the shared weight of a layer applied to [b, t, d]); with that weight on the right and no
 * transposed left operand, the batch is folded into the rows (one call). Other broadcasts, other
 * dtypes, empty products and products under {@link nativeProductOptions}.minMultiplyAdds go to
 * the stock kernel, as does every product while no library is active ({@link setNativeBlas}).
 * tfjs's `_FusedMatMul` is not replaced: nothing in this project calls `tf.fused`.
 *
 * @module
 */
import {
  BatchMatMul,
  broadcast_util,
  getBackend,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core"
import type { NativeBlas } from "../native/Blas.ts"
import { heapAddress, heapIndex, type WasmHeapBackend } from "./Heap.ts"
import { stockKernel, stockSetup } from "./Stock.ts"

let active: NativeBlas | undefined

/** Routes wasm products to `blas` (undefined: the wasm kernels only). */
export const setNativeBlas = (blas: NativeBlas | undefined): void => {
  active = blas
}

/** The library wasm products use now, if any. */
export const nativeBlas = (): NativeBlas | undefined => active

/**
 * Products with fewer multiply-adds than `minMultiplyAdds` keep the stock kernel. 0: no product
 * was measured faster on XNNPACK, not even 8x8x8 (12.7 µs through tfjs against 5.4 with
 * oneDNN, 4.8 with OpenBLAS; the FFI call itself is under 1 µs), bench/native_products.ts and
 * bench/NOTES.md, "Native matrix products". Kept as a switch for machines where that differs.
 */
export const nativeProductOptions = { minMultiplyAdds: 0 }

/** How one product runs as `sgemm` calls. */
interface Plan {
  readonly outShape: Array<number>
  /** Calls, and the rows of op(A) per call. */
  readonly calls: number
  readonly m: number
  readonly n: number
  readonly k: number
  /** Element strides between calls (0: the operand is shared by all calls). */
  readonly strideA: number
  readonly strideB: number
}

const productOf = (xs: ReadonlyArray<number>): number => {
  let p = 1
  for (const x of xs) p *= x
  return p
}

/** The plan for op(a) op(b), or undefined when the stock kernel must run it. */
const planOf = (
  aShape: ReadonlyArray<number>,
  transA: boolean,
  bShape: ReadonlyArray<number>,
  transB: boolean,
): Plan | undefined => {
  const ra = aShape.length
  const rb = bShape.length
  if (ra < 2 || rb < 2) return undefined
  const m = transA ? aShape[ra - 1]! : aShape[ra - 2]!
  const k = transA ? aShape[ra - 2]! : aShape[ra - 1]!
  const n = transB ? bShape[rb - 2]! : bShape[rb - 1]!
  // A mismatch is the stock kernel's error to report.
  if ((transB ? bShape[rb - 1]! : bShape[rb - 2]!) !== k) return undefined
  const batchA = aShape.slice(0, -2)
  const batchB = bShape.slice(0, -2)
  let outBatch: Array<number>
  try {
    outBatch = broadcast_util.assertAndGetBroadcastShape(batchA, batchB)
  } catch {
    return undefined
  }
  const batch = productOf(outBatch)
  const sizeA = productOf(batchA)
  const sizeB = productOf(batchB)
  if (batch * m * n * k < nativeProductOptions.minMultiplyAdds || batch * m * n * k === 0)
    return undefined
  // Equal batch sizes under broadcasting mean equal batch axes (a stretched axis shrinks one).
  if ((sizeA !== batch && sizeA !== 1) || (sizeB !== batch && sizeB !== 1)) return undefined
  const outShape = [...outBatch, m, n]
  if (sizeB === 1 && !transA)
    return { outShape, calls: 1, m: batch * m, n, k, strideA: 0, strideB: 0 }
  return {
    outShape,
    calls: batch,
    m,
    n,
    k,
    strideA: sizeA === 1 ? 0 : m * k,
    strideB: sizeB === 1 ? 0 : k * n,
  }
}

/**
 * Whether {@link nativeBatchMatMul} computes op(x) op(y) natively now: `MatMul.product` then
 * passes the transpose flags instead of transposing (flags cost nothing to `sgemm`).
 */
export const nativeProductApplies = (
  x: TensorInfo,
  transX: boolean,
  y: TensorInfo,
  transY: boolean,
): boolean =>
  active !== undefined &&
  x.dtype === "float32" &&
  y.dtype === "float32" &&
  getBackend() === "wasm" &&
  planOf(x.shape, transX, y.shape, transY) !== undefined

export const nativeBatchMatMul: KernelFunc = (params) => {
  const blas = active
  const { a, b } = params.inputs as { a: TensorInfo; b: TensorInfo }
  const transA = params.attrs?.["transposeA"] === true
  const transB = params.attrs?.["transposeB"] === true
  const plan =
    blas !== undefined && a.dtype === "float32" && b.dtype === "float32"
      ? planOf(a.shape, transA, b.shape, transB)
      : undefined
  if (blas === undefined || plan === undefined) return stockKernel(BatchMatMul, "wasm")(params)
  const wasm = params.backend as unknown as WasmHeapBackend
  const out = wasm.makeOutput(plan.outShape, "float32")
  // The address after the output exists: allocating may grow the heap.
  const base = heapAddress(wasm)
  const pa = base + heapIndex(wasm, a) * 4
  const pb = base + heapIndex(wasm, b) * 4
  const pc = base + heapIndex(wasm, out) * 4
  const { m, n, k } = plan
  const lda = a.shape[a.shape.length - 1]!
  const ldb = b.shape[b.shape.length - 1]!
  for (let i = 0; i < plan.calls; i++)
    blas.sgemm(
      transA,
      transB,
      m,
      n,
      k,
      pa + i * plan.strideA * 4,
      lda,
      pb + i * plan.strideB * 4,
      ldb,
      pc + i * m * n * 4,
      n,
    )
  return out
}

export const nativeBatchMatMulWasmConfig: KernelConfig = {
  kernelName: BatchMatMul,
  backendName: "wasm",
  kernelFunc: nativeBatchMatMul,
  setupFunc: stockSetup(BatchMatMul, "wasm"),
}
