/**
 * The command line of `bun run repro`: flags in, a typed {@link StudyOptions} out.
 *
 * Single-flag problems (an unknown data set, a seed count out of its range, an unknown method) are
 * `CliError.InvalidValue`s naming the flag and what it accepts; every numeric flag has a stated
 * range ({@link bounds}). Rules that involve several flags or the file system (`--data` required
 * for a real data set, an experiment whose methods were left out, an attribute split on a data set
 * without attributes, an `--out` that is empty, a root-like folder, a file, or not writable) are
 * `CliError.ValidationError`s from {@link resolveStudyOptions}, checked before the study starts;
 * what needs the data itself (`--teachers` against its users, `--attribute` against its columns)
 * is checked once it is prepared, before anything trains (`Validate.ts`). {@link main} prints a
 * flag error as one line and a pointer to `--help` on standard error, never with the help text
 * or a stack trace, and routes log warnings to standard error, so standard output holds only the
 * results table.
 *
 * @module
 */
import { homedir } from "node:os"
import { type DataSource, Sources } from "@causald/data"
import { BaseModels } from "@causald/models"
import {
  Console,
  Effect,
  FileSystem,
  Logger,
  Option,
  Path,
  Result,
  type Schema,
  Stdio,
} from "effect"
import { CliError, CliOutput, Command, Flag } from "effect/cli"
import { fileSystemReason } from "./Explain.ts"
import { bases, cliName, experimentNeeds, type Method, methodAliases, methods } from "./Methods.ts"
import { repoRoot, type StudyOptions } from "./Options.ts"
import * as Readings from "./Readings.ts"
import {
  backends,
  bounds,
  type Dataset,
  datasets,
  defaultPartners,
  type Experiment,
  experiments,
  formatOf,
  frontDoorOnly,
  isSimulated,
  optInExperiments,
  type Partners,
  type SimulatedDataset,
  splits,
} from "./Vocabulary.ts"

/** What option resolution depends on besides the flags (fixed in tests). */
export interface ParseContext {
  /** Used for the default `--out` folder name. */
  readonly now: Date
  /** Relative `--data` and `--out` paths are resolved against it. */
  readonly cwd: string
  /** The repository root, for the default ml-100k folder `../shared/data/ml-100k`. */
  readonly repoRoot: string
  /** The user's home folder, refused (with its ancestors) as `--out`; unset: not checked. */
  readonly home?: string
}

const defaultContext = (): ParseContext => ({
  now: new Date(),
  cwd: process.cwd(),
  repoRoot,
  home: homedir(),
})

const invalid = (option: string, value: string, expected: string) =>
  new CliError.InvalidValue({ option, value, expected, kind: "flag" })

/** An integer flag within `range` (one of {@link bounds}). */
const integerIn =
  (name: string, range: { readonly min: number; readonly max: number }, hint: string) =>
  (flag: Flag.Flag<number>) =>
    Flag.mapEffect(flag, (n) =>
      Number.isInteger(n) && n >= range.min && n <= range.max
        ? Effect.succeed(n)
        : Effect.fail(invalid(name, String(n), `an integer in ${range.min}..${range.max}${hint}`)),
    )

/** A loss coefficient in [0, 1000] ({@link bounds}). */
const coefficient = (name: string) =>
  numberIn(name, bounds.lambda, " (the paper searches 0.01, 0.1, 1, 10)")

/**
 * A number in [min, max] (with `openMin`, in (min, max]), else an error naming the flag and the
 * range.
 */
const numberIn =
  (
    name: string,
    range: { readonly min: number; readonly max: number },
    hint = "",
    openMin = false,
  ) =>
  (flag: Flag.Flag<number>) =>
    Flag.mapEffect(flag, (x) =>
      (openMin ? x > range.min : x >= range.min) && x <= range.max
        ? Effect.succeed(x)
        : Effect.fail(
            invalid(
              name,
              String(x),
              `a number in ${openMin ? "(" : "["}${range.min}, ${range.max}]${hint}`,
            ),
          ),
    )

/** Parses a comma list against `accepted` (plus `all`), keeping the canonical order. */
const commaList = <A extends string>(
  name: string,
  accepted: ReadonlyArray<A>,
  aliases: { readonly [name: string]: A },
  shown: string,
) =>
  Flag.mapEffect((raw: string) => {
    const parts = raw
      .split(",")
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s.length > 0)
    if (parts.length === 0) return Effect.fail(invalid(name, raw, `a comma list of: ${shown}`))
    const chosen = new Set<A>()
    for (const p of parts) {
      if (p === "all") {
        for (const a of accepted) chosen.add(a)
        continue
      }
      const a = aliases[p] ?? accepted.find((x) => x === p)
      if (a === undefined) {
        return Effect.fail(invalid(name, p, `a comma list of: ${shown}, or all`))
      }
      chosen.add(a)
    }
    return Effect.succeed(accepted.filter((a) => chosen.has(a)))
  })

/** The default k-core of each real data set (`Sources.defaultKCore`), in words for `--help`. */
export const kCoreDefaults = (): string => {
  const byValue = new Map<number, Array<string>>()
  for (const [dataset, format] of Object.entries(formatOf)) {
    const k = Sources.defaultKCore(format)
    byValue.set(k, [...(byValue.get(k) ?? []), dataset])
  }
  return [...byValue]
    .map(
      ([k, names]) =>
        `${names.join(", ")} ${k}${k === 16 ? " (the paper's)" : " (already 5-core files; 16 keeps too few users)"}`,
    )
    .join("; ")
}

/** A base model's defaults in words for `--help`: `embeddingSize 8, attentionHidden [80,40], ...`. */
const describeDefaults = (base: BaseModels.BaseModelName): string =>
  Object.entries(BaseModels.baseModels[base].defaults)
    .map(([name, value]) => `${name} ${JSON.stringify(value)}`)
    .join(", ")

/** `raw` parsed as JSON; undefined when it is not JSON. */
const parseJson = (raw: string): unknown => {
  try {
    return JSON.parse(raw)
  } catch {
    return undefined
  }
}

/** The flag of one open point of the paper (`Readings.dimensions`); absent: the preset's choice. */
const readingFlag = <N extends Readings.DimensionName>(
  name: N,
): Flag.Flag<Option.Option<Readings.ChoiceOf<N>>> => {
  const d = Readings.dimensions[name]
  return Flag.Literals(d.flag, d.choices as ReadonlyArray<Readings.ChoiceOf<N>>).pipe(
    Flag.withDescription(d.description),
    Flag.optional,
  )
}

/** The flags of the `repro` command. */
export const flags = {
  dataset: Flag.Literals("dataset", datasets).pipe(
    Flag.withDescription(
      "Data set to run on (default simulated); simulated and frontdoor are generated worlds with the true P(click | do(history)) (frontdoor: one where front-door adjustment is identified, with oracles and an interventional test); every other one needs --data",
    ),
    Flag.withDefault("simulated"),
  ),
  data: Flag.String("data").pipe(
    Flag.withMetavar("PATH"),
    Flag.withDescription(
      "Input file or folder: movielens-100k a folder with u.data (default ../shared/data/ml-100k " +
        "from the repository root, when present); movielens-1m a folder with ratings.dat (and " +
        "users.dat) or the ratings.dat file; amazon-csv item,user,rating,time; amazon-json 5-core " +
        "JSON lines; sequences 'user item1 item2 ...' lines; exposure-log user,item,clicked,time",
    ),
    Flag.optional,
  ),
  base: Flag.Literals("base", bases).pipe(
    Flag.withDescription(
      "Base recommender of every method (Table 3: din, Table 4: deepfm; default din)",
    ),
    Flag.withDefault("din"),
  ),
  baseConfig: Flag.String("base-config").pipe(
    Flag.withMetavar("JSON"),
    Flag.withDescription(
      `Options of the base recommender over its defaults, a JSON object (e.g. '{"embeddingSize":16}'), checked against --base's configuration before anything trains. din: ${describeDefaults("din")}; deepfm: ${describeDefaults("deepfm")}`,
    ),
    Flag.mapEffect((raw: string) => {
      const parsed = parseJson(raw)
      return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
        ? Effect.succeed(parsed as { readonly [key: string]: Schema.Json })
        : Effect.fail(
            invalid(
              "base-config",
              raw,
              `a JSON object of base-model options, e.g. '{"embeddingSize":16}'`,
            ),
          )
    }),
    Flag.optional,
  ),
  methods: Flag.String("methods").pipe(
    Flag.withMetavar("LIST"),
    Flag.withDescription(
      `Comma list of methods: ${methods
        .map((m) =>
          m === "base"
            ? `${cliName(m)} (the base model, also ${["base", ...Object.keys(methodAliases)]
                .filter((a) => a !== cliName(m))
                .map((a) => `'${a}'`)
                .join(" or ")})`
            : m,
        )
        .join(", ")}; default all`,
    ),
    commaList("methods", methods, methodAliases, methods.map(cliName).join(", ")),
    Flag.optional,
  ),
  seeds: Flag.Int("seeds").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription(
      "Independent runs (seeds) per method, in 1..50, default 3 (the paper: 5); t-tests need at least 2",
    ),
    Flag.withDefault(3),
    integerIn("seeds", bounds.seeds, " (the paper runs 5)"),
  ),
  firstSeed: Flag.Int("first-seed").pipe(
    Flag.withMetavar("S"),
    Flag.withDescription(
      `The first seed, in ${bounds.firstSeed.min}..${bounds.firstSeed.max}, default 1: the study runs seeds S..S+N-1 (N = --seeds), so that one study can be run in parts, in several sessions or on several machines, and the parts' results.json joined by \`bun run repro-merge\` (Table 7 and Fig. 5 run on each part's first seed: leave them out of the later parts' --experiments)`,
    ),
    Flag.withDefault(1),
    integerIn("first-seed", bounds.firstSeed, ""),
  ),
  teachers: Flag.Int("teachers").pipe(
    Flag.withMetavar("K"),
    Flag.withDescription(
      "Number of heterogeneous teachers K (section 3.3.1), in 2..64, default 4; each teacher's user subset must hold the study's minimum users (checked against the data before anything trains)",
    ),
    Flag.withDefault(4),
    integerIn(
      "teachers",
      bounds.teachers,
      " (front-door adjustment needs several mediator samples)",
    ),
  ),
  splitBy: Flag.Literals("split-by", splits).pipe(
    Flag.withDescription(
      "What the teachers' user subsets are split by: a confounder (activeness, consistency), a " +
        "user attribute (--attribute) or random IID subsets; default activeness",
    ),
    Flag.withDefault("activeness"),
  ),
  attribute: Flag.String("attribute").pipe(
    Flag.withMetavar("NAME"),
    Flag.withDescription(
      "User attribute for --split-by attribute (MovieLens: gender, age, occupation; default gender)",
    ),
    Flag.optional,
  ),
  lambdaBda: Flag.Finite("lambda-bda").pipe(
    Flag.withDescription(
      "Coefficient λ_BDA of the back-door adjustment loss (eq. 22), in [0, 1000], default 1",
    ),
    Flag.withDefault(1),
    coefficient("lambda-bda"),
  ),
  lambdaFda: Flag.Finite("lambda-fda").pipe(
    Flag.withDescription(
      "Coefficient λ_FDA of the front-door adjustment loss (eq. 22), in [0, 1000], default 1",
    ),
    Flag.withDefault(1),
    coefficient("lambda-fda"),
  ),
  reading: Flag.Literals("reading", Readings.presetNames).pipe(
    Flag.withDescription(
      `A named reading of the paper's open points: ${Readings.presetNames.join(", ")} (default literal: every choice below at its default; ${Readings.presetNames
        .filter((p) => p !== "literal")
        .map(
          (p) =>
            `${p}: ${Object.entries(Readings.presets[p])
              .map(([k, v]) => `${k} ${v}`)
              .join(", ")}`,
        )
        .join("; ")}); an explicit flag below overrides it`,
    ),
    Flag.withDefault("literal"),
  ),
  bdaDistance: readingFlag("bdaDistance"),
  teacherInit: readingFlag("teacherInit"),
  studentInit: readingFlag("studentInit"),
  fdaItems: readingFlag("fdaItems"),
  teacherPrior: readingFlag("teacherPrior"),
  fdaWarmup: readingFlag("fdaWarmup"),
  fdaHidden: Flag.String(Readings.fdaHidden.flag).pipe(
    Flag.withMetavar("W,..."),
    Flag.withDescription(Readings.fdaHidden.description),
    Flag.mapEffect((raw: string) => {
      const widths = raw.split(",").map((w) => Number(w.trim()))
      return widths.length > 0 && widths.every((w) => Number.isInteger(w) && w >= 1 && w <= 1024)
        ? Effect.succeed<ReadonlyArray<number>>(widths)
        : Effect.fail(
            invalid(
              "fda-hidden",
              raw,
              "a comma list of integer widths in 1..1024, e.g. 16 or 80,40",
            ),
          )
    }),
    Flag.optional,
  ),
  partners: Flag.String("partners").pipe(
    Flag.withMetavar("S|all"),
    Flag.withDescription(
      "In-batch partners per row of CausalD's causal label (eq. 14): S sampled ones in 1..1024 (Monte-Carlo, default 16; fewer is faster and noisier) or all (the exact average over the batch, as the paper prints it; its [K, B, B, h] tensor limits K)",
    ),
    Flag.withDefault(String(defaultPartners)),
    Flag.mapEffect((raw: string) => {
      const value = raw.trim().toLowerCase()
      if (value === "all") return Effect.succeed<Partners>("all")
      const n = Number(value)
      const { min, max } = bounds.partners
      return Number.isInteger(n) && n >= min && n <= max && value !== ""
        ? Effect.succeed<Partners>(n)
        : Effect.fail(invalid("partners", raw, `an integer in ${min}..${max}, or all`))
    }),
  ),
  strength: Flag.Finite("strength").pipe(
    Flag.withMetavar("S"),
    Flag.withDescription(
      "Confounding strength s in [0, 1] of --dataset simulated or frontdoor (0: observational = interventional; default 1)",
    ),
    numberIn("strength", { min: 0, max: 1 }),
    Flag.optional,
  ),
  intents: Flag.Int("intents").pipe(
    Flag.withMetavar("T"),
    Flag.withDescription(
      "Values of the front-door world's mediator (the user's current intent), in 2..64, default 8",
    ),
    integerIn("intents", bounds.intents, " (the mediator needs several values)"),
    Flag.optional,
  ),
  batchSize: Flag.Int("batch-size").pipe(
    Flag.withMetavar("B"),
    Flag.withDescription(
      `Training rows per step (positives and their negatives), in ${bounds.batchSize.min}..${bounds.batchSize.max}; default per data set: simulated and real data 512, frontdoor 128 (the paper: 4096, which on ml-100k gives 46 steps an epoch and a long plateau)`,
    ),
    integerIn("batch-size", bounds.batchSize, ""),
    Flag.optional,
  ),
  learningRate: Flag.Finite("learning-rate").pipe(
    Flag.withMetavar("LR"),
    Flag.withDescription(
      `Adagrad's learning rate (the paper's optimiser), in (${bounds.learningRate.min}, ${bounds.learningRate.max}]; default 0.3, --quick 0.1 (the paper: 0.01, which at our epoch budgets leaves the models on a flat loss)`,
    ),
    numberIn("learning-rate", bounds.learningRate, "", true),
    Flag.optional,
  ),
  epochs: Flag.Int("epochs").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription(
      "Maximum training epochs of every model, in 1..1000; default per data set: simulated 5, frontdoor 20, real data 50 (at least 8, early stopping with patience 3), --quick 2. On real data, epochs over all users: a model on 1/k of the users runs k times as many of its own",
    ),
    integerIn("epochs", bounds.epochs, ""),
    Flag.optional,
  ),
  kCore: Flag.Int("kcore").pipe(
    Flag.withMetavar("K"),
    Flag.withDescription(
      `k-core filter of a real data set (section 5.1): users and items with fewer than K interactions are dropped, repeatedly; in 1..1000, and every user needs 3 interactions for the leave-last-out split. Default per data set: ${kCoreDefaults()}`,
    ),
    integerIn("kcore", bounds.kCore, ""),
    Flag.optional,
  ),
  backend: Flag.Literals("backend", backends).pipe(
    Flag.withDescription("Tensor backend (default auto: tensorflow, else wasm, else cpu)"),
    Flag.withDefault("auto"),
  ),
  out: Flag.String("out").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription(
      "Output folder (default runs/<dataset>-<base>-<UTC time>); not empty, not the file-system root, the repository root or the home folder; rerun with the same folder to resume, which it only does on the same data (fingerprint.json)",
    ),
    Flag.optional,
  ),
  experiments: Flag.String("experiments").pipe(
    Flag.withMetavar("LIST"),
    Flag.withDescription(
      "Comma list of table2, table3, table5, table7, fig1, fig4, fig5, strength (frontdoor only: " +
        "agreement with the truth against the confounding strength), readings (the screen of the " +
        "paper's readings: a CausalD per reading and seed; only when named); default every one " +
        "whose methods are in --methods and that the data set supports, but readings",
    ),
    commaList("experiments", experiments, {}, experiments.join(", ")),
    Flag.optional,
  ),
  quick: Flag.Boolean("quick").pipe(
    Flag.withDescription("Tiny data and models, for the end-to-end test (numbers meaningless)"),
    Flag.withDefault(false),
  ),
  screen: Flag.String("screen").pipe(
    Flag.withMetavar("LIST"),
    Flag.withDescription(
      `Which readings --experiments readings screens, a comma list of: ${Readings.screen.map((e) => e.name).join(", ")}; default all`,
    ),
    commaList(
      "screen",
      Readings.screen.map((e) => e.name),
      {},
      Readings.screen.map((e) => e.name).join(", "),
    ),
    Flag.optional,
  ),
  heterogeneity: Flag.Literals("heterogeneity", ["on", "off"] as const).pipe(
    Flag.withDescription(
      "on (default): train the group-wise models of every seed and report Heterogeneity (eq. 8); off: neither, for a screen where only the ranking metrics matter (each group-wise model costs a model's training)",
    ),
    Flag.withDefault("on"),
  ),
  fullRanking: Flag.Boolean("full-ranking").pipe(
    Flag.withDescription(
      "Also evaluate on full ranking: each test target against every item the user has not consumed (besides the paper's 100 sampled negatives); costs about items/100 times the sampled evaluation",
    ),
    Flag.withDefault(false),
  ),
  fullRankingUsers: Flag.Int("full-ranking-users").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription(
      "With --full-ranking: rank a seeded sample of N users (the same for every method and seed) instead of every user, for data sets whose users x items scores are over the limit (40M), e.g. Amazon Beauty; default every user",
    ),
    integerIn("full-ranking-users", bounds.fullRankingUsers, ""),
    Flag.optional,
  ),
  search: Flag.Boolean("search").pipe(
    Flag.withDescription(
      "Choose each method's loss coefficient (λ in {0.01, 0.1, 1, 10}; IPS/CausalRec clipping in {1/2..1/10}) " +
        "by validation AUC on the first seed, as the paper does; default off (each method's default)",
    ),
    Flag.withDefault(false),
  ),
  workers: Flag.Int("workers").pipe(
    Flag.withMetavar("N"),
    Flag.withDescription(
      "Processes training models at once on the same --out, in 1..64, default 1: each needs a " +
        "core and its own memory (up to 1.8 GB per process measured on ml-100k); the results are " +
        "those of --workers 1",
    ),
    Flag.withDefault(1),
    integerIn("workers", bounds.workers, " (processes training at once, at most one per core)"),
  ),
  cluster: Flag.String("cluster").pipe(
    Flag.withMetavar("URL"),
    Flag.withDescription(
      "Train the models on a cluster whose state is in the PostgreSQL database URL " +
        "(postgres://user:password@host:port/db): workers started with " +
        "`bun run repro-worker --cluster URL` on any machines that share --out at the same path " +
        "train them; this process waits for them, then alone writes the outputs. Default: train here",
    ),
    Flag.optional,
  ),
} as const

/** The raw flag values, before cross-flag resolution. */
export type RawOptions = {
  readonly [K in keyof typeof flags]: (typeof flags)[K] extends Flag.Flag<infer A> ? A : never
}

const fail = (message: string) => Effect.fail(new CliError.ValidationError({ message }))

/** `20260102T030405Z`: a UTC time usable in a folder name. */
export const utcStamp = (date: Date): string =>
  date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "")

const describeData: { readonly [D in Exclude<Dataset, SimulatedDataset>]: string } = {
  "movielens-100k": "a MovieLens 100K folder with u.data (and u.user for the user attributes)",
  "movielens-1m": "a MovieLens 1M folder with ratings.dat (and users.dat), or the ratings.dat file",
  "amazon-csv": "an Amazon ratings-only CSV file (item,user,rating,time)",
  "amazon-json": "an Amazon 5-core JSON lines file",
  sequences: "a sequence file ('user item1 item2 ...' per line)",
  "exposure-log": "an exposure log CSV file (user,item,clicked,time)",
}

/** Reads `--data` as the data set's source, failing with a message that names the flag. */
const resolveSource = (
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
 * Why `out` cannot be a run's folder without harm, or undefined: the file-system root, the
 * repository root or the home folder, or a folder above one of them, would receive
 * `results.json`, `models/` and the tables among other files (`--out ""` once wrote them into
 * the repository root).
 */
export const rootLike = (
  out: string,
  context: Pick<ParseContext, "repoRoot" | "home">,
  path: Path.Path,
): string | undefined => {
  const contains = (outer: string, inner: string) => {
    const r = path.relative(outer, path.resolve(inner))
    return r === "" || (!r.startsWith("..") && !path.isAbsolute(r))
  }
  if (out === path.parse(out).root) return "the file-system root"
  if (contains(out, context.repoRoot))
    return path.resolve(context.repoRoot) === out
      ? "the repository root"
      : "a folder holding the repository"
  if (context.home !== undefined && contains(out, context.home))
    return path.resolve(context.home) === out
      ? "the home folder"
      : "a folder holding the home folder"
  return undefined
}

/**
 * Checks, without writing anything, that the output folder can be made and written: no file in
 * its place or on its way, and its nearest existing folder writable (permission, read-only file
 * system). Fails naming `--out` and the reason. What only a write shows (no space left) is found
 * when the study binds the folder to its data, still before anything trains (`Provenance.ts`).
 */
const checkOut = (
  out: string,
): Effect.Effect<void, CliError.ValidationError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    let existing = out
    for (;;) {
      const info = yield* fs.stat(existing).pipe(Effect.option)
      if (Option.isSome(info)) {
        if (info.value.type !== "Directory")
          return yield* fail(
            existing === out
              ? `--out ${out}: a file is in the way (it is a ${info.value.type.toLowerCase()}, not a folder); give a folder`
              : `--out ${out}: a file is in the way (${existing} is a ${info.value.type.toLowerCase()}, not a folder), so the folder cannot be made`,
          )
        break
      }
      const up = path.dirname(existing)
      if (up === existing) break
      existing = up
    }
    yield* fs
      .access(existing, { writable: true })
      .pipe(
        Effect.catch((e) =>
          fail(
            `--out ${out}: cannot write in ${existing}: ${fileSystemReason(e)}; give a folder you can write`,
          ),
        ),
      )
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
    const path = yield* Path.Path
    const chosen = Option.getOrElse(raw.methods, () => methods)
    const has = (m: Method) => chosen.includes(m)
    let chosenExperiments: ReadonlyArray<Experiment>
    if (Option.isSome(raw.experiments)) {
      for (const e of raw.experiments.value) {
        const missing = experimentNeeds[e].filter((m) => !has(m))
        if (missing.length > 0) {
          return yield* fail(
            `--experiments ${e} needs --methods to include ${experimentNeeds[e].map(cliName).join(", ")} (missing: ${missing.map(cliName).join(", ")})`,
          )
        }
      }
      chosenExperiments = raw.experiments.value
      const unsupported = chosenExperiments.filter((e) => frontDoorOnly.includes(e))
      if (raw.dataset !== "frontdoor" && unsupported.length > 0)
        return yield* fail(
          `--experiments ${unsupported.join(", ")} needs --dataset frontdoor (a world with a confounding dial and exact oracles); --dataset ${raw.dataset} has none`,
        )
    } else {
      chosenExperiments = experiments.filter(
        (e) =>
          experimentNeeds[e].every(has) &&
          !optInExperiments.includes(e) &&
          (raw.dataset === "frontdoor" || !frontDoorOnly.includes(e)),
      )
    }
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
    let data: string | null = null
    let source: DataSource | null = null
    if (isSimulated(raw.dataset)) {
      if (Option.isSome(raw.data)) {
        return yield* fail(
          `--data is not used by --dataset ${raw.dataset}: drop it or choose a real --dataset`,
        )
      }
    } else {
      const resolved = yield* resolveSource(raw.dataset, raw.data, context)
      data = resolved.data
      source = resolved.source
      if (
        raw.splitBy === "attribute" &&
        resolved.source.format === "movielens-dat" &&
        resolved.source.users === undefined
      ) {
        return yield* fail(
          `--split-by attribute on --dataset movielens-1m needs users.dat beside ${resolved.source.ratings}`,
        )
      }
    }
    if (Option.isSome(raw.out) && raw.out.value.trim() === "")
      return yield* fail(
        "--out is empty: give the output folder, or leave --out out for runs/<dataset>-<base>-<UTC time>",
      )
    const out = Option.match(raw.out, {
      onNone: () =>
        path.resolve(context.cwd, "runs", `${raw.dataset}-${raw.base}-${utcStamp(context.now)}`),
      onSome: (o) => path.resolve(context.cwd, o),
    })
    const harm = rootLike(out, context, path)
    if (harm !== undefined)
      return yield* fail(
        `--out ${out} is ${harm}: a run writes results.json, models/ and its tables there; give a folder of its own, e.g. runs/<name>`,
      )
    yield* checkOut(out)
    // the base model's configuration: its defaults, then --base-config, checked here by field
    if (Option.isSome(raw.baseConfig)) {
      const resolved = BaseModels.resolve(raw.base, raw.baseConfig.value)
      if (Result.isFailure(resolved))
        return yield* fail(
          `--base-config: ${resolved.failure.message} (--base ${raw.base} takes ${Object.keys(BaseModels.baseModels[raw.base].defaults).join(", ")})`,
        )
    }
    // the reading of the paper's open points: the preset, explicit flags on top
    const reading = Readings.resolve(raw.reading, {
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

/** The package version printed by `--version`. */
export const version = "0.1.0"

/**
 * The `repro` command: resolves the options (failing before `run` on any invalid combination) and
 * hands them to `run`, the study.
 */
/** How a study is run, besides its options (which are the study's, in results.json). */
export interface Launch {
  /** `--cluster`: the database of the cluster that trains the models; undefined: here. */
  readonly cluster: string | undefined
}

export const command = <E, R>(
  run: (options: StudyOptions, launch: Launch) => Effect.Effect<void, E, R>,
  context?: ParseContext,
) =>
  Command.make("repro", flags).pipe(
    Command.withDescription(
      "Reproduce the CausalD study (Zhang et al., TKDE): train the teachers, the base model, the " +
        "baselines and CausalD over several seeds, then write results.json, the paper's tables " +
        "and figures, and report.md",
    ),
    Command.validate((raw) => Effect.asVoid(resolveStudyOptions(raw, context))),
    Command.withHandler((raw) =>
      Effect.flatMap(resolveStudyOptions(raw, context), (options) =>
        run(options, { cluster: Option.getOrUndefined(raw.cluster) }),
      ),
    ),
  )

/**
 * Parses `args` (without the program name) to the study's options; `None` when nothing is to be
 * run (`--help`, `--version`). Help and errors go through the installed `CliOutput.Presenter`.
 */
export const parse = (
  args: ReadonlyArray<string>,
  context?: ParseContext,
): Effect.Effect<Option.Option<StudyOptions>, CliError.CliError, Command.Environment> =>
  Effect.suspend(() => {
    let parsed: Option.Option<StudyOptions> = Option.none()
    const cmd = command(
      (options) =>
        Effect.sync(() => {
          parsed = Option.some(options)
        }),
      context,
    )
    return Command.runWith(cmd, { version })(args).pipe(Effect.map(() => parsed))
  })

/** The messages of a CLI error, unwrapping the errors shown with the help text. */
export const errorMessages = (error: CliError.CliError): ReadonlyArray<string> =>
  error._tag === "ShowHelp" ? error.errors.map((e) => e.message) : [error.message]

/** A CLI error as one line: its message with the line breaks (and suggestions) folded in. */
export const oneLine = (error: CliError.CliError): string =>
  error._tag === "UnrecognizedOption"
    ? `Unrecognized flag: ${error.option}${error.suggestions.length > 0 ? ` (did you mean ${error.suggestions.join(" or ")}?)` : ""}`
    : error.message.replace(/\s*\n\s*/g, " ").trim()

/** What follows a flag error: where the flags are described. */
export const helpPointer = 'Run "bun run repro --help" for every flag and what it accepts.'

/**
 * Presents an invalid invocation as one line per error and a pointer to `--help`, all on
 * standard error (Effect's default prints the whole help text on standard output first); help
 * and version as usual.
 */
export const presenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error([...event.errors.map((e) => `repro: ${oneLine(e)}`), helpPointer].join("\n"))
      : CliOutput.defaultPresenter.present(event),
}

/** `--wizard` was cancelled, or its command not confirmed: nothing ran. */
export const wizardCancelled = "repro: the wizard was cancelled; nothing was run"

/**
 * Runs the command on the process arguments (what `src/main.ts` calls): flag errors through
 * {@link presenter}, log warnings on standard error (standard output holds the results table
 * alone), and a `--wizard` that ends without running the study exits with status 1.
 */
export const main = <E, R>(
  run: (options: StudyOptions, launch: Launch) => Effect.Effect<void, E, R>,
) =>
  Effect.gen(function* () {
    const args = yield* Effect.flatMap(Stdio.Stdio, (stdio) => stdio.args)
    let ran = false
    yield* Command.runWith(
      command((options, launch) =>
        Effect.suspend(() => {
          ran = true
          return run(options, launch)
        }),
      ),
      { version },
    )(args)
    if (!ran && args.some((a) => a === "--wizard" || a.startsWith("--wizard="))) {
      yield* Console.error(wizardCancelled)
      yield* Effect.sync(() => {
        process.exitCode = 1
      })
    }
  }).pipe(
    Effect.provide(CliOutput.layerPresenter(presenter)),
    Effect.provideService(Logger.LogToStderr, true),
  )
