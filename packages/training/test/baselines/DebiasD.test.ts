import { describe, expect, test } from "bun:test"
import { debiasD, defaultDebiasDConfig } from "../../src/baselines/DebiasD.ts"
import {
  constant,
  contextOf,
  contrarian,
  expectShortRunWithTeachers,
  firstBatch,
  oracle,
  sharedWith,
  student,
  teacherSuite,
} from "./setup.ts"

const suite = await teacherSuite("debiasd")
const { backend, teachers, read, largest } = suite

/** Trains only the mixing logits on a few batches; returns the per-class weights [2, K]. */
const trainMixing = (objective: ReturnType<typeof debiasD>, steps: number): Array<number> => {
  const optimizer = backend.optimizer({ _tag: "Adagrad", learningRate: 0.5 })
  for (let s = 0; s < steps; s++)
    backend.tidy(() => {
      const context = contextOf(backend, firstBatch(128, 100 + s))
      const prepared = objective.prepare(context)
      const { grads } = backend.valueAndGrads(
        () => objective.loss(context, prepared),
        [objective.mixingLogits],
      )
      optimizer.apply([objective.mixingLogits], grads)
    })
  optimizer.dispose()
  return backend.tidy(() => read(objective.mixingWeights()))
}

describe("DebiasD (Lukasik et al. 2021, multi-teacher)", () => {
  test("the mixing weights are a distribution over the teachers per class, uniform at the start", () => {
    const s = student(backend, 2)
    const objective = debiasD(backend, s, [...teachers, teachers[0]!])
    const w = backend.tidy(() => read(objective.mixingWeights()))
    expect(w).toHaveLength(6)
    for (const x of w) expect(x).toBeCloseTo(1 / 3, 6)
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("the mixing weights adapt: per class they move to the teacher that is right on that class, wherever it is listed, and stay distributions", () => {
    // Class-biased teachers: one always says "click", one always "no click".
    const clicker = constant(backend, 3)
    const skipper = constant(backend, -3)
    for (const [order, clickerIndex] of [
      [[clicker, skipper], 0],
      [[skipper, clicker], 1],
    ] as const) {
      const s = student(backend, 3)
      const objective = debiasD(backend, s, order)
      const w = trainMixing(objective, 30)
      for (let c = 0; c < 2; c++) expect(w[c * 2]! + w[c * 2 + 1]!).toBeCloseTo(1, 5)
      // class 1 (clicks) trusts the clicker, class 0 the skipper
      expect(w[2 + clickerIndex]!).toBeGreaterThan(0.9)
      expect(w[1 - clickerIndex]!).toBeGreaterThan(0.9)
      objective.dispose()
      backend.dispose(s.parameters)
    }
    // A teacher right on every row against its contrarian: both classes trust the former.
    const right = oracle(backend)
    const s = student(backend, 3)
    const objective = debiasD(backend, s, [contrarian(backend, right), right])
    const w = trainMixing(objective, 30)
    expect(w[1]!).toBeGreaterThan(0.9)
    expect(w[3]!).toBeGreaterThan(0.9)
    // Two identical teachers give no evidence: the weights stay uniform.
    const twins = debiasD(backend, s, [teachers[0]!, teachers[0]!])
    for (const x of trainMixing(twins, 5)) expect(x).toBeCloseTo(0.5, 6)
    objective.dispose()
    twins.dispose()
    backend.dispose(s.parameters)
  })

  test("α_c is the mixed teacher's mean probability of the true class over the batch's rows of class c, and weighs each row's distillation", () => {
    const s = student(backend, 4)
    const objective = debiasD(backend, s, teachers)
    backend.tidy(() => {
      const batch = firstBatch(128)
      const context = contextOf(backend, batch)
      const terms = objective.terms(context, objective.prepare(context))
      const q = read(terms.mixedLabel)
      const sums = [0, 0]
      const counts = [0, 0]
      for (let r = 0; r < batch.size; r++) {
        const c = batch.label[r]!
        sums[c]! += c === 1 ? q[r]! : 1 - q[r]!
        counts[c]! += 1
      }
      const alpha = read(terms.classWeights)
      expect(alpha[0]!).toBeCloseTo(sums[0]! / counts[0]!, 5)
      expect(alpha[1]!).toBeCloseTo(sums[1]! / counts[1]!, 5)
      for (const a of alpha) {
        expect(a).toBeGreaterThan(0)
        expect(a).toBeLessThan(1)
      }
    })
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("routing: the distillation term trains only the student, the mixture's loss only the mixing weights", () => {
    const s = student(backend, 5)
    const objective = debiasD(backend, s, teachers, { ...defaultDebiasDConfig, temperature: 2 })
    backend.tidy(() => {
      const context = contextOf(backend, firstBatch(128))
      const prepared = objective.prepare(context)
      const distill = backend.valueAndGrads(
        () => objective.terms(context, prepared).distillation,
        objective.parameters,
      )
      expect(largest(distill.grads.slice(0, s.parameters.length))).toBeGreaterThan(1e-6)
      expect(largest(distill.grads.slice(s.parameters.length))).toBe(0)
      const mixing = backend.valueAndGrads(
        () => objective.terms(context, prepared).mixing,
        objective.parameters,
      )
      expect(largest(mixing.grads.slice(0, s.parameters.length))).toBe(0)
      expect(largest(mixing.grads.slice(s.parameters.length))).toBeGreaterThan(1e-6)
    })
    expect(objective.parameters).toEqual([...s.parameters, objective.mixingLogits])
    expect(sharedWith(objective, teachers)).toEqual([])
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("a short train() run with the shared teachers: finite losses, validation AUC above 0.5, teachers unchanged", () =>
    expectShortRunWithTeachers(suite, "debiasd"))
})
