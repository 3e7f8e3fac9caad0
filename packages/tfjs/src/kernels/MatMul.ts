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
import { matMul, type Tensor, transpose } from "@tensorflow/tfjs-core"

/** Swaps the last two axes. */
export const swapLast = (x: Tensor): Tensor => {
  const perm = x.shape.map((_, i) => i)
  perm[perm.length - 2] = perm.length - 1
  perm[perm.length - 1] = perm.length - 2
  return transpose(x, perm)
}

/**
 * op(x) op(y), op = transpose where the flag is set, computed with plain products only. Of the
 * two equal forms, op(x) op(y) with explicit transposes or (op(y)^T op(x)^T)^T, it takes the
 * one that moves fewer elements.
 */
export const product = (x: Tensor, tx: boolean, y: Tensor, ty: boolean): Tensor => {
  if (!tx && !ty) return matMul(x, y)
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
