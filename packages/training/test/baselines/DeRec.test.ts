import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { Random } from "@causald/core"
import { Prepared } from "@causald/data"
import { deRec } from "../../src/baselines/DeRec.ts"
import { baselines } from "../../src/baselines/index.ts"
import * as PoissonFactorization from "../../src/baselines/PoissonFactorization.ts"
import {
  backendSuite,
  contextOf,
  data,
  expectedHealth,
  firstBatch,
  healthy,
  run,
  student,
  values,
} from "./setup.ts"

const { backend, directory } = await backendSuite("derec")

/** A random binary matrix: each user exposed to each item with probability `density`. */
const randomMatrix = (seed: number, users: number, items: number, density: number) => {
  const g = Random.rng(seed, "matrix")
  return PoissonFactorization.fromRows(users, items, function* () {
    let any = false
    for (let i = 1; i <= items; i++)
      if (Random.float(g) < density) {
        any = true
        yield i
      }
    if (!any) yield 1 + Random.int(g, items)
  })
}

const expectRisingEveryIteration = (history: Float64Array) => {
  for (let t = 1; t < history.length; t++)
    expect(history[t]!).toBeGreaterThanOrEqual(history[t - 1]! - 1e-9 * Math.abs(history[t - 1]!))
  expect(history[history.length - 1]!).toBeGreaterThan(history[0]!)
}

describe("Poisson factorisation of the exposure matrix", () => {
  test("the Poisson log-likelihood of the exposure matrix rises at every iteration (random matrices and the data's)", () => {
    const cases = [
      { seed: 1, users: 30, items: 20, density: 0.2, rank: 3 },
      { seed: 2, users: 50, items: 40, density: 0.05, rank: 5 },
      { seed: 3, users: 10, items: 60, density: 0.5, rank: 1 },
      { seed: 4, users: 80, items: 15, density: 0.1, rank: 8 },
    ]
    for (const c of cases) {
      const matrix = randomMatrix(c.seed, c.users, c.items, c.density)
      const fit = PoissonFactorization.fit(matrix, { rank: c.rank, iterations: 40, seed: c.seed })
      expect(fit.logLikelihood).toHaveLength(41)
      expectRisingEveryIteration(fit.logLikelihood)
      // The recorded value is the likelihood of the returned factors.
      expect(PoissonFactorization.logLikelihood(matrix, fit.factors)).toBeCloseTo(
        fit.logLikelihood[40]!,
        8,
      )
    }
    const exposure = PoissonFactorization.exposureMatrix(data)
    const fit = PoissonFactorization.fit(exposure, { rank: 6, iterations: 30, seed: 0 })
    expectRisingEveryIteration(fit.logLikelihood)
  })

  test("the log-likelihood is Σ_exposed log λ − Σ_all λ, computed the slow way", () => {
    const matrix = randomMatrix(9, 12, 9, 0.3)
    const f = PoissonFactorization.initialFactors(matrix, 2, 4)
    let slow = 0
    for (let u = 0; u < matrix.numUsers; u++) {
      const row = new Set(matrix.items.subarray(matrix.offsets[u]!, matrix.offsets[u + 1]!))
      for (let i = 1; i <= matrix.numItems; i++) {
        const rate = PoissonFactorization.rate(f, u, i)
        slow += (row.has(i) ? Math.log(rate) : 0) - rate
      }
    }
    expect(PoissonFactorization.logLikelihood(matrix, f)).toBeCloseTo(slow, 8)
  })

  test("the exposure matrix is the training part only: no validation or test target is in it", () => {
    const exposure = PoissonFactorization.exposureMatrix(data)
    let expected = 0
    for (let u = 0; u < data.numUsers; u++) {
      expected += Prepared.trainingLength(data, u)
      const row = exposure.items.subarray(exposure.offsets[u]!, exposure.offsets[u + 1]!)
      expect(row.includes(data.validation.target[u]!)).toBe(false)
      expect(row.includes(data.test.target[u]!)).toBe(false)
      for (let p = 1; p < row.length; p++) expect(row[p]!).toBeGreaterThan(row[p - 1]!)
    }
    expect(exposure.items.length).toBe(expected)
  })
})

describe("DeRec (Wang et al. 2018)", () => {
  test("the logit is the base model's plus γ_u times the substitute confounder â_ui = θ_u · β_i", () => {
    const base = student(backend, 2)
    const objective = deRec(backend, base, data, {
      rank: 4,
      iterations: 10,
      includeShown: false,
      recommendationLoss: "bce",
      l2: 0,
    })
    const gamma = Float32Array.from({ length: data.numUsers }, (_, u) => ((u % 7) - 3) / 2)
    backend.assign(objective.model.gamma, backend.tensor(gamma, [data.numUsers, 1]))
    backend.tidy(() => {
      const batch = firstBatch(64)
      const context = contextOf(backend, batch)
      const augmented = backend.read(
        objective.model.predict(objective.model.encode(context.inputs), context.inputs),
      )
      const plain = backend.read(base.predict(base.encode(context.inputs), context.inputs))
      const f = objective.exposure.factors
      for (let r = 0; r < batch.size; r++) {
        const u = batch.user[r]!
        const confounder = PoissonFactorization.rate(f, u, batch.item[r]!)
        expect(augmented[r]!).toBeCloseTo(plain[r]! + gamma[u]! * confounder, 4)
      }
    })
    objective.dispose()
    backend.dispose(base.parameters)
  })

  test("it trains the base model's parameters and the per-user coefficients γ, which start at 0", () => {
    const base = student(backend, 3)
    const objective = deRec(backend, base, data)
    expect(objective.parameters).toEqual([...base.parameters, objective.model.gamma])
    expect(objective.model.parameters).toEqual(objective.parameters)
    expect(objective.model.gamma.value.shape).toEqual([data.numUsers, 1])
    expect(values(backend, [objective.model.gamma])[0]!.every((g) => g === 0)).toBe(true)
    objective.dispose()
    backend.dispose(base.parameters)
  })

  test("a short train() run: finite losses, validation AUC above 0.5, γ learned", async () => {
    const base = student(backend, 4)
    const objective = baselines.derec.make(backend, base, [], data, { seed: 0 })
    const result = await run(backend, join(directory, "derec"), objective)
    expect(healthy(result)).toEqual(expectedHealth)
    expect(result.bestValidationAuc).toBeGreaterThan(0.5)
    const gamma = objective.parameters[objective.parameters.length - 1]!
    expect(gamma.name).toBe("derec/gamma")
    expect(values(backend, [gamma])[0]!.some((g) => g !== 0)).toBe(true)
    objective.dispose()
    backend.dispose(base.parameters)
  })
})
