/**
 * A corpus of malformed inputs to `bun run repro`: flags, small bad data files made in a
 * temporary folder, reused output folders. Each case asserts the failure (or exit code), a
 * one-line message naming the flag or file, and that nothing was written to the output folder.
 *
 * Most cases run in-process, as the study would: `parse` (flags and the file system),
 * `Sources.load` (the data), `Validate.problems` (options against the data) and
 * `Provenance.bindOutput` (the output folder's fingerprint). A few run `src/main.ts` as a process,
 * each failing before anything trains (about a second each).
 */
import { afterAll, describe, expect, test } from "bun:test"
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { type PreparedDataset, Simulated, Sources } from "@causald/data"
import { BaseModels } from "@causald/models"
import { NodeServices } from "@effect/platform-node"
import {
  Cause,
  Effect,
  Exit,
  FileSystem,
  Layer,
  Option,
  PlatformError,
  Result,
  Stdio,
} from "effect"
import { type CliError, CliOutput } from "effect/cli"
import { errorMessages, main, oneLine, type ParseContext, parse } from "../src/Cli.ts"
import { explain, fileSystemReason } from "../src/Explain.ts"
import { dataFingerprint, fingerprintFile, outputFingerprint } from "../src/Fingerprint.ts"
import type { StudyOptions } from "../src/Options.ts"
import { bindOutput } from "../src/Provenance.ts"
import { profileOf } from "../src/Study.ts"
import { problems } from "../src/Validate.ts"
import { bounds } from "../src/Vocabulary.ts"

const root = mkdtempSync(join(tmpdir(), "causald-bad-input-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))
const repo = join(root, "repo")
const home = join(root, "home")
const work = join(root, "work")
for (const d of [repo, home, work]) mkdirSync(d, { recursive: true })
const context: ParseContext = {
  now: new Date("2026-01-02T03:04:05Z"),
  cwd: work,
  repoRoot: repo,
  home,
}

let outs = 0
/** A fresh output folder path that does not exist yet. */
const freshOut = () => join(root, "outs", `out-${++outs}`)

/** The output folder has nothing in it (or does not exist). */
const nothingWritten = (out: string) => {
  expect(existsSync(out) ? readdirSync(out) : []).toEqual([])
}

const file = (name: string, content: string | Uint8Array): string => {
  const path = join(root, "data", name)
  mkdirSync(dirname(path), { recursive: true })
  writeFileSync(path, content)
  return path
}

// --- small data sets --------------------------------------------------------------------------

/** A MovieLens 100K `u.data` of `users` users with `perUser` ratings each over 150 items. */
const mlRatings = (users: number, perUser = 10, reverse = false): string => {
  const rows: Array<string> = []
  for (let u = 1; u <= users; u++)
    for (let j = 0; j < perUser; j++) {
      const item = ((u * 7 + j * 13) % 150) + 1
      const time = reverse ? 1_000_000 - (u * 100 + j) : u * 100 + j
      rows.push(`${u}\t${item}\t${1 + ((u + j) % 5)}\t${time}`)
    }
  return `${rows.join("\n")}\n`
}
/** Its `u.user`: alternating gender, 5 homemakers, everyone else a student or other. */
const mlUsers = (users: number): string => {
  const rows: Array<string> = []
  for (let u = 1; u <= users; u++)
    rows.push(
      `${u}|${20 + (u % 30)}|${u % 2 === 0 ? "M" : "F"}|${u <= 5 ? "homemaker" : u % 2 === 0 ? "student" : "other"}|00000`,
    )
  return `${rows.join("\n")}\n`
}
const ml = (name: string, users: number, withUsers = true, perUser = 10): string => {
  const dir = join(root, "data", name)
  mkdirSync(dir, { recursive: true })
  writeFileSync(join(dir, "u.data"), mlRatings(users, perUser))
  if (withUsers) writeFileSync(join(dir, "u.user"), mlUsers(users))
  return dir
}
const ml240 = ml("ml-240", 240)
const ml240NoUsers = ml("ml-240-no-users", 240, false)
const ml120 = ml("ml-120", 120)

// --- running the pieces in-process ------------------------------------------------------------

const layer = Layer.mergeAll(
  NodeServices.layer,
  CliOutput.layerPresenter({ present: () => Effect.void }),
)

/** The options of `args`, or the failure's messages. */
const parsed = async (
  args: ReadonlyArray<string>,
  ctx: ParseContext = context,
  services: Layer.Layer<never> = Layer.empty,
): Promise<StudyOptions | { readonly errors: ReadonlyArray<string> }> => {
  const exit = await Effect.runPromiseExit(
    parse(args, ctx).pipe(Effect.provide(services), Effect.provide(layer)),
  )
  if (Exit.isSuccess(exit)) {
    if (Option.isNone(exit.value)) throw new Error("nothing parsed")
    return exit.value.value
  }
  const error = Cause.squash(exit.cause) as CliError.CliError
  return {
    errors: error._tag === "ShowHelp" ? error.errors.map(oneLine) : errorMessages(error),
  }
}

/** A flag error: one one-line message per error, containing every `needle`; nothing written. */
const refusedFlags = async (
  args: ReadonlyArray<string>,
  needles: ReadonlyArray<string>,
  options: { readonly ctx?: ParseContext; readonly services?: Layer.Layer<never> } = {},
) => {
  const out = freshOut()
  const withOut = args.includes("--out") ? args : [...args, "--out", out]
  const result = await parsed(withOut, options.ctx, options.services)
  if (!("errors" in result)) throw new Error(`accepted: ${args.join(" ")}`)
  expect(result.errors.length).toBeGreaterThan(0)
  for (const message of result.errors) expect(message).not.toContain("\n")
  const text = result.errors.join(" | ")
  for (const needle of needles) expect(text).toContain(needle)
  expect(text).not.toMatch(/\bat \S+\.ts:\d+/) // no stack trace
  nothingWritten(out)
}

/** Options parsed from `args`, which must be accepted. */
const accepted = async (args: ReadonlyArray<string>): Promise<StudyOptions> => {
  const result = await parsed(args)
  if ("errors" in result) throw new Error(result.errors.join("\n"))
  return result
}

/** The data of `options` as the study prepares it (without the cache). */
const prepare = (options: StudyOptions) =>
  Effect.runPromiseExit(
    options.source === null
      ? Simulated.generate({ ...profileOf(options).simulation, seed: 0 })
      : Sources.load(options.source, {
          ...(options.kCore === undefined ? {} : { kCore: options.kCore }),
        }),
  )

/** A data error of `args`: explained in one line containing every needle; nothing written. */
const refusedData = async (args: ReadonlyArray<string>, needles: ReadonlyArray<string>) => {
  const out = freshOut()
  const options = await accepted([...args, "--out", out])
  const exit = await prepare(options)
  if (Exit.isSuccess(exit)) throw new Error(`data accepted: ${args.join(" ")}`)
  const message = explain(Cause.squash(exit.cause))
  expect(message).not.toContain("\n")
  for (const needle of needles) expect(message).toContain(needle)
  nothingWritten(out)
}

/** The options of `args` against their data: the problems found, one line each. */
const checked = async (args: ReadonlyArray<string>) => {
  const out = freshOut()
  const options = await accepted([...args, "--out", out])
  const exit = await prepare(options)
  if (Exit.isFailure(exit)) throw new Error(explain(Cause.squash(exit.cause)))
  const found = problems(options, exit.value, profileOf(options))
  for (const p of found) {
    expect(p.message).not.toContain("\n")
    expect(p.message.startsWith(p.flag)).toBe(true)
  }
  nothingWritten(out)
  return { found, data: exit.value, options }
}

/** The options of `args` do not fit their data: one problem naming `flag`, with every needle. */
const refusedByData = async (
  args: ReadonlyArray<string>,
  flag: string,
  needles: ReadonlyArray<string>,
) => {
  const { found } = await checked(args)
  expect(found.map((p) => p.flag)).toEqual([flag])
  for (const needle of needles) expect(found[0]!.message).toContain(needle)
}

// --- the corpus -------------------------------------------------------------------------------

describe("training settings from the command line", () => {
  test("--batch-size and --learning-rate replace the data set's defaults, and only those", async () => {
    const plain = profileOf(await accepted(["--dataset", "frontdoor"]))
    expect(plain.training.batchSize).toBe(128)
    const tuned = profileOf(
      await accepted(["--dataset", "frontdoor", "--batch-size", "4096", "--learning-rate", "0.01"]),
    )
    expect(tuned.training.batchSize).toBe(4096)
    expect(tuned.training.optimizer).toEqual({ _tag: "Adagrad", learningRate: 0.01 })
    expect({ ...tuned.training, batchSize: 128, optimizer: plain.training.optimizer }).toEqual(
      plain.training,
    )
  })
})

describe("malformed flags: one line naming the flag and what it accepts, nothing written", () => {
  const cases: ReadonlyArray<readonly [ReadonlyArray<string>, ReadonlyArray<string>]> = [
    [
      ["--seeds", "0"],
      ["--seeds", "an integer in 1..50"],
    ],
    [
      ["--seeds", "51"],
      ["--seeds", "51", "an integer in 1..50"],
    ],
    [["--seeds", "2.5"], ["--seeds"]],
    [
      ["--seeds", "abc"],
      ["--seeds", "abc"],
    ],
    [
      ["--teachers", "1"],
      ["--teachers", "an integer in 2..64"],
    ],
    [
      ["--teachers", "1000"],
      ["--teachers", "1000", "an integer in 2..64"],
    ],
    [
      ["--epochs", "0"],
      ["--epochs", "an integer in 1..1000"],
    ],
    [
      ["--epochs", "1000000"],
      ["--epochs", "an integer in 1..1000"],
    ],
    [
      ["--workers", "0"],
      ["--workers", "an integer in 1..64"],
    ],
    [
      ["--workers", "1000"],
      ["--workers", "an integer in 1..64"],
    ],
    [
      ["--lambda-bda", "1e30"],
      ["--lambda-bda", "a number in [0, 1000]"],
    ],
    [
      ["--lambda-bda", "-0.5"],
      ["--lambda-bda", "a number in [0, 1000]"],
    ],
    [
      ["--lambda-fda", "1001"],
      ["--lambda-fda", "a number in [0, 1000]"],
    ],
    [["--lambda-fda", "Infinity"], ["--lambda-fda"]],
    [
      ["--partners", "0"],
      ["--partners", "an integer in 1..1024, or all"],
    ],
    [
      ["--partners", "5000"],
      ["--partners", "an integer in 1..1024, or all"],
    ],
    [
      ["--partners", "many"],
      ["--partners", "many"],
    ],
    [
      ["--dataset", "frontdoor", "--intents", "1"],
      ["--intents", "an integer in 2..64"],
    ],
    [
      ["--dataset", "frontdoor", "--intents", "100"],
      ["--intents", "an integer in 2..64"],
    ],
    [
      ["--strength", "2"],
      ["--strength", "a number in [0, 1]"],
    ],
    [
      ["--dataset", "movielens-100k", "--data", ml240, "--kcore", "0"],
      ["--kcore", "1..1000"],
    ],
    [
      ["--kcore", "5"],
      ["--kcore filters real data", "--dataset simulated"],
    ],
    [
      ["--dataset", "netflix"],
      ["--dataset", "netflix", "movielens-100k"],
    ],
    [
      ["--methods", "din,foo"],
      ["--methods", "foo"],
    ],
    [
      ["--experiments", "table5", "--methods", "din,causald"],
      ["--experiments table5", "missing"],
    ],
    [["--dataset", "amazon-csv"], ["--data is required for --dataset amazon-csv"]],
    [
      ["--dataset", "sequences", "--data", "missing.txt"],
      ["--data", "no such file or folder"],
    ],
    [
      ["--dataset", "movielens-100k", "--data", home],
      ["--data", "no u.data"],
    ],
    [
      ["--split-by", "attribute"],
      ["--split-by attribute", "--dataset simulated"],
    ],
    [["--data", ml240], ["--data is not used by --dataset simulated"]],
    [
      ["--fda-hidden", "0"],
      ["fda-hidden", "1..1024"],
    ],
    [
      ["--attribute", "age"],
      ["--attribute age", "--split-by is activeness"],
    ],
    [["--dataset", "amazon-csv", "--data", ""], ["--data is empty"]],
    [
      ["--sedes", "3"],
      ["Unrecognized flag: --sedes", "--seeds"],
    ],
  ]
  for (const [args, needles] of cases)
    test(args.join(" "), async () => {
      await refusedFlags(args, needles)
    })
})

describe("output folders: empty, root-like, a file in the way, not writable", () => {
  test('--out "" and --out "  ": refused, nothing written in the working folder', async () => {
    await refusedFlags(["--out", ""], ["--out is empty"])
    await refusedFlags(["--out", "   "], ["--out is empty"])
    expect(readdirSync(work)).toEqual([])
  })

  test("the file-system root, the repository root, a folder above it, the home folder", async () => {
    await refusedFlags(["--out", "/"], ["--out / is the file-system root"])
    await refusedFlags(["--out", repo], [`--out ${repo} is the repository root`])
    await refusedFlags(["--out", root], [`--out ${root} is a folder holding the repository`])
    await refusedFlags(["--out", home], [`--out ${home} is the home folder`])
    // from the repository root, "." is the repository root
    await refusedFlags(["--out", "."], ["is the repository root"], {
      ctx: { ...context, cwd: repo },
    })
  })

  test("a file in the way: the folder itself, or a folder above it", async () => {
    const blocker = file("blocker", "x")
    await refusedFlags(["--out", blocker], [`--out ${blocker}: a file is in the way`])
    await refusedFlags(
      ["--out", join(blocker, "run")],
      [`--out ${join(blocker, "run")}: a file is in the way (${blocker} is a file`],
    )
  })

  /** The node file system, but `access` fails with `code` under `below`. */
  const failingAccess = (below: string, code: string) =>
    Layer.effect(
      FileSystem.FileSystem,
      Effect.map(FileSystem.FileSystem, (fs) => ({
        ...fs,
        access: (path: string, options?: Parameters<typeof fs.access>[1]) =>
          path.startsWith(below)
            ? Effect.fail(
                PlatformError.systemError({
                  _tag: "Unknown",
                  module: "FileSystem",
                  method: "access",
                  pathOrDescriptor: path,
                  cause: Object.assign(new Error(code), { code }),
                }),
              )
            : fs.access(path, options),
      })),
    ).pipe(Layer.provide(NodeServices.layer))

  test("read-only file system and permission denied: the reason, and the flag", async () => {
    const parent = join(root, "locked")
    mkdirSync(parent)
    await refusedFlags(
      ["--out", join(parent, "run")],
      [`--out ${join(parent, "run")}: cannot write in ${parent}: read-only file system`],
      { services: failingAccess(parent, "EROFS") },
    )
    await refusedFlags(["--out", join(parent, "run")], ["cannot write in", "permission denied"], {
      services: failingAccess(parent, "EACCES"),
    })
  })

  test("file-system failures carry their reason, not the platform's tag", () => {
    const failure = (code: string) =>
      PlatformError.systemError({
        _tag: code === "ENOTDIR" ? "BadResource" : "Unknown",
        module: "FileSystem",
        method: "makeDirectory",
        pathOrDescriptor: "/x/out",
        cause: Object.assign(new Error(code), { code }),
      })
    expect(explain(failure("ENOTDIR"))).toBe(
      "cannot makeDirectory /x/out: a file is in the way (a path component is a file, not a folder)",
    )
    expect(fileSystemReason(failure("EROFS"))).toBe("read-only file system")
    expect(fileSystemReason(failure("ENOSPC"))).toBe("no space left on device")
    expect(fileSystemReason(failure("EACCES"))).toBe("permission denied")
  })
})

describe("bad data files: the real cause, naming the file, nothing written", () => {
  const exposure = (name: string, content: string) =>
    ["--dataset", "exposure-log", "--data", file(name, content)] as const

  test("an exposure log in which no row is clicked: no positive interactions", async () => {
    await refusedData(exposure("noclick.csv", "user,item,clicked,time\nu1,i1,0,1\nu2,i1,0,2\n"), [
      "noclick: no positive interactions in 2 rows",
      "clicked = 1",
    ])
  })

  test("an empty exposure log", async () => {
    await refusedData(exposure("empty.csv", ""), ["empty.csv", "holds no record"])
  })

  test("an exposure log with clicked = 2", async () => {
    await refusedData(exposure("two.csv", "u1,i1,1,1\nu1,i2,2,2\n"), ["two.csv:2"])
  })

  test("an Amazon CSV with a short line", async () => {
    await refusedData(
      ["--dataset", "amazon-csv", "--data", file("short.csv", "i1,u1,5,1\ni2,u1\n")],
      ["short.csv:2"],
    )
  })

  test("a MovieLens u.data with three fields", async () => {
    const dir = join(root, "data", "ml-bad")
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, "u.data"), "1\t1\t5\n")
    await refusedData(["--dataset", "movielens-100k", "--data", dir], ["u.data:1"])
  })

  test("a sequence file with invalid UTF-8", async () => {
    await refusedData(
      [
        "--dataset",
        "sequences",
        "--data",
        file("bad.txt", new Uint8Array([0x31, 0x20, 0xff, 0x0a])),
      ],
      ["bad.txt:1", "UTF-8"],
    )
  })

  test("a k-core no user survives: the k-core, and the flag that sets it", async () => {
    await refusedData(
      ["--dataset", "movielens-100k", "--data", ml240, "--kcore", "50"],
      ["no user is left after 50-core filtering", "--kcore"],
    )
  })

  test("a k-core too low for the leave-last-out split: raise --kcore", async () => {
    await refusedData(
      [
        "--dataset",
        "amazon-csv",
        "--data",
        file("two-each.csv", "i1,u1,5,1\ni2,u1,5,2\ni1,u2,5,1\ni2,u2,5,2\n"),
        "--kcore",
        "1",
      ],
      ["has 2 interactions at the split", "--kcore"],
    )
  })

  test("a MovieLens folder without u.user is read (as --help says), without attributes", async () => {
    const { found, data } = await checked([
      "--dataset",
      "movielens-100k",
      "--data",
      ml240NoUsers,
      "--kcore",
      "3",
      "--methods",
      "din,causald",
      "--experiments",
      "table3",
    ])
    expect(found).toEqual([])
    expect(data.numUsers).toBe(240)
    expect(data.attributes).toBeUndefined()
  })
})

describe("options against the data: refused before anything trains, naming the flag", () => {
  const ml100k = (dir: string, ...rest: ReadonlyArray<string>) => [
    "--dataset",
    "movielens-100k",
    "--data",
    dir,
    "--kcore",
    "3",
    ...rest,
  ]
  const distilled = ["--methods", "din,causald", "--experiments", "table3"]

  test("the data and options that fit: no problem", async () => {
    expect((await checked(ml100k(ml240, ...distilled))).found).toEqual([])
  })

  test("--split-by attribute on a folder without u.user", async () => {
    await refusedByData(
      ml100k(ml240NoUsers, ...distilled, "--split-by", "attribute"),
      "--split-by",
      ["--split-by attribute", "has no user attributes", "no u.user"],
    )
  })

  test("--attribute shoe_size: the attributes the data has", async () => {
    await refusedByData(
      ml100k(ml240, ...distilled, "--split-by", "attribute", "--attribute", "shoe_size"),
      "--attribute",
      ["--attribute shoe_size", "gender, age, occupation"],
    )
  })

  test("--attribute occupation: a group too small for a teacher, and what fits", async () => {
    await refusedByData(
      ml100k(ml240, ...distilled, "--split-by", "attribute", "--attribute", "occupation"),
      "--attribute",
      ['its group "homemaker" has 5 users, fewer than the 50', "attributes that fit: gender"],
    )
  })

  test("--teachers K with fewer users per teacher than the minimum: the largest K that fits", async () => {
    await refusedByData(ml100k(ml240, ...distilled, "--teachers", "8"), "--teachers", [
      "--teachers 8",
      "8 teachers of 30 users, fewer than the 50",
      "use at most 4 teachers",
    ])
  })

  test("--teachers K for Ho Teachers' random subsets under an attribute split", async () => {
    await refusedByData(
      ml100k(
        ml240,
        "--methods",
        "din,ho-teachers",
        "--experiments",
        "table3",
        "--split-by",
        "attribute",
        "--teachers",
        "6",
      ),
      "--teachers",
      ["--teachers 6 (Ho Teachers' random subsets)", "use at most 4"],
    )
  })

  test("--teachers more than the users, also for methods that train no teacher", async () => {
    const small = ml("ml-40", 40, true, 30)
    await refusedByData(
      ml100k(small, "--methods", "din,ips", "--experiments", "table3", "--teachers", "50"),
      "--teachers",
      ["only 40 users, fewer than 50 teachers"],
    )
  })

  test("--methods groupwise on too few users per activeness group", async () => {
    await refusedByData(
      ml100k(ml240, "--methods", "din,groupwise", "--experiments", "table3"),
      "--methods",
      ["--methods groupwise", "5 activeness groups of 48 users"],
    )
  })

  test("--experiments table7: K = 16 teachers on too few users", async () => {
    await refusedByData(
      ml100k(ml240, "--methods", "din,causald", "--experiments", "table7"),
      "--experiments",
      ["--experiments table7", "16 teachers"],
    )
  })

  test("--teachers on the quick simulated world", async () => {
    await refusedByData(["--quick", "--teachers", "30"], "--teachers", [
      "--teachers 30",
      "use at most 24 teachers",
    ])
  })

  test("several problems: every one, on one line", async () => {
    const { found } = await checked(
      ml100k(
        ml120,
        "--methods",
        "din,groupwise,causald",
        "--experiments",
        "table3",
        "--teachers",
        "4",
      ),
    )
    expect(found.map((p) => p.flag).sort()).toEqual(["--methods", "--teachers"])
  })
})

describe("output folders bound to their data: another data set's folder refused by name", () => {
  const load = (dir: string) =>
    Effect.runPromise(
      Sources.load({ format: "movielens-100k", directory: dir }, { kCore: 3, name: "ml" }),
    )
  const bind = (
    out: string,
    data: PreparedDataset,
    base: BaseModels.BaseModelName | BaseModels.Resolved = "din",
    write = true,
  ) =>
    Effect.runPromiseExit(
      bindOutput(
        out,
        outputFingerprint(
          data,
          typeof base === "string" ? BaseModels.defaults(base) : base,
          profileOf(quickReal).training,
        ),
        { write },
      ).pipe(Effect.provide(NodeServices.layer)),
    )
  const quickReal = {
    dataset: "movielens-100k",
    quick: false,
    epochs: null,
  } as unknown as StudyOptions
  const failureOf = (exit: Exit.Exit<unknown, unknown>) => {
    if (Exit.isSuccess(exit)) throw new Error("expected a refusal")
    return explain(Cause.squash(exit.cause))
  }

  test("the same file with its timestamps reversed: same shape, other content, refused", async () => {
    const forward = await load(ml240)
    const dir = join(root, "data", "ml-240-reversed")
    mkdirSync(dir, { recursive: true })
    writeFileSync(join(dir, "u.data"), mlRatings(240, 10, true))
    writeFileSync(join(dir, "u.user"), mlUsers(240))
    const reversed = await load(dir)
    expect(reversed.stats).toEqual(forward.stats)
    expect(dataFingerprint(reversed)).not.toBe(dataFingerprint(forward))
    const out = freshOut()
    expect(Exit.isSuccess(await bind(out, forward))).toBe(true)
    expect(existsSync(join(out, fingerprintFile))).toBe(true)
    const message = failureOf(await bind(out, reversed))
    expect(message).toContain(`--out ${out} holds models trained on other data`)
    expect(message).toContain("same shape")
    expect(message).not.toContain("\n")
  })

  test("a renamed copy of the same data binds alike; another data set or base does not", async () => {
    const data = await load(ml240)
    const copy = join(root, "data", "ml-240-copy")
    mkdirSync(copy, { recursive: true })
    writeFileSync(join(copy, "u.data"), mlRatings(240))
    writeFileSync(join(copy, "u.user"), mlUsers(240))
    const out = freshOut()
    expect(await bind(out, data)).toEqual(Exit.succeed("recorded"))
    expect(await bind(out, await load(copy))).toEqual(Exit.succeed("matched"))
    expect(failureOf(await bind(out, data, "deepfm"))).toContain("base was din, now deepfm")
    expect(failureOf(await bind(out, await load(ml120)))).toContain(
      "trained on ml: 240 users, 150 items, 2400 interactions, 3-core; now ml: 120 users",
    )
  })

  test("the base model's resolved configuration binds the folder; one bound before it was recorded stands for the defaults", async () => {
    const data = await load(ml240)
    const wider = Result.getOrThrow(BaseModels.resolve("din", { embeddingSize: 16 }))
    const out = freshOut()
    expect(await bind(out, data, wider)).toEqual(Exit.succeed("recorded"))
    const recorded = JSON.parse(readFileSync(join(out, fingerprintFile), "utf8"))
    expect(recorded.model).toEqual({ base: "din", config: wider.config })
    expect(await bind(out, data, wider)).toEqual(Exit.succeed("matched"))
    expect(failureOf(await bind(out, data))).toContain(
      "base model option embeddingSize was 16, now 8",
    )
    // a fingerprint.json written before configurations were recorded: no `model`
    const old = freshOut()
    expect(await bind(old, data)).toEqual(Exit.succeed("recorded"))
    const { model: _, ...before } = JSON.parse(readFileSync(join(old, fingerprintFile), "utf8"))
    writeFileSync(join(old, fingerprintFile), JSON.stringify(before))
    expect(failureOf(await bind(old, data, wider))).toContain(
      "base model option embeddingSize was 8, now 16",
    )
    expect(await bind(old, data)).toEqual(Exit.succeed("matched"))
  })

  test("a corrupt fingerprint.json is refused by name; a worker checks without writing", async () => {
    const data = await load(ml240)
    const out = freshOut()
    mkdirSync(out, { recursive: true })
    writeFileSync(join(out, fingerprintFile), "{ not json")
    expect(failureOf(await bind(out, data))).toContain("is not a fingerprint record")
    const fresh = freshOut()
    expect(Exit.isSuccess(await bind(fresh, data, "din", false))).toBe(true)
    nothingWritten(fresh)
  })

  test("a folder with models and no fingerprint (an older run) is adopted and recorded", async () => {
    const data = await load(ml240)
    const out = freshOut()
    mkdirSync(join(out, "models"), { recursive: true })
    expect(await bind(out, data)).toEqual(Exit.succeed("adopted"))
    expect(await bind(out, data)).toEqual(Exit.succeed("matched"))
  })

  test("an output folder that cannot be made: a file in the way, named with --out", async () => {
    const data = await load(ml240)
    const blocker = file("blocker-2", "x")
    const message = failureOf(await bind(blocker, data))
    expect(message).toContain(`--out ${blocker}: cannot make the folder: a file is in the way`)
  })
})

describe("warnings on standard error, never standard output", () => {
  test("a log warning while the study runs goes to stderr", async () => {
    const logged: Array<string> = []
    const errors: Array<string> = []
    const saved = { log: console.log, error: console.error }
    console.log = (...a: Array<unknown>) => void logged.push(a.join(" "))
    console.error = (...a: Array<unknown>) => void errors.push(a.join(" "))
    try {
      await Effect.runPromise(
        main(() =>
          Effect.logWarning("cache entry x is unusable (checksum mismatch); rebuilding"),
        ).pipe(
          Effect.provide(Stdio.layerTest({ args: Effect.succeed(["--out", freshOut()]) })),
          Effect.provide(NodeServices.layer),
        ),
      )
    } finally {
      console.log = saved.log
      console.error = saved.error
    }
    expect(logged.join("\n")).not.toContain("rebuilding")
    expect(errors.join("\n")).toContain("rebuilding")
  })
})

describe("bun run repro as a process: exit status, one line on stderr, nothing written", () => {
  const entry = join(import.meta.dir, "..", "src", "main.ts")
  const run = (args: ReadonlyArray<string>, options: { cwd?: string; stdin?: "ignore" } = {}) => {
    const p = Bun.spawnSync(["bun", entry, ...args], {
      cwd: options.cwd ?? work,
      stdout: "pipe",
      stderr: "pipe",
      stdin: options.stdin ?? "ignore",
    })
    return { code: p.exitCode, stdout: p.stdout.toString(), stderr: p.stderr.toString().trim() }
  }
  /** The lines of stderr that are not progress notes (JSON lines). */
  const messages = (stderr: string) =>
    stderr.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("{"))

  test("a flag error: one line and a pointer to --help, nothing on stdout", () => {
    const r = run(["--lambda-bda", "1e30"])
    expect(r.code).toBe(1)
    expect(r.stdout).toBe("")
    expect(messages(r.stderr)).toEqual([
      'repro: Invalid value for flag --lambda-bda: "1e+30". Expected: a number in [0, 1000] (the paper searches 0.01, 0.1, 1, 10)',
      'Run "bun run repro --help" for every flag and what it accepts.',
    ])
    expect(readdirSync(work)).toEqual([])
  })

  test('--out "": refused, the working folder untouched', () => {
    const r = run(["--quick", "--out", ""])
    expect(r.code).toBe(1)
    expect(messages(r.stderr)[0]).toContain("--out is empty")
    expect(readdirSync(work)).toEqual([])
  })

  test("an exposure log without a click: exit 1, the file and the cause, nothing written", () => {
    const out = freshOut()
    const data = file("noclick-2.csv", "u1,i1,0,1\nu1,i2,0,2\n")
    const r = run(["--dataset", "exposure-log", "--data", data, "--out", out])
    expect(r.code).toBe(1)
    expect(messages(r.stderr)).toEqual([
      `repro failed: --data ${data}: noclick-2: no positive interactions in 2 rows; expected at least one row with clicked = 1 (a click); every row has clicked = 0`,
    ])
    expect(r.stderr).not.toMatch(/\n\s+at /)
    expect(existsSync(out)).toBe(false)
  })

  test("--teachers too many for the data: refused before anything trains", () => {
    const out = freshOut()
    const r = run(["--quick", "--backend", "cpu", "--teachers", "30", "--out", out])
    expect(r.code).toBe(1)
    expect(messages(r.stderr)).toEqual([
      "repro failed: --teachers 30: simulated (240 users, 80 items) gives 30 teachers of 8 users, fewer than the 10 each teacher needs; use at most 24 teachers",
    ])
    expect(existsSync(out)).toBe(false)
  })

  test("--partners all with a K it cannot hold: refused, and --out not even made", () => {
    const out = freshOut()
    const r = run([
      "--quick",
      "--backend",
      "cpu",
      "--partners",
      "all",
      "--teachers",
      "16",
      "--out",
      out,
    ])
    expect(r.code).toBe(1)
    const lines = messages(r.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain("--partners all")
    expect(existsSync(out)).toBe(false)
  })

  test("a reused --out bound to other data: refused by name before anything trains", () => {
    const out = freshOut()
    mkdirSync(out, { recursive: true })
    const other = {
      data: "0".repeat(64),
      name: "simulated",
      users: 240,
      items: 80,
      interactions: 1,
      kCore: 0,
      settings: { base: "din" },
    }
    writeFileSync(join(out, fingerprintFile), JSON.stringify(other))
    const r = run(["--quick", "--backend", "cpu", "--out", out])
    expect(r.code).toBe(1)
    const lines = messages(r.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`--out ${out} holds models trained on other data`)
    expect(readdirSync(out)).toEqual([fingerprintFile])
  })

  test("--wizard cancelled (no input): exit status 1", () => {
    const r = run(["--wizard"])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain("the wizard was cancelled; nothing was run")
    expect(readdirSync(work)).toEqual([])
  })
})

test("the documented bounds", () => {
  expect(bounds.lambda.max).toBe(1000)
  expect(bounds.seeds.max).toBe(50)
})
