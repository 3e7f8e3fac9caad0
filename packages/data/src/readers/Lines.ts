/**
 * Streaming line scanner and byte-level field parsers shared by the readers. A file is read in
 * 4 MiB chunks (so a 25M-line file never sits in memory as text); each complete line is handed
 * to a plain handler as a byte range, validated as UTF-8 first, with its 1-based line number.
 * Handlers throw the package's typed errors; the scanner turns them into Effect failures.
 *
 * Blank lines (only spaces, tabs or a carriage return) carry no data and are passed over; a
 * UTF-8 byte-order mark at the start is ignored; `\r\n` line ends are accepted.
 *
 * @module
 */
import { isUtf8 } from "node:buffer"
import { open } from "node:fs/promises"
import { Effect } from "effect"
import { attempt, type DataError, EmptyFile, FileError, InvalidUtf8 } from "../Errors.ts"

/** Called with the bytes `buf[start..end)` of line number `line` (no line terminator). */
export type LineHandler = (buf: Buffer, start: number, end: number, line: number) => void

const CHUNK = 1 << 22

const describe = (e: unknown): string => {
  const code = (e as { code?: unknown }).code
  if (code === "ENOENT") return "no such file"
  if (code === "EISDIR") return "is a directory, expected a file"
  if (code === "EACCES") return "permission denied"
  return e instanceof Error ? e.message : String(e)
}

interface ScanState {
  line: number
  records: number
  first: boolean
}

const isBlank = (buf: Buffer, s: number, e: number): boolean => {
  for (let i = s; i < e; i++) {
    const b = buf[i]!
    if (b !== 32 && b !== 9 && b !== 13) return false
  }
  return true
}

/**
 * Hands every complete line of buf[0..end) to the handler (and the last partial line when `eof`)
 * and returns the index of the first unconsumed byte.
 */
const processChunk = (
  file: string,
  buf: Buffer,
  end: number,
  eof: boolean,
  state: ScanState,
  onLine: LineHandler,
): number => {
  let start = 0
  if (state.first) {
    state.first = false
    if (end >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) start = 3
  }
  let stop = end > start ? buf.lastIndexOf(10, end - 1) : -1
  stop = stop < start ? start : stop + 1 // bytes [start, stop) are complete lines
  if (eof) stop = end
  if (stop > start && !isUtf8(buf.subarray(start, stop))) {
    // find the offending line
    let s = start
    let line = state.line
    while (s < stop) {
      let e = buf.indexOf(10, s)
      if (e < 0 || e >= stop) e = stop
      line++
      if (!isUtf8(buf.subarray(s, e))) throw new InvalidUtf8({ file, line })
      s = e + 1
    }
  }
  let s = start
  while (s < stop) {
    let e = buf.indexOf(10, s)
    if (e < 0 || e >= stop) e = stop
    state.line++
    let le = e
    if (le > s && buf[le - 1] === 13) le--
    if (!isBlank(buf, s, le)) {
      state.records++
      onLine(buf, s, le, state.line)
    }
    s = e + 1
  }
  return stop
}

/**
 * Reads `file` line by line and calls `onLine` for each non-blank line. Fails with
 * {@link FileError} when the file cannot be read, {@link InvalidUtf8} for a line that is not
 * UTF-8, {@link EmptyFile} (with `expected` describing a record) when no line holds data, and
 * with whatever typed error the handler throws. Succeeds with the number of records.
 */
export const scanLines = (
  file: string,
  expected: string,
  onLine: LineHandler,
): Effect.Effect<number, DataError> =>
  Effect.acquireUseRelease(
    Effect.tryPromise({
      try: () => open(file, "r"),
      catch: (e) => new FileError({ file, reason: describe(e) }),
    }),
    (handle) =>
      Effect.gen(function* () {
        let buf = Buffer.allocUnsafe(CHUNK)
        let carry = 0
        const state: ScanState = { line: 0, records: 0, first: true }
        for (;;) {
          if (carry === buf.length) {
            // a single line longer than the buffer
            const bigger = Buffer.allocUnsafe(buf.length * 2)
            buf.copy(bigger, 0, 0, carry)
            buf = bigger
          }
          const target = buf
          const { bytesRead } = yield* Effect.tryPromise({
            try: () => handle.read(target, carry, target.length - carry, null),
            catch: (e) => new FileError({ file, reason: describe(e) }),
          })
          const end = carry + bytesRead
          const eof = bytesRead === 0
          const consumed = yield* attempt(() => processChunk(file, target, end, eof, state, onLine))
          if (eof) break
          target.copy(target, 0, consumed, end)
          carry = end - consumed
        }
        if (state.records === 0) return yield* new EmptyFile({ file, expected })
        return state.records
      }),
    (handle) => Effect.promise(() => handle.close().catch(() => undefined)),
  )

// ---------------------------------------------------------------------------------------------
// field parsing on bytes

/**
 * Splits buf[s..e) at every occurrence of the separator (one or two bytes), writing field
 * bounds into `out` as [start0, end0, start1, end1, ...]. Returns the number of fields, or
 * `max + 1` as soon as there are more than `max`.
 */
export const splitFields = (
  buf: Buffer,
  s: number,
  e: number,
  sep: Uint8Array,
  out: Int32Array,
  max: number,
): number => {
  let n = 0
  let fs = s
  const a = sep[0]!
  if (sep.length === 1) {
    for (let i = s; i < e; i++) {
      if (buf[i] === a) {
        if (n === max) return max + 1
        out[2 * n] = fs
        out[2 * n + 1] = i
        n++
        fs = i + 1
      }
    }
  } else {
    const b = sep[1]!
    for (let i = s; i < e - 1; i++) {
      if (buf[i] === a && buf[i + 1] === b) {
        if (n === max) return max + 1
        out[2 * n] = fs
        out[2 * n + 1] = i
        n++
        fs = i + 2
        i++
      }
    }
  }
  if (n === max) return max + 1
  out[2 * n] = fs
  out[2 * n + 1] = e
  return n + 1
}

/** A non-negative integer written in buf[s..e) (spaces around allowed), or -1. */
export const parseUint = (buf: Buffer, s: number, e: number): number => {
  while (s < e && buf[s] === 32) s++
  while (e > s && buf[e - 1] === 32) e--
  if (s === e || e - s > 15) return -1
  let v = 0
  for (let i = s; i < e; i++) {
    const d = buf[i]! - 48
    if (d < 0 || d > 9) return -1
    v = v * 10 + d
  }
  return v
}

/** A finite decimal number written in buf[s..e) (e.g. `4`, `3.5`, `-1e3`), or NaN. */
export const parseNumber = (buf: Buffer, s: number, e: number): number => {
  const fast = parseUint(buf, s, e)
  if (fast >= 0) return fast
  while (s < e && buf[s] === 32) s++
  while (e > s && buf[e - 1] === 32) e--
  if (s === e) return Number.NaN
  for (let i = s; i < e; i++) {
    const c = buf[i]!
    // digits, sign, point, exponent only: Number() would also accept "0x1f" or "Infinity"
    if (!((c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46 || c === 101 || c === 69))
      return Number.NaN
  }
  const v = Number(buf.toString("latin1", s, e))
  return Number.isFinite(v) ? v : Number.NaN
}

/** The text of buf[s..e) (already validated UTF-8), spaces around removed. */
export const fieldText = (buf: Buffer, s: number, e: number): string =>
  buf.toString("utf8", s, e).trim()

/** A short printable name for a separator in messages. */
export const separatorName = (sep: Uint8Array): string =>
  sep.length === 1 && sep[0] === 9
    ? "TAB"
    : JSON.stringify(new TextDecoder().decode(sep)).replaceAll('"', "'")
