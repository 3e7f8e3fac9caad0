/**
 * `BiasSigmoid`: y = sigmoid((x + addend) + bias[row(n)]) for x [N, H], and its gradient, each as
 * one pass of a WebAssembly SIMD kernel over the `wasm` backend's heap (no copies), where tfjs
 * runs four to six element-wise kernels, each reading and writing all N·H values.
 *
 * Why: DIN's activation unit (Zhou et al., section 4.3; the core's {@link Fused} documents the
 * op) applies sigmoid to [L·B, 80] and [L·B, 40] pre-activations. Composed, the forward pass is
 * Add (the first layer's two products), Add (the per-row term t·(W_t − W_d) + b, or its gather
 * per history pair), Sigmoid; the backward pass is tfjs's sigmoid gradient dy·(y·(1 − y)) as
 * Sub, Multiply, Multiply, then a Sum (the bias) or an UnsortedSegmentSum (the per-row term)
 * over the N rows. In a profiled wasm+onednn DIN step at batch 4096 these were about 100 of
 * 210 ms (`bench/NOTES.md`, "Fused attention unit"): the products had gone native, these had not.
 * Fused, the forward pass reads x, addend and the small bias and writes y once; the backward
 * pass reads dy and y, writes dx and accumulates the bias gradient in the same pass.
 *
 * Rows of the bias: `rows` [N] (int32) picks bias row rows[n] (DIN's packed history pairs,
 * `gather(perRow, rowIds)` composed), else row n mod R (the time-major [L, B, H] layout, where
 * the per-row term [B, H] is broadcast over L; R = 1 for a plain bias [H]).
 *
 * Arithmetic: (x + addend) + bias is added in the composition's order, so the pre-activation is
 * bit-identical; sigmoid is computed here as e/(1 + e) or 1/(1 + e) with e = exp(−|v|) from a
 * degree-5 polynomial (2^k split, relative error about 1e-7), not by XNNPACK's kernel, so y differs
 * from tfjs's Sigmoid in the last bits. dx = dy·(y·(1 − y)) is tfjs's gradient in tfjs's order;
 * the bias gradient sums the rows in ascending order (tfjs's Sum and UnsortedSegmentSum may sum
 * in another), so it too differs by rounding. The test `BiasSigmoid` compares both paths.
 *
 * The WebAssembly text is generated below and assembled with `wabt` when the wasm backend starts
 * ({@link loadBiasSigmoid}); if that fails, a warning says why and the op composes tfjs kernels.
 * The switch {@link FUSED_ENV} (`CAUSALD_FUSED=off`) turns the fused kernels off.
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
import { fusedKernelPair, heapIndex, type WasmHeapBackend } from "./Heap.ts"
import { columnLoop } from "./Wat.ts"

/** The forward kernel's name, bias row n mod R (not a tfjs op: called through {@link biasSigmoid}). */
export const BiasSigmoid = "CausalDBiasSigmoid"
/** The forward kernel with a `rows` input: bias row rows[n]. */
export const BiasSigmoidRows = "CausalDBiasSigmoidRows"
/** The backward kernel: dx and the bias gradient. */
export const BiasSigmoidGrad = "CausalDBiasSigmoidGrad"

/** The environment variable that switches the fused kernels off (`off`); read once, here. */
export const FUSED_ENV = "CAUSALD_FUSED"

/**
 * Whether the fused kernels are used where they apply: `CAUSALD_FUSED=off` turns them off at
 * start; `CAUSALD_FUSED=attention` keeps only DIN's activation unit (`BiasSigmoid`,
 * `RowWeightedSum`), the kernel set of runs recorded as `+fused` before the causal label's and
 * DeepFM's kernels existed, so that such a study can be finished with its own arithmetic.
 * Benchmarks flip `enabled` to compare both paths in one process.
 */
export const fusedKernelOptions: { enabled: boolean; attentionOnly: boolean } = {
  enabled: process.env[FUSED_ENV] !== "off",
  attentionOnly: process.env[FUSED_ENV] === "attention",
}

type Forward = (
  x: number,
  addend: number,
  bias: number,
  rows: number,
  y: number,
  n: number,
  h: number,
  r: number,
  hasAddend: number,
  hasRows: number,
) => void
type Backward = (
  dy: number,
  y: number,
  rows: number,
  dx: number,
  dbias: number,
  n: number,
  h: number,
  r: number,
  hasRows: number,
) => void

const splat = (value: number): string => `(v128.const f32x4 ${value} ${value} ${value} ${value})`

/** 1.5·2^23 + 127: adding it rounds a float in (−2^22, 2^22) to an integer k in the low mantissa bits, biased by 127 (2^k's exponent field). */
const MAGIC_BIAS = 12_583_039

/**
 * e^t on [−ln2/2, ln2/2] as 1 + t·(c1 + t·(c2 + ... + t·c5)), highest degree first: XNNPACK's
 * degree-5 minimax coefficients (its `rr2_p5` exp kernels), relative error 9.2e-8 before
 * rounding. Cephes' degree-7 expf polynomial was as accurate here (test: within 1.2e-7 of the
 * float64 sigmoid) and 4 vector operations slower.
 */
const EXP_POLYNOMIAL = [
  // 0x1.0F9F9Cp-7, 0x1.573A1Ap-5, 0x1.555A80p-3, 0x1.FFFDC6p-2, 0x1.FFFFF6p-1 (exact float32s)
  0.008289290592074394, 0.04189782217144966, 0.16667652130126953, 0.4999915063381195,
  0.9999997019767761, 1,
]

/**
 * The kernels' constant vectors, set once per call into locals ({@link constantLocals}) rather
 * than written as `v128.const` in the loop (measured the same under Bun's JavaScriptCore, which
 * hoists them; kept so that the loop does not depend on that).
 */
const CONSTANTS: Record<string, number> = {
  zero: 0,
  one: 1,
  zMax: 87,
  minusLog2e: -Math.LOG2E,
  magic: MAGIC_BIAS,
  minusLn2Hi: -0.693359375,
  minusLn2Lo: 2.1219444e-4,
  ...Object.fromEntries(EXP_POLYNOMIAL.map((c, i) => [`p${i}`, c])),
}

const cst = (name: string): string => `(local.get $c_${name})`

const constantLocals = Object.keys(CONSTANTS)
  .map((name) => `(local $c_${name} v128)`)
  .join(" ")

const constantInit = Object.entries(CONSTANTS)
  .map(([name, value]) => `(local.set $c_${name} ${splat(value)})`)
  .join("\n    ")

/**
 * Sets `$y` to sigmoid(`$v`) lane-wise. e = exp(−z), z = min(|v|, 87) (e >= 2^−126 stays a normal
 * float): −z = k·ln2 + t with k = round(−z·log2 e), found by adding {@link MAGIC_BIAS} (whose
 * low bits, shifted into the exponent field, are 2^k: no float-to-int conversion), ln2 in two
 * parts (Cody and Waite), e^t by a degree-5 polynomial ({@link EXP_POLYNOMIAL}). Then y = 1/(1 + e) for v >= 0 and
 * e/(1 + e) for v < 0: no overflow for any v, NaN stays NaN (`pmin` keeps its first operand
 * when a comparison fails; it and `pmax` are one instruction each, unlike `min`).
 */
const sigmoidOfV = (): string =>
  [
    `(local.set $z (f32x4.pmin (f32x4.abs (local.get $v)) ${cst("zMax")}))`,
    `(local.set $k (f32x4.add (f32x4.mul (local.get $z) ${cst("minusLog2e")}) ${cst("magic")}))`,
    "(local.set $s (i32x4.shl (local.get $k) (i32.const 23)))",
    `(local.set $k (f32x4.sub (local.get $k) ${cst("magic")}))`,
    // t = −z − k·ln2, ln2 in two parts so that k·ln2_hi is exact
    `(local.set $t (f32x4.add (f32x4.sub (f32x4.mul (local.get $k) ${cst("minusLn2Hi")}) (local.get $z)) (f32x4.mul (local.get $k) ${cst("minusLn2Lo")})))`,
    `(local.set $p ${cst("p0")})`,
    ...EXP_POLYNOMIAL.slice(1).map(
      (_, i) =>
        `(local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $t)) ${cst(`p${i + 1}`)}))`,
    ),
    // e^−z = e^t · 2^k
    "(local.set $p (f32x4.mul (local.get $p) (local.get $s)))",
    `(local.set $y (f32x4.div (v128.bitselect (local.get $p) ${cst("one")} (f32x4.lt (local.get $v) ${cst("zero")})) (f32x4.add (local.get $p) ${cst("one")})))`,
  ].join("\n        ")

/**
 * The forward pass over columns [j, h) of row pointers $px, $pa, $pb, $py: 4 columns a step,
 * or 1 (the tail, `lanes` = 1) with single-lane loads and stores.
 */
const forwardColumns = (lanes: 4 | 1): string =>
  columnLoop(
    lanes,
    "$h",
    (load, store) => `(local.set $v ${load("$px")})
        (if (local.get $hasAddend) (then (local.set $v (f32x4.add (local.get $v) ${load("$pa")}))))
        (local.set $v (f32x4.add (local.get $v) ${load("$pb")}))
        ${sigmoidOfV()}
        ${store("$py", "(local.get $y)")}`,
  )

/** The backward pass over columns [j, h): dx = dy·(y·(1 − y)), dbias row += dx. */
const backwardColumns = (lanes: 4 | 1): string =>
  columnLoop(
    lanes,
    "$h",
    (load, store) => `(local.set $y ${load("$py")})
        (local.set $v (f32x4.mul ${load("$pd")} (f32x4.mul (local.get $y) (f32x4.sub ${cst("one")} (local.get $y)))))
        ${store("$px", "(local.get $v)")}
        ${store("$pb", `(f32x4.add ${load("$pb")} (local.get $v))`)}`,
  )

/**
 * The row loop shared by both passes: `$row` = rows[i] (trapping outside [0, R): a bad id must
 * not write outside the bias gradient) or i mod R, the row pointers set by `pointers`, then
 * `columns`.
 */
const rowLoop = (pointers: string, columns: string): string => `
    (local.set $h4 (i32.and (local.get $h) (i32.const -4)))
    (local.set $rowBytes (i32.shl (local.get $h) (i32.const 2)))
    (block $rowsDone (loop $rowsLoop
      (br_if $rowsDone (i32.ge_u (local.get $i) (local.get $n)))
      (if (local.get $hasRows)
        (then
          (local.set $row (i32.load (i32.add (local.get $rows) (i32.shl (local.get $i) (i32.const 2)))))
          (if (i32.ge_u (local.get $row) (local.get $r)) (then unreachable)))
        (else (local.set $row (local.get $wrap))))
      ${pointers}
      (local.set $j (i32.const 0))
      ${columns}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (local.set $wrap (i32.add (local.get $wrap) (i32.const 1)))
      (if (i32.eq (local.get $wrap) (local.get $r)) (then (local.set $wrap (i32.const 0))))
      (br $rowsLoop)))`

const locals = `(local $i i32) (local $j i32) (local $o i32) (local $h4 i32) (local $row i32) (local $wrap i32)
    (local $rowBytes i32) (local $px i32) (local $pa i32) (local $pb i32) (local $py i32) (local $pd i32)
    (local $v v128) (local $y v128) (local $z v128) (local $k v128) (local $s v128) (local $t v128)
    (local $p v128) ${constantLocals}`

/** `(local.set $<name> <base> + <index>·rowBytes)` */
const rowPointer = (name: string, base: string, index: string): string =>
  `(local.set ${name} (i32.add (local.get ${base}) (i32.mul (local.get ${index}) (local.get $rowBytes))))`

/**
 * The module's text: `forward(x, addend, bias, rows, y, n, h, r, hasAddend, hasRows)` and
 * `backward(dy, y, rows, dx, dbias, n, h, r, hasRows)`, byte offsets into the imported memory.
 * y [n, h] and dx [n, h] are overwritten, dbias [r, h] is zeroed then accumulated.
 */
export const biasSigmoidWat = (sharedMemory: boolean): string => `(module
  (import "env" "memory" (memory 1 ${sharedMemory ? "65536 shared" : ""}))
  (func (export "forward")
    (param $x i32) (param $addend i32) (param $bias i32) (param $rows i32) (param $out i32)
    (param $n i32) (param $h i32) (param $r i32) (param $hasAddend i32) (param $hasRows i32)
    ${locals}
    ${constantInit}
    ${rowLoop(
      [
        rowPointer("$px", "$x", "$i"),
        rowPointer("$pa", "$addend", "$i"),
        rowPointer("$py", "$out", "$i"),
        rowPointer("$pb", "$bias", "$row"),
      ].join("\n      "),
      `${forwardColumns(4)}
      ${forwardColumns(1)}`,
    )})
  (func (export "backward")
    (param $dy i32) (param $yIn i32) (param $rows i32) (param $dx i32) (param $dbias i32)
    (param $n i32) (param $h i32) (param $r i32) (param $hasRows i32)
    ${locals}
    ${constantInit}
    (memory.fill (local.get $dbias) (i32.const 0) (i32.mul (local.get $r) (i32.shl (local.get $h) (i32.const 2))))
    ${rowLoop(
      [
        rowPointer("$pd", "$dy", "$i"),
        rowPointer("$py", "$yIn", "$i"),
        rowPointer("$px", "$dx", "$i"),
        rowPointer("$pb", "$dbias", "$row"),
      ].join("\n      "),
      `${backwardColumns(4)}
      ${backwardColumns(1)}`,
    )})
)`

/** The kernels, assembled on the wasm heap by {@link loadBiasSigmoid}. */
const kernels = fusedKernelPair<Forward, Backward>(BiasSigmoid, biasSigmoidWat, "bias-sigmoid")

/**
 * Assembles the kernels and links them to the wasm backend's memory. Resolves to a reason string
 * when it cannot (then {@link biasSigmoid} declines), undefined on success.
 */
export const loadBiasSigmoid = kernels.load
/** Forgets the loaded kernels (tests: the composition again). */
export const unloadBiasSigmoid = kernels.unload
/** Whether {@link loadBiasSigmoid} succeeded in this process. */
export const biasSigmoidLoaded = kernels.isLoaded

/** Bias rows R of a bias [H] (1) or [R, H]. */
const biasRows = (bias: TensorInfo): number => (bias.shape.length === 1 ? 1 : bias.shape[0]!)

const forwardWasm: KernelFunc = ({ inputs, backend }) => {
  const { x, addend, bias, rows } = inputs as {
    x: TensorInfo
    addend?: TensorInfo
    bias: TensorInfo
    rows?: TensorInfo
  }
  const wasm = backend as unknown as WasmHeapBackend
  const [n, h] = x.shape as [number, number]
  const out = wasm.makeOutput([n, h], "float32")
  // Offsets after the output exists: growing the heap moves nothing, the kernel's memory is the heap.
  const at = (info: TensorInfo | undefined) => (info === undefined ? 0 : heapIndex(wasm, info) * 4)
  if (n * h > 0)
    kernels
      .get()
      .forward(
        at(x),
        at(addend),
        at(bias),
        at(rows),
        at(out),
        n,
        h,
        biasRows(bias),
        addend === undefined ? 0 : 1,
        rows === undefined ? 0 : 1,
      )
  return out
}

const backwardWasm: KernelFunc = ({ inputs, backend, attrs }) => {
  const { dy, y, rows } = inputs as { dy: TensorInfo; y: TensorInfo; rows?: TensorInfo }
  const { biasShape } = attrs as unknown as { biasShape: Array<number> }
  const wasm = backend as unknown as WasmHeapBackend
  const [n, h] = y.shape as [number, number]
  const dx = wasm.makeOutput([n, h], "float32")
  const dbias = wasm.makeOutput([...biasShape], "float32")
  const r = biasShape.length === 1 ? 1 : biasShape[0]!
  const at = (info: TensorInfo | undefined) => (info === undefined ? 0 : heapIndex(wasm, info) * 4)
  kernels
    .get()
    .backward(at(dy), at(y), at(rows), at(dx), at(dbias), n, h, r, rows === undefined ? 0 : 1)
  return [dx, dbias]
}

export const biasSigmoidWasmConfig: KernelConfig = {
  kernelName: BiasSigmoid,
  backendName: "wasm",
  kernelFunc: forwardWasm,
}
export const biasSigmoidRowsWasmConfig: KernelConfig = {
  kernelName: BiasSigmoidRows,
  backendName: "wasm",
  kernelFunc: forwardWasm,
}
export const biasSigmoidGradWasmConfig: KernelConfig = {
  kernelName: BiasSigmoidGrad,
  backendName: "wasm",
  kernelFunc: backwardWasm,
}

/**
 * The gradient from the saved output y (and rows): one backward kernel gives dx, which is the
 * gradient of x and of the addend, and the bias gradient. Run once, here, not per input: the
 * engine calls this inside its backward scope and each input's closure only hands a result out.
 */
const gradFunc =
  (withRows: boolean): GradConfig["gradFunc"] =>
  (dy, saved, attrs) => {
    const y = saved[withRows ? 1 : 0]!
    const { biasShape } = attrs as unknown as { biasShape: Array<number> }
    const inputs = withRows ? { dy: dy as Tensor, y, rows: saved[0]! } : { dy: dy as Tensor, y }
    const [dx, dbias] = engine().runKernel(BiasSigmoidGrad, inputs, { biasShape }) as [
      Tensor,
      Tensor,
    ]
    // The addend gets its own tensor (a clone shares the data): the engine disposes a gradient
    // when it adds another to it, which must not free the other input's.
    return { x: () => dx, addend: () => dx.clone(), bias: () => dbias }
  }

export const biasSigmoidGradConfig: GradConfig = {
  kernelName: BiasSigmoid,
  outputsToSave: [true],
  gradFunc: gradFunc(false),
}
export const biasSigmoidRowsGradConfig: GradConfig = {
  kernelName: BiasSigmoidRows,
  inputsToSave: ["rows"],
  outputsToSave: [true],
  gradFunc: gradFunc(true),
}

/** The op's optional parts (see {@link biasSigmoid}). */
export interface BiasSigmoidParts {
  readonly addend?: Tensor
  readonly rows?: Tensor
}

/**
 * sigmoid((x + addend) + bias[row(n)]) for float32 x [N, H] through the fused kernels, or
 * undefined where they do not apply (not loaded, switched off, tfjs's active backend not wasm,
 * shapes or dtypes other than the kernel's): the caller then composes tfjs ops. bias is [H]
 * or [R, H]; with `rows` (int32 [N], values in [0, R)) row n takes bias row rows[n], else
 * row n mod R (N must be a multiple of R). Differentiable in x, addend and bias.
 */
export const biasSigmoid = (
  x: Tensor,
  bias: Tensor,
  { addend, rows }: BiasSigmoidParts = {},
): Tensor | undefined => {
  if (!kernels.isLoaded() || !fusedKernelOptions.enabled || getBackend() !== "wasm")
    return undefined
  if (x.rank !== 2 || x.dtype !== "float32" || bias.dtype !== "float32") return undefined
  const [n, h] = x.shape as [number, number]
  const r = bias.rank === 1 ? 1 : bias.shape[0]!
  if ((bias.rank !== 1 && bias.rank !== 2) || bias.shape[bias.rank - 1] !== h || r < 1)
    return undefined
  if (
    addend !== undefined &&
    (addend.dtype !== "float32" ||
      addend.rank !== 2 ||
      addend.shape[0] !== n ||
      addend.shape[1] !== h)
  )
    return undefined
  const attrs = { biasShape: [...bias.shape] }
  if (rows !== undefined) {
    if (rows.dtype !== "int32" || rows.rank !== 1 || rows.shape[0] !== n) return undefined
    const inputs = addend === undefined ? { x, bias, rows } : { x, addend, bias, rows }
    return engine().runKernel(BiasSigmoidRows, inputs, attrs) as Tensor
  }
  if (n % r !== 0) return undefined
  const inputs = addend === undefined ? { x, bias } : { x, addend, bias }
  return engine().runKernel(BiasSigmoid, inputs, attrs) as Tensor
}
