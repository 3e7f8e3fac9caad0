/**
 * `TransposedProduct`: x^T y for x [K, a] and y [K, b] with a long reduction K, on the `wasm`
 * backend, as one pass of a small WebAssembly SIMD kernel that reads and writes the backend's own
 * heap (it imports tfjs's `WebAssembly.Memory`, so nothing is copied).
 *
 * Why: every weight gradient of a layer applied to all L·B history rows of DIN is such a product
 * (K = 204,800 at batch 4096, a and b <= 80). XNNPACK treats the right operand as "weights" and
 * packs all of it on each call, so the products ran as Σ over 4,096-row blocks
 * (`MatMul.ts`, {@link blockedTransposedProduct}): 101 + 50 + 50 products, each with a slice, a
 * transpose and a packing of its block, 328 of 645 ms of a profiled DIN step (bench/NOTES.md,
 * "Weight gradients as one SIMD pass"). The arithmetic is 1.85 GFLOP.
 *
 * The kernel accumulates out[i, j] += x[r, i] · y[r, j] over rows r in blocks of
 * {@link ROWS_PER_BLOCK} rows (both operands' block stays in the L1 cache), with register tiles
 * of 4 rows of out x 8 columns (two f32x4 vectors, eight accumulators). It needs b to be a
 * multiple of 4; {@link transposedProduct} flips the product (y^T x, then a transpose of the
 * small result) when only a is, and leaves other shapes to XNNPACK. `MatMul.product` uses it
 * for every wasm x^T y with K >= 1,024 (`SIMD_REDUCTION`). Results equal XNNPACK's up to float
 * rounding (bit-identical where it sums in the same order, as at K = 1,029). The block size was
 * not tuned.
 *
 * The WebAssembly text is generated below and assembled with `wabt` when the wasm backend starts
 * ({@link loadTransposedProduct}); if that fails, a warning says why and products keep the
 * previous forms (XNNPACK, blocked for K >= 32,768).
 *
 * @module
 */
import {
  engine,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type TensorInfo,
  tidy,
  transpose,
} from "@tensorflow/tfjs-core"
import { assembleOnHeap, heapIndex, type WasmHeapBackend } from "./Heap.ts"

/** The kernel's name in tfjs's registry (not a tfjs op: called through {@link transposedProduct}). */
export const TransposedProduct = "CausalDTransposedProduct"

/** Rows of x and y per block: 64 x (80 + 40) floats = 30 KB, within a 32 KB L1 data cache. */
export const ROWS_PER_BLOCK = 64

type Run = (x: number, y: number, out: number, k: number, a: number, b: number) => void

let run: Run | undefined

/** Whether {@link loadTransposedProduct} succeeded in this process. */
export const transposedProductLoaded = (): boolean => run !== undefined

/** Whether the SIMD kernel can compute x^T y for x [K, a], y [K, b] (directly or flipped). */
export const transposedProductApplies = (a: number, b: number): boolean =>
  run !== undefined && (b % 4 === 0 || a % 4 === 0)

const range = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/**
 * One register tile: `h` rows of out (from row i0) by `4·w` columns (from column j0), over the
 * block's n rows starting at r0.
 */
const tile = (h: number, w: number): string => {
  const acc = (i: number, v: number) => `$acc${i}_${v}`
  const rowOfOut = (i: number) =>
    `(i32.add (local.get $po) (i32.mul (i32.const ${i}) (local.get $ys)))`
  const load = range(h).flatMap((i) =>
    range(w).map((v) => `(local.set ${acc(i, v)} (v128.load offset=${16 * v} ${rowOfOut(i)}))`),
  )
  const store = range(h).flatMap((i) =>
    range(w).map((v) => `(v128.store offset=${16 * v} ${rowOfOut(i)} (local.get ${acc(i, v)}))`),
  )
  const body = [
    ...range(w).map((v) => `(local.set $y${v} (v128.load offset=${16 * v} (local.get $py)))`),
    ...range(h).flatMap((i) => [
      `(local.set $s (v128.load32_splat offset=${4 * i} (local.get $px)))`,
      ...range(w).map(
        (v) =>
          `(local.set ${acc(i, v)} (f32x4.add (local.get ${acc(i, v)}) (f32x4.mul (local.get $s) (local.get $y${v}))))`,
      ),
    ]),
    "(local.set $px (i32.add (local.get $px) (local.get $xs)))",
    "(local.set $py (i32.add (local.get $py) (local.get $ys)))",
  ]
  return `
    (local.set $po (i32.add (local.get $out)
      (i32.shl (i32.add (i32.mul (local.get $i0) (local.get $b)) (local.get $j0)) (i32.const 2))))
    ${load.join("\n    ")}
    (local.set $px (i32.add (local.get $x)
      (i32.shl (i32.add (i32.mul (local.get $r0) (local.get $a)) (local.get $i0)) (i32.const 2))))
    (local.set $py (i32.add (local.get $y)
      (i32.shl (i32.add (i32.mul (local.get $r0) (local.get $b)) (local.get $j0)) (i32.const 2))))
    (local.set $end (i32.add (local.get $py) (i32.mul (local.get $n) (local.get $ys))))
    (loop $rows_${h}_${w}
      ${body.join("\n      ")}
      (br_if $rows_${h}_${w} (i32.lt_u (local.get $py) (local.get $end))))
    ${store.join("\n    ")}
    (local.set $j0 (i32.add (local.get $j0) (i32.const ${4 * w})))`
}

/**
 * The module's text: `transposedProduct(x, y, out, k, a, b)` with byte offsets into the imported
 * memory; out [a, b] is overwritten. Requires k >= 1 and b % 4 == 0.
 */
export const transposedProductWat = (sharedMemory: boolean): string => {
  const accumulators = range(4)
    .flatMap((i) => range(2).map((v) => `(local $acc${i}_${v} v128)`))
    .join(" ")
  return `(module
  (import "env" "memory" (memory 1 ${sharedMemory ? "65536 shared" : ""}))
  (func (export "transposedProduct")
    (param $x i32) (param $y i32) (param $out i32) (param $k i32) (param $a i32) (param $b i32)
    (local $xs i32) (local $ys i32) (local $r0 i32) (local $n i32) (local $i0 i32) (local $j0 i32)
    (local $h4 i32) (local $po i32) (local $px i32) (local $py i32) (local $end i32)
    (local $y0 v128) (local $y1 v128) (local $s v128) ${accumulators}
    (local.set $xs (i32.shl (local.get $a) (i32.const 2)))
    (local.set $ys (i32.shl (local.get $b) (i32.const 2)))
    (memory.fill (local.get $out) (i32.const 0) (i32.mul (local.get $a) (local.get $ys)))
    (block $done (loop $blocks
      (br_if $done (i32.ge_u (local.get $r0) (local.get $k)))
      (local.set $n (i32.sub (local.get $k) (local.get $r0)))
      (if (i32.gt_u (local.get $n) (i32.const ${ROWS_PER_BLOCK}))
        (then (local.set $n (i32.const ${ROWS_PER_BLOCK}))))
      (local.set $i0 (i32.const 0))
      (block $iDone (loop $iTiles
        (br_if $iDone (i32.ge_u (local.get $i0) (local.get $a)))
        (local.set $h4 (i32.ge_u (i32.sub (local.get $a) (local.get $i0)) (i32.const 4)))
        (local.set $j0 (i32.const 0))
        (block $jDone (loop $jTiles
          (br_if $jDone (i32.ge_u (local.get $j0) (local.get $b)))
          (if (local.get $h4)
            (then (if (i32.ge_u (i32.sub (local.get $b) (local.get $j0)) (i32.const 8))
              (then ${tile(4, 2)})
              (else ${tile(4, 1)})))
            (else (if (i32.ge_u (i32.sub (local.get $b) (local.get $j0)) (i32.const 8))
              (then ${tile(1, 2)})
              (else ${tile(1, 1)}))))
          (br $jTiles)))
        (local.set $i0 (i32.add (local.get $i0) (select (i32.const 4) (i32.const 1) (local.get $h4))))
        (br $iTiles)))
      (local.set $r0 (i32.add (local.get $r0) (local.get $n)))
      (br $blocks))))
)`
}

/**
 * Assembles the kernel and links it to the wasm backend's memory. Resolves to a reason string
 * when it cannot (then {@link transposedProductApplies} stays false), undefined on success.
 */
export const loadTransposedProduct = async (backend: unknown): Promise<string | undefined> => {
  if (run !== undefined) return undefined
  const exports = await assembleOnHeap(backend, "TransposedProduct.wat", transposedProductWat)
  if (typeof exports === "string")
    return `the SIMD transposed-product kernel did not load: ${exports}`
  run = exports["transposedProduct"] as Run
  return undefined
}

/** Forgets the loaded kernel (tests: the blocked form again). */
export const unloadTransposedProduct = (): void => {
  run = undefined
}

const transposedProductWasm: KernelFunc = ({ inputs, backend }) => {
  const { x, y } = inputs as { x: TensorInfo; y: TensorInfo }
  const wasm = backend as unknown as WasmHeapBackend
  if (run === undefined) throw new Error(`${TransposedProduct}: the kernel is not loaded`)
  const [k, a] = x.shape as [number, number]
  const b = y.shape[1]!
  // The kernel writes whole f32x4 vectors: any other width would write past the output.
  if (b % 4 !== 0 || y.shape[0] !== k || x.dtype !== "float32" || y.dtype !== "float32")
    throw new Error(
      `${TransposedProduct}: expected float32 x [K, a] and y [K, b] with b a multiple of 4, got [${x.shape}] and [${y.shape}]`,
    )
  const out = wasm.makeOutput([a, b], "float32")
  // Offsets after the output exists: growing the heap moves nothing, and the kernel's memory is
  // the heap itself (it zeroes out, so K = 0 gives zeros).
  if (a * b > 0)
    run(heapIndex(wasm, x) * 4, heapIndex(wasm, y) * 4, heapIndex(wasm, out) * 4, k, a, b)
  return out
}

export const transposedProductWasmConfig: KernelConfig = {
  kernelName: TransposedProduct,
  backendName: "wasm",
  kernelFunc: transposedProductWasm,
}

/**
 * x^T y for float32 x [K, a] and y [K, b], K >= 1, through the kernel; requires
 * {@link transposedProductApplies}. Not differentiable (it computes gradients).
 */
export const transposedProduct = (x: Tensor, y: Tensor): Tensor =>
  y.shape[1]! % 4 === 0
    ? (engine().runKernel(TransposedProduct, { x, y }, {}) as Tensor)
    : tidy(() => transpose(engine().runKernel(TransposedProduct, { x: y, y: x }, {}) as Tensor))
