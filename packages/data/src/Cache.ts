/**
 * On-disk cache of prepared data sets. An entry is keyed by a SHA-256 of the input files'
 * contents and of the protocol configuration (and a format version), so a changed file or
 * setting never reads a stale entry. Entries are written to a temporary file in the cache folder
 * and renamed into place (atomic on one file system), so no reader ever sees a half-written
 * entry; each entry ends with a SHA-256 of all its bytes, so a corrupt or truncated entry is
 * detected on reading, reported as a warning and rebuilt.
 *
 * Entry layout: `CAUSALD\x01`, u32 LE header length, UTF-8 JSON header (names, ids, config,
 * array table), zero padding to 8 bytes, the typed arrays (little endian, each 8-aligned), and
 * the 32-byte checksum.
 *
 * @module
 */
import { createHash, randomUUID } from "node:crypto"
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeSync,
} from "node:fs"
import { open } from "node:fs/promises"
import { join } from "node:path"
import { Effect } from "effect"
import { CacheError, type DataError, FileError } from "./Errors.ts"
import {
  checkPrepared,
  type PreparedConfig,
  type PreparedDataset,
  type UserAttribute,
} from "./Prepared.ts"

/** Bumped whenever the protocol or this layout changes, invalidating older entries. */
export const cacheFormatVersion = 1

const MAGIC = new Uint8Array([0x43, 0x41, 0x55, 0x53, 0x41, 0x4c, 0x44, 0x01]) // "CAUSALD\x01"

type ArrayType = "i32" | "f32"
interface ArrayEntry {
  readonly key: string
  readonly type: ArrayType
  readonly offset: number
  readonly length: number
}
interface Header {
  readonly version: number
  readonly name: string
  readonly config: PreparedConfig
  readonly stats: PreparedDataset["stats"]
  readonly numUsers: number
  readonly numItems: number
  readonly userIds: ReadonlyArray<string>
  readonly itemIds: ReadonlyArray<string>
  readonly attributes: ReadonlyArray<{
    readonly name: string
    readonly labels: ReadonlyArray<string>
  }>
  readonly confounder: string | null
  readonly arrays: ReadonlyArray<ArrayEntry>
}

const bytesOf = (a: Int32Array | Float32Array): Uint8Array =>
  new Uint8Array(a.buffer, a.byteOffset, a.byteLength)

/** The arrays of a data set, by key. */
const arraysOf = (data: PreparedDataset): Array<[string, Int32Array | Float32Array]> => {
  const out: Array<[string, Int32Array | Float32Array]> = [
    ["sequenceOffsets", data.sequenceOffsets],
    ["sequenceItems", data.sequenceItems],
    ["validation.target", data.validation.target],
    ["validation.candidates", data.validation.candidates],
    ["test.target", data.test.target],
    ["test.candidates", data.test.candidates],
  ]
  data.attributes?.forEach((a, i) => {
    out.push([`attribute.${i}`, a.codes])
  })
  if (data.exposureNegatives !== undefined) {
    out.push(["exposure.offsets", data.exposureNegatives.offsets])
    out.push(["exposure.items", data.exposureNegatives.items])
  }
  if (data.truth !== undefined) {
    out.push(["truth.validation", data.truth.validationTruth])
    out.push(["truth.test", data.truth.testTruth])
  }
  if (data.confounder !== undefined) out.push(["confounder", data.confounder.values])
  return out
}

/** The bytes of a cache entry, as chunks to write in order (the last is the checksum). */
export const encodeEntry = (data: PreparedDataset): Array<Uint8Array> => {
  const arrays = arraysOf(data)
  let offset = 0
  const table: Array<ArrayEntry> = arrays.map(([key, a]) => {
    const entry = {
      key,
      type: (a instanceof Float32Array ? "f32" : "i32") as ArrayType,
      offset,
      length: a.length,
    }
    offset += Math.ceil(a.byteLength / 8) * 8
    return entry
  })
  const header: Header = {
    version: cacheFormatVersion,
    name: data.name,
    config: data.config,
    stats: data.stats,
    numUsers: data.numUsers,
    numItems: data.numItems,
    userIds: data.userIds,
    itemIds: data.itemIds,
    attributes: (data.attributes ?? []).map((a) => ({ name: a.name, labels: a.labels })),
    confounder: data.confounder?.name ?? null,
    arrays: table,
  }
  const json = new TextEncoder().encode(JSON.stringify(header))
  const lead = new Uint8Array(Math.ceil((12 + json.length) / 8) * 8)
  lead.set(MAGIC, 0)
  new DataView(lead.buffer).setUint32(8, json.length, true)
  lead.set(json, 12)
  const chunks: Array<Uint8Array> = [lead]
  for (const [, a] of arrays) {
    chunks.push(bytesOf(a))
    const pad = Math.ceil(a.byteLength / 8) * 8 - a.byteLength
    if (pad > 0) chunks.push(new Uint8Array(pad))
  }
  const hash = createHash("sha256")
  for (const c of chunks) hash.update(c)
  chunks.push(new Uint8Array(hash.digest()))
  return chunks
}

/** Decodes and verifies an entry; a string is the reason it is unusable. */
export const decodeEntry = (bytes: Uint8Array): PreparedDataset | string => {
  if (bytes.length < 12 + 32) return "entry too short"
  for (let i = 0; i < MAGIC.length; i++) if (bytes[i] !== MAGIC[i]) return "bad magic number"
  const body = bytes.subarray(0, bytes.length - 32)
  const sum = new Uint8Array(createHash("sha256").update(body).digest())
  const stored = bytes.subarray(bytes.length - 32)
  for (let i = 0; i < 32; i++) if (sum[i] !== stored[i]) return "checksum mismatch"
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const headerLength = view.getUint32(8, true)
  let header: Header
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + headerLength))) as Header
  } catch {
    return "unreadable header"
  }
  if (header.version !== cacheFormatVersion) return `format version ${header.version}`
  const base = Math.ceil((12 + headerLength) / 8) * 8
  const arrays = new Map<string, Int32Array | Float32Array>()
  for (const a of header.arrays) {
    const start = bytes.byteOffset + base + a.offset
    const copy = bytes.buffer.slice(start, start + a.length * 4)
    if (copy.byteLength !== a.length * 4) return `array ${a.key} truncated`
    arrays.set(a.key, a.type === "f32" ? new Float32Array(copy) : new Int32Array(copy))
  }
  const i32 = (key: string) => arrays.get(key) as Int32Array
  const f32 = (key: string) => arrays.get(key) as Float32Array
  const attributes: Array<UserAttribute> = header.attributes.map((a, i) => ({
    name: a.name,
    labels: a.labels,
    codes: i32(`attribute.${i}`),
  }))
  const data: PreparedDataset = {
    name: header.name,
    config: header.config,
    stats: header.stats,
    numUsers: header.numUsers,
    numItems: header.numItems,
    userIds: header.userIds,
    itemIds: header.itemIds,
    sequenceOffsets: i32("sequenceOffsets"),
    sequenceItems: i32("sequenceItems"),
    validation: { target: i32("validation.target"), candidates: i32("validation.candidates") },
    test: { target: i32("test.target"), candidates: i32("test.candidates") },
    ...(attributes.length > 0 ? { attributes } : {}),
    ...(arrays.has("exposure.offsets")
      ? {
          exposureNegatives: { offsets: i32("exposure.offsets"), items: i32("exposure.items") },
        }
      : {}),
    ...(arrays.has("truth.validation")
      ? { truth: { validationTruth: f32("truth.validation"), testTruth: f32("truth.test") } }
      : {}),
    ...(header.confounder !== null
      ? { confounder: { name: header.confounder, values: f32("confounder") } }
      : {}),
  }
  const problems = checkPrepared(data)
  return problems.length > 0 ? `inconsistent entry: ${problems[0]}` : data
}

/**
 * The cache key: SHA-256 over the format version, a description of the source (format, name,
 * configuration) and the full contents of every input file, streamed in 4 MiB chunks.
 */
export const cacheKey = (
  description: string,
  files: ReadonlyArray<string>,
): Effect.Effect<string, DataError> =>
  Effect.gen(function* () {
    const hash = createHash("sha256")
    hash.update(`causald-data v${cacheFormatVersion}\n${description}\n`)
    const buf = Buffer.allocUnsafe(1 << 22)
    for (const file of files) {
      const handle = yield* Effect.tryPromise({
        try: () => open(file, "r"),
        catch: (e) => new FileError({ file, reason: reasonOf(e) }),
      })
      const read = Effect.gen(function* () {
        let size = 0
        for (;;) {
          const { bytesRead } = yield* Effect.tryPromise({
            try: () => handle.read(buf, 0, buf.length, null),
            catch: (e) => new FileError({ file, reason: reasonOf(e) }),
          })
          if (bytesRead === 0) break
          size += bytesRead
          hash.update(buf.subarray(0, bytesRead))
        }
        hash.update(`\n${size}\n`)
      })
      yield* Effect.ensuring(
        read,
        Effect.promise(() => handle.close().catch(() => undefined)),
      )
    }
    return hash.digest("hex")
  })

const reasonOf = (e: unknown): string => {
  const code = (e as { code?: unknown }).code
  if (code === "ENOENT") return "no such file"
  if (code === "EISDIR") return "is a directory, expected a file"
  return e instanceof Error ? e.message : String(e)
}

/** The path of the entry for a data set name and key. */
export const entryPath = (cacheDir: string, name: string, key: string): string =>
  join(cacheDir, `${name.replace(/[^A-Za-z0-9._-]+/g, "_")}-${key.slice(0, 32)}.causald`)

/** Writes an entry atomically: temporary file in the same folder, fsync, rename. */
export const writeEntry = (file: string, data: PreparedDataset): Effect.Effect<void, CacheError> =>
  Effect.try({
    try: () => {
      const dir = join(file, "..")
      mkdirSync(dir, { recursive: true })
      const temp = `${file}.tmp-${process.pid}-${randomUUID()}`
      try {
        const fd = openSync(temp, "w")
        try {
          for (const chunk of encodeEntry(data)) {
            let written = 0
            while (written < chunk.length)
              written += writeSync(fd, chunk, written, chunk.length - written)
          }
          fsyncSync(fd)
        } finally {
          closeSync(fd)
        }
        renameSync(temp, file)
      } catch (e) {
        rmSync(temp, { force: true })
        throw e
      }
    },
    catch: (e) => new CacheError({ file, reason: reasonOf(e) }),
  })

/** What reading an entry found. */
export type EntryRead =
  | { readonly _tag: "Missing" }
  | { readonly _tag: "Corrupt"; readonly reason: string }
  | { readonly _tag: "Found"; readonly data: PreparedDataset }

/** Reads and verifies an entry (never fails: an unreadable entry is `Corrupt`). */
export const readEntry = (file: string): Effect.Effect<EntryRead> =>
  Effect.sync((): EntryRead => {
    let bytes: Uint8Array
    try {
      bytes = readFileSync(file)
    } catch (e) {
      const code = (e as { code?: unknown }).code
      return code === "ENOENT" || code === "ENOTDIR"
        ? { _tag: "Missing" }
        : { _tag: "Corrupt", reason: reasonOf(e) }
    }
    const decoded = decodeEntry(bytes)
    return typeof decoded === "string"
      ? { _tag: "Corrupt", reason: decoded }
      : { _tag: "Found", data: decoded }
  })

/**
 * The cached data set for `key`, or the result of `build` written to the cache. A corrupt
 * entry is logged as a warning and rebuilt; a failing build writes nothing.
 */
export const cached = (
  cacheDir: string,
  name: string,
  key: string,
  build: Effect.Effect<PreparedDataset, DataError>,
): Effect.Effect<PreparedDataset, DataError> =>
  Effect.gen(function* () {
    const file = entryPath(cacheDir, name, key)
    const found = yield* readEntry(file)
    if (found._tag === "Found") return found.data
    if (found._tag === "Corrupt")
      yield* Effect.logWarning(`cache entry ${file} is unusable (${found.reason}); rebuilding`)
    const data = yield* build
    yield* writeEntry(file, data)
    return data
  })
