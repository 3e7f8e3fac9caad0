/**
 * The study's options, resolved once: what `bun run repro` was asked to do, as the command line
 * (`Cli.ts`) resolves it, the study runs it and `results.json` records it. Modules that read the
 * options import this, not the parser.
 *
 * @module
 */
import { fileURLToPath } from "node:url"
import { DataSource } from "@causald/data"
import { Schema } from "effect"
import { bases, methods } from "./Methods.ts"
import * as Readings from "./Readings.ts"
import { backends, datasets, experiments, splits } from "./Vocabulary.ts"

/** The repository root of this checkout (three levels above this file). */
export const repoRoot: string = fileURLToPath(new URL("../../../", import.meta.url))

/** The study's configuration, as parsed from the command line (and recorded in the manifest). */
export const StudyOptions = Schema.Struct({
  dataset: Schema.Literals(datasets),
  /** Absolute path given to (or defaulted for) `--data`; null for the simulated worlds. */
  data: Schema.NullOr(Schema.String),
  /** What `data` is read as; null for the simulated worlds. */
  source: Schema.NullOr(DataSource),
  base: Schema.Literals(bases),
  /**
   * `--base-config`: the base model's options over its defaults, as given (the study resolves
   * them once, `BaseModels.resolve`, and records the result in `fingerprint.json`); absent: its
   * defaults (also in results written before the flag existed).
   */
  baseConfig: Schema.optionalKey(Schema.Record(Schema.String, Schema.Json)),
  methods: Schema.Array(Schema.Literals(methods)),
  seeds: Schema.Int,
  /**
   * `--first-seed`: the study runs seeds firstSeed..firstSeed+seeds-1; absent: 1 (also in results
   * written before the flag existed). Parts of one study with disjoint seeds are joined by
   * `bun run repro-merge` (`Merge.ts`).
   */
  firstSeed: Schema.optionalKey(Schema.Int),
  teachers: Schema.Int,
  splitBy: Schema.Literals(splits),
  /** The user attribute of `--split-by attribute` (e.g. ml-100k `gender`). */
  attribute: Schema.String,
  lambdaBda: Schema.Finite,
  lambdaFda: Schema.Finite,
  /**
   * The reading of the paper's open points (`Readings.ts`), resolved from `--reading` and the
   * explicit flags. Each key is absent in results written before its flag existed (read as the
   * literal reading).
   */
  reading: Schema.optionalKey(Schema.Literals(Readings.presetNames)),
  bdaDistance: Schema.optionalKey(Schema.Literals(Readings.dimensions.bdaDistance.choices)),
  teacherInit: Schema.optionalKey(Schema.Literals(Readings.dimensions.teacherInit.choices)),
  studentInit: Schema.optionalKey(Schema.Literals(Readings.dimensions.studentInit.choices)),
  fdaItems: Schema.optionalKey(Schema.Literals(Readings.dimensions.fdaItems.choices)),
  teacherPrior: Schema.optionalKey(Schema.Literals(Readings.dimensions.teacherPrior.choices)),
  fdaWarmup: Schema.optionalKey(Schema.Literals(Readings.dimensions.fdaWarmup.choices)),
  fdaHidden: Schema.optionalKey(Schema.Array(Schema.Int)),
  /** `--partners`; absent in results written before the flag existed (read as 16). */
  partners: Schema.optionalKey(Schema.Union([Schema.Int, Schema.Literal("all")])),
  /** `--strength`: a simulated world's confounding strength s; absent: the world's default. */
  strength: Schema.optionalKey(Schema.Finite),
  /** `--intents`: the front-door world's mediator values; absent: the world's default. */
  intents: Schema.optionalKey(Schema.Int),
  /** `--kcore`: the k-core of a real data set; absent: the data set's default (`Sources.defaultKCore`). */
  kCore: Schema.optionalKey(Schema.Int),
  /** `--batch-size`: training rows per step; absent: the study's default for the data set. */
  batchSize: Schema.optionalKey(Schema.Int),
  /** `--learning-rate`: Adagrad's learning rate; absent: the study's default. */
  learningRate: Schema.optionalKey(Schema.Finite),
  /** Maximum training epochs; null leaves it to the study's defaults. */
  epochs: Schema.NullOr(Schema.Int),
  backend: Schema.Literals(backends),
  /** Absolute output folder. */
  out: Schema.String,
  experiments: Schema.Array(Schema.Literals(experiments)),
  quick: Schema.Boolean,
  /**
   * `--heterogeneity off` trains no group-wise models and leaves Heterogeneity (eq. 8) out;
   * absent in results written before the flag existed (read as on).
   */
  heterogeneity: Schema.optionalKey(Schema.Literals(["on", "off"])),
  /** `--screen`: the readings `--experiments readings` screens; absent: all of them. */
  screen: Schema.optionalKey(Schema.Array(Schema.String)),
  /**
   * Also rank each test target against every item the user has not consumed (`--full-ranking`);
   * absent in results written before the flag existed (read as false).
   */
  fullRanking: Schema.optionalKey(Schema.Boolean),
  /** `--full-ranking-users`: full ranking over a seeded sample of this many users. */
  fullRankingUsers: Schema.optionalKey(Schema.Int),
  /** Search each method's loss coefficient on validation data (section 5.1) before the seeds. */
  search: Schema.Boolean,
  /**
   * Processes training at once on the shared `out` (`--workers`); absent in results written
   * before the flag existed (read as 1). It changes no number.
   */
  workers: Schema.optionalKey(Schema.Int),
})
export type StudyOptions = typeof StudyOptions.Type
