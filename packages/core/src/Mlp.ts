/**
 * Fully connected layers (the paper's "FCL"): the predictors ψ* of the base models and ψ_FDA of
 * the front-door estimator (eq. 13) are stacks of dense layers.
 *
 * @module
 */

import * as Random from "./Random.ts"
import type { Parameter, Tensor, TensorBackend } from "./Tensor.ts"

/** Activations between hidden layers. The output layer is always linear (a logit). */
export const activations = ["relu", "sigmoid", "tanh"] as const
/** Activation between hidden layers. The output layer is always linear (a logit). */
export type Activation = (typeof activations)[number]

/** A stack of dense layers: `sizes[0]` inputs, `sizes[last]` outputs. */
export interface Mlp {
  readonly sizes: ReadonlyArray<number>
  readonly hidden: Activation
  readonly weights: ReadonlyArray<Parameter>
  readonly biases: ReadonlyArray<Parameter>
}

/** Creates an MLP with Glorot-uniform weights and zero biases, named `<name>/dense<i>/{kernel,bias}`. */
export const make = (
  backend: TensorBackend,
  name: string,
  sizes: ReadonlyArray<number>,
  rng: Random.RandomGenerator,
  hidden: Activation = "relu",
): Mlp => {
  const weights: Array<Parameter> = []
  const biases: Array<Parameter> = []
  for (let l = 0; l + 1 < sizes.length; l++) {
    const fanIn = sizes[l]!
    const fanOut = sizes[l + 1]!
    weights.push(
      backend.parameter(`${name}/dense${l}/kernel`, Random.glorotUniform(rng, fanIn, fanOut), [
        fanIn,
        fanOut,
      ]),
    )
    biases.push(backend.parameter(`${name}/dense${l}/bias`, new Float32Array(fanOut), [fanOut]))
  }
  return { sizes, hidden, weights, biases }
}

/** The MLP's parameters, weights then biases layer by layer. */
export const parameters = (mlp: Mlp): Array<Parameter> =>
  mlp.weights.flatMap((w, l) => [w, mlp.biases[l]!])

/** The hidden activation function. */
export const activate = (backend: TensorBackend, activation: Activation, x: Tensor): Tensor =>
  activation === "relu"
    ? backend.relu(x)
    : activation === "sigmoid"
      ? backend.sigmoid(x)
      : backend.tanh(x)

/**
 * Applies the layers from `from` on to an input whose first layer's pre-activation is already
 * computed (`preActivation`, bias included). Used where the first layer is split by input blocks
 * (see {@link firstLayerBlocks}).
 */
export const continueFrom = (backend: TensorBackend, mlp: Mlp, preActivation: Tensor): Tensor => {
  let h = preActivation
  for (let l = 1; l < mlp.weights.length; l++) {
    h = activate(backend, mlp.hidden, h)
    h = backend.add(backend.matmul(h, mlp.weights[l]!.value), mlp.biases[l]!.value)
  }
  return h
}

/** [N, sizes[0]] -> [N, sizes[last]]: hidden activations between layers, a linear output. */
export const forward = (backend: TensorBackend, mlp: Mlp, x: Tensor): Tensor =>
  continueFrom(
    backend,
    mlp,
    backend.add(backend.matmul(x, mlp.weights[0]!.value), mlp.biases[0]!.value),
  )

/**
 * The first layer's kernel cut into row blocks of the given widths. Because the first layer is
 * linear, W [a; b; c] applied to a concatenation [x_a, x_b, x_c] equals W_a x_a + W_b x_b + W_c x_c,
 * so inputs that repeat across rows need not be concatenated and multiplied once per row.
 */
export const firstLayerBlocks = (
  backend: TensorBackend,
  mlp: Mlp,
  widths: ReadonlyArray<number>,
): Array<Tensor> => {
  const total = widths.reduce((a, b) => a + b, 0)
  if (total !== mlp.sizes[0])
    throw new Error(
      `block widths ${widths.join("+")} do not add up to the input size ${mlp.sizes[0]}`,
    )
  let row = 0
  return widths.map((w) => {
    const block = backend.slice(mlp.weights[0]!.value, [row, 0], [w, -1])
    row += w
    return block
  })
}
