/**
 * Sessions of the conformance suite: scopes that must leave nothing behind.
 *
 * @module
 */
import type { OptimizerSpec, Parameter, Tensor, TensorBackend } from "../../Tensor.ts"
import type { NdArray } from "../Reference.ts"
import { check, fromTensor, toTensor } from "./HostValues.ts"

/** What a check creates through {@link inSession}; everything is freed when the session ends. */
export interface Session {
  readonly backend: TensorBackend
  readonly tensor: (x: NdArray, dtype?: "float32" | "int32") => Tensor
  readonly read: (x: Tensor) => NdArray
  /** A parameter holding `x`, disposed when the session ends. */
  readonly parameter: (name: string, x: NdArray) => Parameter
  /** An optimiser whose slots are disposed when the session ends. */
  readonly optimizer: (spec: OptimizerSpec) => ReturnType<TensorBackend["optimizer"]>
}

/**
 * Runs `body` inside a tensor scope, then closes it and disposes the parameters and optimisers
 * the body made through the session, and throws if the number of live tensors is not back to
 * where it started (a tensor survived a closed scope). Return host values only.
 */
export const inSession = <A>(backend: TensorBackend, body: (session: Session) => A): A => {
  const before = backend.liveTensors()
  const params: Array<Parameter> = []
  const optimizers: Array<ReturnType<TensorBackend["optimizer"]>> = []
  const session: Session = {
    backend,
    tensor: (x, dtype) => toTensor(backend, x, dtype),
    read: (x) => fromTensor(backend, x),
    parameter: (name, x) => {
      const p = backend.parameter(name, Float32Array.from(x.data), x.shape)
      params.push(p)
      return p
    },
    optimizer: (spec) => {
      const o = backend.optimizer(spec)
      optimizers.push(o)
      return o
    },
  }
  let result: A
  backend.beginScope()
  try {
    result = body(session)
  } finally {
    backend.endScope()
    for (const o of optimizers) o.dispose()
    backend.dispose(params)
  }
  const after = backend.liveTensors()
  check(
    after === before,
    () =>
      `${after - before} tensor(s) outlived a closed scope (live ${before} before, ${after} after)`,
  )
  return result
}
