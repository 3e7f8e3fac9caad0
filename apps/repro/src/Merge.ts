/**
 * Joins the results of one study run in parts: the same command with `--first-seed` and disjoint
 * seeds, in several sessions or on several machines (`bun run repro-merge`). The joined
 * `results.json` is what one invocation over all the parts' seeds would have written, timestamps
 * and the manifest aside: every quantity over the seeds (a {@link Summary} or
 * {@link GroupSummary}) has its per-seed values concatenated in seed order and its mean and
 * standard deviation recomputed, and the t-tests (`comparisons`) are computed again over all the
 * seeds. Everything else must be equal in every part (the data set, the groupings' sizes, the
 * oracles, the chosen coefficients), or the join is refused, naming the field.
 *
 * Why: a study's training is hours (the 5-seed confirmation of a reading on Amazon Beauty is
 * several times a session's 3 hours on 2 cores), and a study folder holds model checkpoints that
 * cannot always travel; its `results.json` is small and can. Parts are refused unless they were
 * trained on the same data and settings (the manifests' `fingerprint`), with the same options
 * but `--seeds`, `--first-seed`, `--out`, `--data`'s path and `--workers`, and on the same tensor
 * backend (another one's arithmetic would differ by more than the seeds do).
 *
 * Table 7 and Fig. 5 run on a study's first seed only: they are taken from the part with the
 * lowest seed, and {@link merge} says so when a later part has them too.
 *
 * @module
 */
import { Result, Schema } from "effect"
import { fingerprintDifference } from "./Fingerprint.ts"
import type { StudyOptions } from "./Options.ts"
import {
  compareMethods,
  type Manifest,
  type ManifestPart,
  type Results,
  summarize,
  summarizeGroups,
} from "./Results.ts"

/** The parts cannot be joined: names the part (its folder) or the field, and why. */
export class MergeError extends Schema.TaggedError<MergeError>()("MergeError", {
  reason: Schema.String,
}) {
  override get message(): string {
    return this.reason
  }
}

/** One part to join: its folder (for messages and the manifest) and its results. */
export interface Part {
  readonly folder: string
  readonly results: Results
}

/** The joined results, and what the caller should tell the user. */
export interface Merged {
  readonly results: Results
  readonly notes: ReadonlyArray<string>
}

/** Options that may differ between parts: they change which seeds run and where, not a number. */
const perPartOptions = [
  "seeds",
  "firstSeed",
  "out",
  "data",
  "workers",
] as const satisfies ReadonlyArray<keyof StudyOptions>

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [k: string]: Json }

const isRecord = (v: Json): v is { readonly [k: string]: Json } =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** A {@link Summary} or {@link GroupSummary}: `{ perSeed, mean, std }`. */
const isSeedSummary = (v: Json): v is { readonly [k: string]: Json } =>
  isRecord(v) &&
  Object.keys(v).length === 3 &&
  Array.isArray(v.perSeed) &&
  "mean" in v &&
  "std" in v

/**
 * Joins `values` (one per part, in seed order) at `path`: quantities over the seeds are
 * concatenated and summarised again; records and arrays are joined field by field and element by
 * element; anything else must be equal in every part.
 */
const join = (values: ReadonlyArray<Json>, path: string): Result.Result<Json, string> => {
  const first = values[0]!
  if (values.every(isSeedSummary)) {
    const perSeed = values.flatMap((v) => v.perSeed as ReadonlyArray<Json>)
    return Result.succeed(
      perSeed.every(Array.isArray)
        ? (summarizeGroups(perSeed as ReadonlyArray<ReadonlyArray<number>>) as unknown as Json)
        : (summarize(perSeed as ReadonlyArray<number>) as unknown as Json),
    )
  }
  if (values.every(Array.isArray)) {
    const arrays = values as ReadonlyArray<ReadonlyArray<Json>>
    const n = arrays[0]!.length
    if (arrays.some((a) => a.length !== n))
      return Result.fail(`${path} has ${arrays.map((a) => a.length).join(" and ")} entries`)
    const out: Array<Json> = []
    for (let i = 0; i < n; i++) {
      const element = arrays[0]![i]!
      const name = isRecord(element)
        ? (element.method ?? element.name ?? element.oracle ?? element.strength ?? i)
        : i
      const joined = join(
        arrays.map((a) => a[i]!),
        `${path}[${typeof name === "string" || typeof name === "number" ? name : i}]`,
      )
      if (Result.isFailure(joined)) return joined
      out.push(joined.success)
    }
    return Result.succeed(out)
  }
  if (values.every(isRecord)) {
    const records = values as ReadonlyArray<{ readonly [k: string]: Json }>
    const keys = Object.keys(records[0]!)
    const keyList = (r: { readonly [k: string]: Json }) => Object.keys(r).sort().join(",")
    if (records.some((r) => keyList(r) !== keyList(records[0]!)))
      return Result.fail(`${path} has the fields ${records.map(keyList).join(" and ")}`)
    const out: Record<string, Json> = {}
    for (const key of keys) {
      const joined = join(
        records.map((r) => r[key]!),
        `${path}.${key}`,
      )
      if (Result.isFailure(joined)) return joined
      out[key] = joined.success
    }
    return Result.succeed(out)
  }
  const text = JSON.stringify(first)
  const other = values.find((v) => JSON.stringify(v) !== text)
  return other === undefined
    ? Result.succeed(first)
    : Result.fail(`${path} is ${brief(first)} in one part and ${brief(other)} in another`)
}

/**
 * The options that must agree, with the per-part ones left out; of the data source only its
 * format (its paths may differ between machines; the fingerprint checks the content).
 */
const sharedOptions = (options: StudyOptions): Record<string, unknown> => {
  const out: Record<string, unknown> = { ...options, source: options.source?.format ?? null }
  for (const key of perPartOptions) delete out[key]
  return out
}

/** A value as short JSON, for a message. */
const brief = (v: unknown): string => {
  const text = JSON.stringify(v) ?? "undefined"
  return text.length > 60 ? `${text.slice(0, 57)}...` : text
}

const describeSeeds = (seeds: ReadonlyArray<number>): string =>
  seeds.length === 0 ? "no seeds" : `seeds ${seeds.join(", ")}`

const manifestPart = (part: Part): ManifestPart => {
  const m = part.results.manifest
  return {
    folder: part.folder,
    seeds: [...m.seeds],
    backend: m.backend,
    gitRevision: m.gitRevision,
    gitDirty: m.gitDirty,
    cpuModel: m.runtime.cpuModel ?? null,
    startedAt: m.startedAt,
    finishedAt: m.finishedAt,
    wallTimeSeconds: m.wallTimeSeconds,
  }
}

/** The joined manifest: the first part's, with all the seeds, parts, stages and trainings. */
const joinedManifest = (parts: ReadonlyArray<Part>, out: string): Manifest => {
  const manifests = parts.map((p) => p.results.manifest)
  const first = manifests[0]!
  const seeds = manifests.flatMap((m) => m.seeds)
  const same = <A>(f: (m: Manifest) => A): A | null =>
    manifests.every((m) => JSON.stringify(f(m)) === JSON.stringify(f(first))) ? f(first) : null
  const { firstSeed: _firstSeed, ...configuration } = first.configuration
  const label = (m: Manifest) => describeSeeds(m.seeds)
  return {
    ...first,
    configuration: {
      ...configuration,
      seeds: seeds.length,
      ...(seeds[0] === 1 ? {} : { firstSeed: seeds[0]! }),
      out,
    },
    seeds,
    gitRevision: same((m) => m.gitRevision),
    gitDirty: same((m) => m.gitDirty),
    startedAt: manifests.map((m) => m.startedAt).sort()[0]!,
    finishedAt: manifests
      .map((m) => m.finishedAt)
      .sort()
      .at(-1)!,
    wallTimeSeconds: manifests.reduce((sum, m) => sum + m.wallTimeSeconds, 0),
    stages: manifests.flatMap((m) =>
      m.stages.map((s) => ({ name: `${label(m)}: ${s.name}`, seconds: s.seconds })),
    ),
    training: manifests.flatMap((m) =>
      m.training.map((t) => ({ ...t, model: `${label(m)}: ${t.model}` })),
    ),
    parts: parts.map(manifestPart),
  }
}

/**
 * Joins `parts` (any order) into the results of one study over all their seeds, or says why they
 * are not parts of one study.
 */
export const merge = (
  parts: ReadonlyArray<Part>,
  out: string,
): Result.Result<Merged, MergeError> => {
  const fail = (reason: string) => Result.fail(new MergeError({ reason }))
  if (parts.length < 2) return fail(`give at least two parts to join (got ${parts.length})`)
  const sorted = [...parts].sort(
    (a, b) => (a.results.manifest.seeds[0] ?? 0) - (b.results.manifest.seeds[0] ?? 0),
  )
  const first = sorted[0]!
  const firstManifest = first.results.manifest
  // --- the same study: seeds disjoint, data and settings, options, backend ----------------------
  const seen = new Map<number, string>()
  for (const part of sorted)
    for (const seed of part.results.manifest.seeds) {
      const other = seen.get(seed)
      if (other !== undefined)
        return fail(
          `seed ${seed} is in ${other} and in ${part.folder}: parts must have disjoint seeds (--first-seed)`,
        )
      seen.set(seed, part.folder)
    }
  for (const part of sorted) {
    const m = part.results.manifest
    if (m.fingerprint === undefined)
      return fail(
        `${part.folder}/results.json does not record what its models were trained on (written before results recorded their fingerprint): rerun that part with this version to write it again (it reuses every trained model)`,
      )
    if (part === first) continue
    const diff = fingerprintDifference(firstManifest.fingerprint!, m.fingerprint)
    if (diff !== undefined)
      return fail(
        `${part.folder} was trained on other data or settings than ${first.folder}: ${diff}`,
      )
    const a = sharedOptions(firstManifest.configuration)
    const b = sharedOptions(m.configuration)
    for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
      if (JSON.stringify(a[key]) !== JSON.stringify(b[key]))
        return fail(
          `${part.folder} was run with ${key} ${brief(b[key])}, ${first.folder} with ${brief(a[key])}: only --seeds, --first-seed, --out, --data's path and --workers may differ between parts`,
        )
    if (m.backend !== firstManifest.backend)
      return fail(
        `${part.folder} ran on the backend ${m.backend}, ${first.folder} on ${firstManifest.backend}: parts must share the arithmetic (--backend, CAUSALD_BLAS, CAUSALD_FUSED)`,
      )
  }
  // --- the numbers ------------------------------------------------------------------------------
  const notes: Array<string> = []
  const firstSeedOnly = <K extends "teacherCounts" | "sensitivity">(key: K): Results[K] => {
    const later = sorted.slice(1).filter((p) => p.results[key] !== null)
    if (later.length > 0)
      notes.push(
        `${key === "teacherCounts" ? "Table 7" : "Fig. 5"} is taken from ${first.folder} (seed ${firstManifest.seeds[0]}); ${later.map((p) => p.folder).join(", ")} also ran it, on another seed, and it is left out`,
      )
    return first.results[key]
  }
  const body = (r: Results): Json => {
    const {
      manifest: _manifest,
      comparisons: _comparisons,
      teacherCounts: _teacherCounts,
      sensitivity: _sensitivity,
      ...rest
    } = r
    return rest as unknown as Json
  }
  const joined = join(
    sorted.map((p) => body(p.results)),
    "results",
  )
  if (Result.isFailure(joined))
    return fail(`the parts disagree where they should not: ${joined.failure}`)
  const joinedBody = joined.success as unknown as Omit<
    Results,
    "manifest" | "comparisons" | "teacherCounts" | "sensitivity"
  >
  const results: Results = {
    ...joinedBody,
    manifest: joinedManifest(sorted, out),
    comparisons: compareMethods(joinedBody.methods),
    teacherCounts: firstSeedOnly("teacherCounts"),
    sensitivity: firstSeedOnly("sensitivity"),
  }
  return Result.succeed({ results, notes })
}
