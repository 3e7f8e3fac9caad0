/**
 * What a repro run's models were built from, as a function of the options the run records
 * (`results.json`'s `manifest.configuration`): the study's sizes and training settings
 * ({@link profileOf}), its prepared data ({@link prepare}, deterministic: generated worlds from
 * seed 0, real data sets through `Sources.load`) and the base architecture every model of the
 * run shares ({@link baseModel}). `apps/repro` trains with them; `apps/use` rebuilds a trained
 * model from a finished run with the same functions, so the two cannot drift apart.
 *
 * @module
 */
import type { TensorBackend } from "@causald/core"
import {
  type DataError,
  type DataSource,
  FrontDoor,
  type PreparedDataset,
  Simulated,
  Sources,
} from "@causald/data"
import { BaseModels, type Recommender, type Vocabulary } from "@causald/models"
import type { Effect } from "effect"
import { defaultTrainingConfig, type TrainingConfig } from "./Train.ts"

/**
 * The fields of a study's options (`apps/repro`'s `StudyOptions`) that decide its data, sizes,
 * training settings and architecture.
 */
export interface RunOptions {
  readonly dataset: string
  readonly source: DataSource | null
  readonly base: BaseModels.BaseModelName
  readonly quick: boolean
  readonly epochs: number | null
  readonly kCore?: number | undefined
  readonly strength?: number | undefined
  readonly intents?: number | undefined
  readonly batchSize?: number | undefined
  readonly learningRate?: number | undefined
}

/** Sizes and training settings of a study, chosen from the data set and `--quick`. */
export interface Profile {
  readonly simulation: Simulated.SimulationOptions
  /** Sizes of the front-door world (`--dataset frontdoor`); its own defaults otherwise. */
  readonly frontDoor: FrontDoor.FrontDoorOptions
  readonly training: TrainingConfig
  /** Groups of users for Heterogeneity and the per-group figures (activeness, consistency, ...). */
  readonly evaluationGroups: number
  /** Users per teacher must be at least this; fewer teachers are refused with a clear error. */
  readonly minimumUsersPerGroup: number
}

/**
 * The study's defaults. The simulated default is sized so that the whole study (every method,
 * 3 seeds) runs in minutes on 2 cores; `--quick` is smaller still, for CI's end-to-end test.
 * Real data uses batch 512 rather than the paper's 4096: on ml-100k the paper's batch gives 46
 * steps an epoch and a long plateau (see ../shared/data/README.md); Adagrad as in the paper, at
 * 0.3 (validation AUC 0.70 after one ml-100k epoch, against a flat loss at 0.05 and batch 1024),
 * and at least 8 epochs so that early stopping does not stop a model on the plateau. At most
 * 50: with 20, DIN and DebiasD on ml-100k stopped at the cap with validation AUC still rising
 * (0.8375, 0.8388); early stopping (patience 3) ends them. A run stopped by a lower cap
 * continues when rerun with a higher one (`Train.train`). Epochs count epochs over all users
 * (`epochUnit: "all-users"`): a teacher or group-wise model on a fraction of the users gets the
 * same step budget as a model on all of them. Counted in their own epochs, ml-100k's activeness
 * teachers (20-217 of 365 steps an epoch) stopped after 8-17 epochs near the plateau, at
 * validation AUC 0.72-0.75 against 0.84 for DIN on all users, and CausalD distilled from them
 * stayed at 0.70. It costs K teachers about K times a student's training instead of one (the paper counts
 * its teachers' epochs on their own data, section 3.5.2). The simulated profile keeps own
 * epochs: counting all users' epochs there took 6 min 29 s instead of 3 min 56 s (both beside a
 * running ml-100k study) and changed no conclusion (CausalD AUC 0.7124 instead of 0.7169, EnsCTR
 * best either way; Heterogeneity moved towards 0, its group-wise reference models being longer
 * trained).
 */
export const profileOf = (options: RunOptions): Profile => {
  const profile = defaultProfileOf(options)
  // --batch-size and --learning-rate override the data set's defaults
  return {
    ...profile,
    training: {
      ...profile.training,
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.learningRate === undefined
        ? {}
        : { optimizer: { _tag: "Adagrad", learningRate: options.learningRate } as const }),
    },
  }
}

/** The data set's own sizes and training settings (see {@link profileOf}). */
const defaultProfileOf = (options: RunOptions): Profile => {
  const base = defaultTrainingConfig
  if (options.quick)
    return {
      simulation: {
        users: 240,
        items: 80,
        minLength: 6,
        maxLength: 16,
        historyLength: 10,
        candidates: 50,
      },
      frontDoor: {
        users: 240,
        items: 80,
        intents: 4,
        minLength: 6,
        maxLength: 16,
        historyLength: 16,
        candidates: 50,
      },
      training: {
        ...base,
        maxEpochs: options.epochs ?? 2,
        minEpochs: 1,
        patience: 1,
        batchSize: 512,
        optimizer: { _tag: "Adagrad", learningRate: 0.1 },
      },
      evaluationGroups: 3,
      minimumUsersPerGroup: 10,
    }
  if (options.dataset === "frontdoor")
    return {
      frontDoor: {},
      simulation: {},
      training: {
        ...base,
        maxEpochs: options.epochs ?? 20,
        minEpochs: 3,
        patience: 3,
        batchSize: 128,
        optimizer: { _tag: "Adagrad", learningRate: 0.3 },
      },
      evaluationGroups: 5,
      minimumUsersPerGroup: 25,
    }
  if (options.dataset === "simulated")
    return {
      frontDoor: {},
      simulation: {
        users: 500,
        items: 200,
        minLength: 8,
        maxLength: 30,
        historyLength: 10,
        candidates: 100,
      },
      training: {
        ...base,
        maxEpochs: options.epochs ?? 5,
        minEpochs: 2,
        patience: 2,
        batchSize: 512,
        optimizer: { _tag: "Adagrad", learningRate: 0.3 },
      },
      evaluationGroups: 5,
      minimumUsersPerGroup: 25,
    }
  return {
    simulation: {},
    frontDoor: {},
    training: {
      ...base,
      maxEpochs: options.epochs ?? 50,
      minEpochs: Math.min(8, options.epochs ?? 8),
      patience: 3,
      batchSize: 512,
      optimizer: { _tag: "Adagrad", learningRate: 0.3 },
      epochUnit: "all-users",
    },
    evaluationGroups: 5,
    minimumUsersPerGroup: 50,
  }
}

/**
 * The run's prepared data: a real data set read through `Sources.load` (cached in `cacheDir`
 * when given), else the generated world (`frontdoor` or `simulated`) at the profile's sizes,
 * always from seed 0. Deterministic: the same options give the same data, which
 * `fingerprint.json` of the run folder checks.
 */
export const prepare = (
  options: RunOptions,
  profile: Profile = profileOf(options),
  cacheDir?: string,
): Effect.Effect<PreparedDataset, DataError> =>
  options.source !== null
    ? Sources.load(options.source, {
        ...(cacheDir === undefined ? {} : { cacheDir }),
        ...(options.kCore === undefined ? {} : { kCore: options.kCore }),
      })
    : options.dataset === "frontdoor"
      ? FrontDoor.generate({
          ...profile.frontDoor,
          ...(options.strength === undefined ? {} : { strength: options.strength }),
          ...(options.intents === undefined ? {} : { intents: options.intents }),
          seed: 0,
        })
      : Simulated.generate({
          ...profile.simulation,
          ...(options.strength === undefined ? {} : { strength: options.strength }),
          seed: 0,
        })

/**
 * A fresh model of the study's base architecture (`--base`), initialised from `seed`: at the
 * configuration resolved for it (`BaseModels.resolve`), or at its defaults when given by name.
 */
export const baseModel = (
  backend: TensorBackend,
  base: RunOptions["base"] | BaseModels.Resolved,
  vocabulary: Vocabulary,
  seed: number,
): Recommender =>
  BaseModels.make(
    backend,
    vocabulary,
    typeof base === "string" ? BaseModels.defaults(base) : base,
    seed,
  )
