/**
 * `BroadcastReluDot`: out[k, b, s] = Σ_j relu(rows[k, b, j] + partners[ids[b, s], j])·w[j] + bias
 * for rows [K, B, h], partners [P, h], ids int32 [B, S], w [h] (or [h, 1]) and a bias of one
 * value, and its gradient, each as one pass of a WebAssembly SIMD kernel over the `wasm`
 * backend's heap (no copies, and no [K, B, S, h] tensor at all).
 *
 * Why: it is ψ_FDA of CausalD's causal label (eq. 13, `packages/core/src/CausalLabel.ts`,
 * `interventionalClick`) over the K·B·S partner rows of eq. (14), with one hidden ReLU layer
 * (the paper's light network, default [16]) and its first layer split into a per-row block
 * (teacher mediator and item, bias included: `rows`) and a per-partner block (`partners`, one
 * row per batch row, picked by the partner ids). Composed, the forward pass gathers the partner
 * block to [B, S, h], adds it to the per-row block with broadcasting to [K, B, S, h] (4.2 M
 * values at B 4096, S 16, K 4, h 16), applies ReLU, multiplies by w and adds the bias; the
 * backward pass runs the product's two gradients, ReLU's, the broadcast add's two reductions and
 * the gather's scatter-add: about a dozen passes over [K, B, S, h]. That was most of what a
 * CausalD step over DeepFM costs beyond the base step (`bench/NOTES.md`, "The CausalD step over
 * DeepFM"). Fused, the forward pass reads the two blocks and writes [K, B, S]; the backward pass
 * recomputes the pre-activation and accumulates the gradients of rows, partners, w and the bias
 * in the same pass.
 *
 * Arithmetic: the pre-activation rows + partners is one float add (bit-identical to the
 * composition's broadcast add), ReLU keeps v where v > 0, else 0 (a NaN becomes 0, unlike
 * tfjs's Relu). The product Σ_j relu·w sums h products in 4 lanes then across them, not in the
 * matrix product's order; the bias is added last. The gradients: d = dout·w[j] where the
 * pre-activation is > 0 (tfjs's Relu gradient); rows' gradient sums over s in ascending order;
 * partners' adds, for each (b, s) in ascending order, the sum over k; w's adds, for each b, the
 * sum over (s, k) (4 lanes at once); the bias's is Σ dout in memory order: not tfjs's orders, so
 * the gradients differ from the composition's by rounding.
 *
 * Assembled with `wabt` when the wasm backend starts ({@link loadBroadcastReluDot}); if that
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
import { type ColumnLoad, type ColumnStore, columnLoop } from "./Wat.ts"

/** The forward kernel (not a tfjs op: called through {@link broadcastReluDot}). */
export const BroadcastReluDot = "CausalDBroadcastReluDot"
/** The backward kernel: the gradients of rows, partners, w and the bias. */
export const BroadcastReluDotGrad = "CausalDBroadcastReluDotGrad"

type Forward = (
  rows: number,
  partners: number,
  ids: number,
  w: number,
  bias: number,
  out: number,
  k: number,
  b: number,
  s: number,
  h: number,
  p: number,
) => void
type Backward = (
  dout: number,
  rows: number,
  partners: number,
  ids: number,
  w: number,
  drows: number,
  dpartners: number,
  dw: number,
  dbias: number,
  k: number,
  b: number,
  s: number,
  h: number,
  p: number,
) => void

/** A column loop from the start: `$j` from 0 (4 lanes) or where the 4-lane loop stopped (1). */
const columns = (lanes: 4 | 1, body: (load: ColumnLoad, store: ColumnStore) => string): string =>
  `(local.set $j ${lanes === 4 ? "(i32.const 0)" : "(local.get $h4)"})
        ${columnLoop(lanes, "$h", body)}`

/** Both column loops: 4 lanes, then the tail from where they stopped. */
const allColumns = (body: (load: ColumnLoad, store: ColumnStore) => string): string =>
  `${columns(4, body)}
        ${columns(1, body)}`

/**
 * The loops of both passes: for each batch row b and partner s (n = b·S + s), the partner row
 * ids[n] (trapping outside [0, P): a bad id must not read or write outside the partner block),
 * then for each k the per-row block's row (k, b), with `$at` = k·B·S + n, the output's index.
 */
const loops = (perPartner: string, perRow: string): string => `
    (local.set $h4 (i32.and (local.get $h) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $h) (i32.const 2)))
    (local.set $kStride (i32.mul (local.get $b) (local.get $rowBytes)))
    (local.set $bs (i32.mul (local.get $b) (local.get $s)))
    (local.set $n (i32.const 0))
    (local.set $bi (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $bi) (local.get $b)))
      (local.set $si (i32.const 0))
      (block $sDone (loop $sLoop
        (br_if $sDone (i32.ge_u (local.get $si) (local.get $s)))
        (local.set $pid (i32.load (i32.add (local.get $ids) (i32.shl (local.get $n) (i32.const 2)))))
        (if (i32.ge_u (local.get $pid) (local.get $p)) (then unreachable))
        (local.set $pp (i32.add (local.get $partners) (i32.mul (local.get $pid) (local.get $rowBytes))))
        ${perPartner}
        (local.set $pr (i32.add (local.get $rows) (i32.mul (local.get $bi) (local.get $rowBytes))))
        (local.set $at (local.get $n))
        (local.set $ki (i32.const 0))
        (block $kDone (loop $kLoop
          (br_if $kDone (i32.ge_u (local.get $ki) (local.get $k)))
          ${perRow}
          (local.set $pr (i32.add (local.get $pr) (local.get $kStride)))
          (local.set $at (i32.add (local.get $at) (local.get $bs)))
          (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
          (br $kLoop)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $si (i32.add (local.get $si) (i32.const 1)))
        (br $sLoop)))
      (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
      (br $bLoop)))`

const locals = `(local $bi i32) (local $si i32) (local $ki i32) (local $j i32) (local $o i32) (local $n i32)
    (local $at i32) (local $h4 i32) (local $rowBytes i32) (local $kStride i32) (local $bs i32) (local $pid i32)
    (local $pp i32) (local $pr i32) (local $pdp i32) (local $pdr i32)
    (local $v v128) (local $acc v128) (local $g v128) (local $d v128) (local $zero v128) (local $sum f32)
    (local $wv v128) (local $ppv v128) (local $dpAcc v128) (local $dwAcc v128)`

/** The four lanes' sum, (l0 + l1) + (l2 + l3). */
const laneSum = (v: string): string =>
  `(f32.add
          (f32.add (f32x4.extract_lane 0 ${v}) (f32x4.extract_lane 1 ${v}))
          (f32.add (f32x4.extract_lane 2 ${v}) (f32x4.extract_lane 3 ${v})))`

/**
 * The backward pass of batch row $bi over columns [j, end), 4 a step or 1 (the tail): w's
 * columns, and the gradient accumulators of w (over s and k) and of the partner row (over k), stay
 * in registers; the per-row block's gradient (K rows, hot in the cache) accumulates in memory.
 */
const backwardColumns = (lanes: 4 | 1): string => {
  const load = (p: string) =>
    lanes === 4 ? `(v128.load (local.get ${p}))` : `(v128.load32_zero (local.get ${p}))`
  const store = (p: string, v: string) =>
    lanes === 4
      ? `(v128.store (local.get ${p}) ${v})`
      : `(v128.store32_lane 0 (local.get ${p}) ${v})`
  const at = (name: string, base: string, row: string) =>
    `(local.set ${name} (i32.add (i32.add (local.get ${base}) (i32.mul (local.get ${row}) (local.get $rowBytes))) (local.get $o)))`
  return `(local.set $j ${lanes === 4 ? "(i32.const 0)" : "(local.get $h4)"})
      (block $cDone${lanes} (loop $cLoop${lanes}
        (br_if $cDone${lanes} (i32.ge_u (local.get $j) (local.get ${lanes === 4 ? "$h4" : "$h"})))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        (local.set $pp (i32.add (local.get $w) (local.get $o)))
        (local.set $wv ${load("$pp")})
        (local.set $dwAcc (local.get $zero))
        (local.set $n (i32.mul (local.get $bi) (local.get $s)))
        (local.set $si (i32.const 0))
        (block $sDone${lanes} (loop $sLoop${lanes}
          (br_if $sDone${lanes} (i32.ge_u (local.get $si) (local.get $s)))
          (local.set $pid (i32.load (i32.add (local.get $ids) (i32.shl (local.get $n) (i32.const 2)))))
          (if (i32.ge_u (local.get $pid) (local.get $p)) (then unreachable))
          ${at("$pp", "$partners", "$pid")}
          (local.set $ppv ${load("$pp")})
          (local.set $dpAcc (local.get $zero))
          ${at("$pr", "$rows", "$bi")}
          ${at("$pdr", "$drows", "$bi")}
          (local.set $at (local.get $n))
          (local.set $ki (i32.const 0))
          (block $kDone${lanes} (loop $kLoop${lanes}
            (br_if $kDone${lanes} (i32.ge_u (local.get $ki) (local.get $k)))
            (local.set $v (f32x4.add ${load("$pr")} (local.get $ppv)))
            (local.set $g (v128.load32_splat (i32.add (local.get $dout) (i32.shl (local.get $at) (i32.const 2)))))
            ;; d = dout·w where v > 0, else 0 (ReLU's gradient)
            (local.set $d (v128.and (f32x4.mul (local.get $g) (local.get $wv)) (f32x4.gt (local.get $v) (local.get $zero))))
            ${store("$pdr", `(f32x4.add ${load("$pdr")} (local.get $d))`)}
            (local.set $dpAcc (f32x4.add (local.get $dpAcc) (local.get $d)))
            (local.set $dwAcc (f32x4.add (local.get $dwAcc) (f32x4.mul (f32x4.pmax (local.get $zero) (local.get $v)) (local.get $g))))
            (local.set $pr (i32.add (local.get $pr) (local.get $kStride)))
            (local.set $pdr (i32.add (local.get $pdr) (local.get $kStride)))
            (local.set $at (i32.add (local.get $at) (local.get $bs)))
            (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
            (br $kLoop${lanes})))
          ${at("$pdp", "$dpartners", "$pid")}
          ${store("$pdp", `(f32x4.add ${load("$pdp")} (local.get $dpAcc))`)}
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (local.set $si (i32.add (local.get $si) (i32.const 1)))
          (br $sLoop${lanes})))
        (local.set $pp (i32.add (local.get $dw) (local.get $o)))
        ${store("$pp", `(f32x4.add ${load("$pp")} (local.get $dwAcc))`)}
        (local.set $j (i32.add (local.get $j) (i32.const ${lanes})))
        (br $cLoop${lanes})))`
}

/**
 * The module's text: `forward(rows, partners, ids, w, bias, out, K, B, S, h, P)` and
 * `backward(dout, rows, partners, ids, w, drows, dpartners, dw, dbias, K, B, S, h, P)`, byte
 * offsets into the imported memory. out [K, B, S] is overwritten; the gradients are zeroed, then
 * accumulated.
 */
export const broadcastReluDotWat = (sharedMemory: boolean): string => `(module
  (import "env" "memory" (memory 1 ${sharedMemory ? "65536 shared" : ""}))
  (func (export "forward")
    (param $rows i32) (param $partners i32) (param $ids i32) (param $w i32) (param $bias i32) (param $out i32)
    (param $k i32) (param $b i32) (param $s i32) (param $h i32) (param $p i32)
    ${locals}
    (local.set $zero (v128.const f32x4 0 0 0 0))
    ${loops(
      "",
      `(local.set $acc (local.get $zero))
          ${allColumns(
            (load) =>
              `(local.set $acc (f32x4.add (local.get $acc)
            (f32x4.mul (f32x4.pmax (local.get $zero) (f32x4.add ${load("$pr")} ${load("$pp")})) ${load("$w")})))`,
          )}
          (f32.store (i32.add (local.get $out) (i32.shl (local.get $at) (i32.const 2)))
            (f32.add ${laneSum("(local.get $acc)")} (f32.load (local.get $bias))))`,
    )})
  (func (export "backward")
    (param $dout i32) (param $rows i32) (param $partners i32) (param $ids i32) (param $w i32)
    (param $drows i32) (param $dpartners i32) (param $dw i32) (param $dbias i32)
    (param $k i32) (param $b i32) (param $s i32) (param $h i32) (param $p i32)
    ${locals}
    (local.set $zero (v128.const f32x4 0 0 0 0))
    (memory.fill (local.get $drows) (i32.const 0)
      (i32.mul (i32.mul (local.get $k) (local.get $b)) (i32.shl (local.get $h) (i32.const 2))))
    (memory.fill (local.get $dpartners) (i32.const 0) (i32.mul (local.get $p) (i32.shl (local.get $h) (i32.const 2))))
    (memory.fill (local.get $dw) (i32.const 0) (i32.shl (local.get $h) (i32.const 2)))
    (local.set $h4 (i32.and (local.get $h) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $h) (i32.const 2)))
    (local.set $kStride (i32.mul (local.get $b) (local.get $rowBytes)))
    (local.set $bs (i32.mul (local.get $b) (local.get $s)))
    (local.set $bi (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $bi) (local.get $b)))
      ${backwardColumns(4)}
      ${backwardColumns(1)}
      (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
      (br $bLoop)))
    ;; the bias's gradient: Σ dout in ascending order
    (local.set $sum (f32.const 0))
    (local.set $n (i32.const 0))
    (local.set $at (i32.mul (local.get $k) (local.get $bs)))
    (block $sumDone (loop $sumLoop
      (br_if $sumDone (i32.ge_u (local.get $n) (local.get $at)))
      (local.set $sum (f32.add (local.get $sum) (f32.load (i32.add (local.get $dout) (i32.shl (local.get $n) (i32.const 2))))))
      (local.set $n (i32.add (local.get $n) (i32.const 1)))
      (br $sumLoop)))
    (f32.store (local.get $dbias) (local.get $sum)))
)`

/** The kernels, assembled on the wasm heap by {@link loadBroadcastReluDot}. */
const kernels = fusedKernelPair<Forward, Backward>(
  BroadcastReluDot,
  broadcastReluDotWat,
  "broadcast-ReLU-product",
)

/**
 * Assembles the kernels and links them to the wasm backend's memory. Resolves to a reason string
 * when it cannot (then {@link broadcastReluDot} declines), undefined on success.
 */
export const loadBroadcastReluDot = kernels.load
/** Forgets the loaded kernels (tests: the composition again). */
export const unloadBroadcastReluDot = kernels.unload
/** Whether {@link loadBroadcastReluDot} succeeded in this process. */
export const broadcastReluDotLoaded = kernels.isLoaded

interface Inputs {
  readonly rows: TensorInfo
  readonly partners: TensorInfo
  readonly ids: TensorInfo
  readonly w: TensorInfo
  readonly bias: TensorInfo
}

/** K, B, S, h, P from the inputs' shapes (checked by {@link broadcastReluDot}). */
const sizes = ({ rows, partners, ids }: Inputs): [number, number, number, number, number] => [
  rows.shape[0]!,
  rows.shape[1]!,
  ids.shape[1]!,
  rows.shape[2]!,
  partners.shape[0]!,
]

const forwardWasm: KernelFunc = ({ inputs, backend }) => {
  const x = inputs as unknown as Inputs
  const wasm = backend as unknown as WasmHeapBackend
  const [k, b, s, h, p] = sizes(x)
  const out = wasm.makeOutput([k, b, s], "float32")
  // Offsets after the output exists: growing the heap moves nothing, the kernel's memory is the heap.
  const at = (info: TensorInfo) => heapIndex(wasm, info) * 4
  kernels
    .get()
    .forward(at(x.rows), at(x.partners), at(x.ids), at(x.w), at(x.bias), at(out), k, b, s, h, p)
  return out
}

const backwardWasm: KernelFunc = ({ inputs, backend }) => {
  const x = inputs as unknown as Inputs & { readonly dout: TensorInfo }
  const wasm = backend as unknown as WasmHeapBackend
  const [k, b, s, h, p] = sizes(x)
  const drows = wasm.makeOutput([...x.rows.shape], "float32")
  const dpartners = wasm.makeOutput([...x.partners.shape], "float32")
  const dw = wasm.makeOutput([...x.w.shape], "float32")
  const dbias = wasm.makeOutput([...x.bias.shape], "float32")
  const at = (info: TensorInfo) => heapIndex(wasm, info) * 4
  kernels
    .get()
    .backward(
      at(x.dout),
      at(x.rows),
      at(x.partners),
      at(x.ids),
      at(x.w),
      at(drows),
      at(dpartners),
      at(dw),
      at(dbias),
      k,
      b,
      s,
      h,
      p,
    )
  return [drows, dpartners, dw, dbias]
}

export const broadcastReluDotWasmConfig: KernelConfig = {
  kernelName: BroadcastReluDot,
  backendName: "wasm",
  kernelFunc: forwardWasm,
}
export const broadcastReluDotGradWasmConfig: KernelConfig = {
  kernelName: BroadcastReluDotGrad,
  backendName: "wasm",
  kernelFunc: backwardWasm,
}

/**
 * The gradient from the saved inputs: one backward kernel gives all four float gradients (the
 * pre-activation is recomputed, not saved). The ids get none (int32, not differentiable).
 */
export const broadcastReluDotGradConfig: GradConfig = {
  kernelName: BroadcastReluDot,
  inputsToSave: ["rows", "partners", "ids", "w", "bias"],
  gradFunc: (dout, saved) => {
    const [rows, partners, ids, w, bias] = saved as [Tensor, Tensor, Tensor, Tensor, Tensor]
    const [drows, dpartners, dw, dbias] = engine().runKernel(
      BroadcastReluDotGrad,
      { dout: dout as Tensor, rows, partners, ids, w, bias },
      {},
    ) as [Tensor, Tensor, Tensor, Tensor]
    return { rows: () => drows, partners: () => dpartners, w: () => dw, bias: () => dbias }
  },
}

/**
 * out [K, B, S], out[k, b, s] = Σ_j relu(rows[k, b, j] + partners[ids[b, s], j])·w[j] + bias,
 * through the fused kernels, or undefined where they do not apply (not loaded, switched off,
 * tfjs's active backend not wasm, other shapes or dtypes, an empty size): the caller then
 * composes tfjs ops. rows float32 [K, B, h], partners [P, h], ids int32 [B, S] (values in
 * [0, P)), w [h] or [h, 1], bias one value ([1] or a scalar). Differentiable in rows, partners,
 * w and bias.
 */
export const broadcastReluDot = (
  rows: Tensor,
  partners: Tensor,
  ids: Tensor,
  w: Tensor,
  bias: Tensor,
): Tensor | undefined => {
  if (
    !kernels.isLoaded() ||
    !fusedKernelOptions.enabled ||
    fusedKernelOptions.attentionOnly ||
    getBackend() !== "wasm"
  )
    return undefined
  if (rows.rank !== 3 || partners.rank !== 2 || ids.rank !== 2) return undefined
  if (
    rows.dtype !== "float32" ||
    partners.dtype !== "float32" ||
    w.dtype !== "float32" ||
    bias.dtype !== "float32" ||
    ids.dtype !== "int32"
  )
    return undefined
  const [k, b, h] = rows.shape as [number, number, number]
  const [p, s] = [partners.shape[0]!, ids.shape[1]!]
  if (k < 1 || b < 1 || h < 1 || p < 1 || s < 1) return undefined
  if (partners.shape[1] !== h || ids.shape[0] !== b || bias.size !== 1) return undefined
  const column = w.rank === 1 || (w.rank === 2 && w.shape[1] === 1)
  if (!column || w.shape[0] !== h) return undefined
  return engine().runKernel(BroadcastReluDot, { rows, partners, ids, w, bias }, {}) as Tensor
}
