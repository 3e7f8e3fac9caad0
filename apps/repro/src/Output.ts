/**
 * The one place that writes a run's files: `results.json` and, from it, the tables, figures and
 * report the configuration asks for. Every file is written atomically (a temporary file in the
 * same folder, then a rename), so an interrupted run never leaves a half-written file under its
 * final name. Also collects the manifest's facts about the machine (package versions, git state,
 * runtime).
 *
 * @module
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { cpus } from "node:os"
import { dirname, join } from "node:path"
import { Effect, FileSystem, Path, Result, Schema } from "effect"
import { fileSystemReason } from "./Explain.ts"
import * as Figures from "./Figures.ts"
import { report } from "./Report.ts"
import { decodeResults, encodeResults, type Manifest, type Results } from "./Results.ts"
import * as Tables from "./Tables.ts"
import type { Experiment } from "./Vocabulary.ts"

/** A file could not be written or read; names the path. */
export class OutputError extends Schema.TaggedError<OutputError>()("OutputError", {
  path: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

let counter = 0

/** Writes `data` to `path` through a temporary file in the same folder and a rename. */
export const writeAtomic = (
  path: string,
  data: string | Uint8Array,
): Effect.Effect<void, OutputError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const tmp = `${path}.tmp-${process.pid}-${counter++}`
    const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data
    yield* fs.writeFile(tmp, bytes).pipe(
      Effect.flatMap(() => fs.rename(tmp, path)),
      Effect.tapError(() => Effect.ignore(fs.remove(tmp))),
      Effect.mapError((e) => new OutputError({ path, reason: fileSystemReason(e) })),
    )
  })

/** Writes `results.json` into `dir` (created if needed); returns its path. */
export const writeResults = (
  dir: string,
  results: Results,
): Effect.Effect<string, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dir, "results.json")
    yield* fs
      .makeDirectory(dir, { recursive: true })
      .pipe(Effect.mapError((e) => new OutputError({ path: dir, reason: fileSystemReason(e) })))
    const text = encodeResults(results)
    if (Result.isFailure(text)) {
      return yield* new OutputError({ path: file, reason: text.failure.reason })
    }
    yield* writeAtomic(file, text.success)
    return file
  })

/** Reads and validates a `results.json`. */
export const readResults = (
  file: string,
): Effect.Effect<Results, OutputError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(file)
      .pipe(Effect.mapError((e) => new OutputError({ path: file, reason: e.message })))
    const decoded = decodeResults(text, file)
    if (Result.isFailure(decoded)) {
      return yield* new OutputError({ path: file, reason: decoded.failure.reason })
    }
    return decoded.success
  })

/** What {@link writeStudyOutputs} wrote and what it could not produce. */
export interface WrittenOutputs {
  readonly dir: string
  /** File names written in `dir`. */
  readonly files: ReadonlyArray<string>
  /** Requested experiments the results do not support, with the reason. */
  readonly skipped: ReadonlyArray<string>
}

const tableOf: {
  readonly [E in Experiment]?: (r: Results) => Tables.Table | undefined
} = {
  table2: Tables.table2,
  table3: Tables.table3,
  table5: Tables.table5,
  table7: Tables.table7,
  readings: Tables.readingsTable,
}

const figureOf: { readonly [E in Experiment]?: Figures.FigureName } = {
  fig1: "figure1",
  fig4: "figure4",
  fig5: "figure5",
  strength: "strength",
}

const missingReason: { readonly [E in Experiment]: string } = {
  table2: "",
  table3: "",
  table5: "none of the ablation models (base, Ho Teachers, w.o. FDA, CausalD) is in the results",
  table7: "the results have no CausalD runs with other teacher counts (teacherCounts)",
  fig1: "the results lack the activeness grouping with the base and group-wise models",
  fig4: "the results lack per-group results of the base model, w.o. FDA or CausalD",
  fig5: "the results have no λ_BDA / λ_FDA sensitivity runs",
  strength: "the results have no strength sweep (front-door world, base and CausalD)",
  readings: "the results have no readings screen",
}

/**
 * Writes `results.json`, then the tables and figures of `results.manifest.configuration
 * .experiments` that the results support, then `report.md` linking them, into `dir`.
 */
export const writeStudyOutputs = (
  results: Results,
  dir: string = results.manifest.configuration.out,
): Effect.Effect<
  WrittenOutputs,
  OutputError | Figures.FigureError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const files: Array<string> = []
    const skipped: Array<string> = []
    const put = (name: string, data: string | Uint8Array) =>
      Effect.tap(writeAtomic(path.join(dir, name), data), () => Effect.sync(() => files.push(name)))
    yield* writeResults(dir, results)
    files.push("results.json")
    const figures = Figures.figures(results)
    for (const experiment of results.manifest.configuration.experiments) {
      const table = tableOf[experiment]
      if (table !== undefined) {
        const t = table(results)
        if (t === undefined) {
          skipped.push(`${experiment}: ${missingReason[experiment]}`)
          continue
        }
        yield* put(`${experiment}.md`, t.markdown)
        yield* put(`${experiment}.csv`, t.csv)
        continue
      }
      const name = figureOf[experiment]
      const figure = figures.find((f) => f.name === name)
      if (name === undefined) continue
      if (figure === undefined) {
        skipped.push(`${experiment}: ${missingReason[experiment]}`)
        continue
      }
      const svg = yield* Figures.renderSvg(figure.spec)
      const png = Figures.svgToPng(svg)
      if (Result.isFailure(png)) return yield* png.failure
      yield* put(`${name}.vl.json`, `${JSON.stringify(figure.spec, null, 2)}\n`)
      yield* put(`${name}.svg`, svg)
      yield* put(`${name}.png`, png.success)
    }
    // The tables the data and options give, whatever --experiments says: agreement with the truth
    // (simulated worlds), the interventional test (front-door world), full ranking.
    for (const [name, table] of [
      ["truth", Tables.truthTable(results)],
      ["interventional", Tables.interventionalTable(results)],
      ["full-ranking", Tables.fullRankingTable(results)],
    ] as const)
      if (table !== undefined) {
        yield* put(`${name}.md`, table.markdown)
        yield* put(`${name}.csv`, table.csv)
      }
    yield* put("report.md", report(results, [...files, "report.md"], skipped))
    return { dir, files, skipped }
  })

const require = createRequire(import.meta.url)

/**
 * The installed version of package `name` as resolved from package `from` (default: this app),
 * or "unknown". Follows the same isolated-install resolution as the code that imports it.
 */
export const packageVersion = (name: string, from?: string): string => {
  try {
    const req = from === undefined ? require : createRequire(require.resolve(from))
    let dir = dirname(req.resolve(name))
    for (;;) {
      try {
        const pkg = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as {
          name?: string
          version?: string
        }
        if (pkg.name === name && typeof pkg.version === "string") return pkg.version
      } catch {
        // no package.json at this level: go up
      }
      const up = dirname(dir)
      if (up === dir) return "unknown"
      dir = up
    }
  } catch {
    return "unknown"
  }
}

/** Versions of the packages that shape a run's numbers and outputs. */
export const packageVersions = (): Manifest["packages"] => {
  const out: Record<string, string> = {}
  for (const name of [
    "@causald/core",
    "@causald/data",
    "@causald/tfjs",
    "effect",
    "vega",
    "vega-lite",
    "@resvg/resvg-js",
  ]) {
    out[name] = packageVersion(name)
  }
  for (const name of [
    "@tensorflow/tfjs-core",
    "@tensorflow/tfjs-backend-cpu",
    "@tensorflow/tfjs-backend-wasm",
  ]) {
    out[name] = packageVersion(name, "@causald/tfjs")
  }
  return out
}

const git = (cwd: string, args: ReadonlyArray<string>): string | null => {
  try {
    return execFileSync("git", [...args], {
      cwd,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "ignore"],
    }).trim()
  } catch {
    return null
  }
}

/** The commit checked out at `repoRoot` and whether tracked files differ from it (null: no git). */
export const gitState = (
  repoRoot: string,
): { readonly gitRevision: string | null; readonly gitDirty: boolean | null } => {
  const gitRevision = git(repoRoot, ["rev-parse", "HEAD"])
  if (gitRevision === null) return { gitRevision: null, gitDirty: null }
  const status = git(repoRoot, ["status", "--porcelain", "--untracked-files=no"])
  return { gitRevision, gitDirty: status === null ? null : status.length > 0 }
}

/** The runtime the study ran on. */
export const runtime = (): Manifest["runtime"] => ({
  bun: typeof Bun === "undefined" ? "none" : Bun.version,
  platform: process.platform,
  arch: process.arch,
  cpus: cpus().length,
  cpuModel: cpus()[0]?.model.trim() ?? "unknown",
})
