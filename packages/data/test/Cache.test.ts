import { afterAll, describe, expect, test } from "bun:test"
import { readdirSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { Effect } from "effect"
import { decodeEntry, encodeEntry } from "../src/Cache.ts"
import type { PreparedDataset } from "../src/Prepared.ts"
import { prepareLog } from "../src/Protocol.ts"
import { simulate } from "../src/Simulated.ts"
import { load } from "../src/Sources.ts"
import { failure, logOf, tempDir, writeFile } from "./helpers.ts"

const { dir, cleanup } = tempDir()
afterAll(cleanup)

const concat = (chunks: Array<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0))
  let o = 0
  for (const c of chunks) {
    out.set(c, o)
    o += c.length
  }
  return out
}

/** A sequence file of 30 users over 40 items (5-core safe). */
const sequenceFile = (name: string, shift = 0): string => {
  const lines: Array<string> = []
  for (let u = 1; u <= 30; u++) {
    const items = Array.from({ length: 8 }, (_, t) => 1 + ((u * 3 + t * 5 + shift) % 40))
    lines.push(`${u} ${[...new Set(items)].join(" ")}`)
  }
  return writeFile(dir, name, lines.join("\n"))
}

const entries = (cache: string) => readdirSync(cache).filter((f) => f.endsWith(".causald"))

describe("cache", () => {
  test("encode/decode round trip keeps every optional part", () => {
    const sim = simulate({ users: 30, items: 120, candidates: 10, maxLength: 20 })
    const exposure = prepareLog(
      logOf(
        [
          [1, 1, 1],
          [1, 2, 2],
          [1, 3, 3],
          [1, 4, 4],
          [2, 1, 1],
          [2, 2, 2],
          [2, 5, 3],
        ],
        { clicked: [1, 1, 1, 0, 1, 1, 1] },
      ),
      "x",
      { kCore: 0, historyLength: 4, negativesPerPositive: 1, candidates: 1, seed: 0, minRating: 2 },
    )
    for (const data of [sim, exposure]) {
      const back = decodeEntry(concat(encodeEntry(data))) as PreparedDataset
      expect(typeof back).toBe("object")
      expect(back).toEqual(data)
    }
  })

  test("a second load reads the entry; another file content or setting is another entry", async () => {
    const cache = join(dir, "cache1")
    const file = sequenceFile("seq1.txt")
    const first = await Effect.runPromise(
      load({ format: "sequences", file }, { cacheDir: cache, candidates: 10 }),
    )
    expect(entries(cache)).toHaveLength(1)
    expect(readdirSync(cache).filter((f) => f.includes(".tmp-"))).toEqual([])
    // overwrite the entry with a valid entry under another name: the next load must return it
    const path = join(cache, entries(cache)[0]!)
    writeFileSync(path, concat(encodeEntry({ ...first, name: "from-the-cache" })))
    const second = await Effect.runPromise(
      load({ format: "sequences", file }, { cacheDir: cache, candidates: 10 }),
    )
    expect(second.name).toBe("from-the-cache")
    expect(second.sequenceItems).toEqual(first.sequenceItems)
    await Effect.runPromise(
      load({ format: "sequences", file }, { cacheDir: cache, seed: 3, candidates: 10 }),
    )
    expect(entries(cache)).toHaveLength(2)
    sequenceFile("seq1.txt", 1) // same path, new content
    const changed = await Effect.runPromise(
      load({ format: "sequences", file }, { cacheDir: cache, candidates: 10 }),
    )
    expect(entries(cache)).toHaveLength(3)
    expect(changed.sequenceItems).not.toEqual(first.sequenceItems)
  })

  test("a corrupt or truncated entry is detected and rebuilt", async () => {
    const cache = join(dir, "cache2")
    const file = sequenceFile("seq2.txt")
    const fresh = await Effect.runPromise(
      load({ format: "sequences", file }, { cacheDir: cache, candidates: 10 }),
    )
    const path = join(cache, entries(cache)[0]!)
    const bytes = readFileSync(path)
    expect(typeof decodeEntry(bytes)).toBe("object")
    const flipped = Uint8Array.from(bytes)
    flipped[Math.floor(bytes.length / 2)]! ^= 0x40
    expect(decodeEntry(flipped)).toBe("checksum mismatch")
    writeFileSync(path, flipped)
    const rebuilt = await Effect.runPromise(
      load({ format: "sequences", file }, { cacheDir: cache, candidates: 10 }),
    )
    expect(rebuilt).toEqual(fresh)
    expect(typeof decodeEntry(readFileSync(path))).toBe("object")
    writeFileSync(path, bytes.subarray(0, 100))
    expect(typeof decodeEntry(readFileSync(path))).toBe("string")
    const again = await Effect.runPromise(
      load({ format: "sequences", file }, { cacheDir: cache, candidates: 10 }),
    )
    expect(again).toEqual(fresh)
    expect(readFileSync(path).length).toBe(bytes.length)
  })

  test("a failing build writes nothing, not even a temporary file", async () => {
    const cache = join(dir, "cache3")
    const bad = writeFile(dir, "bad.txt", "1 2 3\n2 x\n")
    const e = await failure(
      load({ format: "sequences", file: bad }, { cacheDir: cache, candidates: 10 }),
    )
    expect(e._tag).toBe("ParseError")
    let files: Array<string> = []
    try {
      files = readdirSync(cache)
    } catch {
      files = []
    }
    expect(files).toEqual([])
  })

  test("an unwritable cache folder is a typed error", async () => {
    const file = sequenceFile("seq3.txt")
    const blocker = writeFile(dir, "not-a-folder", "x")
    const e = await failure(
      load({ format: "sequences", file }, { cacheDir: join(blocker, "c"), candidates: 10 }),
    )
    expect(e._tag).toBe("CacheError")
  })
})
