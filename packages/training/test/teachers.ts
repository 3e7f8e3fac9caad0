/**
 * Helpers shared by the tests of the frozen teachers (`FrozenTeachers.test.ts`) and of the
 * CausalD objective's positive cache (`CausalDObjective.test.ts`).
 */
import { expect } from "bun:test"
import { forInference, type Recommender } from "@causald/models"

/**
 * A frozen teacher (the model at inference) that counts the rows its encoder sees, by its
 * forward pass or by its frozen encoder's pair table (`tables` counts those alone).
 */
export const counting = (
  model: Recommender,
  rows: { count: number; tables?: number },
): Recommender => {
  const inference = forInference(model)
  const frozenEncoder = inference.frozenEncoder
  return {
    ...inference,
    encode: (inputs) => {
      rows.count += inputs.item.shape[0]!
      return inference.encode(inputs)
    },
    ...(frozenEncoder === undefined
      ? {}
      : {
          frozenEncoder: (options) => {
            const encoder = frozenEncoder(options)
            return encoder === undefined
              ? undefined
              : {
                  mediators: (batch, which) => {
                    rows.count += which.length
                    rows.tables = (rows.tables ?? 0) + which.length
                    return encoder.mediators(batch, which)
                  },
                }
          },
        }),
  }
}

/** The largest absolute difference of two equally long arrays. */
export const maxDiff = (a: ArrayLike<number>, c: ArrayLike<number>): number => {
  expect(a.length).toBe(c.length)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - c[i]!))
  return m
}
