/**
 * The paper's study end to end: prepare the data, train the teachers, the group-wise models, the
 * base model, CausalD, its ablations and the baselines over several seeds, evaluate every model on
 * the stored test candidates, and write `results.json`, tables, figures and a report.
 *
 * Every model trains in its own folder under `<out>/models/`, checkpointed after each epoch, so a
 * rerun with the same `--out` reuses every finished model and resumes an interrupted one: a run
 * killed at any moment continues where it stopped and ends with the same numbers. Evaluation is
 * recomputed (it is cheap and deterministic). With `--workers N`, N processes share the folder
 * (`Workers.ts`): each model's folder has a lease, so a model is trained by one process and
 * reloaded by the others.
 *
 * Model selection uses validation data only; the test split is read once per trained model.
 *
 * @module
 */
import {
  Checkpoint,
  Heterogeneity,
  MetricAccumulator,
  Random,
  Ranking,
  type Tensor,
  type TensorBackend,
  Tensors,
} from "@causald/core"
import { FrontDoor, Groups, type PreparedDataset, type UserGroups } from "@causald/data"
import { forInference, type Recommender } from "@causald/models"
import { layer as tensorsLayer } from "@causald/tfjs"
import {
  CausalDObjective,
  Evaluate,
  Lease,
  Objective,
  PerGroup,
  Progress,
  RunData,
  Train,
} from "@causald/training"
import { Clock, Console, Effect, type FileSystem, Layer, type Path, Result, Schema } from "effect"
import { truthAgreement } from "./Agreement.ts"
import { explain } from "./Explain.ts"
import { coefficientGrid, type Method, methodLabel, spec as methodSpec } from "./Methods.ts"
import { repoRoot, type StudyOptions } from "./Options.ts"
import { gitState, packageVersions, runtime, writeAtomic, writeStudyOutputs } from "./Output.ts"
import {
  bindOutput,
  checkProvenance,
  fingerprintFile,
  outputFingerprint,
  type Provenance,
  type TeacherRecord,
  teacherRecord,
} from "./Provenance.ts"
import * as Readings from "./Readings.ts"
import {
  compareMethods,
  type Grouping,
  type MethodResult,
  type OracleResult,
  oracleLabel,
  type ReadingResult,
  type Results,
  rankingMetrics,
  type StrengthPoint,
  schemaVersion,
  summarize,
  summarizeGroups,
  type VariantPoint,
} from "./Results.ts"
import * as Tables from "./Tables.ts"
import * as Validate from "./Validate.ts"
import { defaultPartners, strengthGrid } from "./Vocabulary.ts"
import * as Workers from "./Workers.ts"

/** A stage of the study failed: which one and why. */
export class StudyError extends Schema.TaggedError<StudyError>()("StudyError", {
  stage: Schema.String,
  reason: Schema.String,
  /**
   * The failure behind it, kept so that a caller (or a stack trace) can still tell its type
   * (a typed `InvalidObjectiveOption`, a `PlatformError` with its errno) after `reason` put it in
   * words.
   */
  cause: Schema.optionalKey(Schema.Unknown),
}) {
  override get message(): string {
    return `${this.stage}: ${this.reason}`
  }
}

/** `--full-ranking` is refused above this many user-item scores (2 arrays of 4 bytes each). */
export const FULL_RANKING_LIMIT = 40_000_000

/** Sizes and training settings of a study (`@causald/training`'s `RunData`, shared with `apps/use`). */
export type Profile = RunData.Profile
/** The study's defaults (`RunData.profileOf`). */
export const profileOf: (options: StudyOptions) => Profile = RunData.profileOf

/** Test metrics of one trained model. */
interface Evaluation {
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

const stageError = (stage: string) => (error: unknown) =>
  new StudyError({ stage, reason: explain(error), cause: error })

/**
 * Runs the study described by `options` and writes its outputs. With `--workers N` (and
 * `worker` null, the main process) it starts N-1 worker processes after preparing the data
 * (`Workers.ts`). As worker `{ index, workers }` it only trains its share of the models, writes
 * nothing and returns null.
 */
export const study = (
  options: StudyOptions,
  worker: { readonly index: number; readonly workers: number } | null = null,
  printTables = true,
): Effect.Effect<
  Results | null,
  unknown,
  Tensors | Progress.Progress | FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const startedAt = yield* Clock.currentTimeMillis
    const stages: Array<{ name: string; seconds: number }> = []
    const timed = <A, E, R>(name: string, effect: Effect.Effect<A, E, R>) =>
      Effect.gen(function* () {
        const t0 = yield* Clock.currentTimeMillis
        const a = yield* effect
        const t1 = yield* Clock.currentTimeMillis
        stages.push({ name, seconds: (t1 - t0) / 1000 })
        return a
      })
    // Every trained model's epochs and their seconds, from its checkpoint's records: the study's
    // real training cost, also when models were trained by workers or earlier invocations.
    const training = new Map<string, { epochs: number; seconds: number }>()
    const record = (model: string, result: Train.TrainingResult) => {
      let seconds = 0
      for (const e of result.history) seconds += e.seconds
      training.set(model, { epochs: result.history.length, seconds })
    }
    const backend = yield* Tensors
    const progress = yield* Progress.Progress
    const profile = profileOf(options)
    const seeds = Array.from({ length: options.seeds }, (_, s) => s + 1)
    const modelsDir = `${options.out}/models`
    // Which backend runs, with wasm's native BLAS if any (e.g. wasm+onednn; CAUSALD_BLAS=none
    // turns it off): printed here and recorded in results.json's manifest.
    yield* progress.note("backend", backend.name)

    // --- data ----------------------------------------------------------------------------------
    const data: PreparedDataset = yield* timed(
      "prepare data",
      RunData.prepare(options, profile, `${repoRoot}/.cache/data`),
    ).pipe(
      Effect.mapError(
        stageError(options.data === null ? "prepare data" : `--data ${options.data}`),
      ),
    )
    yield* progress.note(
      "data",
      `${data.name}: ${data.stats.users} users, ${data.stats.items} items, ${data.stats.interactions} interactions`,
    )
    // --- before anything trains: every option against the data (Validate.ts) ----------------
    yield* Validate.check(options, data, profile)
    // `--partners all` is the exact causal label: its [K, B, B, h] tensor is checked here, before
    // anything trains, for the largest K the study will use.
    const usesCausalLabel = options.methods.some(usesLabel)
    if (options.partners === "all" && usesCausalLabel) {
      const K = Math.max(
        options.splitBy === "attribute"
          ? Groups.teacherSubsets(data, { attribute: options.attribute }, options.teachers).sizes
              .length
          : options.teachers,
        options.experiments.includes("table7") && options.methods.includes("causald") ? 16 : 0,
      )
      const tooLarge = CausalDObjective.exactLabelTooLarge(K, profile.training.batchSize, {
        estimatorHidden: Readings.of(options).fdaHidden,
      })
      if (tooLarge !== null)
        return yield* new StudyError({
          stage: "options",
          reason: `--partners all: ${tooLarge} (K teachers, batch ${profile.training.batchSize}); use --partners S (Monte-Carlo)${K > options.teachers ? " or leave out table7 (it trains K = 16)" : " or fewer teachers"}`,
        })
    }
    // Full ranking holds a score per ranked user and item: refused up front where that does not fit.
    if (options.fullRanking === true) {
      const ranked = Math.min(options.fullRankingUsers ?? data.numUsers, data.numUsers)
      if (ranked * data.numItems > FULL_RANKING_LIMIT)
        return yield* new StudyError({
          stage: "options",
          reason: `--full-ranking scores every item for every ranked user: ${ranked} users x ${data.numItems} items is over the limit of ${FULL_RANKING_LIMIT} scores; rank a sample with --full-ranking-users N (N <= ${Math.floor(FULL_RANKING_LIMIT / data.numItems)} here), or leave --full-ranking out (the sampled protocol still runs)`,
        })
    }
    // --- the output folder bound to this data and its settings, once every check has passed
    // (Provenance.bindOutput; the first write into --out; a worker only checks) ----------------
    const binding = yield* bindOutput(
      options.out,
      outputFingerprint(data, options.base, profile.training),
      { write: worker === null },
    )
    if (binding === "adopted")
      yield* progress.note(
        "output",
        `${options.out} has models but no ${fingerprintFile} (trained before output folders were bound to their data): taken as trained on this data, and recorded so`,
      )
    // Workers start once the data is prepared (and cached), so they read it rather than redo it.
    const workers = options.workers ?? 1
    const pool =
      worker === null && workers > 1 ? yield* Workers.startWorkers(options, workers) : null

    const makeModel = (name: string, seed: number): Recommender =>
      RunData.baseModel(backend, options.base, data, seed + hash(name))

    // --- groupings -----------------------------------------------------------------------------
    const G = profile.evaluationGroups
    const groupings: Array<UserGroups> = [
      Groups.activenessGroups(data, G),
      Groups.consistencyGroups(data, G),
    ]
    if (data.confounder !== undefined) groupings.push(Groups.confounderGroups(data, G))
    for (const attribute of data.attributes ?? [])
      groupings.push(Groups.attributeGroups(data, attribute.name))
    const evaluationGrouping = groupings[0]!

    // --- shared teachers -----------------------------------------------------------------------
    const needs = (m: Method) => options.methods.includes(m)
    const teacherSplit = (): UserGroups => {
      switch (options.splitBy) {
        case "activeness":
          return Groups.teacherSubsets(data, "activeness", options.teachers)
        case "consistency":
          return Groups.teacherSubsets(data, "consistency", options.teachers)
        case "attribute":
          return Groups.teacherSubsets(data, { attribute: options.attribute }, options.teachers)
        case "random":
          return Groups.randomSubsets(data, options.teachers, 0)
      }
    }
    /** The reading of the paper's open points this study runs (`Readings.ts`). */
    const reading = Readings.of(options)
    const studyReading = reading
    /** The base model of `seed`, trained (or reloaded) and its parameters freed. */
    const baseTrained = memoBy((seed: number) =>
      Effect.gen(function* () {
        const model = makeModel("base", seed)
        yield* trainOne("base", seed, Objective.recommendation(backend, model))
        backend.dispose(model.parameters)
        return true
      }),
    )
    /**
     * Starts `model` from the trained base model of `seed` (`--teacher-init base`,
     * `--student-init base`), training that first if needed; a resumed run then loads its own
     * checkpoint over it.
     */
    const fromBase = (model: Recommender, seed: number) =>
      Effect.gen(function* () {
        yield* baseTrained(seed)
        yield* Checkpoint.loadParameters(`${modelsDir}/base/seed-${seed}/best.ckpt`, [
          ...model.parameters,
          ...(model.buffers ?? []),
        ])
        return model
      })
    /**
     * One model per group, in folders `<name>-<g>`. With `init` "shared" every group's model
     * starts from the same parameters, with "base" from the trained base model of `seed`
     * (`--teacher-init`).
     */
    const trainGroups = (
      name: string,
      groups: UserGroups,
      seed: number,
      init: Readings.Reading["teacherInit"] = "independent",
    ) =>
      Effect.gen(function* () {
        const small = Array.from(groups.sizes).findIndex((n) => n < profile.minimumUsersPerGroup)
        if (small >= 0)
          return yield* new StudyError({
            stage: name,
            reason: `group "${groups.labels[small]}" of ${groups.name} has ${groups.sizes[small]} users, fewer than ${profile.minimumUsersPerGroup}; use fewer groups (--teachers)`,
          })
        const started = yield* Effect.forEach(groups.labels, (_, g) => {
          const model = makeModel(init === "shared" ? name : `${name}-${g}`, seed)
          return init === "base" ? fromBase(model, seed) : Effect.succeed(model)
        })
        const models = yield* PerGroup.trainPerGroup({
          name,
          directory: modelsDir,
          data,
          partition: { groupOf: groups.groupOf, groups: groups.sizes.length },
          makeModel: (g) => started[g]!,
          config: { ...profile.training, seed },
        })
        for (const m of models) record(`${name}-${m.group}`, m.result)
        return models.map((m) => ({ ...m, folder: `${name}-${m.group}` }))
      })

    type TeacherInit = Readings.Reading["teacherInit"]
    /**
     * The seed the teachers of a student of `seed` train with: one set for every seed (0), but
     * teachers fine-tuned from the base model are one set per seed.
     */
    const teacherSeed = (seed: number, init: TeacherInit = reading.teacherInit) =>
      init === "base" ? seed : 0
    /** The teachers' folder prefix for a split, K and student seed: each start trains apart. */
    const teachersName = (
      split: string,
      k: number,
      seed: number,
      init: TeacherInit = reading.teacherInit,
    ) =>
      `teachers-${split}-${k}${init === "shared" ? "-shared" : init === "base" ? `-from-base-s${seed}` : ""}`
    const teachersBy = memoBy((key: `${TeacherInit} ${number}`) => {
      const [init, seed] = [key.split(" ")[0] as TeacherInit, Number(key.split(" ")[1])]
      return timed(
        "teachers",
        trainGroups(
          teachersName(options.splitBy, options.teachers, seed, init),
          teacherSplit(),
          teacherSeed(seed, init),
          init,
        ),
      )
    })
    /** The K teachers of a student of `seed` (started as the reading says). */
    const teachersOf = (seed: number, init: TeacherInit = reading.teacherInit) =>
      teachersBy(`${init} ${seed}`)
    const homogeneousTeachersOf = memoBy((seed: number) =>
      timed(
        "homogeneous teachers",
        trainGroups(
          teachersName("random", options.teachers, seed),
          Groups.randomSubsets(data, options.teachers, 0),
          teacherSeed(seed),
          reading.teacherInit,
        ),
      ),
    )

    /** KD's single teacher: the base architecture trained on all users (seeded like the student). */
    const kdTeacher = (seed: number) =>
      Effect.gen(function* () {
        const teacher = makeModel("kd-teacher", seed)
        const result = yield* trainOne(
          "kd-teacher",
          seed,
          Objective.recommendation(backend, teacher),
        )
        return {
          model: forInference(teacher),
          record: teacherRecord(`kd-teacher/seed-${seed}`, result),
        }
      })

    // --- one model per method and seed --------------------------------------------------------
    /**
     * Trains (or reuses) one model; a model with teachers or coefficients first checks that it
     * was trained from the current ones (`Provenance.ts`).
     */
    const trainOne = <P>(
      method: string,
      seed: number,
      objective: Objective.Objective<P>,
      provenance?: Provenance,
    ) =>
      Effect.gen(function* () {
        const directory = `${modelsDir}/${method}/seed-${seed}`
        if (
          provenance !== undefined &&
          (yield* checkProvenance(directory, provenance)) === "adopted"
        )
          yield* progress.note(
            `${method} seed ${seed}`,
            "has no provenance.json (trained before models recorded their teachers and settings): taken as trained from the current ones, and recorded so",
          )
        const result = yield* Train.train({
          name: `${method} seed ${seed}`,
          directory,
          data,
          objective,
          config: { ...profile.training, seed },
        })
        record(`${method}/seed-${seed}`, result)
        return result
      })

    const groupRecords = (teachers: ReadonlyArray<PerGroup.GroupModel & { folder: string }>) =>
      teachers.map((t) => teacherRecord(t.folder, t.result))

    const partners = options.partners ?? defaultPartners
    const partnerSampling: CausalDObjective.PartnerSampling =
      partners === "all" ? { _tag: "Exact" } : { _tag: "MonteCarlo", partners }
    const causalDStudent = (
      method: string,
      seed: number,
      teachers: ReadonlyArray<PerGroup.GroupModel & { folder: string }>,
      split: UserGroups,
      overrides: Partial<CausalDObjective.CausalDConfig> = {},
      reading: Readings.Reading = studyReading,
    ) =>
      Effect.gen(function* () {
        const student = makeModel(method, seed)
        if (reading.studentInit === "base") yield* fromBase(student, seed)
        // Back-door-adjusted guidance (eq. 19) needs the observed confounder of the split; a random
        // split has none, and its P(z_k) would be uniform anyway.
        const observed = options.splitBy !== "random" && method !== "ho-teachers"
        const objective = CausalDObjective.causalD(
          backend,
          student,
          teachers.map((t) => forInference(t.model)),
          {
            ...CausalDObjective.defaultCausalDConfig,
            lambdaBda: options.lambdaBda,
            lambdaFda: options.lambdaFda,
            distance: reading.bdaDistance,
            estimatorHidden: reading.fdaHidden,
            estimatorItems: reading.fdaItems === "own" ? data.numItems : 0,
            estimatorWarmupEpochs: reading.fdaWarmup === "epoch" ? 1 : 0,
            partners: partnerSampling,
            teacherPrior: observed
              ? Float32Array.from(
                  reading.teacherPrior === "interactions"
                    ? Groups.interactionWeights(data, split)
                    : split.weights,
                )
              : null,
            ...overrides,
          },
          seed,
        )
        const result = yield* trainOne(method, seed, objective, {
          teachers: groupRecords(teachers),
          settings: {
            lambdaBda: overrides.lambdaBda ?? options.lambdaBda,
            lambdaFda: overrides.lambdaFda ?? options.lambdaFda,
            // recorded only when not the literal reading, so models recorded before a flag stay valid
            ...Readings.provenanceSettings(reading),
            ...(partners === defaultPartners ? {} : { partners }),
          },
        })
        return {
          model: student,
          validationAuc: result.bestValidationAuc,
          release: () => objective.dispose(),
        }
      })

    /** A trained model, its selection criterion, and what frees its training-only tensors. */
    interface Trained {
      readonly model: Recommender
      readonly validationAuc: number
      readonly release: () => void
    }

    /**
     * The paper's search (section 5.1): each value of a coefficient's grid trained on the first
     * seed, the one with the best validation AUC kept. Test data is never looked at.
     */
    const chosenCoefficients: Record<string, number> = {}
    const searchCoefficient = <E, R>(
      name: string,
      grid: ReadonlyArray<number>,
      fallback: number,
      run: (value: number) => Effect.Effect<Trained, E, R>,
    ) =>
      Effect.gen(function* () {
        if (!options.search) return fallback
        if (chosenCoefficients[name] !== undefined) return chosenCoefficients[name]!
        let best = fallback
        let bestAuc = Number.NEGATIVE_INFINITY
        for (const value of grid) {
          const trained = yield* timed(`search ${name}=${value}`, run(value))
          backend.dispose(trained.model.parameters)
          trained.release()
          if (trained.validationAuc > bestAuc) {
            bestAuc = trained.validationAuc
            best = value
          }
        }
        chosenCoefficients[name] = best
        yield* progress.note("search", `${name} = ${best} (validation AUC ${bestAuc.toFixed(4)})`)
        return best
      })
    const lambdaGrid = coefficientGrid("causald", "lambdaFda")
    /** CausalD's λ_FDA, then λ_BDA given it, searched one after the other. */
    const causalDLambdas = Effect.gen(function* () {
      // the search's students (first seed), trained only when --search asks for them
      const searchRun = (name: string, overrides: Partial<CausalDObjective.CausalDConfig>) =>
        Effect.flatMap(teachersOf(seeds[0]!), (teachers) =>
          causalDStudent(name, seeds[0]!, teachers, teacherSplit(), overrides),
        )
      const lambdaFda = yield* searchCoefficient(
        "causald lambdaFda",
        lambdaGrid,
        options.lambdaFda,
        (v) => searchRun(`search-causald-fda-${v}`, { lambdaFda: v }),
      )
      const lambdaBda = yield* searchCoefficient(
        "causald lambdaBda",
        lambdaGrid,
        options.lambdaBda,
        (v) => searchRun(`search-causald-bda-${v}`, { lambdaFda, lambdaBda: v }),
      )
      return { lambdaBda, lambdaFda }
    })

    const trainMethod = (method: Method, seed: number) =>
      Effect.gen(function* () {
        switch (method) {
          case "base": {
            const model = makeModel("base", seed)
            const result = yield* trainOne("base", seed, Objective.recommendation(backend, model))
            return { model, validationAuc: result.bestValidationAuc, release: () => {} }
          }
          case "causald": {
            const teachers = yield* teachersOf(seed)
            return yield* causalDStudent(
              "causald",
              seed,
              teachers,
              teacherSplit(),
              yield* causalDLambdas,
            )
          }
          case "wo-fda": {
            const teachers = yield* teachersOf(seed)
            const { lambdaBda } = yield* causalDLambdas
            return yield* causalDStudent("wo-fda", seed, teachers, teacherSplit(), {
              lambdaBda,
              lambdaFda: 0,
            })
          }
          case "ho-teachers": {
            const teachers = yield* homogeneousTeachersOf(seed)
            return yield* causalDStudent(
              "ho-teachers",
              seed,
              teachers,
              Groups.randomSubsets(data, options.teachers, 0),
              yield* causalDLambdas,
            )
          }
          default: {
            // A baseline of Tables 3-4: the same data, candidates, base model and teachers.
            const registered = methodSpec(method)
            if (registered.objective._tag !== "Baseline")
              return yield* Effect.die(`${method} has no baseline objective`)
            const spec = registered.objective.baseline
            let teachers: ReadonlyArray<Recommender> = []
            let records: ReadonlyArray<TeacherRecord> = []
            if (spec.teachers === "multiple") {
              const trained = yield* teachersOf(seed)
              teachers = trained.map((t) => forInference(t.model))
              records = groupRecords(trained)
            } else if (spec.teachers === "single") {
              const kd = yield* kdTeacher(seed)
              teachers = [kd.model]
              records = [kd.record]
            }
            const train = (coefficient: number | undefined, runName: string) =>
              Effect.gen(function* () {
                const student = makeModel(method, seed)
                const objective = spec.make(backend, student, teachers, data, {
                  seed,
                  groups: teacherSplit(),
                  ...(coefficient === undefined ? {} : { coefficient }),
                })
                const result = yield* trainOne(runName, seed, objective, {
                  teachers: records,
                  // the value in effect, default included, so a search that picks the default
                  // reuses the model trained without a search
                  settings:
                    spec.hyperparameter === null
                      ? {}
                      : { [spec.hyperparameter.name]: coefficient ?? spec.hyperparameter.default },
                })
                // DeRec's model is the student plus its substitute confounder: evaluate what was
                // trained, and free the objective's own tensors only after the evaluation.
                return {
                  model: objective.model,
                  validationAuc: result.bestValidationAuc,
                  release: () => objective.dispose(),
                }
              })
            const coefficient =
              spec.hyperparameter === null
                ? undefined
                : yield* searchCoefficient(
                    method,
                    spec.hyperparameter.grid,
                    spec.hyperparameter.default,
                    (v) => train(v, `search-${method}-${v}`),
                  )
            return yield* train(coefficient, method)
          }
        }
      })

    // --- evaluation ---------------------------------------------------------------------------
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
    const evaluate = (model: Recommender): Evaluation => {
      const scores = Evaluate.scoreSplit(backend, forInference(model), data, "test")
      const C = 1 + data.config.candidates
      const metrics = Result.getOrThrow(Ranking.sampled(scores, C))
      const overall = Ranking.means(metrics)
      const groups: Record<string, ReadonlyArray<{ readonly [metric: string]: number }>> = {}
      for (const grouping of groupings) {
        const perGroup = Result.getOrThrow(
          Ranking.byGroup(metrics, grouping.groupOf, grouping.sizes.length),
        )
        groups[grouping.name] = perGroup.map((acc) => MetricAccumulator.means(acc))
      }
      const truth =
        data.truth === undefined ? null : truthAgreement(scores, data.truth.testTruth, C)
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

    /** Whether group-wise models are trained, for Heterogeneity (`--heterogeneity`). */
    const withGroupWise = options.heterogeneity !== "off"
    /** Group-wise training (eq. 7): each group's own model on its own users. */
    const groupWisePerformance = (seed: number) =>
      Effect.gen(function* () {
        const models = yield* trainGroups(`groupwise-seed${seed}`, evaluationGrouping, seed)
        const C = 1 + data.config.candidates
        return models.map((m) => {
          const scores = Evaluate.scoreSplit(backend, forInference(m.model), data, "test", {
            users: m.users,
          })
          return Ranking.means(Result.getOrThrow(Ranking.sampled(scores, C)))
        })
      })

    /** Every method but group-wise training, which is run (and scored) apart. */
    const ordinary = options.methods.filter((m) => m !== "groupwise")

    // --- Table 7 and Figure 5: CausalD with another K or λ, on the first seed -------------------
    const wants = (e: (typeof options.experiments)[number]) =>
      options.experiments.includes(e) && needs("causald")
    const firstSeed = seeds[0]!
    /** Table 7's K values, but the configured one (the default CausalD run of the first seed). */
    const teacherCountValues = wants("table7")
      ? [2, 4, 8, 16].filter((k) => k !== options.teachers)
      : []
    const teacherCountRun = (k: number) => {
      const split =
        options.splitBy === "random"
          ? Groups.randomSubsets(data, k, 0)
          : options.splitBy === "attribute"
            ? teacherSplit()
            : Groups.teacherSubsets(data, options.splitBy, k)
      return Effect.flatMap(
        trainGroups(
          teachersName(options.splitBy, k, firstSeed),
          split,
          teacherSeed(firstSeed),
          reading.teacherInit,
        ),
        (teachers) => causalDStudent(`causald-k${k}`, firstSeed, teachers, split),
      )
    }
    /** Fig. 5's λ values, but the configured one (the default CausalD run of the first seed). */
    const sensitivityValues = (which: "lambdaBda" | "lambdaFda") =>
      wants("fig5") ? lambdaGrid.filter((value) => value !== options[which]) : []
    const sensitivityRun = (which: "lambdaBda" | "lambdaFda", value: number) =>
      Effect.flatMap(teachersOf(firstSeed), (teachers) =>
        causalDStudent(`causald-${which}-${value}`, firstSeed, teachers, teacherSplit(), {
          [which]: value,
        }),
      )

    // --- the readings screen: CausalD under each reading of the paper, every seed ---------------
    const screenEntries = wants("readings")
      ? Readings.screen.filter(
          (e) => options.screen === undefined || options.screen.includes(e.name),
        )
      : []
    /** A screen entry that is the study's own reading reuses the study's CausalD. */
    const ownReading = (entry: Readings.ScreenEntry) => Readings.same(entry.reading, studyReading)
    const screenName = (entry: Readings.ScreenEntry) => `causald-screen-${entry.name}`
    const screenRun = (entry: Readings.ScreenEntry, seed: number) =>
      Effect.flatMap(teachersOf(seed, entry.reading.teacherInit), (teachers) =>
        causalDStudent(screenName(entry), seed, teachers, teacherSplit(), {}, entry.reading),
      )

    // --- with --workers: every process's share of the models -----------------------------------
    const dispose = (trained: Trained) => {
      backend.dispose(trained.model.parameters)
      trained.release()
    }
    /** The model folders a run trains or reads: its own, then what it needs (teachers). */
    const groupFolders = (name: string, groups: number) =>
      Array.from({ length: groups }, (_, g) => `${modelsDir}/${name}-${g}`)
    const teacherFolders = (method: Method, k: number, seed: number): ReadonlyArray<string> => {
      switch (methodSpec(method).teachers) {
        case "homogeneous":
          return groupFolders(teachersName("random", k, seed), k)
        case "multiple":
          return groupFolders(teachersName(options.splitBy, k, seed), k)
        default:
          // none, or KD's own teacher, whose folder is among the method's (methodFolders)
          return []
      }
    }
    /** The base model's folder, when the reading starts teachers or students from it. */
    const baseFolder = (method: Method, seed: number): ReadonlyArray<string> =>
      method !== "base" &&
      (reading.teacherInit === "base" || (reading.studentInit === "base" && usesLabel(method)))
        ? [`${modelsDir}/base/seed-${seed}`]
        : []
    const methodFolders = (method: Method, seed: number): ReadonlyArray<string> => [
      `${modelsDir}/${method}/seed-${seed}`,
      // a single teacher is KD's own, trained on all users (kdTeacher)
      ...(methodSpec(method).teachers === "single" ? [`${modelsDir}/kd-teacher/seed-${seed}`] : []),
      ...teacherFolders(method, options.teachers, seed),
      ...baseFolder(method, seed),
    ]
    const jobs = [
      ...seeds.flatMap((seed) =>
        screenEntries
          .filter((entry) => !ownReading(entry))
          .map((entry) => ({
            name: `${screenName(entry)} seed ${seed}`,
            folders: [
              `${modelsDir}/${screenName(entry)}/seed-${seed}`,
              ...groupFolders(
                teachersName(options.splitBy, options.teachers, seed, entry.reading.teacherInit),
                options.teachers,
              ),
              ...(entry.reading.teacherInit === "base" || entry.reading.studentInit === "base"
                ? [`${modelsDir}/base/seed-${seed}`]
                : []),
            ],
            run: Effect.map(screenRun(entry, seed), dispose),
          })),
      ),
      ...seeds.flatMap((seed) => [
        ...(withGroupWise
          ? [
              {
                name: `groupwise seed ${seed}`,
                folders: groupFolders(`groupwise-seed${seed}`, evaluationGrouping.sizes.length),
                run: Effect.map(
                  trainGroups(`groupwise-seed${seed}`, evaluationGrouping, seed),
                  (models) => {
                    for (const m of models) backend.dispose(m.model.parameters)
                  },
                ),
              },
            ]
          : []),
        ...ordinary.map((method) => ({
          name: `${method} seed ${seed}`,
          folders: methodFolders(method, seed),
          run: Effect.map(trainMethod(method, seed), dispose),
        })),
      ]),
      ...teacherCountValues.map((k) => ({
        name: `causald K=${k}`,
        folders: [
          `${modelsDir}/causald-k${k}/seed-${firstSeed}`,
          ...groupFolders(teachersName(options.splitBy, k, firstSeed), k),
          ...baseFolder("causald", firstSeed),
        ],
        run: Effect.map(teacherCountRun(k), dispose),
      })),
      ...(["lambdaBda", "lambdaFda"] as const).flatMap((which) =>
        sensitivityValues(which).map((value) => ({
          name: `causald ${which}=${value}`,
          folders: [
            `${modelsDir}/causald-${which}-${value}/seed-${firstSeed}`,
            ...teacherFolders("causald", options.teachers, firstSeed),
            ...baseFolder("causald", firstSeed),
          ],
          run: Effect.map(sensitivityRun(which, value), dispose),
        })),
      ),
    ]
    let visited = 0
    const visit = (job: (typeof jobs)[number]) =>
      Effect.gen(function* () {
        yield* job.run.pipe(Effect.mapError(stageError(job.name)))
        visited += 1
        yield* progress.update({ stage: "models", done: visited, total: jobs.length })
      })
    /** Whether another live process holds one of the job's folders (`Workers.firstPass`). */
    const heldElsewhere = (job: (typeof jobs)[number]) =>
      Effect.map(
        Effect.forEach(job.folders, (f) => Lease.heldByOther(f)),
        (held) => held.some((h) => h),
      )
    const firstPass = (index: number, processes: number) =>
      Workers.firstPass(jobs, index, processes, heldElsewhere, visit)

    // --- a worker process: train its share of the models, write nothing ----------------------
    if (worker !== null) {
      const deferred = yield* firstPass(worker.index, worker.workers)
      // what another process was training: reloaded when it is done (or trained, if it failed)
      for (const job of deferred) yield* visit(job)
      return null
    }

    // --- the runs -----------------------------------------------------------------------------
    const totalRuns = seeds.length * (ordinary.length + (withGroupWise ? 1 : 0))
    const perSeed = new Map<Method, Array<Evaluation>>()
    const groupWise: Array<ReadonlyArray<{ readonly [metric: string]: number }>> = []
    const variantPoint = (value: number, evaluation: Evaluation): VariantPoint => ({
      value,
      metrics: Object.fromEntries(
        rankingMetrics.map((m) => [m, summarize([evaluation.overall[m]!])]),
      ) as VariantPoint["metrics"],
    })
    const variant = <E, R>(name: string, value: number, run: Effect.Effect<Trained, E, R>) =>
      Effect.gen(function* () {
        const trained = yield* timed(name, run).pipe(Effect.mapError(stageError(name)))
        const evaluation = evaluate(trained.model)
        backend.dispose(trained.model.parameters)
        trained.release()
        return variantPoint(value, evaluation)
      })
    const teacherCounts: Array<VariantPoint> = []
    const screenEvaluations = new Map<string, Array<Evaluation>>()
    const sensitivity = {
      lambdaBda: [] as Array<VariantPoint>,
      lambdaFda: [] as Array<VariantPoint>,
    }
    const runs = Effect.gen(function* () {
      let finishedRuns = 0
      for (const seed of seeds) {
        if (withGroupWise)
          groupWise.push(
            yield* timed(`groupwise seed ${seed}`, groupWisePerformance(seed)).pipe(
              Effect.mapError(stageError(`groupwise seed ${seed}`)),
            ),
          )
        if (withGroupWise) {
          finishedRuns += 1
          yield* progress.update({ stage: "study", done: finishedRuns, total: totalRuns })
        }
        for (const method of ordinary) {
          const trained = yield* timed(`${method} seed ${seed}`, trainMethod(method, seed)).pipe(
            Effect.mapError(stageError(`${method} seed ${seed}`)),
          )
          const evaluation = evaluate(trained.model)
          backend.dispose(trained.model.parameters)
          trained.release()
          perSeed.set(method, [...(perSeed.get(method) ?? []), evaluation])
          finishedRuns += 1
          yield* progress.update({ stage: "study", done: finishedRuns, total: totalRuns })
        }
      }
      // The configured K and λ reuse the first seed's CausalD.
      const defaultCausalD = perSeed.get("causald")?.[0]
      if (wants("table7") && defaultCausalD !== undefined)
        for (const k of [2, 4, 8, 16])
          teacherCounts.push(
            k === options.teachers
              ? variantPoint(k, defaultCausalD)
              : yield* variant(`causald K=${k}`, k, teacherCountRun(k)),
          )
      for (const entry of screenEntries)
        for (const [s, seed] of seeds.entries()) {
          const evaluation = ownReading(entry)
            ? perSeed.get("causald")![s]!
            : yield* Effect.gen(function* () {
                const name = `${screenName(entry)} seed ${seed}`
                const trained = yield* timed(name, screenRun(entry, seed)).pipe(
                  Effect.mapError(stageError(name)),
                )
                const e = evaluate(trained.model)
                dispose(trained)
                return e
              })
          screenEvaluations.set(entry.name, [
            ...(screenEvaluations.get(entry.name) ?? []),
            evaluation,
          ])
        }
      if (wants("fig5") && defaultCausalD !== undefined)
        for (const which of ["lambdaBda", "lambdaFda"] as const)
          for (const value of lambdaGrid)
            sensitivity[which].push(
              value === options[which]
                ? variantPoint(value, defaultCausalD)
                : yield* variant(`causald ${which}=${value}`, value, sensitivityRun(which, value)),
            )
    })
    // With workers, the main process first trains its own share (skipping what a worker holds),
    // then runs the study, which reloads what is finished. A failed worker stops the study at
    // once; then the study waits for them all. The first pass is a stage of its own: with
    // workers most of the training happens there, not in the per-method stages.
    if (pool === null) yield* runs
    else {
      const trainShare = timed(`models (first pass, ${workers} processes)`, firstPass(0, workers))
      yield* Effect.raceFirst(Effect.andThen(trainShare, runs), pool.failure)
      yield* pool.join
    }
    // --- results ------------------------------------------------------------------------------
    const heterogeneityOf = (evaluation: Evaluation, seedIndex: number): number => {
      const unified = evaluation.groups[evaluationGrouping.name]!
      const perMetric = (rows: ReadonlyArray<{ readonly [metric: string]: number }>) =>
        Object.fromEntries(rankingMetrics.map((m) => [m, rows.map((r) => r[m]!)]))
      return Result.getOrThrow(
        Heterogeneity.heterogeneity(perMetric(unified), perMetric(groupWise[seedIndex]!), {
          scale: "percent",
        }),
      ).heterogeneity
    }
    const oracleResults = data.oracles === undefined ? undefined : oracleRows(data)
    const oracleCorrelation = oracleResults?.find(
      (o) => o.oracle === "observational-oracle",
    )?.rankCorrelation
    /** A model's test evaluations over the seeds, summarised (ranking, truth, interventional). */
    const summaries = (runs: ReadonlyArray<Evaluation>) => {
      const metric = (name: string) => summarize(runs.map((r) => r.overall[name]!))
      const interventional = (name: string) => summarize(runs.map((r) => r.interventional![name]!))
      const full = (name: string) => summarize(runs.map((r) => r.fullRanking![name]!))
      return {
        metrics: {
          AUC: metric("AUC"),
          "R@5": metric("R@5"),
          "R@10": metric("R@10"),
          "NDCG@5": metric("NDCG@5"),
          "NDCG@10": metric("NDCG@10"),
        },
        truth:
          runs[0]?.truth === null || runs.length === 0
            ? null
            : {
                rankCorrelation: summarize(runs.map((r) => r.truth!.rankCorrelation)),
                pairwiseAccuracy: summarize(runs.map((r) => r.truth!.pairwiseAccuracy)),
                ...(oracleCorrelation === undefined || oracleCorrelation >= 1
                  ? {}
                  : {
                      gapClosed: summarize(
                        runs.map((r) => gapClosed(r.truth!.rankCorrelation, oracleCorrelation)),
                      ),
                    }),
              },
        ...(runs.length === 0 || runs[0]!.interventional === null
          ? {}
          : {
              interventional: {
                AUC: interventional("AUC"),
                "R@5": interventional("R@5"),
                "R@10": interventional("R@10"),
                "NDCG@5": interventional("NDCG@5"),
                "NDCG@10": interventional("NDCG@10"),
              },
            }),
        ...(runs.length === 0 || runs[0]!.fullRanking === null
          ? {}
          : {
              fullRanking: {
                AUC: full("AUC"),
                "R@5": full("R@5"),
                "R@10": full("R@10"),
                "NDCG@5": full("NDCG@5"),
                "NDCG@10": full("NDCG@10"),
              },
            }),
      }
    }
    const methodResults: Array<MethodResult> = ordinary.map((method) => {
      const runs = perSeed.get(method) ?? []
      const summary = summaries(runs)
      return {
        method,
        label: methodLabel(method, options.base),
        ...summary,
        metrics: {
          ...summary.metrics,
          Heterogeneity: withGroupWise
            ? summarize(runs.map((r, s) => heterogeneityOf(r, s)))
            : null,
        },
      }
    })
    const readingResults: Array<ReadingResult> = screenEntries.map((entry) => ({
      name: entry.name,
      reading: Readings.describe(entry.reading),
      ...summaries(screenEvaluations.get(entry.name) ?? []),
    }))
    if (needs("groupwise")) {
      const metric = (name: string) =>
        summarize(groupWise.map((rows) => weightedMean(rows, evaluationGrouping.sizes, name)))
      methodResults.push({
        method: "groupwise",
        label: methodLabel("groupwise", options.base),
        metrics: {
          AUC: metric("AUC"),
          "R@5": metric("R@5"),
          "R@10": metric("R@10"),
          "NDCG@5": metric("NDCG@5"),
          "NDCG@10": metric("NDCG@10"),
          Heterogeneity: null,
        },
        truth: null,
      })
    }

    const groupingResults: Array<Grouping> = groupings.map((grouping) => ({
      name: grouping.name,
      labels: [...grouping.labels],
      sizes: Array.from(grouping.sizes),
      value:
        grouping.values === undefined
          ? null
          : { name: groupingValueName(grouping.name), mean: groupMeans(grouping) },
      methods: [
        ...ordinary.map((method) => ({
          method,
          metrics: Object.fromEntries(
            rankingMetrics.map((m) => [
              m,
              summarizeGroups(
                (perSeed.get(method) ?? []).map((r) => r.groups[grouping.name]!.map((g) => g[m]!)),
              ),
            ]),
          ) as Grouping["methods"][number]["metrics"],
        })),
        ...(needs("groupwise") && grouping.name === evaluationGrouping.name
          ? [
              {
                method: "groupwise" as const,
                metrics: Object.fromEntries(
                  rankingMetrics.map((m) => [
                    m,
                    summarizeGroups(groupWise.map((rows) => rows.map((g) => g[m]!))),
                  ]),
                ) as Grouping["methods"][number]["metrics"],
              },
            ]
          : []),
      ],
    }))

    // --- the strength figure: the same study at each other confounding strength ---------------
    const strengthPoints: Array<StrengthPoint> = []
    if (options.experiments.includes("strength") && oracleCorrelation !== undefined) {
      const own = options.strength ?? FrontDoor.defaultFrontDoor.strength
      const pointOf = (
        strength: number,
        folder: string,
        r: Pick<Results, "methods" | "oracles">,
      ): StrengthPoint => {
        const oracle = r.oracles!.find((o) => o.oracle === "observational-oracle")!
        return {
          strength,
          folder,
          oracleRankCorrelation: oracle.rankCorrelation,
          methods: (["base", "causald"] as const).flatMap((method) => {
            const t = r.methods.find((m) => m.method === method)?.truth
            return t == null
              ? []
              : [{ method, rankCorrelation: t.rankCorrelation, gapClosed: t.gapClosed ?? null }]
          }),
        }
      }
      for (const strength of strengthGrid) {
        if (strength === own) {
          strengthPoints.push(
            pointOf(strength, ".", { methods: methodResults, oracles: oracleResults ?? [] }),
          )
          continue
        }
        const folder = `strength/s-${strength}`
        const sub = yield* timed(
          `strength s = ${strength}`,
          study(
            {
              ...options,
              strength,
              methods: ["base", "causald"],
              experiments: ["table3"],
              out: `${options.out}/${folder}`,
            },
            null,
            false,
          ),
        )
        if (sub !== null) strengthPoints.push(pointOf(strength, folder, sub))
      }
    }

    const finishedAt = yield* Clock.currentTimeMillis
    const git = gitState(repoRoot)
    const results: Results = {
      schemaVersion,
      manifest: {
        configuration: options,
        seeds,
        backend: backend.name,
        packages: packageVersions(),
        gitRevision: git.gitRevision,
        gitDirty: git.gitDirty,
        runtime: runtime(),
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(finishedAt).toISOString(),
        wallTimeSeconds: (finishedAt - startedAt) / 1000,
        stages,
        training: [...training].map(([model, t]) => ({ model, ...t })),
      },
      dataset: {
        name: data.name,
        kind: options.dataset,
        users: data.stats.users,
        items: data.stats.items,
        interactions: data.stats.interactions,
        density: data.stats.density,
        kCore: data.config.kCore,
        candidates: data.config.candidates,
        historyLength: data.config.historyLength,
        hasTruth: data.truth !== undefined,
      },
      heterogeneity: { grouping: evaluationGrouping.name, scale: "percent" },
      methods: methodResults,
      comparisons: compareMethods(methodResults),
      groupings: groupingResults,
      teacherCounts: teacherCounts.length > 0 ? teacherCounts : null,
      coefficients: chosenCoefficients,
      sensitivity: sensitivity.lambdaBda.length > 0 ? sensitivity : null,
      ...(oracleResults === undefined ? {} : { oracles: oracleResults }),
      ...(strengthPoints.length === 0 ? {} : { strength: strengthPoints }),
      ...(readingResults.length === 0 ? {} : { readings: readingResults }),
    }
    const written = yield* writeStudyOutputs(results)
    const truth = Tables.truthTable(results)
    if (truth !== undefined) {
      yield* writeAtomic(`${options.out}/truth.md`, truth.markdown)
      yield* writeAtomic(`${options.out}/truth.csv`, truth.csv)
    }
    const interventional = Tables.interventionalTable(results)
    const fullRanking = Tables.fullRankingTable(results)
    for (const [name, table] of [
      ["interventional", interventional],
      ["full-ranking", fullRanking],
    ] as const)
      if (table !== undefined) {
        yield* writeAtomic(`${options.out}/${name}.md`, table.markdown)
        yield* writeAtomic(`${options.out}/${name}.csv`, table.csv)
      }
    // The run ends with its Table 3 (and the agreement with the truth) on stdout.
    if (printTables)
      yield* Console.log(
        [Tables.table3(results), truth, interventional, fullRanking]
          .flatMap((t) => (t === undefined ? [] : [`\n${t.markdown}`]))
          .join(""),
      )
    yield* progress.note(
      "study",
      `wrote ${written.files.length} files to ${written.dir}${written.skipped.length ? `; skipped: ${written.skipped.join("; ")}` : ""}`,
    )
    return results
  }).pipe(Effect.scoped)

/**
 * The share of the oracle gap a rank correlation ρ closes: (ρ - ρ_obs) / (1 - ρ_obs), with ρ_obs
 * the observational oracle's (the truth's own is 1).
 */
const gapClosed = (rho: number, oracle: number): number => (rho - oracle) / (1 - oracle)

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
const oracleRows = (data: PreparedDataset): Array<OracleResult> => {
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

/** Mean of a metric over groups, weighted by group sizes (the whole population's mean). */
const weightedMean = (
  rows: ReadonlyArray<{ readonly [metric: string]: number }>,
  sizes: Int32Array,
  metric: string,
): number => {
  let sum = 0
  let n = 0
  rows.forEach((row, g) => {
    sum += row[metric]! * sizes[g]!
    n += sizes[g]!
  })
  return sum / n
}

/** The grouping variable's mean in each group. */
const groupMeans = (grouping: UserGroups): Array<number> => {
  const sums = new Float64Array(grouping.sizes.length)
  grouping.groupOf.forEach((g, u) => {
    sums[g]! += grouping.values![u]!
  })
  return Array.from(sums, (s, g) => s / Math.max(1, grouping.sizes[g]!))
}

/**
 * What a grouping's per-group value is, for the bars of Figure 4. Consistency groups are ordered
 * by KL(past || now) over popularity groups (`Groups.consistency`): larger means LESS consistent,
 * as the x axis says; the bars show that KL.
 */
export const groupingValueName = (grouping: string): string =>
  grouping === "activeness"
    ? "mean activeness (interactions)"
    : grouping === "consistency"
      ? "mean KL(past ‖ now)"
      : `mean ${grouping}`

/** A stable small number from a name, so different models of one seed start differently. */
const hash = (name: string): number => {
  let h = 0
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 100_003
  return h * 1_000
}

/** The methods trained with CausalD's objective (its causal label and feature guidance). */
const usesLabel = (m: Method): boolean => methodSpec(m).objective._tag === "CausalD"

/** {@link memo} per key: runs the effect once for each key and replays its result afterwards. */
const memoBy = <K, A, E, R>(make: (key: K) => Effect.Effect<A, E, R>) => {
  const cached = new Map<K, () => Effect.Effect<A, E, R>>()
  return (key: K) => {
    let run = cached.get(key)
    if (run === undefined) {
      run = memo(() => make(key))
      cached.set(key, run)
    }
    return run()
  }
}

/** Runs an effect once and replays its result afterwards. */
const memo = <A, E, R>(make: () => Effect.Effect<A, E, R>) => {
  let cached: A | undefined
  return () =>
    cached !== undefined
      ? Effect.succeed(cached)
      : Effect.map(make(), (a) => {
          cached = a
          return a
        })
}

/**
 * The services a study needs: a tensor backend and the file system, progress on stderr (by
 * default a live line on a terminal, JSON lines otherwise).
 */
export const studyLayer = (
  options: StudyOptions,
  progress: Layer.Layer<Progress.Progress> = Progress.layerAuto,
) =>
  Layer.mergeAll(tensorsLayer(options.backend === "auto" ? undefined : options.backend), progress)

export type { FileSystem, Path, Tensor, TensorBackend }
