/**
 * The conformance suite of `@causald/core/testing`, run against every TensorFlow.js backend
 * available here: cpu and wasm always, wasm with each native BLAS of its matrix products that is
 * installed (wasm+onednn, wasm+openblas, wasm+accelerate: `src/native/Blas.ts`), tensorflow
 * (libtensorflow through tfjs-node) when it is installed. A combination that is missing is
 * printed and its cases are skipped. tfjs has one active backend at a time, so each block
 * switches to its backend first and the tests of this file run one after another (bun runs a
 * file's tests sequentially).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import type { TensorBackend } from "@causald/core"
import {
  assertAgree,
  conformanceCases,
  crossBackendCases,
  type NdArray,
} from "@causald/core/testing"
import { Effect, Result } from "effect"
import {
  type BlasName,
  blasOrder,
  fusedKernelOptions,
  startBackend,
  WASM_THREADS_ENV,
} from "../src/index.ts"

/** A backend to test: the tfjs backend and, on wasm, the native BLAS of its products. */
interface Combination {
  /** What the backend reports as its name. */
  readonly name: string
  readonly tfjs: "cpu" | "wasm" | "tensorflow"
  readonly blas?: BlasName | "none"
  readonly skip?: string
}

// wasm runs the threaded binary (2 threads, a SharedArrayBuffer-backed heap) unless
// CAUSALD_WASM_THREADS says otherwise: `CAUSALD_WASM_THREADS=1` runs the single-threaded one.
const wasmOptions = process.env[WASM_THREADS_ENV] ? {} : { wasmThreads: 2 }

const startEffect = (c: Combination) =>
  startBackend(c.tfjs, c.tfjs === "wasm" ? { ...wasmOptions, blas: c.blas ?? "none" } : {})

const start = (c: Combination): Promise<TensorBackend> => Effect.runPromise(startEffect(c))

/** Whether a backend starts here, and why not; tries it once (this also switches to it). */
const probe = async (c: Combination): Promise<string | undefined> => {
  const result = await Effect.runPromise(Effect.result(startEffect(c)))
  return Result.isSuccess(result) ? undefined : result.failure.message
}

/** cpu and plain wasm must start (a failure is a test failure); the others are optional. */
const optional = async (c: Combination): Promise<Combination> => {
  const reason = await probe(c)
  if (reason !== undefined) console.log(`[conformance] SKIP backend ${c.name}: ${reason}`)
  return reason === undefined ? c : { ...c, skip: reason }
}

// Probed one after another: each start switches tfjs's one active backend.
const backends: Array<Combination> = [
  { name: "cpu", tfjs: "cpu" },
  { name: "wasm", tfjs: "wasm", blas: "none" },
]
for (const blas of blasOrder)
  backends.push(await optional({ name: `wasm+${blas}`, tfjs: "wasm", blas }))
backends.push(await optional({ name: "tensorflow", tfjs: "tensorflow" }))

for (const combination of backends) {
  const { name, skip } = combination
  describe(name, () => {
    if (skip !== undefined) {
      for (const c of conformanceCases) test.skip(c.name, () => {})
      return
    }
    let backend: TensorBackend
    let started = 0
    beforeAll(async () => {
      backend = await start(combination)
      started = performance.now()
    })
    afterAll(() => {
      const seconds = (performance.now() - started) / 1000
      console.log(
        `[conformance] ${name}: ${conformanceCases.length} cases in ${seconds.toFixed(1)} s`,
      )
    })
    test("the backend reports its name", () => {
      // wasm's name also says whether the fused kernels run (CAUSALD_FUSED): all of them, +fused2
      expect(backend.name).toBe(
        combination.tfjs === "wasm" && fusedKernelOptions.enabled ? `${name}+fused2` : name,
      )
    })
    for (const c of conformanceCases) test(c.name, () => c.run(backend))
  })
}

// Backends compared with each other: every available one against cpu, each computed in turn.
const compared = backends.filter((b) => b.skip === undefined)

describe("across backends", () => {
  for (const c of crossBackendCases)
    test(`${c.name}: ${compared
      .slice(1)
      .map((b) => b.name)
      .join(", ")} match cpu to ${c.tolerance.atol}`, async () => {
      const results: Array<readonly [string, ReadonlyArray<NdArray>]> = []
      for (const b of compared) results.push([b.name, c.compute(await start(b))])
      const [reference, ...others] = results
      expect(others.length).toBeGreaterThan(0)
      for (const [name, values] of others)
        assertAgree(`${c.name}: ${name} vs ${reference![0]}`, reference![1], values, c.tolerance)
    })
})
