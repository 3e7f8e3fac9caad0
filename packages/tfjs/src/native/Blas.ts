/**
 * A native single-precision matrix product (`sgemm`) of the machine's BLAS, loaded through Bun's
 * FFI (`bun:ffi`), for the wasm backend's products (`kernels/NativeMatMul.ts`).
 *
 * Why: WebAssembly SIMD is 128 bits wide, so XNNPACK in wasm cannot reach a native library on a
 * CPU with AVX-512 (and AMX): at the paper's configuration PyTorch (oneDNN 2.6.3) trained DIN
 * 1.4x and DeepFM 1.5x faster than the wasm backend on a 2-core Sapphire Rapids Xeon (issue 17).
 * The native routine reads and writes the wasm heap in place: a tensor's address is the heap's
 * address plus its offset, so nothing is copied.
 *
 * Libraries, in the order `auto` tries them:
 * - `onednn`: `dnnl_sgemm` of oneDNN (`libdnnl.so.3` / `.so.2`; Debian `libdnnl2` 2.6.3 is the
 *   version PyTorch links); threads through OpenMP (`omp_set_num_threads` of `libgomp.so.1`,
 *   the runtime Debian's build links).
 * - `openblas`: `cblas_sgemm` of OpenBLAS (`libopenblas.so.0`, Debian `libopenblas0-pthread`;
 *   Homebrew's `/opt/homebrew/opt/openblas/lib/libopenblas.dylib`); threads through
 *   `openblas_set_num_threads`.
 * - `accelerate`: `cblas_sgemm` of Apple's Accelerate framework
 *   (`/System/Library/Frameworks/Accelerate.framework/Accelerate`). Written from Apple's CBLAS
 *   header and NOT tested (no macOS machine here); it has no thread setting.
 *
 * @module
 */
import { dlopen, FFIType, type Pointer } from "bun:ffi"
import { Effect, Schema } from "effect"

/** The choices a user has: a library, `auto` (the first found) or `none` (wasm kernels only). */
export const blasChoices = ["auto", "none", "onednn", "openblas", "accelerate"] as const
export type BlasChoice = (typeof blasChoices)[number]
export type BlasName = Exclude<BlasChoice, "auto" | "none">

/** The environment variable read when no BLAS option is given. */
export const BLAS_ENV = "CAUSALD_BLAS"
/** The environment variable giving the native library's threads when no option does. */
export const BLAS_THREADS_ENV = "CAUSALD_BLAS_THREADS"

/** A BLAS name that is not one of {@link blasChoices}, naming where it came from. */
export class UnknownBlas extends Schema.TaggedError<UnknownBlas>()("UnknownBlas", {
  source: Schema.String,
  value: Schema.String,
}) {
  override get message(): string {
    return `${this.source}: unknown BLAS "${this.value}"; expected one of ${blasChoices.join(", ")}`
  }
}

/** A thread count of the native library that is not a positive integer. */
export class InvalidBlasThreads extends Schema.TaggedError<InvalidBlasThreads>()(
  "InvalidBlasThreads",
  { source: Schema.String, value: Schema.String },
) {
  override get message(): string {
    return `${this.source}: expected an integer from 1 to 256 (BLAS threads), got "${this.value}"`
  }
}

/** A library that was asked for by name cannot be loaded here. */
export class BlasUnavailable extends Schema.TaggedError<BlasUnavailable>()("BlasUnavailable", {
  library: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `native BLAS "${this.library}" is unavailable: ${this.reason}`
  }
}

/** A loaded library. Addresses are absolute (the heap's address plus a byte offset). */
export interface NativeBlas {
  readonly name: BlasName
  /** The file that was opened. */
  readonly path: string
  /** What the library says of itself (ISA, build), for outputs; "" when it says nothing. */
  readonly detail: string
  /**
   * Row-major C[m, n] = op(A) op(B), op = transpose where the flag is set; C is overwritten.
   * lda, ldb, ldc are the row strides in elements of A, B and C as stored.
   */
  readonly sgemm: (
    transA: boolean,
    transB: boolean,
    m: number,
    n: number,
    k: number,
    a: number,
    lda: number,
    b: number,
    ldb: number,
    c: number,
    ldc: number,
  ) => void
  /** Sets the library's threads; false when it has no such setting. */
  readonly setThreads: (threads: number) => boolean
  /** The library's current threads, or undefined when it cannot say. */
  readonly threads: () => number | undefined
}

const candidates: Record<BlasName, ReadonlyArray<string>> = {
  onednn: ["libdnnl.so.3", "libdnnl.so.2", "libdnnl.so", "libdnnl.3.dylib", "libdnnl.2.dylib"],
  openblas: [
    "libopenblas.so.0",
    "libopenblas.so",
    "/opt/homebrew/opt/openblas/lib/libopenblas.dylib",
    "/usr/local/opt/openblas/lib/libopenblas.dylib",
  ],
  accelerate: ["/System/Library/Frameworks/Accelerate.framework/Accelerate"],
}

/** The order of `auto`. */
export const blasOrder: ReadonlyArray<BlasName> = ["onednn", "openblas", "accelerate"]

const firstLine = (error: unknown): string =>
  String(error instanceof Error ? error.message : error).split("\n")[0]!

/** Opens the first candidate file that has the symbols, or returns why none did. */
const openFirst = <S extends Parameters<typeof dlopen>[1]>(
  files: ReadonlyArray<string>,
  symbols: S,
): { path: string; lib: ReturnType<typeof dlopen<S>> } | string => {
  const reasons: Array<string> = []
  for (const path of files) {
    try {
      return { path, lib: dlopen(path, symbols) }
    } catch (error) {
      reasons.push(`${path}: ${firstLine(error)}`)
    }
  }
  return reasons.join("; ")
}

// dnnl_cpu_isa_t of oneDNN 2.x/3.x (dnnl_types.h), for the detail line.
const dnnlIsa: Record<number, string> = {
  1: "sse41",
  3: "avx",
  7: "avx2",
  1031: "avx2_vnni",
  39: "avx512_core",
  103: "avx512_core_vnni",
  231: "avx512_core_bf16",
  999: "avx512_core_amx",
}

const loadOneDnn = (): NativeBlas | string => {
  const opened = openFirst(candidates.onednn, {
    // dnnl_status_t dnnl_sgemm(char transa, char transb, dnnl_dim_t M, N, K, float alpha,
    //   const float *A, dnnl_dim_t lda, const float *B, ldb, float beta, float *C, ldc)
    dnnl_sgemm: {
      args: [
        FFIType.i8,
        FFIType.i8,
        FFIType.i64_fast,
        FFIType.i64_fast,
        FFIType.i64_fast,
        FFIType.f32,
        FFIType.ptr,
        FFIType.i64_fast,
        FFIType.ptr,
        FFIType.i64_fast,
        FFIType.f32,
        FFIType.ptr,
        FFIType.i64_fast,
      ],
      returns: FFIType.i32,
    },
    dnnl_get_effective_cpu_isa: { args: [], returns: FFIType.i32 },
  })
  if (typeof opened === "string") return opened
  const { dnnl_sgemm } = opened.lib.symbols
  // oneDNN's threads are OpenMP's: the runtime it links is already loaded, so this opens the
  // same instance. Absent (a TBB or sequential build): no thread setting.
  const omp = openFirst(["libgomp.so.1", "libomp.so", "libomp.dylib"], {
    omp_set_num_threads: { args: [FFIType.i32], returns: FFIType.void },
    omp_get_max_threads: { args: [], returns: FFIType.i32 },
  })
  const isa = opened.lib.symbols.dnnl_get_effective_cpu_isa()
  const N = 78 // 'N'
  const T = 84 // 'T'
  return {
    name: "onednn",
    path: opened.path,
    detail: `isa ${dnnlIsa[isa] ?? `0x${isa.toString(16)}`}`,
    sgemm: (transA, transB, m, n, k, a, lda, b, ldb, c, ldc) => {
      const status = dnnl_sgemm(
        transA ? T : N,
        transB ? T : N,
        m,
        n,
        k,
        1,
        a as Pointer,
        lda,
        b as Pointer,
        ldb,
        0,
        c as Pointer,
        ldc,
      )
      // Only invalid arguments fail (dnnl_invalid_arguments); the kernel checks them first.
      if (status !== 0)
        throw new Error(`dnnl_sgemm failed with status ${status} for m ${m}, n ${n}, k ${k}`)
    },
    setThreads: (threads) => {
      if (typeof omp === "string") return false
      omp.lib.symbols.omp_set_num_threads(threads)
      return true
    },
    threads: () => (typeof omp === "string" ? undefined : omp.lib.symbols.omp_get_max_threads()),
  }
}

const cblasSymbols = {
  // void cblas_sgemm(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, int M, N, K, float alpha,
  //   const float *A, int lda, const float *B, int ldb, float beta, float *C, int ldc)
  cblas_sgemm: {
    args: [
      FFIType.i32,
      FFIType.i32,
      FFIType.i32,
      FFIType.i32,
      FFIType.i32,
      FFIType.i32,
      FFIType.f32,
      FFIType.ptr,
      FFIType.i32,
      FFIType.ptr,
      FFIType.i32,
      FFIType.f32,
      FFIType.ptr,
      FFIType.i32,
    ],
    returns: FFIType.void,
  },
} as const

const CblasRowMajor = 101
const CblasNoTrans = 111
const CblasTrans = 112

type CblasSgemm = (
  order: number,
  transA: number,
  transB: number,
  m: number,
  n: number,
  k: number,
  alpha: number,
  a: Pointer,
  lda: number,
  b: Pointer,
  ldb: number,
  beta: number,
  c: Pointer,
  ldc: number,
) => void

const cblasSgemm =
  (f: CblasSgemm): NativeBlas["sgemm"] =>
  (transA, transB, m, n, k, a, lda, b, ldb, c, ldc) =>
    f(
      CblasRowMajor,
      transA ? CblasTrans : CblasNoTrans,
      transB ? CblasTrans : CblasNoTrans,
      m,
      n,
      k,
      1,
      a as Pointer,
      lda,
      b as Pointer,
      ldb,
      0,
      c as Pointer,
      ldc,
    )

const loadOpenBlas = (): NativeBlas | string => {
  const opened = openFirst(candidates.openblas, {
    ...cblasSymbols,
    openblas_set_num_threads: { args: [FFIType.i32], returns: FFIType.void },
    openblas_get_num_threads: { args: [], returns: FFIType.i32 },
    openblas_get_config: { args: [], returns: FFIType.cstring },
  })
  if (typeof opened === "string") return opened
  const s = opened.lib.symbols
  return {
    name: "openblas",
    path: opened.path,
    detail: String(s.openblas_get_config()),
    sgemm: cblasSgemm(s.cblas_sgemm),
    setThreads: (threads) => {
      s.openblas_set_num_threads(threads)
      return true
    },
    threads: () => s.openblas_get_num_threads(),
  }
}

/** Untested: no macOS machine was available (see the module comment). */
const loadAccelerate = (): NativeBlas | string => {
  if (process.platform !== "darwin") return "Accelerate exists only on macOS"
  const opened = openFirst(candidates.accelerate, cblasSymbols)
  if (typeof opened === "string") return opened
  return {
    name: "accelerate",
    path: opened.path,
    detail: "",
    sgemm: cblasSgemm(opened.lib.symbols.cblas_sgemm),
    // Accelerate reads VECLIB_MAXIMUM_THREADS at load time only.
    setThreads: () => false,
    threads: () => undefined,
  }
}

const loaders: Record<BlasName, () => NativeBlas | string> = {
  onednn: loadOneDnn,
  openblas: loadOpenBlas,
  accelerate: loadAccelerate,
}

const loaded = new Map<BlasName, NativeBlas | string>()

/** The library, opened once per process; a string says why it cannot be. */
export const openBlas = (name: BlasName): NativeBlas | string => {
  let entry = loaded.get(name)
  if (entry === undefined) {
    try {
      entry = loaders[name]()
    } catch (error) {
      entry = firstLine(error)
    }
    loaded.set(name, entry)
  }
  return entry
}

/** Which libraries load here, with the reason for each that does not. */
export const detectBlas = (): ReadonlyArray<{ name: BlasName; found: NativeBlas | string }> =>
  blasOrder.map((name) => ({ name, found: openBlas(name) }))

/** Parses a BLAS choice, e.g. from a flag or the environment. */
export const parseBlasChoice = (
  source: string,
  value: string,
): Effect.Effect<BlasChoice, UnknownBlas> =>
  (blasChoices as ReadonlyArray<string>).includes(value)
    ? Effect.succeed(value as BlasChoice)
    : Effect.fail(new UnknownBlas({ source, value }))

/** The choice of the option, else of `CAUSALD_BLAS`, else `auto`. */
export const resolveBlasChoice = (option?: BlasChoice): Effect.Effect<BlasChoice, UnknownBlas> => {
  if (option !== undefined) return parseBlasChoice("blas option", option)
  const fromEnv = process.env[BLAS_ENV]
  return fromEnv === undefined || fromEnv === ""
    ? Effect.succeed("auto")
    : parseBlasChoice(BLAS_ENV, fromEnv)
}

/** Parses a thread count of the native library. */
export const parseBlasThreads = (
  source: string,
  value: string,
): Effect.Effect<number, InvalidBlasThreads> => {
  const n = Number(value)
  return /^\s*\d+\s*$/.test(value) && n >= 1 && n <= 256
    ? Effect.succeed(n)
    : Effect.fail(new InvalidBlasThreads({ source, value }))
}

/**
 * One thread unless asked for more, as for the wasm threads (`WasmThreads.ts`): a run's
 * configuration must not depend on the machine or its momentary load. What 2 threads gave on a
 * 2-core machine: bench/NOTES.md, "Native matrix products".
 */
export const defaultBlasThreads = (): number => 1

/** The thread count of the option, else of `CAUSALD_BLAS_THREADS`, else {@link defaultBlasThreads}. */
export const resolveBlasThreads = (option?: number): Effect.Effect<number, InvalidBlasThreads> => {
  if (option !== undefined) return parseBlasThreads("blasThreads option", String(option))
  const fromEnv = process.env[BLAS_THREADS_ENV]
  return fromEnv === undefined || fromEnv === ""
    ? Effect.succeed(defaultBlasThreads())
    : parseBlasThreads(BLAS_THREADS_ENV, fromEnv)
}

/**
 * The library a choice names: `none` gives undefined, `auto` the first of {@link blasOrder} that
 * loads (undefined when none does), a name that library or a {@link BlasUnavailable}.
 */
export const selectBlas = (
  choice: BlasChoice,
): Effect.Effect<NativeBlas | undefined, BlasUnavailable> => {
  if (choice === "none") return Effect.succeed(undefined)
  if (choice === "auto") {
    for (const name of blasOrder) {
      const found = openBlas(name)
      if (typeof found !== "string") return Effect.succeed(found)
    }
    return Effect.succeed(undefined)
  }
  const found = openBlas(choice)
  return typeof found === "string"
    ? Effect.fail(new BlasUnavailable({ library: choice, reason: found }))
    : Effect.succeed(found)
}
