/**
 * `@causald/tfjs`: the core tensor interface on TensorFlow.js (tensorflow, wasm or cpu backend).
 *
 * @module
 */

export { FUSED_ENV, fusedKernelOptions } from "./kernels/BiasSigmoid.ts"
export { nativeBlas, nativeProductOptions } from "./kernels/NativeMatMul.ts"
export {
  BLAS_ENV,
  BLAS_THREADS_ENV,
  type BlasChoice,
  type BlasName,
  BlasUnavailable,
  blasChoices,
  blasOrder,
  detectBlas,
  InvalidBlasThreads,
  type NativeBlas,
  openBlas,
  parseBlasChoice,
  parseBlasThreads,
  UnknownBlas,
} from "./native/Blas.ts"
export { makeTfjsBackend } from "./TfjsBackend.ts"
export * from "./TfjsTensors.ts"
export * from "./WasmThreads.ts"
