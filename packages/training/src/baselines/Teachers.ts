/**
 * The frozen teachers' outputs of a batch. Every multi-teacher baseline reads the same
 * pre-trained teachers as CausalD and computes their outputs in `prepare`, before the gradient
 * tape starts, so no teacher parameter is ever differentiated or updated.
 *
 * @module
 */
import type { Tensor, TensorBackend } from "@causald/core"
import { forInference, type Recommender, type RecommenderInputs } from "@causald/models"
import { InvalidBaselineOption } from "./Errors.ts"

/** Outputs of K teachers on B rows. */
export interface TeacherOutputs {
  /** ô_k: [K, B] logits. */
  readonly logits: Tensor
  /** m̃_k = φ_k(x): [K, B, d] mediators. */
  readonly mediators: Tensor
}

/** The teachers' logits and mediators on the batch's rows (call outside the gradient tape). */
export const teacherOutputs = (
  backend: TensorBackend,
  teachers: ReadonlyArray<Recommender>,
  inputs: RecommenderInputs,
): TeacherOutputs => {
  // Frozen teachers run as at inference (Dice gates with running statistics, never updated).
  const frozen = teachers.map(forInference)
  const mediators = frozen.map((t) => t.encode(inputs))
  const logits = frozen.map((t, k) => backend.expandDims(t.predict(mediators[k]!, inputs), 0))
  return {
    logits: backend.concat(logits, 0),
    mediators: backend.concat(
      mediators.map((m) => backend.expandDims(m, 0)),
      0,
    ),
  }
}

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
