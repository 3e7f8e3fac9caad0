/**
 * Whole-heap views of the `wasm` backend, for kernels that copy between tensors without creating
 * a typed-array view per row.
 *
 * Why: JavaScriptCore keeps every view of the (growable) wasm memory alive until a full garbage
 * collection, about 1 KB each, and the stock Concat / Slice kernels create one per row and input
 * (16,500 per DIN training step at batch 4096), so the resident set grew from step to step until a
 * full collection (observed when the kernel was written, not recorded: bench/NOTES.md, "CausalD
 * memory"). Copies here use one cached view of
 * the whole heap per dtype and `copyWithin` at element offsets.
 *
 * @module
 */
import { ptr } from "bun:ffi"
import type { DataType, TensorInfo } from "@tensorflow/tfjs-core"

/** The slice of the wasm backend (`BackendWasm`) these helpers use. */
export interface WasmHeapBackend {
  readonly wasm: { readonly HEAPU8: Uint8Array }
  readonly dataIdMap: { get(dataId: object): { memoryOffset: number } | undefined }
  makeOutput(shape: number[], dtype: DataType): TensorInfo
  incRef(dataId: object): void
}

export type HeapView = Float32Array | Int32Array | Uint8Array

let cached: {
  buffer: ArrayBufferLike
  float32: Float32Array
  int32: Int32Array
  bool: Uint8Array
  /** The heap's native address (bun:ffi), taken on first use. */
  address: number | undefined
} | null = null

const refresh = (backend: WasmHeapBackend): NonNullable<typeof cached> => {
  const buffer = backend.wasm.HEAPU8.buffer
  if (cached === null || cached.buffer !== buffer)
    cached = {
      buffer,
      float32: new Float32Array(buffer),
      int32: new Int32Array(buffer),
      bool: new Uint8Array(buffer),
      address: undefined,
    }
  return cached
}

/** A view of the whole heap for `dtype` (re-created after the heap grew). */
export const heapView = (backend: WasmHeapBackend, dtype: DataType): HeapView => {
  const views = refresh(backend)
  if (dtype === "float32") return views.float32
  if (dtype === "int32") return views.int32
  if (dtype === "bool") return views.bool
  throw new Error(`no wasm heap view for dtype ${dtype}`)
}

/**
 * The native address of the heap's first byte, for native code that reads and writes tensors in
 * place (`NativeMatMul.ts`). Take it after allocating outputs: growing the heap may move it.
 */
export const heapAddress = (backend: WasmHeapBackend): number => {
  const views = refresh(backend)
  if (views.address === undefined) views.address = ptr(views.bool)
  return views.address
}

/** The element index of a tensor's first value in {@link heapView} of its dtype. */
export const heapIndex = (backend: WasmHeapBackend, info: TensorInfo): number => {
  const data = backend.dataIdMap.get(info.dataId)
  if (data === undefined) throw new Error("tensor data is not on the wasm heap")
  return data.memoryOffset / (info.dtype === "bool" ? 1 : 4)
}

/**
 * The backend's `WebAssembly.Memory`, for kernels assembled at start-up that read and write the
 * heap in place: exported by the SIMD binary, created in JS by the threaded one.
 */
export const wasmMemoryOf = (backend: unknown): WebAssembly.Memory | undefined => {
  const wasm = (backend as { wasm?: { asm?: { memory?: unknown }; wasmMemory?: unknown } }).wasm
  const memory = wasm?.asm?.memory ?? wasm?.wasmMemory
  return memory instanceof WebAssembly.Memory ? memory : undefined
}

/**
 * Assembles a kernel's WebAssembly text (`wat(shared)`: its memory import declared shared when
 * the backend's heap is a SharedArrayBuffer, the threaded binary) with `wabt`, and instantiates it
 * on the wasm backend's own memory (`env.memory`), so that the kernel reads and writes tensors in
 * place. Its exports, or the reason it could not be made, in one line.
 */
export const assembleOnHeap = async (
  backend: unknown,
  name: string,
  wat: (shared: boolean) => string,
): Promise<Record<string, unknown> | string> => {
  const memory = wasmMemoryOf(backend)
  if (memory === undefined) return "the wasm backend exposes no WebAssembly.Memory"
  try {
    const wabt = await (await import("wabt")).default()
    const shared =
      typeof SharedArrayBuffer !== "undefined" && memory.buffer instanceof SharedArrayBuffer
    const parsed = wabt.parseWat(name, wat(shared), {
      simd: true,
      bulk_memory: true,
      threads: shared,
    })
    try {
      const { buffer } = parsed.toBinary({})
      return new WebAssembly.Instance(new WebAssembly.Module(buffer), { env: { memory } }).exports
    } finally {
      parsed.destroy()
    }
  } catch (error) {
    return String(error).split("\n")[0]!
  }
}

/** heap[dst .. dst + n) = heap[src .. src + n), element by element for short runs. */
export const copyRun = (heap: HeapView, dst: number, src: number, n: number): void => {
  if (n <= 16) for (let j = 0; j < n; j++) heap[dst + j] = heap[src + j]!
  else heap.copyWithin(dst, src, src + n)
}

/**
 * A fused kernel's forward and backward passes, assembled on the wasm heap at start-up (once per
 * process) by {@link assembleOnHeap}. Each fused kernel module holds one; its `load`, `unload`
 * and `isLoaded` are the module's exports, and its kernel functions call `get` (they are
 * registered only after a successful load).
 */
export interface FusedKernelPair<Forward, Backward> {
  /** Resolves to a reason string when the kernels cannot be assembled, undefined on success. */
  readonly load: (backend: unknown) => Promise<string | undefined>
  /** Forgets the kernels (tests: the composition again). */
  readonly unload: () => void
  readonly isLoaded: () => boolean
  readonly get: () => { readonly forward: Forward; readonly backward: Backward }
}

/** The {@link FusedKernelPair} of the kernel `name`, from its text `wat` (`what` names it in a failure). */
export const fusedKernelPair = <Forward, Backward>(
  name: string,
  wat: (shared: boolean) => string,
  what: string,
): FusedKernelPair<Forward, Backward> => {
  let kernels: { forward: Forward; backward: Backward } | undefined
  return {
    load: async (backend) => {
      if (kernels !== undefined) return undefined
      const exports = await assembleOnHeap(backend, `${name}.wat`, wat)
      if (typeof exports === "string") return `the fused ${what} kernel did not load: ${exports}`
      kernels = {
        forward: exports["forward"] as Forward,
        backward: exports["backward"] as Backward,
      }
      return undefined
    },
    unload: () => {
      kernels = undefined
    },
    isLoaded: () => kernels !== undefined,
    get: () => {
      if (kernels === undefined) throw new Error(`${name}: the kernel is not loaded`)
      return kernels
    },
  }
}
