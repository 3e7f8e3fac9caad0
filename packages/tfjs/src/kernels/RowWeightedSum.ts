/**
 * `RowWeightedSum`: out[r] = Σ_{n: row(n) = r} w[n]·h[n] for h [N, d], w [N], and its gradient,
 * each as one pass of a WebAssembly SIMD kernel over the `wasm` backend's heap (no copies).
 *
 * Why: it is DIN's mediator, the attention-weighted sum pooling m = Σ_j w_j h_j (Zhou et al.,
 * eq. 3; this project's φ, `packages/models/src/din/Layouts.ts`). Composed, the packed layout
 * (the study's: valid history pairs only) multiplies w_j h_j, appends a zero row, gathers it to
 * [L, B, d] and sums over L; its gradient splits, scatters back and multiplies twice with a sum
 * over d for the weights: about nine kernels, each a pass over [N, d] or [L, B, d]. The padded
 * layout multiplies and sums ([L, B, d] ⊙ [L, B, 1]). Fused: one pass forward (accumulating the
 * rows of each output row), one backward: dh[n] = w[n]·dm[row(n)] and dw[n] = h[n]·dm[row(n)].
 *
 * Rows: `rows` [N] (int32, values in [0, R)) gives row(n) = rows[n] (packed pairs), else
 * row(n) = n mod R (time-major [L, B, d] flattened, R = B).
 *
 * Arithmetic: each output row adds its terms in ascending n (the composition's order, Σ over j);
 * w·h and w·dm are tfjs's products, bit-identical. dw[n] = Σ_k h[n, k]·dm[row, k] sums the
 * d products in 4 lanes then across them, not tfjs's order: it differs by rounding. A product
 * of padding: the packed layout has none; in the padded one a padded position's weight is 0.
 *
 * Assembled with `wabt` when the wasm backend starts ({@link loadRowWeightedSum}); if that
 * fails, or with `CAUSALD_FUSED=off` ({@link fusedKernelOptions}), callers compose tfjs ops.
 *
 * @module
 */
import {
  engine,
  type GradConfig,
  getBackend,
  type KernelConfig,
  type KernelFunc,
  type Tensor,
  type TensorInfo,
} from "@tensorflow/tfjs-core"
import { fusedKernelOptions } from "./BiasSigmoid.ts"
import { fusedKernelPair, heapIndex, type WasmHeapBackend } from "./Heap.ts"
import { columnLoop } from "./Wat.ts"

/** The forward kernel, row n mod R. */
export const RowWeightedSum = "CausalDRowWeightedSum"
/** The forward kernel with a `rows` input. */
export const RowWeightedSumRows = "CausalDRowWeightedSumRows"
/** The backward kernel: dh and dw. */
export const RowWeightedSumGrad = "CausalDRowWeightedSumGrad"

type Forward = (
  h: number,
  w: number,
  rows: number,
  out: number,
  n: number,
  d: number,
  r: number,
  hasRows: number,
) => void
type Backward = (
  dm: number,
  h: number,
  w: number,
  rows: number,
  dh: number,
  dw: number,
  n: number,
  d: number,
  r: number,
  hasRows: number,
) => void

/**
 * The row loop of both passes: `$row` = rows[i] (trapping outside [0, R)) or i mod R, `$ws` =
 * w[i] in every lane, `pointers` set, then `body`.
 */
const rowLoop = (pointers: string, body: string, after: string): string => `
    (local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))
    (block $rowsDone (loop $rowsLoop
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $n)))
      (if (local.get $hasRows)
        (then
          (local.set $row (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))))
          (if (i32.ge_u (local.get $row) (local.get $r)) (then unreachable)))
        (else (local.set $row (local.get $wrap))))
      (local.set $ws (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $i) (i32.const 2)))))
      ${pointers}
      (local.set $j (i32.const 0))
      ${body}
      ${after}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $wrap (i32.add (local.get $wrap) (i32.const 1)))
      (if (i32.eq (local.get $wrap) (local.get $r)) (then (local.set $wrap (i32.const 0))))
      (br $rowsLoop)))`

const locals = `(local $i i32) (local $j i32) (local $o i32) (local $d4 i32) (local $row i32) (local $wrap i32)
    (local $rowBytes i32) (local $ph i32) (local $pm i32) (local $pd i32) (local $ws v128) (local $acc v128)`

const rowPointer = (name: string, base: string, index: string): string =>
  `(local.set ${name} (i32.add (local.get ${base}) (i32.mul (local.get ${index}) (local.get $rowBytes))))`

/**
 * The module's text: `forward(h, w, rows, out, n, d, r, hasRows)` (out [r, d] zeroed, then
 * accumulated) and `backward(dm, h, w, rows, dh, dw, n, d, r, hasRows)`, byte offsets into the
 * imported memory.
 */
export const rowWeightedSumWat = (sharedMemory: boolean): string => `(module
  (import "env" "memory" (memory 1 ${sharedMemory ? "65536 shared" : ""}))
  (func (export "forward")
    (param $h i32) (param $w i32) (param $rows i32) (param $out i32)
    (param $n i32) (param $d i32) (param $r i32) (param $hasRows i32)
    ${locals}
    (memory.fill (local.get $out) (i32.const 0) (i32.mul (local.get $r) (i32.shl (local.get $d) (i32.const 2))))
    ${rowLoop(
      [rowPointer("$ph", "$h", "$i"), rowPointer("$pm", "$out", "$row")].join("\n      "),
      [4, 1]
        .map((lanes) =>
          columnLoop(lanes as 4 | 1, "$d", (load, store) =>
            store("$pm", `(f32x4.add ${load("$pm")} (f32x4.mul (local.get $ws) ${load("$ph")}))`),
          ),
        )
        .join("\n      "),
      "",
    )})
  (func (export "backward")
    (param $dm i32) (param $h i32) (param $w i32) (param $rows i32) (param $dh i32) (param $dw i32)
    (param $n i32) (param $d i32) (param $r i32) (param $hasRows i32)
    ${locals}
    ${rowLoop(
      [
        rowPointer("$ph", "$h", "$i"),
        rowPointer("$pd", "$dh", "$i"),
        rowPointer("$pm", "$dm", "$row"),
        "(local.set $acc (v128.const f32x4 0 0 0 0))",
      ].join("\n      "),
      [4, 1]
        .map((lanes) =>
          columnLoop(lanes as 4 | 1, "$d", (load, store) =>
            [
              store("$pd", `(f32x4.mul (local.get $ws) ${load("$pm")})`),
              `(local.set $acc (f32x4.add (local.get $acc) (f32x4.mul ${load("$ph")} ${load("$pm")})))`,
            ].join("\n        "),
          ),
        )
        .join("\n      "),
      // dw[i] = the four lanes' sum
      `(f32.store (i32.add (local.get $dw) (i32.shl (local.get $i) (i32.const 2)))
        (f32.add
          (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
          (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))`,
    )})
)`

/** The kernels, assembled on the wasm heap by {@link loadRowWeightedSum}. */
const kernels = fusedKernelPair<Forward, Backward>(
  RowWeightedSum,
  rowWeightedSumWat,
  "row-weighted-sum",
)

/**
 * Assembles the kernels and links them to the wasm backend's memory. Resolves to a reason string
 * when it cannot (then {@link rowWeightedSum} declines), undefined on success.
 */
export const loadRowWeightedSum = kernels.load
/** Forgets the loaded kernels (tests: the composition again). */
export const unloadRowWeightedSum = kernels.unload
/** Whether {@link loadRowWeightedSum} succeeded in this process. */
export const rowWeightedSumLoaded = kernels.isLoaded

const forwardWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { h, w, rows } = inputs as { h: TensorInfo; w: TensorInfo; rows?: TensorInfo }
  const { rowCount } = attrs as unknown as { rowCount: number }
  const wasm = backend as unknown as WasmHeapBackend
  const [n, d] = h.shape as [number, number]
  const out = wasm.makeOutput([rowCount, d], "float32")
  const at = (info: TensorInfo | undefined) => (info === undefined ? 0 : heapIndex(wasm, info) * 4)
  kernels.get().forward(at(h), at(w), at(rows), at(out), n, d, rowCount, rows === undefined ? 0 : 1)
  return out
}

const backwardWasm: KernelFunc = ({ inputs, backend }) => {
  const { dm, h, w, rows } = inputs as {
    dm: TensorInfo
    h: TensorInfo
    w: TensorInfo
    rows?: TensorInfo
  }
  const wasm = backend as unknown as WasmHeapBackend
  const [n, d] = h.shape as [number, number]
  const dh = wasm.makeOutput([n, d], "float32")
  const dw = wasm.makeOutput([...w.shape], "float32")
  const at = (info: TensorInfo | undefined) => (info === undefined ? 0 : heapIndex(wasm, info) * 4)
  const r = dm.shape[0]!
  kernels
    .get()
    .backward(at(dm), at(h), at(w), at(rows), at(dh), at(dw), n, d, r, rows === undefined ? 0 : 1)
  return [dh, dw]
}

export const rowWeightedSumWasmConfig: KernelConfig = {
  kernelName: RowWeightedSum,
  backendName: "wasm",
  kernelFunc: forwardWasm,
}
export const rowWeightedSumRowsWasmConfig: KernelConfig = {
  kernelName: RowWeightedSumRows,
  backendName: "wasm",
  kernelFunc: forwardWasm,
}
export const rowWeightedSumGradWasmConfig: KernelConfig = {
  kernelName: RowWeightedSumGrad,
  backendName: "wasm",
  kernelFunc: backwardWasm,
}

/** The gradient from the saved inputs: one backward kernel gives dh and dw. */
const gradFunc =
  (withRows: boolean): GradConfig["gradFunc"] =>
  (dm, saved) => {
    const [h, w, rows] = saved as [Tensor, Tensor, Tensor | undefined]
    const inputs = withRows ? { dm: dm as Tensor, h, w, rows: rows! } : { dm: dm as Tensor, h, w }
    const [dh, dw] = engine().runKernel(RowWeightedSumGrad, inputs, {}) as [Tensor, Tensor]
    return { h: () => dh, w: () => dw }
  }

export const rowWeightedSumGradConfig: GradConfig = {
  kernelName: RowWeightedSum,
  inputsToSave: ["h", "w"],
  gradFunc: gradFunc(false),
}
export const rowWeightedSumRowsGradConfig: GradConfig = {
  kernelName: RowWeightedSumRows,
  inputsToSave: ["h", "w", "rows"],
  gradFunc: gradFunc(true),
}

/**
 * out [R, d] with out[r] = Σ_{n: row(n) = r} w[n]·h[n] for float32 h [N, d] and w [N], through
 * the fused kernels, or undefined where they do not apply (not loaded, switched off, tfjs's
 * active backend not wasm, other shapes or dtypes): the caller then composes tfjs ops. With
 * `rows` (int32 [N], values in [0, R)) row(n) = rows[n], else n mod R (N a multiple of R).
 * Differentiable in h and w.
 */
export const rowWeightedSum = (
  h: Tensor,
  w: Tensor,
  rowCount: number,
  rows?: Tensor,
): Tensor | undefined => {
  if (!kernels.isLoaded() || !fusedKernelOptions.enabled || getBackend() !== "wasm")
    return undefined
  if (h.rank !== 2 || h.dtype !== "float32" || w.dtype !== "float32") return undefined
  const n = h.shape[0]!
  if (w.rank !== 1 || w.shape[0] !== n || !Number.isInteger(rowCount) || rowCount < 1)
    return undefined
  if (rows !== undefined) {
    if (rows.dtype !== "int32" || rows.rank !== 1 || rows.shape[0] !== n) return undefined
    return engine().runKernel(RowWeightedSumRows, { h, w, rows }, { rowCount }) as Tensor
  }
  if (n % rowCount !== 0) return undefined
  return engine().runKernel(RowWeightedSum, { h, w }, { rowCount }) as Tensor
}
