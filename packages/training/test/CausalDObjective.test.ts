/**
 * The CausalD objective's positive cache (`cachePositives`): frozen teachers' mediators of
 * positive rows are computed once and reused in later epochs. It must change nothing but the
 * cost: same teacher mediators, same losses, same training trajectory as running the teachers
 * on every row, on every backend.
 */
import { expect, test } from "bun:test"
import { Random, type Tensor, type TensorBackend } from "@causald/core"
import { Batches, Simulated } from "@causald/data"
import { Din, forInference, Inputs } from "@causald/models"
import { describeEachBackend } from "../../../test/backends.ts"
import {
  type CausalDConfig,
  causalD,
  defaultCausalDConfig,
  EXACT_LIMIT,
  exactLabelTooLarge,
} from "../src/CausalDObjective.ts"
import { InvalidObjectiveOption } from "../src/Errors.ts"
import type { BatchContext } from "../src/Objective.ts"
import { trainStep } from "../src/Train.ts"
import { counting, maxDiff } from "./teachers.ts"

const data = Simulated.simulate({
  users: 30,
  items: 60,
  minLength: 6,
  maxLength: 12,
  seed: 3,
  historyLength: 6,
  candidates: 10,
})
const vocabulary = { numUsers: data.numUsers, numItems: data.numItems }
const K = 3
/** A small DIN: the cache's exactness does not depend on the layer widths. */
const din = { attentionHidden: [16, 8], predictorHidden: [16] }
const batchOptions = (epoch: number): Batches.TrainingBatchOptions => ({
  batchSize: 24,
  negatives: 2,
  epochSeed: 100 + epoch,
})

const config = (cachePositives: boolean, teacherChunkOverhead?: number): CausalDConfig => ({
  ...defaultCausalDConfig,
  teacherPrior: Float32Array.of(0.5, 0.3, 0.2),
  partners: { _tag: "MonteCarlo", partners: 8 },
  cachePositives,
  ...(teacherChunkOverhead === undefined ? {} : { teacherChunkOverhead }),
})

const contextOf = (
  b: TensorBackend,
  batch: Batches.TrainingBatch,
  rngSeed: number,
): BatchContext => ({
  inputs: Inputs.toInputs(b, batch),
  batch,
  labels: b.tensor(batch.label, [batch.size]),
  rng: Random.generator(rngSeed),
  epoch: 1,
})

test("the exact label's [K, B, B, h] tensor is refused only above EXACT_LIMIT, naming its shape", () => {
  const h = defaultCausalDConfig.estimatorHidden[0]!
  const fits = Math.floor(Math.sqrt(EXACT_LIMIT / (4 * h)))
  expect(exactLabelTooLarge(4, fits, defaultCausalDConfig)).toBeNull()
  expect(exactLabelTooLarge(4, fits + 1, defaultCausalDConfig)).toContain(
    `[4, ${fits + 1}, ${fits + 1}, ${h}]`,
  )
  expect(exactLabelTooLarge(16, 512, defaultCausalDConfig)).not.toBeNull()
  expect(exactLabelTooLarge(15, 512, defaultCausalDConfig)).toBeNull()
})

describeEachBackend("CausalD positive cache", (backend) => {
  const setup = () => {
    const b = backend()
    const dins = Array.from({ length: K }, (_, k) => Din.make(b, vocabulary, din, 40 + k))
    const free = () => {
      for (const m of dins) b.dispose([...m.parameters, ...m.buffers])
    }
    return { b, dins, free }
  }

  test("same teacher mediators and losses on the same batches, and only negatives run the teachers after the first epoch", () => {
    const { b, dins, free } = setup()
    const student = Din.make(b, vocabulary, din, 7)
    const cachedRows = { count: 0 }
    const plainRows = { count: 0 }
    const cached = causalD(
      b,
      student,
      dins.map((t) => counting(t, cachedRows)),
      config(true, 0),
      1,
    )
    const plain = causalD(
      b,
      student,
      dins.map((t) => counting(t, plainRows)),
      config(false),
      1,
    )
    const positives = Batches.trainingPositiveCount(data)
    let worstLoss = 0
    let worstMediator = 0
    let losses = 0
    const live = b.liveTensors()
    for (let epoch = 1; epoch <= 2; epoch++) {
      const before = cachedRows.count
      let rows = 0
      let negatives = 0
      let step = 0
      for (const batch of Batches.trainingBatches(data, batchOptions(epoch))) {
        rows += batch.size
        negatives += batch.size - batch.positives
        step += 1
        const run = (objective: typeof cached) =>
          b.tidy(() => {
            const context = contextOf(b, batch, epoch * 1000 + step)
            const prepared = objective.prepare(context)
            const loss: Tensor = objective.loss(context, prepared)
            return { mediators: b.read(prepared.mediators), loss: b.read(loss)[0]! }
          })
        const withCache = run(cached)
        const without = run(plain)
        // the teachers' own encoders on the whole batch, at full history width
        const reference = b.tidy(() => {
          const inputs = Inputs.toInputs(b, batch)
          const out = new Float32Array(K * batch.size * 8)
          dins.forEach((t, k) => {
            out.set(b.read(forInference(t).encode(inputs)) as Float32Array, k * batch.size * 8)
          })
          return out
        })
        worstMediator = Math.max(
          worstMediator,
          maxDiff(withCache.mediators, without.mediators),
          maxDiff(withCache.mediators, reference),
          maxDiff(without.mediators, reference),
        )
        worstLoss = Math.max(worstLoss, Math.abs(withCache.loss - without.loss))
        expect(Number.isFinite(withCache.loss)).toBe(true)
        losses += 1
      }
      // K teachers: every row in the first epoch, only the negatives afterwards
      expect(cachedRows.count - before).toBe(K * (epoch === 1 ? rows : negatives))
      expect(cached.cachedPositives()).toBe(positives)
    }
    expect(plain.cachedPositives()).toBe(0)
    expect(plainRows.count).toBeGreaterThan(cachedRows.count)
    expect(losses).toBeGreaterThan(5)
    expect(worstMediator).toBeLessThanOrEqual(1e-6)
    expect(worstLoss).toBeLessThanOrEqual(1e-6)
    expect(b.liveTensors()).toBe(live)
    cached.dispose()
    plain.dispose()
    b.dispose([...student.parameters, ...student.buffers])
    free()
  }, 30_000)

  test("training steps with and without the cache follow the same trajectory", () => {
    const { b, dins, free } = setup()
    const run = (cachePositives: boolean) => {
      const student = Din.make(b, vocabulary, din, 7)
      const objective = causalD(b, student, dins, config(cachePositives), 1)
      const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.05 })
      const losses: Array<number> = []
      for (let epoch = 1; epoch <= 2; epoch++) {
        const rng = Random.derive(5, epoch)
        for (const batch of Batches.trainingBatches(data, batchOptions(epoch)))
          losses.push(trainStep(b, objective, optimizer, batch, rng, epoch))
      }
      const parameters = b.snapshot(student.parameters).map((a) => a.data)
      optimizer.dispose()
      objective.dispose()
      b.dispose([...student.parameters, ...student.buffers])
      return { losses, parameters }
    }
    const withCache = run(true)
    const without = run(false)
    expect(withCache.losses.length).toBeGreaterThan(5)
    expect(maxDiff(withCache.losses, without.losses)).toBeLessThanOrEqual(1e-6)
    withCache.parameters.forEach((p, i) => {
      expect(maxDiff(p, without.parameters[i]!)).toBeLessThanOrEqual(1e-6)
    })
    free()
  }, 30_000)

  test("options CausalD cannot use are typed failures naming the option", () => {
    const { b, dins, free } = setup()
    const student = Din.make(b, vocabulary, din, 7)
    const noTeachers = (() => {
      try {
        causalD(b, student, [], config(true), 1)
        return undefined
      } catch (error) {
        return error
      }
    })()
    expect(noTeachers).toBeInstanceOf(InvalidObjectiveOption)
    expect((noTeachers as InvalidObjectiveOption).option).toBe("teachers")
    expect(() =>
      causalD(b, student, dins, { ...config(true), teacherPrior: new Float32Array(1) }, 1),
    ).toThrow("CausalD: teacherPrior must be one entry per teacher")
    b.dispose([...student.parameters, ...student.buffers])
    free()
  })

  test("a batch whose positive index names another row is refused", () => {
    const { b, dins, free } = setup()
    const student = Din.make(b, vocabulary, din, 7)
    const objective = causalD(b, student, dins, config(true), 1)
    const batch = Batches.trainingBatches(data, batchOptions(1)).next().value!
    b.tidy(() => {
      objective.prepare(contextOf(b, batch, 1))
    })
    // the same positive indices with other target items: a different data set
    const other = { ...batch, item: batch.item.map((i) => (i % data.numItems) + 1) }
    // a typed failure naming the option to change
    expect(() => b.tidy(() => objective.prepare(contextOf(b, other, 1)))).toThrow(
      InvalidObjectiveOption,
    )
    expect(() => b.tidy(() => objective.prepare(contextOf(b, other, 1)))).toThrow(
      /cachePositives must be false .* positive \d+ was item/,
    )
    objective.dispose()
    b.dispose([...student.parameters, ...student.buffers])
    free()
  })
})

describeEachBackend("CausalD estimator warm-up (estimatorWarmupEpochs)", (backend) => {
  test("during the warm-up only W1, W2 and ψ_FDA move, on the consistency term of eq. (16); afterwards the student trains", () => {
    const b = backend()
    const dins = Array.from({ length: K }, (_, k) => Din.make(b, vocabulary, din, 40 + k))
    const student = Din.make(b, vocabulary, din, 7)
    const objective = causalD(
      b,
      student,
      dins.map(forInference),
      { ...config(true), estimatorWarmupEpochs: 1 },
      1,
    )
    const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.05 })
    const read = (ps: typeof student.parameters) => b.snapshot(ps).map((a) => a.data)
    type Values = ReturnType<typeof read>
    const moved = (before: Values, after: Values) =>
      Math.max(...before.map((p, i) => maxDiff(p, after[i]!)))
    const epochOf = (epoch: number) => {
      const terms = new Map<string, number>()
      const rng = Random.derive(5, epoch)
      for (const batch of Batches.trainingBatches(data, batchOptions(epoch)))
        trainStep(b, objective, optimizer, batch, rng, epoch, terms)
      return terms
    }
    const student0 = read(student.parameters)
    const estimator0 = read(objective.estimator.parameters)
    const warmup = epochOf(1)
    const student1 = read(student.parameters)
    const estimator1 = read(objective.estimator.parameters)
    // the student is untouched, the estimator fitted, and only the consistency term is reported
    expect(moved(student0, student1)).toBe(0)
    expect(moved(estimator0, estimator1)).toBeGreaterThan(1e-4)
    expect([...warmup.keys()]).toEqual(["L_FDA consistency"])
    const after = epochOf(2)
    expect(moved(student1, read(student.parameters))).toBeGreaterThan(1e-4)
    expect([...after.keys()].sort()).toEqual(["L_BDA", "L_FDA", "L_Rec"])
    optimizer.dispose()
    objective.dispose()
    b.dispose([...student.parameters, ...student.buffers])
    for (const m of dins) b.dispose([...m.parameters, ...m.buffers])
  }, 30_000)

  test("a warm-up that is not a whole number of epochs is refused", () => {
    const b = backend()
    const dins = [Din.make(b, vocabulary, din, 40)]
    const student = Din.make(b, vocabulary, din, 7)
    expect(() =>
      causalD(
        b,
        student,
        dins,
        { ...config(true), teacherPrior: null, estimatorWarmupEpochs: 0.5 },
        1,
      ),
    ).toThrow(/estimatorWarmupEpochs must be an integer >= 0, found 0.5/)
    b.dispose([
      ...student.parameters,
      ...student.buffers,
      ...dins[0]!.parameters,
      ...dins[0]!.buffers,
    ])
  })
})
