/**
 * One training run as an Effect program: epochs of seeded batches, validation AUC after each
 * epoch, early stopping, a checkpoint after every epoch, and resume.
 *
 * Determinism: the batches of epoch e (order and negatives) and every draw the loss makes come
 * from generators seeded by (seed, e); parameters start from the seed; so a run killed at any
 * moment and resumed from its last checkpoint (parameters, optimiser slots, bookkeeping) ends
 * with exactly the result of an uninterrupted run on the same backend.
 *
 * Files in the run's directory:
 * - `last.ckpt`: every trained parameter, the optimiser's slots and the bookkeeping, after the
 *   last finished epoch (atomic, checksummed); `finished: true` once the run has ended.
 * - `best.ckpt`: the model's own parameters at the best validation epoch: the run's result. For
 *   CausalD these are exactly the base model's parameters (no estimator, no teacher).
 *
 * A NaN or infinite loss stops the run with {@link NonFiniteLoss}; the last good checkpoint stays.
 *
 * The run holds the folder's lease (`Lease.ts`, the file `lease`) while it trains or reloads, so
 * processes sharing an output folder never train one run twice: a second one waits, then reloads.
 * On the cluster (`lease: "take-over"`) the engine guarantees that instead, and a lease left by a
 * dead worker of another host is taken over rather than waited for. With `lease: "reload-only"`
 * (the cluster's coordinator, once every execution has finished) the run only reads what was
 * trained, with no lease at all, and fails with {@link NotTrained} when it is not finished.
 *
 * @module
 */

import type { OptimizerSpec, Tensor } from "@causald/core"
import { Checkpoint, Random, Tensors } from "@causald/core"
import { Batches, type PreparedDataset } from "@causald/data"
import { Inputs } from "@causald/models"
import { Clock, Effect, FileSystem, Schema } from "effect"
import { validationAuc } from "./Evaluate.ts"
import * as Lease from "./Lease.ts"
import type { BatchContext, Objective, RecordTerm } from "./Objective.ts"
import { Progress } from "./Progress.ts"

/** Settings of a run. Defaults: the paper's (section 5.1) where it gives them. */
export interface TrainingConfig {
  /** Upper bound on epochs. */
  readonly maxEpochs: number
  /** Epochs always trained before early stopping may stop the run (see the data README's plateau). */
  readonly minEpochs: number
  /** Stop after this many epochs without a better validation AUC. */
  readonly patience: number
  /** Rows per batch (paper: 4096). */
  readonly batchSize: number
  /** Sampled negatives per positive. */
  readonly negatives: number
  /** Paper: Adagrad, learning rate 0.01. */
  readonly optimizer: OptimizerSpec
  readonly seed: number
  /**
   * What `maxEpochs`, `minEpochs` and `patience` count (default "own-rows"): epochs of the run's
   * own training rows, or, with "all-users", epochs' worth of the steps of an epoch over all
   * users. Why: a model trained on a subset of users (a teacher, a group-wise model) takes a
   * fraction of the steps per epoch, so a minimum of 8 of its own epochs could stop it on the
   * plateau that models on all users leave only after ~1,500 steps (ml-100k at batch 512,
   * `../shared/data/README.md`): ml-100k's four activeness teachers run 20, 40, 89 and 217 of
   * the 365 steps of an epoch over all users, and stopped at validation AUC 0.72-0.75. With
   * "all-users" a run on 1/k of the rows trains, waits and is capped k times as many of its own
   * epochs (rounded up).
   */
  readonly epochUnit?: "own-rows" | "all-users"
}

export const defaultTrainingConfig: TrainingConfig = {
  maxEpochs: 20,
  minEpochs: 3,
  patience: 3,
  batchSize: 4096,
  negatives: 1,
  optimizer: { _tag: "Adagrad", learningRate: 0.01 },
  seed: 0,
}

/** One finished epoch. */
export interface EpochRecord {
  readonly epoch: number
  readonly loss: number
  readonly validationAuc: number
  readonly seconds: number
  /** Live tensors after the epoch: constant from epoch to epoch unless something leaks. */
  readonly liveTensors: number
  /**
   * The epoch's mean of each loss term the objective reports (e.g. L_Rec, L_BDA, L_FDA of
   * eq. 22, before their coefficients); absent for a single-term objective and in checkpoints
   * written before terms were recorded.
   */
  readonly terms?: Readonly<Record<string, number>>
}

/** What a run ends with. The model's parameters hold the best epoch's values. */
export interface TrainingResult {
  readonly epochs: number
  readonly bestEpoch: number
  readonly bestValidationAuc: number
  readonly history: ReadonlyArray<EpochRecord>
  /** Why it stopped: "patience", "max-epochs". */
  readonly stoppedBy: string
  /** Whether any epoch came from a checkpoint rather than being trained in this call. */
  readonly resumed: boolean
}

/** The loss became NaN or infinite. */
export class NonFiniteLoss extends Schema.TaggedError<NonFiniteLoss>()("NonFiniteLoss", {
  run: Schema.String,
  epoch: Schema.Number,
  step: Schema.Number,
  value: Schema.Number,
}) {
  override get message(): string {
    return `${this.run}: the loss is ${this.value} at epoch ${this.epoch}, step ${this.step}; stopped, the checkpoint of the last finished epoch is kept`
  }
}

/** Options of a training batch stream were rejected (batch size, negatives, users). */
export class InvalidTrainingOption extends Schema.TaggedError<InvalidTrainingOption>()(
  "InvalidTrainingOption",
  {
    run: Schema.String,
    reason: Schema.String,
  },
) {
  override get message(): string {
    return `${this.run}: ${this.reason}`
  }
}

/**
 * A run that was to be reloaded only (`lease: "reload-only"`) has no finished training in its
 * folder: no checkpoint, or one of a run that is not finished under this run's stopping rule.
 */
export class NotTrained extends Schema.TaggedError<NotTrained>()("NotTrained", {
  run: Schema.String,
  directory: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.run}: not trained in ${this.directory} (${this.reason}); this process only reloads finished models`
  }
}

export type TrainingError =
  | NonFiniteLoss
  | NotTrained
  | InvalidTrainingOption
  | Checkpoint.CheckpointError
  | Lease.LeaseError

/** The run's bookkeeping stored in `last.ckpt`. */
interface RunState {
  readonly epoch: number
  readonly bestEpoch: number
  readonly bestValidationAuc: number
  readonly history: ReadonlyArray<EpochRecord>
  readonly finished: boolean
  readonly stoppedBy: string
}

const RunStateSchema = Schema.Struct({
  epoch: Schema.Number,
  bestEpoch: Schema.Number,
  bestValidationAuc: Schema.Number,
  history: Schema.Array(
    Schema.Struct({
      epoch: Schema.Number,
      loss: Schema.Number,
      validationAuc: Schema.Number,
      seconds: Schema.Number,
      liveTensors: Schema.Number,
      terms: Schema.optionalKey(Schema.Record(Schema.String, Schema.Number)),
    }),
  ),
  finished: Schema.Boolean,
  stoppedBy: Schema.String,
})

/** What to train, on which users, where to keep its files. */
export interface TrainingRun<Prepared> {
  /** A label for progress and errors, e.g. "teacher 2/4" or "causald seed 1". */
  readonly name: string
  /** Folder of the run's checkpoints (created). */
  readonly directory: string
  readonly data: PreparedDataset
  readonly objective: Objective<Prepared>
  readonly config: TrainingConfig
  /** Train on these users only (teachers, group-wise models); default all. */
  readonly users?: Int32Array
  /** Select on these users' validation AUC; default the training users. */
  readonly validationUsers?: Int32Array
  /** How the run meets its folder's lease ({@link LeasePolicy}); default "wait". */
  readonly lease?: LeasePolicy
}

/**
 * How a run meets its folder's lease (`Lease.ts`): "wait" (the default; `--workers`) waits while
 * the holder may be alive (another host's lease counts as alive); "take-over" takes over any
 * lease not held by this process at once, for callers where one trainer per folder is already
 * guaranteed (the cluster's workflow executions, `apps/repro/src/cluster/Jobs.ts`);
 * "reload-only" takes no lease and trains nothing: the run must have finished already (trained by
 * other processes that are all done: the cluster's coordinator), else it fails with
 * {@link NotTrained}. Nothing can block it, and it never writes to the folder.
 */
export type LeasePolicy = "wait" | "take-over" | "reload-only"

/** Runs (or resumes, or just reloads a finished) training run. */
export const train = <Prepared>(
  run: TrainingRun<Prepared>,
): Effect.Effect<TrainingResult, TrainingError, Tensors | FileSystem.FileSystem | Progress> =>
  Effect.gen(function* () {
    const backend = yield* Tensors
    const fs = yield* FileSystem.FileSystem
    const progress = yield* Progress
    const { data, objective, config } = run
    const lastPath = `${run.directory}/last.ckpt`
    const bestPath = `${run.directory}/best.ckpt`
    const validationUsers = run.validationUsers ?? run.users
    const batchOptions = (epoch: number): Batches.TrainingBatchOptions => ({
      batchSize: config.batchSize,
      negatives: config.negatives,
      epochSeed: epochSeed(config.seed, epoch),
      reuseBuffers: false,
      ...(run.users === undefined ? {} : { users: run.users }),
    })
    const steps = yield* Effect.try({
      try: () => Batches.trainingBatchCount(data, batchOptions(0)),
      catch: (error) =>
        new InvalidTrainingOption({
          run: run.name,
          reason: String((error as Error).message ?? error),
        }),
    })
    if (steps === 0)
      return yield* new InvalidTrainingOption({
        run: run.name,
        reason: "no training positives for the selected users",
      })
    const rule = stoppingRule(
      config,
      config.epochUnit === "all-users" && run.users !== undefined
        ? Batches.trainingBatchCount(data, {
            batchSize: config.batchSize,
            negatives: config.negatives,
            epochSeed: epochSeed(config.seed, 0),
          }) / steps
        : 1,
    )

    // The objective's warm-up epochs train only auxiliary parameters (CausalD's estimator): the
    // model is not trained in them, so none of them can be the run's result.
    const warmupEpochs = objective.warmupEpochs ?? 0
    if (warmupEpochs >= rule.maxEpochs)
      return yield* new InvalidTrainingOption({
        run: run.name,
        reason: `its objective warms up for ${warmupEpochs} epoch(s) but the run has at most ${rule.maxEpochs}: raise the epochs`,
      })

    const reloadOnly = run.lease === "reload-only"
    const notTrained = (reason: string) =>
      new NotTrained({ run: run.name, directory: run.directory, reason })
    if (reloadOnly) {
      if (!(yield* fs.exists(lastPath).pipe(Effect.orElseSucceed(() => false))))
        return yield* notTrained("no checkpoint last.ckpt")
    } else {
      yield* fs.makeDirectory(run.directory, { recursive: true }).pipe(
        Effect.mapError(
          (e) =>
            new Checkpoint.CheckpointError({
              path: run.directory,
              reason: `cannot create: ${e.message}`,
            }),
        ),
      )
      // One process at a time trains a run: another one sharing the folder (`--workers`) waits
      // here for it, then reloads the finished run below.
      yield* Lease.acquire(run.directory, { name: run.name, takeOver: run.lease === "take-over" })
    }
    // Checkpoints hold the trained parameters plus the model's non-trainable state (Dice's
    // running statistics); the result (best.ckpt) holds the model alone.
    const buffers = objective.model.buffers ?? []
    const saved = [...objective.parameters, ...buffers]
    const result = [...objective.model.parameters, ...buffers]
    const optimizer = yield* Effect.acquireRelease(
      Effect.sync(() => backend.optimizer(config.optimizer)),
      (o) => Effect.sync(() => o.dispose()),
    )

    let state: RunState = {
      epoch: 0,
      bestEpoch: 0,
      bestValidationAuc: Number.NEGATIVE_INFINITY,
      history: [],
      finished: false,
      stoppedBy: "",
    }
    const resumed = yield* fs.exists(lastPath).pipe(Effect.orElseSucceed(() => false))
    if (resumed) {
      const meta = yield* Checkpoint.loadParameters(lastPath, saved, { optimizer })
      state = yield* Schema.decodeUnknownEffect(RunStateSchema)(meta).pipe(
        Effect.mapError(
          (e) =>
            new Checkpoint.CheckpointError({ path: lastPath, reason: `bookkeeping: ${e.message}` }),
        ),
      )
      // Stopped where this run's rule would not stop it (a higher cap, a longer minimum or
      // patience): it goes on as if the rule had always been this one (epochs are seeded by
      // their number and the optimiser's state is in last.ckpt).
      if (state.finished) {
        const stoppedBy = rule.stoppedBy(state.epoch, Math.max(state.bestEpoch, warmupEpochs))
        state = { ...state, finished: stoppedBy !== "", stoppedBy }
      }
      yield* progress.note(
        run.name,
        `resumed after epoch ${state.epoch}${state.finished ? " (finished)" : ""}`,
      )
    }

    if (reloadOnly && !state.finished)
      return yield* notTrained(
        resumed
          ? `its last checkpoint is after epoch ${state.epoch}, not finished`
          : "no checkpoint last.ckpt",
      )

    while (!state.finished) {
      const epoch = state.epoch + 1
      const started = yield* Clock.currentTimeMillis
      const rng = Random.derive(config.seed, 1_000_003 + epoch)
      let lossSum = 0
      let step = 0
      const termSums = new Map<string, number>()
      for (const batch of Batches.trainingBatches(data, batchOptions(epoch))) {
        const loss = trainStep(backend, objective, optimizer, batch, rng, epoch, termSums)
        step += 1
        if (!Number.isFinite(loss))
          return yield* new NonFiniteLoss({ run: run.name, epoch, step, value: loss })
        lossSum += loss
        yield* progress.update({
          stage: `${run.name} epoch ${epoch}`,
          done: step,
          total: steps,
          metrics: { loss: lossSum / step },
        })
      }
      const auc = validationAuc(backend, objective.model, data, validationUsers)
      const finishedAt = yield* Clock.currentTimeMillis
      const terms = termMeans(termSums, step)
      const record: EpochRecord = {
        epoch,
        loss: lossSum / step,
        validationAuc: auc,
        seconds: (finishedAt - started) / 1000,
        liveTensors: backend.liveTensors(),
        ...(terms === undefined ? {} : { terms }),
      }
      const improved = epoch > warmupEpochs && auc > state.bestValidationAuc
      const bestEpoch = improved ? epoch : state.bestEpoch
      // patience runs from the end of the warm-up, which no epoch can improve on
      const stoppedBy = rule.stoppedBy(epoch, Math.max(bestEpoch, warmupEpochs))
      state = {
        epoch,
        bestEpoch,
        bestValidationAuc: improved ? auc : state.bestValidationAuc,
        history: [...state.history, record],
        finished: stoppedBy !== "",
        stoppedBy,
      }
      // best.ckpt first: a kill between the two writes replays this epoch, which rewrites both.
      if (improved)
        yield* Checkpoint.saveParameters(bestPath, result, {
          meta: { epoch, validationAuc: auc },
        })
      yield* Checkpoint.saveParameters(lastPath, saved, { optimizer, meta: state })
      yield* progress.note(
        `${run.name} epoch ${epoch}`,
        improved ? "new best" : `no gain for ${epoch - bestEpoch}`,
        { loss: record.loss, ...terms, validationAuc: auc },
      )
    }

    // The result is the best epoch's model.
    yield* Checkpoint.loadParameters(bestPath, result)
    return {
      epochs: state.epoch,
      bestEpoch: state.bestEpoch,
      bestValidationAuc: state.bestValidationAuc,
      history: state.history,
      stoppedBy: state.stoppedBy,
      resumed,
    }
  }).pipe(Effect.scoped)

/**
 * When a run stops, in epochs of its own rows: `maxEpochs`, `minEpochs` and `patience` times
 * `scale` (the steps of an epoch over all users over the run's own, for
 * `epochUnit: "all-users"`), rounded up. "" = it goes on.
 */
export const stoppingRule = (config: TrainingConfig, scale: number) => {
  const maxEpochs = Math.ceil(config.maxEpochs * scale)
  const minEpochs = Math.ceil(config.minEpochs * scale)
  const patience = Math.ceil(config.patience * scale)
  return {
    maxEpochs,
    minEpochs,
    patience,
    stoppedBy: (epoch: number, bestEpoch: number): "" | "max-epochs" | "patience" =>
      epoch >= maxEpochs
        ? "max-epochs"
        : epoch >= minEpochs && epoch - bestEpoch >= patience
          ? "patience"
          : "",
  }
}

/** The seed of epoch e's batches: a function of the run's seed and e only. */
export const epochSeed = (seed: number, epoch: number): number =>
  (Math.imul(seed + 1, 0x27d4eb2d) ^ epoch) | 0

/** Each term's mean over an epoch's steps, or undefined when the objective reported none. */
const termMeans = (
  sums: ReadonlyMap<string, number>,
  steps: number,
): Record<string, number> | undefined => {
  if (sums.size === 0) return undefined
  const means: Record<string, number> = {}
  for (const [name, sum] of sums) means[name] = sum / steps
  return means
}

/**
 * One optimisation step: inputs to tensors, the objective's constants outside the tape, the loss
 * and its gradients for exactly the objective's parameters, the update. Every tensor of the step
 * is freed before it returns. Returns the loss value; the terms the objective reports are added
 * to `termSums` by name.
 */
export const trainStep = <Prepared>(
  backend: import("@causald/core").TensorBackend,
  objective: Objective<Prepared>,
  optimizer: import("@causald/core").Optimizer,
  batch: Batches.TrainingBatch,
  rng: Random.RandomGenerator,
  epoch: number,
  termSums?: Map<string, number>,
): number =>
  backend.tidy(() => {
    const context: BatchContext = {
      inputs: Inputs.toInputs(backend, batch),
      batch,
      labels: backend.tensor(batch.label, [batch.size]),
      rng,
      epoch,
    }
    const prepared = objective.prepare(context)
    // the terms are kept past the tape's scope, read once the step is done, then freed
    const terms: Array<readonly [string, Tensor]> = []
    const record: RecordTerm | undefined =
      termSums === undefined ? undefined : (name, value) => terms.push([name, backend.keep(value)])
    const { value, grads } = backend.valueAndGrads(
      () => objective.loss(context, prepared, record),
      objective.parameters,
    )
    const loss = backend.read(value)[0]!
    if (Number.isFinite(loss)) optimizer.apply(objective.parameters, grads)
    for (const [name, term] of terms) {
      termSums?.set(name, (termSums.get(name) ?? 0) + backend.read(term)[0]!)
      backend.dispose(term)
    }
    return loss
  })
