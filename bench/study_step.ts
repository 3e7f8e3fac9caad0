/**
 * The training step of every method of the study, on real data at the study's real-data profile
 * (ml-100k, batch 512, one sampled negative per positive, DIN, Adagrad): what one epoch of each
 * model costs, and so what a full study costs (`bench/NOTES.md`, "The study's cost per method").
 *
 * Methods: the base model (also the cost of the teachers, the group-wise models and KD's
 * teacher), IPS, CausalRec and DeRec (no teachers), KD and MEAL (one teacher a batch), DebiasD and
 * EnsCTR (four teachers), CausalD (four teachers, Monte-Carlo label with 16 partners). Teachers
 * are untrained DINs: a step's cost does not depend on the weights' values.
 *
 * The steady state of a run from its second epoch on: the first `--batches` batches of an epoch
 * run once untimed (frozen teachers' caches of positives fill), then `--rounds` times timed,
 * methods interleaved batch by batch so that a background load shifts all alike. Reported: the
 * median ms per step and that times the steps of one epoch. Every epoch also ends with the
 * validation AUC of the model's users (`Evaluate.validationAuc`, 1 + 100 candidates a user), timed
 * here for all users once a round: the row "validation". Only the public APIs of
 * `@causald/training` are used, so the script also runs on older commits for before/after.
 *
 *   bun run bench/study_step.ts [--data DIR] [--batches N] [--rounds N] [--methods a,b,...]
 *     [--fused on|off|both]
 *
 * `--fused both` times every method (and the validation) with the fused kernels off and on
 * (`CAUSALD_FUSED`, issue 17), interleaved step by step, each with its own student; without the
 * flag the process's setting runs (the flag needs a commit that has the kernels).
 */

import { join } from "node:path"
import { Random } from "@causald/core"
import { Batches, Groups, Sources } from "@causald/data"
import { Din, forInference, type Recommender } from "@causald/models"
import { startBackend } from "@causald/tfjs"
import { Baselines, CausalDObjective, Evaluate, Objective, Train } from "@causald/training"
import { Effect } from "effect"
import { choice, failWith, integer, list, parseFlags, text } from "./Cli.ts"
import { median } from "./train_step.ts"

const methods = [
  "base",
  "ips",
  "causalrec",
  "derec",
  "kd",
  "meal",
  "debiasd",
  "ensctr",
  "causald",
] as const
type Method = (typeof methods)[number]

const fail = failWith("study_step.ts")
const flags = await parseFlags(
  "bench/study_step.ts",
  "The training step of every method of the study on ml-100k at the study's real-data profile, and the validation pass: what one epoch of each model costs",
  {
    data: text("data", "DIR", "the ml-100k folder (default ../shared/data/ml-100k)"),
    batches: integer("batches", 12, 1, "training batches timed per round"),
    rounds: integer("rounds", 3, 1, "timed rounds"),
    methods: list("methods", methods, "the methods timed"),
    fused: choice(
      "fused",
      ["current", "on", "off", "both"],
      "current",
      "the fused kernels (CAUSALD_FUSED): on, off, or both interleaved",
    ),
  },
)
// Looked up, not imported, so that the script still runs on commits without the kernels.
const fusedSwitch = (
  (await import("@causald/tfjs")) as { fusedKernelOptions?: { enabled: boolean } }
).fusedKernelOptions
if (flags.fused !== "current" && fusedSwitch === undefined)
  fail("--fused: this commit has no fused kernels")
const settings: ReadonlyArray<boolean | undefined> =
  flags.fused === "both"
    ? [false, true]
    : flags.fused === "current"
      ? [undefined]
      : [flags.fused === "on"]
const label = (fused: boolean | undefined): string =>
  fused === undefined ? "" : fused ? " fused" : " unfused"
const apply = (fused: boolean | undefined): void => {
  if (fused !== undefined && fusedSwitch !== undefined) fusedSwitch.enabled = fused
}
const directory = flags.data ?? join(import.meta.dir, "..", "..", "shared", "data", "ml-100k")
const { batches, rounds } = flags
const chosen: ReadonlyArray<string> = flags.methods

const BATCH = 512
const K = 4

const data = await Sources.loadPromise({ format: "movielens-100k", directory }).catch(
  (error: unknown) => fail(`--data ${directory}: ${String(error)}`),
)
const b = await Effect.runPromise(startBackend("wasm", { wasmThreads: 1 })).catch(
  (error: unknown) => fail(String(error)),
)
const vocabulary = { numUsers: data.numUsers, numItems: data.numItems }
const epoch = [...Batches.trainingBatches(data, { batchSize: BATCH, epochSeed: 1 })]
const timedBatches = epoch.slice(0, batches)
const teachers = Array.from({ length: K }, (_, k) =>
  forInference(Din.make(b, vocabulary, { embeddingSize: 8 }, 100 + k)),
)
const groups = Groups.teacherSubsets(data, "activeness", K)

/** One training step of `method` (its own student, optimiser and generator), and what frees it. */
const stepperOf = (method: Method) => {
  const student = Din.make(b, vocabulary, { embeddingSize: 8 }, 7)
  const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.3 })
  const rng = Random.generator(3)
  const stepper = <P>(objective: Objective.Objective<P>, dispose: () => void) => ({
    step: (batch: Batches.TrainingBatch) => Train.trainStep(b, objective, optimizer, batch, rng, 1),
    dispose: () => {
      dispose()
      optimizer.dispose()
      b.dispose([...student.parameters, ...student.buffers])
    },
  })
  if (method === "base") return stepper(Objective.recommendation(b, student), () => {})
  if (method === "causald") {
    const o = CausalDObjective.causalD(
      b,
      student,
      teachers,
      { ...CausalDObjective.defaultCausalDConfig, teacherPrior: Float32Array.from(groups.weights) },
      1,
    )
    return stepper(o, o.dispose)
  }
  const baseline = Baselines.baselines[method]
  const teachersOf: ReadonlyArray<Recommender> =
    baseline.teachers === "single" ? [teachers[0]!] : teachers
  const o = baseline.make(b, student, teachersOf, data, { seed: 1, groups })
  return stepper(o, o.dispose)
}

const runs = chosen.flatMap((method) =>
  settings.map((fused) => {
    const { step, dispose } = stepperOf(method as Method)
    apply(fused)
    for (const batch of timedBatches) step(batch) // warm-up: caches of positives fill
    return { method: `${method}${label(fused)}`, fused, step, dispose, ms: [] as Array<number> }
  }),
)

/** The validation that closes every epoch, on all users (a subset's model validates its own). */
const validated = Din.make(b, vocabulary, { embeddingSize: 8 }, 11)
const validate = (): number => {
  const t0 = performance.now()
  const auc = Evaluate.validationAuc(b, validated, data)
  if (!Number.isFinite(auc)) fail(`validation: the AUC is ${auc}`)
  return performance.now() - t0
}
for (const fused of settings) {
  apply(fused)
  validate() // warm-up
}
const validationMs: Array<Array<number>> = settings.map(() => [])

for (let round = 0; round < rounds; round++) {
  for (const batch of timedBatches)
    for (const run of runs) {
      apply(run.fused)
      const t0 = performance.now()
      const loss = run.step(batch)
      run.ms.push(performance.now() - t0)
      if (!Number.isFinite(loss)) fail(`${run.method}: the loss is ${loss}`)
    }
  settings.forEach((fused, i) => {
    apply(fused)
    validationMs[i]!.push(validate())
  })
}

const stepsPerEpoch = epoch.length
console.log(
  `ml-100k, batch ${BATCH}, ${stepsPerEpoch} steps an epoch, wasm; median of ${rounds} x ${batches} steps per method after a warm-up pass`,
)
console.log("method             ms/step   s/epoch (steps only)")
const rows = runs.map((r) => {
  const ms = median(r.ms)
  console.log(
    `${r.method.padEnd(18)} ${ms.toFixed(1).padStart(7)}   ${((ms * stepsPerEpoch) / 1000).toFixed(1).padStart(7)}`,
  )
  return { method: r.method, msPerStep: Math.round(ms * 10) / 10, stepsPerEpoch }
})
const validation = settings.map((fused, i) => ({
  fused: fused ?? null,
  seconds: Math.round(median(validationMs[i]!)) / 1000,
}))
for (const v of validation)
  console.log(
    `${`validation${label(v.fused ?? undefined)}`.padEnd(18)} ${"".padStart(1)}   ${v.seconds.toFixed(2).padStart(7)}   (${data.numUsers} users, once an epoch)`,
  )
console.log(
  JSON.stringify({
    bench: "study_step",
    dataset: "ml-100k",
    batch: BATCH,
    fused: flags.fused,
    rows,
    validation: validation.map((v) => ({ users: data.numUsers, ...v })),
  }),
)
for (const r of runs) r.dispose()
b.dispose([...validated.parameters, ...validated.buffers])
