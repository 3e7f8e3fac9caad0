/**
 * The abstract tensor interface: the smallest differentiable tensor algebra that the base
 * recommenders (DIN, DeepFM), CausalD's front-door estimator (eq. 9-14), its feature
 * distillation losses (eq. 17-20) and the recommendation losses need.
 *
 * It is the contract every backend implements (the TensorFlow.js adapter in `@causald/tfjs` is
 * one); nothing in `@causald/core` imports a tensor library. A backend is provided to Effect
 * programs as the {@link Tensors} service; the numeric inner loops (a training step, a scoring
 * pass) call its methods as plain synchronous functions, so the service costs nothing per op.
 *
 * Semantics, shared by every backend and checked by the conformance suite
 * (`@causald/core/testing`):
 * - Tensors are immutable values of a {@link DType} and a row-major {@link Shape}.
 * - Binary elementwise ops broadcast like NumPy (trailing axes aligned, size-1 axes stretched).
 * - Negative axes count from the end. Reductions without `axes` reduce over every axis.
 * - Every tensor an op returns is owned by the innermost open scope ({@link TensorBackend.tidy},
 *   {@link TensorBackend.beginScope}, {@link tensorScope}) and freed when it closes, unless it is
 *   returned from the scope or {@link TensorBackend.keep | kept}. Parameters and optimiser slots
 *   are never freed by a scope; {@link TensorBackend.dispose} and {@link Optimizer.dispose} free them.
 *
 * @module
 */
import { Context, Effect, Exit } from "effect"

/** Element types. `bool` is what comparisons return and what {@link TensorBackend.where} takes. */
export type DType = "float32" | "int32" | "bool"

/** Sizes of the axes, outermost first (row-major). `[]` is a scalar. */
export type Shape = ReadonlyArray<number>

/**
 * A handle to an immutable n-dimensional array that lives in a backend. Only its shape and dtype
 * are visible; its values are read with {@link TensorBackend.read}.
 */
export interface Tensor {
  readonly shape: Shape
  readonly dtype: DType
}

/**
 * A trainable tensor with a stable name (its key in checkpoints). Ops take `param.value`. The
 * value changes only through {@link TensorBackend.assign} and {@link Optimizer.apply}; the
 * parameter object itself stays the same, so models hold on to it.
 */
export interface Parameter {
  readonly name: string
  readonly value: Tensor
}

/** Values of a tensor read back into host memory. */
export type HostArray = Float32Array | Int32Array | Uint8Array

/** One named array of a checkpoint: what {@link TensorBackend.snapshot} reads from parameters. */
export interface NamedArray {
  readonly name: string
  readonly shape: Shape
  readonly dtype: "float32" | "int32"
  readonly data: Float32Array | Int32Array
}

/**
 * Optimisers. The paper trains every model with Adagrad at learning rate 0.01 (section 5.1).
 * `initialAccumulator` follows TensorFlow's default (0.1).
 */
export type OptimizerSpec =
  | {
      readonly _tag: "Adagrad"
      readonly learningRate: number
      readonly initialAccumulator?: number
    }
  | {
      readonly _tag: "Adam"
      readonly learningRate: number
      readonly beta1?: number
      readonly beta2?: number
      readonly epsilon?: number
    }
  | { readonly _tag: "Sgd"; readonly learningRate: number }

/**
 * An optimiser bound to the parameters it was first applied to. Its slots (Adagrad's
 * accumulators, Adam's moments and step count) are part of a checkpoint so that a resumed run
 * continues exactly where it stopped.
 */
export interface Optimizer {
  readonly spec: OptimizerSpec
  /** One update of `params` with `grads` (same order, same shapes). Disposes nothing it is given. */
  readonly apply: (params: ReadonlyArray<Parameter>, grads: ReadonlyArray<Tensor>) => void
  /** The optimiser's slots, named after the parameters they belong to. */
  readonly state: () => ReadonlyArray<NamedArray>
  /** Restores slots written by {@link Optimizer.state}. */
  readonly load: (state: ReadonlyArray<NamedArray>) => void
  /** Frees the slots. */
  readonly dispose: () => void
}

/** The value of a scalar loss and its gradients with respect to the chosen parameters. */
export interface ValueAndGrads {
  readonly value: Tensor
  /** One gradient per requested parameter, in the same order; zeros where the loss does not depend on it. */
  readonly grads: ReadonlyArray<Tensor>
}

/** Options of {@link TensorBackend.matmul}. */
export interface MatmulOptions {
  readonly transposeA?: boolean
  readonly transposeB?: boolean
}

/**
 * The operations a backend provides. All are synchronous and pure (they return new tensors)
 * except the explicitly stateful memory, parameter and optimiser operations.
 */
export interface TensorBackend {
  /** Which backend runs, recorded in every output of the project (e.g. "cpu", "wasm", "tensorflow"). */
  readonly name: string

  // --- creation and reading -------------------------------------------------------------------
  /** A tensor from host values; `dtype` defaults to float32 for Float32Array/number[], int32 for Int32Array. */
  readonly tensor: (
    values: Float32Array | Int32Array | ReadonlyArray<number>,
    shape: Shape,
    dtype?: "float32" | "int32",
  ) => Tensor
  readonly scalar: (value: number, dtype?: "float32" | "int32") => Tensor
  readonly zeros: (shape: Shape, dtype?: "float32" | "int32") => Tensor
  readonly ones: (shape: Shape, dtype?: "float32" | "int32") => Tensor
  /** The values, row-major (a fresh copy the caller owns). bool reads as Uint8Array of 0/1. */
  readonly read: (x: Tensor) => HostArray
  /** Whether a value is a live tensor of this backend. */
  readonly isTensor: (value: unknown) => value is Tensor

  // --- elementwise ------------------------------------------------------------------------------
  readonly add: (a: Tensor, b: Tensor) => Tensor
  readonly sub: (a: Tensor, b: Tensor) => Tensor
  readonly mul: (a: Tensor, b: Tensor) => Tensor
  readonly div: (a: Tensor, b: Tensor) => Tensor
  readonly maximum: (a: Tensor, b: Tensor) => Tensor
  readonly minimum: (a: Tensor, b: Tensor) => Tensor
  readonly neg: (x: Tensor) => Tensor
  readonly exp: (x: Tensor) => Tensor
  /** Natural logarithm. */
  readonly log: (x: Tensor) => Tensor
  readonly sqrt: (x: Tensor) => Tensor
  readonly square: (x: Tensor) => Tensor
  readonly abs: (x: Tensor) => Tensor
  readonly sigmoid: (x: Tensor) => Tensor
  readonly relu: (x: Tensor) => Tensor
  readonly tanh: (x: Tensor) => Tensor
  /** ln(1 + e^x), computed stably for large |x|. */
  readonly softplus: (x: Tensor) => Tensor
  /** ln sigmoid(x) = -softplus(-x), computed stably: BPR's -ln sigma(o_pos - o_neg). */
  readonly logSigmoid: (x: Tensor) => Tensor

  // --- comparison and masks -----------------------------------------------------------------
  readonly greater: (a: Tensor, b: Tensor) => Tensor
  readonly greaterEqual: (a: Tensor, b: Tensor) => Tensor
  readonly less: (a: Tensor, b: Tensor) => Tensor
  readonly lessEqual: (a: Tensor, b: Tensor) => Tensor
  readonly equal: (a: Tensor, b: Tensor) => Tensor
  /** Elementwise `condition ? a : b` with broadcasting; `condition` is bool. Gradients flow to the chosen side. */
  readonly where: (condition: Tensor, a: Tensor, b: Tensor) => Tensor
  readonly cast: (x: Tensor, dtype: DType) => Tensor

  // --- reductions and normalisation ---------------------------------------------------------
  readonly sum: (x: Tensor, axes?: number | ReadonlyArray<number>, keepDims?: boolean) => Tensor
  readonly mean: (x: Tensor, axes?: number | ReadonlyArray<number>, keepDims?: boolean) => Tensor
  readonly max: (x: Tensor, axes?: number | ReadonlyArray<number>, keepDims?: boolean) => Tensor
  /** Softmax along `axis` (default -1): the attention weights of eq. (10). */
  readonly softmax: (x: Tensor, axis?: number) => Tensor
  readonly logSoftmax: (x: Tensor, axis?: number) => Tensor

  // --- shape --------------------------------------------------------------------------------
  /** One dimension may be -1 (inferred). */
  readonly reshape: (x: Tensor, shape: Shape) => Tensor
  readonly expandDims: (x: Tensor, axis: number) => Tensor
  readonly broadcastTo: (x: Tensor, shape: Shape) => Tensor
  readonly tile: (x: Tensor, reps: ReadonlyArray<number>) => Tensor
  readonly concat: (xs: ReadonlyArray<Tensor>, axis: number) => Tensor
  /** `size[i] = -1` takes everything from `begin[i]` to the end of axis i. */
  readonly slice: (x: Tensor, begin: ReadonlyArray<number>, size: ReadonlyArray<number>) => Tensor
  /** Permutes axes; without `perm`, reverses them. */
  readonly transpose: (x: Tensor, perm?: ReadonlyArray<number>) => Tensor

  // --- lookups and products -------------------------------------------------------------------
  /**
   * Rows of `table` ([rows, ...]) at int32 `ids` (any shape): output shape ids.shape ++ table.shape[1..].
   * The embedding lookup; its gradient is a scatter-add into the table's rows.
   */
  readonly gather: (table: Tensor, ids: Tensor) => Tensor
  /** [m, k] x [k, n] -> [m, n], or batched [b, m, k] x [b, k, n] -> [b, m, n]. */
  readonly matmul: (a: Tensor, b: Tensor, options?: MatmulOptions) => Tensor

  // --- fused operations (optional) -----------------------------------------------------------
  /**
   * sigmoid((x + addend) + bias[row]) as one fused kernel, when the backend has one for these
   * inputs, else undefined: {@link Fused.biasSigmoid} (`Fused.ts`) defines the operation, composes
   * it where this is absent or declines, and is what models call. Must equal the composition up
   * to float rounding, values and gradients.
   */
  readonly biasSigmoid?: (
    x: Tensor,
    bias: Tensor,
    parts: { readonly addend?: Tensor; readonly rows?: Tensor },
  ) => Tensor | undefined
  /**
   * out [R, d] with out[r] = Σ_{n: row(n) = r} w[n]·h[n] for h [N, d], w [N]: row(n) = rows[n]
   * (int32 [N]) or n mod R, as one fused kernel, else undefined ({@link Fused.rowWeightedSum}).
   */
  readonly rowWeightedSum?: (
    h: Tensor,
    w: Tensor,
    rowCount: number,
    rows: Tensor | undefined,
  ) => Tensor | undefined
  /**
   * out [K, B, S], out[k, b, s] = Σ_j relu(rows[k, b, j] + partners[ids[b, s], j])·w[j] + bias
   * (ψ_FDA's hidden layer and output over the partners, eq. 13) as one fused kernel, else
   * undefined ({@link Fused.broadcastReluDot}).
   */
  readonly broadcastReluDot?: (
    rows: Tensor,
    partners: Tensor,
    ids: Tensor,
    w: Tensor,
    bias: Tensor,
  ) => Tensor | undefined
  /**
   * out [B, d], out[b] = Σ_l w[b, l]·table[ids[b, l]] (DeepFM's masked mean of the history, φ) as
   * one fused kernel, else undefined ({@link Fused.gatherWeightedSum}).
   */
  readonly gatherWeightedSum?: (table: Tensor, ids: Tensor, w: Tensor) => Tensor | undefined

  // --- differentiation ----------------------------------------------------------------------
  /** The same values, with no gradient flowing back through it. */
  readonly stopGradient: (x: Tensor) => Tensor
  /**
   * Evaluates the scalar `loss` and its gradient with respect to exactly `params`. Parameters not
   * listed receive no update, which is how a loss is routed to a chosen parameter set (eq. 16).
   */
  readonly valueAndGrads: (loss: () => Tensor, params: ReadonlyArray<Parameter>) => ValueAndGrads

  // --- parameters and optimisers --------------------------------------------------------------
  /** A new trainable parameter holding a copy of `initial` (row-major values of `shape`). */
  readonly parameter: (name: string, initial: Float32Array, shape: Shape) => Parameter
  /** Overwrites a parameter's value (same shape). */
  readonly assign: (param: Parameter, value: Tensor) => void
  readonly optimizer: (spec: OptimizerSpec) => Optimizer
  /** Reads parameters into host arrays, keyed by their names. */
  readonly snapshot: (params: ReadonlyArray<Parameter>) => ReadonlyArray<NamedArray>

  // --- memory -------------------------------------------------------------------------------
  /** Runs `f` in a scope: every tensor it creates is freed at the end, except those in its result. */
  readonly tidy: <A>(f: () => A) => A
  /** Opens a scope explicitly (what {@link tensorScope} uses); scopes nest and close in LIFO order. */
  readonly beginScope: () => void
  /** Closes the innermost scope, freeing its tensors except `keep`. */
  readonly endScope: (keep?: ReadonlyArray<Tensor>) => void
  /** Exempts a tensor from every enclosing scope; it then lives until {@link TensorBackend.dispose}. */
  readonly keep: <T extends Tensor>(x: T) => T
  /** Frees tensors or parameters now. Freeing twice is harmless. */
  readonly dispose: (xs: Tensor | Parameter | ReadonlyArray<Tensor | Parameter>) => void
  /** How many tensors (parameters included) are alive: a leak shows as growth between epochs. */
  readonly liveTensors: () => number
}

/** The tensor backend as an Effect service. Adapters provide it as a `Layer`. */
export class Tensors extends Context.Service<Tensors, TensorBackend>()("@causald/core/Tensors") {}

/**
 * Every tensor inside a value made of tensors, arrays and plain records: what a scope keeps of
 * its result. It does not descend into typed arrays or class instances.
 */
export const tensorsIn = (
  isTensor: (value: unknown) => value is Tensor,
  value: unknown,
): Array<Tensor> => {
  const found: Array<Tensor> = []
  const visit = (v: unknown): void => {
    if (isTensor(v)) found.push(v)
    else if (Array.isArray(v)) for (const item of v) visit(item)
    else if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype)
      for (const item of Object.values(v)) visit(item)
  }
  visit(value)
  return found
}

/**
 * Runs an Effect program inside a tensor scope: every tensor created while it runs is freed
 * when it ends (on success, failure or interruption), except the tensors in its result.
 * Scopes are a stack, so programs that create tensors must not run concurrently on one backend.
 */
export const tensorScope = <A, E, R>(
  program: Effect.Effect<A, E, R>,
): Effect.Effect<A, E, R | Tensors> =>
  Tensors.use((backend) =>
    Effect.acquireUseRelease(
      Effect.sync(() => backend.beginScope()),
      () => program,
      (_, exit) =>
        Effect.sync(() =>
          backend.endScope(Exit.isSuccess(exit) ? tensorsIn(backend.isTensor, exit.value) : []),
        ),
    ),
  )
