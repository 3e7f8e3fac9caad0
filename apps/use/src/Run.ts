/**
 * A finished repro run, opened for use: its recorded options (`results.json`'s
 * `manifest.configuration`), its data prepared again from them (`RunData.prepare`, the function
 * the study itself prepared it with) and checked against the run's `fingerprint.json`, and one
 * trained model, rebuilt with the run's architecture (`RunData.baseModel`, at the base-model
 * configuration recorded in `fingerprint.json`) and loaded from its saved best checkpoint
 * (`models/<method>/seed-<n>/best.ckpt`). Nothing is retrained.
 *
 * Every failure is a {@link UseError}: one line that names the flag, file or id at fault and
 * what was expected, before any scoring.
 *
 * @module
 */
import { Checkpoint, type Parameter, Tensors } from "@causald/core"
import { type DataSource, Fingerprint, type PreparedDataset } from "@causald/data"
import { BaseModels, forInference, type Recommender } from "@causald/models"
import { RunData } from "@causald/training"
import { Effect, FileSystem, Schema } from "effect"

/** Bad input or an unusable run: `subject` (a flag with its value, a file, an id) and why. */
export class UseError extends Schema.TaggedError<UseError>()("UseError", {
  subject: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.subject}: ${this.reason}`
  }
}

/** The fields of a run's recorded configuration (`StudyOptions` of `apps/repro`) used here. */
const Configuration = Schema.Struct({
  dataset: Schema.String,
  source: Schema.NullOr(Schema.Unknown),
  base: Schema.Literals(["din", "deepfm"]),
  quick: Schema.Boolean,
  epochs: Schema.NullOr(Schema.Number),
  methods: Schema.Array(Schema.String),
  kCore: Schema.optionalKey(Schema.Number),
  strength: Schema.optionalKey(Schema.Number),
  intents: Schema.optionalKey(Schema.Number),
  batchSize: Schema.optionalKey(Schema.Number),
  learningRate: Schema.optionalKey(Schema.Number),
  reading: Schema.optionalKey(Schema.String),
})
export type Configuration = typeof Configuration.Type

/** What this module reads of `results.json` (schema version 2, `apps/repro/README.md`). */
const ResultsHead = Schema.Struct({
  schemaVersion: Schema.Number,
  manifest: Schema.Struct({
    configuration: Configuration,
    seeds: Schema.Array(Schema.Number),
    backend: Schema.String,
  }),
})

/** What this module reads of `fingerprint.json`. */
const FingerprintRecord = Schema.Struct({
  data: Schema.String,
  name: Schema.String,
  settings: Schema.Record(Schema.String, Schema.Union([Schema.Number, Schema.String])),
  /**
   * The base model's configuration as the study resolved it; absent in runs bound before it was
   * recorded, which were all trained at the base model's defaults.
   */
  model: Schema.optionalKey(
    Schema.Struct({ base: Schema.String, config: Schema.Record(Schema.String, Schema.Json) }),
  ),
})

/** A run folder, its options and its data, checked against the run's fingerprint. */
export interface OpenRun {
  /** The folder as given. */
  readonly dir: string
  readonly configuration: Configuration
  readonly seeds: ReadonlyArray<number>
  /** The prepared data, equal (by its SHA-256) to what the run's models were trained on. */
  readonly data: PreparedDataset
  /** SHA-256 of the data (`fingerprint.json`'s `data`). */
  readonly fingerprint: string
  /** The base model and its configuration, as the run recorded them (`fingerprint.json`). */
  readonly baseModel: BaseModels.Resolved
}

const runError = (dir: string, reason: string) => new UseError({ subject: `--run ${dir}`, reason })

const notARun = (dir: string, what: string) =>
  runError(
    dir,
    `not a repro run folder (${what}; expected a folder written by bun run repro --out)`,
  )

/** Reads a JSON file with a schema; a failure names the file. */
const readJson = <S extends Schema.Top>(file: string, schema: S, what: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(file)
      .pipe(
        Effect.mapError(
          (e) => new UseError({ subject: file, reason: `cannot read: ${e.message}` }),
        ),
      )
    return yield* Schema.decodeUnknownEffect(Schema.fromJsonString(schema))(text).pipe(
      Effect.mapError(
        (e) =>
          new UseError({
            subject: file,
            reason: `not ${what}: ${e.message.replace(/\s*\n\s*/g, " ")}`,
          }),
      ),
    )
  }) as Effect.Effect<S["Type"], UseError, FileSystem.FileSystem | S["DecodingServices"]>

const kind = (path: string): Effect.Effect<string, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.stat(path).pipe(
      Effect.map((info): string => info.type),
      Effect.orElseSucceed(() => "missing"),
    )
  })

/**
 * Opens a run folder: checks that it is one (`fingerprint.json`, `models/`, `results.json`),
 * prepares its data again from the recorded options (`cacheDir`: the data cache of real data
 * sets) and checks it against `fingerprint.json`.
 */
export const open = (
  dir: string,
  cacheDir?: string,
): Effect.Effect<OpenRun, UseError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const type = yield* kind(dir)
    if (type === "missing") return yield* runError(dir, "no such folder")
    if (type !== "Directory") return yield* runError(dir, "not a folder")
    if ((yield* kind(`${dir}/fingerprint.json`)) !== "File")
      return yield* notARun(dir, "it has no fingerprint.json")
    if ((yield* kind(`${dir}/models`)) !== "Directory")
      return yield* notARun(dir, "it has no models folder")
    if ((yield* kind(`${dir}/results.json`)) !== "File")
      return yield* runError(
        dir,
        `the study has not finished: there is no results.json, which records the options its data is prepared from; finish it with bun run repro --out ${dir} and the same flags`,
      )
    const head = yield* readJson(`${dir}/results.json`, ResultsHead, "a repro results.json")
    if (head.schemaVersion !== 2)
      return yield* new UseError({
        subject: `${dir}/results.json`,
        reason: `schema version ${head.schemaVersion}, expected 2`,
      })
    const recorded = yield* readJson(`${dir}/fingerprint.json`, FingerprintRecord, "a fingerprint")
    const configuration = head.manifest.configuration
    const options: RunData.RunOptions = {
      ...configuration,
      source: configuration.source as DataSource | null,
    }
    const data = yield* RunData.prepare(options, RunData.profileOf(options), cacheDir).pipe(
      Effect.mapError((e) =>
        runError(
          dir,
          `cannot prepare its data again from the recorded options: ${e.message.replace(/\s*\n\s*/g, " ")}`,
        ),
      ),
    )
    const fingerprint = Fingerprint.dataFingerprint(data)
    if (fingerprint !== recorded.data)
      return yield* runError(
        dir,
        `its data prepared again (${data.name}, sha256 ${fingerprint.slice(0, 12)}) differs from what its models were trained on (${recorded.name}, sha256 ${recorded.data.slice(0, 12)}, fingerprint.json); was the data file changed since?`,
      )
    if (recorded.settings.base !== undefined && recorded.settings.base !== configuration.base)
      return yield* runError(
        dir,
        `fingerprint.json records base ${recorded.settings.base}, results.json ${configuration.base}`,
      )
    if (recorded.model !== undefined && recorded.model.base !== configuration.base)
      return yield* runError(
        dir,
        `fingerprint.json records base model ${recorded.model.base}, results.json ${configuration.base}`,
      )
    // the models' architecture: the configuration the study resolved and recorded (absent in
    // runs from before it was recorded: the defaults, which every model was trained at then)
    const baseModel = yield* Effect.mapError(
      Effect.fromResult(BaseModels.resolve(configuration.base, recorded.model?.config)),
      (e) =>
        new UseError({
          subject: `${dir}/fingerprint.json`,
          reason: `its base-model configuration cannot be built: ${e.message}`,
        }),
    )
    return { dir, configuration, seeds: head.manifest.seeds, data, fingerprint, baseModel }
  })

/** One trained model of a run, ready to score. */
export interface LoadedModel {
  /** The model folder's method (`base` for DIN or DeepFM). */
  readonly method: string
  readonly seed: number
  /** `din` or `deepfm`. */
  readonly kind: "din" | "deepfm"
  /** The model as it scores (`forInference`). */
  readonly model: Recommender
  /** The model as built (its configuration, for the ONNX export). */
  readonly network: Recommender
  /** Its parameters and buffers, as loaded (for the ONNX export). */
  readonly parameters: ReadonlyArray<Parameter>
  /** The best epoch and its validation AUC (`best.ckpt`'s record). */
  readonly bestEpoch: number | null
  readonly validationAuc: number | null
  /** The model's `provenance.json` settings (coefficients, the reading of the paper), if any. */
  readonly settings: { readonly [name: string]: number | string } | null
  /** Frees the model's parameters. */
  readonly dispose: () => void
}

const Provenance = Schema.Struct({
  settings: Schema.Record(Schema.String, Schema.Union([Schema.Number, Schema.String])),
})

/** The methods of a run that have seed folders, sorted. */
export const trainedMethods = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(`${dir}/models`).pipe(Effect.orElseSucceed(() => []))
    const methods: Array<string> = []
    for (const name of names.sort()) {
      const inner = yield* fs
        .readDirectory(`${dir}/models/${name}`)
        .pipe(Effect.orElseSucceed(() => []))
      if (inner.some((f) => /^seed-\d+$/.test(f))) methods.push(name)
    }
    return methods
  })

/**
 * The model folder's name of `--method`: `din` and `deepfm` name the run's base model (`base`),
 * as on repro's command line.
 */
export const methodFolder = (run: OpenRun, method: string): Effect.Effect<string, UseError> => {
  if (method === "din" || method === "deepfm") {
    if (method !== run.configuration.base)
      return Effect.fail(
        new UseError({
          subject: `--method ${method}`,
          reason: `this run's base recommender is ${run.configuration.base}; use --method ${run.configuration.base} (or base)`,
        }),
      )
    return Effect.succeed("base")
  }
  return Effect.succeed(method)
}

/**
 * Loads a trained model of `run`: `--method` and `--seed` name its folder; it must have finished
 * training (`last.ckpt` records it); its best checkpoint is loaded into the run's architecture.
 */
export const loadModel = (
  run: OpenRun,
  method: string,
  seed: number,
): Effect.Effect<LoadedModel, UseError, FileSystem.FileSystem | Tensors> =>
  Effect.gen(function* () {
    const backend = yield* Tensors
    const folder = yield* methodFolder(run, method)
    const methods = yield* trainedMethods(run.dir)
    const shown = methods.map((m) => (m === "base" ? `${m} (${run.configuration.base})` : m))
    if (!methods.includes(folder))
      return yield* new UseError({
        subject: `--method ${method}`,
        reason: `${run.dir} has no trained model of this method; it has ${shown.join(", ") || "none"}`,
      })
    const fs = yield* FileSystem.FileSystem
    const directory = `${run.dir}/models/${folder}/seed-${seed}`
    if ((yield* kind(directory)) !== "Directory") {
      const seeds = (yield* fs
        .readDirectory(`${run.dir}/models/${folder}`)
        .pipe(Effect.orElseSucceed(() => [])))
        .filter((f) => /^seed-\d+$/.test(f))
        .map((f) => Number(f.slice(5)))
        .sort((a, b) => a - b)
      return yield* new UseError({
        subject: `--seed ${seed}`,
        reason: `models/${folder} of ${run.dir} has no such seed; it has ${seeds.join(", ")}`,
      })
    }
    const unfinished = (why: string) =>
      new UseError({
        subject: `--method ${method} --seed ${seed}`,
        reason: `the model in ${directory} has not finished training (${why}); finish it with bun run repro --out ${run.dir} and the run's flags`,
      })
    if ((yield* kind(`${directory}/last.ckpt`)) !== "File")
      return yield* unfinished("no epoch done")
    const last = yield* Checkpoint.load(`${directory}/last.ckpt`).pipe(
      Effect.mapError((e) => new UseError({ subject: e.path, reason: e.reason })),
    )
    const state = last.meta as { finished?: unknown; epoch?: unknown } | null
    if (state?.finished !== true)
      return yield* unfinished(`${typeof state?.epoch === "number" ? state.epoch : 0} epochs done`)
    const model = RunData.baseModel(backend, run.baseModel, run.data, seed)
    const parameters = [...model.parameters, ...(model.buffers ?? [])]
    const meta = yield* Checkpoint.loadParameters(`${directory}/best.ckpt`, parameters).pipe(
      Effect.mapError((e) => {
        backend.dispose(parameters)
        return new UseError({ subject: e.path, reason: e.reason })
      }),
    )
    const best = meta as { epoch?: unknown; validationAuc?: unknown } | null
    const settings =
      (yield* kind(`${directory}/provenance.json`)) === "File"
        ? (yield* readJson(`${directory}/provenance.json`, Provenance, "a provenance record"))
            .settings
        : null
    return {
      method: folder,
      seed,
      kind: run.configuration.base,
      model: forInference(model),
      network: model,
      parameters,
      bestEpoch: typeof best?.epoch === "number" ? best.epoch : null,
      validationAuc: typeof best?.validationAuc === "number" ? best.validationAuc : null,
      settings,
      dispose: () => backend.dispose(parameters),
    }
  })
