/**
 * Training the study's models: the base model, the shared teachers (section 3.3.1), group-wise
 * models (eq. 7), each method's student (CausalD, its ablations, the baselines), the paper's
 * search of coefficients, and CausalD's variants (Table 7, Fig. 5, the readings screen). Every
 * model trains (or is reloaded) in its folder of `Folders.ts`; a {@link Trainer} trains each set
 * of teachers and each base model once per study.
 *
 * @module
 */
import { Checkpoint } from "@causald/core"
import { Groups, type UserGroups } from "@causald/data"
import { forInference, type Recommender } from "@causald/models"
import { CausalDObjective, Objective, PerGroup, RunData, Train } from "@causald/training"
import { Effect } from "effect"
import { baseModelRecord } from "../Fingerprint.ts"
import { coefficientGrid, type Method, spec as methodSpec } from "../Methods.ts"
import {
  checkProvenance,
  type Provenance,
  type TeacherRecord,
  teacherRecord,
} from "../Provenance.ts"
import * as Readings from "../Readings.ts"
import { defaultPartners } from "../Vocabulary.ts"
import { record, type StudyContext, type StudyEffect, StudyError, timed } from "./Context.ts"
import type { TeacherInit } from "./Folders.ts"
import type { Trainer } from "./Trainer.ts"

/** A trained model, its selection criterion, and what frees its training-only tensors. */
export interface Trained {
  readonly model: Recommender
  readonly validationAuc: number
  readonly release: () => void
}

/** A model of a group (a teacher, a group-wise model) and its folder. */
export type GroupTrained = PerGroup.GroupModel & { folder: string }

/**
 * A model of the base architecture at the study's resolved configuration, seeded by its name so
 * models of one seed start apart.
 */
export const makeModel = (ctx: StudyContext, name: string, seed: number): Recommender =>
  RunData.baseModel(ctx.backend, ctx.baseModel, ctx.data, seed + hash(name))

/** The user subsets of the teachers (`--split-by`, `--teachers`). */
export const teacherSplit = ({ options, data }: StudyContext): UserGroups => {
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

/**
 * The seed the teachers of a student of `seed` train with: one set for every seed (0), but
 * teachers fine-tuned from the base model are one set per seed.
 */
export const teacherSeed = (
  ctx: StudyContext,
  seed: number,
  init: TeacherInit = ctx.reading.teacherInit,
) => (init === "base" ? seed : 0)

/** The K teachers of a student of `seed` (started as the reading says). */
export const teachersOf = (
  trainer: Trainer,
  seed: number,
  init: TeacherInit = trainer.ctx.reading.teacherInit,
) => trainer.teachersBy(`${init} ${seed}`)

/**
 * Trains (or reuses) one model; a model with teachers or coefficients first checks that it
 * was trained from the current ones (`Provenance.ts`).
 */
export const trainOne = <P>(
  trainer: Trainer,
  method: string,
  seed: number,
  objective: Objective.Objective<P>,
  provenance?: Provenance,
) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const directory = ctx.folders.path(ctx.folders.model(method, seed))
    if (provenance !== undefined && (yield* checkProvenance(directory, provenance)) === "adopted")
      yield* ctx.progress.note(
        `${method} seed ${seed}`,
        "has no provenance.json (trained before models recorded their teachers and settings): taken as trained from the current ones, and recorded so",
      )
    const result = yield* Train.train({
      name: `${method} seed ${seed}`,
      directory,
      data: ctx.data,
      objective,
      config: { ...ctx.profile.training, seed },
      lease: trainer.leases,
    })
    record(ctx.ledger, ctx.folders.model(method, seed), result)
    return result
  })

/**
 * Starts `model` from the trained base model of `seed` (`--teacher-init base`,
 * `--student-init base`), training that first if needed; a resumed run then loads its own
 * checkpoint over it.
 */
const fromBase = (trainer: Trainer, model: Recommender, seed: number) =>
  Effect.gen(function* () {
    yield* trainer.baseTrained(seed)
    const { folders } = trainer.ctx
    yield* Checkpoint.loadParameters(`${folders.path(folders.model("base", seed))}/best.ckpt`, [
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
export const trainGroups = (
  trainer: Trainer,
  name: string,
  groups: UserGroups,
  seed: number,
  init: Readings.Reading["teacherInit"] = "independent",
) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const { profile } = ctx
    const small = Array.from(groups.sizes).findIndex((n) => n < profile.minimumUsersPerGroup)
    if (small >= 0)
      return yield* new StudyError({
        stage: name,
        reason: `group "${groups.labels[small]}" of ${groups.name} has ${groups.sizes[small]} users, fewer than ${profile.minimumUsersPerGroup}; use fewer groups (--teachers)`,
      })
    const started = yield* Effect.forEach(groups.labels, (_, g) => {
      const model = makeModel(ctx, init === "shared" ? name : `${name}-${g}`, seed)
      return init === "base" ? fromBase(trainer, model, seed) : Effect.succeed(model)
    })
    const models = yield* PerGroup.trainPerGroup({
      name,
      directory: ctx.folders.modelsDir,
      data: ctx.data,
      partition: { groupOf: groups.groupOf, groups: groups.sizes.length },
      makeModel: (g) => started[g]!,
      config: { ...profile.training, seed },
      lease: trainer.leases,
    })
    for (const m of models) record(ctx.ledger, `${name}-${m.group}`, m.result)
    return models.map((m): GroupTrained => ({ ...m, folder: `${name}-${m.group}` }))
  })

/** Group-wise training (eq. 7): each group of the evaluation grouping's own model. */
export const trainGroupWise = (trainer: Trainer, seed: number) =>
  trainGroups(trainer, trainer.ctx.folders.groupwise(seed), trainer.ctx.evaluationGrouping, seed)

/** KD's single teacher, for inference, and its record for the student's provenance. */
export interface KdTeacher {
  readonly model: Recommender
  readonly record: TeacherRecord
}

/** KD's single teacher: the base architecture trained on all users (seeded like the student). */
export const kdTeacher = (trainer: Trainer, seed: number): StudyEffect<KdTeacher> =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const teacher = makeModel(ctx, ctx.folders.kdTeacher, seed)
    const result = yield* trainOne(
      trainer,
      ctx.folders.kdTeacher,
      seed,
      Objective.recommendation(ctx.backend, teacher),
    )
    return {
      model: forInference(teacher),
      record: teacherRecord(ctx.folders.model(ctx.folders.kdTeacher, seed), result),
    }
  })

const groupRecords = (teachers: ReadonlyArray<GroupTrained>) =>
  teachers.map((t) => teacherRecord(t.folder, t.result))

/** A CausalD student (eq. 19-20's objective) of `seed` distilled from `teachers`. */
export const causalDStudent = (
  trainer: Trainer,
  method: string,
  seed: number,
  teachers: ReadonlyArray<GroupTrained>,
  split: UserGroups,
  overrides: Partial<CausalDObjective.CausalDConfig> = {},
  reading: Readings.Reading = trainer.ctx.reading,
) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const { options, data } = ctx
    const partners = options.partners ?? defaultPartners
    const partnerSampling: CausalDObjective.PartnerSampling =
      partners === "all" ? { _tag: "Exact" } : { _tag: "MonteCarlo", partners }
    const student = makeModel(ctx, method, seed)
    if (reading.studentInit === "base") yield* fromBase(trainer, student, seed)
    // Back-door-adjusted guidance (eq. 19) needs the observed confounder of the split; a random
    // split has none, and its P(z_k) would be uniform anyway.
    const observed = options.splitBy !== "random" && method !== "ho-teachers"
    // The student's configuration, resolved once: the defaults, then the options and the
    // reading, then the experiment's overrides (the search's, Fig. 5's, an ablation's).
    const config: CausalDObjective.CausalDConfig = {
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
    }
    const objective = CausalDObjective.causalD(
      ctx.backend,
      student,
      teachers.map((t) => forInference(t.model)),
      config,
      seed,
    )
    const result = yield* trainOne(trainer, method, seed, objective, {
      teachers: groupRecords(teachers),
      settings: {
        lambdaBda: config.lambdaBda,
        lambdaFda: config.lambdaFda,
        // recorded only when not the literal reading, so models recorded before a flag stay valid
        ...Readings.provenanceSettings(reading),
        ...(partners === defaultPartners ? {} : { partners }),
      },
      model: baseModelRecord(ctx.baseModel),
    })
    return {
      model: student,
      validationAuc: result.bestValidationAuc,
      release: () => objective.dispose(),
    }
  })

/**
 * The paper's search (section 5.1): each value of a coefficient's grid trained on the first
 * seed, the one with the best validation AUC kept (in the ledger's `coefficients`). Test data is
 * never looked at.
 */
const searchCoefficient = <E, R>(
  ctx: StudyContext,
  name: string,
  grid: ReadonlyArray<number>,
  fallback: number,
  run: (value: number) => Effect.Effect<Trained, E, R>,
) =>
  Effect.gen(function* () {
    const chosenCoefficients = ctx.ledger.coefficients
    if (!ctx.options.search) return fallback
    if (chosenCoefficients[name] !== undefined) return chosenCoefficients[name]!
    let best = fallback
    let bestAuc = Number.NEGATIVE_INFINITY
    for (const value of grid) {
      const trained = yield* timed(ctx.ledger, `search ${name}=${value}`, run(value))
      ctx.backend.dispose(trained.model.parameters)
      trained.release()
      if (trained.validationAuc > bestAuc) {
        bestAuc = trained.validationAuc
        best = value
      }
    }
    chosenCoefficients[name] = best
    yield* ctx.progress.note("search", `${name} = ${best} (validation AUC ${bestAuc.toFixed(4)})`)
    return best
  })

/** The grid of λ_BDA and λ_FDA (the search's and Fig. 5's). */
export const lambdaGrid = coefficientGrid("causald", "lambdaFda")

/** CausalD's λ_FDA, then λ_BDA given it, searched one after the other (`Trainer.causalDLambdas`). */
export const searchCausalDLambdas = (trainer: Trainer) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const first = ctx.seeds[0]!
    // the search's students (first seed), trained only when --search asks for them
    const searchRun = (name: string, overrides: Partial<CausalDObjective.CausalDConfig>) =>
      Effect.flatMap(teachersOf(trainer, first), (teachers) =>
        causalDStudent(trainer, name, first, teachers, teacherSplit(ctx), overrides),
      )
    const lambdaFda = yield* searchCoefficient(
      ctx,
      "causald lambdaFda",
      lambdaGrid,
      ctx.options.lambdaFda,
      (v) => searchRun(ctx.folders.searchCausalD("fda", v), { lambdaFda: v }),
    )
    const lambdaBda = yield* searchCoefficient(
      ctx,
      "causald lambdaBda",
      lambdaGrid,
      ctx.options.lambdaBda,
      (v) => searchRun(ctx.folders.searchCausalD("bda", v), { lambdaFda, lambdaBda: v }),
    )
    return { lambdaBda, lambdaFda }
  })

/** The model of `method` and `seed` (every method but group-wise training). */
export const trainMethod = (trainer: Trainer, method: Method, seed: number) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    switch (method) {
      case "base": {
        // the base model of the seed, which other models may start from, is trained once
        yield* trainer.needs({ _tag: "Base", seed })
        const model = makeModel(ctx, "base", seed)
        const result = yield* trainOne(
          trainer,
          "base",
          seed,
          Objective.recommendation(ctx.backend, model),
        )
        return { model, validationAuc: result.bestValidationAuc, release: () => {} }
      }
      case "causald": {
        const teachers = yield* teachersOf(trainer, seed)
        return yield* causalDStudent(
          trainer,
          "causald",
          seed,
          teachers,
          teacherSplit(ctx),
          yield* trainer.causalDLambdas(),
        )
      }
      case "wo-fda": {
        const teachers = yield* teachersOf(trainer, seed)
        const { lambdaBda } = yield* trainer.causalDLambdas()
        // the ablation's own settings (no front-door label) from the method registry
        const ablation = methodSpec("wo-fda").objective
        return yield* causalDStudent(trainer, "wo-fda", seed, teachers, teacherSplit(ctx), {
          lambdaBda,
          ...(ablation._tag === "CausalD" ? ablation.fixed : {}),
        })
      }
      case "ho-teachers": {
        const teachers = yield* trainer.homogeneousTeachersOf(seed)
        return yield* causalDStudent(
          trainer,
          "ho-teachers",
          seed,
          teachers,
          Groups.randomSubsets(ctx.data, ctx.options.teachers, 0),
          yield* trainer.causalDLambdas(),
        )
      }
      default:
        return yield* trainBaseline(trainer, method, seed)
    }
  })

/** A baseline of Tables 3-4: the same data, candidates, base model and teachers. */
const trainBaseline = (trainer: Trainer, method: Method, seed: number) =>
  Effect.flatMap(trainer.baselineCoefficient(method), (coefficient) =>
    baselineModel(trainer, method, seed, coefficient, method),
  )

/** A baseline's registered objective (a method of Tables 3-4 that is one). */
const baselineSpec = (method: Method) =>
  Effect.suspend(() => {
    const registered = methodSpec(method)
    return registered.objective._tag === "Baseline"
      ? Effect.succeed(registered.objective.baseline)
      : Effect.die(`${method} has no baseline objective`)
  })

/** A baseline's model of `seed` with `coefficient` (its default when undefined), in `runName`. */
const baselineModel = (
  trainer: Trainer,
  method: Method,
  seed: number,
  coefficient: number | undefined,
  runName: string,
) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const spec = yield* baselineSpec(method)
    let teachers: ReadonlyArray<Recommender> = []
    let records: ReadonlyArray<TeacherRecord> = []
    if (spec.teachers === "multiple") {
      const trained = yield* teachersOf(trainer, seed)
      teachers = trained.map((t) => forInference(t.model))
      records = groupRecords(trained)
    } else if (spec.teachers === "single") {
      const kd = yield* trainer.kdTeacherOf(seed)
      teachers = [kd.model]
      records = [kd.record]
    }
    const student = makeModel(ctx, method, seed)
    const objective = spec.make(ctx.backend, student, teachers, ctx.data, {
      seed,
      groups: teacherSplit(ctx),
      ...(coefficient === undefined ? {} : { coefficient }),
    })
    const result = yield* trainOne(trainer, runName, seed, objective, {
      teachers: records,
      // the value in effect, default included, so a search that picks the default
      // reuses the model trained without a search
      settings:
        spec.hyperparameter === null
          ? {}
          : { [spec.hyperparameter.name]: coefficient ?? spec.hyperparameter.default },
      model: baseModelRecord(ctx.baseModel),
    })
    // DeRec's model is the student plus its substitute confounder: evaluate what was
    // trained, and free the objective's own tensors only after the evaluation.
    return {
      model: objective.model,
      validationAuc: result.bestValidationAuc,
      release: () => objective.dispose(),
    }
  })

/**
 * A baseline's coefficient (`Trainer.baselineCoefficient`): its default, or with `--search` the
 * best of its grid, each value trained on the first seed (whichever seed's model asks first).
 */
export const searchBaselineCoefficient = (trainer: Trainer, method: Method) =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const spec = yield* baselineSpec(method)
    if (spec.hyperparameter === null) return undefined
    const first = ctx.seeds[0]!
    return yield* searchCoefficient(
      ctx,
      method,
      spec.hyperparameter.grid,
      spec.hyperparameter.default,
      (v) => baselineModel(trainer, method, first, v, ctx.folders.search(method, v)),
    )
  })

// --- Table 7 and Figure 5: CausalD with another K or λ, on the first seed -------------------

/** Table 7: CausalD of the first seed with K teachers (and the teachers of that K). */
export const teacherCountRun = (trainer: Trainer, k: number) => {
  const { ctx } = trainer
  const { options, data } = ctx
  const firstSeed = ctx.seeds[0]!
  const split =
    options.splitBy === "random"
      ? Groups.randomSubsets(data, k, 0)
      : options.splitBy === "attribute"
        ? teacherSplit(ctx)
        : Groups.teacherSubsets(data, options.splitBy, k)
  return Effect.flatMap(
    trainGroups(
      trainer,
      ctx.folders.teachers(options.splitBy, k, firstSeed),
      split,
      teacherSeed(ctx, firstSeed),
      ctx.reading.teacherInit,
    ),
    (teachers) => causalDStudent(trainer, ctx.folders.teacherCount(k), firstSeed, teachers, split),
  )
}

/** Fig. 5: CausalD of the first seed with λ_BDA or λ_FDA set to `value`. */
export const sensitivityRun = (
  trainer: Trainer,
  which: "lambdaBda" | "lambdaFda",
  value: number,
) => {
  const { ctx } = trainer
  const firstSeed = ctx.seeds[0]!
  return Effect.flatMap(teachersOf(trainer, firstSeed), (teachers) =>
    causalDStudent(
      trainer,
      ctx.folders.sensitivity(which, value),
      firstSeed,
      teachers,
      teacherSplit(ctx),
      { [which]: value },
    ),
  )
}

// --- the readings screen: CausalD under each reading of the paper, every seed ---------------

/** A screen entry that is the study's own reading reuses the study's CausalD. */
export const ownReading = (ctx: StudyContext, entry: Readings.ScreenEntry) =>
  Readings.same(entry.reading, ctx.reading)

/** CausalD of `seed` under a screen entry's reading (and its teachers). */
export const screenRun = (trainer: Trainer, entry: Readings.ScreenEntry, seed: number) =>
  Effect.flatMap(teachersOf(trainer, seed, entry.reading.teacherInit), (teachers) =>
    causalDStudent(
      trainer,
      trainer.ctx.folders.screen(entry),
      seed,
      teachers,
      teacherSplit(trainer.ctx),
      {},
      entry.reading,
    ),
  )

/** Frees a trained model's parameters and its training-only tensors. */
export const dispose = (ctx: StudyContext, trained: Trained) => {
  ctx.backend.dispose(trained.model.parameters)
  trained.release()
}

/** A stable small number from a name, so different models of one seed start differently. */
const hash = (name: string): number => {
  let h = 0
  for (let i = 0; i < name.length; i++) h = (h * 31 + name.charCodeAt(i)) % 100_003
  return h * 1_000
}
