import { describe, expect, test } from "bun:test"
import { Result } from "effect"
import fc from "fast-check"
import * as Adjustment from "../src/Adjustment.ts"
import * as CausalModel from "../src/CausalModel.ts"

const RUNS = { numRuns: 200, seed: 4242 } as const

const total = (p: Float64Array) => p.reduce((a, b) => a + b, 0)

const options = fc.record({
  seed: fc.integer({ min: 0, max: 0x7fffffff }),
  confounding: fc.double({ min: 0, max: 0.95, noNaN: true }),
  confounderAffectsMediator: fc.boolean(),
  cardinalities: fc.record({
    U: fc.integer({ min: 2, max: 4 }),
    X: fc.integer({ min: 2, max: 4 }),
    M: fc.integer({ min: 2, max: 4 }),
    Y: fc.integer({ min: 2, max: 4 }),
  }),
})

describe("generated models", () => {
  test("joints are distributions and the latent U is summed out", () => {
    fc.assert(
      fc.property(options, (o) => {
        const model = Result.getOrThrow(CausalModel.frontDoor(o))
        const full = CausalModel.joint(model)
        expect(full.variables).toEqual(["U", "X", "M", "Y"])
        expect(total(full.probabilities)).toBeCloseTo(1, 12)
        const observed = CausalModel.observationalJoint(model)
        expect(observed.variables).toEqual(["X", "M", "Y"])
        const marginal = Result.getOrThrow(Adjustment.marginal(full, ["X", "M", "Y"]))
        expect(Array.from(observed.probabilities)).toEqual(Array.from(marginal.probabilities))
        for (const row of Result.getOrThrow(
          CausalModel.interventional(model, { treatment: "X", outcome: "Y" }),
        )) {
          expect(total(row)).toBeCloseTo(1, 12)
        }
      }),
      RUNS,
    )
  })

  test("the same seed gives the same model and the same sample", () => {
    const a = Result.getOrThrow(CausalModel.frontDoor({ seed: 9, cardinalities: { U: 3 } }))
    const b = Result.getOrThrow(CausalModel.frontDoor({ seed: 9, cardinalities: { U: 3 } }))
    const c = Result.getOrThrow(CausalModel.frontDoor({ seed: 10, cardinalities: { U: 3 } }))
    expect(a).toEqual(b)
    expect(a).not.toEqual(c)
    const s1 = Result.getOrThrow(CausalModel.sample(a, 100, 1))
    expect(s1).toEqual(Result.getOrThrow(CausalModel.sample(a, 100, 1)))
    expect(s1).not.toEqual(Result.getOrThrow(CausalModel.sample(a, 100, 2)))
    expect(Object.keys(s1).sort()).toEqual(["M", "X", "Y"])
  })

  test("seeds past 32 bits give models of their own: the whole seed picks the stream", () => {
    const at = (seed: number) => Result.getOrThrow(CausalModel.frontDoor({ seed }))
    expect(at(2 ** 32)).not.toEqual(at(0))
    expect(at(2 ** 40 + 1)).not.toEqual(at(2 ** 40))
  })

  test("sample frequencies are within 5 binomial standard errors of the exact joint", () => {
    // For each cell c, n p^_c ~ Binomial(n, p_c): |p^_c - p_c| <= 5 sqrt(p_c (1 - p_c) / n)
    // fails with probability < 6e-7 per cell under the normal approximation.
    const model = Result.getOrThrow(
      CausalModel.backDoor({ seed: 3, confounding: 0.6, cardinalities: { Z: 3, X: 2, Y: 3 } }),
    )
    const exact = CausalModel.observationalJoint(model)
    const n = 50_000
    const empirical = Result.getOrThrow(
      Adjustment.fromSamples(
        exact.variables,
        exact.cardinalities,
        Result.getOrThrow(CausalModel.sample(model, n, 77)),
      ),
    )
    exact.probabilities.forEach((p, c) => {
      expect(Math.abs(empirical.probabilities[c] - p)).toBeLessThanOrEqual(
        5 * Math.sqrt((p * (1 - p)) / n),
      )
    })
  })
})

describe("intervention", () => {
  // Z -> X -> Y with Z -> Y; P(Y = 0 | do(X = x)) = sum_z P(z) P(Y = 0 | x, z).
  const model = Result.getOrThrow(
    CausalModel.make(
      [
        { name: "Z", cardinality: 2, parents: [], cpt: Float64Array.of(0.25, 0.75) },
        { name: "X", cardinality: 2, parents: ["Z"], cpt: Float64Array.of(0.9, 0.1, 0.2, 0.8) },
        {
          name: "Y",
          cardinality: 2,
          parents: ["X", "Z"],
          cpt: Float64Array.of(0.6, 0.4, 0.3, 0.7, 0.5, 0.5, 0.1, 0.9),
        },
      ],
      ["Z", "X", "Y"],
    ),
  )

  test("cuts the treatment's incoming edges and fixes its value", () => {
    const done = Result.getOrThrow(CausalModel.intervene(model, "X", 1))
    const x = done.nodes.find((n) => n.name === "X")!
    expect(x.parents).toEqual([])
    expect(Array.from(x.cpt)).toEqual([0, 1])
    const zx = Result.getOrThrow(Adjustment.marginal(CausalModel.joint(done), ["Z", "X"]))
    // Z keeps its prior and is now independent of X.
    expect(Array.from(zx.probabilities)).toEqual([0, 0.25, 0, 0.75])
  })

  test("gives the hand-computed P(Y | do(X))", () => {
    const truth = Result.getOrThrow(
      CausalModel.interventional(model, { treatment: "X", outcome: "Y" }),
    )
    expect(truth[0][0]).toBeCloseTo(0.25 * 0.6 + 0.75 * 0.3, 14)
    expect(truth[1][0]).toBeCloseTo(0.25 * 0.5 + 0.75 * 0.1, 14)
  })

  test("rejects unknown variables and out-of-range values", () => {
    expect(Result.isFailure(CausalModel.intervene(model, "X", 2))).toBe(true)
    expect(
      Result.isFailure(CausalModel.interventional(model, { treatment: "X", outcome: "W" as "Y" })),
    ).toBe(true)
  })
})

describe("validation", () => {
  const z = { name: "Z", cardinality: 2, parents: [], cpt: Float64Array.of(0.5, 0.5) } as const
  test("malformed models are InvalidModel errors", () => {
    const cases: ReadonlyArray<Result.Result<unknown, CausalModel.InvalidModel>> = [
      // Parent declared after its child.
      CausalModel.make(
        [{ name: "X", cardinality: 2, parents: ["Z"], cpt: new Float64Array(4).fill(0.5) }, z],
        ["X"],
      ),
      // CPT of the wrong size.
      CausalModel.make(
        [z, { name: "X", cardinality: 2, parents: ["Z"], cpt: new Float64Array(2).fill(0.5) }],
        ["X"],
      ),
      // A row that does not sum to one.
      CausalModel.make(
        [
          z,
          { name: "X", cardinality: 2, parents: ["Z"], cpt: Float64Array.of(0.5, 0.5, 0.5, 0.6) },
        ],
        ["X"],
      ),
      // Unknown observed variable.
      CausalModel.make([z], ["Q" as "Z"]),
      CausalModel.frontDoor({ seed: 1, confounding: 1 }),
      CausalModel.frontDoor({ seed: 1.5 }),
      CausalModel.backDoor({ seed: 1, cardinalities: { Z: 1 } }),
      CausalModel.sample(Result.getOrThrow(CausalModel.make([z], ["Z"])), -1, 0),
    ]
    for (const r of cases) expect(Result.isFailure(r) && r.failure._tag).toBe("InvalidModel")
  })

  test("CPT rows each 1e-9 from one still give a joint that the estimators accept", () => {
    // Every row sums to 1 + 9e-10, which make allows; the product of three nodes sums to about
    // 1 + 2.7e-9, past the 1e-9 a Joint allows, so joint divides it by its sum.
    const e = 9e-10
    const model = Result.getOrThrow(
      CausalModel.make(
        [
          { name: "Z", cardinality: 2, parents: [], cpt: Float64Array.of(0.3 + e, 0.7) },
          {
            name: "X",
            cardinality: 2,
            parents: ["Z"],
            cpt: Float64Array.of(0.4 + e, 0.6, 0.4 + e, 0.6),
          },
          {
            name: "Y",
            cardinality: 2,
            parents: ["X", "Z"],
            cpt: Float64Array.of(0.9 + e, 0.1, 0.2 + e, 0.8, 0.5 + e, 0.5, 0.35 + e, 0.65),
          },
        ],
        ["Z", "X", "Y"],
      ),
    )
    const full = CausalModel.joint(model)
    expect(Math.abs(total(full.probabilities) - 1)).toBeLessThan(1e-12)
    const bd = Result.getOrThrow(
      Adjustment.backDoor(CausalModel.observationalJoint(model), {
        treatment: "X",
        outcome: "Y",
        confounder: "Z",
      }),
    )
    const truth = Result.getOrThrow(
      CausalModel.interventional(model, { treatment: "X", outcome: "Y" }),
    )
    expect(Math.abs(bd[0][0] - truth[0][0])).toBeLessThan(1e-8)
    expect(bd[0][0]).toBeCloseTo(0.3 * 0.9 + 0.7 * 0.2, 8)
  })
})
