/**
 * Kernel and gradient repairs for TensorFlow.js 4.22 on the `cpu` and `wasm` backends, installed
 * by {@link registerKernels}. See each module for what was missing or wrong and the measurement
 * that motivated it (`bench/NOTES.md`).
 *
 * @module
 */
// The stock gradients must be registered BEFORE ours, or they would overwrite the repaired ones:
// importing them here orders them first whichever module the caller imports first.
import "@tensorflow/tfjs-core/dist/register_all_gradients"
import {
  findBackendFactory,
  type GradConfig,
  getGradient,
  getKernel,
  type KernelConfig,
  registerGradient,
  registerKernel,
  unregisterKernel,
} from "@tensorflow/tfjs-core"
import {
  biasSigmoidGradConfig,
  biasSigmoidGradWasmConfig,
  biasSigmoidRowsGradConfig,
  biasSigmoidRowsWasmConfig,
  biasSigmoidWasmConfig,
} from "./BiasSigmoid.ts"
import {
  batchMatMulGradConfig,
  maximumGradConfig,
  minimumGradConfig,
} from "./BroadcastGradients.ts"
import {
  broadcastReluDotGradConfig,
  broadcastReluDotGradWasmConfig,
  broadcastReluDotWasmConfig,
} from "./BroadcastReluDot.ts"
import { concatWasmConfig } from "./Concat.ts"
import { gatherV2WasmConfig } from "./GatherV2.ts"
import {
  gatherWeightedSumGradConfig,
  gatherWeightedSumGradWasmConfig,
  gatherWeightedSumWasmConfig,
} from "./GatherWeightedSum.ts"
import { identityWasmConfig } from "./Identity.ts"
import { nativeBatchMatMulWasmConfig } from "./NativeMatMul.ts"
import {
  rowWeightedSumGradConfig,
  rowWeightedSumGradWasmConfig,
  rowWeightedSumRowsGradConfig,
  rowWeightedSumRowsWasmConfig,
  rowWeightedSumWasmConfig,
} from "./RowWeightedSum.ts"
import { sliceWasmConfig } from "./Slice.ts"
import { splitVWasmConfig } from "./SplitV.ts"
import { rememberStock } from "./Stock.ts"
import { sumGradConfig, sumWasmConfig } from "./Sum.ts"
import { tileWasmConfig } from "./Tile.ts"
import { transposeWasmConfig } from "./Transpose.ts"
import { transposedProductWasmConfig } from "./TransposedProduct.ts"
import {
  unsortedSegmentSumCpuConfig,
  unsortedSegmentSumGradConfig,
  unsortedSegmentSumWasmConfig,
} from "./UnsortedSegmentSum.ts"

/** Kernels this folder provides, per backend. A stock kernel of the same name is replaced. */
export const kernelConfigs: ReadonlyArray<KernelConfig> = [
  unsortedSegmentSumCpuConfig,
  unsortedSegmentSumWasmConfig,
  gatherV2WasmConfig,
  identityWasmConfig,
  sumWasmConfig,
  sliceWasmConfig,
  splitVWasmConfig,
  concatWasmConfig,
  transposeWasmConfig,
  tileWasmConfig,
  transposedProductWasmConfig,
  nativeBatchMatMulWasmConfig,
  biasSigmoidWasmConfig,
  biasSigmoidRowsWasmConfig,
  biasSigmoidGradWasmConfig,
  rowWeightedSumWasmConfig,
  rowWeightedSumRowsWasmConfig,
  rowWeightedSumGradWasmConfig,
  broadcastReluDotWasmConfig,
  broadcastReluDotGradWasmConfig,
  gatherWeightedSumWasmConfig,
  gatherWeightedSumGradWasmConfig,
]

/** Gradients this folder provides; they replace the stock ones for every backend. */
export const gradientConfigs: ReadonlyArray<GradConfig> = [
  unsortedSegmentSumGradConfig,
  maximumGradConfig,
  minimumGradConfig,
  batchMatMulGradConfig,
  sumGradConfig,
  biasSigmoidGradConfig,
  biasSigmoidRowsGradConfig,
  rowWeightedSumGradConfig,
  rowWeightedSumRowsGradConfig,
  broadcastReluDotGradConfig,
  gatherWeightedSumGradConfig,
]

/**
 * Registers the kernels of this folder for each of `cpu` and `wasm` that is a registered backend
 * (import `@tensorflow/tfjs-backend-cpu` / `-wasm` first), replacing stock kernels of the same
 * name without the "already registered" warning, and the repaired gradients.
 *
 * Idempotent: a kernel or gradient already installed is left alone, so calling it again after
 * registering another backend installs only what is new. Kernels are looked up when an op runs,
 * so this works before or after `tf.setBackend`.
 */
export const registerKernels = (): void => {
  for (const config of kernelConfigs) {
    if (findBackendFactory(config.backendName) == null) continue
    const current = getKernel(config.kernelName, config.backendName)
    if (current?.kernelFunc === config.kernelFunc) continue
    if (current != null) {
      rememberStock(current)
      unregisterKernel(config.kernelName, config.backendName)
    }
    registerKernel(config)
  }
  for (const config of gradientConfigs) {
    if (getGradient(config.kernelName) !== config) registerGradient(config)
  }
}
