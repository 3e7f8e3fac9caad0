import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import { Batches } from "@causald/data"
import {
  causalRec,
  defaultCausalRecConfig,
  exposureWeights,
} from "../../src/baselines/CausalRec.ts"
import { baselines, clippingGrid } from "../../src/baselines/index.ts"
import * as PoissonFactorization from "../../src/baselines/PoissonFactorization.ts"
import { backendSuite, data, expectedHealth, healthy, run, student } from "./setup.ts"

const { backend, directory } = await backendSuite("causalrec")

const exposure = PoissonFactorization.fit(PoissonFactorization.exposureMatrix(data), {
  rank: 6,
  iterations: 40,
  seed: 0,
})
const epoch = [...Batches.trainingBatches(data, { batchSize: 512, negatives: 1, epochSeed: 3 })]

describe("CausalRec (Liang, Charlin and Blei 2016)", () => {
  test("the exposure model gives the training clicks a higher exposure probability than sampled unconsumed items", () => {
    let clicked = 0
    let clicks = 0
    let sampled = 0
    let negatives = 0
    for (const batch of epoch)
      for (let r = 0; r < batch.size; r++) {
        const p = PoissonFactorization.exposureProbability(
          exposure.factors,
          batch.user[r]!,
          batch.item[r]!,
        )
        expect(p).toBeGreaterThanOrEqual(0)
        expect(p).toBeLessThan(1)
        if (batch.label[r] === 1) {
          clicked += p
          clicks++
        } else {
          sampled += p
          negatives++
        }
      }
    expect(clicked / clicks).toBeGreaterThan(2 * (sampled / negatives))
  })

  test("each click is weighted by its inverse exposure probability 1 / (1 − exp(−θ_u·β_i)), clipped at 1/τ; negatives keep weight 1", () => {
    for (const clip of [clippingGrid[0]!, 1 / 5, clippingGrid[8]!, 0.01]) {
      let unclipped = 0
      for (const batch of epoch) {
        const w = exposureWeights(exposure.factors, batch.user, batch.item, batch.label, clip)
        for (let r = 0; r < batch.size; r++) {
          if (batch.label[r] !== 1) {
            expect(w[r]).toBe(1)
            continue
          }
          const theta = exposure.factors.users.subarray(
            batch.user[r]! * exposure.factors.rank,
            (batch.user[r]! + 1) * exposure.factors.rank,
          )
          const beta = exposure.factors.items.subarray(
            batch.item[r]! * exposure.factors.rank,
            (batch.item[r]! + 1) * exposure.factors.rank,
          )
          const rate = theta.reduce((s, t, k) => s + t * beta[k]!, 0)
          const pi = 1 - Math.exp(-rate)
          expect(w[r]!).toBeLessThanOrEqual(Math.fround(1 / clip))
          if (pi >= clip) {
            expect(w[r]!).toBeCloseTo(1 / pi, 3)
            unclipped++
          } else expect(w[r]!).toBeCloseTo(1 / clip, 3)
        }
      }
      if (clip === 0.01) expect(unclipped).toBeGreaterThan(0)
    }
  })

  test("it trains exactly the student's parameters; a clipping threshold outside (0, 1] is a typed error", () => {
    const model = student(backend, 2)
    const objective = causalRec(backend, model, data, { ...defaultCausalRecConfig, iterations: 5 })
    expect(objective.parameters).toEqual(model.parameters)
    expect(objective.exposure.logLikelihood).toHaveLength(6)
    expect(() => causalRec(backend, model, data, { ...defaultCausalRecConfig, clip: -1 })).toThrow(
      "causalrec: option clip must be a number > 0 and <= 1, found -1",
    )
    backend.dispose(model.parameters)
  })

  test("a short train() run: finite losses, validation AUC above 0.5", async () => {
    const model = student(backend, 3)
    const objective = baselines.causalrec.make(backend, model, [], data, {
      seed: 0,
      coefficient: 1 / 10,
    })
    const result = await run(backend, join(directory, "causalrec"), objective)
    expect(healthy(result)).toEqual(expectedHealth)
    expect(result.bestValidationAuc).toBeGreaterThan(0.5)
    objective.dispose()
    backend.dispose(model.parameters)
  })
})
