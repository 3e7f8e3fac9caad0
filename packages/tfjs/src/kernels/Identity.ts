/**
 * `Identity` for the `wasm` backend without a copy: the output shares the input's data and bumps
 * its reference count, as the `cpu` backend's kernel does.
 *
 * Why: tfjs clones every tensor a gradient saves for the backward pass (`tf.clone` runs
 * `Identity`), and the stock wasm kernel copies the data: ~58 ms of a ~1 s DIN training step at
 * batch 4096 copied [204800, 80] and [204800, 40] activations (bench/NOTES.md). Tensors are
 * immutable in tfjs (a variable's `assign` swaps its data id, no kernel writes into an input),
 * so sharing is safe; the wasm backend frees the memory when the last reference is disposed.
 *
 * @module
 */
import {
  Identity,
  type KernelConfig,
  type KernelFunc,
  type TensorInfo,
} from "@tensorflow/tfjs-core"
import type { WasmHeapBackend } from "./Heap.ts"

export const identityWasm: KernelFunc = (params) => {
  const { x } = params.inputs as { x?: TensorInfo }
  if (x == null) throw new Error("Identity: expected input `x`")
  ;(params.backend as unknown as WasmHeapBackend).incRef(x.dataId)
  return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype }
}

export const identityWasmConfig: KernelConfig = {
  kernelName: Identity,
  backendName: "wasm",
  kernelFunc: identityWasm,
}
