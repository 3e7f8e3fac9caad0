/**
 * Peak memory of a short CausalD run on Amazon Beauty (`sequences` format, 5-core: 22,363
 * users), run as its own process so that its resident set is its own (`bun run bench` starts it
 * as a child and samples its RSS from outside as well).
 *
 * The run is what the study does, shortened: K DIN teachers, each trained by `Train.train` on
 * its activeness group (section 3.3.1) for `--teacher-epochs` epochs, then the CausalD student
 * (Monte-Carlo label, S = 16, back-door guidance with the groups' P(z_k)) for `--epochs`
 * epochs; every epoch ends with the validation AUC of all its users (1 + 100 candidates) and a
 * checkpoint, as in a real run. Batch 4096, Adagrad 0.01. `--max-users N` trains every model on
 * at most N of its users (a smoke run).
 *
 * Reports the kernel's peak resident set of this process (`VmHWM` of /proc/self/status), the
 * largest RSS sampled after every step (`process.memoryUsage().rss`), the live tensors after
 * every epoch (constant from one student epoch to the next unless something leaks), and the
 * time. Prints one JSON line on stdout.
 *
 *   bun run bench/memory.ts [--backend auto|wasm|cpu] [--data FILE] [--teachers K]
 *     [--teacher-epochs N] [--epochs N] [--max-users N]
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Tensors } from "@causald/core"
import { Groups, Sources } from "@causald/data"
import { Din, forInference, type Recommender } from "@causald/models"
import { type BackendChoice, backendChoices, startBackend } from "@causald/tfjs"
import { CausalDObjective, Objective, PerGroup, Progress, Train } from "@causald/training"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { choice, failWith, integer, parseFlags, text } from "./Cli.ts"

/** `../shared/data/amazon/Beauty.txt` from the repository root. */
export const defaultBeautyFile = join(
  import.meta.dir,
  "..",
  "..",
  "shared",
  "data",
  "amazon",
  "Beauty.txt",
)

export interface MemoryOptions {
  readonly backend: BackendChoice
  readonly file: string
  readonly teachers: number
  readonly teacherEpochs: number
  readonly epochs: number
  /** Train every model on at most this many of its users; 0 = all. */
  readonly maxUsers: number
}

/** One finished run (a teacher or the student). */
export interface MemoryRun {
  readonly name: string
  readonly users: number
  /** Live tensors after each epoch. */
  readonly liveTensors: ReadonlyArray<number>
  readonly seconds: number
}

export interface MemoryResult {
  readonly dataset: string
  readonly users: number
  readonly backend: string
  readonly teachers: number
  readonly teacherEpochs: number
  readonly epochs: number
  readonly maxUsers: number
  readonly steps: number
  /** Kernel-tracked peak resident set (VmHWM) of this process, bytes; null off Linux. */
  readonly peakRssBytes: number | null
  /** The largest RSS sampled after every training step, bytes. */
  readonly sampledPeakRssBytes: number
  readonly runs: ReadonlyArray<MemoryRun>
  /** The student's live tensors were the same after every epoch. */
  readonly studentTensorsConstant: boolean
  readonly seconds: number
}

/** The kernel's peak resident set size of this process (bytes), or null when unavailable. */
export const peakRss = (): number | null => {
  try {
    const match = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"))
    return match === null ? null : Number(match[1]) * 1024
  } catch {
    return null
  }
}

/** Runs the teachers and the student; resolves with what was measured. */
export const runMemory = async (options: MemoryOptions): Promise<MemoryResult> => {
  const started = performance.now()
  let sampled = process.memoryUsage().rss
  let steps = 0
  // Progress is reported after every step: the sampling point.
  const sampling = Layer.succeed(
    Progress.Progress,
    Progress.Progress.of({
      update: () =>
        Effect.sync(() => {
          steps += 1
          sampled = Math.max(sampled, process.memoryUsage().rss)
        }),
      note: () => Effect.void,
    }),
  )
  const backend = await Effect.runPromise(startBackend(options.backend))
  const data = await Sources.loadPromise({ format: "sequences", file: options.file })
  const directory = mkdtempSync(join(tmpdir(), "causald-bench-memory-"))
  const runs: Array<MemoryRun> = []
  const cap = (users: Int32Array): Int32Array =>
    options.maxUsers > 0 && users.length > options.maxUsers
      ? users.subarray(0, options.maxUsers)
      : users
  const config = (epochs: number, seed: number): Train.TrainingConfig => ({
    ...Train.defaultTrainingConfig,
    maxEpochs: epochs,
    minEpochs: epochs,
    seed,
  })
  const models: Array<Recommender & { buffers: ReadonlyArray<unknown> }> = []
  const program = Effect.gen(function* () {
    const split = Groups.teacherSubsets(data, "activeness", options.teachers)
    const partition = { groupOf: split.groupOf, groups: split.sizes.length }
    const teachers: Array<Recommender> = []
    for (let k = 0; k < partition.groups; k++) {
      const teacher = Din.make(backend, data, {}, 100 + k)
      models.push(teacher)
      const users = cap(PerGroup.usersOf(partition, k))
      const t0 = performance.now()
      const result = yield* Train.train({
        name: `teacher ${k + 1}/${partition.groups}`,
        directory: join(directory, `teacher-${k}`),
        data,
        objective: Objective.recommendation(backend, teacher),
        config: config(options.teacherEpochs, k),
        users,
      })
      runs.push({
        name: `teacher ${k + 1}`,
        users: users.length,
        liveTensors: result.history.map((e) => e.liveTensors),
        seconds: (performance.now() - t0) / 1000,
      })
      teachers.push(forInference(teacher))
    }
    const student = Din.make(backend, data, {}, 1)
    models.push(student)
    const objective = CausalDObjective.causalD(
      backend,
      student,
      teachers,
      { ...CausalDObjective.defaultCausalDConfig, teacherPrior: Float32Array.from(split.weights) },
      1,
    )
    const all = new Int32Array(data.numUsers)
    for (let u = 0; u < all.length; u++) all[u] = u
    const users = cap(all)
    const t0 = performance.now()
    const result = yield* Train.train({
      name: "causald student",
      directory: join(directory, "student"),
      data,
      objective,
      config: config(options.epochs, 1),
      users,
    }).pipe(Effect.ensuring(Effect.sync(() => objective.dispose())))
    runs.push({
      name: "causald student",
      users: users.length,
      liveTensors: result.history.map((e) => e.liveTensors),
      seconds: (performance.now() - t0) / 1000,
    })
  })
  try {
    await Effect.runPromise(
      program.pipe(
        Effect.provide(
          Layer.mergeAll(NodeFileSystem.layer, Layer.succeed(Tensors, backend), sampling),
        ),
      ),
    )
  } finally {
    rmSync(directory, { recursive: true, force: true })
  }
  const studentTensors = runs.at(-1)?.liveTensors ?? []
  return {
    dataset: data.name,
    users: data.numUsers,
    backend: backend.name,
    teachers: options.teachers,
    teacherEpochs: options.teacherEpochs,
    epochs: options.epochs,
    maxUsers: options.maxUsers,
    steps,
    peakRssBytes: peakRss(),
    sampledPeakRssBytes: sampled,
    runs,
    studentTensorsConstant: studentTensors.every((n) => n === studentTensors[0]),
    seconds: Math.round((performance.now() - started) / 100) / 10,
  }
}

const main = async (): Promise<void> => {
  const fail = failWith("memory.ts")
  const flags = await parseFlags(
    "bench/memory.ts",
    "Peak memory of a short CausalD run on Amazon Beauty (teachers, then the student)",
    {
      backend: choice("backend", backendChoices, "auto", "tensor backend"),
      data: text("data", "FILE", `the Beauty sequences (default ${defaultBeautyFile})`),
      teachers: integer("teachers", 4, 1, "K, the teachers"),
      teacherEpochs: integer("teacher-epochs", 1, 1, "epochs of each teacher"),
      epochs: integer("epochs", 2, 1, "epochs of the student"),
      maxUsers: integer("max-users", 0, 0, "users kept, 0 = all"),
    },
  )
  const backend = flags.backend
  const file = flags.data ?? defaultBeautyFile
  if (!existsSync(file)) {
    console.log(JSON.stringify({ bench: "memory", skipped: `${file} not found` }))
    return
  }
  const options: MemoryOptions = {
    backend: backend as BackendChoice,
    file,
    teachers: flags.teachers,
    teacherEpochs: flags.teacherEpochs,
    epochs: flags.epochs,
    maxUsers: flags.maxUsers,
  }
  try {
    const result = await runMemory(options)
    console.log(JSON.stringify({ bench: "memory", result }))
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
}

if (import.meta.main) await main()
