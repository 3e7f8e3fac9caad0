/**
 * Choosing and starting a TensorFlow.js backend, and providing it as the core `Tensors` service.
 *
 * Backends, in the order `auto` tries them:
 * - `tensorflow`: native libtensorflow through `@tensorflow/tfjs-node-gpu` (CUDA) or
 *   `@tensorflow/tfjs-node` (CPU). Optional: neither is a dependency of this package, because
 *   their install step downloads libtensorflow; a user who has one installed gets it.
 * - `wasm`: `@tensorflow/tfjs-backend-wasm`, its `.wasm` binaries loaded from the installed
 *   package (never from the network).
 * - `cpu`: `@tensorflow/tfjs-backend-cpu`, plain JavaScript.
 *
 * The choice comes from an explicit option, else the `CAUSALD_BACKEND` environment variable,
 * else `auto`. Applications map their `--backend` flag onto the option.
 *
 * On wasm, matrix products run on the machine's native BLAS when one is found (`native/Blas.ts`,
 * `kernels/NativeMatMul.ts`): option `blas`, else `CAUSALD_BLAS`, else `auto` (oneDNN, then
 * OpenBLAS, then Accelerate; none found: the wasm kernels), and DIN's activation unit on the
 * fused kernels (`kernels/BiasSigmoid.ts`, `kernels/RowWeightedSum.ts`), as is ψ_FDA of
 * CausalD's causal label over the partners (`kernels/BroadcastReluDot.ts`) and DeepFM's history
 * pooling (`kernels/GatherWeightedSum.ts`); `CAUSALD_FUSED=off`
 * composes tfjs kernels instead. The backend's name says which ran ({@link wasmBackendName}),
 * e.g. `wasm+onednn+fused2`, and every output records that name, so that results of different
 * arithmetic are never taken for one another (a resumed study, `repro-merge`, a cluster worker).
 *
 * @module
 */
import { dirname, join } from "node:path"
import { type TensorBackend, Tensors } from "@causald/core"
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer, Schema } from "effect"
import { fusedKernelOptions, loadBiasSigmoid } from "./kernels/BiasSigmoid.ts"
import { loadBroadcastReluDot } from "./kernels/BroadcastReluDot.ts"
import { loadGatherWeightedSum } from "./kernels/GatherWeightedSum.ts"
import { registerKernels } from "./kernels/index.ts"
import { setNativeBlas } from "./kernels/NativeMatMul.ts"
import { loadRowWeightedSum } from "./kernels/RowWeightedSum.ts"
import { loadTransposedProduct } from "./kernels/TransposedProduct.ts"
import {
  type BlasChoice,
  type NativeBlas,
  resolveBlasChoice,
  resolveBlasThreads,
  selectBlas,
} from "./native/Blas.ts"
import { makeTfjsBackend } from "./TfjsBackend.ts"
import { configureWasmThreads, resolveWasmThreads } from "./WasmThreads.ts"
import "@tensorflow/tfjs-core/dist/register_all_gradients"
import "@tensorflow/tfjs-backend-cpu"

/** The backends a user can ask for. */
export const backendChoices = ["auto", "tensorflow", "wasm", "cpu"] as const
export type BackendChoice = (typeof backendChoices)[number]

/** The environment variable read when no backend option is given. */
export const BACKEND_ENV = "CAUSALD_BACKEND"

/** A requested backend cannot start here. */
export class BackendUnavailable extends Schema.TaggedError<BackendUnavailable>()(
  "BackendUnavailable",
  {
    backend: Schema.String,
    reason: Schema.String,
  },
) {
  override get message(): string {
    return `backend "${this.backend}" is unavailable: ${this.reason}`
  }
}

/** A backend name that is not one of {@link backendChoices}, naming where it came from. */
export class UnknownBackend extends Schema.TaggedError<UnknownBackend>()("UnknownBackend", {
  source: Schema.String,
  value: Schema.String,
}) {
  override get message(): string {
    return `${this.source}: unknown backend "${this.value}"; expected one of ${backendChoices.join(", ")}`
  }
}

/** Parses a backend name, e.g. from a flag or the environment. */
export const parseBackendChoice = (
  source: string,
  value: string,
): Effect.Effect<BackendChoice, UnknownBackend> =>
  (backendChoices as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as BackendChoice)
    : Effect.fail(new UnknownBackend({ source, value }))

// tfjs prints advice to install tfjs-node on first use in Node unless PROD is set; PROD also
// skips per-op debug checks.
tf.env().set("PROD", true)

const nativePackages = ["@tensorflow/tfjs-node-gpu", "@tensorflow/tfjs-node"] as const

const startTensorflow = Effect.gen(function* () {
  const reasons: Array<string> = []
  for (const name of nativePackages) {
    const imported = yield* Effect.tryPromise(() => import(/* @vite-ignore */ name as string)).pipe(
      Effect.map(() => true),
      Effect.catch((error) => {
        reasons.push(`${name}: ${String(error.cause ?? error).split("\n")[0]}`)
        return Effect.succeed(false)
      }),
    )
    if (!imported) continue
    if (tf.findBackendFactory("tensorflow") === null)
      return yield* new BackendUnavailable({
        backend: "tensorflow",
        reason: `${name} is installed but registered its backend with another copy of @tensorflow/tfjs-core; install ${name}@${tf.version_core} inside packages/tfjs so that both share tfjs-core ${tf.version_core}`,
      })
    return name
  }
  return yield* new BackendUnavailable({
    backend: "tensorflow",
    reason: `neither native package is installed (${reasons.join("; ")})`,
  })
})

/** Options of {@link startBackend} beyond the backend's name. */
export interface BackendOptions {
  /**
   * Threads of the wasm backend (1 = the single-threaded SIMD binary); default
   * `CAUSALD_WASM_THREADS`, else the idle cores. Read when wasm first starts.
   */
  readonly wasmThreads?: number
  /**
   * The native BLAS of wasm's matrix products: a library, `auto` (the first found) or `none`;
   * default `CAUSALD_BLAS`, else `auto`. A library asked for by name that does not load fails
   * the backend. Read at every start of wasm.
   */
  readonly blas?: BlasChoice
  /** Threads of the native BLAS; default `CAUSALD_BLAS_THREADS`, else 1. */
  readonly blasThreads?: number
}

/** The native library wasm products use, threads applied; undefined for the wasm kernels. */
const configureBlas = (options: BackendOptions) =>
  Effect.gen(function* () {
    const unavailable = (error: { readonly message: string }) =>
      new BackendUnavailable({ backend: "wasm", reason: error.message })
    const choice = yield* resolveBlasChoice(options.blas).pipe(Effect.mapError(unavailable))
    const threads = yield* resolveBlasThreads(options.blasThreads).pipe(
      Effect.mapError(unavailable),
    )
    const blas: NativeBlas | undefined = yield* selectBlas(choice).pipe(
      Effect.mapError(unavailable),
    )
    blas?.setThreads(threads)
    setNativeBlas(blas)
    return blas
  })

let wasmConfigured = false
const configureWasm = (options: BackendOptions) =>
  Effect.gen(function* () {
    if (wasmConfigured) return
    // The package's "main" file sits in dist/ beside the three .wasm binaries.
    const main = Bun.resolveSync("@tensorflow/tfjs-backend-wasm", import.meta.dir)
    setWasmPaths(`${join(dirname(main), "/")}`)
    const threads = yield* resolveWasmThreads(options.wasmThreads).pipe(
      Effect.mapError(
        (error) => new BackendUnavailable({ backend: "wasm", reason: error.message }),
      ),
    )
    const status = yield* configureWasmThreads(threads)
    if (status.note !== undefined) yield* Effect.logWarning(`@causald/tfjs: ${status.note}`)
    wasmConfigured = true
  })

const activate = (name: "tensorflow" | "wasm" | "cpu", options: BackendOptions = {}) =>
  Effect.gen(function* () {
    if (name === "tensorflow") yield* startTensorflow
    if (name === "wasm") yield* configureWasm(options)
    const ok = yield* Effect.tryPromise(() => tf.setBackend(name)).pipe(
      Effect.mapError(
        (error) => new BackendUnavailable({ backend: name, reason: String(error.cause) }),
      ),
    )
    if (!ok)
      return yield* new BackendUnavailable({
        backend: name,
        reason: "tf.setBackend returned false",
      })
    yield* Effect.tryPromise(() => tf.ready()).pipe(
      Effect.mapError(
        (error) => new BackendUnavailable({ backend: name, reason: String(error.cause) }),
      ),
    )
    registerKernels()
    if (name === "wasm") {
      // The weight gradients' SIMD kernel; without it they keep the blocked XNNPACK form.
      const failure = yield* Effect.promise(() => loadTransposedProduct(tf.backend()))
      if (failure !== undefined) yield* Effect.logWarning(`@causald/tfjs: ${failure}`)
      // The fused sigmoid of DIN's activation unit; without it the op composes tfjs kernels.
      const fused = yield* Effect.promise(() => loadBiasSigmoid(tf.backend()))
      if (fused !== undefined) yield* Effect.logWarning(`@causald/tfjs: ${fused}`)
      // DIN's attention-weighted pooling; without it DIN composes tfjs kernels.
      const pooling = yield* Effect.promise(() => loadRowWeightedSum(tf.backend()))
      if (pooling !== undefined) yield* Effect.logWarning(`@causald/tfjs: ${pooling}`)
      // ψ_FDA over the partners of CausalD's causal label (eq. 13); without it, composed.
      const label = yield* Effect.promise(() => loadBroadcastReluDot(tf.backend()))
      if (label !== undefined) yield* Effect.logWarning(`@causald/tfjs: ${label}`)
      // DeepFM's history pooling (its φ, also its frozen teachers'); without it, composed.
      const bag = yield* Effect.promise(() => loadGatherWeightedSum(tf.backend()))
      if (bag !== undefined) yield* Effect.logWarning(`@causald/tfjs: ${bag}`)
      const blas = yield* configureBlas(options)
      const attentionUnit = fused === undefined && pooling === undefined
      const fusedSet: FusedKernelSet = !fusedKernelOptions.enabled
        ? "none"
        : attentionUnit &&
            !fusedKernelOptions.attentionOnly &&
            label === undefined &&
            bag === undefined
          ? "all"
          : attentionUnit
            ? "attention"
            : "none"
      return makeTfjsBackend(name, wasmBackendName(blas?.name, fusedSet))
    }
    return makeTfjsBackend(name)
  })

/**
 * Which fused kernels ran, as far as they change the numbers: `none` (tfjs's kernels composed,
 * `CAUSALD_FUSED=off`), `attention` (DIN's activation unit only, `CAUSALD_FUSED=attention`: the
 * kernel set of every run recorded as `+fused` before the causal label's and DeepFM's kernels
 * existed) or `all` (also
 * ψ_FDA over the partners, eq. 13, and DeepFM's history pooling).
 */
export type FusedKernelSet = "none" | "attention" | "all"

/**
 * The wasm backend's recorded name: `wasm`, `+<blas>` when a native library runs the matrix
 * products, `+fused` for the `attention` kernel set and `+fused2` for `all`. Each changes the
 * last bits of the numbers, so each is part of the name: parts of one study made before and after
 * a kernel was added are refused by `repro-merge`, and a cluster worker with other kernels by
 * the coordinator.
 */
export const wasmBackendName = (blas: string | undefined, fused: FusedKernelSet): string =>
  `wasm${blas === undefined ? "" : `+${blas}`}${fused === "all" ? "+fused2" : fused === "attention" ? "+fused" : ""}`

/**
 * Starts the chosen backend (making it tfjs's active backend) and returns the tensor interface
 * over it. `auto` tries tensorflow, then wasm, then cpu, and fails only if all three fail.
 */
export const startBackend = (
  choice: BackendChoice,
  options: BackendOptions = {},
): Effect.Effect<TensorBackend, BackendUnavailable> =>
  choice === "auto"
    ? activate("tensorflow").pipe(
        Effect.catch(() => activate("wasm", options)),
        Effect.catch(() => activate("cpu")),
      )
    : activate(choice, options)

/** The backend named by the option, else by `CAUSALD_BACKEND`, else `auto`. */
export const resolveChoice = (
  option?: BackendChoice,
): Effect.Effect<BackendChoice, UnknownBackend> => {
  if (option !== undefined) return Effect.succeed(option)
  const fromEnv = process.env[BACKEND_ENV]
  return fromEnv === undefined || fromEnv === ""
    ? Effect.succeed("auto")
    : parseBackendChoice(BACKEND_ENV, fromEnv)
}

/** Provides the core {@link Tensors} service on a TensorFlow.js backend. */
export const layer = (
  option?: BackendChoice,
  options: BackendOptions = {},
): Layer.Layer<Tensors, BackendUnavailable | UnknownBackend> =>
  Layer.effect(
    Tensors,
    Effect.flatMap(resolveChoice(option), (choice) => startBackend(choice, options)),
  )

/** The names of the tfjs backends registered in this process (cpu and wasm always; tensorflow when installed). */
export const registeredBackends = (): Array<string> => Object.keys(tf.engine().registryFactory)
