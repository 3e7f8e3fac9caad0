/**
 * `@causald/tfjs`: the core tensor interface on TensorFlow.js (tensorflow, wasm or cpu backend).
 *
 * @module
 */

export { makeTfjsBackend } from "./TfjsBackend.ts"
export * from "./TfjsTensors.ts"
export * from "./WasmThreads.ts"
