/**
 * Checkpoints: a named set of arrays (parameters, optimiser slots) plus JSON metadata, in one
 * binary file with a CRC-32 checksum, written atomically (to a temporary file, then renamed) so
 * that a run killed at any moment leaves either the previous checkpoint or the new one, never a
 * half-written file.
 *
 * File layout (little-endian): the 8 bytes `CAUSALD1`; a u32 header length h; h bytes of UTF-8
 * JSON `{ entries: [{ name, shape, dtype, offset, length }], meta }`; zero padding to a multiple
 * of 4; the arrays' bytes at their offsets (relative to the payload start); a u32 CRC-32 of every
 * preceding byte.
 *
 * The file system is Effect's abstract `FileSystem` service: the application provides the real
 * one, tests an in-memory one. This module reads no file system of its own.
 *
 * @module
 */
import { Effect, FileSystem, Schema } from "effect"
import { type NamedArray, type Optimizer, type Parameter, Tensors } from "./Tensor.ts"

const MAGIC = "CAUSALD1"

/** A checkpoint file is missing, unreadable, truncated, corrupt, or of another format. */
export class CheckpointError extends Schema.TaggedError<CheckpointError>()("CheckpointError", {
  path: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `checkpoint ${this.path}: ${this.reason}`
  }
}

/** What a checkpoint holds. `meta` is any JSON value (epoch, seeds, metrics, ...). */
export interface CheckpointContents {
  readonly arrays: ReadonlyArray<NamedArray>
  readonly meta: unknown
}

const crcTable = (() => {
  const table = new Uint32Array(256)
  for (let n = 0; n < 256; n++) {
    let c = n
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
    table[n] = c >>> 0
  }
  return table
})()

/** CRC-32 (IEEE 802.3 polynomial), as zlib computes it. */
export const crc32 = (bytes: Uint8Array): number => {
  let c = 0xffffffff
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8)
  return (c ^ 0xffffffff) >>> 0
}

const align4 = (n: number): number => (n + 3) & ~3

/** Serialises a checkpoint into bytes. */
export const encode = (contents: CheckpointContents): Uint8Array => {
  let offset = 0
  const entries = contents.arrays.map((a) => {
    const entry = {
      name: a.name,
      shape: [...a.shape],
      dtype: a.dtype,
      offset,
      length: a.data.length,
    }
    offset += a.data.length * 4
    return entry
  })
  const header = new TextEncoder().encode(JSON.stringify({ entries, meta: contents.meta ?? null }))
  const payloadStart = align4(MAGIC.length + 4 + header.length)
  const total = payloadStart + offset + 4
  const bytes = new Uint8Array(total)
  const view = new DataView(bytes.buffer)
  bytes.set(new TextEncoder().encode(MAGIC), 0)
  view.setUint32(MAGIC.length, header.length, true)
  bytes.set(header, MAGIC.length + 4)
  contents.arrays.forEach((a, i) => {
    const source = new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength)
    bytes.set(source, payloadStart + entries[i]!.offset)
  })
  view.setUint32(total - 4, crc32(bytes.subarray(0, total - 4)), true)
  return bytes
}

const HeaderSchema = Schema.Struct({
  entries: Schema.Array(
    Schema.Struct({
      name: Schema.String,
      shape: Schema.Array(Schema.Number),
      dtype: Schema.Literals(["float32", "int32"]),
      offset: Schema.Number,
      length: Schema.Number,
    }),
  ),
  meta: Schema.Unknown,
})

/** Parses bytes written by {@link encode}, verifying the magic, the checksum and every bound. */
export const decode = (
  path: string,
  bytes: Uint8Array,
): Effect.Effect<CheckpointContents, CheckpointError> =>
  Effect.gen(function* () {
    const fail = (reason: string) => Effect.fail(new CheckpointError({ path, reason }))
    if (
      bytes.length < MAGIC.length + 8 ||
      new TextDecoder().decode(bytes.subarray(0, MAGIC.length)) !== MAGIC
    )
      return yield* fail(`not a CausalD checkpoint (expected the bytes "${MAGIC}" at the start)`)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const stored = view.getUint32(bytes.length - 4, true)
    const actual = crc32(bytes.subarray(0, bytes.length - 4))
    if (stored !== actual)
      return yield* fail(
        `checksum mismatch (stored ${stored}, computed ${actual}): the file is corrupt or truncated`,
      )
    const headerLength = view.getUint32(MAGIC.length, true)
    const headerEnd = MAGIC.length + 4 + headerLength
    if (headerEnd > bytes.length - 4) return yield* fail("header runs past the end of the file")
    let json: unknown
    try {
      json = JSON.parse(new TextDecoder().decode(bytes.subarray(MAGIC.length + 4, headerEnd)))
    } catch {
      return yield* fail("header is not valid JSON")
    }
    const header = yield* Schema.decodeUnknownEffect(HeaderSchema)(json).pipe(
      Effect.mapError(
        (issue) => new CheckpointError({ path, reason: `malformed header: ${issue.message}` }),
      ),
    )
    const payloadStart = align4(headerEnd)
    const arrays: Array<NamedArray> = []
    for (const e of header.entries) {
      const start = payloadStart + e.offset
      const elements = e.shape.reduce((a, b) => a * b, 1)
      if (elements !== e.length || start + e.length * 4 > bytes.length - 4 || start % 4 !== 0)
        return yield* fail(`array "${e.name}" has an inconsistent shape, length or offset`)
      // A copy: a Node Buffer's slice is a view into a shared pool.
      const copy = new Uint8Array(bytes.subarray(start, start + e.length * 4)).buffer
      arrays.push({
        name: e.name,
        shape: e.shape,
        dtype: e.dtype,
        data: e.dtype === "float32" ? new Float32Array(copy) : new Int32Array(copy),
      })
    }
    return { arrays, meta: header.meta }
  })

/**
 * Writes a checkpoint atomically: the bytes go to `<path>.partial`, which is then renamed over
 * `path` (rename is atomic within a file system), so readers see the old file or the new one.
 */
export const save = (
  path: string,
  contents: CheckpointContents,
): Effect.Effect<void, CheckpointError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const partial = `${path}.partial`
    yield* fs.writeFile(partial, encode(contents))
    yield* fs.rename(partial, path)
  }).pipe(
    Effect.mapError((error) =>
      error instanceof CheckpointError
        ? error
        : new CheckpointError({ path, reason: `cannot write: ${error.message}` }),
    ),
  )

/** Reads and verifies a checkpoint written by {@link save}. */
export const load = (
  path: string,
): Effect.Effect<CheckpointContents, CheckpointError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs
      .readFile(path)
      .pipe(
        Effect.mapError(
          (error) => new CheckpointError({ path, reason: `cannot read: ${error.message}` }),
        ),
      )
    return yield* decode(path, bytes)
  })

/**
 * Saves parameters (and optionally an optimiser's slots, under "optimizer/") with metadata,
 * atomically. The names are the parameters' own, so a model rebuilt with the same structure
 * loads it back whatever order it creates its parameters in.
 */
export const saveParameters = (
  path: string,
  params: ReadonlyArray<Parameter>,
  options: { readonly optimizer?: Optimizer; readonly meta?: unknown } = {},
): Effect.Effect<void, CheckpointError, FileSystem.FileSystem | Tensors> =>
  Effect.gen(function* () {
    const backend = yield* Tensors
    const arrays = [
      ...backend.snapshot(params),
      ...(options.optimizer?.state() ?? []).map((a) => ({ ...a, name: `optimizer/${a.name}` })),
    ]
    yield* save(path, { arrays, meta: options.meta ?? null })
  })

/**
 * Loads a checkpoint written by {@link saveParameters} into `params` (matched by name, shapes
 * checked) and the optimiser's slots; returns the metadata. Fails, changing nothing, when a
 * parameter is missing or has another shape.
 */
export const loadParameters = (
  path: string,
  params: ReadonlyArray<Parameter>,
  options: { readonly optimizer?: Optimizer } = {},
): Effect.Effect<unknown, CheckpointError, FileSystem.FileSystem | Tensors> =>
  Effect.gen(function* () {
    const backend = yield* Tensors
    const { arrays, meta } = yield* load(path)
    const byName = new Map(arrays.map((a) => [a.name, a]))
    for (const p of params) {
      const stored = byName.get(p.name)
      if (stored === undefined)
        return yield* new CheckpointError({ path, reason: `has no parameter "${p.name}"` })
      if (stored.shape.join("x") !== p.value.shape.join("x"))
        return yield* new CheckpointError({
          path,
          reason: `parameter "${p.name}" has shape [${stored.shape.join(", ")}], the model expects [${p.value.shape.join(", ")}]`,
        })
    }
    for (const p of params) {
      const stored = byName.get(p.name)!
      backend.tidy(() => backend.assign(p, backend.tensor(stored.data, stored.shape, stored.dtype)))
    }
    if (options.optimizer !== undefined)
      options.optimizer.load(
        arrays
          .filter((a) => a.name.startsWith("optimizer/"))
          .map((a) => ({ ...a, name: a.name.slice("optimizer/".length) })),
      )
    return meta
  })
