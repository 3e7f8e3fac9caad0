/**
 * `--out`: the run's folder, by default `runs/<dataset>-<base>-<UTC time>`. Refused before
 * anything runs when it is empty, root-like (the file-system root, the repository root, the home
 * folder or a folder above one of them: {@link rootLike}, which `repro-merge` applies too), a file,
 * or not writable ({@link checkOut}).
 *
 * @module
 */
import { Effect, FileSystem, Option, Path } from "effect"
import type { CliError } from "effect/cli"
import { fileSystemReason } from "../Explain.ts"
import type { ParseContext } from "./Context.ts"
import { fail } from "./Errors.ts"
import type { RawOptions } from "./Flags.ts"

/** `20260102T030405Z`: a UTC time usable in a folder name. */
export const utcStamp = (date: Date): string =>
  date
    .toISOString()
    .replace(/\.\d{3}Z$/, "Z")
    .replace(/[-:]/g, "")

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
export const checkOut = (
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
 * The output folder of `--out` (resolved against the working folder) or the default one named
 * after the data set, base model and time; refused when empty, root-like or not writable.
 */
export const resolveOut = (
  raw: Pick<RawOptions, "out" | "dataset" | "base">,
  context: ParseContext,
): Effect.Effect<string, CliError.ValidationError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
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
    return out
  })
