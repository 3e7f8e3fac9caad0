/**
 * Scoring a trained model on the test split: the sampled protocol (each user's target among the
 * stored candidates), per group of every grouping, agreement with the simulator's true
 * interventional probabilities, the front-door world's interventional test split, and full
 * ranking (`--full-ranking`). The test split is read once per trained model.
 *
 * @module
 */
import { MetricAccumulator, Random, Ranking } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import { forInference, type Recommender } from "@causald/models"
import { Evaluate, type PerGroup } from "@causald/training"
import { Effect, FileSystem, Result, Schema } from "effect"
import { truthAgreement } from "../Agreement.ts"
import { writeAtomic } from "../Output.ts"
import { type OracleResult, oracleLabel } from "../Results.ts"
import type { StudyContext } from "./Context.ts"

/** Test metrics of one trained model. */
export interface Evaluation {
  /** AUC, R@5, R@10, NDCG@5, NDCG@10 over all users. */
  readonly overall: { readonly [metric: string]: number }
  /** Per grouping name, per group, the same metrics. */
  readonly groups: {
    readonly [grouping: string]: ReadonlyArray<{ readonly [metric: string]: number }>
  }
  readonly truth: { readonly rankCorrelation: number; readonly pairwiseAccuracy: number } | null
  /** Front-door world: the ranking metrics on the interventional test split. */
  readonly interventional: { readonly [metric: string]: number } | null
  /** `--full-ranking`: the ranking metrics against every item the user has not consumed. */
  readonly fullRanking: { readonly [metric: string]: number } | null
}

const Metrics = Schema.Record(Schema.String, Schema.Number)

/** An {@link Evaluation} as `evaluations/<key>.json` holds it. */
const EvaluationSchema = Schema.Struct({
  overall: Metrics,
  groups: Schema.Record(Schema.String, Schema.Array(Metrics)),
  truth: Schema.NullOr(
    Schema.Struct({ rankCorrelation: Schema.Number, pairwiseAccuracy: Schema.Number }),
  ),
  interventional: Schema.NullOr(Metrics),
  fullRanking: Schema.NullOr(Metrics),
})

/**
 * Bump when what an evaluation computes changes (a metric, the protocol), so that no evaluation
 * stored before is read again.
 */
const EVALUATION_VERSION = 1

/**
 * The key of a model's evaluation: its parameters' values (every bit) and what the study's
 * evaluation computes on this folder's data (the folder is bound to its data by
 * `fingerprint.json`): the groupings, full ranking and its users.
 */
export const evaluationKey = (ctx: StudyContext, model: Recommender): string => {
  const hasher = new Bun.CryptoHasher("sha256")
  hasher.update(
    JSON.stringify({
      version: EVALUATION_VERSION,
      groupings: ctx.groupings.map((g) => [g.name, g.sizes]),
      fullRanking:
        ctx.options.fullRanking === true ? (ctx.options.fullRankingUsers ?? "all") : false,
    }),
  )
  for (const { name, data } of ctx.backend.snapshot([
    ...model.parameters,
    ...(model.buffers ?? []),
  ])) {
    hasher.update(name)
    hasher.update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
  }
  return hasher.digest("hex").slice(0, 32)
}

/**
 * `evaluate` with its results kept in `<out>/evaluations/<key>.json` ({@link evaluationKey}): a
 * study resumed or extended (another reading screened, full ranking added) scores each trained
 * model once, not on every invocation; full ranking on a data set like Amazon Beauty costs
 * minutes per model. The key holds every bit of the parameters, so a retrained or different model
 * is scored again; a stored file that does not decode is scored again and rewritten.
 */
export const cachedEvaluator =
  (ctx: StudyContext, evaluate: (model: Recommender) => Evaluation) => (model: Recommender) =>
    Effect.gen(function* () {
      const fs = yield* FileSystem.FileSystem
      const file = `${ctx.options.out}/evaluations/${evaluationKey(ctx, model)}.json`
      const stored = yield* fs.readFileString(file).pipe(
        Effect.flatMap((text) =>
          Effect.try(() => JSON.parse(text) as unknown).pipe(
            Effect.flatMap(Schema.decodeUnknownEffect(EvaluationSchema)),
          ),
        ),
        Effect.option,
      )
      if (stored._tag === "Some") return stored.value as Evaluation
      const evaluation = evaluate(model)
      yield* fs.makeDirectory(`${ctx.options.out}/evaluations`, { recursive: true })
      yield* writeAtomic(file, JSON.stringify(evaluation))
      return evaluation
    })

/** The metrics of each group, in group order. */
export type GroupRows = ReadonlyArray<{ readonly [metric: string]: number }>

/** A study's evaluation of a trained model (the full-ranking candidates prepared once). */
export const evaluator = (ctx: StudyContext): ((model: Recommender) => Evaluation) => {
  const { options, data, backend } = ctx
  /**
   * Full ranking (`--full-ranking`): each user's test target scored against every item, its
   * test history excluded (Ranking.full). The candidates are items 1..I in order, scored in
   * batches holding as many candidates as the sampled protocol's.
   */
  const fullRankingView =
    options.fullRanking === true
      ? fullRankingData(data, fullRankingUsers(data, options.fullRankingUsers))
      : null
  const fullRankingOf = (model: Recommender) => {
    if (fullRankingView === null) return null
    const { users, candidates, input } = fullRankingView
    const batchUsers = Math.max(
      1,
      Math.floor(
        (Evaluate.DEFAULT_EVAL_BATCH_USERS * (1 + data.config.candidates)) / candidates.length,
      ),
    )
    const scores = Evaluate.scoreSplit(backend, forInference(model), data, "test", {
      users,
      candidates,
      batchUsers,
    })
    return Ranking.means(Result.getOrThrow(Ranking.full({ ...input, scores })))
  }
  return (model: Recommender): Evaluation => {
    const scores = Evaluate.scoreSplit(backend, forInference(model), data, "test")
    const C = 1 + data.config.candidates
    const metrics = Result.getOrThrow(Ranking.sampled(scores, C))
    const overall = Ranking.means(metrics)
    const groups: Record<string, GroupRows> = {}
    for (const grouping of ctx.groupings) {
      const perGroup = Result.getOrThrow(
        Ranking.byGroup(metrics, grouping.groupOf, grouping.sizes.length),
      )
      groups[grouping.name] = perGroup.map((acc) => MetricAccumulator.means(acc))
    }
    const truth = data.truth === undefined ? null : truthAgreement(scores, data.truth.testTruth, C)
    const interventional =
      data.oracles === undefined
        ? null
        : Ranking.means(
            Result.getOrThrow(
              Ranking.sampled(
                Evaluate.scoreSplit(
                  backend,
                  forInference(model),
                  { ...data, test: data.oracles.interventionalTest },
                  "test",
                ),
                C,
              ),
            ),
          )
    return { overall, groups, truth, interventional, fullRanking: fullRankingOf(model) }
  }
}

/** Group-wise training (eq. 7): each group's own model scored on its own users (S_h*). */
export const groupWiseScores = (
  ctx: StudyContext,
  models: ReadonlyArray<PerGroup.GroupModel>,
): GroupRows => {
  const { data, backend } = ctx
  const C = 1 + data.config.candidates
  return models.map((m) => {
    const scores = Evaluate.scoreSplit(backend, forInference(m.model), data, "test", {
      users: m.users,
    })
    return Ranking.means(Result.getOrThrow(Ranking.sampled(scores, C)))
  })
}

/**
 * The users whose test targets `--full-ranking` ranks: every user, or with `--full-ranking-users
 * N` a seeded sample of N (the same for every method and seed; in user order), so that data sets
 * whose users x items scores are too many for one evaluation (Amazon Beauty: 22,363 x 12,101)
 * still get a full-ranking estimate.
 */
export const fullRankingUsers = (data: PreparedDataset, sample?: number): Int32Array => {
  const all = Int32Array.from({ length: data.numUsers }, (_, u) => u)
  if (sample === undefined || sample >= data.numUsers) return all
  Random.shuffle(Random.rng(0, "full-ranking-users"), all)
  return all.subarray(0, sample).sort()
}

/**
 * The candidates and `Ranking.full` input of full ranking for the given users: each user's
 * candidates are all items 1..I (column c is item c + 1), the target among them, the test history
 * excluded.
 */
export const fullRankingData = (data: PreparedDataset, users: Int32Array) => {
  const I = data.numItems
  const candidates = Int32Array.from({ length: I }, (_, c) => c + 1)
  const U = users.length
  const excludedOffsets = new Int32Array(U + 1)
  for (let i = 0; i < U; i++) {
    const u = users[i]!
    excludedOffsets[i + 1] =
      excludedOffsets[i]! + (data.sequenceOffsets[u + 1]! - data.sequenceOffsets[u]! - 1)
  }
  const excludedItems = new Int32Array(excludedOffsets[U]!)
  for (let i = 0; i < U; i++) {
    const u = users[i]!
    const history = data.sequenceItems.subarray(
      data.sequenceOffsets[u]!,
      data.sequenceOffsets[u + 1]! - 1,
    )
    for (let t = 0; t < history.length; t++)
      excludedItems[excludedOffsets[i]! + t] = history[t]! - 1
  }
  return {
    users,
    candidates,
    input: {
      itemCount: I,
      positives: Int32Array.from(users, (u) => data.test.target[u]! - 1),
      excludedOffsets,
      excludedItems,
    },
  }
}

/** The front-door world's exact predictors scored like methods on both test splits. */
export const oracleRows = (data: PreparedDataset): Array<OracleResult> => {
  const o = data.oracles!
  const C = 1 + data.config.candidates
  const metrics = (scores: Float32Array) => {
    const m = Ranking.means(Result.getOrThrow(Ranking.sampled(scores, C)))
    return {
      AUC: m.AUC!,
      "R@5": m["R@5"]!,
      "R@10": m["R@10"]!,
      "NDCG@5": m["NDCG@5"]!,
      "NDCG@10": m["NDCG@10"]!,
    }
  }
  const row = (
    oracle: OracleResult["oracle"],
    test: Float32Array,
    interventional: Float32Array,
  ): OracleResult => {
    const agreement = truthAgreement(test, data.truth!.testTruth, C)
    return {
      oracle,
      label: oracleLabel(oracle),
      metrics: metrics(test),
      interventional: metrics(interventional),
      rankCorrelation: agreement.rankCorrelation,
      pairwiseAccuracy: agreement.pairwiseAccuracy,
    }
  }
  return [
    row("observational-oracle", o.testObservational, o.interventionalTestObservational),
    row("truth", data.truth!.testTruth, o.interventionalTestTruth),
  ]
}
