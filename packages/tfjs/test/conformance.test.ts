/**
 * The conformance suite of `@causald/core/testing`, run against every TensorFlow.js backend
 * available here: cpu and wasm always, tensorflow (libtensorflow through tfjs-node) when it is
 * installed. tfjs has one active backend at a time, so each block switches to its backend first
 * and the tests of this file run one after another (bun runs a file's tests sequentially).
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
import { startBackend, WASM_THREADS_ENV } from "../src/index.ts"

type Name = "cpu" | "wasm" | "tensorflow"

// wasm runs the threaded binary (2 threads, a SharedArrayBuffer-backed heap) unless
// CAUSALD_WASM_THREADS says otherwise: `CAUSALD_WASM_THREADS=1` runs the single-threaded one.
const wasmOptions = process.env[WASM_THREADS_ENV] ? {} : { wasmThreads: 2 }

const start = (name: Name): Promise<TensorBackend> =>
  Effect.runPromise(startBackend(name, wasmOptions))

/** Whether a backend starts here, and why not; tries it once (this also switches to it). */
const probe = async (name: Name): Promise<string | undefined> => {
  const result = await Effect.runPromise(Effect.result(startBackend(name, wasmOptions)))
  return Result.isSuccess(result) ? undefined : result.failure.message
}

// cpu and wasm must start (a failure is a test failure); tensorflow is optional.
const tensorflowUnavailable = await probe("tensorflow")
if (tensorflowUnavailable !== undefined)
  console.log(`[conformance] SKIP backend tensorflow: ${tensorflowUnavailable}`)

const backends: ReadonlyArray<{ readonly name: Name; readonly skip?: string }> = [
  { name: "cpu" },
  { name: "wasm" },
  tensorflowUnavailable === undefined
    ? { name: "tensorflow" }
    : { name: "tensorflow", skip: tensorflowUnavailable },
]

for (const { name, skip } of backends) {
  describe(name, () => {
    if (skip !== undefined) {
      for (const c of conformanceCases) test.skip(c.name, () => {})
      return
    }
    let backend: TensorBackend
    let started = 0
    beforeAll(async () => {
      backend = await start(name)
      started = performance.now()
    })
    afterAll(() => {
      const seconds = (performance.now() - started) / 1000
      console.log(
        `[conformance] ${name}: ${conformanceCases.length} cases in ${seconds.toFixed(1)} s`,
      )
    })
    test("the backend reports its name", () => {
      expect(backend.name).toBe(name)
    })
    for (const c of conformanceCases) test(c.name, () => c.run(backend))
  })
}

// Backends compared with each other: every available one against cpu, each computed in turn.
const compared = backends.filter((b) => b.skip === undefined).map((b) => b.name)

describe("across backends", () => {
  for (const c of crossBackendCases)
    test(`${c.name}: ${compared.slice(1).join(", ")} match cpu to ${c.tolerance.atol}`, async () => {
      const results: Array<readonly [Name, ReadonlyArray<NdArray>]> = []
      for (const name of compared) results.push([name, c.compute(await start(name))])
      const [reference, ...others] = results
      expect(others.length).toBeGreaterThan(0)
      for (const [name, values] of others)
        assertAgree(`${c.name}: ${name} vs ${reference![0]}`, reference![1], values, c.tolerance)
    })
})
