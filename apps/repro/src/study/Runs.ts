/**
 * The study's runs in the main process: per seed, group-wise training and every method, each
 * trained (or reloaded) and scored once; then Table 7's K, the readings screen and Fig. 5's λ.
 * What they measured comes back as one {@link Evaluations} value for the results.
 *
 * @module
 */
import { Effect } from "effect"
import type { Method } from "../Methods.ts"
import { rankingMetrics, summarize, type VariantPoint } from "../Results.ts"
import { type StudyContext, type StudyEffect, stageError, timed } from "./Context.ts"
import {
  cachedEvaluator,
  type Evaluation,
  evaluator,
  type GroupRows,
  groupWiseScores,
} from "./Evaluation.ts"
import { ordinary, screenEntries, wants, withGroupWise } from "./Jobs.ts"
import type { Trainer } from "./Trainer.ts"
import {
  dispose,
  lambdaGrid,
  ownReading,
  screenRun,
  sensitivityRun,
  type Trained,
  teacherCountRun,
  trainGroupWise,
  trainMethod,
} from "./Training.ts"

/** What the runs measured. */
export interface Evaluations {
  /** Each method's evaluation per seed, in seed order. */
  readonly perSeed: ReadonlyMap<Method, ReadonlyArray<Evaluation>>
  /** Per seed, the group-wise models' metrics per group (eq. 7). */
  readonly groupWise: ReadonlyArray<GroupRows>
  /** Table 7: CausalD with K in {2, 4, 8, 16}. */
  readonly teacherCounts: ReadonlyArray<VariantPoint>
  /** The readings screen: each entry's evaluations per seed. */
  readonly screen: ReadonlyMap<string, ReadonlyArray<Evaluation>>
  /** Fig. 5: CausalD with λ_BDA or λ_FDA on the grid. */
  readonly sensitivity: {
    readonly lambdaBda: ReadonlyArray<VariantPoint>
    readonly lambdaFda: ReadonlyArray<VariantPoint>
  }
}

/** A trained model's test metrics, scored once per model (`cachedEvaluator`). */
type Evaluate = ReturnType<typeof cachedEvaluator>

/** Every run of the study, trained (or reloaded) and scored. */
export const runs = (trainer: Trainer): StudyEffect<Evaluations> =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const evaluate = cachedEvaluator(ctx, evaluator(ctx))
    const { perSeed, groupWise } = yield* seedRuns(trainer, evaluate)
    // The configured K and λ reuse the first seed's CausalD.
    const defaultCausalD = perSeed.get("causald")?.[0]
    const teacherCounts: Array<VariantPoint> = []
    if (wants(ctx, "table7") && defaultCausalD !== undefined)
      for (const k of [2, 4, 8, 16])
        teacherCounts.push(
          k === ctx.options.teachers
            ? variantPoint(k, defaultCausalD)
            : yield* variant(ctx, evaluate, `causald K=${k}`, k, teacherCountRun(trainer, k)),
        )
    const screen = yield* screenRuns(trainer, evaluate, perSeed)
    const sensitivity = {
      lambdaBda: [] as Array<VariantPoint>,
      lambdaFda: [] as Array<VariantPoint>,
    }
    if (wants(ctx, "fig5") && defaultCausalD !== undefined)
      for (const which of ["lambdaBda", "lambdaFda"] as const)
        for (const value of lambdaGrid)
          sensitivity[which].push(
            value === ctx.options[which]
              ? variantPoint(value, defaultCausalD)
              : yield* variant(
                  ctx,
                  evaluate,
                  `causald ${which}=${value}`,
                  value,
                  sensitivityRun(trainer, which, value),
                ),
          )
    return { perSeed, groupWise, teacherCounts, screen, sensitivity }
  })

/** Per seed: the group-wise models (scored on their own users), then every method. */
const seedRuns = (trainer: Trainer, evaluate: Evaluate) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const { seeds, progress, ledger } = ctx
    const methods = ordinary(ctx)
    const groupWiseRuns = withGroupWise(ctx)
    const totalRuns = seeds.length * (methods.length + (groupWiseRuns ? 1 : 0))
    const perSeed = new Map<Method, Array<Evaluation>>()
    const groupWise: Array<GroupRows> = []
    let finishedRuns = 0
    for (const seed of seeds) {
      if (groupWiseRuns)
        groupWise.push(
          yield* timed(
            ledger,
            `groupwise seed ${seed}`,
            Effect.map(trainGroupWise(trainer, seed), (models) => groupWiseScores(ctx, models)),
          ).pipe(Effect.mapError(stageError(`groupwise seed ${seed}`))),
        )
      if (groupWiseRuns) {
        finishedRuns += 1
        yield* progress.update({ stage: "study", done: finishedRuns, total: totalRuns })
      }
      for (const method of methods) {
        const trained = yield* timed(
          ledger,
          `${method} seed ${seed}`,
          trainMethod(trainer, method, seed),
        ).pipe(Effect.mapError(stageError(`${method} seed ${seed}`)))
        const evaluation = yield* evaluate(trained.model)
        ctx.backend.dispose(trained.model.parameters)
        trained.release()
        perSeed.set(method, [...(perSeed.get(method) ?? []), evaluation])
        finishedRuns += 1
        yield* progress.update({ stage: "study", done: finishedRuns, total: totalRuns })
      }
    }
    return { perSeed, groupWise }
  })

/** The readings screen: each entry on every seed; the study's own reading is its CausalD. */
const screenRuns = (
  trainer: Trainer,
  evaluate: Evaluate,
  perSeed: ReadonlyMap<Method, ReadonlyArray<Evaluation>>,
) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const screenEvaluations = new Map<string, Array<Evaluation>>()
    for (const entry of screenEntries(ctx))
      for (const [s, seed] of ctx.seeds.entries()) {
        const evaluation = ownReading(ctx, entry)
          ? perSeed.get("causald")![s]!
          : yield* Effect.gen(function* () {
              const name = `${ctx.folders.screen(entry)} seed ${seed}`
              const trained = yield* timed(ctx.ledger, name, screenRun(trainer, entry, seed)).pipe(
                Effect.mapError(stageError(name)),
              )
              const e = yield* evaluate(trained.model)
              dispose(ctx, trained)
              return e
            })
        screenEvaluations.set(entry.name, [
          ...(screenEvaluations.get(entry.name) ?? []),
          evaluation,
        ])
      }
    return screenEvaluations
  })

/** CausalD's test metrics with one setting changed to `value` (one seed: no spread). */
const variantPoint = (value: number, evaluation: Evaluation): VariantPoint => ({
  value,
  metrics: Object.fromEntries(
    rankingMetrics.map((m) => [m, summarize([evaluation.overall[m]!])]),
  ) as VariantPoint["metrics"],
})

/** A variant of CausalD trained (or reloaded), scored and freed. */
const variant = <E, R>(
  ctx: StudyContext,
  evaluate: Evaluate,
  name: string,
  value: number,
  run: Effect.Effect<Trained, E, R>,
) =>
  Effect.gen(function* () {
    const trained = yield* timed(ctx.ledger, name, run).pipe(Effect.mapError(stageError(name)))
    const evaluation = yield* evaluate(trained.model)
    ctx.backend.dispose(trained.model.parameters)
    trained.release()
    return variantPoint(value, evaluation)
  })
