/**
 * Worked example: front-door adjustment (paper, eq. 3-5) on discrete variables, where the truth
 * is known.
 *
 * `CausalModel.frontDoor` draws a structural causal model of the paper's Figure 3: a hidden
 * confounder U of the history X and the next behaviour Y, and a mediator M on the only path
 * X -> M -> Y. We observe X, M, Y only (a sample of n users), estimate P(Y | do(X)) from the
 * sample with `Adjustment.frontDoor`, and compare it with
 * - the truth, `CausalModel.interventional`, computed by intervening on the model itself;
 * - the naive observational P(Y | X), `Adjustment.naive`, which U biases.
 *
 * Run it: `bun examples/ExactFrontDoor.ts`.
 *
 * @module
 */
import { Adjustment, CausalModel } from "@causald/core"
import { Result } from "effect"

/** Options of {@link main}. */
export interface ExactFrontDoorOptions {
  /** Seed of the model's CPTs. */
  readonly modelSeed?: number
  /** Seed of the sample. */
  readonly sampleSeed?: number
  /** Users observed. */
  readonly n?: number
  /** Strength of the hidden confounder U (0 = none, towards 1 = X and Y both follow U). */
  readonly confounding?: number
}

/** P(Y = y | do(X = x)) and P(Y = y | X = x) tables, and their largest errors against the truth. */
export interface ExactFrontDoorReport {
  readonly n: number
  /** `truth[x][y]` = P(Y = y | do(X = x)) from the model. */
  readonly truth: Adjustment.EffectTable
  /** Front-door adjustment on the exact observational joint (infinite sample). */
  readonly population: Adjustment.EffectTable
  /** Front-door adjustment on the n observations. */
  readonly frontDoor: Adjustment.EffectTable
  /** P(Y | X) on the n observations: what a model that ignores U learns. */
  readonly naive: Adjustment.EffectTable
  /** max_{x,y} |estimate - truth| of each. */
  readonly error: {
    readonly population: number
    readonly frontDoor: number
    readonly naive: number
  }
}

/** The largest absolute difference between two tables of the same shape. */
export const maxAbsError = (a: Adjustment.EffectTable, b: Adjustment.EffectTable): number => {
  let worst = 0
  a.forEach((row, x) => {
    row.forEach((p, y) => {
      worst = Math.max(worst, Math.abs(p - b[x]![y]!))
    })
  })
  return worst
}

/**
 * Draws the model, samples it, and estimates P(Y | do(X)) three ways. Fails with a typed error
 * (`InvalidModel`, `InvalidDistribution`, `UnknownVariable`, `PositivityViolation`; the
 * estimators' `RepeatedVariable` cannot occur, X, M and Y being distinct) on bad options or a
 * sample too small to observe every (X, M) cell.
 */
export const main = (
  options: ExactFrontDoorOptions = {},
): Result.Result<ExactFrontDoorReport, CausalModel.InvalidModel | Adjustment.AdjustmentError> =>
  Result.gen(function* () {
    const n = options.n ?? 20_000
    // U -> X, U -> Y, X -> M -> Y; U is latent, so only X, M, Y are observed.
    const model = yield* CausalModel.frontDoor({
      seed: options.modelSeed ?? 7,
      confounding: options.confounding ?? 0.8,
    })
    const variables = { treatment: "X", outcome: "Y", mediator: "M" } as const

    const truth = yield* CausalModel.interventional(model, variables)
    const population = yield* Adjustment.frontDoor(CausalModel.observationalJoint(model), variables)

    // What a user of this package has: a table of observations, one column per variable.
    const columns = yield* CausalModel.sample(model, n, options.sampleSeed ?? 1)
    const observed = yield* Adjustment.fromSamples(["X", "M", "Y"], [2, 2, 2], columns)
    const frontDoor = yield* Adjustment.frontDoor(observed, variables)
    const naive = yield* Adjustment.naive(observed, variables)

    return {
      n,
      truth,
      population,
      frontDoor,
      naive,
      error: {
        population: maxAbsError(population, truth),
        frontDoor: maxAbsError(frontDoor, truth),
        naive: maxAbsError(naive, truth),
      },
    }
  })

const show = (table: Adjustment.EffectTable): string =>
  table.map((row, x) => `x=${x}: [${Array.from(row, (p) => p.toFixed(4)).join(", ")}]`).join("  ")

if (import.meta.main) {
  const result = main()
  if (Result.isFailure(result)) {
    console.error(result.failure.message)
    process.exitCode = 1
  } else {
    const r = result.success
    const rows: ReadonlyArray<readonly [string, Adjustment.EffectTable]> = [
      ["P(Y | do(X)), the truth", r.truth],
      ["front-door, exact joint", r.population],
      [`front-door, ${r.n} users`, r.frontDoor],
      [`naive P(Y | X), ${r.n} users`, r.naive],
    ]
    for (const [label, table] of rows) console.log(`${label.padEnd(30)} ${show(table)}`)
    console.log(
      `max error: front-door ${r.error.frontDoor.toFixed(4)}, naive ${r.error.naive.toFixed(4)}`,
    )
  }
}
