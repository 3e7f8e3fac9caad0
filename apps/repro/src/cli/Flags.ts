/**
 * The flags of `bun run repro`, with the descriptions `--help` prints, and their raw values
 * ({@link RawOptions}) before the cross-flag rules (`Resolve.ts`). What each flag accepts on its
 * own is checked here (`Values.ts`); every numeric flag has a stated range (`Vocabulary.bounds`).
 *
 * @module
 */
import { Sources } from "@causald/data"
import { BaseModels } from "@causald/models"
import { Effect, type Option, type Schema } from "effect"
import { Flag } from "effect/cli"
import { bases, cliName, methodAliases, methods } from "../Methods.ts"
import * as Readings from "../Readings.ts"
import {
  backends,
  bounds,
  datasets,
  defaultPartners,
  experiments,
  formatOf,
  type Partners,
  splits,
} from "../Vocabulary.ts"
import { invalid } from "./Errors.ts"
import { coefficient, commaList, integerIn, numberIn, parseJson } from "./Values.ts"

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
