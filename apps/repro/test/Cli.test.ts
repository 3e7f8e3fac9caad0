import { describe, expect, test } from "bun:test"
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import { type CliError, CliOutput } from "effect/cli"
import { errorMessages, flags, type ParseContext, parse, utcStamp } from "../src/Cli.ts"
import { methods } from "../src/Methods.ts"
import type { StudyOptions } from "../src/Options.ts"
import { experiments } from "../src/Vocabulary.ts"

/** A scratch tree: <root>/repo is the repository, <root>/shared/data/ml-100k the shared data. */
const root = mkdtempSync(join(tmpdir(), "causald-cli-"))
const repo = join(root, "repo")
mkdirSync(repo)
const withMl100k = join(root, "with")
mkdirSync(join(withMl100k, "repo"), { recursive: true })
mkdirSync(join(withMl100k, "shared", "data", "ml-100k"), { recursive: true })
writeFileSync(join(withMl100k, "shared", "data", "ml-100k", "u.data"), "1\t1\t5\t1\n")
const ml1m = join(root, "ml-1m")
mkdirSync(ml1m)
writeFileSync(join(ml1m, "ratings.dat"), "1::1::5::1\n")
writeFileSync(join(ml1m, "users.dat"), "1::F::1::10::48067\n")
const csvFile = join(root, "books.csv")
writeFileSync(csvFile, "i,u,5,1\n")

const now = new Date("2026-01-02T03:04:05.678Z")
const context: ParseContext = { now, cwd: root, repoRoot: repo }

const events: Array<CliOutput.Presenter.Event> = []
const layer = Layer.mergeAll(
  NodeServices.layer,
  CliOutput.layerPresenter({ present: (event) => Effect.sync(() => events.push(event)) }),
)

const run = (args: ReadonlyArray<string>, ctx: ParseContext = context) =>
  Effect.runPromise(parse(args, ctx).pipe(Effect.provide(layer)))

const ok = async (args: ReadonlyArray<string>, ctx?: ParseContext): Promise<StudyOptions> => {
  const o = await run(args, ctx)
  if (Option.isNone(o)) throw new Error("no options parsed")
  return o.value
}

/** The messages of a failed parse. */
const errors = async (args: ReadonlyArray<string>, ctx?: ParseContext) => {
  const error = await Effect.runPromise(
    Effect.flip(parse(args, ctx ?? context)).pipe(Effect.provide(layer)),
  )
  return errorMessages(error as CliError.CliError)
}

describe("Cli: defaults", () => {
  test("no flags: the simulated study with every method and experiment", async () => {
    const o = await ok([])
    expect(o).toEqual({
      dataset: "simulated",
      data: null,
      source: null,
      base: "din",
      methods: [...methods],
      seeds: 3,
      teachers: 4,
      splitBy: "activeness",
      attribute: "gender",
      lambdaBda: 1,
      lambdaFda: 1,
      reading: "literal",
      bdaDistance: "euclidean",
      teacherInit: "independent",
      studentInit: "scratch",
      fdaItems: "student",
      teacherPrior: "users",
      fdaWarmup: "none",
      fdaHidden: [16],
      partners: 16,
      epochs: null,
      backend: "auto",
      out: join(root, "runs", "simulated-din-20260102T030405Z"),
      experiments: experiments.filter((e) => e !== "strength" && e !== "readings"),
      quick: false,
      search: false,
      workers: 1,
    })
  })

  test("--dataset frontdoor: no --data, the strength figure by default, --strength and --intents recorded", async () => {
    const o = await ok(["--dataset", "frontdoor"])
    expect(o.data).toBeNull()
    expect(o.experiments).toContain("strength")
    expect(o.strength).toBeUndefined()
    const set = await ok(["--dataset", "frontdoor", "--strength", "0.5", "--intents", "3"])
    expect(set.strength).toBe(0.5)
    expect(set.intents).toBe(3)
    expect((await ok(["--strength", "0"])).strength).toBe(0)
    expect((await ok(["--full-ranking"])).fullRanking).toBe(true)
    const tuned = await ok(["--batch-size", "4096", "--learning-rate", "0.01"])
    expect([tuned.batchSize, tuned.learningRate]).toEqual([4096, 0.01])
    for (const [args, needle] of [
      [["--batch-size", "0"], "batch-size"],
      [["--batch-size", "1000000"], "batch-size"],
      [["--learning-rate", "0"], "learning-rate"],
      [["--learning-rate", "1e9"], "learning-rate"],
    ] as const)
      expect((await errors(args)).join("\n"), args.join(" ")).toContain(needle)
    expect((await ok([])).fullRanking).toBeUndefined()
    const sampled = await ok(["--full-ranking", "--full-ranking-users", "500"])
    expect(sampled.fullRankingUsers).toBe(500)
    expect((await errors(["--full-ranking-users", "500"])).join("\n")).toContain(
      "--full-ranking-users chooses whom --full-ranking ranks",
    )
    expect((await errors(["--full-ranking", "--full-ranking-users", "0"])).join("\n")).toContain(
      "full-ranking-users",
    )
  })

  test("the readings of the paper: --reading presets, explicit flags win, bad values named", async () => {
    const aligned = await ok(["--reading", "aligned"])
    expect(aligned.bdaDistance).toBe("mse")
    expect(aligned.teacherInit).toBe("base")
    expect(aligned.studentInit).toBe("base")
    expect(aligned.fdaItems).toBe("student")
    expect(aligned.fdaWarmup).toBe("none")
    const warm = await ok(["--reading", "aligned-warmup"])
    expect([warm.bdaDistance, warm.teacherInit, warm.studentInit, warm.fdaWarmup]).toEqual([
      "mse",
      "base",
      "base",
      "epoch",
    ])
    expect((await ok(["--fda-warmup", "epoch"])).fdaWarmup).toBe("epoch")
    for (const args of [
      ["--fda-warmup", "epoch", "--epochs", "1"],
      ["--experiments", "readings", "--screen", "aligned-warmup", "--epochs", "1"],
    ])
      expect((await errors(args)).join("\n"), args.join(" ")).toContain(
        "--epochs 1 leaves no epoch after --fda-warmup epoch",
      )
    expect((await ok(["--fda-warmup", "epoch", "--epochs", "2"])).epochs).toBe(2)
    const mixed = await ok([
      "--reading",
      "aligned",
      "--bda-distance",
      "cosine",
      "--fda-items",
      "own",
      "--teacher-prior",
      "interactions",
      "--fda-hidden",
      "80,40",
    ])
    expect(mixed.bdaDistance).toBe("cosine")
    expect(mixed.teacherInit).toBe("base")
    expect(mixed.fdaItems).toBe("own")
    expect(mixed.teacherPrior).toBe("interactions")
    expect(mixed.fdaHidden).toEqual([80, 40])
    const screened = await ok(["--experiments", "table3,readings", "--screen", "aligned,literal"])
    expect(screened.screen).toEqual(["literal", "aligned"])
    const lean = await ok(["--methods", "din,causald", "--heterogeneity", "off"])
    expect(lean.heterogeneity).toBe("off")
    expect((await ok([])).heterogeneity).toBeUndefined()
    for (const [args, needle] of [
      [["--reading", "paper"], "reading"],
      [["--fda-hidden", "0"], "fda-hidden"],
      [["--fda-hidden", "16,x"], "fda-hidden"],
      [["--student-init", "teacher"], "student-init"],
      [["--teacher-prior", "items"], "teacher-prior"],
      [["--experiments", "readings", "--screen", "paper"], "screen"],
      [["--screen", "literal"], "--screen chooses the readings of --experiments readings"],
      [["--heterogeneity", "off"], "--heterogeneity off trains no group-wise models"],
      [["--heterogeneity", "maybe"], "heterogeneity"],
    ] as const)
      expect((await errors(args)).join("\n"), args.join(" ")).toContain(needle)
  })

  test("the front-door world's bad options name the flag before anything runs", async () => {
    const one = async (args: ReadonlyArray<string>, needle: string) => {
      const messages = (await errors(args)).join("\n")
      expect(messages, args.join(" ")).toContain(needle)
    }
    await one(["--dataset", "frontdoor", "--strength", "1.5"], "strength")
    await one(["--dataset", "frontdoor", "--strength", "-0.25"], "strength")
    await one(["--dataset", "frontdoor", "--intents", "0"], "intents")
    await one(["--dataset", "frontdoor", "--intents", "1"], "intents")
    await one(["--dataset", "simulated", "--intents", "4"], "--intents sets the front-door world")
    await one(["--dataset", "movielens-100k", "--strength", "0.5"], "--strength sets a simulated")
    await one(["--experiments", "strength"], "--experiments strength needs --dataset frontdoor")
    await one(
      ["--dataset", "frontdoor", "--data", "/tmp"],
      "--data is not used by --dataset frontdoor",
    )
    await one(
      ["--dataset", "frontdoor", "--methods", "din", "--experiments", "strength"],
      "--experiments strength needs --methods to include",
    )
  })

  test("--base-config: checked against --base's configuration, the bad field named", async () => {
    const one = async (args: ReadonlyArray<string>, needles: ReadonlyArray<string>) => {
      const messages = (await errors(args)).join("\n")
      for (const needle of needles) expect(messages, args.join(" ")).toContain(needle)
    }
    await one(
      ["--base-config", '{"embeddingSize":0}'],
      ["--base-config", "embeddingSize", "found 0"],
    )
    await one(
      ["--base-config", '{"predictorHidden":[200,-80]}'],
      ["--base-config", "predictorHidden[1]", "found -80"],
    )
    // DIN's option given to DeepFM: refused, with the options DeepFM takes
    await one(
      ["--base", "deepfm", "--base-config", '{"attentionHidden":[80]}'],
      ["attentionHidden: expected no such option", "--base deepfm takes embeddingSize, dnnHidden"],
    )
    await one(["--base-config", "[8]"], ["base-config", "a JSON object"])
    await one(["--base-config", "{embeddingSize: 8"], ["base-config", "a JSON object"])
    // absent: nothing recorded (the defaults); given: recorded as given
    expect((await ok([])).baseConfig).toBeUndefined()
    expect((await ok(["--base-config", '{"userEmbedding":true}'])).baseConfig).toEqual({
      userEmbedding: true,
    })
  })

  test("utcStamp is the UTC time without separators", () => {
    expect(utcStamp(now)).toBe("20260102T030405Z")
  })

  test("every flag is set", async () => {
    const o = await ok([
      "--dataset",
      "amazon-csv",
      "--data",
      "books.csv",
      "--base",
      "deepfm",
      "--base-config",
      '{"dnnHidden":[64],"embeddingSize":16}',
      "--methods",
      "deepfm,causald,wo-fda",
      "--seeds",
      "5",
      "--first-seed",
      "6",
      "--teachers",
      "8",
      "--split-by",
      "consistency",
      "--lambda-bda",
      "0.1",
      "--lambda-fda",
      "10",
      "--bda-distance",
      "squared-euclidean",
      "--teacher-init",
      "shared",
      "--partners",
      "all",
      "--epochs",
      "20",
      "--backend",
      "wasm",
      "--out",
      "out/x",
      "--experiments",
      "table3,fig5",
      "--quick",
      "--search",
      "--workers",
      "2",
    ])
    expect(o).toEqual({
      dataset: "amazon-csv",
      data: csvFile,
      source: { format: "amazon-ratings", file: csvFile },
      base: "deepfm",
      baseConfig: { dnnHidden: [64], embeddingSize: 16 },
      methods: ["base", "causald", "wo-fda"],
      seeds: 5,
      firstSeed: 6,
      teachers: 8,
      splitBy: "consistency",
      attribute: "gender",
      lambdaBda: 0.1,
      lambdaFda: 10,
      reading: "literal",
      bdaDistance: "squared-euclidean",
      teacherInit: "shared",
      studentInit: "scratch",
      fdaItems: "student",
      teacherPrior: "users",
      fdaWarmup: "none",
      fdaHidden: [16],
      partners: "all",
      epochs: 20,
      backend: "wasm",
      out: join(root, "out", "x"),
      experiments: ["table3", "fig5"],
      quick: true,
      search: true,
      workers: 2,
    })
  })

  test("the default experiments are those whose methods were chosen", async () => {
    expect((await ok(["--methods", "din,causald"])).experiments).toEqual([
      "table2",
      "table3",
      "table7",
      "fig5",
    ])
    expect((await ok(["--methods", "din,groupwise"])).experiments).toEqual([
      "table2",
      "table3",
      "fig1",
    ])
  })

  test("methods: aliases of the base, 'all', duplicates, canonical order", async () => {
    expect((await ok(["--methods", "causald,din,DIN"])).methods).toEqual(["base", "causald"])
    expect((await ok(["--methods", "base"])).methods).toEqual(["base"])
    expect((await ok(["--methods", "all"])).methods).toEqual([...methods])
  })

  test("movielens-100k defaults to ../shared/data/ml-100k beside the repository", async () => {
    const o = await ok(["--dataset", "movielens-100k"], {
      ...context,
      repoRoot: join(withMl100k, "repo"),
    })
    const dir = join(withMl100k, "shared", "data", "ml-100k")
    expect(o.data).toBe(dir)
    expect(o.source).toEqual({ format: "movielens-100k", directory: dir })
  })

  test("movielens-1m: a folder with ratings.dat and users.dat, or the ratings file", async () => {
    expect((await ok(["--dataset", "movielens-1m", "--data", ml1m])).source).toEqual({
      format: "movielens-dat",
      ratings: join(ml1m, "ratings.dat"),
      users: join(ml1m, "users.dat"),
    })
    const o = await ok([
      "--dataset",
      "movielens-1m",
      "--data",
      join(ml1m, "ratings.dat"),
      "--split-by",
      "attribute",
      "--attribute",
      "age",
    ])
    expect(o.source).toEqual({
      format: "movielens-dat",
      ratings: join(ml1m, "ratings.dat"),
      users: join(ml1m, "users.dat"),
    })
    expect(o.splitBy).toBe("attribute")
    expect(o.attribute).toBe("age")
  })

  test("--help describes every flag", async () => {
    events.length = 0
    const o = await run(["--help"])
    expect(Option.isNone(o)).toBe(true)
    const help = events.find((e) => e._tag === "Help")
    if (help === undefined || help._tag !== "Help") throw new Error("no help shown")
    const documented = help.helpDoc.flags
    expect(Object.keys(flags).length).toBe(38)
    for (const name of [
      "dataset",
      "data",
      "base",
      "base-config",
      "methods",
      "seeds",
      "teachers",
      "split-by",
      "attribute",
      "lambda-bda",
      "lambda-fda",
      "bda-distance",
      "teacher-init",
      "partners",
      "strength",
      "intents",
      "reading",
      "student-init",
      "fda-items",
      "teacher-prior",
      "fda-warmup",
      "fda-hidden",
      "full-ranking",
      "full-ranking-users",
      "screen",
      "batch-size",
      "learning-rate",
      "heterogeneity",
      "epochs",
      "kcore",
      "backend",
      "out",
      "experiments",
      "quick",
      "search",
      "workers",
    ]) {
      const doc = documented.find((f) => f.name === name)
      expect(doc, name).toBeDefined()
      expect(
        Option.getOrElse(doc?.description ?? Option.none(), () => "").length,
        name,
      ).toBeGreaterThan(10)
    }
    const text = CliOutput.defaultFormatter({ colors: false }).formatHelpDoc(help.helpDoc)
    expect(text).toContain("--split-by")
    expect(text).toContain(
      "simulated, frontdoor, movielens-100k, movielens-1m, amazon-csv, amazon-json, sequences, exposure-log",
    )
  })
})

describe("Cli: errors name the flag and what it accepts", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
    [
      ["--dataset", "netflix"],
      ["--dataset", "netflix", "simulated", "exposure-log"],
    ],
    [
      ["--base", "sasrec"],
      ["--base", "sasrec", "din", "deepfm"],
    ],
    [
      ["--split-by", "age"],
      ["--split-by", "activeness", "consistency", "attribute", "random"],
    ],
    [
      ["--backend", "gpu"],
      ["--backend", "auto", "tensorflow", "wasm", "cpu"],
    ],
    [
      ["--seeds", "0"],
      ["--seeds", "an integer in 1..50"],
    ],
    [
      ["--seeds", "two"],
      ["--seeds", "two"],
    ],
    [
      ["--first-seed", "0"],
      ["--first-seed", "an integer in 1..1000"],
    ],
    [
      ["--teachers", "1"],
      ["--teachers", "an integer in 2..64"],
    ],
    [
      ["--workers", "0"],
      ["--workers", "an integer in 1..64"],
    ],
    [
      ["--workers", "1.5"],
      ["--workers", "1.5"],
    ],
    [
      ["--epochs", "0"],
      ["--epochs", "an integer in 1..1000"],
    ],
    [
      ["--lambda-bda", "-1"],
      ["--lambda-bda", "a number in [0, 1000]"],
    ],
    [
      ["--lambda-fda", "x"],
      ["--lambda-fda", "x"],
    ],
    [
      ["--teacher-init", "pretrained"],
      ["teacher-init", "pretrained", "independent", "shared"],
    ],
    [
      ["--partners", "0"],
      ["--partners", "0", "an integer in 1..1024, or all"],
    ],
    [
      ["--partners", "half"],
      ["--partners", "half", "an integer in 1..1024, or all"],
    ],
    [
      ["--bda-distance", "manhattan"],
      ["bda-distance", "manhattan", "squared-euclidean", "cosine"],
    ],
    [
      ["--methods", "din,foo"],
      ["--methods", "foo", "groupwise", "ho-teachers"],
    ],
    [
      ["--methods", ","],
      ["--methods", "a comma list"],
    ],
    [
      ["--experiments", "table4"],
      ["--experiments", "table4", "table2", "fig5"],
    ],
    [
      ["--experiments", "table5", "--methods", "din,causald"],
      ["--experiments table5", "--methods", "missing: ho-teachers, wo-fda"],
    ],
    [
      ["--experiments", "fig1", "--methods", "causald"],
      ["--experiments fig1", "missing: din, groupwise"],
    ],
    [
      ["--dataset", "amazon-csv"],
      ["--data is required for --dataset amazon-csv", "item,user,rating,time"],
    ],
    [
      ["--dataset", "movielens-100k"],
      ["--data is required for --dataset movielens-100k", "does not exist"],
    ],
    [
      ["--dataset", "sequences", "--data", "nowhere.txt"],
      ["--data", "nowhere.txt", "no such file or folder"],
    ],
    [
      ["--dataset", "movielens-100k", "--data", "ml-1m"],
      ["--data", "ml-1m", "no u.data"],
    ],
    [
      ["--dataset", "movielens-1m", "--data", "."],
      ["--data", "no ratings.dat"],
    ],
    [
      ["--dataset", "amazon-json", "--data", "ml-1m"],
      ["--data", "not a file", "--dataset amazon-json"],
    ],
    [
      ["--dataset", "simulated", "--data", "books.csv"],
      ["--data is not used by --dataset simulated"],
    ],
    [
      ["--split-by", "attribute"],
      ["--split-by attribute", "--dataset simulated"],
    ],
    [
      ["--dataset", "amazon-csv", "--data", "books.csv", "--split-by", "attribute"],
      ["--split-by attribute", "amazon-csv"],
    ],
    [["--sedes", "3"], ["sedes"]],
  ]
  for (const [args, expected] of cases) {
    test(args.join(" "), async () => {
      const messages = await errors(args)
      expect(messages.length).toBeGreaterThan(0)
      const text = messages.join("\n")
      for (const e of expected) expect(text).toContain(e)
      expect(text).not.toMatch(/\n\s+at /)
    })
  }

  test("the real runner prints the message, no stack trace, and exits non-zero", () => {
    const entry = join(import.meta.dir, "cli-entry.ts")
    const bad = Bun.spawnSync(["bun", entry, "--seeds", "0"], { stdout: "pipe", stderr: "pipe" })
    const stderr = bad.stderr.toString()
    expect(bad.exitCode).not.toBe(0)
    expect(stderr).toContain('Invalid value for flag --seeds: "0"')
    // one line and a pointer to --help, on stderr; not the help text
    expect(stderr.trim().split("\n")).toHaveLength(2)
    expect(stderr).toContain("--help")
    expect(bad.stdout.toString()).toBe("")
    expect(stderr).not.toMatch(/\n\s+at /)
    const good = Bun.spawnSync(["bun", entry, "--seeds", "2", "--out", "/tmp/x"], {
      stdout: "pipe",
      stderr: "pipe",
    })
    expect(good.exitCode).toBe(0)
    expect(JSON.parse(good.stdout.toString()).seeds).toBe(2)
  })
})
