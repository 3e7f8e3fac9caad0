/**
 * The paper's study end to end: prepare the data, train the teachers, the group-wise models, the
 * base model, CausalD, its ablations and the baselines over several seeds, evaluate every model on
 * the stored test candidates, and write `results.json`, tables, figures and a report.
 *
 * Every model trains in its own folder under `<out>/models/`, checkpointed after each epoch, so a
 * rerun with the same `--out` reuses every finished model and resumes an interrupted one: a run
 * killed at any moment continues where it stopped and ends with the same numbers. Evaluation is
 * recomputed (it is cheap and deterministic). With `--workers N`, N processes share the folder
 * (`Workers.ts`): each model's folder has a lease, so a model is trained by one process and
 * reloaded by the others.
 *
 * Model selection uses validation data only; the test split is read once per trained model.
 *
 * The phases are modules of `study/`, around one context record (`study/Context.ts`: options,
 * data, profile, backend, reading, groupings, folders, and the ledger of stages, training and
 * searched coefficients): every model folder is named in `study/Folders.ts`, trained in
 * `study/Training.ts`, listed as a job for workers in `study/Jobs.ts`, run and scored in
 * `study/Runs.ts` and `study/Evaluation.ts`, and made into results in `study/Assembly.ts`.
 *
 * @module
 */
import type { Tensor, TensorBackend, Tensors } from "@causald/core"
import { FrontDoor } from "@causald/data"
import { layer as tensorsLayer } from "@causald/tfjs"
import { Progress } from "@causald/training"
import { Effect, type FileSystem, Layer, type Path } from "effect"
import type { StudyOptions } from "./Options.ts"
import type { Results, StrengthPoint } from "./Results.ts"
import * as Assembly from "./study/Assembly.ts"
import { makeContext, type StudyContext, timed, type WorkerRole } from "./study/Context.ts"
import { oracleRows } from "./study/Evaluation.ts"
import * as Jobs from "./study/Jobs.ts"
import { type Evaluations, runs } from "./study/Runs.ts"
import { makeTrainer } from "./study/Trainer.ts"
import { strengthGrid } from "./Vocabulary.ts"
import * as Workers from "./Workers.ts"

export { groupingValueName } from "./study/Assembly.ts"
export {
  FULL_RANKING_LIMIT,
  type Profile,
  profileOf,
  StudyError,
} from "./study/Context.ts"
export { fullRankingData, fullRankingUsers } from "./study/Evaluation.ts"

/**
 * Runs the study described by `options` and writes its outputs. With `--workers N` (and
 * `worker` null, the main process) it starts N-1 worker processes after preparing the data
 * (`Workers.ts`). As worker `{ index, workers }` it only trains its share of the models, writes
 * nothing and returns null. With `elsewhere` (`--cluster`, `cluster/Jobs.ts`) the models are
 * trained by it, on other processes, before the study reloads them (`lease: "reload-only"`: no
 * lease is waited for, and a model that is not finished fails the study) and writes the outputs.
 */
export const study = (
  options: StudyOptions,
  worker: WorkerRole | null = null,
  printTables = true,
  elsewhere?: TrainElsewhere,
): Effect.Effect<
  Results | null,
  unknown,
  Tensors | Progress.Progress | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const ctx = yield* makeContext(options, worker)
    // Workers start once the data is prepared (and cached), so they read it rather than redo it.
    const workers = options.workers ?? 1
    const pool =
      worker === null && workers > 1 ? yield* Workers.startWorkers(options, workers) : null
    // After the cluster (`elsewhere`) every model is finished: the study reads them, past any
    // lease (none is waited for), and a model that is not there fails it (`Train.NotTrained`).
    const trainer = makeTrainer(ctx, elsewhere === undefined ? {} : { leases: "reload-only" })
    const all = Jobs.jobs(trainer)
    const { visit, firstPass } = Jobs.jobRunner(ctx, all)

    // --- a worker process: train its share of the models, write nothing ----------------------
    if (worker !== null) {
      const deferred = yield* firstPass(worker.index, worker.workers)
      // what another process was training: reloaded when it is done (or trained, if it failed)
      for (const job of deferred) yield* visit(job)
      return null
    }

    // --- the runs -----------------------------------------------------------------------------
    // With workers, the main process first trains its own share (skipping what a worker holds),
    // then runs the study, which reloads what is finished. A failed worker stops the study at
    // once; then the study waits for them all. The first pass is a stage of its own: with
    // workers most of the training happens there, not in the per-method stages.
    let evaluations: Evaluations
    if (pool === null) {
      if (elsewhere !== undefined) yield* timed(ctx.ledger, "models (cluster)", elsewhere(ctx, all))
      evaluations = yield* runs(trainer)
    } else {
      const trainShare = timed(
        ctx.ledger,
        `models (first pass, ${workers} processes)`,
        firstPass(0, workers),
      )
      evaluations = yield* Effect.raceFirst(Effect.andThen(trainShare, runs(trainer)), pool.failure)
      yield* pool.join
    }
    // --- results ------------------------------------------------------------------------------
    const { data } = ctx
    const oracles = data.oracles === undefined ? undefined : oracleRows(data)
    const oracleCorrelation = Assembly.oracleCorrelationOf(oracles)
    const methods = Assembly.methodResults(ctx, evaluations, oracleCorrelation)
    const readings = Assembly.readingResults(ctx, evaluations, oracleCorrelation)
    const groupings = Assembly.groupingResults(ctx, evaluations)
    const strength =
      options.experiments.includes("strength") && oracleCorrelation !== undefined
        ? yield* strengthPoints(ctx, { methods, oracles: oracles ?? [] })
        : []
    const results = yield* Assembly.assemble(ctx, {
      methods,
      groupings,
      readings,
      oracles,
      strength,
      evaluations,
    })
    yield* Assembly.write(ctx, results, printTables)
    return results
  }).pipe(Effect.scoped)

/**
 * Trains every job of a study on other processes (`--cluster`) and returns when all are done, so
 * that the study only reloads the models.
 */
export type TrainElsewhere = (
  ctx: StudyContext,
  jobs: ReadonlyArray<Jobs.Job>,
) => Effect.Effect<void, unknown>

/** The strength figure: the same study (base and CausalD) at each other confounding strength. */
const strengthPoints = (ctx: StudyContext, own: Pick<Results, "methods" | "oracles">) =>
  Effect.gen(function* () {
    const { options } = ctx
    const points: Array<StrengthPoint> = []
    const ownStrength = options.strength ?? FrontDoor.defaultFrontDoor.strength
    for (const strength of strengthGrid) {
      if (strength === ownStrength) {
        points.push(strengthPoint(strength, ".", own))
        continue
      }
      const folder = `strength/s-${strength}`
      const sub = yield* timed(
        ctx.ledger,
        `strength s = ${strength}`,
        study(
          {
            ...options,
            strength,
            methods: ["base", "causald"],
            experiments: ["table3"],
            out: `${options.out}/${folder}`,
          },
          null,
          false,
        ),
      )
      if (sub !== null) points.push(strengthPoint(strength, folder, sub))
    }
    return points
  })

/** A point of the strength figure: the oracle's and base's and CausalD's agreement with the truth. */
const strengthPoint = (
  strength: number,
  folder: string,
  r: Pick<Results, "methods" | "oracles">,
): StrengthPoint => {
  const oracle = r.oracles!.find((o) => o.oracle === "observational-oracle")!
  return {
    strength,
    folder,
    oracleRankCorrelation: oracle.rankCorrelation,
    methods: (["base", "causald"] as const).flatMap((method) => {
      const t = r.methods.find((m) => m.method === method)?.truth
      return t == null
        ? []
        : [{ method, rankCorrelation: t.rankCorrelation, gapClosed: t.gapClosed ?? null }]
    }),
  }
}

/**
 * The services a study needs: a tensor backend and the file system, progress on stderr (by
 * default a live line on a terminal, JSON lines otherwise).
 */
export const studyLayer = (
  options: StudyOptions,
  progress: Layer.Layer<Progress.Progress> = Progress.layerAuto,
) =>
  Layer.mergeAll(tensorsLayer(options.backend === "auto" ? undefined : options.backend), progress)

export type { FileSystem, Path, Tensor, TensorBackend }
