/**
 * The raw flags made into the study's {@link StudyOptions}: the rules that involve several flags
 * or the file system (`--data` required for a real data set, an experiment whose methods were
 * left out, an attribute split on a data set without attributes, an `--out` that is empty, a
 * root-like folder, a file, or not writable), and the defaults (`all` methods, the experiments
 * that apply, the reading's choices). Each rule broken is a `CliError.ValidationError` naming the
 * flags involved, in the order of {@link resolveStudyOptions}. What needs the data itself
 * (`--teachers` against its users, `--attribute` against its columns) is checked once it is
 * prepared, before anything trains (`Validate.ts`).
 *
 * @module
 */
import { BaseModels } from "@causald/models"
import { Effect, type FileSystem, Option, type Path, Result } from "effect"
import type { CliError } from "effect/cli"
import { cliName, experimentNeeds, type Method, methods } from "../Methods.ts"
import type { StudyOptions } from "../Options.ts"
import * as Readings from "../Readings.ts"
import {
  type Experiment,
  experiments,
  frontDoorOnly,
  isSimulated,
  optInExperiments,
} from "../Vocabulary.ts"
import { defaultContext, type ParseContext } from "./Context.ts"
import { resolveData } from "./Data.ts"
import { fail } from "./Errors.ts"
import type { RawOptions } from "./Flags.ts"
import { resolveOut } from "./Out.ts"

/**
 * The experiments to run: those of `--experiments` (each with its methods, the front-door ones
 * on the front-door world), else every one whose methods run and that the data set supports,
 * but the opt-in ones.
 */
const chooseExperiments = (
  raw: RawOptions,
  has: (m: Method) => boolean,
): Effect.Effect<ReadonlyArray<Experiment>, CliError.ValidationError> =>
  Effect.gen(function* () {
    if (Option.isNone(raw.experiments))
      return experiments.filter(
        (e) =>
          experimentNeeds[e].every(has) &&
          !optInExperiments.includes(e) &&
          (raw.dataset === "frontdoor" || !frontDoorOnly.includes(e)),
      )
    for (const e of raw.experiments.value) {
      const missing = experimentNeeds[e].filter((m) => !has(m))
      if (missing.length > 0) {
        return yield* fail(
          `--experiments ${e} needs --methods to include ${experimentNeeds[e].map(cliName).join(", ")} (missing: ${missing.map(cliName).join(", ")})`,
        )
      }
    }
    const chosen = raw.experiments.value
    const unsupported = chosen.filter((e) => frontDoorOnly.includes(e))
    if (raw.dataset !== "frontdoor" && unsupported.length > 0)
      return yield* fail(
        `--experiments ${unsupported.join(", ")} needs --dataset frontdoor (a world with a confounding dial and exact oracles); --dataset ${raw.dataset} has none`,
      )
    return chosen
  })

/**
 * The rules between flags that need neither the file system nor the data: a flag that only
 * means something beside another (`--full-ranking-users`, `--screen`, `--attribute`) or on some
 * data sets (`--strength`, `--kcore`, `--intents`, `--split-by attribute`), and
 * `--heterogeneity off` against what needs group-wise models.
 */
const checkCombinations = (
  raw: RawOptions,
  has: (m: Method) => boolean,
  chosenExperiments: ReadonlyArray<Experiment>,
): Effect.Effect<void, CliError.ValidationError> =>
  Effect.gen(function* () {
    if (raw.heterogeneity === "off" && (has("groupwise") || chosenExperiments.includes("fig1")))
      return yield* fail(
        "--heterogeneity off trains no group-wise models, which --methods groupwise and --experiments fig1 need: leave those out or drop --heterogeneity off",
      )
    if (Option.isSome(raw.fullRankingUsers) && !raw.fullRanking)
      return yield* fail(
        "--full-ranking-users chooses whom --full-ranking ranks: add --full-ranking or drop --full-ranking-users",
      )
    if (Option.isSome(raw.screen) && !chosenExperiments.includes("readings"))
      return yield* fail(
        "--screen chooses the readings of --experiments readings: add readings to --experiments or drop --screen",
      )
    if (Option.isSome(raw.strength) && !isSimulated(raw.dataset))
      return yield* fail(
        `--strength sets a simulated world's confounding; --dataset ${raw.dataset} is real data: drop it or choose --dataset simulated or frontdoor`,
      )
    if (Option.isSome(raw.attribute) && raw.splitBy !== "attribute")
      return yield* fail(
        `--attribute ${raw.attribute.value} names the user attribute of --split-by attribute, but --split-by is ${raw.splitBy}: add --split-by attribute or drop --attribute`,
      )
    if (Option.isSome(raw.kCore) && isSimulated(raw.dataset))
      return yield* fail(
        `--kcore filters real data; --dataset ${raw.dataset} is generated: drop it or choose a real --dataset`,
      )
    if (Option.isSome(raw.intents) && raw.dataset !== "frontdoor")
      return yield* fail(
        `--intents sets the front-door world's mediator values; --dataset ${raw.dataset} has none: drop it or choose --dataset frontdoor`,
      )
    if (
      raw.splitBy === "attribute" &&
      raw.dataset !== "movielens-100k" &&
      raw.dataset !== "movielens-1m"
    ) {
      return yield* fail(
        `--split-by attribute needs user attributes, which only --dataset movielens-100k and movielens-1m (with users.dat) have; --dataset ${raw.dataset} has none`,
      )
    }
  })

/** The base model's configuration: its defaults, then `--base-config`, checked here by field. */
const checkBaseConfig = (raw: RawOptions): Effect.Effect<void, CliError.ValidationError> =>
  Effect.gen(function* () {
    if (Option.isNone(raw.baseConfig)) return
    const resolved = BaseModels.resolve(raw.base, raw.baseConfig.value)
    if (Result.isFailure(resolved))
      return yield* fail(
        `--base-config: ${resolved.failure.message} (--base ${raw.base} takes ${Object.keys(BaseModels.baseModels[raw.base].defaults).join(", ")})`,
      )
  })

/** The reading's choices given by their own flags, which override `--reading`'s preset. */
const explicitChoices = (raw: RawOptions): Partial<Readings.Reading> => ({
  ...Option.match(raw.bdaDistance, {
    onNone: () => ({}),
    onSome: (v) => ({ bdaDistance: v }),
  }),
  ...Option.match(raw.teacherInit, {
    onNone: () => ({}),
    onSome: (v) => ({ teacherInit: v }),
  }),
  ...Option.match(raw.studentInit, {
    onNone: () => ({}),
    onSome: (v) => ({ studentInit: v }),
  }),
  ...Option.match(raw.fdaItems, { onNone: () => ({}), onSome: (v) => ({ fdaItems: v }) }),
  ...Option.match(raw.teacherPrior, {
    onNone: () => ({}),
    onSome: (v) => ({ teacherPrior: v }),
  }),
  ...Option.match(raw.fdaWarmup, { onNone: () => ({}), onSome: (v) => ({ fdaWarmup: v }) }),
  ...Option.match(raw.fdaHidden, { onNone: () => ({}), onSome: (v) => ({ fdaHidden: v }) }),
})

/**
 * The reading of the paper's open points: the preset, explicit flags on top; refused when
 * `--epochs 1` leaves no epoch after its warm-up (or after a screened reading's).
 */
const resolveReading = (
  raw: RawOptions,
  chosenExperiments: ReadonlyArray<Experiment>,
): Effect.Effect<Readings.Reading, CliError.ValidationError> =>
  Effect.gen(function* () {
    const reading = Readings.resolve(raw.reading, explicitChoices(raw))
    const screened = chosenExperiments.includes("readings")
      ? Readings.screen.filter((e) =>
          Option.isNone(raw.screen) ? true : raw.screen.value.includes(e.name),
        )
      : []
    if (
      Option.getOrNull(raw.epochs) === 1 &&
      [reading, ...screened.map((e) => e.reading)].some((r) => r.fdaWarmup === "epoch")
    )
      return yield* fail(
        "--epochs 1 leaves no epoch after --fda-warmup epoch (the estimator's warm-up) for the student: give --epochs 2 or more",
      )
    return reading
  })

/**
 * The cross-flag rules and defaults: `--data` for real data sets (with the ml-100k default), the
 * output folder (not empty, not root-like, writable), `all` methods, the experiments that apply.
 * Fails with a `ValidationError` whose message names the flags involved.
 */
export const resolveStudyOptions = (
  raw: RawOptions,
  context: ParseContext = defaultContext(),
): Effect.Effect<StudyOptions, CliError.ValidationError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const chosen = Option.getOrElse(raw.methods, () => methods)
    const has = (m: Method) => chosen.includes(m)
    const chosenExperiments = yield* chooseExperiments(raw, has)
    yield* checkCombinations(raw, has, chosenExperiments)
    const { data, source } = yield* resolveData(raw, context)
    const out = yield* resolveOut(raw, context)
    yield* checkBaseConfig(raw)
    const reading = yield* resolveReading(raw, chosenExperiments)
    return {
      dataset: raw.dataset,
      data,
      source,
      base: raw.base,
      ...(Option.isSome(raw.baseConfig) ? { baseConfig: raw.baseConfig.value } : {}),
      methods: chosen,
      seeds: raw.seeds,
      ...(raw.firstSeed === 1 ? {} : { firstSeed: raw.firstSeed }),
      teachers: raw.teachers,
      splitBy: raw.splitBy,
      attribute: Option.getOrElse(raw.attribute, () => "gender"),
      lambdaBda: raw.lambdaBda,
      lambdaFda: raw.lambdaFda,
      reading: raw.reading,
      ...reading,
      partners: raw.partners,
      ...(Option.isSome(raw.strength) ? { strength: raw.strength.value } : {}),
      ...(Option.isSome(raw.intents) ? { intents: raw.intents.value } : {}),
      ...(Option.isSome(raw.kCore) ? { kCore: raw.kCore.value } : {}),
      ...(Option.isSome(raw.batchSize) ? { batchSize: raw.batchSize.value } : {}),
      ...(Option.isSome(raw.learningRate) ? { learningRate: raw.learningRate.value } : {}),
      epochs: Option.getOrNull(raw.epochs),
      backend: raw.backend,
      out,
      experiments: chosenExperiments,
      quick: raw.quick,
      ...(raw.fullRanking ? { fullRanking: true } : {}),
      ...(Option.isSome(raw.fullRankingUsers)
        ? { fullRankingUsers: raw.fullRankingUsers.value }
        : {}),
      ...(raw.heterogeneity === "off" ? { heterogeneity: "off" as const } : {}),
      ...(Option.isSome(raw.screen) ? { screen: raw.screen.value } : {}),
      search: raw.search,
      workers: raw.workers,
    } satisfies StudyOptions
  })
