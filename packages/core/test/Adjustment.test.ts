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

/*
 * Nothing silently wrong. A Joint is branded and only the module's builders make one; every
 * estimator checks at run time that it got such a joint, that its probabilities are still a
 * distribution, and that no variable is given two roles. The properties below run over random
 * joints of four variables, in a random axis order, with random roles.
 */
const NAMES = ["W", "X", "Y", "Z"] as const
type Name = (typeof NAMES)[number]

/** A joint as plain data, before (or instead of) going through a builder. */
interface Described {
  readonly variables: ReadonlyArray<Name>
  readonly cardinalities: ReadonlyArray<number>
  readonly probabilities: ReadonlyArray<number>
}

/** A valid distribution over the four names in a random order, cardinalities 2..3, every cell > 0. */
const describedArb: fc.Arbitrary<Described> = fc
  .record({
    variables: fc.shuffledSubarray([...NAMES], { minLength: 4, maxLength: 4 }),
    cardinalities: fc.array(card(3), { minLength: 4, maxLength: 4 }),
  })
  .chain(({ variables, cardinalities }) => {
    const n = cardinalities.reduce((a, b) => a * b, 1)
    return fc
      .array(fc.double({ min: 0.05, max: 1, noNaN: true }), { minLength: n, maxLength: n })
      .map((weights) => {
        const total = weights.reduce((a, b) => a + b, 0)
        return { variables, cardinalities, probabilities: weights.map((w) => w / total) }
      })
  })

/** Four distinct names: treatment, outcome, then the mediator or (first) confounder, then a second. */
const rolesArb = fc.shuffledSubarray([...NAMES], { minLength: 4, maxLength: 4 })

const build = (d: Described): Adjustment.Joint<Name> =>
  Result.getOrThrow(Adjustment.fromProbabilities(d.variables, d.cardinalities, d.probabilities))

/** An object that merely looks like a Joint: what a JavaScript caller, or a cast, can pass. */
const literal = (d: Described, probabilities: ArrayLike<number>): Adjustment.Joint<Name> =>
  ({
    variables: d.variables,
    cardinalities: d.cardinalities,
    probabilities: Float64Array.from(probabilities),
  }) as unknown as Adjustment.Joint<Name>

/** A built joint whose probabilities are then overwritten in place. */
const overwritten = (d: Described, change: (p: Float64Array) => void): Adjustment.Joint<Name> => {
  const joint = build(d)
  change(joint.probabilities)
  return joint
}

type AnyResult = Result.Result<unknown, { readonly _tag: string; readonly message: string }>

/** Every estimator of the module on `joint`, each variable in one role: [name, result]. */
const everyEstimator = (
  joint: Adjustment.Joint<Name>,
  [t, o, a, b]: ReadonlyArray<Name>,
): ReadonlyArray<readonly [string, AnyResult]> => [
  ["marginal", Adjustment.marginal(joint, [t, o])],
  ["naive", Adjustment.naive(joint, { treatment: t, outcome: o })],
  ["backDoor", Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: a })],
  [
    "backDoor over two confounders",
    Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: [a, b] }),
  ],
  ["frontDoor", Adjustment.frontDoor(joint, { treatment: t, outcome: o, mediator: a })],
]

const failureOf = (r: AnyResult) => (Result.isFailure(r) ? r.failure : undefined)

/**
 * Forged joints, by what is wrong with them; `cell` picks the cell to spoil. Literals are refused
 * for not being built, whatever they hold; built joints whose cells were overwritten are refused
 * for what the overwrite broke.
 */
const forgeries: Record<string, (d: Described, cell: number) => Adjustment.Joint<Name>> = {
  "literal holding a valid distribution": (d) => literal(d, d.probabilities),
  "spread copy of a built joint": (d) => ({ ...build(d) }),
  "literal summing to 2": (d) =>
    literal(
      d,
      d.probabilities.map((p) => 2 * p),
    ),
  "literal with a NaN cell": (d, cell) => literal(d, d.probabilities.with(cell, Number.NaN)),
  "literal with a negative cell, summing to 1": (d, cell) => {
    const other = (cell + 1) % d.probabilities.length
    const p = [...d.probabilities]
    p[cell] -= 1
    p[other] += 1
    return literal(d, p)
  },
  "literal with one value too many": (d) => literal(d, [...d.probabilities, 0]),
  "literal with twice the values": (d) => literal(d, [...d.probabilities, ...d.probabilities]),
  "literal with one value too few": (d) => literal(d, d.probabilities.slice(1)),
  "built joint scaled to sum 2": (d) =>
    overwritten(d, (p) => {
      for (let i = 0; i < p.length; i++) p[i] *= 2
    }),
  "built joint with a NaN written in": (d, cell) =>
    overwritten(d, (p) => {
      p[cell] = Number.NaN
    }),
  "built joint with Infinity written in": (d, cell) =>
    overwritten(d, (p) => {
      p[cell] = Number.POSITIVE_INFINITY
    }),
  "built joint with a negative cell written in, summing to 1": (d, cell) =>
    overwritten(d, (p) => {
      p[(cell + 1) % p.length] += p[cell] + 0.25
      p[cell] = -0.25
    }),
}

describe("forged joints are refused", () => {
  test("an object literal does not type-check as a Joint, and fails at run time even when valid", () => {
    // @ts-expect-error a Joint is branded: only fromProbabilities, fromSamples and marginal make one
    const literalJoint: Adjustment.Joint<"X" | "Y"> = {
      variables: ["X", "Y"],
      cardinalities: [2, 2],
      probabilities: Float64Array.of(0.25, 0.25, 0.25, 0.25),
    }
    const naive = Adjustment.naive(literalJoint, XY)
    expect(Result.isFailure(naive) && naive.failure._tag).toBe("InvalidDistribution")
    expect(Result.isFailure(naive) && naive.failure.message).toContain("not a Joint built by")
  })

  test("wrong sum, NaN, Infinity, negative cells, wrong lengths and copies: InvalidDistribution from every estimator", () => {
    fc.assert(
      fc.property(
        describedArb,
        rolesArb,
        fc.constantFrom(...Object.keys(forgeries)),
        fc.nat(),
        (d, roles, kind, cellSeed) => {
          const joint = forgeries[kind](d, cellSeed % d.probabilities.length)
          for (const [estimator, result] of everyEstimator(joint, roles)) {
            const failure = failureOf(result)
            expect({ estimator, kind, tag: failure?._tag }).toEqual({
              estimator,
              kind,
              tag: "InvalidDistribution",
            })
            expect(failure?.message).toContain(
              kind.startsWith("built") ? "changed after it was built" : "not a Joint built by",
            )
          }
          // The same data through the builder is accepted by every estimator.
          for (const [, result] of everyEstimator(build(d), roles)) {
            expect(Result.isSuccess(result)).toBe(true)
          }
        },
      ),
      RUNS,
    )
  })

  test("the issue's cases: a 2x2x2 joint summing to 2, with a NaN cell, or with 9 or 16 values", () => {
    const variables = ["Z", "X", "Y"] as const
    const p = [0.1, 0.05, 0.05, 0.1, 0.1, 0.2, 0.3, 0.1]
    const cases = [
      p.map((v) => 2 * v),
      p.with(3, Number.NaN),
      [...p, 0.1],
      [...p, ...p],
      p.slice(0, 7),
    ]
    for (const probabilities of cases) {
      const forged = {
        variables,
        cardinalities: [2, 2, 2],
        probabilities: Float64Array.from(probabilities),
      } as unknown as Adjustment.Joint<"Z" | "X" | "Y">
      const results: ReadonlyArray<AnyResult> = [
        Adjustment.marginal(forged, ["X", "Y"]),
        Adjustment.naive(forged, XY),
        Adjustment.backDoor(forged, BD),
        Adjustment.frontDoor(forged, { treatment: "X", outcome: "Y", mediator: "Z" }),
      ]
      for (const r of results) expect(failureOf(r)?._tag).toBe("InvalidDistribution")
      // And the builder names what is wrong.
      const built = Adjustment.fromProbabilities(variables, [2, 2, 2], probabilities)
      expect(Result.isFailure(built) && built.failure._tag).toBe("InvalidDistribution")
    }
  })

  test("a JavaScript caller that leaves a role out gets UnknownVariable, not an exception", () => {
    const joint = Result.getOrThrow(
      Adjustment.fromProbabilities(
        ["X", "Y", "Z"],
        [2, 2, 2],
        [0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.2, 0.2],
      ),
    )
    const untyped = { treatment: "X", outcome: "Y" } as unknown as typeof BD
    for (const r of [
      Adjustment.backDoor(joint, untyped),
      Adjustment.frontDoor(joint, untyped as unknown as typeof FD),
    ]) {
      expect(Result.isFailure(r) && r.failure.message).toBe(
        'unknown variable "undefined"; the joint holds X, Y, Z',
      )
    }
  })

  test("a built joint and its variables and cardinalities are frozen", () => {
    const joint = Result.getOrThrow(
      Adjustment.fromProbabilities(["X", "Y"], [2, 2], [0.1, 0.2, 0.3, 0.4]),
    )
    const marginalX = Result.getOrThrow(Adjustment.marginal(joint, ["X"]))
    for (const j of [joint, marginalX]) {
      expect(Object.isFrozen(j)).toBe(true)
      expect(Object.isFrozen(j.variables)).toBe(true)
      expect(Object.isFrozen(j.cardinalities)).toBe(true)
    }
    expect(() => {
      ;(joint.cardinalities as Array<number>).push(2)
    }).toThrow(TypeError)
    expect(() => {
      ;(joint as { probabilities: Float64Array }).probabilities = new Float64Array(9)
    }).toThrow(TypeError)
  })
})

/** [estimator, its call with one variable in two roles, the variable, the roles it was given]. */
type Collision = readonly [string, AnyResult, Name, ReadonlyArray<string>]

const collisions = (joint: Adjustment.Joint<Name>, [t, o, a]: ReadonlyArray<Name>) =>
  [
    ["naive", Adjustment.naive(joint, { treatment: t, outcome: t }), t, ["treatment", "outcome"]],
    [
      "backDoor",
      Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: t }),
      t,
      ["treatment", "confounder"],
    ],
    [
      "backDoor",
      Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: [a, o] }),
      o,
      ["outcome", "confounder"],
    ],
    [
      "backDoor",
      Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: [a, a] }),
      a,
      ["confounder", "confounder"],
    ],
    [
      "backDoor",
      Adjustment.backDoor(joint, { treatment: o, outcome: o, confounder: a }),
      o,
      ["treatment", "outcome"],
    ],
    [
      "frontDoor",
      Adjustment.frontDoor(joint, { treatment: t, outcome: o, mediator: t }),
      t,
      ["treatment", "mediator"],
    ],
    [
      "frontDoor",
      Adjustment.frontDoor(joint, { treatment: t, outcome: o, mediator: o }),
      o,
      ["mediator", "outcome"],
    ],
    [
      "frontDoor",
      Adjustment.frontDoor(joint, { treatment: t, outcome: t, mediator: a }),
      t,
      ["treatment", "outcome"],
    ],
    ["marginal", Adjustment.marginal(joint, [a, t, a]), a, ["keep[0]", "keep[2]"]],
  ] satisfies ReadonlyArray<Collision>

describe("a variable in two roles is refused", () => {
  test("every estimator returns RepeatedVariable naming the variable and its roles", () => {
    fc.assert(
      fc.property(describedArb, rolesArb, (d, roles) => {
        for (const [estimator, result, variable, given] of collisions(build(d), roles)) {
          const failure = failureOf(result) as Adjustment.RepeatedVariable | undefined
          expect({ estimator, tag: failure?._tag, variable: failure?.variable }).toEqual({
            estimator,
            tag: "RepeatedVariable",
            variable,
          })
          expect(failure?.roles).toEqual(given)
        }
      }),
      RUNS,
    )
  })

  test("X as its own confounder is named in the message, not answered naively", () => {
    const joint = Result.getOrThrow(
      Adjustment.fromProbabilities(
        ["Z", "X", "Y"],
        [2, 2, 2],
        [0.1, 0.05, 0.05, 0.1, 0.1, 0.2, 0.3, 0.1],
      ),
    )
    const bd = Adjustment.backDoor(joint, { treatment: "X", outcome: "Y", confounder: "X" })
    expect(Result.isFailure(bd) && bd.failure.message).toBe(
      'variable "X" has more than one role (treatment, confounder); each role needs its own variable',
    )
  })
})

/** The values of each axis at flat index `cell` (row-major, the last axis fastest). */
const decode = (cardinalities: ReadonlyArray<number>, cell: number): Array<number> => {
  const values = new Array<number>(cardinalities.length)
  for (let i = cardinalities.length - 1; i >= 0; i--) {
    values[i] = cell % cardinalities[i]
    cell = Math.floor(cell / cardinalities[i])
  }
  return values
}

/** Every assignment of `names`, row-major (the last name fastest). */
const assignments = (d: Described, names: ReadonlyArray<Name>): Array<Map<Name, number>> => {
  const cards = names.map((n) => d.cardinalities[d.variables.indexOf(n)])
  const count = cards.reduce((a, b) => a * b, 1)
  return Array.from({ length: count }, (_, c) => {
    const values = decode(cards, c)
    return new Map(names.map((n, i) => [n, values[i]]))
  })
}

/** P(event) by summing every cell of `d` that agrees with the event. */
const probability = (d: Described, ...events: ReadonlyArray<Map<Name, number>>): number => {
  let total = 0
  d.probabilities.forEach((p, cell) => {
    const values = decode(d.cardinalities, cell)
    const agrees = events.every((event) =>
      [...event].every(([n, v]) => values[d.variables.indexOf(n)] === v),
    )
    if (agrees) total += p
  })
  return total
}

/** A formula evaluated by brute force, as `table[x][y]`. */
const bruteForce = (
  d: Described,
  t: Name,
  o: Name,
  entry: (x: Map<Name, number>, y: Map<Name, number>) => number,
): Array<Array<number>> =>
  assignments(d, [t]).map((x) => assignments(d, [o]).map((y) => entry(x, y)))

const bruteNaive = (d: Described, t: Name, o: Name) =>
  bruteForce(d, t, o, (x, y) => probability(d, x, y) / probability(d, x))

/** eq. 2: sum_z P(z) P(y | x, z), z over the assignments of every confounder. */
const bruteBackDoor = (d: Described, t: Name, o: Name, zs: ReadonlyArray<Name>) =>
  bruteForce(d, t, o, (x, y) =>
    assignments(d, zs).reduce(
      (s, z) => s + (probability(d, z) * probability(d, x, y, z)) / probability(d, x, z),
      0,
    ),
  )

/** eq. 5: sum_m P(m | x) sum_x' P(x') P(y | m, x'). */
const bruteFrontDoor = (d: Described, t: Name, o: Name, m: Name) =>
  bruteForce(d, t, o, (x, y) =>
    assignments(d, [m]).reduce(
      (s, mv) =>
        s +
        (probability(d, mv, x) / probability(d, x)) *
          assignments(d, [t]).reduce(
            (inner, x2) =>
              inner + (probability(d, x2) * probability(d, y, mv, x2)) / probability(d, mv, x2),
            0,
          ),
      0,
    ),
  )

const maxGap = (a: ArrayLike<ArrayLike<number>>, b: ArrayLike<ArrayLike<number>>): number => {
  expect(a.length).toBe(b.length)
  let gap = 0
  for (let i = 0; i < a.length; i++) {
    expect(a[i].length).toBe(b[i].length)
    for (let j = 0; j < a[i].length; j++) gap = Math.max(gap, Math.abs(a[i][j] - b[i][j]))
  }
  return gap
}

describe("valid joints are answered as before", () => {
  test("every estimator equals a brute-force evaluation of its formula on random valid joints", () => {
    fc.assert(
      fc.property(describedArb, rolesArb, (d, [t, o, a, b]) => {
        const joint = build(d)
        const ok = <A>(r: Result.Result<A, unknown>): A => Result.getOrThrow(r)
        const estimates: ReadonlyArray<readonly [Adjustment.EffectTable, Array<Array<number>>]> = [
          [ok(Adjustment.naive(joint, { treatment: t, outcome: o })), bruteNaive(d, t, o)],
          [
            ok(Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: a })),
            bruteBackDoor(d, t, o, [a]),
          ],
          [
            ok(Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: [b, a] })),
            bruteBackDoor(d, t, o, [b, a]),
          ],
          [
            ok(Adjustment.backDoor(joint, { treatment: t, outcome: o, confounder: [] })),
            bruteNaive(d, t, o),
          ],
          [
            ok(Adjustment.frontDoor(joint, { treatment: t, outcome: o, mediator: a })),
            bruteFrontDoor(d, t, o, a),
          ],
        ]
        for (const [estimate, truth] of estimates)
          expect(maxGap(estimate, truth)).toBeLessThan(1e-12)
        const kept = ok(Adjustment.marginal(joint, [b, t, o]))
        expect(kept.variables).toEqual([b, t, o])
        const brute = assignments(d, [b, t, o]).map((event) => probability(d, event))
        expect(maxGap([kept.probabilities], [brute])).toBeLessThan(1e-15)
      }),
      RUNS,
    )
  })

  test("back-door over a set of confounders names each of them in a positivity violation", () => {
    // Axes Z1, Z2, X, Y, all binary. P(Z1 = 1, Z2 = 0, X = 0) = 0 while P(Z1 = 1, Z2 = 0) > 0.
    const p = [0.05, 0.05, 0.05, 0.05, 0.1, 0.1, 0.1, 0.1, 0, 0, 0.1, 0.1, 0.05, 0.05, 0.05, 0.05]
    const joint = Result.getOrThrow(
      Adjustment.fromProbabilities(["Z1", "Z2", "X", "Y"], [2, 2, 2, 2], p),
    )
    const bd = Adjustment.backDoor(joint, {
      treatment: "X",
      outcome: "Y",
      confounder: ["Z1", "Z2"],
    })
    expect(Result.isFailure(bd) && bd.failure._tag).toBe("PositivityViolation")
    if (Result.isFailure(bd)) {
      expect((bd.failure as Adjustment.PositivityViolation).event).toEqual([
        { variable: "X", value: 0 },
        { variable: "Z1", value: 1 },
        { variable: "Z2", value: 0 },
      ])
    }
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
    const joint = Adjustment.fromProbabilities(exact.variables, exact.cardinalities, q)
    return Result.getOrThrow(Result.flatMap(joint, (j) => Adjustment.frontDoor(j, FD)))
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
