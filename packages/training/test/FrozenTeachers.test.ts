/**
 * The frozen teachers' outputs shared by CausalD and the distillation baselines: with the
 * positive cache and history-length chunks they must equal the teachers' own encoders and
 * predictors run on the whole batch, and after the first epoch only negatives may run the
 * teachers, on every backend.
 */
import { expect, test } from "bun:test"
import { Random } from "@causald/core"
import { Batches, Simulated } from "@causald/data"
import { Din, forInference, Inputs } from "@causald/models"
import { describeEachBackend } from "../../../test/backends.ts"
import * as FrozenTeachers from "../src/FrozenTeachers.ts"
import { counting, maxDiff } from "./teachers.ts"

const data = Simulated.simulate({
  users: 30,
  items: 60,
  minLength: 6,
  maxLength: 12,
  seed: 5,
  historyLength: 6,
  candidates: 10,
})
const vocabulary = { numUsers: data.numUsers, numItems: data.numItems }
const K = 3
const d = 8
const din = { attentionHidden: [16, 8], predictorHidden: [16] }

describeEachBackend("FrozenTeachers", (backend) => {
  test("mediators and logits equal the teachers on the whole batch; epoch 2 runs only negatives", () => {
    const b = backend()
    const dins = Array.from({ length: K }, (_, k) => Din.make(b, vocabulary, din, 60 + k))
    // `cached` encodes by the teachers' pair tables (the default), `uncached` by their forward
    // pass: both are checked against the teachers run directly
    const rows: { count: number; tables?: number } = { count: 0 }
    const uncachedRows: { count: number; tables?: number } = { count: 0 }
    const cached = FrozenTeachers.make(
      b,
      dins.map((t) => counting(t, rows)),
      { logits: true, chunkOverhead: 0 },
    )
    const uncached = FrozenTeachers.make(
      b,
      dins.map((t) => counting(t, uncachedRows)),
      { logits: true, cachePositives: false, pairTables: false },
    )
    const mediatorsOnly = FrozenTeachers.make(b, dins)
    const live = b.liveTensors()
    let worst = 0
    let allRows = 0
    for (let epoch = 1; epoch <= 2; epoch++) {
      const before = rows.count
      let negatives = 0
      let batchRows = 0
      for (const batch of Batches.trainingBatches(data, {
        batchSize: 24,
        negatives: 2,
        epochSeed: 10 + epoch,
      })) {
        negatives += batch.size - batch.positives
        batchRows += batch.size
        b.tidy(() => {
          const context = {
            inputs: Inputs.toInputs(b, batch),
            batch,
            labels: b.tensor(batch.label, [batch.size]),
            rng: Random.generator(epoch),
            epoch: 1,
          }
          const B = batch.size
          const mediators = new Float32Array(K * B * d)
          const logits = new Float32Array(K * B)
          dins.forEach((t, k) => {
            const teacher = forInference(t)
            const m = teacher.encode(context.inputs)
            mediators.set(b.read(m) as Float32Array, k * B * d)
            logits.set(b.read(teacher.predict(m, context.inputs)) as Float32Array, k * B)
          })
          const a = cached.outputs(context)
          const c = uncached.outputs(context)
          const m = mediatorsOnly.outputs(context)
          expect(a.mediators.shape).toEqual([K, B, d])
          expect(a.logits.shape).toEqual([K, B])
          expect("logits" in m).toBe(false)
          worst = Math.max(
            worst,
            maxDiff(b.read(a.mediators), mediators),
            maxDiff(b.read(a.logits), logits),
            maxDiff(b.read(c.mediators), mediators),
            maxDiff(b.read(c.logits), logits),
            maxDiff(b.read(m.mediators), mediators),
          )
        })
      }
      // each teacher: every row in epoch 1 (positives enter the cache), only the negatives in epoch 2
      expect(rows.count - before).toBe(K * (epoch === 1 ? batchRows : negatives))
      expect(negatives).toBeLessThan(batchRows)
      allRows += batchRows
      expect(b.liveTensors()).toBe(live)
    }
    expect(uncachedRows.count).toBe(K * allRows)
    expect(rows.tables).toBe(rows.count) // every row by the tables
    expect(uncachedRows.tables).toBeUndefined() // none
    expect(cached.cachedPositives()).toBe(Batches.trainingPositiveCount(data))
    expect(uncached.cachedPositives()).toBe(0)
    expect(worst).toBeLessThanOrEqual(1e-6)
    // a table over the size limit is not built: the forward pass runs instead, same outputs
    const overLimit: { count: number; tables?: number } = { count: 0 }
    const small = FrozenTeachers.make(
      b,
      dins.map((t) => counting(t, overLimit)),
      { maxTableCells: 10 },
    )
    const batch = Batches.trainingBatches(data, {
      batchSize: 24,
      negatives: 2,
      epochSeed: 3,
    }).next().value as Batches.TrainingBatch
    b.tidy(() => {
      const context = {
        inputs: Inputs.toInputs(b, batch),
        batch,
        labels: b.tensor(batch.label, [batch.size]),
        rng: Random.generator(1),
        epoch: 1,
      }
      const expected = b.read(mediatorsOnly.outputs(context).mediators)
      expect(maxDiff(b.read(small.outputs(context).mediators), expected)).toBeLessThanOrEqual(1e-6)
    })
    expect(overLimit.count).toBe(K * batch.size)
    expect(overLimit.tables).toBeUndefined()
    for (const m of dins) b.dispose([...m.parameters, ...m.buffers])
  })
})
