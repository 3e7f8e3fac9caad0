/**
 * Small synthetic batches and helpers shared by the model tests.
 */
import { Losses, Random, type Tensor, type TensorBackend } from "@causald/core"
import { Inputs, logits, type Recommender, type RecommenderInputs } from "../src/index.ts"

export const vocabulary = { numUsers: 7, numItems: 24 } as const

/** Tiny layer sizes so every backend runs the tests in seconds. */
export const smallDin = {
  embeddingSize: 8,
  attentionHidden: [12, 6],
  predictorHidden: [16, 8],
} as const

export const smallDeepFm = { embeddingSize: 8, dnnHidden: [16, 8] } as const

/** The next item of the synthetic task: a fixed permutation of the last history item. */
export const nextItem = (last: number, numItems: number = vocabulary.numItems): number =>
  ((last * 5) % numItems) + 1

export interface LabelledBatch extends Inputs.RowBatch {
  readonly label: Float32Array
}

/**
 * Rows of the synthetic task: random histories of 1..L items; even rows hold the true next
 * item (label 1), odd rows a random other item (label 0), with the same user and history.
 * Items are drawn from 1..numItems (at most the vocabulary's).
 */
export const syntheticBatch = (
  rng: Random.RandomGenerator,
  rows: number,
  L: number,
  numItems: number = vocabulary.numItems,
): LabelledBatch => {
  const user = new Int32Array(rows)
  const history = new Int32Array(rows * L)
  const historyLength = new Int32Array(rows)
  const item = new Int32Array(rows)
  const label = new Float32Array(rows)
  const I = numItems
  for (let r = 0; r < rows; r += 2) {
    const n = Random.integer(rng, 1, L)
    const u = Random.integer(rng, 0, vocabulary.numUsers - 1)
    for (const row of [r, r + 1]) {
      if (row >= rows) break
      user[row] = u
      historyLength[row] = n
    }
    for (let j = 0; j < n; j++) history[r * L + j] = Random.integer(rng, 1, I)
    const positive = nextItem(history[r * L + n - 1]!, I)
    item[r] = positive
    label[r] = 1
    if (r + 1 < rows) {
      history.copyWithin((r + 1) * L, r * L, r * L + L)
      let negative = positive
      while (negative === positive) negative = Random.integer(rng, 1, I)
      item[r + 1] = negative
    }
  }
  return { user, history, historyLength, item, label }
}

/** Area under the ROC curve of scores against 0/1 labels (ties count half). */
export const auc = (scores: ArrayLike<number>, labels: ArrayLike<number>): number => {
  let pairs = 0
  let wins = 0
  for (let i = 0; i < scores.length; i++) {
    if (labels[i] !== 1) continue
    for (let j = 0; j < scores.length; j++) {
      if (labels[j] !== 0) continue
      pairs++
      if (scores[i]! > scores[j]!) wins++
      else if (scores[i] === scores[j]) wins += 0.5
    }
  }
  return wins / pairs
}

/** One BCE + Adagrad step inside a scope; returns the loss. */
export const trainStep = (
  b: TensorBackend,
  model: Recommender,
  optimizer: ReturnType<TensorBackend["optimizer"]>,
  batch: LabelledBatch,
): number =>
  b.tidy(() => {
    const inputs = Inputs.toInputs(b, batch)
    const labels = b.tensor(batch.label, [batch.label.length])
    const { value, grads } = b.valueAndGrads(
      () => Losses.binaryCrossEntropy(b, logits(model, inputs), labels),
      model.parameters,
    )
    optimizer.apply(model.parameters, grads)
    return b.read(value)[0]!
  })

/**
 * The learning check shared by the models: AUC on a held-out synthetic batch (12 items) before
 * and after 250 Adagrad steps of 64 rows. The learning rate is larger than the paper's 0.01, and
 * the items fewer, so the task trains in 250 steps. `inference` scores the held-out rows (the
 * trained model itself, or its inference form where running statistics differ); the caller
 * disposes the model.
 */
export const learnNextItemRule = (
  b: TensorBackend,
  model: Recommender,
  inference: Recommender = model,
): { readonly before: number; readonly after: number } => {
  const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.3 })
  const rng = Random.generator(21)
  const heldOut = syntheticBatch(Random.generator(99), 400, 4, 12)
  const before = auc(score(b, inference, heldOut), heldOut.label)
  for (let step = 0; step < 250; step++)
    trainStep(b, model, optimizer, syntheticBatch(rng, 64, 4, 12))
  const after = auc(score(b, inference, heldOut), heldOut.label)
  optimizer.dispose()
  return { before, after }
}

/** The logits of a batch, read to the host. */
export const score = (b: TensorBackend, model: Recommender, batch: Inputs.RowBatch): Float32Array =>
  b.tidy(() => b.read(logits(model, Inputs.toInputs(b, batch))) as Float32Array)

/** Largest absolute difference between two arrays of equal length. */
export const maxAbsDiff = (a: ArrayLike<number>, c: ArrayLike<number>): number => {
  if (a.length !== c.length) throw new Error(`lengths differ: ${a.length} vs ${c.length}`)
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - c[i]!))
  return m
}

/** Largest absolute value. */
export const maxAbs = (a: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!))
  return m
}

/** A copy of a batch whose history ids at padded positions are replaced by random items. */
export const scramblePadding = (
  rng: Random.RandomGenerator,
  batch: LabelledBatch,
): LabelledBatch => {
  const rows = batch.user.length
  const L = batch.history.length / rows
  const history = batch.history.slice()
  for (let r = 0; r < rows; r++)
    for (let j = batch.historyLength[r]!; j < L; j++)
      history[r * L + j] = Random.integer(rng, 1, vocabulary.numItems)
  return { ...batch, history }
}

/** The gradient of the BCE loss of a batch for every parameter, as host arrays. */
export const gradients = (
  b: TensorBackend,
  model: Recommender,
  batch: LabelledBatch,
): Array<Float32Array> =>
  b.tidy(() => {
    const inputs: RecommenderInputs = Inputs.toInputs(b, batch)
    const labels = b.tensor(batch.label, [batch.label.length])
    const { grads } = b.valueAndGrads(
      () => Losses.binaryCrossEntropy(b, logits(model, inputs), labels),
      model.parameters,
    )
    return grads.map((g: Tensor) => b.read(g) as Float32Array)
  })
