/**
 * Scoring with a trained model: queries (a known user, or a raw history of item ids), their
 * candidates (every item, or a given list), scores and the top K.
 *
 * A score is the model's logit ψ*(φ(x), y) (eq. 15): the student alone, as evaluation runs it,
 * whose inference costs what the base model's does. A known user's history is the last L items
 * (L = the run's history length) of everything the data holds for the user (training part,
 * validation and test targets): the most recent behaviour the model can see; raw histories are
 * given oldest item first and cut to their last L items the same way. Top-K leaves out the items
 * of the user's whole sequence (or of the raw history).
 *
 * Ids are the data's own spellings (`PreparedDataset.userIds`, `itemIds`), both in and out.
 *
 * @module
 */
import type { TensorBackend } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import { Inputs, type Recommender } from "@causald/models"
import { Result } from "effect"
import { UseError } from "./Run.ts"

/** One scoring query: whose history, and which items it never gets recommended. */
export interface Query {
  /** The user's index, or -1 for a raw history without a user. */
  readonly user: number
  /** Item indices (1..I), oldest first, at most L. */
  readonly history: Int32Array
  /** Items left out of a top-K (the user's items, or the raw history's). */
  readonly exclude: ReadonlySet<number>
}

/** Index lookups of a data set's spelled ids. */
export interface Ids {
  readonly user: ReadonlyMap<string, number>
  readonly item: ReadonlyMap<string, number>
}

export const idsOf = (data: PreparedDataset): Ids => ({
  user: new Map(data.userIds.map((id, u) => [id, u])),
  item: new Map(data.itemIds.map((id, i) => [id, i] as const).filter(([, i]) => i > 0)),
})

/** The last `L` entries of `items`. */
const lastOf = (items: Int32Array, L: number): Int32Array =>
  items.length > L ? items.slice(items.length - L) : items.slice()

/** The query of a known user: the last L items of its whole sequence; excludes all of it. */
export const userQuery = (data: PreparedDataset, user: number): Query => {
  const items = data.sequenceItems.subarray(
    data.sequenceOffsets[user]!,
    data.sequenceOffsets[user + 1]!,
  )
  return {
    user,
    history: lastOf(items, data.config.historyLength),
    exclude: new Set(items),
  }
}

/**
 * Resolves a user id (as spelled in the data) to its index; `subject` names where it came from
 * (a flag, a request field) for the error.
 */
export const resolveUser = (
  data: PreparedDataset,
  ids: Ids,
  id: string,
  subject: string,
): Result.Result<number, UseError> => {
  const u = ids.user.get(id)
  return u === undefined
    ? Result.fail(
        new UseError({
          subject,
          reason: `unknown user "${id}"; ${data.name} has ${data.numUsers} users (ids as spelled in the data, e.g. "${data.userIds[0]}")`,
        }),
      )
    : Result.succeed(u)
}

/** Resolves item ids to indices; the first unknown one is the error. */
export const resolveItems = (
  data: PreparedDataset,
  ids: Ids,
  items: ReadonlyArray<string>,
  subject: string,
): Result.Result<Int32Array, UseError> => {
  const out = new Int32Array(items.length)
  for (let k = 0; k < items.length; k++) {
    const i = ids.item.get(items[k]!)
    if (i === undefined)
      return Result.fail(
        new UseError({
          subject,
          reason: `unknown item "${items[k]}"; ${data.name} has ${data.numItems} items (ids as spelled in the data, e.g. "${data.itemIds[1]}")`,
        }),
      )
    out[k] = i
  }
  return Result.succeed(out)
}

/**
 * The query of a raw history (item indices, oldest first; cut to the last L); excludes the
 * history's items. `user` (-1: none) is the user whose id a model with a user field reads.
 */
export const historyQuery = (data: PreparedDataset, history: Int32Array, user = -1): Query => ({
  user,
  history: lastOf(history, data.config.historyLength),
  exclude: new Set(history),
})

/** Whether the model reads a user id (DeepFM's user field), so a query needs a user. */
export const needsUser = (model: Recommender): boolean => model.kind === "deepfm"

/** Every item index 1..I, the candidates of a top-K. */
export const allItems = (data: PreparedDataset): Int32Array => {
  const items = new Int32Array(data.numItems)
  for (let i = 0; i < data.numItems; i++) items[i] = i + 1
  return items
}

/**
 * Scores each query's candidates in one pass of the model over all of them (the queries share
 * the forward passes: `Inputs.scoreCandidates` runs them in chunks, each in its own tensor
 * scope, nothing outlives the call). Candidate lists of different lengths are padded to the
 * longest with item 1 and the padding's scores dropped: a row's score depends on its own
 * history and candidate only. Returns one Float32Array of logits per query.
 */
export const score = (
  backend: TensorBackend,
  model: Recommender,
  queries: ReadonlyArray<Query>,
  candidates: ReadonlyArray<Int32Array>,
): Array<Float32Array> => {
  const size = queries.length
  if (size === 0) return []
  let C = 1
  let L = 1
  for (let q = 0; q < size; q++) {
    C = Math.max(C, candidates[q]!.length)
    L = Math.max(L, queries[q]!.history.length)
  }
  const batch: Inputs.CandidateBatch = {
    size,
    candidatesPerUser: C,
    user: new Int32Array(size),
    history: new Int32Array(size * L),
    historyLength: new Int32Array(size),
    candidates: new Int32Array(size * C).fill(1),
  }
  for (let q = 0; q < size; q++) {
    const query = queries[q]!
    ;(batch.user as Int32Array)[q] = Math.max(0, query.user)
    ;(batch.history as Int32Array).set(query.history, q * L)
    ;(batch.historyLength as Int32Array)[q] = query.history.length
    ;(batch.candidates as Int32Array).set(candidates[q]!, q * C)
  }
  const scores = Inputs.scoreCandidates(backend, model, batch, { rowsPerChunk: 16_384 })
  return queries.map((_, q) => scores.slice(q * C, q * C + candidates[q]!.length))
}

/** Scores each query's candidates: one Float32Array of logits per query. */
export type Scorer = (
  queries: ReadonlyArray<Query>,
  candidates: ReadonlyArray<Int32Array>,
) => Array<Float32Array>

/** Rows per pass of the table scorer's predictor (bounds its host and tensor memory). */
const TABLE_ROWS_PER_PASS = 65_536

/**
 * A scorer by the model's frozen encoder (DIN: the activation unit's output for every (history
 * item, candidate) pair, computed once, `Recommender.frozenEncoder`), so that a query costs
 * table look-ups for its mediators and one pass of ψ* over its candidates. Undefined when the
 * model has none or the table would be too large (more than 2^24 pairs). The table is built on
 * the first call (ml-100k: 1.0 M pairs). Its scores equal {@link score}'s up to float32 rounding.
 */
export const tableScorer = (backend: TensorBackend, model: Recommender): Scorer | undefined => {
  const encoder = model.frozenEncoder?.()
  if (encoder === undefined) return undefined
  const d = model.mediatorSize
  return (queries, candidates) => {
    let width = 1
    for (const q of queries) width = Math.max(width, q.history.length)
    const out = queries.map((_, q) => new Float32Array(candidates[q]!.length))
    // rows (query, candidate) in passes of at most TABLE_ROWS_PER_PASS
    let q = 0
    let c = 0
    while (q < queries.length) {
      const passQuery: Array<number> = []
      const passCandidate: Array<number> = []
      while (q < queries.length && passQuery.length < TABLE_ROWS_PER_PASS) {
        if (c >= candidates[q]!.length) {
          q++
          c = 0
          continue
        }
        passQuery.push(q)
        passCandidate.push(c++)
      }
      const rows = passQuery.length
      if (rows === 0) break
      const history = new Int32Array(rows * width)
      const historyLength = new Int32Array(rows)
      const item = new Int32Array(rows)
      const user = new Int32Array(rows)
      for (let r = 0; r < rows; r++) {
        const query = queries[passQuery[r]!]!
        history.set(query.history, r * width)
        historyLength[r] = query.history.length
        item[r] = candidates[passQuery[r]!]![passCandidate[r]!]!
        user[r] = Math.max(0, query.user)
      }
      const all = new Int32Array(rows)
      for (let r = 0; r < rows; r++) all[r] = r
      const mediators = encoder.mediators({ history, width, historyLength, item }, all)
      const scores = backend.tidy(
        () =>
          backend.read(
            model.predict(backend.tensor(mediators, [rows, d]), {
              user: backend.tensor(user, [rows], "int32"),
              // ψ* reads the mediator and the item (DIN); the history is in the mediator
              history: backend.tensor(new Int32Array(rows), [rows, 1], "int32"),
              historyMask: backend.tensor(new Float32Array(rows), [rows, 1]),
              item: backend.tensor(item, [rows], "int32"),
            }),
          ) as Float32Array,
      )
      for (let r = 0; r < rows; r++) out[passQuery[r]!]![passCandidate[r]!] = scores[r]!
    }
    return out
  }
}

/** {@link score} as a {@link Scorer}. */
export const directScorer =
  (backend: TensorBackend, model: Recommender): Scorer =>
  (queries, candidates) =>
    score(backend, model, queries, candidates)

/** One recommended or scored item. */
export interface Scored {
  /** The item's id as spelled in the data. */
  readonly item: string
  /** The model's logit. */
  readonly score: number
}

/**
 * The K best of `scores` (over `candidates`), leaving out `exclude`; ties go to the smaller item
 * index.
 */
export const topK = (
  data: PreparedDataset,
  candidates: Int32Array,
  scores: Float32Array,
  exclude: ReadonlySet<number>,
  k: number,
): Array<Scored> => {
  const order: Array<number> = []
  for (let c = 0; c < candidates.length; c++) if (!exclude.has(candidates[c]!)) order.push(c)
  order.sort((a, b) => scores[b]! - scores[a]! || candidates[a]! - candidates[b]!)
  return order.slice(0, k).map((c) => ({ item: data.itemIds[candidates[c]!]!, score: scores[c]! }))
}

/**
 * The top-K recommendations of each query, all items as candidates. With many queries (more
 * (history position, item) pairs than the model's item-pair table holds) the table scorer is
 * used when the model has one, else (and for a few users, where building the table would cost
 * more than it saves) {@link score}; `scorer` overrides the choice.
 */
export const recommend = (
  backend: TensorBackend,
  model: Recommender,
  data: PreparedDataset,
  queries: ReadonlyArray<Query>,
  k: number,
  scorer?: Scorer,
): Array<Array<Scored>> => {
  const items = allItems(data)
  let pairs = 0
  for (const q of queries) pairs += q.history.length * items.length
  const chosen =
    scorer ??
    (pairs > (data.numItems + 1) ** 2 ? tableScorer(backend, model) : undefined) ??
    directScorer(backend, model)
  // a bounded number of (query, item) scores at a time
  const perPass = Math.max(1, Math.floor(4_000_000 / items.length))
  const out: Array<Array<Scored>> = []
  for (let first = 0; first < queries.length; first += perPass) {
    const group = queries.slice(first, first + perPass)
    const scores = chosen(
      group,
      group.map(() => items),
    )
    group.forEach((query, q) => {
      out.push(topK(data, items, scores[q]!, query.exclude, k))
    })
  }
  return out
}
