import { describe, expect, test } from "bun:test"
import { Effect, FileSystem, PlatformError } from "effect"
import * as Checkpoint from "../src/Checkpoint.ts"

/** An in-memory file system; `failRename` simulates a crash between writing and renaming. */
const memoryFs = (files: Map<string, Uint8Array>, options: { failRename?: boolean } = {}) =>
  FileSystem.layerNoop({
    writeFile: (path, data) => Effect.sync(() => void files.set(path, data.slice())),
    readFile: (path) => {
      const data = files.get(path)
      return data === undefined
        ? Effect.fail(
            PlatformError.systemError({
              _tag: "NotFound",
              module: "FileSystem",
              method: "readFile",
              pathOrDescriptor: path,
            }),
          )
        : Effect.succeed(data.slice())
    },
    rename: (from, to) =>
      options.failRename
        ? Effect.fail(
            PlatformError.systemError({
              _tag: "Unknown",
              module: "FileSystem",
              method: "rename",
              pathOrDescriptor: from,
            }),
          )
        : Effect.sync(() => {
            files.set(to, files.get(from)!)
            files.delete(from)
          }),
  })

const contents: Checkpoint.CheckpointContents = {
  arrays: [
    {
      name: "din/item-embedding",
      shape: [3, 2],
      dtype: "float32",
      data: Float32Array.of(0.5, -1, 2, 3.25, 0, 1e-8),
    },
    { name: "step", shape: [1], dtype: "int32", data: Int32Array.of(42) },
    { name: "empty", shape: [0], dtype: "float32", data: new Float32Array(0) },
  ],
  meta: { epoch: 3, seed: 7, note: "ümlaut" },
}

const run = <A, E>(
  effect: Effect.Effect<A, E, FileSystem.FileSystem>,
  files: Map<string, Uint8Array>,
  failRename = false,
) => Effect.runPromise(Effect.result(effect.pipe(Effect.provide(memoryFs(files, { failRename })))))

describe("Checkpoint", () => {
  test("CRC-32 matches zlib's value for a known string", () => {
    expect(Checkpoint.crc32(new TextEncoder().encode("123456789"))).toBe(0xcbf43926)
  })

  test("save then load returns the same names, shapes, dtypes, values and metadata", async () => {
    const files = new Map<string, Uint8Array>()
    await run(Checkpoint.save("/ck/model.ckpt", contents), files)
    expect([...files.keys()]).toEqual(["/ck/model.ckpt"]) // the temporary file was renamed away
    const loaded = await run(Checkpoint.load("/ck/model.ckpt"), files)
    expect(loaded._tag).toBe("Success")
    if (loaded._tag !== "Success") return
    expect(loaded.success.meta).toEqual(contents.meta)
    expect(
      loaded.success.arrays.map((a) => [a.name, [...a.shape], a.dtype, Array.from(a.data)]),
    ).toEqual(contents.arrays.map((a) => [a.name, [...a.shape], a.dtype, Array.from(a.data)]))
    expect(loaded.success.arrays[1]!.data).toBeInstanceOf(Int32Array)
  })

  test("a crash before the rename leaves the previous checkpoint intact", async () => {
    const files = new Map<string, Uint8Array>()
    await run(Checkpoint.save("/m.ckpt", contents), files)
    const before = files.get("/m.ckpt")!.slice()
    const failed = await run(Checkpoint.save("/m.ckpt", { arrays: [], meta: "newer" }), files, true)
    expect(failed._tag).toBe("Failure")
    expect(files.get("/m.ckpt")).toEqual(before)
    const loaded = await run(Checkpoint.load("/m.ckpt"), files)
    expect(loaded._tag === "Success" && loaded.success.meta).toEqual(contents.meta)
  })

  test("every single flipped byte and every truncation is detected", async () => {
    const bytes = Checkpoint.encode(contents)
    for (let i = 0; i < bytes.length; i += 7) {
      const corrupt = bytes.slice()
      corrupt[i] = corrupt[i]! ^ 0x40
      const result = await Effect.runPromise(Effect.result(Checkpoint.decode("x.ckpt", corrupt)))
      expect(result._tag).toBe("Failure")
    }
    for (const length of [0, 5, 12, bytes.length - 1]) {
      const result = await Effect.runPromise(
        Effect.result(Checkpoint.decode("x.ckpt", bytes.slice(0, length))),
      )
      expect(result._tag).toBe("Failure")
    }
  })

  test("errors name the file and say what is wrong", async () => {
    const files = new Map<string, Uint8Array>([
      ["/not.ckpt", new TextEncoder().encode("hello, this is not a checkpoint")],
    ])
    const missing = await run(Checkpoint.load("/missing.ckpt"), files)
    const foreign = await run(Checkpoint.load("/not.ckpt"), files)
    expect(missing._tag === "Failure" && missing.failure.message).toContain(
      "/missing.ckpt: cannot read",
    )
    expect(foreign._tag === "Failure" && foreign.failure.message).toContain(
      "/not.ckpt: not a CausalD checkpoint",
    )
  })
})
