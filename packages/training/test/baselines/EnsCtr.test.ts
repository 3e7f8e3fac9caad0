import { describe, expect, test } from "bun:test"
import type { Recommender } from "@causald/models"
import { ensCtr } from "../../src/baselines/EnsCtr.ts"
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

const suite = await teacherSuite("ensctr")
const { backend, teachers, read, largest } = suite

/** Trains only the gate for `steps` batches. */
const trainGate = (objective: ReturnType<typeof ensCtr>, steps: number) => {
  const gate = [objective.gate.weights, objective.gate.bias]
  const optimizer = backend.optimizer({ _tag: "Adagrad", learningRate: 0.5 })
  for (let s = 0; s < steps; s++)
    backend.tidy(() => {
      const context = contextOf(backend, firstBatch(128, 200 + s))
      const prepared = objective.prepare(context)
      const { grads } = backend.valueAndGrads(() => objective.loss(context, prepared), gate)
      optimizer.apply(gate, grads)
    })
  optimizer.dispose()
}

/** α of a fresh batch: [B, K] as rows, with the batch's labels. */
const gateOn = (objective: ReturnType<typeof ensCtr>) =>
  backend.tidy(() => {
    const batch = firstBatch(256, 999)
    const context = contextOf(backend, batch)
    const terms = objective.terms(context, objective.prepare(context))
    return { alpha: read(terms.gateWeights), label: batch.label, size: batch.size }
  })

describe("EnsCTR (Zhu et al. 2020)", () => {
  test("the gate's weights are a distribution over the teachers for every row, computed from each teacher's features, and differ between rows", () => {
    const s = student(backend, 2)
    const three = [...teachers, teachers[1]!]
    const objective = ensCtr(backend, s, three, undefined, 4)
    backend.tidy(() => {
      const batch = firstBatch(64)
      const context = contextOf(backend, batch)
      const prepared = objective.prepare(context)
      const alpha = read(objective.terms(context, prepared).gateWeights)
      expect(alpha).toHaveLength(batch.size * 3)
      const w = read(objective.gate.weights.value)
      const b = read(objective.gate.bias.value)
      const v = read(prepared.gateInputs) // [K, B, 16]
      let spread = 0
      for (let r = 0; r < batch.size; r++) {
        let sum = 0
        const scores = [0, 1, 2].map((k) => {
          let z = b[k]!
          for (let j = 0; j < 16; j++) z += w[k * 16 + j]! * v[(k * batch.size + r) * 16 + j]!
          return z
        })
        const norm = scores.reduce((acc, z) => acc + Math.exp(z), 0)
        for (let k = 0; k < 3; k++) {
          const a = alpha[r * 3 + k]!
          expect(a).toBeGreaterThanOrEqual(0)
          expect(a).toBeCloseTo(Math.exp(scores[k]!) / norm, 5)
          sum += a
        }
        expect(sum).toBeCloseTo(1, 5)
        spread = Math.max(spread, Math.abs(alpha[r * 3]! - alpha[0]!))
      }
      expect(spread).toBeGreaterThan(1e-3)
    })
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("the gate learns whom to trust: it moves to the teacher that is right, wherever it is listed", () => {
    const right = oracle(backend)
    const wrong = contrarian(backend, right)
    for (const [order, rightIndex] of [
      [[right, wrong], 0],
      [[wrong, right], 1],
    ] as const) {
      const s = student(backend, 3)
      const objective = ensCtr(backend, s, order, undefined, 5)
      trainGate(objective, 30)
      const { alpha, size } = gateOn(objective)
      let mean = 0
      for (let r = 0; r < size; r++) mean += alpha[r * 2 + rightIndex]! / size
      expect(mean).toBeGreaterThan(0.9)
      objective.dispose()
      backend.dispose(s.parameters)
    }
  })

  test("the gate adapts per sample: when the teachers' features tell clicks apart, clicks go to the teacher that always says click and the rest to the one that never does", () => {
    // Features: ±1 by whether the row's item is in the user's sequence (an oracle's sign).
    const informed = oracle(backend, 1)
    const encode = (inputs: Parameters<Recommender["encode"]>[0]) =>
      backend.tile(backend.expandDims(informed.predict(backend.zeros([1, 8]), inputs), -1), [1, 8])
    const clicker: Recommender = { ...informed, encode, predict: constant(backend, 3).predict }
    const skipper: Recommender = { ...informed, encode, predict: constant(backend, -3).predict }
    const s = student(backend, 4)
    const objective = ensCtr(backend, s, [clicker, skipper], undefined, 6)
    trainGate(objective, 30)
    const { alpha, label, size } = gateOn(objective)
    for (let r = 0; r < size; r++)
      if (label[r] === 1) expect(alpha[r * 2]!).toBeGreaterThan(0.9)
      else expect(alpha[r * 2 + 1]!).toBeGreaterThan(0.9)
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("routing: the distillation term trains only the student, the gate's loss only the gate", () => {
    const s = student(backend, 5)
    const objective = ensCtr(backend, s, teachers)
    backend.tidy(() => {
      const context = contextOf(backend, firstBatch(128))
      const prepared = objective.prepare(context)
      const n = s.parameters.length
      const distill = backend.valueAndGrads(
        () => objective.terms(context, prepared).distillation,
        objective.parameters,
      )
      expect(largest(distill.grads.slice(0, n))).toBeGreaterThan(1e-6)
      expect(largest(distill.grads.slice(n))).toBe(0)
      const gate = backend.valueAndGrads(
        () => objective.terms(context, prepared).gate,
        objective.parameters,
      )
      expect(largest(gate.grads.slice(0, n))).toBe(0)
      expect(largest(gate.grads.slice(n))).toBeGreaterThan(1e-7)
    })
    expect(objective.parameters).toEqual([
      ...s.parameters,
      objective.gate.weights,
      objective.gate.bias,
    ])
    expect(sharedWith(objective, teachers)).toEqual([])
    objective.dispose()
    backend.dispose(s.parameters)
  })

  test("a short train() run with the shared teachers: finite losses, validation AUC above 0.5, teachers unchanged", () =>
    expectShortRunWithTeachers(suite, "ensctr"))
})
