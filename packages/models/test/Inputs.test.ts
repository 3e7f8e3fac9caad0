/**
 * Batch conversion and candidate scoring on every backend.
 */
import { expect, test } from "bun:test"
import { Random, type TensorBackend } from "@causald/core"
import { describeEachBackend } from "../../../test/backends.ts"
import { DeepFm, Din, forInference, Inputs, InvalidBatch, type Recommender } from "../src/index.ts"
import {
  maxAbsDiff,
  score,
  smallDeepFm,
  smallDin,
  syntheticBatch,
  trainStep,
  vocabulary,
} from "./fixtures.ts"

/** An evaluation batch: `users` users with a history each and `C` candidates. */
const candidateBatch = (
  seed: number,
  users: number,
  L: number,
  C: number,
): Inputs.CandidateBatch => {
  const rng = Random.generator(seed)
  const rows = syntheticBatch(rng, users * 2, L)
  const pick = (a: Int32Array, width: number) => {
    const out = new Int32Array(users * width)
    for (let u = 0; u < users; u++)
      out.set(a.subarray(2 * u * width, 2 * u * width + width), u * width)
    return out
  }
  const candidates = new Int32Array(users * C)
  for (let i = 0; i < candidates.length; i++)
    candidates[i] = Random.integer(rng, 1, vocabulary.numItems)
  return {
    size: users,
    candidatesPerUser: C,
    user: pick(rows.user, 1),
    history: pick(rows.history, L),
    historyLength: pick(rows.historyLength, 1),
    candidates,
  }
}

/** Scores of each (user, candidate) computed one row per forward pass. */
const rowByRow = (
  b: TensorBackend,
  model: Recommender,
  batch: Inputs.CandidateBatch,
): Float32Array => {
  const C = batch.candidatesPerUser
  const L = batch.history.length / batch.size
  const out = new Float32Array(batch.size * C)
  for (let u = 0; u < batch.size; u++)
    for (let c = 0; c < C; c++) {
      const single: Inputs.RowBatch = {
        user: batch.user.subarray(u, u + 1),
        history: batch.history.subarray(u * L, u * L + L),
        historyLength: batch.historyLength.subarray(u, u + 1),
        item: batch.candidates.subarray(u * C + c, u * C + c + 1),
      }
      out[u * C + c] = score(b, forInference(model), single)[0]!
    }
  return out
}

describeEachBackend("Inputs", (backend) => {
  test("toInputs: shapes, dtypes, the mask from the lengths, and copies of the arrays", () => {
    const b = backend()
    const batch = syntheticBatch(Random.generator(1), 6, 4)
    const expectedHistory = Array.from(batch.history)
    b.tidy(() => {
      const inputs = Inputs.toInputs(b, batch, vocabulary)
      expect(inputs.user.shape).toEqual([6])
      expect(inputs.history.shape).toEqual([6, 4])
      expect(inputs.history.dtype).toBe("int32")
      expect(inputs.item.dtype).toBe("int32")
      expect(inputs.historyMask.dtype).toBe("float32")
      const mask = b.read(inputs.historyMask)
      for (let r = 0; r < 6; r++)
        for (let j = 0; j < 4; j++)
          expect(mask[r * 4 + j]).toBe(j < batch.historyLength[r]! ? 1 : 0)
      const onDevice = b.read(Inputs.historyMaskOnDevice(b, batch.historyLength, 4))
      expect(Array.from(onDevice)).toEqual(Array.from(mask))
      // Refilling the batch (reuseBuffers) must not change live tensors nor the host lengths.
      const expectedLengths = Array.from(batch.historyLength)
      batch.history.fill(3)
      batch.historyLength.fill(0)
      expect(Array.from(b.read(inputs.history))).toEqual(expectedHistory)
      expect(Array.from(inputs.historyLength ?? [])).toEqual(expectedLengths)
    })
  })

  test("toInputs: inconsistent batches are typed errors naming the field", () => {
    const b = backend()
    const batch = syntheticBatch(Random.generator(2), 4, 3)
    expect(() => Inputs.toInputs(b, { ...batch, item: batch.item.subarray(0, 3) })).toThrow(
      InvalidBatch,
    )
    expect(() => Inputs.toInputs(b, { ...batch, history: batch.history.subarray(0, 10) })).toThrow(
      /history/,
    )
    expect(() =>
      Inputs.toInputs(b, { ...batch, historyLength: Int32Array.of(1, 2, 4, 1) }),
    ).toThrow(/historyLength\[2\]/)
    const bad = batch.item.slice()
    bad[1] = vocabulary.numItems + 1
    expect(() => Inputs.toInputs(b, { ...batch, item: bad }, vocabulary)).toThrow(/item\[1\]/)
    const padded = batch.history.slice()
    padded[0] = 0
    expect(() => Inputs.toInputs(b, { ...batch, history: padded }, vocabulary)).toThrow(
      /history\[0\]/,
    )
  })

  test("scoreCandidates equals scoring row by row, for any chunk size, without leaking", () => {
    const b = backend()
    const rng = Random.generator(8)
    const din = Din.make(b, vocabulary, smallDin, 1)
    const dice = Din.make(
      b,
      vocabulary,
      { ...smallDin, attentionActivation: "dice", predictorActivation: "dice" },
      2,
    )
    const deepFm = DeepFm.make(b, vocabulary, smallDeepFm, 3)
    const softmax = Din.make(b, vocabulary, { ...smallDin, attentionNormalization: "softmax" }, 4)
    const models: Array<Recommender> = [din, dice, deepFm, softmax]
    // A few training steps so that Dice's running statistics are not their initial values.
    for (const model of models) {
      const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.1 })
      for (let i = 0; i < 3; i++) trainStep(b, model, optimizer, syntheticBatch(rng, 32, 5))
      optimizer.dispose()
    }
    // user 3 without history; lengths vary, so chunks are sorted and trimmed
    const batch = candidateBatch(5, 7, 5, 4)
    batch.historyLength[3] = 0
    batch.history.fill(0, 3 * 5, 4 * 5)
    for (const model of models) {
      const expected = rowByRow(b, model, batch)
      for (const rowsPerChunk of [1, 7, 4096]) {
        const live = b.liveTensors()
        const scores = Inputs.scoreCandidates(b, model, batch, { rowsPerChunk, vocabulary })
        expect(b.liveTensors()).toBe(live)
        expect(scores.length).toBe(7 * 4)
        expect(maxAbsDiff(scores, expected)).toBeLessThan(1e-5)
      }
    }
    b.dispose([
      ...din.parameters,
      ...dice.parameters,
      ...dice.buffers,
      ...deepFm.parameters,
      ...softmax.parameters,
    ])
  })

  test("scoreCandidates: an inconsistent batch is a typed error", () => {
    const b = backend()
    const model = DeepFm.make(b, vocabulary, smallDeepFm, 3)
    const batch = candidateBatch(5, 3, 4, 2)
    expect(() =>
      Inputs.scoreCandidates(b, model, { ...batch, candidates: batch.candidates.subarray(1) }),
    ).toThrow(/candidates/)
    expect(() => Inputs.scoreCandidates(b, model, batch, { rowsPerChunk: 0 })).toThrow(
      /rowsPerChunk/,
    )
    b.dispose(model.parameters)
  })
})
