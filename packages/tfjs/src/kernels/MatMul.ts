/**
 * Matrix products without transpose flags.
 *
 * Why: tfjs-backend-wasm 4.22 runs a product with a transpose flag through a slow generic loop
 * instead of XNNPACK: `g x W^T` at [204800, 40] x [40, 80] took 527 ms with the flag and 57 ms
 * with an explicit transpose (bench/NOTES.md). Every gradient of a product has a transpose, so
 * one wasm DIN step spent 1,784 of 2,240 ms in such products. On the cpu backend the explicit
 * form costs the same.
 *
 * @module
 */
import {
  addN,
  getBackend,
  matMul,
  reshape,
  slice,
  type Tensor,
  tidy,
  transpose,
} from "@tensorflow/tfjs-core"
import { nativeProductApplies } from "./NativeMatMul.ts"
import { transposedProduct, transposedProductApplies } from "./TransposedProduct.ts"

/** Swaps the last two axes. */
export const swapLast = (x: Tensor): Tensor => {
  const perm = x.shape.map((_, i) => i)
  perm[perm.length - 2] = perm.length - 1
  perm[perm.length - 1] = perm.length - 2
  return transpose(x, perm)
}

/** Rows per block of {@link blockedTransposedProduct}: a [4096, 80] block is 1.3 MB. */
export const REDUCTION_BLOCK_ROWS = 4096

/** Reductions at least this long are blocked on wasm. */
export const LONG_REDUCTION = 8 * REDUCTION_BLOCK_ROWS

/**
 * Reductions at least this long use the SIMD kernel of `TransposedProduct.ts` on wasm. Why not
 * only the blocked ones: at batch 512 on ml-100k DIN's weight gradients reduce over ~20,000
 * packed history rows, and the kernel made that step 1.4x faster (65-68 -> 46-49 ms; 256 and
 * 4,096 rows measured the same within noise; bench/NOTES.md "Weight gradients as one SIMD pass").
 */
export const SIMD_REDUCTION = 1024

/**
 * Switches of {@link product}; `bench/wasm_kernels.ts` turns them off for its A/B. Long
 * reductions use the SIMD kernel of `TransposedProduct.ts` when it is loaded and applies to the
 * shapes, else the blocked form.
 */
export const productOptions = { blockLongReductions: true, simdLongReductions: true }

/**
 * x^T y for x [K, a] and y [K, b] as Σ_c x_c^T y_c over blocks of {@link REDUCTION_BLOCK_ROWS}
 * rows. Why: every weight gradient of a layer applied to all L·B history rows of DIN is such a
 * product with K = 204,800 and a, b <= 80. XNNPACK takes the right operand as the "weights":
 * it packs all K x b of it on each call and streams the packed copy once per few rows of the
 * a-row left operand, so the whole 64 MB y crossed memory ~10 times: 329 ms for
 * [40, 204800] x [204800, 80], 117 ms for [8, 204800] x [204800, 80] in a profiled wasm DIN
 * step (bench/NOTES.md, "wasm threads"). Blocks stay in cache, and the row blocks of x and y are
 * contiguous copies (no transpose of the whole x).
 */
export const blockedTransposedProduct = (x: Tensor, y: Tensor): Tensor =>
  tidy(() => {
    const k = x.shape[0]!
    // Transpose the narrower operand's blocks: Σ x_c^T y_c, or (Σ y_c^T x_c)^T.
    const flip = y.shape[1]! < x.shape[1]!
    const [left, right] = flip ? [y, x] : [x, y]
    const a = left.shape[1]!
    const parts: Array<Tensor> = []
    for (let start = 0; start < k; start += REDUCTION_BLOCK_ROWS) {
      const n = Math.min(REDUCTION_BLOCK_ROWS, k - start)
      const lc = slice(left, [start, 0], [n, a])
      const rc = slice(right, [start, 0], [n, right.shape[1]!])
      parts.push(matMul(a === 1 ? reshape(lc, [1, n]) : transpose(lc), rc))
    }
    const sum = parts.length === 1 ? parts[0]! : addN(parts)
    return flip ? transpose(sum) : sum
  })

/**
 * op(x) op(y), op = transpose where the flag is set, computed with plain products only. Of the
 * two equal forms, op(x) op(y) with explicit transposes or (op(y)^T op(x)^T)^T, it takes the
 * one that moves fewer elements. Products that the native BLAS computes (`NativeMatMul.ts`) keep
 * their flags: `sgemm` transposes as it reads.
 */
export const product = (x: Tensor, tx: boolean, y: Tensor, ty: boolean): Tensor => {
  if (!tx && !ty) return matMul(x, y)
  if (nativeProductApplies(x, tx, y, ty)) return matMul(x, y, tx, ty)
  if (tx && !ty && x.rank === 2 && y.rank === 2 && getBackend() === "wasm") {
    const k = x.shape[0]!
    if (
      productOptions.simdLongReductions &&
      k >= SIMD_REDUCTION &&
      x.dtype === "float32" &&
      y.dtype === "float32" &&
      transposedProductApplies(x.shape[1]!, y.shape[1]!)
    )
      return transposedProduct(x, y)
    if (productOptions.blockLongReductions && k >= LONG_REDUCTION)
      return blockedTransposedProduct(x, y)
  }
  const direct = (tx ? x.size : 0) + (ty ? y.size : 0)
  const outSize =
    (tx ? x.shape[x.rank - 1]! : x.shape[x.rank - 2]!) *
    (ty ? y.shape[y.rank - 2]! : y.shape[y.rank - 1]!) *
    Math.max(x.size / (x.shape[x.rank - 1]! * x.shape[x.rank - 2]!), 1)
  const flipped = (ty ? 0 : y.size) + (tx ? 0 : x.size) + outSize
  return direct <= flipped
    ? matMul(tx ? swapLast(x) : x, ty ? swapLast(y) : y)
    : swapLast(matMul(ty ? y : swapLast(y), tx ? x : swapLast(x)))
}
