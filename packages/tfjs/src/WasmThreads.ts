/**
 * The multi-threaded wasm backend: tfjs-backend-wasm's `tfjs-backend-wasm-threaded-simd.wasm`,
 * whose XNNPACK products run on a pthreadpool of emscripten pthreads (Workers over a
 * SharedArrayBuffer-backed memory), loaded in a way that works under Bun.
 *
 * Why not the package's own loader: in Bun (as in Node) tfjs 4.22 never picks the threaded
 * binary, and forcing it fails.
 * - `WASM_HAS_MULTITHREAD_SUPPORT` returns false whenever `IS_NODE` is true (tfjs issue 3830);
 *   Bun sets `process.versions.node`, so tfjs loads the single-threaded SIMD binary.
 * - With the flag forced on, tfjs gives emscripten a `blob:` URL of the worker source; emscripten
 *   in Node mode creates workers with `node:worker_threads`, which rejects it: "The worker script
 *   or module filename must be an absolute path or a relative path starting with './' or '../'.
 *   Received "blob:..."" (ERR_WORKER_PATH). Its main script is also a blob of the bundled
 *   factory's source, whose free variables (the bundle's `require$$0`, `commonjsGlobal`) do not
 *   exist in a worker.
 * - The C++ side caps the pool at `emscripten_num_logical_cores() / 2` (it assumes two hardware
 *   threads per core), so on a 2-core machine it would make a pool of 1 thread whatever is asked.
 *
 * Here the package's unbundled emscripten factory (`wasm-out/tfjs-backend-wasm-threaded-simd.js`)
 * is started with a file worker (`wasm/PthreadWorker.ts`) and that file as the workers' main
 * script, the core count reported as twice the requested threads during start-up only, and the
 * module is handed to the package's own `BackendWasm` under the backend name `wasm`, so every
 * stock and repaired kernel applies unchanged. Any failure falls back to the stock loader (the
 * single-threaded SIMD binary) and says why in {@link WasmThreadsStatus.note}.
 *
 * @module
 */
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import { Worker } from "node:worker_threads"
import { BackendWasm, getThreadsCount, setThreadsCount } from "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Schema } from "effect"

/** The environment variable giving the number of wasm threads when no option does. */
export const WASM_THREADS_ENV = "CAUSALD_WASM_THREADS"

/** emscripten pre-starts 8 workers in this build; XNNPACK's pool cannot use more. */
export const MAX_WASM_THREADS = 8

/** A thread count that is not an integer in [1, {@link MAX_WASM_THREADS}], naming its source. */
export class InvalidWasmThreads extends Schema.TaggedError<InvalidWasmThreads>()(
  "InvalidWasmThreads",
  { source: Schema.String, value: Schema.String },
) {
  override get message(): string {
    return `${this.source}: expected an integer from 1 to ${MAX_WASM_THREADS} (wasm threads), got "${this.value}"`
  }
}

/** Which binary the wasm backend runs, and why when it is not what was asked. */
export interface WasmThreadsStatus {
  /** Threads asked for (option, else {@link WASM_THREADS_ENV}, else the idle cores). */
  readonly requested: number
  /** Threads XNNPACK's pool really has (1 on the single-threaded binary). */
  readonly threads: number
  readonly binary: "threaded-simd" | "simd"
  /** Why the single-threaded binary runs although more threads were requested. */
  readonly note?: string
}

/**
 * One thread unless asked for more. A run's configuration must not depend on the machine's
 * momentary load (an earlier default, "the idle cores", did), and on this project's 2-core
 * machines a second XNNPACK thread was never measured faster: XNNPACK splits each product evenly
 * over its threads and waits for the slowest, so with other processes on the cores DIN steps
 * were 1.5-2x slower (bench/NOTES.md, "wasm threads"). `CAUSALD_WASM_THREADS=N` opts in.
 */
export const defaultWasmThreads = (): number => 1

/** Parses a thread count, e.g. from a flag or the environment. */
export const parseWasmThreads = (
  source: string,
  value: string,
): Effect.Effect<number, InvalidWasmThreads> => {
  const n = Number(value)
  return /^\s*\d+\s*$/.test(value) && n >= 1 && n <= MAX_WASM_THREADS
    ? Effect.succeed(n)
    : Effect.fail(new InvalidWasmThreads({ source, value }))
}

/** The thread count of the option, else of `CAUSALD_WASM_THREADS`, else {@link defaultWasmThreads}. */
export const resolveWasmThreads = (option?: number): Effect.Effect<number, InvalidWasmThreads> => {
  if (option !== undefined) return parseWasmThreads("wasmThreads option", String(option))
  const fromEnv = process.env[WASM_THREADS_ENV]
  return fromEnv === undefined || fromEnv === ""
    ? Effect.succeed(defaultWasmThreads())
    : parseWasmThreads(WASM_THREADS_ENV, fromEnv)
}

/** The parts of the emscripten module of the threaded build used here. */
interface ThreadedModule {
  HEAPU8: Uint8Array
  readonly wasmMemory: WebAssembly.Memory
  readonly PThread: { readonly runningWorkers: ReadonlyArray<{ unref?: () => void }> }
  cwrap(name: string, returns: string | null, args: ReadonlyArray<string>): unknown
  tfjs?: Record<string, unknown>
}

type Factory = (config: Record<string, unknown>) => Promise<ThreadedModule>

const require = createRequire(import.meta.url)

/** Start-up of the 8 pre-started workers took 0.1-0.4 s here under load; a hang is a failure. */
const START_TIMEOUT_MS = 30_000

/**
 * Resolves when a worker started from a file can write, with `Atomics`, to a shared memory this
 * thread sent it; rejects with the reason otherwise (within 10 s).
 */
const probeSharedMemory = (): Promise<void> =>
  new Promise((resolve, reject) => {
    const memory = new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true })
    const worker = new Worker(`${import.meta.dir}/wasm/SharedMemoryProbe.ts`)
    const done = (error?: Error): void => {
      clearTimeout(timer)
      void worker.terminate()
      if (error !== undefined) reject(error)
      else resolve()
    }
    const timer = setTimeout(
      () => done(new Error("the probe worker did not answer in 10 s")),
      10_000,
    )
    worker.on("error", (error) => done(error instanceof Error ? error : new Error(String(error))))
    worker.on("message", () =>
      done(
        Atomics.load(new Int32Array(memory.buffer), 0) === 42
          ? undefined
          : new Error("a worker's write to a shared memory was not seen"),
      ),
    )
    worker.postMessage(memory)
  })

/**
 * Starts the threaded module. Rejects (with the error's message) when this runtime cannot run
 * it; then nothing of it was installed.
 */
const startThreadedModule = async (threads: number): Promise<ThreadedModule> => {
  if (typeof SharedArrayBuffer !== "function" || typeof Atomics !== "object")
    throw new Error("SharedArrayBuffer / Atomics are not available")
  const mainScript = require
    .resolve("@tensorflow/tfjs-backend-wasm")
    .replace(/dist[/\\][^/\\]+$/, "wasm-out/tfjs-backend-wasm-threaded-simd.js")
  const workerScript = `${import.meta.dir}/wasm/PthreadWorker.ts`
  for (const file of [mainScript, workerScript])
    if (!existsSync(file)) throw new Error(`${file} does not exist`)
  await probeSharedMemory()
  const factory = require(mainScript) as Factory
  // emscripten's Node branch replaces the global Worker with node:worker_threads' one.
  const globalWorker = globalThis.Worker
  const cpus = os.cpus
  // init_with_threads_count caps the pool at logical cores / 2: report 2 x threads while the
  // module's constructors read it.
  os.cpus = () => {
    const real = cpus()
    return Array.from({ length: 2 * threads }, (_, i) => real[i % real.length]!)
  }
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      factory({
        mainScriptUrlOrBlob: mainScript,
        locateFile: (path: string, prefix: string) =>
          path.endsWith(".worker.js") ? workerScript : prefix + path,
      }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`workers did not start within ${START_TIMEOUT_MS / 1000} s`)),
          START_TIMEOUT_MS,
        )
      }),
    ])
  } finally {
    clearTimeout(timer)
    os.cpus = cpus
    globalThis.Worker = globalWorker
  }
}

/**
 * The module as tfjs's `init()` returns it: the `tfjs` bridge of cwrapped functions, and a
 * `HEAPU8` that always views the CURRENT memory. With a shared memory, growing it does not
 * detach the old buffer (views of it silently stop short of the new end), and emscripten
 * refreshes `HEAPU8` only on the thread that grew it; `BackendWasm` and the kernels of
 * `kernels/` read `HEAPU8` to find the buffer.
 */
const bridge = (module: ThreadedModule): ThreadedModule => {
  let view = module.HEAPU8
  Object.defineProperty(module, "HEAPU8", {
    configurable: true,
    get: () => {
      if (view.buffer !== module.wasmMemory.buffer) view = new Uint8Array(module.wasmMemory.buffer)
      return view
    },
    set: (next: Uint8Array) => {
      view = next
    },
  })
  module.tfjs = {
    init: module.cwrap("init", null, []),
    initWithThreadsCount: module.cwrap("init_with_threads_count", null, ["number"]),
    getThreadsCount: module.cwrap("get_threads_count", "number", []),
    registerTensor: module.cwrap("register_tensor", null, ["number", "number", "number"]),
    disposeData: module.cwrap("dispose_data", null, ["number"]),
    dispose: module.cwrap("dispose", null, []),
  }
  return module
}

let status: WasmThreadsStatus | undefined

/** What {@link configureWasmThreads} chose, once the wasm backend was configured. */
export const wasmThreadsStatus = (): WasmThreadsStatus | undefined => status

/**
 * Makes tfjs's `wasm` backend the threaded binary with `threads` threads when `threads >= 2`
 * and it starts here, else leaves the stock single-threaded SIMD loader. Must run before the
 * wasm backend is first initialised; later calls return the first status.
 */
export const configureWasmThreads = (threads: number): Effect.Effect<WasmThreadsStatus> =>
  Effect.promise(async (): Promise<WasmThreadsStatus> => {
    if (status === undefined) status = await install(threads)
    return status
  })

const install = async (threads: number): Promise<WasmThreadsStatus> => {
  const single = (note?: string): WasmThreadsStatus => ({
    requested: threads,
    threads: 1,
    binary: "simd",
    ...(note === undefined ? {} : { note }),
  })
  if (threads <= 1) return single()
  if (tf.engine().registry["wasm"] !== undefined)
    return single("the wasm backend was already initialised single-threaded")
  let module: ThreadedModule
  try {
    module = bridge(await startThreadedModule(threads))
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error)
    return single(`wasm threads unavailable (${reason}): using the single-threaded SIMD binary`)
  }
  setThreadsCount(threads)
  tf.removeBackend("wasm")
  tf.registerBackend(
    "wasm",
    () => {
      const backend = new BackendWasm(module as never)
      // pthreadpool's threads wait for work forever: they must not keep the process alive.
      for (const worker of module.PThread.runningWorkers) worker.unref?.()
      // The pool's real size is known once the backend exists (tfjs creates it lazily).
      status = { requested: threads, threads: getThreadsCount(), binary: "threaded-simd" }
      return backend
    },
    2,
  )
  return { requested: threads, threads, binary: "threaded-simd" }
}
