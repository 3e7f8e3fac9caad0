/**
 * Dense stacks whose hidden activation may be {@link Dice}: core's `Mlp` (weights, naming,
 * Glorot initialisation) with DIN's activation added. The output layer is linear.
 *
 * @module
 */
import {
  Fused,
  Mlp,
  type Parameter,
  type Random,
  type Tensor,
  type TensorBackend,
} from "@causald/core"
import * as Dice from "./Dice.ts"

/** Hidden activation of a stack: core's, or Dice (Zhou et al. eq. 9). */
export const hiddenActivations = [...Mlp.activations, "dice"] as const
export type HiddenActivation = (typeof hiddenActivations)[number]

/** Training uses Dice's batch statistics and updates its running ones; inference uses the running ones. */
export type Mode = "train" | "infer"

/** A dense stack and, for Dice, one Dice per hidden layer (named `<name>/dice<l>/...`). */
export interface DenseStack {
  readonly mlp: Mlp.Mlp
  readonly hidden: HiddenActivation
  readonly dice: ReadonlyArray<Dice.Dice>
}

/** A stack of `sizes` (inputs first, outputs last) named `<name>/dense<l>/{kernel,bias}`. */
export const make = (
  backend: TensorBackend,
  name: string,
  sizes: ReadonlyArray<number>,
  rng: Random.RandomGenerator,
  hidden: HiddenActivation,
  diceOptions: Dice.DiceOptions = {},
): DenseStack => ({
  mlp: Mlp.make(backend, name, sizes, rng, hidden === "dice" ? "relu" : hidden),
  hidden,
  dice:
    hidden === "dice"
      ? sizes
          .slice(1, -1)
          .map((width, l) => Dice.make(backend, `${name}/dice${l}`, width, diceOptions))
      : [],
})

/** Trainable parameters: the MLP's weights and biases, then Dice's α. */
export const parameters = (stack: DenseStack): Array<Parameter> => [
  ...Mlp.parameters(stack.mlp),
  ...stack.dice.flatMap(Dice.parameters),
]

/** Dice's running statistics. */
export const buffers = (stack: DenseStack): Array<Parameter> => stack.dice.flatMap(Dice.buffers)

/** Hidden activation of layer `l` on x [N, width]; `rowWeights` [N] weight Dice's statistics. */
const activate = (
  b: TensorBackend,
  stack: DenseStack,
  l: number,
  x: Tensor,
  mode: Mode,
  rowWeights: Tensor | undefined,
): Tensor => {
  if (stack.hidden !== "dice") return Mlp.activate(b, stack.hidden, x)
  const dice = stack.dice[l]!
  return mode === "train" ? Dice.train(b, dice, x, rowWeights) : Dice.infer(b, dice, x)
}

/** Whether a layer's input is a pre-activation left in parts (core's `Fused`). */
const isParts = (pre: Tensor | Fused.PreActivation): pre is Fused.PreActivation => "bias" in pre

/** The pre-activation as one tensor (composed from its parts, in their order). */
const summed = (b: TensorBackend, pre: Tensor | Fused.PreActivation): Tensor =>
  isParts(pre) ? Fused.preActivation(b, pre) : pre

/**
 * Hidden activation of layer `l` on a pre-activation: a sigmoid of one left in parts is core's
 * fused bias-sigmoid (one pass, forward and backward, on a backend with the kernel; the same
 * composition otherwise), anything else is summed then activated.
 */
const activatePre = (
  b: TensorBackend,
  stack: DenseStack,
  l: number,
  pre: Tensor | Fused.PreActivation,
  mode: Mode,
  rowWeights: Tensor | undefined,
): Tensor =>
  stack.hidden === "sigmoid" && isParts(pre)
    ? Fused.biasSigmoid(b, pre)
    : activate(b, stack, l, summed(b, pre), mode, rowWeights)

/**
 * Applies the layers after the first to a first-layer pre-activation [N, sizes[1]] (bias
 * included), as one tensor or left in parts ({@link Fused.PreActivation}): what a caller that
 * computes the first layer itself (DIN's attention) uses. Each later layer's h·W + b is left in
 * parts for the next activation, so a sigmoid stack runs fused where the backend can.
 */
export const continueFrom = (
  b: TensorBackend,
  stack: DenseStack,
  preActivation: Tensor | Fused.PreActivation,
  mode: Mode,
  rowWeights?: Tensor,
): Tensor => {
  const { weights, biases } = stack.mlp
  let pre = preActivation
  for (let l = 1; l < weights.length; l++) {
    const h = activatePre(b, stack, l - 1, pre, mode, rowWeights)
    pre = { x: b.matmul(h, weights[l]!.value), bias: biases[l]!.value }
  }
  return summed(b, pre)
}

/** [N, sizes[0]] -> [N, sizes[last]]. */
export const forward = (
  b: TensorBackend,
  stack: DenseStack,
  x: Tensor,
  mode: Mode,
  rowWeights?: Tensor,
): Tensor =>
  continueFrom(
    b,
    stack,
    { x: b.matmul(x, stack.mlp.weights[0]!.value), bias: stack.mlp.biases[0]!.value },
    mode,
    rowWeights,
  )
