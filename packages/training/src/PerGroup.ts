/**
 * Models trained on one group of users each:
 * - teachers (section 3.3.1): K models with the student's architecture, each trained only on its
 *   non-IID subset (unprivileged teachers), saved once and reused by every method that needs them;
 * - group-wise training (eq. 7): one model per evaluation group, each scored on its own group,
 *   which gives S_h*, the natural performance heterogeneity.
 * Both are the same program over a partition of the users.
 *
 * @module
 */
import { Tensors } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import type { Recommender } from "@causald/models"
import { Effect, type FileSystem } from "effect"
import { type RecommendationLoss, recommendation } from "./Objective.ts"
import type { Progress } from "./Progress.ts"
import {
  type LeasePolicy,
  type TrainingConfig,
  type TrainingError,
  type TrainingResult,
  train,
} from "./Train.ts"

/** A partition of the users: `groupOf[u]` in 0..groups-1. */
export interface UserPartition {
  readonly groupOf: Int32Array
  readonly groups: number
}

/** The users of group g, in order. */
export const usersOf = (partition: UserPartition, group: number): Int32Array => {
  let count = 0
  for (const g of partition.groupOf) if (g === group) count++
  const users = new Int32Array(count)
  let i = 0
  for (let u = 0; u < partition.groupOf.length; u++)
    if (partition.groupOf[u] === group) users[i++] = u
  return users
}

/** One trained group model. */
export interface GroupModel {
  readonly group: number
  readonly users: Int32Array
  readonly model: Recommender
  readonly result: TrainingResult
}

/**
 * Trains (or reloads, or resumes) one model per group under `directory/<prefix>-<g>`, each on
 * its own users and selected on their validation AUC. `makeModel(g)` builds a fresh model.
 */
export const trainPerGroup = (options: {
  readonly name: string
  readonly directory: string
  readonly data: PreparedDataset
  readonly partition: UserPartition
  readonly makeModel: (group: number) => Recommender
  readonly config: TrainingConfig
  readonly loss?: RecommendationLoss
  readonly l2?: number
  /** The runs' lease policy (`Train.ts`); default "wait". */
  readonly lease?: LeasePolicy
}): Effect.Effect<
  ReadonlyArray<GroupModel>,
  TrainingError,
  Tensors | FileSystem.FileSystem | Progress
> =>
  Effect.forEach(
    Array.from({ length: options.partition.groups }, (_, g) => g),
    (group) =>
      Effect.gen(function* () {
        const users = usersOf(options.partition, group)
        const backend = yield* Tensors
        const model = options.makeModel(group)
        const result = yield* train({
          name: `${options.name} ${group + 1}/${options.partition.groups}`,
          directory: `${options.directory}/${options.name}-${group}`,
          data: options.data,
          objective: recommendation(backend, model, {
            ...(options.loss ? { loss: options.loss } : {}),
            ...(options.l2 ? { l2: options.l2 } : {}),
          }),
          config: { ...options.config, seed: options.config.seed * 1_009 + group },
          users,
          ...(options.lease === undefined ? {} : { lease: options.lease }),
        })
        return { group, users, model, result }
      }),
  )
