/**
 * A worker that proves this runtime can run emscripten pthreads: it receives a shared
 * `WebAssembly.Memory` from `node:worker_threads`, writes to it with `Atomics`, and answers.
 * `WasmThreads.ts` starts it before the threaded module, because a worker that fails inside
 * emscripten's start-up throws from emscripten's error handler and ends the process.
 *
 * @module
 */
import { parentPort } from "node:worker_threads"

parentPort?.on("message", (memory: WebAssembly.Memory) => {
  const cells = new Int32Array(memory.buffer)
  Atomics.store(cells, 0, 42)
  Atomics.notify(cells, 0)
  parentPort?.postMessage("written")
})
