/**
 * The ONNX export on small trained runs (DIN with its CausalD student, and DeepFM): ONNX Runtime
 * (`onnxruntime-node`, CPU) scores 1,000 histories' candidates as the project does, within 1e-5.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Tensors } from "@causald/core"
import { Batches } from "@causald/data"
import { Inputs } from "@causald/models"
import { Effect, Option } from "effect"
import * as ort from "onnxruntime-node"
import { openModel } from "../src/Cli.ts"
import { exportModel } from "../src/Export.ts"
import { recommendRows } from "../src/Recommend.ts"
import { failureOf, runEffect, runUse, tempFolder, trainRun } from "./fixture.ts"

const temp = tempFolder("causald-use-onnx-")
const dinRun = join(temp.dir, "din")
const deepFmRun = join(temp.dir, "deepfm")
afterAll(temp.remove)
beforeAll(async () => {
  await trainRun(dinRun, "din,causald")
  await trainRun(deepFmRun, "deepfm", ["--base", "deepfm"])
}, 180_000)

const ROWS = 1000

/**
 * 1,000 rows of the run's test split (users repeated), each history cut to its own length (1 to
 * all of it), with the user's 1 + N test candidates: scored by the project and by ONNX Runtime.
 */
const compare = async (run: string, method: string) => {
  const output = join(temp.dir, `${method}.onnx`)
  await runEffect(
    exportModel({
      run,
      method,
      seed: Option.none(),
      format: "onnx",
      output: Option.some(output),
    }),
  )
  const { ours, batch } = await runEffect(
    Effect.gen(function* () {
      const { run: opened, loaded } = yield* openModel({ run, method, seed: Option.none() })
      const backend = yield* Tensors
      const test = [...Batches.evaluationBatches(opened.data, "test", { batchSize: 1 << 20 })][0]!
      const L = test.history.length / test.size
      const C = test.candidatesPerUser
      const batch: Inputs.CandidateBatch = {
        size: ROWS,
        candidatesPerUser: C,
        user: new Int32Array(ROWS),
        history: new Int32Array(ROWS * L),
        historyLength: new Int32Array(ROWS),
        candidates: new Int32Array(ROWS * C),
      }
      for (let r = 0; r < ROWS; r++) {
        const u = r % test.size
        const n = 1 + ((r * 7) % test.historyLength[u]!)
        ;(batch.user as Int32Array)[r] = test.user[u]!
        ;(batch.historyLength as Int32Array)[r] = n
        ;(batch.history as Int32Array).set(test.history.subarray(u * L, u * L + n), r * L)
        ;(batch.candidates as Int32Array).set(test.candidates.subarray(u * C, u * C + C), r * C)
      }
      const ours = Inputs.scoreCandidates(backend, loaded.model, batch)
      loaded.dispose()
      return { ours, batch }
    }),
  )
  const session = await ort.InferenceSession.create(output)
  const L = batch.history.length / ROWS
  const C = batch.candidatesPerUser
  const int64 = (a: Int32Array) => BigInt64Array.from(a, (x) => BigInt(x))
  const result = await session.run({
    user: new ort.Tensor("int64", int64(batch.user), [ROWS]),
    history: new ort.Tensor("int64", int64(batch.history), [ROWS, L]),
    candidates: new ort.Tensor("int64", int64(batch.candidates), [ROWS, C]),
  })
  const scores = result.scores!
  expect(scores.dims).toEqual([ROWS, C])
  const theirs = scores.data as Float32Array
  let largest = 0
  let spread = 0
  for (let i = 0; i < ours.length; i++) {
    largest = Math.max(largest, Math.abs(ours[i]! - theirs[i]!))
    spread = Math.max(spread, Math.abs(ours[i]! - ours[0]!))
  }
  await session.release()
  return { largest, spread, output, rows: ours.length }
}

describe("export --format onnx", () => {
  test("DIN, the CausalD student: ONNX Runtime's scores equal the project's within 1e-5", async () => {
    const { largest, spread, output, rows } = await compare(dinRun, "causald")
    expect(rows).toBe(ROWS * 51)
    expect(spread).toBeGreaterThan(1e-3) // the scores differ from row to row
    expect(largest).toBeLessThan(1e-5)
    const about = JSON.parse(readFileSync(`${output}.json`, "utf8"))
    expect(about.model).toBe("din")
    expect(about.method).toBe("causald")
    expect(about.inputs.map((i: { name: string }) => i.name)).toEqual([
      "user",
      "history",
      "candidates",
    ])
    expect(about.outputs[0].name).toBe("scores")
    expect(about.itemIds.length).toBe(81)
    expect(about.dataFingerprint).toBe(
      JSON.parse(readFileSync(join(dinRun, "fingerprint.json"), "utf8")).data,
    )
  }, 60_000)

  test("DeepFM: ONNX Runtime's scores equal the project's within 1e-5", async () => {
    const { largest, spread } = await compare(deepFmRun, "deepfm")
    expect(spread).toBeGreaterThan(1e-3)
    expect(largest).toBeLessThan(1e-5)
  }, 60_000)

  test("bad input: one line naming the method or flag", async () => {
    const failure = await failureOf(
      exportModel({
        run: dinRun,
        method: "kd",
        seed: Option.none(),
        format: "onnx",
        output: Option.none(),
      }),
    )
    expect(failure.message).toContain("--method kd:")
    // a DeepFM model reads the user id: a raw history alone is refused
    const userless = await failureOf(
      recommendRows({
        run: deepFmRun,
        method: "deepfm",
        seed: Option.none(),
        user: Option.none(),
        usersFile: Option.none(),
        userRange: Option.none(),
        history: Option.some("i1,i2"),
        k: 5,
        format: Option.none(),
        output: Option.none(),
      }),
    )
    expect(userless.message).toContain("--history: a deepfm model reads the user id too")
    const bad = await runUse("export-main.ts", ["--run", dinRun, "--format", "tflite"])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain("export:")
    expect(bad.stderr).toContain("--format")
    expect(bad.stderr).not.toContain("    at ")
  }, 60_000)
})
