/**
 * What resolving the options depends on besides the flags: the time, the working folder, the
 * repository root and the home folder (fixed in tests).
 *
 * @module
 */
import { homedir } from "node:os"
import { repoRoot } from "../Options.ts"

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

/** This process's context: now, its working folder, the repository root and the home folder. */
export const defaultContext = (): ParseContext => ({
  now: new Date(),
  cwd: process.cwd(),
  repoRoot,
  home: homedir(),
})
