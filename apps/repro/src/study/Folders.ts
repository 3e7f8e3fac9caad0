/**
 * Every model folder of a study, named once. Each model trains in its own folder under
 * `<out>/models/` (`Training.ts` trains there), and each job of the study names the folders it
 * trains or reads (`Jobs.ts`: a worker skips a job whose folder another process holds, and a
 * model's provenance names its teachers' folders), so both take the names from here.
 *
 * A model of one seed is `<name>/seed-<seed>`; a model per group is `<name>-<g>`
 * (`PerGroup.trainPerGroup`'s folders).
 *
 * @module
 */
import type { Method } from "../Methods.ts"
import { spec as methodSpec, usesLabel } from "../Methods.ts"
import type { StudyOptions } from "../Options.ts"
import type * as Readings from "../Readings.ts"

/** How a set of teachers starts (`--teacher-init`): each start trains in folders of its own. */
export type TeacherInit = Readings.Reading["teacherInit"]

/** The folder names of a study whose models live in `modelsDir` (`<out>/models`). */
export const folders = (
  modelsDir: string,
  options: Pick<StudyOptions, "splitBy" | "teachers">,
  reading: Readings.Reading,
) => {
  /** A folder's path under `<out>/models/`. */
  const path = (folder: string) => `${modelsDir}/${folder}`
  /** One model of `seed`: `<name>/seed-<seed>`. */
  const model = (name: string, seed: number) => `${name}/seed-${seed}`
  /** The teachers' folder prefix for a split, K and student seed: each start trains apart. */
  const teachers = (
    split: string,
    k: number,
    seed: number,
    init: TeacherInit = reading.teacherInit,
  ) =>
    `teachers-${split}-${k}${init === "shared" ? "-shared" : init === "base" ? `-from-base-s${seed}` : ""}`
  /** The model folders a run trains or reads: its own, then what it needs (teachers). */
  const groupFolders = (name: string, groups: number) =>
    Array.from({ length: groups }, (_, g) => path(`${name}-${g}`))
  const teacherFolders = (method: Method, k: number, seed: number): ReadonlyArray<string> => {
    switch (methodSpec(method).teachers) {
      case "homogeneous":
        return groupFolders(teachers("random", k, seed), k)
      case "multiple":
        return groupFolders(teachers(options.splitBy, k, seed), k)
      default:
        // none, or KD's own teacher, whose folder is among the method's (methodFolders)
        return []
    }
  }
  /** The base model's folder, when the reading starts teachers or students from it. */
  const baseFolder = (method: Method, seed: number): ReadonlyArray<string> =>
    method !== "base" &&
    (reading.teacherInit === "base" || (reading.studentInit === "base" && usesLabel(method)))
      ? [path(model("base", seed))]
      : []
  /** KD's single teacher, trained on all users. */
  const kdTeacher = "kd-teacher"
  /** The models of the readings screen (`Readings.screen`). */
  const screen = (entry: Readings.ScreenEntry) => `causald-screen-${entry.name}`
  /** Table 7's CausalD with K teachers. */
  const teacherCount = (k: number) => `causald-k${k}`
  /** Fig. 5's CausalD with λ_BDA or λ_FDA set to `value`. */
  const sensitivity = (which: "lambdaBda" | "lambdaFda", value: number) =>
    `causald-${which}-${value}`
  return {
    /** `<out>/models`, where every model's folder is. */
    modelsDir,
    path,
    model,
    teachers,
    /** Group-wise training's models (eq. 7) of `seed`, one per group. */
    groupwise: (seed: number) => `groupwise-seed${seed}`,
    kdTeacher,
    /** A model of the paper's search (section 5.1) with a coefficient set to `value`. */
    search: (method: string, value: number) => `search-${method}-${value}`,
    /** A CausalD of the search with λ_FDA (`fda`) or λ_BDA (`bda`) set to `value`. */
    searchCausalD: (which: "fda" | "bda", value: number) => `search-causald-${which}-${value}`,
    screen,
    teacherCount,
    sensitivity,
    groupFolders,
    teacherFolders,
    baseFolder,
    /** Every folder a method's model of `seed` trains or reads. */
    methodFolders: (method: Method, seed: number): ReadonlyArray<string> => [
      path(model(method, seed)),
      // a single teacher is KD's own, trained on all users (kdTeacher)
      ...(methodSpec(method).teachers === "single" ? [path(model(kdTeacher, seed))] : []),
      ...teacherFolders(method, options.teachers, seed),
      ...baseFolder(method, seed),
    ],
    /** Every folder a screen entry's CausalD of `seed` trains or reads. */
    screenFolders: (entry: Readings.ScreenEntry, seed: number): ReadonlyArray<string> => [
      path(model(screen(entry), seed)),
      ...groupFolders(
        teachers(options.splitBy, options.teachers, seed, entry.reading.teacherInit),
        options.teachers,
      ),
      ...(entry.reading.teacherInit === "base" || entry.reading.studentInit === "base"
        ? [path(model("base", seed))]
        : []),
    ],
    /** Every folder Table 7's CausalD with K teachers (of `seed`) trains or reads. */
    teacherCountFolders: (k: number, seed: number): ReadonlyArray<string> => [
      path(model(teacherCount(k), seed)),
      ...groupFolders(teachers(options.splitBy, k, seed), k),
      ...baseFolder("causald", seed),
    ],
    /** Every folder Fig. 5's CausalD with one λ changed (of `seed`) trains or reads. */
    sensitivityFolders: (
      which: "lambdaBda" | "lambdaFda",
      value: number,
      seed: number,
    ): ReadonlyArray<string> => [
      path(model(sensitivity(which, value), seed)),
      ...teacherFolders("causald", options.teachers, seed),
      ...baseFolder("causald", seed),
    ],
  }
}

/** A study's folder names ({@link folders}). */
export type Folders = ReturnType<typeof folders>
