/**
 * The estimators of Section 2 against ground-truth causal models whose P(Y | do(X)) is computed by
 * intervening on the model (CausalModel.interventional), never by the formulas under test.
 */
import { describe, expect, test } from "bun:test"
import { Result } from "effect"
import fc from "fast-check"
import * as Adjustment from "../src/Adjustment.ts"
import * as CausalModel from "../src/CausalModel.ts"

const RUNS = { numRuns: 200, seed: 20240601 } as const

const maxAbsDiff = (a: Adjustment.EffectTable, b: Adjustment.EffectTable): number => {
  let d = 0
  for (let x = 0; x < a.length; x++) {
    for (let y = 0; y < a[x].length; y++) d = Math.max(d, Math.abs(a[x][y] - b[x][y]))
  }
  return d
}

const seedArb = fc.integer({ min: 0, max: 0x7fffffff })
const card = (max: number) => fc.integer({ min: 2, max })
const frontDoorOptions = (confounding: fc.Arbitrary<number>, maxCard = 4) =>
  fc.record({
    seed: seedArb,
    confounding,
    cardinalities: fc.record({
      U: card(maxCard),
      X: card(maxCard),
      M: card(maxCard),
      Y: card(maxCard),
    }),
  })
const backDoorOptions = (confounding: fc.Arbitrary<number>) =>
  fc.record({
    seed: seedArb,
    confounding,
    cardinalities: fc.record({ Z: card(4), X: card(4), Y: card(4) }),
  })
const strength = (min: number, max: number) => fc.double({ min, max, noNaN: true })

const XY = { treatment: "X", outcome: "Y" } as const
const FD = { treatment: "X", outcome: "Y", mediator: "M" } as const
const BD = { treatment: "X", outcome: "Y", confounder: "Z" } as const

/**
 * A property over RUNS generated models: `check` gets each model's true P(Y | do(X)), computed
 * by intervening on the model, and its exact observational joint.
 */
const onGeneratedModels =
  <Options, V extends string, O extends V | "X" | "Y">(
    options: fc.Arbitrary<Options>,
    generate: (o: Options) => Result.Result<CausalModel.Model<V | "X" | "Y", O>, unknown>,
    check: (truth: Adjustment.EffectTable, joint: Adjustment.Joint<O>) => void,
  ) =>
  () =>
    fc.assert(
      fc.property(options, (o) => {
        const model = Result.getOrThrow(generate(o))
        const truth = Result.getOrThrow(CausalModel.interventional(model, XY))
        check(truth, CausalModel.observationalJoint(model))
      }),
      RUNS,
    )

describe("front-door adjustment (eq. 3-5)", () => {
  test(
    "on the exact observational joint it equals the interventional truth to 1e-9",
    onGeneratedModels(
      frontDoorOptions(strength(0, 0.95)),
      CausalModel.frontDoor,
      (truth, joint) => {
        const estimate = Result.getOrThrow(Adjustment.frontDoor(joint, FD))
        expect(maxAbsDiff(estimate, truth)).toBeLessThan(1e-9)
      },
    ),
  )

  /*
   * Sampling error. The front-door estimate is a smooth function f of the empirical joint p^ of
   * (X, M, Y), a mean of n i.i.d. one-hot vectors. By the delta method,
   *   sqrt(n) (f(p^) - f(p)) -> Normal(0, sigma^2),  sigma^2 = sum_c p_c IF_c^2,
   * with IF_c = d/de f((1 - e) p + e delta_c) at e = 0 (the influence function of cell c; its mean
   * under p is zero). We compute IF_c by central differences on the exact joint, so the standard
   * error sigma / sqrt(n) is derived for each model, not tuned. Each entry must lie within
   * 6 standard errors: c / sqrt(n) with c = 6 sigma. Over 200 runs x at most 9 entries, a Normal
   * exceeds 6 sd with probability < 1e-5, which leaves room for the finite-n departure from
   * normality. To show that the standard error is the right scale (not a loose bound that would pass
   * anything), the root mean square of the standardised errors over all runs must be near 1.
   */
  test("on n samples the error is within 6 delta-method standard errors, i.e. O(1/sqrt(n))", () => {
    const standardised: Array<number> = []
    fc.assert(
      fc.property(
        frontDoorOptions(strength(0.3, 0.7), 3),
        fc.constantFrom(2000, 8000, 32000),
        seedArb,
        (options, n, sampleSeed) => {
          const model = Result.getOrThrow(CausalModel.frontDoor(options))
          const exact = CausalModel.observationalJoint(model)
          const truth = Result.getOrThrow(CausalModel.interventional(model, XY))
          const columns = Result.getOrThrow(CausalModel.sample(model, n, sampleSeed))
          const empirical = Result.getOrThrow(
            Adjustment.fromSamples(exact.variables, exact.cardinalities, columns),
          )
          const estimate = Result.getOrThrow(Adjustment.frontDoor(empirical, FD))
          const sigma = deltaMethodSd(exact)
          for (let x = 0; x < truth.length; x++) {
            for (let y = 0; y < truth[x].length; y++) {
              const se = sigma[x][y] / Math.sqrt(n)
              const error = estimate[x][y] - truth[x][y]
              expect(Math.abs(error)).toBeLessThanOrEqual(6 * se + 1e-12)
              if (se > 0) standardised.push(error / se)
            }
          }
        },
      ),
      RUNS,
    )
    const rms = Math.sqrt(standardised.reduce((s, z) => s + z * z, 0) / standardised.length)
    expect(rms).toBeGreaterThan(0.75)
    expect(rms).toBeLessThan(1.25)
  })

  /*
   * With the edge U -> M the mediator no longer satisfies requirement (ii) (the back-door path
   * X <- U -> M is open), so eq. 5 is not P(Y | do(X)). This documents the assumption: the estimate
   * is measurably off. The threshold is empirical, not derived: over 20,000 generated models with
   * confounding in [0.8, 0.95] and cardinalities 2..4, the smallest maximal gap was 0.0798.
   */
  test(
    "differs from the truth when the front-door criterion is broken (edge U -> M)",
    onGeneratedModels(
      frontDoorOptions(strength(0.8, 0.95)),
      (options) => CausalModel.frontDoor({ ...options, confounderAffectsMediator: true }),
      (truth, joint) => {
        const estimate = Result.getOrThrow(Adjustment.frontDoor(joint, FD))
        expect(maxAbsDiff(estimate, truth)).toBeGreaterThan(0.02)
      },
    ),
  )
})

describe("back-door adjustment (eq. 2)", () => {
  test(
    "with Z observed it equals the interventional truth to 1e-9",
    onGeneratedModels(backDoorOptions(strength(0, 0.95)), CausalModel.backDoor, (truth, joint) => {
      const estimate = Result.getOrThrow(Adjustment.backDoor(joint, BD))
      expect(maxAbsDiff(estimate, truth)).toBeLessThan(1e-9)
    }),
  )
})

/*
 * Why the naive estimate must be off (so the tests above cannot pass vacuously). Take x = 0, y = 0,
 * let h(u) = P(X = 0 | u) and g(u) = P(Y = 0 | do(X = 0), u). Then
 *   P(y | x) - P(y | do(x)) = sum_u g(u) (P(u | x) - P(u)) = Cov_U(g, h) / E_U[h].
 * The generator gives, with strength s: h, g in [s, 1] on even u and in [0, 1 - s] on odd u. By
 * the law of total covariance with A = {u even}, pi = P(A):
 *   Cov(g, h) >= pi (1 - pi) (2s - 1)^2 - ((1 - s) / 2)^2,
 * the second term bounding the within-parity covariance (Popoviciu: variance <= range^2 / 4).
 * P(U) has entries within a factor 2 of each other and |U| <= 4, so pi(1 - pi) >= 0.16 (the worst
 * case is |U| = 3, pi <= 4/5). With s >= 0.8 and E[h] <= 1 the bias is at least
 * 0.16 * 0.36 - 0.01 = 0.0476. The same argument holds for the back-door model with Z for U.
 */
const NAIVE_BIAS_LOWER_BOUND = 0.0476

describe("the naive P(Y | X) under confounding", () => {
  /** P(Y = 0 | X = 0) exceeds P(Y = 0 | do(X = 0)) by the bound. */
  const biased = <O extends string>(
    truth: Adjustment.EffectTable,
    joint: Adjustment.Joint<O | "X" | "Y">,
  ) => {
    const naive = Result.getOrThrow(Adjustment.naive(joint, XY))
    expect(naive[0][0] - truth[0][0]).toBeGreaterThanOrEqual(NAIVE_BIAS_LOWER_BOUND)
  }

  test(
    "is biased by at least the derived bound in the front-door model",
    onGeneratedModels(frontDoorOptions(strength(0.8, 0.95)), CausalModel.frontDoor, biased),
  )

  test(
    "is biased by at least the derived bound in the back-door model",
    onGeneratedModels(backDoorOptions(strength(0.8, 0.95)), CausalModel.backDoor, biased),
  )

  test("equals the truth when X does not depend on its parent Z (no confounding)", () => {
    // A back-door graph whose P(X | Z) rows are equal: X is independent of Z.
    const model = Result.getOrThrow(
      CausalModel.make(
        [
          { name: "Z", cardinality: 2, parents: [], cpt: Float64Array.of(0.3, 0.7) },
          { name: "X", cardinality: 2, parents: ["Z"], cpt: Float64Array.of(0.4, 0.6, 0.4, 0.6) },
          {
            name: "Y",
            cardinality: 2,
            parents: ["X", "Z"],
            cpt: Float64Array.of(0.9, 0.1, 0.2, 0.8, 0.5, 0.5, 0.35, 0.65),
          },
        ],
        ["Z", "X", "Y"],
      ),
    )
    const truth = Result.getOrThrow(CausalModel.interventional(model, XY))
    const naive = Result.getOrThrow(Adjustment.naive(CausalModel.observationalJoint(model), XY))
    expect(maxAbsDiff(naive, truth)).toBeLessThan(1e-12)
    // Hand computation: P(Y = 0 | do(X = 0)) = 0.3 * 0.9 + 0.7 * 0.2 = 0.41.
    expect(truth[0][0]).toBeCloseTo(0.41, 12)
    expect(truth[1][0]).toBeCloseTo(0.3 * 0.5 + 0.7 * 0.35, 12)
  })
})

describe("hand-computed cases and errors", () => {
  // Axes Z, X, Y; all binary. P(z, x, y) listed with y fastest.
  const p = [0.1, 0.05, 0.05, 0.1, 0.1, 0.2, 0.3, 0.1]
  const joint = Result.getOrThrow(Adjustment.fromProbabilities(["Z", "X", "Y"], [2, 2, 2], p))

  test("marginal sums out the other variables and reorders axes", () => {
    const yx = Result.getOrThrow(Adjustment.marginal(joint, ["Y", "X"]))
    // P(Y = 0, X = 0) = 0.1 + 0.1, P(Y = 0, X = 1) = 0.05 + 0.3, ...
    expect(Array.from(yx.probabilities)).toEqual([0.1 + 0.1, 0.05 + 0.3, 0.05 + 0.2, 0.1 + 0.1])
    expect(yx.variables).toEqual(["Y", "X"])
  })

  test("naive and back-door on a hand-computed joint", () => {
    const naive = Result.getOrThrow(Adjustment.naive(joint, XY))
    // P(X = 0) = 0.1 + 0.05 + 0.1 + 0.2 = 0.45; P(Y = 0 | X = 0) = 0.2 / 0.45.
    expect(naive[0][0]).toBeCloseTo(0.2 / 0.45, 12)
    const bd = Result.getOrThrow(Adjustment.backDoor(joint, BD))
    // P(Z = 0) = 0.3, P(Z = 1) = 0.7; P(Y = 0 | X = 0, Z = 0) = 0.1 / 0.15,
    // P(Y = 0 | X = 0, Z = 1) = 0.1 / 0.3.
    expect(bd[0][0]).toBeCloseTo(0.3 * (0.1 / 0.15) + 0.7 * (0.1 / 0.3), 12)
    expect(bd[1][0]).toBeCloseTo(0.3 * (0.05 / 0.15) + 0.7 * (0.3 / 0.4), 12)
  })

  test("positivity violations name the variable and value", () => {
    // P(X = 1) = 0.
    const noX1 = Result.getOrThrow(
      Adjustment.fromProbabilities(
        ["X", "M", "Y"],
        [2, 2, 2],
        [0.25, 0.25, 0.25, 0.25, 0, 0, 0, 0],
      ),
    )
    const naive = Adjustment.naive(noX1, XY)
    expect(Result.isFailure(naive)).toBe(true)
    if (Result.isFailure(naive)) {
      expect(naive.failure._tag).toBe("PositivityViolation")
      const failure = naive.failure as Adjustment.PositivityViolation
      expect(failure.event).toEqual([{ variable: "X", value: 1 }])
      expect(failure.message).toContain("P(X = 1) = 0")
    }
    // P(X = 1, M = 0) = 0 while P(M = 0) > 0.
    const noX1M0 = Result.getOrThrow(
      Adjustment.fromProbabilities(
        ["X", "M", "Y"],
        [2, 2, 2],
        [0.2, 0.1, 0.1, 0.1, 0, 0, 0.3, 0.2],
      ),
    )
    const fd = Adjustment.frontDoor(noX1M0, FD)
    expect(Result.isFailure(fd)).toBe(true)
    if (Result.isFailure(fd)) {
      const failure = fd.failure as Adjustment.PositivityViolation
      expect(failure.estimator).toBe("frontDoor")
      expect(failure.event).toEqual([
        { variable: "X", value: 1 },
        { variable: "M", value: 0 },
      ])
    }
    // P(X = 0, Z = 1) = 0 while P(Z = 1) > 0.
    const noX0Z1 = Result.getOrThrow(
      Adjustment.fromProbabilities(
        ["Z", "X", "Y"],
        [2, 2, 2],
        [0.1, 0.1, 0.1, 0.1, 0, 0, 0.3, 0.3],
      ),
    )
    const bd = Adjustment.backDoor(noX0Z1, BD)
    expect(Result.isFailure(bd)).toBe(true)
    if (Result.isFailure(bd)) {
      expect((bd.failure as Adjustment.PositivityViolation).event).toEqual([
        { variable: "X", value: 0 },
        { variable: "Z", value: 1 },
      ])
    }
  })

  test("a zero-probability confounder or mediator value is skipped, not an error", () => {
    // P(Z = 1) = 0: eq. 2 only sums over z with P(z) > 0.
    const bd = Adjustment.backDoor(
      Result.getOrThrow(
        Adjustment.fromProbabilities(["Z", "X", "Y"], [2, 2, 2], [0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0]),
      ),
      BD,
    )
    expect(Result.isSuccess(bd)).toBe(true)
  })

  test("unknown variables and malformed distributions are typed errors", () => {
    const unknown = Adjustment.frontDoor(joint, FD)
    expect(Result.isFailure(unknown) && unknown.failure._tag).toBe("UnknownVariable")
    const bad = [
      Adjustment.fromProbabilities(["X"], [2], [0.5, 0.6]),
      Adjustment.fromProbabilities(["X"], [2], [0.5]),
      Adjustment.fromProbabilities(["X"], [2], [1.5, -0.5]),
      Adjustment.fromProbabilities(["X", "X"], [1, 1], [1]),
      Adjustment.fromSamples(["X"], [2], { X: [0, 2] }),
      Adjustment.fromSamples(["X", "Y"], [2, 2], { X: [0, 1], Y: [0] }),
      Adjustment.fromSamples(["X"], [2], { X: [] }),
    ]
    for (const r of bad) {
      expect(Result.isFailure(r) && r.failure._tag).toBe("InvalidDistribution")
    }
  })

  test("fromSamples counts observations", () => {
    const j = Result.getOrThrow(
      Adjustment.fromSamples(["X", "Y"], [2, 3], { X: [0, 1, 1, 1], Y: [2, 0, 0, 1] }),
    )
    expect(Array.from(j.probabilities)).toEqual([0, 0, 0.25, 0.5, 0.25, 0])
  })
})

/**
 * Delta-method standard deviation (times sqrt(n)) of each entry of the front-door estimate under
 * multinomial sampling from `exact`; see the comment of the sampling test.
 */
const deltaMethodSd = (exact: Adjustment.Joint<"X" | "M" | "Y">): Array<Float64Array> => {
  const base = Result.getOrThrow(Adjustment.frontDoor(exact, FD))
  const variance = base.map((row) => new Float64Array(row.length))
  const h = 1e-6
  const p = exact.probabilities
  const perturbed = (cell: number, e: number): Adjustment.EffectTable => {
    const q = p.map((v) => (1 - e) * v)
    q[cell] += e
    return Result.getOrThrow(
      Adjustment.frontDoor(
        { variables: exact.variables, cardinalities: exact.cardinalities, probabilities: q },
        FD,
      ),
    )
  }
  for (let cell = 0; cell < p.length; cell++) {
    if (p[cell] === 0) continue
    const plus = perturbed(cell, h)
    const minus = perturbed(cell, -h)
    for (let x = 0; x < base.length; x++) {
      for (let y = 0; y < base[x].length; y++) {
        const influence = (plus[x][y] - minus[x][y]) / (2 * h)
        variance[x][y] += p[cell] * influence * influence
      }
    }
  }
  return variance.map((row) => row.map(Math.sqrt))
}
