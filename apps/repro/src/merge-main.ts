/**
 * `bun run repro-merge --out DIR PART PART...`: joins the results of one study run in parts with
 * disjoint seeds (`bun run repro ... --first-seed S`), each PART a run's folder or its
 * `results.json`, into one folder with `results.json`, the tables, figures and report of all the
 * seeds, then prints Table 3 (`Merge.ts` says what must agree and how the numbers are joined).
 *
 * Expected failures (a part that cannot be read, parts of different studies, an `--out` that is a
 * part or the repository root) print one line and exit with status 1, before anything is written.
 */
import { homedir } from "node:os"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Cause, Effect, FileSystem, Logger, Path, Result } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { rootLike } from "./cli/Out.ts"
import { explain } from "./Explain.ts"
import { MergeError, merge } from "./Merge.ts"
import { repoRoot } from "./Options.ts"
import { readResults, writeStudyOutputs } from "./Output.ts"
import { printResults } from "./study/Assembly.ts"

const flags = {
  out: Flag.String("out").pipe(
    Flag.withMetavar("DIR"),
    Flag.withDescription(
      "The folder of the joined results (made if missing); not one of the parts, not the repository root or the home folder",
    ),
  ),
  parts: Argument.String("part").pipe(
    Argument.withDescription(
      "A part's run folder (or its results.json): the same `bun run repro` command with disjoint seeds (--first-seed)",
    ),
    Argument.atLeast(2),
  ),
} as const

/** `PART` as the path of a results.json: a folder's, or the file itself. */
const resultsFile = (part: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const absolute = path.resolve(part)
    const info = yield* fs
      .stat(absolute)
      .pipe(
        Effect.mapError(
          () => new MergeError({ reason: `${part}: no such folder or file (a part's run folder)` }),
        ),
      )
    return info.type === "Directory"
      ? { folder: absolute, file: path.join(absolute, "results.json") }
      : { folder: path.dirname(absolute), file: absolute }
  })

const command = Command.make("repro-merge", flags).pipe(
  Command.withDescription(
    "Join the results.json of one study run in parts with disjoint seeds (repro --first-seed) into one folder with the tables, figures and report of all the seeds",
  ),
  Command.withHandler(({ out, parts }) =>
    Effect.gen(function* () {
      const path = yield* Path.Path
      const dir = path.resolve(out)
      const root = rootLike(dir, { repoRoot, home: homedir() }, path)
      if (root !== undefined)
        return yield* new MergeError({
          reason: `--out ${out} is ${root}: give a folder of its own`,
        })
      const read = yield* Effect.forEach(parts, (part) =>
        Effect.flatMap(resultsFile(part), ({ folder, file }) =>
          Effect.map(readResults(file), (results) => ({ folder, results })),
        ),
      )
      const inPart = read.find((p) => p.folder === dir)
      if (inPart !== undefined)
        return yield* new MergeError({
          reason: `--out ${out} is the part ${inPart.folder}: give a folder of its own`,
        })
      const merged = merge(read, dir)
      if (Result.isFailure(merged)) return yield* merged.failure
      for (const note of merged.success.notes) process.stderr.write(`repro-merge: ${note}\n`)
      const written = yield* writeStudyOutputs(merged.success.results, dir)
      yield* printResults(merged.success.results)
      process.stderr.write(
        `repro-merge: seeds ${merged.success.results.manifest.seeds.join(", ")} from ${read.length} parts; wrote ${written.files.length} files to ${dir}${written.skipped.length ? `; skipped: ${written.skipped.join("; ")}` : ""}\n`,
      )
    }).pipe(
      Effect.catchCause((cause) =>
        Effect.sync(() => {
          process.stderr.write(`\nrepro-merge failed: ${explain(Cause.squash(cause))}\n`)
          process.exitCode = 1
        }),
      ),
    ),
  ),
)

Command.run(command, { version: "0.1.0" }).pipe(
  Effect.provideService(Logger.LogToStderr, true),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain,
)
