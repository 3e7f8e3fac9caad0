/**
 * Which teachers a distilled student was trained from, kept beside its checkpoints
 * (`teachers.json` in its folder under `models/`).
 *
 * Why: a rerun reuses every finished model, and a student's checkpoint alone does not say which
 * teachers it learnt from. When the teachers change (they were retrained, or continued under a
 * longer stopping rule), a reused student would silently stand for teachers that no longer
 * exist. This happened on ml-100k when the teachers' epochs began to count all users' steps
 * (`Train.epochUnit`). A student whose recorded teachers differ from the current ones is refused
 * with the folder to delete.
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

const Records = Schema.Array(TeacherRecord)

/** The record of a teacher trained in folder `model` with this result. */
export const teacherRecord = (model: string, result: Train.TrainingResult): TeacherRecord => ({
  model,
  epochs: result.epochs,
  bestEpoch: result.bestEpoch,
  bestValidationAuc: result.bestValidationAuc,
})

/** A student's recorded teachers differ from the ones it would be trained with now. */
export class StaleStudent extends Schema.TaggedError<StaleStudent>()("StaleStudent", {
  directory: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.directory} was trained from other teachers than the current ones (${this.reason}); delete that folder to train it again from the current teachers`
  }
}

const describe = (t: TeacherRecord): string =>
  `${t.model}: ${t.epochs} epochs, best ${t.bestEpoch} at validation AUC ${t.bestValidationAuc.toFixed(4)}`

/** The first difference between two teacher lists, in words. */
export const difference = (
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

/**
 * Before a student in `directory` is trained or reused: records `teachers` there when nothing is
 * recorded yet, fails with {@link StaleStudent} when other teachers are recorded. A student
 * trained before these records existed is taken as it is (and its teachers recorded).
 */
export const checkTeachers = (
  directory: string,
  teachers: ReadonlyArray<TeacherRecord>,
): Effect.Effect<void, StaleStudent, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const file = `${directory}/teachers.json`
    const fail = (reason: string) => Effect.fail(new StaleStudent({ directory, reason }))
    const exists = yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false))
    if (exists) {
      const text = yield* fs
        .readFileString(file)
        .pipe(Effect.catch((e) => fail(`cannot read ${file}: ${e.message}`)))
      const recorded = yield* Schema.decodeUnknownEffect(Schema.fromJsonString(Records))(text).pipe(
        Effect.catch((e) => fail(`${file} is not a teacher list: ${e.message}`)),
      )
      const diff = difference(recorded, teachers)
      return diff === undefined ? undefined : yield* fail(diff)
    }
    yield* fs
      .makeDirectory(directory, { recursive: true })
      .pipe(Effect.catch((e) => fail(`cannot create ${directory}: ${e.message}`)))
    yield* writeAtomic(file, `${JSON.stringify(teachers, null, 2)}\n`).pipe(
      Effect.catch((e) => fail(`cannot write ${file}: ${e.message}`)),
    )
  })
