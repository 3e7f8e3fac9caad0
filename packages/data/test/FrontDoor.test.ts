/**
 * The front-door world (`FrontDoor.ts`): on worlds small enough to enumerate every history, the
 * joint P(u, x, m, y) of the test decision point is built from the generative process, and the
 * core's exact estimators (`Adjustment`) are run on it. The front-door formula (eq. 5) must give
 * the world's truth P(y | do(x), j); the naive P(y | x) must give its observational oracle.
 */
import { describe, expect, test } from "bun:test"
import { Adjustment, Ranking } from "@causald/core"
import { Result } from "effect"
import fc from "fast-check"
import {
  clickProbability,
  confounderPosterior,
  defaultFrontDoor,
  type FrontDoorWorld,
  historyLogLikelihood,
  intentDistribution,
  interventionalClickProbability,
  lengthProbability,
  makeWorld,
  observationalClickProbability,
  resolve,
  simulateFrontDoor,
  simulateFrontDoorWorld,
} from "../src/FrontDoor.ts"
import { checkPrepared, userSequence } from "../src/Prepared.ts"
import { thrown } from "./helpers.ts"

const RUNS = { numRuns: 40, seed: 20261203 } as const

/** Every sequence of distinct items 1..I of a length in [from, to]. */
const histories = (items: number, from: number, to: number): Array<Array<number>> => {
  const out: Array<Array<number>> = []
  const grow = (prefix: Array<number>) => {
    if (prefix.length >= from) out.push(prefix)
    if (prefix.length === to) return
    for (let j = 1; j <= items; j++) if (!prefix.includes(j)) grow([...prefix, j])
  }
  grow([])
  return out
}

/**
 * P(U = z, X = x, M = m, Y = y) at the test decision point (x: all items but the last) for one
 * candidate item j, from the generative process alone.
 */
const testPointJoint = (
  world: FrontDoorWorld,
  xs: ReadonlyArray<ReadonlyArray<number>>,
  j: number,
) => {
  const { intents: T, confounderLevels: Z } = world.parameters
  const p = new Float64Array(Z * xs.length * T * 2)
  const loglik = new Float64Array(Z)
  xs.forEach((x, xi) => {
    historyLogLikelihood(world, x, loglik)
    const pm = intentDistribution(world, x)
    for (let z = 0; z < Z; z++) {
      const pzx = (1 / Z) * lengthProbability(world, x.length + 1, z) * Math.exp(loglik[z]!)
      for (let m = 0; m < T; m++) {
        const click = clickProbability(world, m, z, j)
        const at = ((z * xs.length + xi) * T + m) * 2
        p[at] = pzx * pm[m]! * (1 - click)
        p[at + 1] = pzx * pm[m]! * click
      }
    }
  })
  return Adjustment.fromProbabilities(["U", "X", "M", "Y"], [Z, xs.length, T, 2], p)
}

const tinyWorld = fc.record({
  items: fc.integer({ min: 2, max: 4 }),
  intents: fc.integer({ min: 2, max: 3 }),
  minLength: fc.integer({ min: 1, max: 2 }),
  extra: fc.integer({ min: 0, max: 1 }),
  strength: fc.double({ min: 0, max: 1, noNaN: true }),
  confounderLevels: fc.integer({ min: 1, max: 3 }),
  bias: fc.double({ min: -3, max: 1, noNaN: true }),
  intentWeight: fc.double({ min: -4, max: 6, noNaN: true }),
  popularityWeight: fc.double({ min: -1, max: 1, noNaN: true }),
  conformityWeight: fc.double({ min: -3, max: 3, noNaN: true }),
  activenessWeight: fc.double({ min: 0, max: 0.95, noNaN: true }),
  intentSharpness: fc.double({ min: 0, max: 8, noNaN: true }),
  recent: fc.integer({ min: 1, max: 3 }),
  seed: fc.integer({ min: 0, max: 1000 }),
})

const worldOf = (w: Tiny) =>
  makeWorld(
    resolve(
      {
        ...w,
        maxLength: Math.min(w.items, w.minLength + w.extra),
        minLength: Math.min(w.items, w.minLength),
        candidates: 1,
      },
      false,
    ),
  )
type Tiny = typeof tinyWorld extends fc.Arbitrary<infer A> ? A : never

describe("the front-door world", () => {
  test("front-door adjustment on the enumerated joint equals the truth; naive equals the observational oracle", () => {
    fc.assert(
      fc.property(tinyWorld, (w) => {
        const world = worldOf(w)
        const p = world.parameters
        const xs = histories(p.items, p.minLength - 1, p.maxLength - 1)
        for (let j = 1; j <= p.items; j++) {
          const joint = Result.getOrThrow(testPointJoint(world, xs, j))
          const names = { treatment: "X", outcome: "Y", mediator: "M" } as const
          const fd = Result.getOrThrow(Adjustment.frontDoor(joint, names))
          const bd = Result.getOrThrow(
            Adjustment.backDoor(joint, { treatment: "X", outcome: "Y", confounder: "U" }),
          )
          const naive = Result.getOrThrow(Adjustment.naive(joint, { treatment: "X", outcome: "Y" }))
          xs.forEach((x, xi) => {
            const truth = interventionalClickProbability(world, x, j)
            expect(fd[xi]![1]!).toBeCloseTo(truth, 10)
            expect(bd[xi]![1]!).toBeCloseTo(truth, 10)
            expect(naive[xi]![1]!).toBeCloseTo(observationalClickProbability(world, x, j, 1), 10)
          })
        }
      }),
      RUNS,
    )
  })

  test("each length's histories have probability one under every level (the choice model normalises)", () => {
    fc.assert(
      fc.property(tinyWorld, (w) => {
        const world = worldOf(w)
        const Z = world.parameters.confounderLevels
        const ll = new Float64Array(Z)
        for (let len = 0; len <= world.parameters.items; len++) {
          const total = new Float64Array(Z)
          for (const x of histories(world.parameters.items, len, len)) {
            historyLogLikelihood(world, x, ll)
            for (let z = 0; z < Z; z++) total[z]! += Math.exp(ll[z]!)
          }
          for (let z = 0; z < Z; z++) expect(total[z]!).toBeCloseTo(1, 10)
        }
        for (let z = 0; z < Z; z++) {
          let s = 0
          for (let n = world.parameters.minLength; n <= world.parameters.maxLength; n++)
            s += lengthProbability(world, n, z)
          expect(s).toBeCloseTo(1, 12)
        }
      }),
      RUNS,
    )
  })

  test("positivity: every intent has positive probability after every history", () => {
    const world = makeWorld(resolve({ intents: 5, intentSharpness: 50 }))
    const data = simulateFrontDoor({ users: 60, intentSharpness: 50, intents: 5 })
    for (let u = 0; u < data.numUsers; u++) {
      const pm = intentDistribution(world, userSequence(data, u))
      for (const v of pm) expect(v).toBeGreaterThan(0)
    }
  })

  test("at strength 0 the observational oracle is the truth; at 1 it is not", () => {
    const zero = simulateFrontDoor({ users: 80, strength: 0 })
    expect(checkPrepared(zero)).toEqual([])
    expect(Array.from(zero.oracles!.testObservational)).toEqual(Array.from(zero.truth!.testTruth))
    const one = simulateFrontDoor({ users: 80, strength: 1 })
    let differ = 0
    const o = one.oracles!.testObservational
    for (let i = 0; i < o.length; i++)
      if (Math.abs(o[i]! - one.truth!.testTruth[i]!) > 1e-3) differ++
    expect(differ / o.length).toBeGreaterThan(0.5)
  })

  test("the stored oracles are the world's functions of each split's history", () => {
    const { data, world } = simulateFrontDoorWorld({ users: 40, strength: 0.7 })
    const C = 1 + data.config.candidates
    for (let u = 0; u < data.numUsers; u += 7) {
      const seq = userSequence(data, u)
      for (const [split, drop] of [
        ["validation", 2],
        ["test", 1],
      ] as const) {
        const history = seq.subarray(0, seq.length - drop)
        for (let c = 0; c < C; c += 13) {
          const j = data[split].candidates[u * C + c]!
          const truth = split === "test" ? data.truth!.testTruth : data.truth!.validationTruth
          const obs =
            split === "test"
              ? data.oracles!.testObservational
              : data.oracles!.validationObservational
          expect(truth[u * C + c]!).toBeCloseTo(
            interventionalClickProbability(world, history, j),
            6,
          )
          expect(obs[u * C + c]!).toBeCloseTo(
            observationalClickProbability(world, history, j, drop),
            6,
          )
        }
      }
      // the posterior of the true level is positive
      const post = confounderPosterior(world, seq.subarray(0, seq.length - 1), 1)
      const z = world.levels.indexOf(data.confounder!.values[u]!)
      expect(post[z]!).toBeGreaterThan(0)
    }
  })

  test("the interventional test: same histories, the candidate set kept, targets never in the history", () => {
    const data = simulateFrontDoor({ users: 200 })
    const C = 1 + data.config.candidates
    const it = data.oracles!.interventionalTest
    let moved = 0
    for (let u = 0; u < data.numUsers; u++) {
      const seq = userSequence(data, u)
      const history = new Set(seq.subarray(0, seq.length - 1))
      const row = it.candidates.subarray(u * C, u * C + C)
      expect(row[0]).toBe(it.target[u]!)
      expect(history.has(it.target[u]!)).toBe(false)
      expect(new Set(row).size).toBe(C)
      for (const j of row) expect(history.has(j)).toBe(false)
      if (it.target[u] !== data.test.target[u]) moved++
    }
    expect(moved).toBeGreaterThan(data.numUsers / 2)
  })

  test("on the observational test the observational oracle ranks best, on the interventional test the truth", () => {
    const data = simulateFrontDoor({ strength: 1 })
    const C = 1 + data.config.candidates
    const auc = (scores: Float32Array) =>
      Ranking.means(Result.getOrThrow(Ranking.sampled(scores, C))).AUC!
    const o = data.oracles!
    expect(auc(o.testObservational)).toBeGreaterThan(auc(data.truth!.testTruth))
    expect(auc(o.interventionalTestTruth)).toBeGreaterThan(auc(o.interventionalTestObservational))
  })

  test("deterministic by seed; defaults are a valid data set", () => {
    const a = simulateFrontDoor({ users: 50, seed: 3 })
    expect(simulateFrontDoor({ users: 50, seed: 3 })).toEqual(a)
    expect(simulateFrontDoor({ users: 50, seed: 4 }).sequenceItems).not.toEqual(a.sequenceItems)
    const d = simulateFrontDoor()
    expect(d.numUsers).toBe(defaultFrontDoor.users)
    expect(checkPrepared(d)).toEqual([])
  })

  test("bad options name the option", () => {
    expect(thrown(() => simulateFrontDoor({ strength: 1.5 }))).toMatchObject({ option: "strength" })
    expect(thrown(() => simulateFrontDoor({ strength: -0.1 }))).toMatchObject({
      option: "strength",
    })
    expect(thrown(() => simulateFrontDoor({ intents: 0 }))).toMatchObject({ option: "intents" })
    expect(thrown(() => simulateFrontDoor({ intents: 1 }))).toMatchObject({ option: "intents" })
    expect(thrown(() => simulateFrontDoor({ activenessWeight: 1 }))).toMatchObject({
      option: "activenessWeight",
    })
    expect(thrown(() => simulateFrontDoor({ intentSharpness: Number.NaN }))).toMatchObject({
      option: "intentSharpness",
    })
    expect(thrown(() => simulateFrontDoor({ items: 50 }))).toMatchObject({ option: "items" })
  })
})
