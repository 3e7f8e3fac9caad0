/**
 * ln sigmoid(x), differentiable on every backend: the op under BPR's -ln sigma(o_pos - o_neg).
 *
 * Why not `tf.logSigmoid`: in tfjs-core 4.22 it is a `customGrad` whose gradient closes over its
 * input without saving it, so when the input is an intermediate tensor (always, in a loss) the
 * forward scope has already freed it and backprop fails on every backend with
 * "undefined is not an object (evaluating 'info.backend')" (reading a disposed tensor).
 *
 * ln sigmoid(x) = -softplus(-x) is exact, and the stock `Softplus` kernels are stable for large
 * |x| (no overflow of e^x). Built from the `Neg` and `Softplus` kernels, the gradient is the
 * registered kernel gradients: d/dx = sigmoid(-x), with the inputs the engine saves itself.
 *
 * @module
 */
import { neg, softplus, type Tensor } from "@tensorflow/tfjs-core"

/** ln sigmoid(x) elementwise, = -softplus(-x); gradient sigmoid(-x). */
export const logSigmoid = <T extends Tensor>(x: T): T => neg(softplus(neg(x)))
