/**
 * `--data`: the data set's input files, read as its `DataSource` (with the default ml-100k folder
 * `../shared/data/ml-100k` beside the repository), and refused for a generated data set. Failures
 * name `--data` and what `--dataset` reads. To add a data set: what `--data` must be
 * (`describeData`), and its case in `resolveSource` if it is a folder.
 *
 * @module
 */
import type { DataSource } from "@causald/data"
import { Effect, FileSystem, Option, Path } from "effect"
import type { CliError } from "effect/cli"
import { type Dataset, formatOf, isSimulated, type SimulatedDataset } from "../Vocabulary.ts"
import type { ParseContext } from "./Context.ts"
import { fail } from "./Errors.ts"
import type { RawOptions } from "./Flags.ts"

/** What `--data` must be for each real data set, in words for its errors. */
export const describeData: { readonly [D in Exclude<Dataset, SimulatedDataset>]: string } = {
  "movielens-100k": "a MovieLens 100K folder with u.data (and u.user for the user attributes)",
  "movielens-1m": "a MovieLens 1M folder with ratings.dat (and users.dat), or the ratings.dat file",
  "amazon-csv": "an Amazon ratings-only CSV file (item,user,rating,time)",
  "amazon-json": "an Amazon 5-core JSON lines file",
  sequences: "a sequence file ('user item1 item2 ...' per line)",
  "exposure-log": "an exposure log CSV file (user,item,clicked,time)",
}

/** Reads `--data` as the data set's source, failing with a message that names the flag. */
export const resolveSource = (
  dataset: Exclude<Dataset, SimulatedDataset>,
  data: Option.Option<string>,
  context: ParseContext,
): Effect.Effect<
  { readonly data: string; readonly source: DataSource },
  CliError.ValidationError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const kind = (p: string) =>
      fs.stat(p).pipe(
        Effect.map((info) => info.type),
        Effect.orElseSucceed(() => "missing" as const),
      )
    let dataPath: string
    if (Option.isSome(data)) {
      if (data.value.trim() === "")
        return yield* fail(`--data is empty: give ${describeData[dataset]}`)
      dataPath = path.resolve(context.cwd, data.value)
    } else {
      const fallback = path.resolve(context.repoRoot, "..", "shared", "data", "ml-100k")
      if (dataset !== "movielens-100k" || (yield* kind(fallback)) !== "Directory") {
        const hint = dataset === "movielens-100k" ? ` (the default ${fallback} does not exist)` : ""
        return yield* fail(
          `--data is required for --dataset ${dataset}${hint}: give ${describeData[dataset]}`,
        )
      }
      dataPath = fallback
    }
    const type = yield* kind(dataPath)
    const wrong = (what: string) =>
      fail(`--data ${dataPath}: ${what}; --dataset ${dataset} reads ${describeData[dataset]}`)
    if (type === "missing") return yield* wrong("no such file or folder")
    switch (dataset) {
      case "movielens-100k": {
        if (type !== "Directory") return yield* wrong("not a folder")
        if ((yield* kind(path.join(dataPath, "u.data"))) !== "File") {
          return yield* wrong("the folder has no u.data")
        }
        return { data: dataPath, source: { format: "movielens-100k", directory: dataPath } }
      }
      case "movielens-1m": {
        const ratings = type === "Directory" ? path.join(dataPath, "ratings.dat") : dataPath
        if ((yield* kind(ratings)) !== "File") return yield* wrong("the folder has no ratings.dat")
        const users = path.join(path.dirname(ratings), "users.dat")
        const source: DataSource =
          (yield* kind(users)) === "File"
            ? { format: "movielens-dat", ratings, users }
            : { format: "movielens-dat", ratings }
        return { data: dataPath, source }
      }
      default: {
        if (type !== "File") return yield* wrong("not a file")
        return { data: dataPath, source: { format: formatOf[dataset], file: dataPath } }
      }
    }
  })

/**
 * The data of `--dataset` from `--data`: none for a generated world (which refuses `--data`),
 * else the source read by {@link resolveSource}, with users.dat when `--split-by attribute` reads
 * MovieLens 1M's attributes.
 */
export const resolveData = (
  raw: Pick<RawOptions, "dataset" | "data" | "splitBy">,
  context: ParseContext,
): Effect.Effect<
  { readonly data: string | null; readonly source: DataSource | null },
  CliError.ValidationError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    if (isSimulated(raw.dataset)) {
      if (Option.isSome(raw.data)) {
        return yield* fail(
          `--data is not used by --dataset ${raw.dataset}: drop it or choose a real --dataset`,
        )
      }
      return { data: null, source: null }
    }
    const resolved = yield* resolveSource(raw.dataset, raw.data, context)
    if (
      raw.splitBy === "attribute" &&
      resolved.source.format === "movielens-dat" &&
      resolved.source.users === undefined
    ) {
      return yield* fail(
        `--split-by attribute on --dataset movielens-1m needs users.dat beside ${resolved.source.ratings}`,
      )
    }
    return resolved
  })
