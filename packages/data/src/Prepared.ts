/**
 * The prepared format: what every reader (after the protocol) and the simulator produce, and
 * what models, training and evaluation read. A struct of typed arrays, no per-row object.
 *
 * Conventions
 * - Users are `0 .. numUsers-1`. Items are `1 .. numItems`; item id `0` is reserved for
 *   padding in histories and never appears in a sequence, a target or a candidate list.
 * - Each user's chronological item sequence after filtering is stored in CSR form: the items
 *   of user `u` are `sequenceItems[sequenceOffsets[u] .. sequenceOffsets[u+1])`, oldest first.
 *   Every user has at least 3 items and no item twice.
 * - Chronological leave-last-out (section 5.1 of the paper): with `n` items, the last one
 *   (`n-1`) is the test target, the one before (`n-2`) the validation target, and positions
 *   `0 .. n-3` are the training part. The validation history is the training part; the test
 *   history is the training part plus the validation target.
 * - Evaluation candidates: for each user `1 + N` items, row-major `candidates[u*(1+N) + c]`,
 *   column 0 the target and columns `1..N` distinct items the user never consumed anywhere in
 *   the sequence. They are drawn once per `config.seed` and stored, so every method scores the
 *   same candidates.
 *
 * @module
 */

/** The protocol settings a prepared data set was built with (also part of its cache key). */
export interface PreparedConfig {
  /** k-core: every kept user and item has at least k interactions (0 = no filtering). */
  readonly kCore: number
  /** History length L: how many most recent items a model sees (paper: 50). */
  readonly historyLength: number
  /** Default number of sampled negatives per training positive (paper: 1). */
  readonly negativesPerPositive: number
  /** N, the number of sampled negative candidates per evaluation target (paper: 100). */
  readonly candidates: number
  /** Seed of the candidate draws (and of the simulator, for simulated data). */
  readonly seed: number
  /** Ratings below this are not interactions; `null` = every rated item is a positive. */
  readonly minRating: number | null
}

/** A row of the paper's Table 2, computed on the whole filtered data (all three parts). */
export interface DatasetStats {
  readonly users: number
  readonly items: number
  readonly interactions: number
  /** interactions / (users * items) */
  readonly density: number
}

/** A categorical user attribute (e.g. ml-100k gender): a code per user and its labels. */
export interface UserAttribute {
  readonly name: string
  /** `codes[u]` indexes `labels`. */
  readonly codes: Int32Array
  readonly labels: ReadonlyArray<string>
}

/** Validation or test targets with their stored candidates. */
export interface EvaluationSplit {
  /** `target[u]`: the held-out item of user u. */
  readonly target: Int32Array
  /** `candidates[u*(1+N) + c]`: column 0 is the target, columns 1..N sampled unconsumed items. */
  readonly candidates: Int32Array
}

/** Exposure logs only: items shown to a user and not clicked, CSR over users, chronological. */
export interface ExposureNegatives {
  readonly offsets: Int32Array
  readonly items: Int32Array
}

/** Simulated data only: the true interventional click probability of every candidate. */
export interface SimulationTruth {
  /** `validationTruth[u*(1+N) + c]` = P(click | do(validation history of u), candidate c). */
  readonly validationTruth: Float32Array
  /** `testTruth[u*(1+N) + c]` = P(click | do(test history of u), candidate c). */
  readonly testTruth: Float32Array
}

/**
 * Front-door world only (`FrontDoor.ts`): the exact observational oracle and a test split whose
 * clicks were drawn under do(history).
 */
export interface WorldOracles {
  /** `validationObservational[u*(1+N) + c]` = P(click | validation history of u, candidate c). */
  readonly validationObservational: Float32Array
  /** `testObservational[u*(1+N) + c]` = P(click | test history of u, candidate c). */
  readonly testObservational: Float32Array
  /** The test split with targets drawn under do(test history); the same histories as `test`. */
  readonly interventionalTest: EvaluationSplit
  /** P(click | do(test history), candidate) for `interventionalTest`'s candidates. */
  readonly interventionalTestTruth: Float32Array
  /** P(click | test history, candidate) for `interventionalTest`'s candidates. */
  readonly interventionalTestObservational: Float32Array
}

/** Simulated data only: the hidden confounder's value per user, for analysis figures. */
export interface ConfounderValues {
  readonly name: string
  readonly values: Float32Array
}

/** A data set ready for training and evaluation. See the module documentation. */
export interface PreparedDataset {
  readonly name: string
  readonly config: PreparedConfig
  readonly stats: DatasetStats
  /** U */
  readonly numUsers: number
  /** I: item ids are 1..I */
  readonly numItems: number
  /** Original id of each user (`userIds[u]`), for joins and messages. */
  readonly userIds: ReadonlyArray<string>
  /** Original id of each item; `itemIds[0]` is `""` (padding). */
  readonly itemIds: ReadonlyArray<string>
  /** Int32Array(U+1) */
  readonly sequenceOffsets: Int32Array
  /** Int32Array(interactions), chronological per user */
  readonly sequenceItems: Int32Array
  readonly validation: EvaluationSplit
  readonly test: EvaluationSplit
  readonly attributes?: ReadonlyArray<UserAttribute>
  readonly exposureNegatives?: ExposureNegatives
  readonly truth?: SimulationTruth
  readonly oracles?: WorldOracles
  readonly confounder?: ConfounderValues
}

/** The default protocol settings (paper section 5.1), apart from the k-core (per data set). */
export const defaultConfig: Omit<PreparedConfig, "kCore"> = {
  historyLength: 50,
  negativesPerPositive: 1,
  candidates: 100,
  seed: 0,
  minRating: null,
}

/** 1 + N: the number of scored candidates per user. */
export const candidatesPerUser = (data: PreparedDataset): number => 1 + data.config.candidates

/** Number of items of user u (whole sequence). */
export const sequenceLength = (data: PreparedDataset, u: number): number =>
  data.sequenceOffsets[u + 1]! - data.sequenceOffsets[u]!

/** The whole chronological sequence of user u (a view, do not write). */
export const userSequence = (data: PreparedDataset, u: number): Int32Array =>
  data.sequenceItems.subarray(data.sequenceOffsets[u]!, data.sequenceOffsets[u + 1]!)

/** The training part of user u (all but the last two items; a view). */
export const trainingSequence = (data: PreparedDataset, u: number): Int32Array =>
  data.sequenceItems.subarray(data.sequenceOffsets[u]!, data.sequenceOffsets[u + 1]! - 2)

/** Number of training interactions of user u (its activeness): n - 2. */
export const trainingLength = (data: PreparedDataset, u: number): number =>
  sequenceLength(data, u) - 2

/**
 * The history a model sees before the target of `split`, as [start, end) into `sequenceItems`
 * (whole history, before truncation to L): the training part for validation, the training part
 * plus the validation target for test.
 */
export const evaluationHistoryRange = (
  data: PreparedDataset,
  split: "validation" | "test",
  u: number,
): readonly [number, number] => {
  const start = data.sequenceOffsets[u]!
  const end = data.sequenceOffsets[u + 1]! - (split === "validation" ? 2 : 1)
  return [start, end]
}

/** Table 2 statistics of a CSR sequence set. */
export const computeStats = (
  numUsers: number,
  numItems: number,
  interactions: number,
): DatasetStats => ({
  users: numUsers,
  items: numItems,
  interactions,
  density: numUsers > 0 && numItems > 0 ? interactions / (numUsers * numItems) : 0,
})

/**
 * Checks every invariant of the prepared format and returns the violations as sentences
 * (empty when the data set is well formed). Used by tests and when reading a cache entry.
 */
export const checkPrepared = (data: PreparedDataset): Array<string> => {
  const problems: Array<string> = []
  const U = data.numUsers
  const I = data.numItems
  const C = 1 + data.config.candidates
  const off = data.sequenceOffsets
  const seq = data.sequenceItems
  if (off.length !== U + 1) problems.push(`sequenceOffsets has ${off.length} entries, not U+1`)
  if (off[0] !== 0 || off[U] !== seq.length) problems.push("sequenceOffsets do not span items")
  if (data.userIds.length !== U) problems.push("userIds length is not U")
  if (data.itemIds.length !== I + 1) problems.push("itemIds length is not I+1")
  if (data.validation.target.length !== U || data.test.target.length !== U)
    problems.push("targets are not one per user")
  if (data.validation.candidates.length !== U * C || data.test.candidates.length !== U * C)
    problems.push("candidates are not U*(1+N)")
  if (data.stats.users !== U || data.stats.items !== I || data.stats.interactions !== seq.length)
    problems.push("stats disagree with the arrays")
  if (problems.length > 0) return problems
  const seen = new Int32Array(I + 1).fill(-1)
  const picked = new Int32Array(I + 1).fill(-1)
  for (let u = 0; u < U && problems.length < 20; u++) {
    const s = off[u]!
    const e = off[u + 1]!
    if (e - s < 3) problems.push(`user ${u} has ${e - s} items (< 3)`)
    for (let p = s; p < e; p++) {
      const it = seq[p]!
      if (it < 1 || it > I) problems.push(`user ${u} has item ${it} outside 1..${I}`)
      else if (seen[it] === u) problems.push(`user ${u} has item ${it} twice`)
      else seen[it] = u
    }
    for (const [name, split, targetPos] of [
      ["validation", data.validation, e - 2],
      ["test", data.test, e - 1],
    ] as const) {
      if (split.target[u] !== seq[targetPos])
        problems.push(`${name} target of user ${u} is not its item ${targetPos - s}`)
      if (split.candidates[u * C] !== split.target[u])
        problems.push(`${name} candidate 0 of user ${u} is not its target`)
      const stamp = u * 2 + (name === "test" ? 1 : 0)
      for (let c = 1; c < C; c++) {
        const it = split.candidates[u * C + c]!
        if (it < 1 || it > I) problems.push(`${name} candidate ${it} of user ${u} out of range`)
        else if (seen[it] === u)
          problems.push(`${name} candidate ${it} of user ${u} was consumed by the user`)
        else if (picked[it] === stamp)
          problems.push(`${name} candidate ${it} of user ${u} appears twice`)
        else picked[it] = stamp
      }
    }
  }
  for (const a of data.attributes ?? []) {
    if (a.codes.length !== U) problems.push(`attribute ${a.name} is not one code per user`)
    for (let u = 0; u < a.codes.length; u++) {
      const c = a.codes[u]!
      if (c < 0 || c >= a.labels.length) {
        problems.push(`attribute ${a.name} of user ${u} has code ${c} without a label`)
        break
      }
    }
  }
  if (data.exposureNegatives !== undefined) {
    const x = data.exposureNegatives
    if (x.offsets.length !== U + 1 || x.offsets[U] !== x.items.length)
      problems.push("exposureNegatives offsets do not span items")
  }
  if (data.truth !== undefined) {
    for (const t of [data.truth.validationTruth, data.truth.testTruth]) {
      if (t.length !== U * C) problems.push("truth is not U*(1+N)")
      for (let i = 0; i < t.length; i++)
        if (!(t[i]! >= 0 && t[i]! <= 1)) {
          problems.push(`truth ${t[i]} at ${i} is not a probability`)
          break
        }
    }
  }
  if (data.oracles !== undefined) {
    const o = data.oracles
    for (const t of [
      o.validationObservational,
      o.testObservational,
      o.interventionalTestTruth,
      o.interventionalTestObservational,
    ])
      if (t.length !== U * C || t.some((v) => !(v >= 0 && v <= 1)))
        problems.push("an oracle is not U*(1+N) probabilities")
    if (
      o.interventionalTest.target.length !== U ||
      o.interventionalTest.candidates.length !== U * C
    )
      problems.push("the interventional test split is not U targets and U*(1+N) candidates")
  }
  if (data.confounder !== undefined && data.confounder.values.length !== U)
    problems.push("confounder is not one value per user")
  return problems
}
