/**
 * packages/core must stay pure: no tensor library, no file system, no clock. Other projects
 * reuse it with their own backends, and its programs must be deterministic given their inputs.
 */
import { describe, expect, test } from "bun:test"
import { readdirSync, readFileSync, statSync } from "node:fs"
import { join } from "node:path"

const coreSrc = join(import.meta.dir, "..", "packages", "core", "src")

const forbidden: ReadonlyArray<{ readonly what: string; readonly pattern: RegExp }> = [
  { what: "a TensorFlow.js import", pattern: /from\s+["']@tensorflow\// },
  { what: "a TensorFlow.js import", pattern: /import\(\s*["']@tensorflow\// },
  { what: "a file system import", pattern: /from\s+["'](node:)?fs(\/promises)?["']/ },
  { what: "a file system import", pattern: /from\s+["']@effect\/platform-(node|bun)/ },
  {
    what: "a path/os/process import",
    pattern: /from\s+["'](node:)?(os|child_process|worker_threads)["']/,
  },
  { what: "a clock read", pattern: /\bDate\.now\s*\(|\bnew Date\s*\(|\bperformance\.now\s*\(/ },
  { what: "Bun's runtime API", pattern: /\bBun\.(file|write|spawn|nanoseconds)\b/ },
  { what: "unseeded randomness", pattern: /\bMath\.random\s*\(/ },
]

const sourceFiles = (dir: string): Array<string> =>
  readdirSync(dir).flatMap((name) => {
    const path = join(dir, name)
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : []
  })

/** Every forbidden use in a piece of source, as "line N: what". */
export const violations = (source: string): Array<string> =>
  source
    .split("\n")
    .flatMap((line, index) =>
      forbidden
        .filter((rule) => rule.pattern.test(line))
        .map((rule) => `line ${index + 1}: ${rule.what}`),
    )

describe("packages/core is pure", () => {
  test("the guard catches each kind of forbidden use", () => {
    expect(violations(`import * as tf from "@tensorflow/tfjs-core"`)).toHaveLength(1)
    expect(violations(`import { readFileSync } from "node:fs"`)).toHaveLength(1)
    expect(violations(`import { readFile } from "fs/promises"`)).toHaveLength(1)
    expect(violations(`const t = Date.now()`)).toHaveLength(1)
    expect(violations(`const r = Math.random()`)).toHaveLength(1)
    expect(violations(`import { Effect } from "effect"`)).toHaveLength(0)
  })

  test("no source file in packages/core imports a tensor library, the file system or the clock", () => {
    const files = sourceFiles(coreSrc)
    expect(files.length).toBeGreaterThan(0)
    const found = files.flatMap((file) =>
      violations(readFileSync(file, "utf8")).map((v) => `${file.slice(coreSrc.length + 1)} ${v}`),
    )
    expect(found).toEqual([])
  })

  test("packages/core declares no tensor library or platform package as a dependency", () => {
    const manifest = JSON.parse(readFileSync(join(coreSrc, "..", "package.json"), "utf8")) as {
      dependencies?: Record<string, string>
    }
    const names = Object.keys(manifest.dependencies ?? {})
    expect(
      names.filter((n) => n.startsWith("@tensorflow/") || n.startsWith("@effect/platform")),
    ).toEqual([])
  })
})
