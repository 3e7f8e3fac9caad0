/**
 * What a trained model was trained from, kept beside its checkpoints (`provenance.json` in its
 * folder under `models/`): the teachers of a distilled student and the settings that shape it
 * but not its folder's name (loss coefficients, CausalD's feature distance).
 *
 * Why: a rerun reuses every finished model, and a checkpoint alone does not say which teachers or
 * coefficients produced it. When the teachers change (retrained, or continued under a longer
 * stopping rule) or a coefficient is given another value (`--lambda-bda`), a reused model would
 * silently stand for a configuration that no longer exists. The first happened on ml-100k when
 * the teachers' epochs began to count all users' steps (`Train.epochUnit`). A model whose record
 * differs from the current configuration is refused with the folder to delete.
 *
 * @module
 */
import type { Train } from "@causald/training"
import { Effect, FileSystem, Schema } from "effect"
import { writeAtomic } from "./Output.ts"

/** One teacher as a student saw it: its folder and the outcome of its training. */
export const TeacherRecord = Schema.Struct({
  model: Schema.String,
  epochs: Schema.Int,
  bestEpoch: Schema.Int,
  bestValidationAuc: Schema.Number,
})
export type TeacherRecord = typeof TeacherRecord.Type

/** A model's record: its teachers (none for a model without) and its settings. */
export const Provenance = Schema.Struct({
  teachers: Schema.Array(TeacherRecord),
  settings: Schema.Record(Schema.String, Schema.Union([Schema.Number, Schema.String])),
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
  return undefined
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
      .pipe(Effect.catch((e) => fail(`cannot create ${directory}: ${e.message}`)))
    yield* writeAtomic(file, `${JSON.stringify(current, null, 2)}\n`).pipe(
      Effect.catch((e) => fail(`cannot write ${file}: ${e.message}`)),
    )
    return trained ? "adopted" : "recorded"
  })
