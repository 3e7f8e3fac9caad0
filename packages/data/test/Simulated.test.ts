import { describe, expect, test } from "bun:test"
import { checkPrepared, sequenceLength, userSequence } from "../src/Prepared.ts"
import {
  clickProbability,
  defaultSimulation,
  interventionalClickProbability,
  simulate,
  simulateWorld,
} from "../src/Simulated.ts"
import { thrown } from "./helpers.ts"

const small = { users: 250, items: 160, candidates: 30, maxLength: 40 } as const

/** Calls f for every (user, split, column) of a simulated data set with the split's history. */
const eachCandidate = (
  data: ReturnType<typeof simulate>,
  f: (u: number, history: Int32Array, item: number, truth: number) => void,
) => {
  const C = 1 + data.config.candidates
  for (let u = 0; u < data.numUsers; u++)
    for (const [split, drop] of [
      ["validation", 2],
      ["test", 1],
    ] as const) {
      const seq = userSequence(data, u)
      const history = seq.subarray(0, seq.length - drop)
      const truth = split === "validation" ? data.truth!.validationTruth : data.truth!.testTruth
      for (let c = 0; c < C; c++)
        f(u, history, data[split].candidates[u * C + c]!, truth[u * C + c]!)
    }
}

describe("simulated recommender", () => {
  test("the default is small: 2,000 users, 500 items, sequences of 10 to 60", () => {
    const data = simulate()
    expect(data.numUsers).toBe(defaultSimulation.users)
    expect(data.numItems).toBe(500)
    for (let u = 0; u < data.numUsers; u++) {
      expect(sequenceLength(data, u)).toBeGreaterThanOrEqual(10)
      expect(sequenceLength(data, u)).toBeLessThanOrEqual(60)
    }
    expect(checkPrepared(data)).toEqual([])
    expect(data.confounder!.values).toHaveLength(2000)
  })

  test("deterministic by seed", () => {
    const a = simulate({ ...small, seed: 4 })
    const b = simulate({ ...small, seed: 4 })
    const c = simulate({ ...small, seed: 5 })
    expect(b).toEqual(a)
    expect(c.sequenceItems).not.toEqual(a.sequenceItems)
  })

  test("the truth is a probability: the click model averaged over the confounder's prior", () => {
    const { data, world } = simulateWorld({ ...small, strength: 0.8 })
    expect(checkPrepared(data)).toEqual([])
    let differsFromOwn = 0
    eachCandidate(data, (u, history, item, truth) => {
      expect(truth).toBeGreaterThan(0)
      expect(truth).toBeLessThan(1)
      expect(truth).toBeCloseTo(interventionalClickProbability(world, history, item), 6)
      let mean = 0
      for (const c of world.levels) mean += clickProbability(world, history, item, c)
      expect(truth).toBeCloseTo(mean / world.levels.length, 6)
      const own = clickProbability(world, history, item, world.confounder[u]!)
      if (Math.abs(own - truth) > 1e-3) differsFromOwn++
    })
    // with confounding, the user's own confounder changes the click probability
    expect(differsFromOwn).toBeGreaterThan(1000)
  })

  test("strength 0: the truth equals the click model given the user's own confounder", () => {
    const { data, world } = simulateWorld({ ...small, strength: 0 })
    eachCandidate(data, (u, history, item, truth) => {
      expect(truth).toBeCloseTo(clickProbability(world, history, item, world.confounder[u]!), 6)
      expect(truth).toBeCloseTo(clickProbability(world, history, item, 1 - world.confounder[u]!), 6)
    })
  })

  test("strength > 0: high-conformity users have more popular items and more of them", () => {
    const meanBy = (strength: number) => {
      const { data, world } = simulateWorld({ ...small, users: 600, strength })
      let popHigh = 0
      let popLow = 0
      let lenHigh = 0
      let lenLow = 0
      let nHigh = 0
      let nLow = 0
      for (let u = 0; u < data.numUsers; u++) {
        const c = world.confounder[u]!
        if (c !== 0 && c !== 1) continue
        const seq = userSequence(data, u)
        let pop = 0
        for (const j of seq) pop += world.popularity[j]! / seq.length
        if (c === 1) {
          popHigh += pop
          lenHigh += seq.length
          nHigh++
        } else {
          popLow += pop
          lenLow += seq.length
          nLow++
        }
      }
      expect(nHigh).toBeGreaterThan(50)
      expect(nLow).toBeGreaterThan(50)
      return { pop: popHigh / nHigh - popLow / nLow, length: lenHigh / nHigh - lenLow / nLow }
    }
    const confounded = meanBy(1)
    const independent = meanBy(0)
    expect(confounded.pop).toBeGreaterThan(0.5) // popularity is standardised: half an sd
    expect(confounded.length).toBeGreaterThan(10)
    expect(Math.abs(independent.pop)).toBeLessThan(0.2)
    expect(Math.abs(independent.length)).toBeLessThan(5)
  })

  test("options out of their domain are typed errors", () => {
    expect(thrown(() => simulate({ strength: 2 }))._tag).toBe("InvalidOption")
    const items = thrown(() => simulate({ items: 100 }))
    expect(items.message).toContain("items")
    expect(thrown(() => simulate({ minLength: 2 }))._tag).toBe("InvalidOption")
  })
})
