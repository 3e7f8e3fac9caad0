/**
 * `GatherWeightedSum`: out[b] = Σ_l w[b, l]·table[ids[b, l]] for table [V, d], ids int32 [B, L],
 * w [B, L], and its gradient, each as one pass of a WebAssembly SIMD kernel over the `wasm`
 * backend's heap (no copies, and no gathered [B, L, d] tensor).
 *
 * Why: it is DeepFM's mediator φ, the masked mean of the history's item embeddings (w = mask /
 * max(Σ mask, 1), `packages/models/src/DeepFm.ts`), which CausalD's K frozen teachers also compute
 * on every batch (eq. 9). Composed, the forward pass gathers [B, L, d] and multiplies
 * [B, 1, L] x [B, L, d] as B tiny products, which neither XNNPACK nor oneDNN does well; the
 * backward pass runs the product's two gradients, a transpose and the gather's scatter-add over
 * [B·L, d]. In a CausalD step over DeepFM the four teachers' encoders were 13-26 ms of CPU
 * (`bench/NOTES.md`, "Fused ψ_FDA over the partners"). Fused: one pass forward, one backward
 * giving dtable[ids[b, l]] += w[b, l]·dout[b] and dw[b, l] = table[ids[b, l]]·dout[b].
 *
 * Arithmetic: each output row adds its L terms in ascending l; the table's gradient adds the
 * (b, l) terms in ascending order; dw sums the d products in 4 lanes then across them: not the
 * batched product's orders, so the results differ from the composition by rounding.
 *
 * Assembled with `wabt` when the wasm backend starts ({@link loadGatherWeightedSum}); if that
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

/** The forward kernel (not a tfjs op: called through {@link gatherWeightedSum}). */
export const GatherWeightedSum = "CausalDGatherWeightedSum"
/** The backward kernel: the gradients of the table and of w. */
export const GatherWeightedSumGrad = "CausalDGatherWeightedSumGrad"

type Forward = (
  table: number,
  ids: number,
  w: number,
  out: number,
  b: number,
  l: number,
  d: number,
  v: number,
) => void
type Backward = (
  dout: number,
  table: number,
  ids: number,
  w: number,
  dtable: number,
  dw: number,
  b: number,
  l: number,
  d: number,
  v: number,
) => void

const loadOf = (lanes: 4 | 1) => (p: string) =>
  lanes === 4 ? `(v128.load (local.get ${p}))` : `(v128.load32_zero (local.get ${p}))`
const storeOf = (lanes: 4 | 1) => (p: string, v: string) =>
  lanes === 4 ? `(v128.store (local.get ${p}) ${v})` : `(v128.store32_lane 0 (local.get ${p}) ${v})`

/**
 * `$id` = ids[n] (trapping outside [0, V): a bad id must not read or write outside the table) and
 * `$ws` = w[n] in every lane.
 */
const idAndWeight = `(local.set $id (i32.load (i32.add (local.get $ids) (i32.shl (local.get $n) (i32.const 2)))))
          (if (i32.ge_u (local.get $id) (local.get $v)) (then unreachable))
          (local.set $ws (v128.load32_splat (i32.add (local.get $w) (i32.shl (local.get $n) (i32.const 2)))))`

/** The forward pass of row $bi over columns [j, end): the accumulator stays in a register. */
const forwardColumns = (lanes: 4 | 1): string => {
  const load = loadOf(lanes)
  const store = storeOf(lanes)
  return `(local.set $j ${lanes === 4 ? "(i32.const 0)" : "(local.get $d4)"})
      (block $cDone${lanes} (loop $cLoop${lanes}
        (br_if $cDone${lanes} (i32.ge_u (local.get $j) (local.get ${lanes === 4 ? "$d4" : "$d"})))
        (local.set $o (i32.shl (local.get $j) (i32.const 2)))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        (local.set $n (i32.mul (local.get $bi) (local.get $l)))
        (local.set $li (i32.const 0))
        (block $lDone${lanes} (loop $lLoop${lanes}
          (br_if $lDone${lanes} (i32.ge_u (local.get $li) (local.get $l)))
          ${idAndWeight}
          (local.set $pt (i32.add (i32.add (local.get $table) (i32.mul (local.get $id) (local.get $rowBytes))) (local.get $o)))
          (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul (local.get $ws) ${load("$pt")})))
          (local.set $n (i32.add (local.get $n) (i32.const 1)))
          (local.set $li (i32.add (local.get $li) (i32.const 1)))
          (br $lLoop${lanes})))
        (local.set $po (i32.add (i32.add (local.get $out) (i32.mul (local.get $bi) (local.get $rowBytes))) (local.get $o)))
        ${store("$po", "(local.get $acc)")}
        (local.set $j (i32.add (local.get $j) (i32.const ${lanes})))
        (br $cLoop${lanes})))`
}

/** The backward pass of (b, l) = $n over columns [j, end): dtable row += w·dout, dw lanes. */
const backwardColumns = (lanes: 4 | 1): string => {
  const load = loadOf(lanes)
  const store = storeOf(lanes)
  return `(local.set $j ${lanes === 4 ? "(i32.const 0)" : "(local.get $d4)"})
          (block $cDone${lanes} (loop $cLoop${lanes}
            (br_if $cDone${lanes} (i32.ge_u (local.get $j) (local.get ${lanes === 4 ? "$d4" : "$d"})))
            (local.set $o (i32.shl (local.get $j) (i32.const 2)))
            (local.set $pt (i32.add (local.get $rowT) (local.get $o)))
            (local.set $pd (i32.add (local.get $rowD) (local.get $o)))
            (local.set $po (i32.add (local.get $rowG) (local.get $o)))
            (local.set $g ${load("$po")})
            ${store("$pd", `(f32x4.add ${load("$pd")} (f32x4.mul (local.get $ws) (local.get $g)))`)}
            (local.set $acc (f32x4.add (local.get $acc) (f32x4.mul ${load("$pt")} (local.get $g))))
            (local.set $j (i32.add (local.get $j) (i32.const ${lanes})))
            (br $cLoop${lanes})))`
}

const locals = `(local $bi i32) (local $li i32) (local $j i32) (local $o i32) (local $n i32) (local $id i32)
    (local $d4 i32) (local $rowBytes i32) (local $pt i32) (local $pd i32) (local $po i32)
    (local $rowT i32) (local $rowD i32) (local $rowG i32)
    (local $ws v128) (local $acc v128) (local $g v128)`

const setup = `(local.set $d4 (i32.and (local.get $d) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $d) (i32.const 2)))`

/**
 * The module's text: `forward(table, ids, w, out, B, L, d, V)` and
 * `backward(dout, table, ids, w, dtable, dw, B, L, d, V)`, byte offsets into the imported memory.
 * out [B, d] and dw [B, L] are overwritten; dtable [V, d] is zeroed, then accumulated.
 */
export const gatherWeightedSumWat = (sharedMemory: boolean): string => `(module
  (import "env" "memory" (memory 1 ${sharedMemory ? "65536 shared" : ""}))
  (func (export "forward")
    (param $table i32) (param $ids i32) (param $w i32) (param $out i32)
    (param $b i32) (param $l i32) (param $d i32) (param $v i32)
    ${locals}
    ${setup}
    (local.set $bi (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $bi) (local.get $b)))
      ${forwardColumns(4)}
      ${forwardColumns(1)}
      (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
      (br $bLoop))))
  (func (export "backward")
    (param $dout i32) (param $table i32) (param $ids i32) (param $w i32) (param $dtable i32) (param $dw i32)
    (param $b i32) (param $l i32) (param $d i32) (param $v i32)
    ${locals}
    ${setup}
    (memory.fill (local.get $dtable) (i32.const 0) (i32.mul (local.get $v) (local.get $rowBytes)))
    (local.set $n (i32.const 0))
    (local.set $bi (i32.const 0))
    (block $bDone (loop $bLoop
      (br_if $bDone (i32.ge_u (local.get $bi) (local.get $b)))
      (local.set $rowG (i32.add (local.get $dout) (i32.mul (local.get $bi) (local.get $rowBytes))))
      (local.set $li (i32.const 0))
      (block $lDone (loop $lLoop
        (br_if $lDone (i32.ge_u (local.get $li) (local.get $l)))
        ${idAndWeight}
        (local.set $rowT (i32.add (local.get $table) (i32.mul (local.get $id) (local.get $rowBytes))))
        (local.set $rowD (i32.add (local.get $dtable) (i32.mul (local.get $id) (local.get $rowBytes))))
        (local.set $acc (v128.const f32x4 0 0 0 0))
        ${backwardColumns(4)}
        ${backwardColumns(1)}
        ;; dw[n] = the four lanes' sum
        (f32.store (i32.add (local.get $dw) (i32.shl (local.get $n) (i32.const 2)))
          (f32.add
            (f32.add (f32x4.extract_lane 0 (local.get $acc)) (f32x4.extract_lane 1 (local.get $acc)))
            (f32.add (f32x4.extract_lane 2 (local.get $acc)) (f32x4.extract_lane 3 (local.get $acc)))))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (local.set $li (i32.add (local.get $li) (i32.const 1)))
        (br $lLoop)))
      (local.set $bi (i32.add (local.get $bi) (i32.const 1)))
      (br $bLoop))))
)`

/** The kernels, assembled on the wasm heap by {@link loadGatherWeightedSum}. */
const kernels = fusedKernelPair<Forward, Backward>(
  GatherWeightedSum,
  gatherWeightedSumWat,
  "gather-weighted-sum",
)

/**
 * Assembles the kernels and links them to the wasm backend's memory. Resolves to a reason string
 * when it cannot (then {@link gatherWeightedSum} declines), undefined on success.
 */
export const loadGatherWeightedSum = kernels.load
/** Forgets the loaded kernels (tests: the composition again). */
export const unloadGatherWeightedSum = kernels.unload
/** Whether {@link loadGatherWeightedSum} succeeded in this process. */
export const gatherWeightedSumLoaded = kernels.isLoaded

interface Inputs {
  readonly table: TensorInfo
  readonly ids: TensorInfo
  readonly w: TensorInfo
}

/** B, L, d, V from the inputs' shapes (checked by {@link gatherWeightedSum}). */
const sizes = ({ table, ids }: Inputs): [number, number, number, number] => [
  ids.shape[0]!,
  ids.shape[1]!,
  table.shape[1]!,
  table.shape[0]!,
]

const forwardWasm: KernelFunc = ({ inputs, backend }) => {
  const x = inputs as unknown as Inputs
  const wasm = backend as unknown as WasmHeapBackend
  const [b, l, d, v] = sizes(x)
  const out = wasm.makeOutput([b, d], "float32")
  // Offsets after the output exists: growing the heap moves nothing, the kernel's memory is the heap.
  const at = (info: TensorInfo) => heapIndex(wasm, info) * 4
  kernels.get().forward(at(x.table), at(x.ids), at(x.w), at(out), b, l, d, v)
  return out
}

const backwardWasm: KernelFunc = ({ inputs, backend }) => {
  const x = inputs as unknown as Inputs & { readonly dout: TensorInfo }
  const wasm = backend as unknown as WasmHeapBackend
  const [b, l, d, v] = sizes(x)
  const dtable = wasm.makeOutput([...x.table.shape], "float32")
  const dw = wasm.makeOutput([...x.w.shape], "float32")
  const at = (info: TensorInfo) => heapIndex(wasm, info) * 4
  kernels
    .get()
    .backward(at(x.dout), at(x.table), at(x.ids), at(x.w), at(dtable), at(dw), b, l, d, v)
  return [dtable, dw]
}

export const gatherWeightedSumWasmConfig: KernelConfig = {
  kernelName: GatherWeightedSum,
  backendName: "wasm",
  kernelFunc: forwardWasm,
}
export const gatherWeightedSumGradWasmConfig: KernelConfig = {
  kernelName: GatherWeightedSumGrad,
  backendName: "wasm",
  kernelFunc: backwardWasm,
}

/** The gradient from the saved inputs: one backward kernel gives the table's and w's. */
export const gatherWeightedSumGradConfig: GradConfig = {
  kernelName: GatherWeightedSum,
  inputsToSave: ["table", "ids", "w"],
  gradFunc: (dout, saved) => {
    const [table, ids, w] = saved as [Tensor, Tensor, Tensor]
    const [dtable, dw] = engine().runKernel(
      GatherWeightedSumGrad,
      { dout: dout as Tensor, table, ids, w },
      {},
    ) as [Tensor, Tensor]
    return { table: () => dtable, w: () => dw }
  },
}

/**
 * out [B, d], out[b] = Σ_l w[b, l]·table[ids[b, l]], through the fused kernels, or undefined where
 * they do not apply (not loaded, switched off, tfjs's active backend not wasm, other shapes or
 * dtypes, an empty size): the caller then composes tfjs ops. table float32 [V, d], ids int32
 * [B, L] (values in [0, V)), w float32 [B, L]. Differentiable in table and w.
 */
export const gatherWeightedSum = (table: Tensor, ids: Tensor, w: Tensor): Tensor | undefined => {
  if (
    !kernels.isLoaded() ||
    !fusedKernelOptions.enabled ||
    fusedKernelOptions.attentionOnly ||
    getBackend() !== "wasm"
  )
    return undefined
  if (table.rank !== 2 || ids.rank !== 2 || w.rank !== 2) return undefined
  if (table.dtype !== "float32" || w.dtype !== "float32" || ids.dtype !== "int32") return undefined
  const [v, d] = table.shape as [number, number]
  const [b, l] = ids.shape as [number, number]
  if (v < 1 || d < 1 || b < 1 || l < 1) return undefined
  if (w.shape[0] !== b || w.shape[1] !== l) return undefined
  return engine().runKernel(GatherWeightedSum, { table, ids, w }, {}) as Tensor
}
