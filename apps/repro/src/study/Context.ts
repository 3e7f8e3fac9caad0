/**
 * The study's context: the one record every phase of the study reads (its options, prepared
 * data, profile, backend, progress, seeds, reading, groupings and model folders), and the ledger
 * the phases write what the manifest reports into. Building it ({@link makeContext}) is what
 * must pass before anything trains: the data prepared, every option checked against it, the
 * output folder bound to it.
 *
 * @module
 */
import { type TensorBackend, Tensors } from "@causald/core"
import { Groups, type PreparedDataset, type UserGroups } from "@causald/data"
import { BaseModels } from "@causald/models"
import { CausalDObjective, Progress, RunData, type Train } from "@causald/training"
import { Clock, Effect, type FileSystem, type Path, Schema } from "effect"
import { explain } from "../Explain.ts"
import { fingerprintFile, outputFingerprint } from "../Fingerprint.ts"
import { usesLabel } from "../Methods.ts"
import { repoRoot, type StudyOptions } from "../Options.ts"
import { bindOutput } from "../Provenance.ts"
import * as Readings from "../Readings.ts"
import * as Validate from "../Validate.ts"
import { type Folders, folders } from "./Folders.ts"

/** A stage of the study failed: which one and why. */
export class StudyError extends Schema.TaggedError<StudyError>()("StudyError", {
  stage: Schema.String,
  reason: Schema.String,
  /**
   * The failure behind it, kept so that a caller (or a stack trace) can still tell its type
   * (a typed `InvalidObjectiveOption`, a `PlatformError` with its errno) after `reason` put it in
   * words.
   */
  cause: Schema.optionalKey(Schema.Unknown),
}) {
  override get message(): string {
    return `${this.stage}: ${this.reason}`
  }
}

export const stageError = (stage: string) => (error: unknown) =>
  new StudyError({ stage, reason: explain(error), cause: error })

/** `--full-ranking` is refused above this many user-item scores (2 arrays of 4 bytes each). */
export const FULL_RANKING_LIMIT = 40_000_000

/** Sizes and training settings of a study (`@causald/training`'s `RunData`, shared with `apps/use`). */
export type Profile = RunData.Profile
/** The study's defaults (`RunData.profileOf`). */
export const profileOf: (options: StudyOptions) => Profile = RunData.profileOf

/** The services every phase of the study runs with. */
export type Services = Tensors | Progress.Progress | FileSystem.FileSystem | Path.Path
/** A step of the study; its failures are put into words per stage (`stageError`). */
export type StudyEffect<A> = Effect.Effect<A, unknown, Services>

/** A worker process's share of the study (`Workers.ts`): worker `index` of `workers`. */
export interface WorkerRole {
  readonly index: number
  readonly workers: number
}

/**
 * What the phases record as they go, for results.json's manifest and its searched coefficients.
 * The study's only state shared between phases: appended to, read once when the results are
 * assembled.
 */
export interface Ledger {
  /** When the study started (ms). */
  readonly startedAt: number
  /** Each timed stage, in the order it ended, with its seconds ({@link timed}). */
  readonly stages: Array<{ name: string; seconds: number }>
  // Every trained model's epochs and their seconds, from its checkpoint's records: the study's
  // real training cost, also when models were trained by workers or earlier invocations.
  readonly training: Map<string, { epochs: number; seconds: number }>
  /** The coefficient the paper's search chose, by name (`Training.searchCoefficient`). */
  readonly coefficients: Record<string, number>
}

/** What every phase of the study reads. */
export interface StudyContext {
  readonly options: StudyOptions
  /** null in the main process; a worker only trains its share of the models. */
  readonly worker: WorkerRole | null
  readonly backend: TensorBackend
  readonly progress: (typeof Progress.Progress)["Service"]
  readonly profile: Profile
  /**
   * The base model (`--base`) and its configuration, resolved once: its defaults, then
   * `--base-config` ({@link resolveBaseModel}). Every model of the study is built at it.
   */
  readonly baseModel: BaseModels.Resolved
  readonly data: PreparedDataset
  /** The seeds `--first-seed`..`--first-seed` + `--seeds` - 1 (default 1..`--seeds`). */
  readonly seeds: ReadonlyArray<number>
  /** The reading of the paper's open points this study runs (`Readings.ts`). */
  readonly reading: Readings.Reading
  /** Every grouping the evaluation reports, the evaluation grouping (activeness) first. */
  readonly groupings: ReadonlyArray<UserGroups>
  /** The grouping of group-wise training and Heterogeneity (eq. 7, 8). */
  readonly evaluationGrouping: UserGroups
  readonly folders: Folders
  readonly ledger: Ledger
}

/** Runs `effect` and records its seconds as stage `name` in the ledger. */
export const timed = <A, E, R>(ledger: Ledger, name: string, effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const t0 = yield* Clock.currentTimeMillis
    const a = yield* effect
    const t1 = yield* Clock.currentTimeMillis
    ledger.stages.push({ name, seconds: (t1 - t0) / 1000 })
    return a
  })

/** Records a trained model's epochs and seconds in the ledger. */
export const record = (ledger: Ledger, model: string, result: Train.TrainingResult) => {
  let seconds = 0
  for (const e of result.history) seconds += e.seconds
  ledger.training.set(model, { epochs: result.history.length, seconds })
}

/**
 * The study's context: the data prepared and every option checked against it, then the output
 * folder bound to the data (a worker only checks the binding).
 */
export const makeContext = (options: StudyOptions, worker: WorkerRole | null) =>
  Effect.gen(function* () {
    const startedAt = yield* Clock.currentTimeMillis
    const ledger: Ledger = { startedAt, stages: [], training: new Map(), coefficients: {} }
    const backend = yield* Tensors
    const progress = yield* Progress.Progress
    const profile = profileOf(options)
    const baseModel = yield* resolveBaseModel(options)
    const seeds = Array.from({ length: options.seeds }, (_, s) => s + (options.firstSeed ?? 1))
    // Which backend runs, with wasm's native BLAS if any (e.g. wasm+onednn; CAUSALD_BLAS=none
    // turns it off): printed here and recorded in results.json's manifest.
    yield* progress.note("backend", backend.name)

    // --- data ----------------------------------------------------------------------------------
    const data: PreparedDataset = yield* timed(
      ledger,
      "prepare data",
      RunData.prepare(options, profile, `${repoRoot}/.cache/data`),
    ).pipe(
      Effect.mapError(
        stageError(options.data === null ? "prepare data" : `--data ${options.data}`),
      ),
    )
    yield* progress.note(
      "data",
      `${data.name}: ${data.stats.users} users, ${data.stats.items} items, ${data.stats.interactions} interactions`,
    )
    // --- before anything trains: every option against the data (Validate.ts) ----------------
    yield* Validate.check(options, data, profile)
    yield* checkSizes(options, data, profile)
    // --- the output folder bound to this data and its settings, once every check has passed
    // (Provenance.bindOutput; the first write into --out; a worker only checks) ----------------
    const binding = yield* bindOutput(
      options.out,
      outputFingerprint(data, baseModel, profile.training),
      { write: worker === null },
    )
    if (binding === "adopted")
      yield* progress.note(
        "output",
        `${options.out} has models but no ${fingerprintFile} (trained before output folders were bound to their data): taken as trained on this data, and recorded so`,
      )
    const reading = Readings.of(options)
    const groupings = groupingsOf(data, profile)
    const context: StudyContext = {
      options,
      worker,
      backend,
      progress,
      profile,
      baseModel,
      data,
      seeds,
      reading,
      groupings,
      evaluationGrouping: groupings[0]!,
      folders: folders(`${options.out}/models`, options, reading),
      ledger,
    }
    return context
  })

/**
 * The study's base model and its configuration: its defaults, then the options (`--base-config`).
 * No experiment overrides it today; one that does passes its overrides as `BaseModels.resolve`'s
 * third layer. A bad option fails here, naming the field, before data are prepared.
 */
export const resolveBaseModel = (options: StudyOptions) =>
  Effect.mapError(
    Effect.fromResult(BaseModels.resolve(options.base, options.baseConfig)),
    (error) => new StudyError({ stage: "--base-config", reason: error.message, cause: error }),
  )

/** The groupings the evaluation reports per group: activeness first (Heterogeneity's). */
const groupingsOf = (data: PreparedDataset, profile: Profile): ReadonlyArray<UserGroups> => {
  const G = profile.evaluationGroups
  const groupings: Array<UserGroups> = [
    Groups.activenessGroups(data, G),
    Groups.consistencyGroups(data, G),
  ]
  if (data.confounder !== undefined) groupings.push(Groups.confounderGroups(data, G))
  for (const attribute of data.attributes ?? [])
    groupings.push(Groups.attributeGroups(data, attribute.name))
  return groupings
}

/** The options whose tensors would not fit, refused before anything trains. */
const checkSizes = (options: StudyOptions, data: PreparedDataset, profile: Profile) =>
  Effect.gen(function* () {
    // `--partners all` is the exact causal label: its [K, B, B, h] tensor is checked here, before
    // anything trains, for the largest K the study will use.
    const usesCausalLabel = options.methods.some(usesLabel)
    if (options.partners === "all" && usesCausalLabel) {
      const K = Math.max(
        options.splitBy === "attribute"
          ? Groups.teacherSubsets(data, { attribute: options.attribute }, options.teachers).sizes
              .length
          : options.teachers,
        options.experiments.includes("table7") && options.methods.includes("causald") ? 16 : 0,
      )
      const tooLarge = CausalDObjective.exactLabelTooLarge(K, profile.training.batchSize, {
        estimatorHidden: Readings.of(options).fdaHidden,
      })
      if (tooLarge !== null)
        return yield* new StudyError({
          stage: "options",
          reason: `--partners all: ${tooLarge} (K teachers, batch ${profile.training.batchSize}); use --partners S (Monte-Carlo)${K > options.teachers ? " or leave out table7 (it trains K = 16)" : " or fewer teachers"}`,
        })
    }
    // Full ranking holds a score per ranked user and item: refused up front where that does not fit.
    if (options.fullRanking === true) {
      const ranked = Math.min(options.fullRankingUsers ?? data.numUsers, data.numUsers)
      if (ranked * data.numItems > FULL_RANKING_LIMIT)
        return yield* new StudyError({
          stage: "options",
          reason: `--full-ranking scores every item for every ranked user: ${ranked} users x ${data.numItems} items is over the limit of ${FULL_RANKING_LIMIT} scores; rank a sample with --full-ranking-users N (N <= ${Math.floor(FULL_RANKING_LIMIT / data.numItems)} here), or leave --full-ranking out (the sampled protocol still runs)`,
        })
    }
  })
