/**
 * Checks of the teachers a distillation baseline is given. Every multi-teacher baseline reads the
 * same pre-trained teachers as CausalD; their outputs come from `../FrozenTeachers.ts`, in
 * `prepare`, before the gradient tape starts, so no teacher parameter is ever differentiated or
 * updated.
 *
 * @module
 */
import type { Recommender } from "@causald/models"
import { InvalidBaselineOption } from "./Errors.ts"

/** Checks that a multi-teacher method got at least `min` teachers with the student's widths. */
export const requireTeachers = (
  method: string,
  student: Recommender,
  teachers: ReadonlyArray<Recommender>,
  min = 1,
): void => {
  if (teachers.length < min)
    throw new InvalidBaselineOption({
      method,
      option: "teachers",
      expected: `at least ${min} pre-trained teacher${min === 1 ? "" : "s"}`,
      found: String(teachers.length),
    })
  teachers.forEach((t, k) => {
    if (t.mediatorSize !== student.mediatorSize || t.itemSize !== student.itemSize)
      throw new InvalidBaselineOption({
        method,
        option: `teachers[${k}]`,
        expected: `the student's mediator width ${student.mediatorSize} and item width ${student.itemSize}`,
        found: `${t.mediatorSize} and ${t.itemSize}`,
      })
    const own = new Set(student.parameters)
    if (t.parameters.some((p) => own.has(p)))
      throw new InvalidBaselineOption({
        method,
        option: `teachers[${k}]`,
        expected: "a model that shares no parameter with the student",
        found: "a teacher sharing the student's parameters",
      })
  })
}
