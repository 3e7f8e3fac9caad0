import { describe, expect, test } from "bun:test"
import { join } from "node:path"
import type { Tensor } from "@causald/core"
import { Batches } from "@causald/data"
import { defaultIpsConfig, groupPropensity, ips, ipsWeights } from "../../src/baselines/Ips.ts"
import { baselines, clippingGrid } from "../../src/baselines/index.ts"
import { weightedRecommendationLoss } from "../../src/baselines/WeightedLoss.ts"
import { recommendationLoss } from "../../src/Objective.ts"
import {
  backendSuite,
  contextOf,
  data,
  expectedHealth,
  firstBatch,
  groups,
  healthy,
  run,
  student,
} from "./setup.ts"

const { backend, directory } = await backendSuite("ips")

const scalar = (t: Tensor) => backend.read(t)[0]!

describe("IPS (Yang et al. 2018, as the CausalD paper adapts it)", () => {
  test("P(ug | i) is the smoothed share of item i's training interactions made by group ug", () => {
    const G = groups.sizes.length
    const smoothing = 1
    const { table } = groupPropensity(data, groups, smoothing)
    // Independent count from the raw sequences (training part: all but the last two items).
    const counts = new Float64Array((data.numItems + 1) * G)
    for (let u = 0; u < data.numUsers; u++) {
      const s = data.sequenceOffsets[u]!
      const e = data.sequenceOffsets[u + 1]!
      for (let p = s; p < e - 2; p++) counts[data.sequenceItems[p]! * G + groups.groupOf[u]!]! += 1
    }
    for (let i = 1; i <= data.numItems; i++) {
      let rowSum = 0
      let n = 0
      for (let g = 0; g < G; g++) n += counts[i * G + g]!
      for (let g = 0; g < G; g++) {
        const expected = (counts[i * G + g]! + smoothing * groups.weights[g]!) / (n + smoothing)
        expect(table[i * G + g]!).toBeCloseTo(expected, 6)
        rowSum += table[i * G + g]!
      }
      expect(rowSum).toBeCloseTo(1, 5)
    }
  })

  test("weights never exceed the clipping bound 1/τ for every τ of the grid {1/2..1/10}, and are exactly 1/p where p ≥ τ", () => {
    const propensity = groupPropensity(data, groups)
    expect(clippingGrid).toHaveLength(9)
    expect(clippingGrid[0]).toBe(1 / 2)
    expect(clippingGrid[8]).toBe(1 / 10)
    const G = propensity.groups
    for (const clip of clippingGrid) {
      let clipped = 0
      let exact = 0
      for (const batch of Batches.trainingBatches(data, {
        batchSize: 512,
        negatives: 2,
        epochSeed: 11,
      })) {
        const w = ipsWeights(propensity, groups.groupOf, batch.user, batch.item, clip)
        for (let r = 0; r < batch.size; r++) {
          const p = propensity.table[batch.item[r]! * G + groups.groupOf[batch.user[r]!]!]!
          expect(w[r]!).toBeLessThanOrEqual(Math.fround(1 / clip))
          expect(w[r]!).toBeGreaterThanOrEqual(1)
          if (p >= clip) {
            expect(w[r]!).toBeCloseTo(1 / p, 4)
            exact++
          } else {
            expect(w[r]!).toBeCloseTo(1 / clip, 4)
            clipped++
          }
        }
      }
      // Both branches are exercised at the ends of the grid.
      if (clip === 1 / 2) expect(clipped).toBeGreaterThan(0)
      if (clip === 1 / 10) expect(exact).toBeGreaterThan(0)
    }
  })

  test("the weighted loss is (1/B) Σ w_r ℓ_r, and with unit weights it is L_Rec for BCE, BPR and sampled softmax", () => {
    const model = student(backend, 2)
    backend.tidy(() => {
      const batch = firstBatch(96)
      const context = contextOf(backend, batch)
      const logits = model.predict(model.encode(context.inputs), context.inputs)
      const ones = backend.ones([batch.size])
      for (const kind of ["bce", "bpr", "sampled-softmax"] as const)
        expect(
          scalar(weightedRecommendationLoss(backend, kind, logits, context, ones)),
        ).toBeCloseTo(scalar(recommendationLoss(backend, kind, logits, context)), 5)
      const w = Float32Array.from({ length: batch.size }, (_, r) => 1 + (r % 5))
      const o = backend.read(logits) as Float32Array
      let manual = 0
      for (let r = 0; r < batch.size; r++) {
        const softplus = Math.log1p(Math.exp(o[r]!))
        manual += w[r]! * (softplus - batch.label[r]! * o[r]!)
      }
      const weighted = weightedRecommendationLoss(
        backend,
        "bce",
        logits,
        context,
        backend.tensor(w, [batch.size]),
      )
      expect(scalar(weighted)).toBeCloseTo(manual / batch.size, 4)
    })
    backend.dispose(model.parameters)
  })

  test("it trains exactly the student's parameters; a threshold outside (0, 1] or missing groups are typed errors", () => {
    const model = student(backend, 3)
    const objective = ips(backend, model, data, groups)
    expect(objective.parameters).toEqual(model.parameters)
    expect(() => ips(backend, model, data, groups, { ...defaultIpsConfig, clip: 0 })).toThrow(
      "option clip must be a number > 0 and <= 1, found 0",
    )
    expect(() => ips(backend, model, data, groups, { ...defaultIpsConfig, clip: 2 })).toThrow(
      "clip",
    )
    expect(() => baselines.ips.make(backend, model, [], data, { seed: 0 })).toThrow("groups")
    backend.dispose(model.parameters)
  })

  test("a short train() run: finite losses, validation AUC above 0.5", async () => {
    const model = student(backend, 4)
    const objective = baselines.ips.make(backend, model, [], data, {
      seed: 0,
      groups,
      coefficient: 1 / 5,
    })
    const result = await run(backend, join(directory, "ips"), objective)
    expect(healthy(result)).toEqual(expectedHealth)
    expect(result.bestValidationAuc).toBeGreaterThan(0.5)
    objective.dispose()
  })
})
