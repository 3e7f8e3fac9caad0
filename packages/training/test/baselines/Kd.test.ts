import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { baselines } from "../../src/baselines/index.ts"
import { defaultKdConfig, kd } from "../../src/baselines/Kd.ts"
import { softLabels } from "../../src/baselines/WeightedLoss.ts"
import { meanPool } from "../fixtures.ts"
import {
  backendSuite,
  contextOf,
  data,
  expectedHealth,
  firstBatch,
  healthy,
  loggedTerms,
  run,
  sharedWith,
  student,
  trainKdTeacher,
  values,
} from "./setup.ts"

const { backend, directory, read, largest } = await backendSuite("kd")

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))
const entropy = (p: number) => -(p * Math.log(p) + (1 - p) * Math.log(1 - p))

describe("KD (Hinton et al. 2015)", () => {
  test("soft labels are σ(t/T): the teacher's probability at T = 1, flatter as T grows, order kept", () => {
    backend.tidy(() => {
      const t = backend.tensor([-3, -0.5, 0, 1, 4], [5])
      const at1 = read(softLabels(backend, t, 1))
      const at2 = read(softLabels(backend, t, 2))
      const atLarge = read(softLabels(backend, t, 1000))
      ;[-3, -0.5, 0, 1, 4].forEach((x, i) => {
        expect(at1[i]!).toBeCloseTo(sigmoid(x), 6)
        expect(at2[i]!).toBeCloseTo(sigmoid(x / 2), 6)
        expect(Math.abs(atLarge[i]! - 0.5)).toBeLessThan(0.002)
      })
      for (let i = 1; i < 5; i++) expect(at2[i]!).toBeGreaterThanOrEqual(at2[i - 1]!)
    })
  })

  test("the KD term distils the teacher's soft labels at temperature T: it is minimal, with zero gradient, when the student's logits are the teacher's", () => {
    const teacher = meanPool(backend, data.numItems, 8, 9, "copy")
    const copy = meanPool(backend, data.numItems, 8, 9, "copy") // same values, own parameters
    const other = student(backend, 4)
    for (const temperature of [1, 2, 4]) {
      backend.tidy(() => {
        const context = contextOf(backend, firstBatch())
        const same = kd(backend, copy, teacher, { ...defaultKdConfig, temperature })
        const prepared = same.prepare(context)
        const t = read(prepared.teacherLogits)
        const expected =
          (temperature *
            temperature *
            t.reduce((s, x) => s + entropy(sigmoid(x / temperature)), 0)) /
          t.length
        const { value, grads } = backend.valueAndGrads(
          () => same.terms(context, prepared).distillation,
          copy.parameters,
        )
        expect(backend.read(value)[0]!).toBeCloseTo(expected, 4)
        expect(largest(grads)).toBeLessThan(1e-5)

        const different = kd(backend, other, teacher, { ...defaultKdConfig, temperature })
        const away = backend.valueAndGrads(
          () => different.terms(context, different.prepare(context)).distillation,
          other.parameters,
        )
        expect(backend.read(away.value)[0]!).toBeGreaterThan(expected + 1e-4)
        expect(largest(away.grads)).toBeGreaterThan(1e-4)
      })
    }
    backend.dispose([...teacher.parameters, ...copy.parameters, ...other.parameters])
  })

  test("λ weighs the soft term: loss = L_Rec + λ·L_kd", () => {
    const teacher = meanPool(backend, data.numItems, 8, 9, "lambda-teacher")
    const s = student(backend, 5)
    backend.tidy(() => {
      const context = contextOf(backend, firstBatch())
      const objective = kd(backend, s, teacher, { ...defaultKdConfig, lambda: 10 })
      const prepared = objective.prepare(context)
      const terms = objective.terms(context, prepared)
      const [rec, kdTerm, total] = [terms.recommendation, terms.distillation, terms.total].map(
        (x) => backend.read(x)[0]!,
      )
      expect(total!).toBeCloseTo(rec! + 10 * kdTerm!, 4)
    })
    backend.dispose([...teacher.parameters, ...s.parameters])
  })

  test("it trains exactly the student's parameters; the registry wants exactly one teacher", () => {
    const teacher = meanPool(backend, data.numItems, 8, 9, "params-teacher")
    const s = student(backend, 6)
    const objective = kd(backend, s, teacher)
    expect(objective.parameters).toEqual(s.parameters)
    expect(sharedWith(objective, [teacher])).toEqual([])
    expect(() => kd(backend, s, s)).toThrow("kd")
    expect(() => baselines.kd.make(backend, s, [teacher, teacher], data, { seed: 0 })).toThrow(
      "exactly one teacher",
    )
    backend.dispose([...teacher.parameters, ...s.parameters])
  })

  test("a short train() run with a teacher trained on all users: finite losses, validation AUC above 0.5, teacher unchanged", async () => {
    const teacher = await trainKdTeacher(backend, directory)
    const before = values(backend, teacher.parameters)
    const s = student(backend, 7)
    const objective = baselines.kd.make(backend, s, [teacher], data, { seed: 1, coefficient: 1 })
    const result = await run(backend, join(directory, "kd"), objective)
    expect(healthy(result)).toEqual(expectedHealth)
    expect(result.bestValidationAuc).toBeGreaterThan(0.5)
    expect(values(backend, teacher.parameters)).toEqual(before)
    // each epoch logs its two terms, which weighted by λ = 1 sum to the loss
    for (const epoch of result.history) {
      expect(Object.keys(epoch.terms ?? {}).sort()).toEqual([...loggedTerms.kd!].sort())
      const sum = epoch.terms!.L_Rec! + epoch.terms!.L_KD!
      expect(Math.abs(sum - epoch.loss)).toBeLessThan(1e-5 * epoch.loss)
    }
    objective.dispose()
  })
})
