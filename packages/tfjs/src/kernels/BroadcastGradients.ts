/**
 * Gradients of `Maximum`, `Minimum` and `BatchMatMul` that handle broadcasting, replacing the
 * stock tfjs-core 4.22 ones on every backend.
 *
 * Why: the stock gradients return a tensor of the BROADCAST output's shape for each input, so any
 * broadcasting operand fails backprop with "Error in gradient for op Maximum. The gradient of
 * input 'b' has shape '4,3', which does not match the shape of the input '3'" (same for
 * `Minimum`, and for `BatchMatMul` when batch dimensions broadcast, e.g. `[b, t, d] x [d, h]`,
 * the shared weight of an attention MLP over a behaviour sequence). Gradients of a broadcast
 * operand must be summed over the axes it was stretched along, as `Add`'s stock gradient does.
 *
 * Tie rule (unchanged from tfjs and TensorFlow): at `a == b` the whole gradient goes to `a`.
 *
 * @module
 */
import {
  BatchMatMul,
  broadcast_util,
  cast,
  type GradConfig,
  greater,
  greaterEqual,
  less,
  lessEqual,
  Maximum,
  Minimum,
  mul,
  type NamedAttrMap,
  reshape,
  sum,
  type Tensor,
} from "@tensorflow/tfjs-core"
import { product } from "./MatMul.ts"

/** Sums `g` over the axes along which an operand of shape `shape` was broadcast to `g.shape`. */
export const reduceToShape = (g: Tensor, shape: ReadonlyArray<number>): Tensor => {
  const axes = broadcast_util.getReductionAxes([...shape], g.shape)
  const summed = axes.length > 0 ? sum(g, axes) : g
  return reshape(summed, [...shape])
}

const upstream = (dy: Tensor | Tensor[]): Tensor => (Array.isArray(dy) ? dy[0]! : dy)

/** Gradient of an elementwise selection: `dy` where `takesA(a, b)` to `a`, elsewhere to `b`. */
const selectionGrad = (
  kernelName: string,
  takesA: (a: Tensor, b: Tensor) => Tensor,
  takesB: (a: Tensor, b: Tensor) => Tensor,
): GradConfig => ({
  kernelName,
  inputsToSave: ["a", "b"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[]) => {
    const g = upstream(dy)
    const [a, b] = saved as [Tensor, Tensor]
    return {
      a: () => reduceToShape(mul(g, cast(takesA(a, b), g.dtype)), a.shape),
      b: () => reduceToShape(mul(g, cast(takesB(a, b), g.dtype)), b.shape),
    }
  },
})

export const maximumGradConfig: GradConfig = selectionGrad(Maximum, greaterEqual, less)

export const minimumGradConfig: GradConfig = selectionGrad(Minimum, lessEqual, greater)

/**
 * The stock products (one per transpose combination), then summed over broadcast batch axes.
 * For `C = A B`: dA = dC B^T, dB = A^T dC, each computed by {@link product} without transpose
 * flags (the flags are slow on wasm, see MatMul.ts).
 */
export const batchMatMulGradConfig: GradConfig = {
  kernelName: BatchMatMul,
  inputsToSave: ["a", "b"],
  gradFunc: (dy: Tensor | Tensor[], saved: Tensor[], attrs: NamedAttrMap) => {
    const g = upstream(dy)
    const [a, b] = saved as [Tensor, Tensor]
    const transposeA = attrs["transposeA"] === true
    const transposeB = attrs["transposeB"] === true
    const [derA, derB] = !transposeA
      ? !transposeB
        ? [() => product(g, false, b, true), () => product(a, true, g, false)]
        : [() => product(g, false, b, false), () => product(g, true, a, false)]
      : !transposeB
        ? [() => product(b, false, g, true), () => product(a, false, g, false)]
        : [() => product(b, true, g, true), () => product(g, true, a, true)]
    return {
      a: () => reduceToShape(derA(), a.shape),
      b: () => reduceToShape(derB(), b.shape),
    }
  },
}
