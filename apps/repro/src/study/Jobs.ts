/**
 * What a study trains: its plan (which methods, which of CausalD's variants) and, with
 * `--workers`, every model as a job that names the folders it trains or reads (`Folders.ts`), so
 * that each process trains its share and skips what another holds (`Workers.ts`).
 *
 * @module
 */
import { Lease } from "@causald/training"
import { Effect } from "effect"
import type { Method } from "../Methods.ts"
import * as Readings from "../Readings.ts"
import * as Workers from "../Workers.ts"
import { type StudyContext, type StudyEffect, stageError } from "./Context.ts"
import type { Trainer } from "./Trainer.ts"
import {
  dispose,
  lambdaGrid,
  ownReading,
  screenRun,
  sensitivityRun,
  teacherCountRun,
  trainGroupWise,
  trainMethod,
} from "./Training.ts"

/** Every method but group-wise training, which is run (and scored) apart. */
export const ordinary = (ctx: StudyContext): ReadonlyArray<Method> =>
  ctx.options.methods.filter((m) => m !== "groupwise")

/** Whether group-wise models are trained, for Heterogeneity (`--heterogeneity`). */
export const withGroupWise = (ctx: StudyContext): boolean => ctx.options.heterogeneity !== "off"

/** Whether an experiment of CausalD's runs: asked for, and CausalD among the methods. */
export const wants = (ctx: StudyContext, e: (typeof ctx.options.experiments)[number]): boolean =>
  ctx.options.experiments.includes(e) && ctx.options.methods.includes("causald")

/** Table 7's K values, but the configured one (the default CausalD run of the first seed). */
export const teacherCountValues = (ctx: StudyContext): ReadonlyArray<number> =>
  wants(ctx, "table7") ? [2, 4, 8, 16].filter((k) => k !== ctx.options.teachers) : []

/** Fig. 5's λ values, but the configured one (the default CausalD run of the first seed). */
export const sensitivityValues = (
  ctx: StudyContext,
  which: "lambdaBda" | "lambdaFda",
): ReadonlyArray<number> =>
  wants(ctx, "fig5") ? lambdaGrid.filter((value) => value !== ctx.options[which]) : []

/** The readings screen's entries (`--screen`), when the `readings` experiment runs. */
export const screenEntries = (ctx: StudyContext): ReadonlyArray<Readings.ScreenEntry> =>
  wants(ctx, "readings")
    ? Readings.screen.filter(
        (e) => ctx.options.screen === undefined || ctx.options.screen.includes(e.name),
      )
    : []

/** A model to train (or reload), and every folder it trains or reads. */
export interface Job {
  readonly name: string
  readonly folders: ReadonlyArray<string>
  readonly run: StudyEffect<void>
}

/** Every model of the study as a job, in the study's order. */
export const jobs = (trainer: Trainer): ReadonlyArray<Job> => {
  const { ctx } = trainer
  const { seeds, folders } = ctx
  const firstSeed = seeds[0]!
  const free = (trained: Parameters<typeof dispose>[1]) => dispose(ctx, trained)
  return [
    ...seeds.flatMap((seed) =>
      screenEntries(ctx)
        .filter((entry) => !ownReading(ctx, entry))
        .map((entry) => ({
          name: `${folders.screen(entry)} seed ${seed}`,
          folders: folders.screenFolders(entry, seed),
          run: Effect.map(screenRun(trainer, entry, seed), free),
        })),
    ),
    ...seeds.flatMap((seed) => [
      ...(withGroupWise(ctx)
        ? [
            {
              name: `groupwise seed ${seed}`,
              folders: folders.groupFolders(
                folders.groupwise(seed),
                ctx.evaluationGrouping.sizes.length,
              ),
              run: Effect.map(trainGroupWise(trainer, seed), (models) => {
                for (const m of models) ctx.backend.dispose(m.model.parameters)
              }),
            },
          ]
        : []),
      ...ordinary(ctx).map((method) => ({
        name: `${method} seed ${seed}`,
        folders: folders.methodFolders(method, seed),
        run: Effect.map(trainMethod(trainer, method, seed), free),
      })),
    ]),
    ...teacherCountValues(ctx).map((k) => ({
      name: `causald K=${k}`,
      folders: folders.teacherCountFolders(k, firstSeed),
      run: Effect.map(teacherCountRun(trainer, k), free),
    })),
    ...(["lambdaBda", "lambdaFda"] as const).flatMap((which) =>
      sensitivityValues(ctx, which).map((value) => ({
        name: `causald ${which}=${value}`,
        folders: folders.sensitivityFolders(which, value, firstSeed),
        run: Effect.map(sensitivityRun(trainer, which, value), free),
      })),
    ),
  ]
}

/**
 * Runs jobs and counts them on the progress line: `visit` runs one, `firstPass` a process's
 * share (`Workers.firstPass`), returning the jobs another live process held.
 */
export const jobRunner = (ctx: StudyContext, all: ReadonlyArray<Job>) => {
  let visited = 0
  const visit = (job: Job) =>
    Effect.gen(function* () {
      yield* job.run.pipe(Effect.mapError(stageError(job.name)))
      visited += 1
      yield* ctx.progress.update({ stage: "models", done: visited, total: all.length })
    })
  /** Whether another live process holds one of the job's folders (`Workers.firstPass`). */
  const heldElsewhere = (job: Job) =>
    Effect.map(
      Effect.forEach(job.folders, (f) => Lease.heldByOther(f)),
      (held) => held.some((h) => h),
    )
  const firstPass = (index: number, processes: number) =>
    Workers.firstPass(all, index, processes, heldElsewhere, visit)
  return { visit, firstPass }
}
