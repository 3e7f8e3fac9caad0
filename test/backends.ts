/**
 * Runs a block of tests once per tensor backend available here, jax-js style: cpu and wasm
 * always; tensorflow when @tensorflow/tfjs-node(-gpu) is installed.
 */
import { beforeAll, describe } from "bun:test"
import type { TensorBackend } from "@causald/core"
import { startBackend } from "@causald/tfjs"
import { Effect, Exit } from "effect"

const candidates = ["cpu", "wasm", "tensorflow"] as const

const available = await (async () => {
  const found: Array<(typeof candidates)[number]> = []
  for (const name of candidates) {
    const exit = await Effect.runPromiseExit(startBackend(name))
    if (Exit.isSuccess(exit)) found.push(name)
    else if (name === "tensorflow")
      console.log("tensorflow backend not installed: its tests are skipped here")
  }
  return found
})()

/** The backends the tests run on. */
export const testBackends: ReadonlyArray<string> = available

/** `describe(title [backend])` for each backend; `backend()` inside returns the active one. */
export const describeEachBackend = (
  title: string,
  body: (backend: () => TensorBackend) => void,
): void => {
  for (const name of available) {
    describe(`${title} [${name}]`, () => {
      let active: TensorBackend | undefined
      beforeAll(async () => {
        active = await Effect.runPromise(startBackend(name))
      })
      body(() => {
        if (active === undefined) throw new Error(`backend ${name} was not started`)
        return active
      })
    })
  }
}
