/**
 * What a trained model was trained from, kept beside its checkpoints (`provenance.json` in its
 * folder under `models/`): the teachers of a distilled student and the settings that shape it
 * but not its folder's name (loss coefficients, CausalD's feature distance), and the base model's
 * configuration as resolved for the study.
 *
 * Why: a rerun reuses every finished model, and a checkpoint alone does not say which teachers or
 * coefficients produced it. When the teachers change (retrained, or continued under a longer
 * stopping rule) or a coefficient is given another value (`--lambda-bda`), a reused model would
 * silently stand for a configuration that no longer exists. The first happened on ml-100k when
 * the teachers' epochs began to count all users' steps (`Train.epochUnit`). A model whose record
 * differs from the current configuration is refused with the folder to delete. A record written
 * before a field existed is read as what that field's absence meant then (no base-model
 * configuration: the base model's defaults), so a model from then is reused only where nothing
 * changed.
 *
 * The output folder as a whole is bound to what its models were trained on
 * (`<out>/fingerprint.json`, {@link bindOutput}): a SHA-256 of the prepared data's content (its
 * sequences, the leave-last-out split and its stored candidates, attributes, exposure negatives,
 * sizes and protocol settings, the split's seed included) and the settings that shape every
 * model but no folder's name (the base recommender, batch size, negatives, optimiser). A rerun on
 * other data, even of the same shape (the same file with its timestamps reversed, which once
 * reused the first run's models and reported AUC 0.892 instead of 0.684), is refused by name
 * before anything trains.
 *
 * @module
 */
import type { Train } from "@causald/training"
import { Effect, FileSystem, Schema } from "effect"
import { fileSystemReason } from "./Explain.ts"
import {
  BaseModelRecord,
  baseModelDifference,
  fingerprintDifference,
  fingerprintFile,
  OutputFingerprint,
} from "./Fingerprint.ts"
import { writeAtomic } from "./Output.ts"

/** One teacher as a student saw it: its folder and the outcome of its training. */
export const TeacherRecord = Schema.Struct({
  model: Schema.String,
  epochs: Schema.Int,
  bestEpoch: Schema.Int,
  bestValidationAuc: Schema.Number,
})
export type TeacherRecord = typeof TeacherRecord.Type

/** A model's record: its teachers (none for a model without), its settings and base model. */
export const Provenance = Schema.Struct({
  teachers: Schema.Array(TeacherRecord),
  settings: Schema.Record(Schema.String, Schema.Union([Schema.Number, Schema.String])),
  /**
   * The base model's configuration, as resolved for the study; absent in records written before
   * configurations were recorded, which stands for the base model's defaults (every model was
   * built at them until then), so those models stay reusable at the defaults only.
   */
  model: Schema.optionalKey(BaseModelRecord),
})
export type Provenance = typeof Provenance.Type

/** The record of a teacher trained in folder `model` with this result. */
export const teacherRecord = (model: string, result: Train.TrainingResult): TeacherRecord => ({
  model,
  epochs: result.epochs,
  bestEpoch: result.bestEpoch,
  bestValidationAuc: result.bestValidationAuc,
})

/** A model's recorded teachers or settings differ from the ones it would be trained with now. */
export class StaleModel extends Schema.TaggedError<StaleModel>()("StaleModel", {
  directory: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.directory} was trained from another configuration than the current one (${this.reason}); delete that folder to train it again`
  }
}

const describe = (t: TeacherRecord): string =>
  `${t.model}: ${t.epochs} epochs, best ${t.bestEpoch} at validation AUC ${t.bestValidationAuc.toFixed(4)}`

/** The first difference between two teacher lists, in words. */
export const teacherDifference = (
  recorded: ReadonlyArray<TeacherRecord>,
  current: ReadonlyArray<TeacherRecord>,
): string | undefined => {
  if (recorded.length !== current.length)
    return `${recorded.length} teachers recorded, ${current.length} now`
  for (let k = 0; k < current.length; k++) {
    const a = recorded[k]!
    const b = current[k]!
    if (
      a.model !== b.model ||
      a.epochs !== b.epochs ||
      a.bestEpoch !== b.bestEpoch ||
      a.bestValidationAuc !== b.bestValidationAuc
    )
      return `recorded ${describe(a)}; now ${describe(b)}`
  }
  return undefined
}

/** The first difference between two records, in words. */
export const difference = (recorded: Provenance, current: Provenance): string | undefined => {
  const teachers = teacherDifference(recorded.teachers, current.teachers)
  if (teachers !== undefined) return teachers
  const names = [...new Set([...Object.keys(recorded.settings), ...Object.keys(current.settings)])]
  for (const name of names.sort())
    if (recorded.settings[name] !== current.settings[name])
      return `${name} was ${recorded.settings[name] ?? "unset"}, now ${current.settings[name] ?? "unset"}`
  return baseModelDifference(recorded.model, current.model)
}

/**
 * What {@link checkProvenance} found: the same record ("matched"), none and no model yet
 * ("recorded": a new model), or none beside an existing checkpoint ("adopted": a model trained
 * before these records existed, taken as it is and its configuration recorded, which the caller
 * reports, since nothing can check it).
 */
export type ProvenanceCheck = "matched" | "recorded" | "adopted"

/**
 * Before a model in `directory` is trained or reused: records `current` there when nothing is
 * recorded yet, fails with {@link StaleModel} when another configuration is recorded.
 */
export const checkProvenance = (
  directory: string,
  current: Provenance,
): Effect.Effect<ProvenanceCheck, StaleModel, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const file = `${directory}/provenance.json`
    const fail = (reason: string) => Effect.fail(new StaleModel({ directory, reason }))
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (exists) {
      const text = yield* fs
        .readFileString(file)
        .pipe(Effect.catch((e) => fail(`cannot read ${file}: ${e.message}`)))
      const recorded = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(Provenance))(
        text,
      ).pipe(Effect.catch((e) => fail(`${file} is not a provenance record: ${e.message}`)))
      const diff = difference(recorded, current)
      return diff === undefined ? "matched" : yield* fail(diff)
    }
    const trained = yield* fs
      .exists(`${directory}/last.ckpt`)
      .pipe(Effect.orElseSucceed(() => false))
    yield* fs
      .makeDirectory(directory, { recursive: true })
      .pipe(Effect.catch((e) => fail(`cannot create ${directory}: ${fileSystemReason(e)}`)))
    yield* writeAtomic(file, `${JSON.stringify(current, null, 2)}\n`).pipe(
      Effect.catch((e) => fail(`cannot write ${file}: ${e.reason}`)),
    )
    return trained ? "adopted" : "recorded"
  })

/** A reused output folder holds models trained on other data or settings. */
export class StaleOutput extends Schema.TaggedError<StaleOutput>()("StaleOutput", {
  out: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `--out ${this.out} holds models trained on other data or settings (${this.reason}); give another --out, or delete that folder to train again`
  }
}

/** The output folder cannot be made or written: names `--out` and the reason. */
export class OutputFolderError extends Schema.TaggedError<OutputFolderError>()(
  "OutputFolderError",
  { out: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `--out ${this.out}: ${this.reason}`
  }
}

/**
 * What {@link bindOutput} found: the same fingerprint ("matched"), a new folder ("recorded"), or
 * a folder with models and no fingerprint ("adopted": trained before folders were bound, taken
 * as trained on this data and recorded so, which the caller reports, since nothing can check it).
 */
export type OutputBinding = "matched" | "recorded" | "adopted"

/**
 * Before anything trains: binds `out` to `current`. A recorded fingerprint that differs fails
 * with {@link StaleOutput}. With `write` (the main process; a worker only checks) the folder is
 * made and the fingerprint (re)written, which also proves the folder writable: a failure is an
 * {@link OutputFolderError} with its reason (a file in the way, permission denied, read-only
 * file system, no space left on device).
 */
export const bindOutput = (
  out: string,
  current: OutputFingerprint,
  options: { readonly write: boolean },
): Effect.Effect<OutputBinding, StaleOutput | OutputFolderError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const file = `${out}/${fingerprintFile}`
    const folderError = (what: string) => (e: unknown) =>
      new OutputFolderError({ out, reason: `${what}: ${fileSystemReason(e)}` })
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (exists) {
      const text = yield* fs
        .readFileString(file)
        .pipe(Effect.mapError(folderError(`cannot read ${file}`)))
      const recorded = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(OutputFingerprint))(
        text,
      ).pipe(
        Effect.mapError(
          (e) =>
            new StaleOutput({ out, reason: `${file} is not a fingerprint record: ${e.message}` }),
        ),
      )
      const diff = fingerprintDifference(recorded, current)
      if (diff !== undefined) return yield* new StaleOutput({ out, reason: diff })
    }
    const adopted =
      !exists && (yield* fs.exists(`${out}/models`).pipe(Effect.orElseSucceed(() => false)))
    if (options.write) {
      yield* fs
        .makeDirectory(out, { recursive: true })
        .pipe(Effect.mapError(folderError("cannot make the folder")))
      yield* writeAtomic(file, `${JSON.stringify(current, null, 2)}\n`).pipe(
        Effect.mapError(
          (e) => new OutputFolderError({ out, reason: `cannot write ${file}: ${e.reason}` }),
        ),
      )
    }
    return exists ? "matched" : adopted ? "adopted" : "recorded"
  })
