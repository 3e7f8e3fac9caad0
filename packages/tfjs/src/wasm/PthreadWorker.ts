/**
 * The pthread worker of tfjs-backend-wasm's threaded SIMD binary, for Bun's `node:worker_threads`.
 *
 * Why a file: emscripten's pthread runtime, in its Node mode (Bun reports itself as Node), starts
 * each worker with `new Worker(path)` from `node:worker_threads`, which accepts only a file path;
 * tfjs hands it a `blob:` URL of the worker source and Bun rejects it (ERR_WORKER_PATH, see
 * `WasmThreads.ts`). This file runs the package's own worker source (the `wasmWorkerContents`
 * string of `wasm-out/tfjs-backend-wasm-threaded-simd.worker.js`) at global scope, with the
 * `require` and `__filename` globals its Node branch expects. The escaping of "\n" is the one
 * tfjs applies before making its blob: the string holds newline escapes meant for the source.
 *
 * @module
 */
import { createRequire } from "node:module"

const require = createRequire(import.meta.url)
const wasmDist = require.resolve("@tensorflow/tfjs-backend-wasm")
const { wasmWorkerContents } = require(
  wasmDist.replace(/dist[/\\][^/\\]+$/, "wasm-out/tfjs-backend-wasm-threaded-simd.worker.js"),
) as { wasmWorkerContents: string }
Object.assign(globalThis, { require, __filename: import.meta.path })
// Indirect (global-scope) eval: the source declares the globals emscripten's runtime looks up.
// biome-ignore lint/security/noGlobalEval: runs the installed package's own worker source.
globalThis.eval(wasmWorkerContents.replace(/\n/g, "\\n"))
