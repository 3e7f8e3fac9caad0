/**
 * A tiny recommender for testing the training machinery without DIN's cost: the mediator is
 * the masked mean of the history's item embeddings, the logit its dot product with the target's.
 */
import { Random, type TensorBackend } from "@causald/core"
import { Simulated } from "@causald/data"
import type { Recommender, RecommenderInputs } from "@causald/models"

export const meanPool = (
  backend: TensorBackend,
  numItems: number,
  size: number,
  seed: number,
  prefix = "meanpool",
): Recommender => {
  const rng = Random.rng(seed, prefix)
  const items = backend.parameter(
    `${prefix}/items`,
    Random.normalArray(rng, (numItems + 1) * size, 0.5),
    [numItems + 1, size],
  )
  const projection = backend.parameter(
    `${prefix}/projection`,
    Random.glorotUniform(rng, size, size),
    [size, size],
  )
  const embedItems = (ids: import("@causald/core").Tensor) => backend.gather(items.value, ids)
  const encode = (inputs: RecommenderInputs) => {
    const h = backend.gather(items.value, inputs.history) // [B, L, d]
    const mask = backend.expandDims(inputs.historyMask, -1)
    const count = backend.maximum(backend.sum(inputs.historyMask, -1, true), backend.scalar(1))
    return backend.matmul(
      backend.div(backend.sum(backend.mul(h, mask), 1), count),
      projection.value,
    )
  }
  return {
    kind: "meanpool",
    parameters: [items, projection],
    mediatorSize: size,
    itemSize: size,
    encode,
    embedItems,
    predict: (mediator, inputs) => backend.sum(backend.mul(mediator, embedItems(inputs.item)), -1),
  }
}

/** A small simulated data set (known causal effects) for fast training tests. */
export const smallData = () =>
  Simulated.simulate({
    users: 240,
    items: 80,
    minLength: 6,
    maxLength: 20,
    seed: 3,
    historyLength: 10,
    candidates: 20,
  })
