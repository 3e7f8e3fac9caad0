/**
 * The {@link TensorBackend} contract implemented on TensorFlow.js (`@tensorflow/tfjs-core`).
 *
 * Core tensors are tfjs tensors, handed out without a wrapper (the interface only exposes
 * `shape` and `dtype`), so an op costs exactly the tfjs op. Parameters wrap a `tf.Variable`.
 * Optimisers are written here on tfjs ops rather than taken from `tf.train`, because tfjs's
 * optimisers address variables by their global names, while core parameters are named by the
 * model (the K teachers of CausalD all have a parameter called "din/item-embedding").
 *
 * @module
 */
import type {
  NamedArray,
  Optimizer,
  OptimizerSpec,
  Parameter,
  Tensor,
  TensorBackend,
} from "@causald/core"
import { tensorsIn } from "@causald/core"
import * as tf from "@tensorflow/tfjs-core"
import { biasSigmoid } from "./kernels/BiasSigmoid.ts"
import { broadcastReluDot } from "./kernels/BroadcastReluDot.ts"
import { gatherWeightedSum } from "./kernels/GatherWeightedSum.ts"
import { logSigmoid } from "./kernels/LogSigmoid.ts"
import { product } from "./kernels/MatMul.ts"
import { rowWeightedSum } from "./kernels/RowWeightedSum.ts"

/** A core parameter on tfjs: the variable and the name the model gave it. */
class TfjsParameter implements Parameter {
  constructor(
    readonly name: string,
    readonly variable: tf.Variable,
  ) {}
  get value(): Tensor {
    return c(this.variable)
  }
}

const t = (x: Tensor): tf.Tensor => x as unknown as tf.Tensor
/** tfjs tensors are core tensors: only float32, int32 and bool ever reach the interface. */
const c = (x: tf.Tensor): Tensor => x as unknown as Tensor
const ts = (xs: ReadonlyArray<Tensor>): Array<tf.Tensor> => xs as unknown as Array<tf.Tensor>
const variableOf = (p: Parameter): tf.Variable => (p as TfjsParameter).variable
const axesOf = (
  axes: number | ReadonlyArray<number> | undefined,
): number | Array<number> | undefined =>
  axes === undefined || typeof axes === "number" ? axes : [...axes]

let parameterCount = 0

/** Whether `axis` (default -1) is the last axis of x, where tfjs's softmax kernels work. */
const lastAxis = (x: Tensor, axis: number | undefined): boolean =>
  axis === undefined || axis === -1 || axis === x.shape.length - 1

const isTfjsTensor = (value: unknown): value is Tensor =>
  value instanceof tf.Tensor && !value.isDisposed

/** Optimiser slots: one tensor list per parameter, kept alive outside any scope. */
const makeOptimizer = (spec: OptimizerSpec): Optimizer => {
  // slots[name] = tensors of that parameter's slot (Adagrad: [accumulator]; Adam: [m, v]).
  const slots = new Map<string, Array<tf.Variable>>()
  let step = 0
  const slotNames =
    spec._tag === "Adagrad" ? ["accumulator"] : spec._tag === "Adam" ? ["m", "v"] : []

  const slotsOf = (p: Parameter): Array<tf.Variable> => {
    let s = slots.get(p.name)
    if (s === undefined) {
      const v = variableOf(p)
      const initial = spec._tag === "Adagrad" ? (spec.initialAccumulator ?? 0.1) : 0
      s = slotNames.map(() => tf.variable(tf.fill(v.shape, initial), false))
      slots.set(p.name, s)
    }
    return s
  }

  const apply = (params: ReadonlyArray<Parameter>, grads: ReadonlyArray<Tensor>): void => {
    step += 1
    tf.tidy(() => {
      params.forEach((p, i) => {
        const v = variableOf(p)
        const g = t(grads[i]!)
        const lr = spec.learningRate
        if (spec._tag === "Sgd") {
          v.assign(tf.sub(v, tf.mul(g, lr)))
        } else if (spec._tag === "Adagrad") {
          // TensorFlow's Adagrad: acc += g^2; w -= lr * g / sqrt(acc).
          const [acc] = slotsOf(p) as [tf.Variable]
          acc.assign(tf.add(acc, tf.square(g)))
          v.assign(tf.sub(v, tf.div(tf.mul(g, lr), tf.sqrt(tf.add(acc, 1e-10)))))
        } else {
          const b1 = spec.beta1 ?? 0.9
          const b2 = spec.beta2 ?? 0.999
          const eps = spec.epsilon ?? 1e-8
          const [m, s] = slotsOf(p) as [tf.Variable, tf.Variable]
          m.assign(tf.add(tf.mul(m, b1), tf.mul(g, 1 - b1)))
          s.assign(tf.add(tf.mul(s, b2), tf.mul(tf.square(g), 1 - b2)))
          const mHat = tf.div(m, 1 - b1 ** step)
          const sHat = tf.div(s, 1 - b2 ** step)
          v.assign(tf.sub(v, tf.div(tf.mul(mHat, lr), tf.add(tf.sqrt(sHat), eps))))
        }
      })
    })
  }

  const state = (): ReadonlyArray<NamedArray> => {
    const out: Array<NamedArray> = [
      { name: "step", shape: [1], dtype: "int32", data: Int32Array.of(step) },
    ]
    for (const [name, s] of slots)
      s.forEach((slot, i) => {
        out.push({
          name: `${name}/${slotNames[i]}`,
          shape: slot.shape,
          dtype: "float32",
          data: slot.dataSync().slice() as Float32Array,
        })
      })
    return out
  }

  const load = (state: ReadonlyArray<NamedArray>): void => {
    dispose()
    for (const entry of state) {
      if (entry.name === "step") {
        step = entry.data[0] ?? 0
        continue
      }
      const cut = entry.name.lastIndexOf("/")
      const param = entry.name.slice(0, cut)
      const index = slotNames.indexOf(entry.name.slice(cut + 1))
      if (index < 0) continue
      const s = slots.get(param) ?? new Array<tf.Variable>(slotNames.length)
      s[index] = tf.variable(tf.tensor(entry.data, [...entry.shape], "float32"), false)
      slots.set(param, s)
    }
  }

  const dispose = (): void => {
    for (const s of slots.values()) for (const slot of s) slot?.dispose()
    slots.clear()
  }

  return { spec, apply, state, load, dispose }
}

/**
 * The tensor interface over the currently active tfjs backend `tfjsName`; `name` is what outputs
 * record (e.g. `wasm+onednn` when wasm's products run on oneDNN).
 */
export const makeTfjsBackend = (tfjsName: string, name: string = tfjsName): TensorBackend => ({
  name,

  tensor: (values, shape, dtype) =>
    c(
      tf.tensor(
        // The cpu backend keeps a reference to a typed array it is given: copy, so the caller may
        // reuse it. The wasm backend copies into its heap at once: a copy would be garbage.
        values instanceof Float32Array || values instanceof Int32Array
          ? tfjsName === "wasm"
            ? values
            : values.slice()
          : [...values],
        [...shape],
        dtype ?? (values instanceof Int32Array ? "int32" : "float32"),
      ),
    ),
  scalar: (value, dtype) => c(tf.scalar(value, dtype ?? "float32")),
  zeros: (shape, dtype) => c(tf.zeros([...shape], dtype ?? "float32")),
  ones: (shape, dtype) => c(tf.ones([...shape], dtype ?? "float32")),
  // A fresh copy of the declared dtype: tfjs's cpu Cast may keep the source's storage type.
  read: (x) => {
    const values = t(x).dataSync()
    return x.dtype === "float32"
      ? Float32Array.from(values)
      : x.dtype === "int32"
        ? Int32Array.from(values)
        : Uint8Array.from(values)
  },
  isTensor: isTfjsTensor,

  add: (a, b) => c(tf.add(t(a), t(b))),
  sub: (a, b) => c(tf.sub(t(a), t(b))),
  mul: (a, b) => c(tf.mul(t(a), t(b))),
  div: (a, b) => c(tf.div(t(a), t(b))),
  maximum: (a, b) => c(tf.maximum(t(a), t(b))),
  minimum: (a, b) => c(tf.minimum(t(a), t(b))),
  neg: (x) => c(tf.neg(t(x))),
  exp: (x) => c(tf.exp(t(x))),
  log: (x) => c(tf.log(t(x))),
  sqrt: (x) => c(tf.sqrt(t(x))),
  square: (x) => c(tf.square(t(x))),
  abs: (x) => c(tf.abs(t(x))),
  sigmoid: (x) => c(tf.sigmoid(t(x))),
  relu: (x) => c(tf.relu(t(x))),
  tanh: (x) => c(tf.tanh(t(x))),
  softplus: (x) => c(tf.softplus(t(x))),
  logSigmoid: (x) => c(logSigmoid(t(x))),
  // The wasm kernel, where loaded, switched on and the shapes fit; otherwise undefined and
  // core's Fused composes tfjs ops.
  biasSigmoid: (x, bias, parts) => {
    const y = biasSigmoid(t(x), t(bias), {
      ...(parts.addend === undefined ? {} : { addend: t(parts.addend) }),
      ...(parts.rows === undefined ? {} : { rows: t(parts.rows) }),
    })
    return y === undefined ? undefined : c(y)
  },
  rowWeightedSum: (h, w, rowCount, rows) => {
    const out = rowWeightedSum(t(h), t(w), rowCount, rows === undefined ? undefined : t(rows))
    return out === undefined ? undefined : c(out)
  },
  gatherWeightedSum: (table, ids, w) => {
    const out = gatherWeightedSum(t(table), t(ids), t(w))
    return out === undefined ? undefined : c(out)
  },
  broadcastReluDot: (rows, partners, ids, w, bias) => {
    const out = broadcastReluDot(t(rows), t(partners), t(ids), t(w), t(bias))
    return out === undefined ? undefined : c(out)
  },

  greater: (a, b) => c(tf.greater(t(a), t(b))),
  greaterEqual: (a, b) => c(tf.greaterEqual(t(a), t(b))),
  less: (a, b) => c(tf.less(t(a), t(b))),
  lessEqual: (a, b) => c(tf.lessEqual(t(a), t(b))),
  equal: (a, b) => c(tf.equal(t(a), t(b))),
  where: (condition, a, b) => c(tf.where(t(condition), t(a), t(b))),
  // tfjs's wasm Cast to bool copies values instead of testing them against zero.
  cast: (x, dtype) =>
    c(
      dtype === "bool" && x.dtype !== "bool"
        ? tf.notEqual(t(x), tf.scalar(0, x.dtype))
        : tf.cast(t(x), dtype),
    ),

  sum: (x, axes, keepDims) => c(tf.sum(t(x), axesOf(axes), keepDims ?? false)),
  mean: (x, axes, keepDims) => c(tf.mean(t(x), axesOf(axes), keepDims ?? false)),
  max: (x, axes, keepDims) => c(tf.max(t(x), axesOf(axes), keepDims ?? false)),
  softmax: (x, axis) =>
    c(
      lastAxis(x, axis)
        ? tf.softmax(t(x), -1)
        : tf.exp(tf.sub(t(x), tf.logSumExp(t(x), axis, true))),
    ),
  logSoftmax: (x, axis) =>
    c(lastAxis(x, axis) ? tf.logSoftmax(t(x), -1) : tf.sub(t(x), tf.logSumExp(t(x), axis, true))),

  reshape: (x, shape) => c(tf.reshape(t(x), [...shape])),
  expandDims: (x, axis) => c(tf.expandDims(t(x), axis)),
  broadcastTo: (x, shape) => c(tf.broadcastTo(t(x), [...shape])),
  tile: (x, reps) => c(tf.tile(t(x), [...reps])),
  concat: (xs, axis) => c(tf.concat(ts(xs), axis)),
  slice: (x, begin, size) => c(tf.slice(t(x), [...begin], [...size])),
  transpose: (x, perm) => c(tf.transpose(t(x), perm === undefined ? undefined : [...perm])),

  gather: (table, ids) => c(tf.gather(t(table), t(ids), 0)),
  // Transposes are made explicit: flagged products are slow on wasm (kernels/MatMul.ts).
  matmul: (a, b, options) =>
    c(product(t(a), options?.transposeA ?? false, t(b), options?.transposeB ?? false)),

  // A new tensor over the same data, made outside the gradient tape: no copy, no gradient. The
  // engine does not count the new reference itself (its kernels do that before wrapping).
  stopGradient: (x) => {
    const engine = tf.engine()
    const out = engine.makeTensorFromDataId(t(x).dataId, t(x).shape, t(x).dtype)
    engine.backend.incRef(t(x).dataId)
    return c(out)
  },

  valueAndGrads: (loss, params) => {
    const variables = params.map(variableOf)
    const { value, grads } = tf
      .engine()
      .gradients(() => t(loss()) as tf.Scalar, variables, undefined, true)
    return { value: c(value), grads: grads.map((g, i) => c(g ?? tf.zerosLike(variables[i]!))) }
  },

  parameter: (paramName, initial, shape) => {
    parameterCount += 1
    // tfjs registers variables under globally unique names; the model's name lives on the wrapper.
    const variable = tf.tidy(() =>
      tf.variable(
        tf.tensor(initial.slice(), [...shape], "float32"),
        true,
        `p${parameterCount}:${paramName}`,
      ),
    )
    return new TfjsParameter(paramName, variable)
  },
  assign: (param, value) => variableOf(param).assign(t(value)),
  optimizer: makeOptimizer,
  snapshot: (params) =>
    params.map((p) => {
      const v = variableOf(p)
      return {
        name: p.name,
        shape: v.shape,
        dtype: "float32" as const,
        data: (v.dataSync() as Float32Array).slice(),
      }
    }),

  tidy: <A>(f: () => A): A => {
    const engine = tf.engine()
    engine.startScope()
    try {
      const result = f()
      engine.endScope(tensorsIn(isTfjsTensor, result) as never)
      return result
    } catch (error) {
      engine.endScope(null as never)
      throw error
    }
  },
  beginScope: () => tf.engine().startScope(),
  endScope: (keep) => tf.engine().endScope((keep === undefined ? null : ts(keep)) as never),
  keep: (x) => tf.keep(t(x)) as unknown as typeof x,
  dispose: (xs) => {
    for (const x of (Array.isArray(xs) ? xs : [xs]) as Array<Tensor | Parameter>) {
      if (x instanceof TfjsParameter) x.variable.dispose()
      else t(x as Tensor).dispose()
    }
  },
  liveTensors: () => tf.memory().numTensors,
})
