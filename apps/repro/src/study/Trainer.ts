/**
 * The study's {@link Trainer}: what several jobs of a study need ({@link Shared}: a seed's base
 * model, a set of teachers, KD's teacher, a search) trained once and reused, the models
 * themselves trained by `Training.ts`. On the cluster each shared model is a workflow execution
 * of its own that the jobs needing it await (`cluster/Jobs.ts`, {@link TrainerOptions}).
 *
 * @module
 */
import { Groups } from "@causald/data"
import { Objective, type Train } from "@causald/training"
import { Effect, Schema } from "effect"
import type { Method } from "../Methods.ts"
import { type StudyContext, type StudyEffect, timed } from "./Context.ts"
import type { TeacherInit } from "./Folders.ts"
import {
  type GroupTrained,
  type KdTeacher,
  kdTeacher,
  makeModel,
  searchBaselineCoefficient,
  searchCausalDLambdas,
  teacherSeed,
  teacherSplit,
  trainGroups,
  trainOne,
} from "./Training.ts"

/**
 * What several jobs of a study may need, and the trainer trains once and reuses (its memoized
 * functions below): the base model of a seed, a set of teachers (the split's K teachers of a
 * start and seed), Ho Teachers' teachers, KD's teacher, and the paper's search of a method's
 * coefficients. This is the one list of a study's dependencies: on the cluster each is a
 * workflow execution of its own, keyed by {@link sharedFolder}, that the jobs needing it await
 * (`cluster/Jobs.ts`, through {@link TrainerOptions.beforeShared}).
 */
export const Shared = Schema.Union([
  Schema.TaggedStruct("Base", { seed: Schema.Number }),
  Schema.TaggedStruct("Teachers", {
    init: Schema.Literals(["independent", "shared", "base"]),
    seed: Schema.Number,
  }),
  Schema.TaggedStruct("HomogeneousTeachers", { seed: Schema.Number }),
  Schema.TaggedStruct("KdTeacher", { seed: Schema.Number }),
  /** The search of a method's coefficients (`--search`; CausalD: λ_FDA then λ_BDA). */
  Schema.TaggedStruct("Search", { method: Schema.String }),
])
export type Shared = typeof Shared.Type

/**
 * The folder (under `<out>/models`) of a shared model, or the prefix of a shared set's folders
 * (`<prefix>-<g>`, `search-<method>-<value>`): two shared entries with one folder are one thing
 * trained once (e.g. the teachers of every seed, unless they start from the seed's base model).
 */
export const sharedFolder = ({ folders, options }: StudyContext, shared: Shared): string => {
  switch (shared._tag) {
    case "Base":
      return folders.model("base", shared.seed)
    case "Teachers":
      return folders.teachers(options.splitBy, options.teachers, shared.seed, shared.init)
    case "HomogeneousTeachers":
      return folders.teachers("random", options.teachers, shared.seed)
    case "KdTeacher":
      return folders.model(folders.kdTeacher, shared.seed)
    case "Search":
      return `search-${shared.method}`
  }
}

/** How a trainer trains: the defaults are one process's (and `--workers`'). */
export interface TrainerOptions {
  /**
   * How each run meets its folder's lease (`Train.LeasePolicy`): "wait" (default); on the
   * cluster's workers, where each folder is trained by exactly one workflow execution,
   * "take-over" (a lease left by a worker that died on another host must not block the run); on
   * the cluster's coordinator, once every execution has finished, "reload-only" (read the
   * finished models, wait for no lease, fail with `Train.NotTrained` when one is missing).
   */
  readonly leases?: Train.LeasePolicy
  /**
   * Runs before a {@link Shared} model is used (trained here, or reloaded): the cluster awaits
   * the execution that trains it, so that only that execution trains its folders. Default none:
   * the trainer trains it itself, once.
   */
  readonly beforeShared?: (shared: Shared) => StudyEffect<void>
}

/**
 * The study's training with what it trains once and reuses ({@link Shared}): the base model of
 * each seed, each set of teachers, KD's teacher, and each search.
 */
export interface Trainer {
  readonly ctx: StudyContext
  /** The lease policy of every run it trains (`TrainerOptions.leases`). */
  readonly leases: Train.LeasePolicy
  /** Awaits what trains a shared model elsewhere (the cluster), or nothing. */
  readonly needs: (shared: Shared) => StudyEffect<void>
  /** The base model of `seed`, trained (or reloaded) and its parameters freed. */
  readonly baseTrained: (seed: number) => StudyEffect<boolean>
  /** The K teachers of a student of `seed`, by `"<init> <seed>"`. */
  readonly teachersBy: (key: `${TeacherInit} ${number}`) => StudyEffect<ReadonlyArray<GroupTrained>>
  /** Ho Teachers' K teachers, on random (IID) user subsets. */
  readonly homogeneousTeachersOf: (seed: number) => StudyEffect<ReadonlyArray<GroupTrained>>
  /** KD's single teacher of `seed`. */
  readonly kdTeacherOf: (seed: number) => StudyEffect<KdTeacher>
  /** CausalD's λ_FDA and λ_BDA: searched (`--search`) on the first seed, else the options'. */
  readonly causalDLambdas: () => StudyEffect<{ lambdaBda: number; lambdaFda: number }>
  /** A baseline's coefficient: searched (`--search`) on the first seed, else its default. */
  readonly baselineCoefficient: (method: Method) => StudyEffect<number | undefined>
  /** Trains (or reloads) a shared model here, without awaiting it: a cluster execution's work. */
  readonly trainShared: (shared: Shared) => StudyEffect<void>
}

/** The base model of `seed`, trained (or reloaded) here and its parameters freed. */
const trainBase = (trainer: Trainer, seed: number): StudyEffect<boolean> =>
  Effect.gen(function* () {
    const { ctx } = trainer
    const model = makeModel(ctx, "base", seed)
    yield* trainOne(trainer, "base", seed, Objective.recommendation(ctx.backend, model))
    ctx.backend.dispose(model.parameters)
    return true
  })

/** A set of teachers' key, `"<init> <seed>"`, read back. */
const teacherKey = (key: `${TeacherInit} ${number}`) => ({
  init: key.split(" ")[0] as TeacherInit,
  seed: Number(key.split(" ")[1]),
})

/** The split's K teachers of a student of `seed` that start as `init`, trained here. */
const trainTeachers = (trainer: Trainer, key: `${TeacherInit} ${number}`) => {
  const { ctx } = trainer
  const { init, seed } = teacherKey(key)
  return timed(
    ctx.ledger,
    "teachers",
    trainGroups(
      trainer,
      ctx.folders.teachers(ctx.options.splitBy, ctx.options.teachers, seed, init),
      teacherSplit(ctx),
      teacherSeed(ctx, seed, init),
      init,
    ),
  )
}

/** Ho Teachers' K teachers of `seed`, on random (IID) user subsets, trained here. */
const trainHomogeneous = (trainer: Trainer, seed: number) => {
  const { ctx } = trainer
  return timed(
    ctx.ledger,
    "homogeneous teachers",
    trainGroups(
      trainer,
      ctx.folders.teachers("random", ctx.options.teachers, seed),
      Groups.randomSubsets(ctx.data, ctx.options.teachers, 0),
      teacherSeed(ctx, seed),
      ctx.reading.teacherInit,
    ),
  )
}

/**
 * The trainer of a study: each {@link Shared} model memoized (trained once, then reused) and,
 * with {@link TrainerOptions.beforeShared}, awaited before it is used.
 */
export const makeTrainer = (ctx: StudyContext, trainerOptions: TrainerOptions = {}): Trainer => {
  const { options } = ctx
  const needs = (shared: Shared): StudyEffect<void> =>
    trainerOptions.beforeShared === undefined ? Effect.void : trainerOptions.beforeShared(shared)
  /** A shared model's own training, memoized, and the same awaited first (`needs`). */
  const sharedBy = <K, A>(
    of: (key: K) => Shared | null,
    make: (key: K) => StudyEffect<A>,
  ): { own: (key: K) => StudyEffect<A>; used: (key: K) => StudyEffect<A> } => {
    const own = memoBy(make)
    return {
      own,
      used: (key) => {
        const shared = of(key)
        return shared === null ? own(key) : Effect.andThen(needs(shared), own(key))
      },
    }
  }
  const base = sharedBy(
    (seed: number): Shared => ({ _tag: "Base", seed }),
    (seed: number) => trainBase(trainer, seed),
  )
  const teachers = sharedBy(
    (key: `${TeacherInit} ${number}`): Shared => ({ _tag: "Teachers", ...teacherKey(key) }),
    (key: `${TeacherInit} ${number}`) => trainTeachers(trainer, key),
  )
  const homogeneous = sharedBy(
    (seed: number): Shared => ({ _tag: "HomogeneousTeachers", seed }),
    (seed: number) => trainHomogeneous(trainer, seed),
  )
  const kd = sharedBy(
    (seed: number): Shared => ({ _tag: "KdTeacher", seed }),
    (seed: number) => kdTeacher(trainer, seed),
  )
  // A search trains nothing without --search: then nothing is awaited.
  const searched = (method: string): Shared | null =>
    options.search ? { _tag: "Search", method } : null
  const lambdas = sharedBy(
    () => searched("causald"),
    () => searchCausalDLambdas(trainer),
  )
  const coefficient = sharedBy(
    (method: Method) => searched(method),
    (method: Method) => searchBaselineCoefficient(trainer, method),
  )
  const trainer: Trainer = {
    ctx,
    leases: trainerOptions.leases ?? "wait",
    needs,
    baseTrained: base.used,
    teachersBy: teachers.used,
    homogeneousTeachersOf: homogeneous.used,
    kdTeacherOf: kd.used,
    causalDLambdas: () => lambdas.used(undefined),
    baselineCoefficient: coefficient.used,
    trainShared: (shared) => {
      switch (shared._tag) {
        case "Base":
          return Effect.asVoid(base.own(shared.seed))
        case "Teachers":
          return Effect.asVoid(teachers.own(`${shared.init} ${shared.seed}`))
        case "HomogeneousTeachers":
          return Effect.asVoid(homogeneous.own(shared.seed))
        case "KdTeacher":
          return Effect.asVoid(kd.own(shared.seed))
        case "Search":
          return shared.method === "causald"
            ? Effect.asVoid(lambdas.own(undefined))
            : Effect.asVoid(coefficient.own(shared.method as Method))
      }
    },
  }
  return trainer
}

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
