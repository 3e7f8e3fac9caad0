/**
 * What a whole study's training costs on one process, from the epochs its models really took
 * (`results.json`, `manifest.training`) and the per-method step and validation times that
 * `bench/study_step.ts` measured, for one or more commits: the before/after of a full study without
 * training it twice (`bench/NOTES.md`, "The full ml-100k study").
 *
 * A model's cost is its epochs x (its steps per epoch x its method's ms per step + one validation
 * pass over its users). Steps per epoch come from the data package (`Batches.trainingBatchCount`
 * at the study's real-data batch of 512) over the model's users: an activeness quintile for a
 * group-wise model, a teacher's subset for a teacher, everyone otherwise. CausalD's ablations and
 * coefficient variants are charged CausalD's step (w/o FDA skips a term, so this is an upper
 * bound). Data loading, DeRec's factorisation, the teachers' tables and test evaluation are not
 * counted.
 *
 *   bun run bench/study_cost.ts --results <study>/results.json --bench before=A.jsonl,after=B.jsonl
 *     [--data DIR]
 *
 * Each bench file holds the JSON lines `study_step.ts` printed (several runs: the median is used).
 */

import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Batches, Groups, type PreparedDataset, Sources, type UserGroups } from "@causald/data"
import { Flag } from "effect/cli"
import { failWith, parseFlags, text } from "./Cli.ts"
import { median } from "./train_step.ts"

const fail = failWith("study_cost.ts")
const flags = await parseFlags(
  "bench/study_cost.ts",
  "What a whole study's training costs on one process, from its results.json and the step times bench/study_step.ts measured, for one or more commits",
  {
    results: Flag.String("results").pipe(
      Flag.withMetavar("FILE"),
      Flag.withDescription("a study's results.json (required)"),
    ),
    bench: Flag.String("bench").pipe(
      Flag.withMetavar("LABEL=FILE,..."),
      Flag.withDescription("the JSON lines of study_step.ts runs, one file per label (required)"),
    ),
    data: text("data", "DIR", "the ml-100k folder (default ../shared/data/ml-100k)"),
  },
)
const { results: resultsPath, bench: benchList } = flags
const directory = flags.data ?? join(import.meta.dir, "..", "..", "shared", "data", "ml-100k")
const BATCH = 512

const readJson = (path: string, what: string): unknown => {
  try {
    return JSON.parse(readFileSync(path, "utf8"))
  } catch (error) {
    return fail(`${what} ${path}: ${error instanceof Error ? error.message : String(error)}`)
  }
}

interface TrainedModel {
  readonly model: string
  readonly epochs: number
}
const training = (readJson(resultsPath, "--results") as { manifest?: { training?: unknown } })
  .manifest?.training
if (!Array.isArray(training))
  fail(`--results ${resultsPath}: expected a results.json with manifest.training`)
const models = training as ReadonlyArray<TrainedModel>

/** A commit's measured costs: ms per step of each method, seconds of one validation of all users. */
interface StepCosts {
  readonly label: string
  readonly msPerStep: ReadonlyMap<string, number>
  readonly validationSeconds: number
  readonly runs: number
}
const stepCosts = benchList.split(",").map((entry): StepCosts => {
  const [label, file] = entry.split("=")
  if (!label || !file) return fail(`--bench expects LABEL=FILE, got ${entry}`)
  let text = ""
  try {
    text = readFileSync(file, "utf8")
  } catch (error) {
    fail(`--bench ${file}: ${error instanceof Error ? error.message : String(error)}`)
  }
  const lines = text
    .split("\n")
    .filter((line) => line.startsWith('{"bench":"study_step"'))
    .map(
      (line) =>
        JSON.parse(line) as {
          rows: ReadonlyArray<{ method: string; msPerStep: number }>
          validation?: { seconds: number }
        },
    )
  const validations = lines.flatMap((l) => (l.validation ? [l.validation.seconds] : []))
  if (validations.length === 0)
    fail(`--bench ${file}: no study_step.ts line with a validation time (run study_step.ts)`)
  const byMethod = new Map<string, Array<number>>()
  for (const l of lines)
    for (const row of l.rows)
      byMethod.set(row.method, [...(byMethod.get(row.method) ?? []), row.msPerStep])
  return {
    label,
    msPerStep: new Map([...byMethod].map(([m, ms]) => [m, median(ms)])),
    validationSeconds: median(validations),
    runs: lines.length,
  }
})

const data: PreparedDataset = await Sources.loadPromise({
  format: "movielens-100k",
  directory,
}).catch((error: unknown) => fail(`--data ${directory}: ${String(error)}`))

const usersOf = (groups: UserGroups, g: number): Int32Array => {
  const out: Array<number> = []
  for (let u = 0; u < groups.groupOf.length; u++) if (groups.groupOf[u] === g) out.push(u)
  return Int32Array.from(out)
}

/** Which step a model trains with, and on which users (undefined: all). */
const profileOf = (name: string): { method: string; users?: Int32Array } => {
  const groupwise = /^groupwise-seed\d+-(\d+)$/.exec(name)
  if (groupwise) {
    const G = models.filter((m) => m.model.startsWith(name.replace(/-\d+$/, "-"))).length
    return {
      method: "base",
      users: usersOf(Groups.activenessGroups(data, G), Number(groupwise[1])),
    }
  }
  const teacher = /^teachers-(activeness|consistency|random)-(\d+)(?:-shared)?-(\d+)$/.exec(name)
  if (teacher) {
    const [, split, K, k] = teacher
    const groups =
      split === "random"
        ? Groups.randomSubsets(data, Number(K), 0)
        : Groups.teacherSubsets(data, split as "activeness" | "consistency", Number(K))
    return { method: "base", users: usersOf(groups, Number(k)) }
  }
  const method = name.split("/")[0]!
  if (method === "kd-teacher") return { method: "base" }
  if (method.startsWith("causald") || method === "wo-fda" || method === "ho-teachers")
    return { method: "causald" }
  return { method }
}

const profiles = models.map((m) => {
  const { method, users } = profileOf(m.model)
  const steps = Batches.trainingBatchCount(data, {
    batchSize: BATCH,
    epochSeed: 1,
    ...(users ? { users } : {}),
  })
  return { ...m, method, steps, userShare: users ? users.length / data.numUsers : 1 }
})
const epochs = profiles.reduce((s, p) => s + p.epochs, 0)
const steps = profiles.reduce((s, p) => s + p.epochs * p.steps, 0)
console.log(
  `${resultsPath}: ${profiles.length} models, ${epochs} epochs, ${steps} steps of ${BATCH}`,
)

const hours = (seconds: number) => `${Math.round(seconds)} s (${(seconds / 3600).toFixed(1)} h)`
const rows = stepCosts.map((c) => {
  let stepSeconds = 0
  let validationSeconds = 0
  for (const p of profiles) {
    const ms = c.msPerStep.get(p.method)
    if (ms === undefined)
      fail(`--bench ${c.label}: no step time for ${p.method} (model ${p.model})`)
    stepSeconds += (p.epochs * p.steps * ms!) / 1000
    validationSeconds += p.epochs * p.userShare * c.validationSeconds
  }
  const total = stepSeconds + validationSeconds
  console.log(
    `${c.label.padEnd(10)} steps ${hours(stepSeconds)} + validation ${hours(validationSeconds)} = ${hours(total)} on one process (median of ${c.runs} bench runs)`,
  )
  return { label: c.label, stepSeconds, validationSeconds, totalSeconds: total }
})
console.log(JSON.stringify({ bench: "study_cost", models: profiles.length, epochs, steps, rows }))
