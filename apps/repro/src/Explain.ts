/**
 * Failures in the words a user needs: one line that says what and why, never a stack trace.
 *
 * A file-system failure from Effect's `FileSystem` carries a normalised tag (`BadResource`,
 * `Unknown`...) and the operating system's error code in its cause; {@link fileSystemReason}
 * turns the code into its reason ("a file is in the way", "permission denied", "read-only file
 * system", "no space left on device"). {@link explain} renders any failure of the study as one
 * line: file-system failures with their path and reason, the data package's k-core failures with
 * the flag that changes the k-core (`--kcore`), anything else by its message.
 *
 * @module
 */
import { PlatformError } from "effect"

/** The reason of each operating-system error code a run can meet on its files. */
export const errnoReasons: { readonly [code: string]: string } = {
  ENOTDIR: "a file is in the way (a path component is a file, not a folder)",
  EEXIST: "a file is in the way (it exists and is not a folder)",
  EISDIR: "is a folder, expected a file",
  EACCES: "permission denied",
  EPERM: "permission denied (operation not permitted)",
  EROFS: "read-only file system",
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  ENOENT: "no such file or folder",
  ENAMETOOLONG: "file name too long",
  ELOOP: "too many levels of symbolic links",
  EMFILE: "too many open files",
  EIO: "input/output error",
}

/** The operating-system error code (`EROFS`, ...) behind a failure, when it has one. */
export const errnoOf = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 4 && typeof current === "object" && current !== null; depth++) {
    const code = (current as { code?: unknown }).code
    if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code
    current = (current as { cause?: unknown }).cause
  }
  return undefined
}

/**
 * Why a file-system operation failed, in words: the reason of its error code, else the
 * platform's tag, else the message.
 */
export const fileSystemReason = (error: unknown): string => {
  const code = errnoOf(error)
  if (code !== undefined) return errnoReasons[code] ?? code
  if (PlatformError.isPlatformError(error)) return error.reason._tag
  return error instanceof Error ? error.message : String(error)
}

/** The path a file-system failure was about, when it says. */
const pathOf = (error: PlatformError.PlatformError): string | undefined =>
  error.reason._tag === "BadArgument" || error.reason.pathOrDescriptor === undefined
    ? undefined
    : String(error.reason.pathOrDescriptor)

/** The data package's k-core failures, whose cause a user changes with `--kcore`. */
const kCoreTags: ReadonlySet<string> = new Set(["NoUsersLeft", "TooFewInteractions"])

/** Any failure of the study as one line for its user. */
export const explain = (error: unknown): string => {
  if (PlatformError.isPlatformError(error)) {
    const path = pathOf(error)
    const operation =
      error.reason._tag === "BadArgument"
        ? error.reason.method
        : `${error.reason.method}${path === undefined ? "" : ` ${path}`}`
    return `cannot ${operation}: ${fileSystemReason(error)}`
  }
  const tag = (error as { _tag?: unknown } | null)?._tag
  const message = (error instanceof Error ? error.message : String(error)).replace(/\s*\n\s*/g, " ")
  if (typeof tag === "string" && kCoreTags.has(tag))
    return `${message}; --kcore K sets the k-core (default per data set: see --help)`
  return message
}
