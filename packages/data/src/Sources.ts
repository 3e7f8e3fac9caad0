/**
 * Data sources and the loading program: read a file format, run the protocol, optionally
 * through the on-disk cache.
 *
 * Default k-core per format (the paper filters to 16-core, section 5.1):
 * - MovieLens (100K, 1M/10M, 20M/25M): 16. ml-100k keeps 943 users, 1,010 items, 96,216
 *   interactions.
 * - Amazon sequence files (`Beauty.txt`, `Toys_and_Games.txt`, already 5-core): 5, because
 *   16-core keeps 303 users of Beauty and nothing of Toys (shared data README).
 * - Amazon ratings-only CSV and 5-core JSON (the paper's Amazon Books): 16, as in the paper.
 * - Exposure logs (the paper's Alipay): 16, as in the paper.
 *
 * @module
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import { Effect, Schema } from "effect"
import * as Cache from "./Cache.ts"
import type { DataError } from "./Errors.ts"
import { attempt } from "./Errors.ts"
import type { InteractionLog } from "./Interactions.ts"
import { defaultConfig, type PreparedConfig, type PreparedDataset } from "./Prepared.ts"
import { prepareLog, validateConfig } from "./Protocol.ts"
import { readAmazonJsonLines, readAmazonRatings } from "./readers/Amazon.ts"
import { readExposureLog } from "./readers/Exposure.ts"
import {
  readMovieLens1mUsers,
  readMovieLens100k,
  readMovieLensCsv,
  readMovieLensDat,
} from "./readers/MovieLens.ts"
import { readSequences } from "./readers/Sequences.ts"

/**
 * Where a data set comes from, as a schema: one definition for the loader, the command line and
 * the run manifest that records it.
 */
export const DataSource = Schema.Union([
  /**
   * MovieLens 100K folder with `u.data` and, when present, `u.user` (gender, age band,
   * occupation).
   */
  Schema.Struct({ format: Schema.Literal("movielens-100k"), directory: Schema.String }),
  /** MovieLens 1M/10M `ratings.dat`, with the 1M `users.dat` attributes when given. */
  Schema.Struct({
    format: Schema.Literal("movielens-dat"),
    ratings: Schema.String,
    users: Schema.optionalKey(Schema.String),
  }),
  /** MovieLens 20M/25M `ratings.csv`. */
  Schema.Struct({ format: Schema.Literal("movielens-csv"), ratings: Schema.String }),
  /** Amazon ratings-only CSV `item,user,rating,time`. */
  Schema.Struct({ format: Schema.Literal("amazon-ratings"), file: Schema.String }),
  /** Amazon 5-core JSON lines. */
  Schema.Struct({ format: Schema.Literal("amazon-json"), file: Schema.String }),
  /** `user item1 item2 ...` sequence file (Amazon Beauty / Toys of the shared data). */
  Schema.Struct({ format: Schema.Literal("sequences"), file: Schema.String }),
  /** Exposure log `user,item,clicked,time`. */
  Schema.Struct({ format: Schema.Literal("exposure"), file: Schema.String }),
])
export type DataSource = typeof DataSource.Type

/** Protocol settings for {@link load}; unset ones take the defaults (paper section 5.1). */
export interface LoadOptions {
  readonly name?: string
  readonly kCore?: number
  readonly historyLength?: number
  readonly negativesPerPositive?: number
  readonly candidates?: number
  readonly seed?: number
  readonly minRating?: number | null
  /** Cache folder; no caching when unset. */
  readonly cacheDir?: string
}

/** The default k-core of a format (see the module documentation for the reasons). */
export const defaultKCore = (format: DataSource["format"]): number =>
  format === "sequences" ? 5 : 16

/** The files a source reads (all are part of the cache key); `u.user` only when present. */
export const inputFiles = (source: DataSource): ReadonlyArray<string> => {
  switch (source.format) {
    case "movielens-100k":
      return existsSync(join(source.directory, "u.user"))
        ? [join(source.directory, "u.data"), join(source.directory, "u.user")]
        : [join(source.directory, "u.data")]
    case "movielens-dat":
      return source.users === undefined ? [source.ratings] : [source.ratings, source.users]
    case "movielens-csv":
      return [source.ratings]
    default:
      return [source.file]
  }
}

/** A default name: the folder or file name. */
export const defaultName = (source: DataSource): string => {
  const path = source.format === "movielens-100k" ? source.directory : inputFiles(source)[0]!
  const base =
    path
      .replace(/[/\\]+$/, "")
      .split(/[/\\]/)
      .pop() ?? path
  return base.replace(/\.(txt|csv|dat|json|jsonl)$/, "")
}

/** Reads a source into its raw interaction log. */
export const readSource = (source: DataSource): Effect.Effect<InteractionLog, DataError> => {
  switch (source.format) {
    case "movielens-100k":
      return readMovieLens100k(source.directory)
    case "movielens-dat": {
      const users = source.users
      const ratings = readMovieLensDat(source.ratings)
      return users === undefined
        ? ratings
        : Effect.flatMap(ratings, (log) => readMovieLens1mUsers(users, log))
    }
    case "movielens-csv":
      return readMovieLensCsv(source.ratings)
    case "amazon-ratings":
      return readAmazonRatings(source.file)
    case "amazon-json":
      return readAmazonJsonLines(source.file)
    case "sequences":
      return readSequences(source.file)
    case "exposure":
      return readExposureLog(source.file)
  }
}

/** The full configuration for a source and options. */
export const resolveConfig = (source: DataSource, options: LoadOptions = {}): PreparedConfig => ({
  kCore: options.kCore ?? defaultKCore(source.format),
  historyLength: options.historyLength ?? defaultConfig.historyLength,
  negativesPerPositive: options.negativesPerPositive ?? defaultConfig.negativesPerPositive,
  candidates: options.candidates ?? defaultConfig.candidates,
  seed: options.seed ?? defaultConfig.seed,
  minRating: options.minRating ?? defaultConfig.minRating,
})

/**
 * Loads a data set: reads the source, runs the protocol, and with `cacheDir` reads or writes
 * the cache entry keyed by the input files' contents and the configuration.
 */
export const load = (
  source: DataSource,
  options: LoadOptions = {},
): Effect.Effect<PreparedDataset, DataError> =>
  Effect.gen(function* () {
    const config = resolveConfig(source, options)
    yield* attempt(() => validateConfig(config))
    const name = options.name ?? defaultName(source)
    const build = Effect.flatMap(readSource(source), (log) =>
      attempt(() => prepareLog(log, name, config)),
    )
    if (options.cacheDir === undefined) return yield* build
    const description = JSON.stringify({ format: source.format, name, config })
    const key = yield* Cache.cacheKey(description, inputFiles(source))
    return yield* Cache.cached(options.cacheDir, name, key, build)
  })

/**
 * {@link load} for scripts outside Effect (benchmarks, notebooks): resolves with the data set or
 * rejects with the typed {@link DataError}.
 */
export const loadPromise = (
  source: DataSource,
  options: LoadOptions = {},
): Promise<PreparedDataset> => Effect.runPromise(load(source, options))
