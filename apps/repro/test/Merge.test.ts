/**
 * `repro-merge`: parts of a study with disjoint seeds joined into the results of all the seeds.
 * On hand-made results, the parts cut from one run join back into it and parts of different
 * studies are refused by name; as processes on the `--quick` study, `--seeds 1` and
 * `--seeds 1 --first-seed 2` joined give the numbers of one `--seeds 2` run.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { BaseModels } from "@causald/models"
import { Result } from "effect"
import { baseModelRecord, type OutputFingerprint } from "../src/Fingerprint.ts"
import { merge, type Part } from "../src/Merge.ts"
import { encodeResults, type Results, summarize, summarizeGroups } from "../src/Results.ts"
import { finish, makeResults, readRunResults, twoSeedStudy } from "./fixture.ts"

const root = mkdtempSync(join(tmpdir(), "causald-merge-"))
afterAll(() => rmSync(root, { recursive: true, force: true }))

const fingerprint: OutputFingerprint = {
  data: "ab".repeat(32),
  name: "ml-100k",
  users: 943,
  items: 1010,
  interactions: 96216,
  kCore: 16,
  settings: { base: "din", batchSize: 512, negatives: 1, optimizer: "adagrad" },
}

const whole = (): Results => {
  const r = makeResults()
  return {
    ...r,
    manifest: { ...r.manifest, seeds: [1, 2, 3], fingerprint, gitRevision: "abc" },
    coefficients: { causald: 1 },
  }
}

/** Every quantity over the seeds of `value` kept at the seed positions `keep`. */
const keepSeeds = (value: unknown, keep: ReadonlyArray<number>): unknown => {
  if (Array.isArray(value)) return value.map((v) => keepSeeds(v, keep))
  if (typeof value !== "object" || value === null) return value
  const record = value as Record<string, unknown>
  if (Array.isArray(record.perSeed) && "mean" in record && "std" in record) {
    const perSeed = keep.map((s) => (record.perSeed as ReadonlyArray<unknown>)[s])
    return Array.isArray(perSeed[0])
      ? summarizeGroups(perSeed as ReadonlyArray<ReadonlyArray<number>>)
      : summarize(perSeed as ReadonlyArray<number>)
  }
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, keepSeeds(v, keep)]))
}

/** The part of `results` with the seeds at positions `keep`, as run with `--first-seed`. */
const partOf = (results: Results, keep: ReadonlyArray<number>, folder: string): Part => {
  const seeds = keep.map((s) => results.manifest.seeds[s]!)
  const { manifest, comparisons: _c, ...rest } = results
  const body = keepSeeds(rest, keep) as Omit<Results, "manifest" | "comparisons">
  return {
    folder,
    results: {
      ...body,
      comparisons: [],
      manifest: {
        ...manifest,
        seeds,
        configuration: {
          ...manifest.configuration,
          seeds: seeds.length,
          ...(seeds[0] === 1 ? {} : { firstSeed: seeds[0]! }),
          out: folder,
        },
      },
    },
  }
}

const reasonOf = (parts: ReadonlyArray<Part>): string => {
  const merged = merge(parts, "/out")
  if (Result.isSuccess(merged)) throw new Error("expected the merge to be refused")
  return merged.failure.reason
}

describe("merge", () => {
  test("parts cut from one run, in any order, join back into its numbers", () => {
    const r = whole()
    const a = partOf(r, [0, 1], "/runs/a")
    const b = partOf(r, [2], "/runs/b")
    const merged = merge([b, a], "/out")
    if (Result.isFailure(merged)) throw new Error(merged.failure.reason)
    const j = merged.success.results
    expect(j.methods).toEqual(r.methods)
    expect(j.groupings).toEqual(r.groupings)
    expect(j.comparisons).toEqual(r.comparisons)
    expect(j.dataset).toEqual(r.dataset)
    expect(j.coefficients).toEqual(r.coefficients)
    expect(j.manifest.seeds).toEqual([1, 2, 3])
    expect(j.manifest.configuration.seeds).toBe(3)
    expect(j.manifest.configuration.firstSeed).toBeUndefined()
    expect(j.manifest.configuration.out).toBe("/out")
    expect(j.manifest.parts?.map((p) => [p.folder, p.seeds])).toEqual([
      ["/runs/a", [1, 2]],
      ["/runs/b", [3]],
    ])
    expect(j.manifest.wallTimeSeconds).toBe(2 * r.manifest.wallTimeSeconds)
    expect(j.manifest.training).toHaveLength(2 * r.manifest.training.length)
    // Table 7 and Fig. 5 come from the first seed's part, and the note says the other had them.
    expect(j.teacherCounts).toEqual(a.results.teacherCounts)
    expect(merged.success.notes.join("\n")).toContain("Table 7 is taken from /runs/a")
    // What it wrote is valid results.json.
    expect(Result.isSuccess(encodeResults(j))).toBe(true)
  })

  test("parts of different studies are refused, naming the difference", () => {
    const r = whole()
    const a = partOf(r, [0, 1], "/runs/a")
    const b = partOf(r, [2], "/runs/b")
    expect(reasonOf([a])).toContain("at least two parts")
    expect(reasonOf([a, partOf(r, [1, 2], "/runs/c")])).toContain(
      "seed 2 is in /runs/a and in /runs/c",
    )
    const withB = (f: (m: Results) => Results): Part => ({ ...b, results: f(b.results) })
    const otherData = withB((x) => ({
      ...x,
      manifest: { ...x.manifest, fingerprint: { ...fingerprint, data: "cd".repeat(32) } },
    }))
    expect(reasonOf([a, otherData])).toContain("/runs/b was trained on other data or settings")
    // the base model's configuration: a part from before it was recorded stands for the defaults
    const withModel = (config: BaseModels.Resolved) =>
      withB((x) => ({
        ...x,
        manifest: {
          ...x.manifest,
          fingerprint: { ...fingerprint, model: baseModelRecord(config) },
        },
      }))
    expect(Result.isSuccess(merge([a, withModel(BaseModels.defaults("din"))], "/out"))).toBe(true)
    const wider = Result.getOrThrow(BaseModels.resolve("din", { embeddingSize: 16 }))
    expect(reasonOf([a, withModel(wider)])).toContain(
      "base model option embeddingSize was 8, now 16",
    )
    const otherLambda = withB((x) => ({
      ...x,
      manifest: {
        ...x.manifest,
        configuration: { ...x.manifest.configuration, lambdaBda: 10 },
      },
    }))
    expect(reasonOf([a, otherLambda])).toContain("/runs/b was run with lambdaBda 10")
    const otherBackend = withB((x) => ({ ...x, manifest: { ...x.manifest, backend: "wasm" } }))
    expect(reasonOf([a, otherBackend])).toContain("ran on the backend wasm")
    const { fingerprint: _f, ...bare } = b.results.manifest
    expect(reasonOf([a, withB((x) => ({ ...x, manifest: bare }))])).toContain(
      "does not record what its models were trained on",
    )
    const otherSearch = withB((x) => ({ ...x, coefficients: { causald: 0.1 } }))
    expect(reasonOf([a, otherSearch])).toContain("results.coefficients.causald is 1")
    // Another data path on another machine is allowed: the fingerprint checks the content.
    const moved = withB((x) => ({
      ...x,
      manifest: {
        ...x.manifest,
        configuration: {
          ...x.manifest.configuration,
          data: "/elsewhere/ml-100k",
          source: { format: "movielens-100k", directory: "/elsewhere/ml-100k" },
        },
      },
    }))
    expect(Result.isSuccess(merge([a, moved], "/out"))).toBe(true)
  })
})

describe("bun run repro-merge", () => {
  const main = join(import.meta.dir, "..", "src", "main.ts")
  const mergeMain = join(import.meta.dir, "..", "src", "merge-main.ts")
  // The --quick study of the multi-process tests, one seed at a time.
  const oneSeed = twoSeedStudy.map((a, i) => (twoSeedStudy[i - 1] === "--seeds" ? "1" : a))
  const run = (args: ReadonlyArray<string>) =>
    finish(Bun.spawn(["bun", ...args], { stdout: "ignore", stderr: "pipe" }))

  test("--seeds 1 and --seeds 1 --first-seed 2, joined, give the numbers of --seeds 2", async () => {
    const [first, second, both] = [join(root, "s1"), join(root, "s2"), join(root, "both")]
    const runs = await Promise.all([
      run([main, ...oneSeed, "--out", first]),
      run([main, ...oneSeed, "--first-seed", "2", "--out", second]),
      run([main, ...twoSeedStudy, "--out", both]),
    ])
    for (const r of runs) expect(r.code).toBe(0)
    const out = join(root, "joined")
    const joined = await run([mergeMain, "--out", out, second, join(first, "results.json")])
    expect(joined.stderr).toContain("seeds 1, 2 from 2 parts")
    expect(joined.code).toBe(0)
    const [j, w] = [readRunResults(out), readRunResults(both)]
    expect(j.methods).toEqual(w.methods)
    expect(j.groupings).toEqual(w.groupings)
    expect(j.comparisons).toEqual(w.comparisons)
    expect(j.manifest.seeds).toEqual([1, 2])
    expect(existsSync(join(out, "table3.md"))).toBe(true)
    // The same parts again, into one of them: refused before anything is written.
    const refused = await run([mergeMain, "--out", first, first, second])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toContain(`--out ${first} is the part ${first}`)
    // A part that is not a run: one line naming it.
    const missing = await run([mergeMain, "--out", out, first, join(root, "nothing")])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(`${join(root, "nothing")}: no such folder or file`)
  }, 120_000)
})
