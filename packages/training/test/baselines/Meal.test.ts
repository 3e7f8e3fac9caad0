import { describe, expect, test } from "bun:test"
import { Random, type Tensor } from "@causald/core"
import type { Recommender } from "@causald/models"
import { discriminate, meal } from "../../src/baselines/Meal.ts"
import {
  contextOf,
  expectShortRunWithTeachers,
  firstBatch,
  oracle,
  sharedWith,
  student,
  teacherSuite,
  values,
} from "./setup.ts"

const suite = await teacherSuite("meal")
const { backend, teachers, read, largest } = suite

describe("MEAL (Shen, He and Xue 2019)", () => {
  /**
   * Trains only the discriminators for `steps` on one fixed batch and one fixed teacher draw;
   * returns each discriminator's accuracy (teacher rows → 1, student rows → 0) and L_D, before
   * and after.
   */
  const separate = (pool: ReadonlyArray<Recommender>, steps: number) => {
    const s = student(backend, 2)
    const objective = meal(backend, s, pool, undefined, 3)
    const { mediator, output } = objective.discriminators
    const optimizer = backend.optimizer({ _tag: "Adagrad", learningRate: 0.3 })
    const batch = firstBatch(128)
    // Fixed inputs: the same batch and the same selected teacher at every step.
    const fixed = () => ({ ...contextOf(backend, batch), rng: Random.derive(1, 1) })
    const measure = () =>
      backend.tidy(() => {
        const context = fixed()
        const prepared = objective.prepare(context)
        const f = objective.studentFeatures(context)
        const teacherOutput = backend.expandDims(backend.sigmoid(prepared.teacherLogits), -1)
        const accuracy = (d: typeof mediator, teacher: Tensor, pupil: Tensor) => {
          const t = read(discriminate(backend, d, teacher))
          const p = read(discriminate(backend, d, pupil))
          const right = t.filter((x) => x > 0).length + p.filter((x) => x < 0).length
          return right / (t.length + p.length)
        }
        return {
          mediator: accuracy(mediator, prepared.teacherMediator, f.mediator),
          output: accuracy(output, teacherOutput, f.output),
          loss: backend.read(objective.terms(context, prepared).discriminator)[0]!,
        }
      })
    const before = measure()
    for (let step = 0; step < steps; step++)
      backend.tidy(() => {
        const context = fixed()
        const prepared = objective.prepare(context)
        const { grads } = backend.valueAndGrads(
          () => objective.loss(context, prepared),
          objective.discriminators.parameters,
        )
        optimizer.apply(objective.discriminators.parameters, grads)
      })
    const after = measure()
    optimizer.dispose()
    objective.dispose()
    backend.dispose(s.parameters)
    return { before, after }
  }

  test("on fixed inputs the mediator discriminator learns to separate the teachers' mediators from the student's", () => {
    const { before, after } = separate(teachers, 60)
    expect(after.mediator).toBeGreaterThan(0.95)
    expect(after.mediator).toBeGreaterThan(before.mediator)
    expect(after.loss).toBeLessThan(before.loss)
  })

  test("on fixed inputs the output discriminator learns to separate a confident teacher's click probabilities from the student's", () => {
    const { before, after } = separate([oracle(backend)], 60)
    expect(after.output).toBeGreaterThan(0.9)
    expect(after.output).toBeGreaterThan(before.output)
    expect(after.loss).toBeLessThan(before.loss * 0.5)
  })

  test("the student is trained to fool them: its adversarial loss falls against fixed discriminators", () => {
    const s = student(backend, 3)
    const objective = meal(backend, s, teachers, undefined, 4)
    const optimizer = backend.optimizer({ _tag: "Adagrad", learningRate: 0.5 })
    const batch = firstBatch(128)
    const adversarial = () =>
      backend.tidy(() => {
        const context = contextOf(backend, batch)
        return backend.read(objective.terms(context, objective.prepare(context)).adversarial)[0]!
      })
    // First let the discriminators learn to tell the two apart, then hold them fixed.
    const discriminatorOptimizer = backend.optimizer({ _tag: "Adagrad", learningRate: 0.3 })
    for (let step = 0; step < 40; step++)
      backend.tidy(() => {
        const context = contextOf(backend, batch)
        const prepared = objective.prepare(context)
        const { grads } = backend.valueAndGrads(
          () => objective.terms(context, prepared).discriminator,
          objective.discriminators.parameters,
        )
        discriminatorOptimizer.apply(objective.discriminators.parameters, grads)
      })
    discriminatorOptimizer.dispose()
    const before = values(backend, objective.discriminators.parameters)
    const start = adversarial()
    for (let step = 0; step < 30; step++)
      backend.tidy(() => {
        const context = contextOf(backend, batch)
        const prepared = objective.prepare(context)
        const { grads } = backend.valueAndGrads(
          () => objective.terms(context, prepared).adversarial,
          objective.parameters,
        )
        optimizer.apply(objective.parameters, grads)
      })
    optimizer.dispose()
    expect(adversarial()).toBeLessThan(start * 0.5)
    // The adversarial term never reaches the discriminators.
    expect(values(backend, objective.discriminators.parameters)).toEqual(before)
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("routing: similarity and adversarial terms train only the student, L_D only the discriminators; teachers are drawn by the run's generator", () => {
    const s = student(backend, 5)
    const objective = meal(backend, s, teachers)
    const n = s.parameters.length
    backend.tidy(() => {
      const context = contextOf(backend, firstBatch(128))
      const prepared = objective.prepare(context)
      for (const term of ["similarity", "adversarial"] as const) {
        const g = backend.valueAndGrads(
          () => objective.terms(context, prepared)[term],
          objective.parameters,
        ).grads
        expect(largest(g.slice(0, n))).toBeGreaterThan(1e-6)
        expect(largest(g.slice(n))).toBe(0)
      }
      const d = backend.valueAndGrads(
        () => objective.terms(context, prepared).discriminator,
        objective.parameters,
      ).grads
      expect(largest(d.slice(0, n))).toBe(0)
      expect(largest(d.slice(n))).toBeGreaterThan(1e-6)
    })
    const draws = (seed: number) =>
      backend.tidy(() => {
        const batch = firstBatch(16)
        const context = { ...contextOf(backend, batch), rng: Random.derive(seed, 1) }
        return Array.from({ length: 40 }, () => objective.prepare(context).teacher)
      })
    expect(new Set(draws(1))).toEqual(new Set([0, 1]))
    expect(draws(1)).toEqual(draws(1))
    expect(objective.parameters).toEqual([...s.parameters, ...objective.discriminators.parameters])
    expect(sharedWith(objective, teachers)).toEqual([])
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("a short train() run with the shared teachers: finite losses, validation AUC above 0.5, teachers unchanged", () =>
    expectShortRunWithTeachers(suite, "meal"))
})
