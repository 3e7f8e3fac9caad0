/**
 * The import direction, over every workspace: apps -> training -> models -> core, data -> core,
 * adapters (packages/tfjs) -> core, and nothing imports an app, the benchmarks or the examples.
 * The core can then be reused with another backend, the models without a data set's readers, and
 * a package never changes because an app did.
 *
 * A package's sources (`src/`) and its declared `dependencies` follow the rule. Its tests may in
 * addition run on an adapter (`@causald/tfjs`) and share `test/backends.ts`; the core's may not,
 * since its conformance suite must not assume a backend. `examples/` may use the core, the data,
 * the models, the training and an adapter: that is what an example shows.
 */
import { describe, expect, test } from "bun:test"
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs"
import { join, relative, resolve, sep } from "node:path"

const root = join(import.meta.dir, "..")

/** The workspaces a source may import, by package name. */
const allowed: { readonly [name: string]: ReadonlyArray<string> } = {
  "@causald/core": [],
  "@causald/tfjs": ["@causald/core"],
  "@causald/data": ["@causald/core"],
  "@causald/models": ["@causald/core"],
  "@causald/training": ["@causald/core", "@causald/data", "@causald/models"],
  "@causald/repro": [
    "@causald/core",
    "@causald/data",
    "@causald/models",
    "@causald/training",
    "@causald/tfjs",
  ],
  "@causald/use": [
    "@causald/core",
    "@causald/data",
    "@causald/models",
    "@causald/training",
    "@causald/tfjs",
  ],
  "@causald/bench": [
    "@causald/core",
    "@causald/data",
    "@causald/models",
    "@causald/training",
    "@causald/tfjs",
  ],
  "@causald/examples": [
    "@causald/core",
    "@causald/data",
    "@causald/models",
    "@causald/training",
    "@causald/tfjs",
  ],
}

/** What a package's tests may import besides its sources' allowance: a backend to run on. */
const testExtras: { readonly [name: string]: ReadonlyArray<string> } = {
  "@causald/core": [],
}
const defaultTestExtras = ["@causald/tfjs"]

/** Folders no other workspace may import from. */
const leaves = ["apps", "bench", "examples"]

interface Workspace {
  readonly name: string
  readonly dir: string
}

const workspaces: ReadonlyArray<Workspace> = (
  JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { workspaces: Array<string> }
).workspaces.flatMap((pattern) => {
  const dirs = pattern.endsWith("/*")
    ? readdirSync(join(root, pattern.slice(0, -2))).map((d) => join(pattern.slice(0, -2), d))
    : [pattern]
  return dirs
    .filter((d) => existsSync(join(root, d, "package.json")))
    .map((d) => ({
      dir: d,
      name: (JSON.parse(readFileSync(join(root, d, "package.json"), "utf8")) as { name: string })
        .name,
    }))
})

const sourceFiles = (dir: string): Array<string> =>
  !existsSync(dir)
    ? []
    : readdirSync(dir).flatMap((name) => {
        if (name === "node_modules" || name === "dist" || name.startsWith(".")) return []
        const path = join(dir, name)
        return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith(".ts") ? [path] : []
      })

/** The module specifiers of a source file: static, re-exported and dynamic imports. */
export const specifiers = (source: string): Array<string> => [
  ...[...source.matchAll(/^\s*(?:import|export)\b[^"'`]*?\bfrom\s*["']([^"']+)["']/gm)].map(
    (m) => m[1]!,
  ),
  ...[...source.matchAll(/^\s*import\s*["']([^"']+)["']/gm)].map((m) => m[1]!),
  ...[...source.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1]!),
]

/** The workspace a `@causald/...` specifier names, or undefined for another package. */
const workspaceOf = (specifier: string): string | undefined => {
  const m = /^(@causald\/[^/]+)/.exec(specifier)
  return m?.[1]
}

/** Every import of `files` that breaks the rule, as "file: specifier (why)". */
const violations = (
  workspace: Workspace,
  files: ReadonlyArray<string>,
  may: ReadonlyArray<string>,
  mayLeave: (target: string) => boolean,
): Array<string> => {
  const home = resolve(root, workspace.dir)
  return files.flatMap((file) =>
    specifiers(readFileSync(file, "utf8")).flatMap((spec) => {
      const where = relative(root, file)
      const named = workspaceOf(spec)
      if (named !== undefined)
        return named === workspace.name || may.includes(named)
          ? []
          : [`${where}: ${spec} (${workspace.name} may not import ${named})`]
      if (!spec.startsWith(".")) return []
      const target = resolve(file, "..", spec)
      const inside = relative(root, target)
      if (leaves.some((leaf) => inside === leaf || inside.startsWith(leaf + sep)))
        return target.startsWith(home + sep)
          ? []
          : [`${where}: ${spec} (imports an app, bench or example)`]
      if (target.startsWith(home + sep) || mayLeave(target)) return []
      return [`${where}: ${spec} (reaches into another workspace by path)`]
    }),
  )
}

describe("the import direction", () => {
  test("the guard reads every kind of import", () => {
    expect(
      specifiers(
        [
          `import { a } from "@causald/core"`,
          `import type { B } from "../src/B.ts"`,
          `export * as C from "./C.ts"`,
          `import {`,
          `  d,`,
          `} from "@causald/data"`,
          `const e = await import("@causald/tfjs")`,
          `import "./side-effect.ts"`,
        ].join("\n"),
      ),
    ).toEqual([
      "@causald/core",
      "../src/B.ts",
      "./C.ts",
      "@causald/data",
      "./side-effect.ts",
      "@causald/tfjs",
    ])
  })

  test("every workspace has a place in the layering", () => {
    expect(workspaces.length).toBeGreaterThanOrEqual(8)
    expect(workspaces.filter((w) => allowed[w.name] === undefined).map((w) => w.name)).toEqual([])
  })

  for (const workspace of workspaces) {
    const may = allowed[workspace.name] ?? []
    const isPackage = workspace.dir.startsWith("packages/")

    test(`${workspace.name}: its sources import only ${may.join(", ") || "no other workspace"}`, () => {
      const files = isPackage
        ? sourceFiles(join(root, workspace.dir, "src"))
        : sourceFiles(join(root, workspace.dir)).filter((f) => !f.includes(`${sep}test${sep}`))
      expect(files.length).toBeGreaterThan(0)
      // bench measures the adapter's kernels one by one, by path
      const mayLeave = (target: string) =>
        workspace.name === "@causald/bench" &&
        target.startsWith(join(root, "packages", "tfjs", "src") + sep)
      expect(violations(workspace, files, may, mayLeave)).toEqual([])
    })

    test(`${workspace.name}: its tests import no app, bench or example, and an adapter only where allowed`, () => {
      const files = sourceFiles(join(root, workspace.dir, "test"))
      const extras = testExtras[workspace.name] ?? defaultTestExtras
      const sharedTests = join(root, "test") + sep
      expect(
        violations(workspace, files, [...may, ...extras], (target) =>
          workspace.name === "@causald/core" ? false : target.startsWith(sharedTests),
        ),
      ).toEqual([])
    })

    test(`${workspace.name}: its declared dependencies follow the layering`, () => {
      const manifest = JSON.parse(
        readFileSync(join(root, workspace.dir, "package.json"), "utf8"),
      ) as { dependencies?: Record<string, string>; devDependencies?: Record<string, string> }
      const extras = isPackage ? (testExtras[workspace.name] ?? defaultTestExtras) : []
      const bad = [
        ...Object.keys(manifest.dependencies ?? {}).filter(
          (d) => d.startsWith("@causald/") && !may.includes(d),
        ),
        ...Object.keys(manifest.devDependencies ?? {}).filter(
          (d) => d.startsWith("@causald/") && !may.includes(d) && !extras.includes(d),
        ),
      ]
      expect(bad).toEqual([])
    })
  }

  test("the cross-package tests (test/) import no app, bench or example", () => {
    const files = sourceFiles(join(root, "test"))
    const found = files.flatMap((file) =>
      specifiers(readFileSync(file, "utf8"))
        .filter((spec) => spec.startsWith("."))
        .map((spec) => relative(root, resolve(file, "..", spec)))
        .filter((inside) => leaves.some((leaf) => inside.startsWith(leaf + sep)))
        .map((inside) => `${relative(root, file)}: ${inside}`),
    )
    expect(found).toEqual([])
  })
})
