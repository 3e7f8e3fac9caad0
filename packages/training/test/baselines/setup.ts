/**
 * Shared fixtures of the baseline tests: the cpu backend, the small simulated data set, two
 * quickly trained heterogeneous teachers (users split by activeness) and short training runs.
 */
import { afterAll, expect } from "bun:test"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { type Parameter, Random, type Tensor, type TensorBackend, Tensors } from "@causald/core"
import { Batches, Groups, type PreparedDataset, type UserGroups } from "@causald/data"
import { Inputs, type Recommender } from "@causald/models"
import { startBackend } from "@causald/tfjs"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { type BaselineName, baselines } from "../../src/baselines/index.ts"
import type { BatchContext, Objective } from "../../src/Objective.ts"
import { recommendation } from "../../src/Objective.ts"
import { layerSilent } from "../../src/Progress.ts"
import {
  defaultTrainingConfig,
  type TrainingConfig,
  type TrainingResult,
  train,
} from "../../src/Train.ts"
import { meanPool, smallData } from "../fixtures.ts"

export const startCpu = (): Promise<TensorBackend> => Effect.runPromise(startBackend("cpu"))

export const data: PreparedDataset = smallData()

/** The teachers' user subsets: two activeness groups. */
export const groups: UserGroups = Groups.teacherSubsets(data, "activeness", 2)

export const config: TrainingConfig = {
  ...defaultTrainingConfig,
  maxEpochs: 2,
  minEpochs: 2,
  patience: 10,
  batchSize: 256,
  optimizer: { _tag: "Adagrad", learningRate: 0.5 },
  seed: 5,
}

export const temporaryDirectory = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), `causald-${prefix}-`))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Runs `train()` silently; rejects with the failure's text if the run fails. */
export const run = async <P>(
  backend: TensorBackend,
  directory: string,
  objective: Objective<P>,
  options: { readonly users?: Int32Array; readonly config?: Partial<TrainingConfig> } = {},
): Promise<TrainingResult> => {
  const exit = await Effect.runPromiseExit(
    train({
      name: directory,
      directory,
      data,
      objective,
      config: { ...config, ...options.config },
      ...(options.users === undefined ? {} : { users: options.users }),
    }).pipe(
      Effect.provide(
        Layer.mergeAll(NodeFileSystem.layer, Layer.succeed(Tensors, backend), layerSilent),
      ),
    ),
  )
  if (Exit.isFailure(exit)) throw new Error(String(exit.cause))
  return exit.value
}

export const student = (backend: TensorBackend, seed = 1): Recommender =>
  meanPool(backend, data.numItems, 8, seed, `student${seed}`)

/** K = 2 teachers, each trained for 3 epochs on one activeness group (section 3.3.1). */
export const trainTeachers = async (
  backend: TensorBackend,
  directory: string,
): Promise<Array<Recommender>> => {
  const teachers: Array<Recommender> = []
  for (let k = 0; k < groups.sizes.length; k++) {
    const teacher = meanPool(backend, data.numItems, 8, 100 + k, `teacher${k}`)
    await run(backend, join(directory, `teacher-${k}`), recommendation(backend, teacher), {
      users: Groups.members(groups, k),
      config: { maxEpochs: 3, minEpochs: 3 },
    })
    teachers.push(teacher)
  }
  return teachers
}

/** A KD teacher: one model trained for 3 epochs on all users. */
export const trainKdTeacher = async (
  backend: TensorBackend,
  directory: string,
): Promise<Recommender> => {
  const teacher = meanPool(backend, data.numItems, 8, 200, "kdteacher")
  await run(backend, join(directory, "kd-teacher"), recommendation(backend, teacher), {
    config: { maxEpochs: 3, minEpochs: 3 },
  })
  return teacher
}

/**
 * What a baseline test file shares: the cpu backend and a scratch directory (removed after the
 * file's tests), with readers of tensors. Made by top-level `await` in the test file.
 */
export interface BackendSuite {
  readonly backend: TensorBackend
  readonly directory: string
  /** A float tensor's values. */
  readonly read: (t: Tensor) => Array<number>
  /** The largest absolute entry of some gradients: 0 exactly when none flows. */
  readonly largest: (grads: ReadonlyArray<Tensor>) => number
}

export const backendSuite = async (prefix: string): Promise<BackendSuite> => {
  const tmp = temporaryDirectory(prefix)
  afterAll(tmp.remove)
  const backend = await startCpu()
  const read = (t: Tensor) => Array.from(backend.read(t) as Float32Array)
  const largest = (grads: ReadonlyArray<Tensor>) =>
    Math.max(...grads.flatMap((g) => read(g).map(Math.abs)))
  return { backend, directory: tmp.dir, read, largest }
}

/** A {@link BackendSuite} with the K = 2 activeness teachers of {@link trainTeachers}. */
export interface TeacherSuite extends BackendSuite {
  readonly teachers: ReadonlyArray<Recommender>
}

export const teacherSuite = async (prefix: string): Promise<TeacherSuite> => {
  const suite = await backendSuite(prefix)
  return { ...suite, teachers: await trainTeachers(suite.backend, suite.directory) }
}

/**
 * The closing check of every multi-teacher baseline: a short `train()` run with the suite's
 * teachers has finite losses, validation AUC above 0.5, and leaves the teachers unchanged.
 */
export const expectShortRunWithTeachers = async (
  suite: TeacherSuite,
  method: BaselineName,
): Promise<void> => {
  const { backend, teachers } = suite
  const before = teachers.map((t) => values(backend, t.parameters))
  const s = student(backend, 6)
  const objective = baselines[method].make(backend, s, teachers, data, { seed: 0 })
  const result = await run(backend, join(suite.directory, method), objective)
  expect(healthy(result)).toEqual(expectedHealth)
  expect(result.bestValidationAuc).toBeGreaterThan(0.5)
  expect(teachers.map((t) => values(backend, t.parameters))).toEqual(before)
  expect(result.history.map((h) => Object.keys(h.terms ?? {}).sort())).toEqual(
    result.history.map(() => [...(loggedTerms[method] ?? [])].sort()),
  )
  objective.dispose()
}

/** The loss terms each distillation baseline logs per epoch (`EpochRecord.terms`). */
export const loggedTerms: Partial<Record<BaselineName, ReadonlyArray<string>>> = {
  kd: ["L_Rec", "L_KD"],
  debiasd: ["L_Rec", "L_KD", "L_mixing"],
  ensctr: ["L_Rec", "L_KD", "L_gate"],
  meal: ["L_Rec", "L_similarity", "L_adversarial", "L_discriminator"],
}

/** The first training batch of an epoch. */
export const firstBatch = (batchSize = 128, seed = 7): Batches.TrainingBatch =>
  Batches.trainingBatches(data, { batchSize, negatives: 1, epochSeed: seed }).next()
    .value as Batches.TrainingBatch

/** The BatchContext `trainStep` builds (call inside a tidy scope). */
export const contextOf = (
  backend: TensorBackend,
  batch: Batches.TrainingBatch,
  seed = 3,
): BatchContext => ({
  inputs: Inputs.toInputs(backend, batch),
  batch,
  labels: backend.tensor(batch.label, [batch.size]),
  rng: Random.derive(seed, 1),
  epoch: 1,
})

/** The values of parameters, for "never updated" checks. */
export const values = (
  backend: TensorBackend,
  params: ReadonlyArray<Parameter>,
): Array<Array<number>> => backend.snapshot(params).map((a) => Array.from(a.data))

/** Every parameter of the objective that belongs to one of the models. */
export const sharedWith = (
  objective: { readonly parameters: ReadonlyArray<Parameter> },
  models: ReadonlyArray<Recommender>,
): Array<string> => {
  const owned = new Set(models.flatMap((m) => m.parameters))
  return objective.parameters.filter((p) => owned.has(p)).map((p) => p.name)
}

/** A teacher whose logits are the negation of `teacher`'s: wrong wherever it is right. */
export const contrarian = (backend: TensorBackend, teacher: Recommender): Recommender => ({
  ...teacher,
  kind: `${teacher.kind}-contrarian`,
  predict: (m, inputs) => backend.neg(teacher.predict(m, inputs)),
})

/** A parameterless teacher whose mediator and item representation (width 8) are zeros. */
const featureless = (
  backend: TensorBackend,
  kind: string,
  predict: Recommender["predict"],
): Recommender => ({
  kind,
  parameters: [],
  mediatorSize: 8,
  itemSize: 8,
  encode: (inputs) => backend.zeros([inputs.user.shape[0]!, 8]),
  embedItems: (items) => backend.zeros([items.shape[0]!, 8]),
  predict,
})

/**
 * A synthetic teacher that is right on every training row: logit +strength for items in the
 * user's sequence, −strength otherwise (sampled negatives are never-consumed items). Its
 * mediator and item representation are zeros, so it carries no feature information.
 */
export const oracle = (backend: TensorBackend, strength = 3): Recommender => {
  const width = data.numItems + 1
  const table = new Float32Array(data.numUsers * width).fill(-strength)
  for (let u = 0; u < data.numUsers; u++)
    for (let p = data.sequenceOffsets[u]!; p < data.sequenceOffsets[u + 1]!; p++)
      table[u * width + data.sequenceItems[p]!] = strength
  const values = backend.keep(backend.tensor(table, [data.numUsers * width]))
  return featureless(backend, "oracle", (_m, inputs) =>
    backend.gather(
      values,
      backend.add(backend.mul(inputs.user, backend.scalar(width, "int32")), inputs.item),
    ),
  )
}

/** A teacher that predicts the same logit for every row (a class-biased teacher). */
export const constant = (backend: TensorBackend, logit: number): Recommender =>
  featureless(backend, `constant(${logit})`, (_m, inputs) =>
    backend.add(backend.zeros([inputs.user.shape[0]!]), backend.scalar(logit)),
  )

/** What every short baseline run must show: finite losses, learning, no leak between epochs. */
export const healthy = (result: TrainingResult) => ({
  finiteLosses: result.history.every((h) => Number.isFinite(h.loss)),
  aboveChance: result.bestValidationAuc > 0.5,
  constantLiveTensors: new Set(result.history.map((h) => h.liveTensors)).size === 1,
  epochs: result.epochs,
})

export const expectedHealth = {
  finiteLosses: true,
  aboveChance: true,
  constantLiveTensors: true,
  epochs: config.maxEpochs,
}
