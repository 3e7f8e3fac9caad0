/**
 * `bun run bench`: the performance suite, measured in one invocation on one backend.
 *
 * 1. DIN and DeepFM training throughput at the paper's configuration (`train_step.ts`).
 * 2. CausalD student step over the base step, K = 4 DIN teachers, Monte-Carlo label (S = 16) at
 *    batch 4096 and the exact label at a batch where its [K, B, B, h] tensor fits
 *    (`causal_step.ts`).
 * 3. Evaluation of every ml-100k user with 1 + 100 candidates (`evaluation.ts`).
 * 4. Peak memory of a short CausalD run on Amazon Beauty, in a child process (`memory.ts`).
 * 5. The PyTorch CPU reference (`/work/shared/bench/torch_reference.py`, i.e.
 *    `../shared/bench/torch_reference.py` from the repository root) when `/usr/bin/python3` has
 *    torch, run last so that it does not compete with our own measurements; then the ratios.
 *
 * Prints a summary table with the targets, the detailed tables, and one JSON line.
 *
 *   bun run bench [--backend auto|tensorflow|wasm|cpu] [--only din,deepfm,causal,eval,memory,torch]
 *     [--blas auto|none|onednn|openblas|accelerate] [--blas-threads N]
 *     [--quick] [--steps N] [--warmup N] [--torch-threads N]
 *
 * The summary names the CPU model and its vector extensions (from /proc/cpuinfo) beside the
 * ratios, since they decide what a native library (and PyTorch) can use.
 */
import { existsSync, readFileSync } from "node:fs"
import { cpus, loadavg } from "node:os"
import { join } from "node:path"
import type { TensorBackend } from "@causald/core"
import {
  type BackendChoice,
  type BlasChoice,
  backendChoices,
  blasChoices,
  FUSED_ENV,
  fusedKernelOptions,
  nativeBlas,
  startBackend,
} from "@causald/tfjs"
import { Effect } from "effect"
import type { Command } from "effect/cli"
import { choice, list, optionalChoice, optionalInteger, parseFlags, present } from "./Cli.ts"
import {
  type CausalStepRow,
  defaultCausalStepOptions,
  formatCausalRows,
  measureCausalSteps,
} from "./causal_step.ts"
import {
  defaultMovieLensDirectory,
  type EvaluationResult,
  loadMovieLens100k,
  measureEvaluation,
  movieLensMissing,
} from "./evaluation.ts"
import { cpuDescription, runTorch, type TorchResult } from "./Machine.ts"
import { defaultBeautyFile, type MemoryResult } from "./memory.ts"
import { measureModel, type TrainStepResult } from "./train_step.ts"

// --- options ------------------------------------------------------------------------------------

export const parts = ["din", "deepfm", "causal", "eval", "memory", "torch"] as const
export type Part = (typeof parts)[number]

export interface BenchOptions {
  readonly backend: BackendChoice
  readonly only: ReadonlySet<Part>
  readonly quick: boolean
  /** Timed steps and warm-up steps of the step benchmarks. */
  readonly steps: number
  readonly warmup: number
  /** `--threads` of the PyTorch reference; null = the script's default. */
  readonly torchThreads: number | null
  /** The native BLAS of wasm's products; null = `CAUSALD_BLAS`, else auto. */
  readonly blas: BlasChoice | null
  /** Its threads; null = `CAUSALD_BLAS_THREADS`, else 1. */
  readonly blasThreads: number | null
}

/** The flags of `bun run bench`, each with its default (`--help` lists them). */
export const benchFlags = {
  backend: choice("backend", backendChoices, "auto", "tensor backend"),
  only: list("only", parts, "run only these parts"),
  quick: present("quick", "a fast smoke run (fewer steps, a capped memory run); not a measurement"),
  steps: optionalInteger("steps", 1, "timed steps per step benchmark (default 5; quick 2)"),
  warmup: optionalInteger("warmup", 0, "untimed warm-up steps (default 2; quick 1)"),
  torchThreads: optionalInteger(
    "torch-threads",
    1,
    "--threads of the PyTorch reference (default: the script's own)",
  ),
  blas: optionalChoice(
    "blas",
    blasChoices,
    "native BLAS of wasm's matrix products (default CAUSALD_BLAS, else auto: the first found; none = wasm kernels)",
  ),
  blasThreads: optionalInteger(
    "blas-threads",
    1,
    "threads of the native BLAS (default CAUSALD_BLAS_THREADS, else 1)",
  ),
}

/** The suite's options from its flags' values (the defaults that depend on `--quick`). */
export const toOptions = (
  flags: Command.Command.Config.Infer<typeof benchFlags>,
): BenchOptions => ({
  backend: flags.backend,
  only: new Set(flags.only),
  quick: flags.quick,
  steps: flags.steps ?? (flags.quick ? 2 : 5),
  warmup: flags.warmup ?? (flags.quick ? 1 : 2),
  torchThreads: flags.torchThreads ?? null,
  blas: flags.blas ?? null,
  blasThreads: flags.blasThreads ?? null,
})

// --- the memory child ---------------------------------------------------------------------------

export type MemoryOutcome =
  | {
      readonly _tag: "Measured"
      readonly result: MemoryResult
      /** The child's RSS sampled from outside (/proc/<pid>/status VmRSS every 200 ms), bytes. */
      readonly outsidePeakRssBytes: number | null
      readonly command: string
    }
  | { readonly _tag: "Skipped"; readonly reason: string }

const rssOf = (pid: number): number | null => {
  try {
    const match = /VmRSS:\s+(\d+)\s+kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
    return match === null ? null : Number(match[1]) * 1024
  } catch {
    return null
  }
}

export const runMemoryChild = async (
  backend: string,
  options: BenchOptions,
): Promise<MemoryOutcome> => {
  if (!existsSync(defaultBeautyFile))
    return { _tag: "Skipped", reason: `${defaultBeautyFile} not found` }
  const args = ["run", join(import.meta.dir, "memory.ts"), "--backend", backend]
  if (options.quick) args.push("--max-users", "600", "--epochs", "2")
  // The child reads the native BLAS choice from the environment, as the parent was told.
  const env = {
    ...process.env,
    ...(options.blas === null ? {} : { CAUSALD_BLAS: options.blas }),
    ...(options.blasThreads === null ? {} : { CAUSALD_BLAS_THREADS: String(options.blasThreads) }),
  }
  const child = Bun.spawn([process.execPath, ...args], { stdout: "pipe", stderr: "pipe", env })
  let outside: number | null = null
  const timer = setInterval(() => {
    const rss = rssOf(child.pid)
    if (rss !== null) outside = Math.max(outside ?? 0, rss)
  }, 200)
  const [stdout, stderr, code] = await Promise.all([
    new Response(child.stdout).text(),
    new Response(child.stderr).text(),
    child.exited,
  ])
  clearInterval(timer)
  const command = `bun ${args.join(" ")}`
  if (code !== 0)
    return {
      _tag: "Skipped",
      reason: `${command} exited with ${code}: ${stderr.trim().split("\n").at(-1)}`,
    }
  const line = stdout
    .trim()
    .split("\n")
    .findLast((l) => l.startsWith("{"))
  if (line === undefined) return { _tag: "Skipped", reason: `${command} printed no result` }
  const parsed = JSON.parse(line) as { result?: MemoryResult; skipped?: string }
  if (parsed.result === undefined)
    return { _tag: "Skipped", reason: parsed.skipped ?? `${command}: no result` }
  return { _tag: "Measured", result: parsed.result, outsidePeakRssBytes: outside, command }
}

// --- the suite ------------------------------------------------------------------------------------

export interface Target {
  readonly measure: string
  readonly value: string
  readonly target: string
  readonly status: "met" | "MISSED" | "n/a"
}

/** Whether the fused kernels ran (`packages/tfjs/src/kernels/BiasSigmoid.ts`), as printed. */
const fusedLine = (): string =>
  `fused kernels ${fusedKernelOptions.enabled ? "on" : `off (${FUSED_ENV}=off)`}`

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`
const thousands = (n: number): string => Math.round(n).toLocaleString("en-US")

const runSuite = async (options: BenchOptions): Promise<void> => {
  const started = performance.now()
  const loadStart = loadavg()[0]!
  const b: TensorBackend = await Effect.runPromise(
    startBackend(options.backend, {
      ...(options.blas === null ? {} : { blas: options.blas }),
      ...(options.blasThreads === null ? {} : { blasThreads: options.blasThreads }),
    }),
  )
  const blas = nativeBlas()
  const blasLine =
    b.name.includes("+") && blas !== undefined
      ? `native BLAS ${blas.name} (${blas.path}${blas.detail === "" ? "" : `, ${blas.detail}`}), ${blas.threads() ?? "?"} threads`
      : "no native BLAS"
  const cpu = cpuDescription()
  const timing = { steps: options.steps, warmup: options.warmup }
  const paper = { batchSize: 4096, historyLength: 50 }
  const log = (message: string) => process.stderr.write(`bench: ${message}\n`)
  log(`backend ${b.name}; ${blasLine}`)

  const trainRows: Array<TrainStepResult> = []
  for (const model of ["din", "deepfm"] as const) {
    if (!options.only.has(model)) continue
    log(`${model} training step ...`)
    trainRows.push(measureModel(b, model, { ...timing, ...paper }))
  }

  let causalRows: ReadonlyArray<CausalStepRow> = []
  if (options.only.has("causal")) {
    log("CausalD step vs base step ...")
    causalRows = measureCausalSteps(b, { ...defaultCausalStepOptions, ...timing })
  }

  let evaluation: EvaluationResult | { skipped: string } | null = null
  if (options.only.has("eval")) {
    const missing = movieLensMissing(defaultMovieLensDirectory)
    if (missing !== null) evaluation = { skipped: missing }
    else {
      log("evaluation on ml-100k ...")
      const data = await loadMovieLens100k(defaultMovieLensDirectory)
      evaluation = measureEvaluation(b, data, options.quick ? 1 : 3)
    }
  }

  let memory: MemoryOutcome | null = null
  if (options.only.has("memory")) {
    log("memory: CausalD run on Amazon Beauty in a child process ...")
    memory = await runMemoryChild(b.name.split("+")[0]!, options)
  }

  let torch: TorchResult | null = null
  if (options.only.has("torch")) {
    log("PyTorch reference ...")
    torch = runTorch(["din", "deepfm"], options)
  }
  const loadEnd = loadavg()[0]!

  // --- summary ---------------------------------------------------------------------------------
  const targets: Array<Target> = []
  const lines: Array<string> = []
  const say = (s = "") => lines.push(s)
  say(
    `CausalD performance suite: backend ${b.name}, ${cpus().length} cores, load average ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end${options.quick ? ", QUICK smoke run (not a measurement)" : ""}`,
  )
  say(`CPU: ${cpu.model}; vector extensions: ${cpu.vectorExtensions.join(" ") || "none named"}`)
  say(blasLine)
  say(fusedLine())
  for (const r of trainRows)
    targets.push({
      measure: `${r.model === "din" ? "DIN" : "DeepFM"} training, B ${r.batch}, L ${r.history}`,
      value: `${thousands(r.samplesPerSecond)} samples/s (${r.msPerStep.toFixed(0)} ms/step)`,
      target: "",
      status: "n/a",
    })
  const torchRows = torch?._tag === "Measured" ? torch.rows : []
  for (const t of torchRows)
    targets.push({
      measure: `PyTorch ${t.model === "din" ? "DIN" : "DeepFM"} (${t.threads} threads)`,
      value: `${thousands(t.samples_per_s)} samples/s (${t.ms_per_step.toFixed(0)} ms/step)`,
      target: "",
      status: "n/a",
    })
  const ratios: Record<string, number> = {}
  for (const [model, goal] of [
    ["din", 3],
    ["deepfm", 1.5],
  ] as const) {
    const ours = trainRows.find((r) => r.model === model)
    const ref = torchRows.find((t) => t.model === model)
    if (ours === undefined || ref === undefined) continue
    const ratio = ours.samplesPerSecond / ref.samples_per_s
    ratios[model] = Math.round(ratio * 100) / 100
    targets.push({
      measure: `${model === "din" ? "DIN" : "DeepFM"} ours / PyTorch`,
      value: `${ratio.toFixed(2)}x`,
      target: `>= ${goal}x`,
      status: ratio >= goal ? "met" : "MISSED",
    })
  }
  for (const r of causalRows) {
    if (r.objective === "base") continue
    const mc = r.objective === "causald-mc"
    const atPaperBatch = r.batch === defaultCausalStepOptions.batchSize
    targets.push({
      measure: `CausalD ${r.objective.startsWith("causald-mc") ? `MC (S ${r.partners})` : "exact"}${r.objective.endsWith("-nocache") ? " without positive cache" : ""}${r.objective.endsWith("-forward") ? " without pair tables" : ""} step / base, K ${r.teachers}, B ${r.batch}`,
      value: `${r.ratio.toFixed(2)}x (${r.msPerStep.toFixed(0)} ms; teachers ${r.prepareMs.toFixed(0)} ms; first batch ${(r.firstPrepareMs / 1000).toFixed(1)} s)`,
      target: mc && atPaperBatch ? "<= 1.5x" : "",
      status: mc && atPaperBatch ? (r.ratio <= 1.5 ? "met" : "MISSED") : "n/a",
    })
  }
  if (evaluation !== null && "seconds" in evaluation)
    targets.push({
      measure: `evaluation ${evaluation.dataset}, ${evaluation.users} users x ${evaluation.candidates}`,
      value: `${evaluation.seconds.toFixed(2)} s (${thousands(evaluation.usersPerSecond)} users/s)`,
      target: "< 2 s",
      status: evaluation.seconds < 2 ? "met" : "MISSED",
    })
  if (memory?._tag === "Measured") {
    const m = memory.result
    const peak = Math.max(
      m.peakRssBytes ?? 0,
      m.sampledPeakRssBytes,
      memory.outsidePeakRssBytes ?? 0,
    )
    targets.push({
      measure: `peak RSS, CausalD on ${m.dataset} (K ${m.teachers}, ${m.steps} steps)`,
      value: gib(peak),
      target: "< 2 GiB",
      status: peak < 2 ** 31 ? "met" : "MISSED",
    })
    const student = m.runs.at(-1)
    targets.push({
      measure: "live tensors after each student epoch",
      value: (student?.liveTensors ?? []).join(", "),
      target: "constant",
      status: m.studentTensorsConstant ? "met" : "MISSED",
    })
  }
  const w = [
    Math.max(7, ...targets.map((t) => t.measure.length)),
    Math.max(5, ...targets.map((t) => t.value.length)),
    Math.max(6, ...targets.map((t) => t.target.length)),
  ]
  say()
  say(`${"measure".padEnd(w[0]!)}  ${"value".padEnd(w[1]!)}  ${"target".padEnd(w[2]!)}  status`)
  for (const t of targets)
    say(
      `${t.measure.padEnd(w[0]!)}  ${t.value.padEnd(w[1]!)}  ${t.target.padEnd(w[2]!)}  ${t.status === "n/a" ? "" : t.status}`,
    )

  if (trainRows.length > 0) {
    say()
    say(
      `training step (Inputs.toInputs + forward + backward + Adagrad + loss read), ${options.warmup} warm-up + ${options.steps} timed steps, median:`,
    )
    say("model       ms/step   forward ms   samples/s")
    for (const r of trainRows)
      say(
        `${r.model.padEnd(10)} ${r.msPerStep.toFixed(1).padStart(8)} ${r.forwardMs.toFixed(1).padStart(12)} ${String(r.samplesPerSecond).padStart(11)}`,
      )
  }
  if (causalRows.length > 0) {
    say()
    say(
      `CausalD vs base (Train.trainStep; DIN teachers; timed interleaved, median of ${options.steps}; the exact label's [K, B, B, h] tensor is refused at B 4096, so it is measured at B ${defaultCausalStepOptions.exactBatchSize} against a base step at that batch):`,
    )
    for (const l of formatCausalRows(causalRows)) say(l)
  }
  if (evaluation !== null) {
    say()
    if ("skipped" in evaluation) say(`evaluation skipped: ${evaluation.skipped}`)
    else
      say(
        `evaluation: Evaluate.scoreSplit(test) of all ${evaluation.users} users, ${evaluation.batchUsers} users per batch: first call ${evaluation.firstSeconds.toFixed(3)} s, median of ${evaluation.runs} more ${evaluation.seconds.toFixed(3)} s`,
      )
  }
  if (memory !== null) {
    say()
    if (memory._tag === "Skipped") say(`memory skipped: ${memory.reason}`)
    else {
      const m = memory.result
      say(
        `memory (${memory.command}): ${m.teachers} teachers x ${m.teacherEpochs} epoch + student x ${m.epochs} epochs${m.maxUsers > 0 ? `, at most ${m.maxUsers} users per model` : ""}, ${m.steps} steps, ${m.seconds.toFixed(0)} s`,
      )
      say(
        `  peak RSS: VmHWM ${m.peakRssBytes === null ? "n/a" : gib(m.peakRssBytes)}, sampled after every step ${gib(m.sampledPeakRssBytes)}, sampled from outside ${memory.outsidePeakRssBytes === null ? "n/a" : gib(memory.outsidePeakRssBytes)}`,
      )
      for (const r of m.runs)
        say(
          `  ${r.name.padEnd(16)} ${String(r.users).padStart(6)} users  live tensors after each epoch: ${r.liveTensors.join(", ")}  (${r.seconds.toFixed(0)} s)`,
        )
    }
  }
  if (torch !== null) {
    say()
    if (torch._tag === "Skipped") say(`skipped: PyTorch reference: ${torch.reason}`)
    else
      say(
        `PyTorch ${torch.version} reference (${torch.command}), run after our measurements: ${torch.rows[0]?.threads} threads used (torch's own default here: ${torch.torchDefaultThreads}; the script sets --threads, default 2)`,
      )
  }
  say()
  say(`total ${((performance.now() - started) / 1000).toFixed(0)} s`)
  for (const l of lines) console.log(l)
  console.log(
    JSON.stringify({
      bench: "causald-suite",
      backend: b.name,
      blas:
        blas === undefined || !b.name.includes("+")
          ? null
          : {
              name: blas.name,
              path: blas.path,
              detail: blas.detail,
              threads: blas.threads() ?? null,
            },
      fusedKernels: fusedKernelOptions.enabled,
      cpu,
      quick: options.quick,
      cores: cpus().length,
      loadAverage: { start: loadStart, end: loadEnd },
      timing,
      train: trainRows,
      torch,
      ratios,
      causal: causalRows,
      evaluation,
      memory,
      targets,
    }),
  )
}

if (import.meta.main) {
  const flags = await parseFlags(
    "bench",
    "The performance suite, measured in one invocation on one backend: DIN and DeepFM training throughput, the CausalD student step, evaluation, peak memory, and the PyTorch CPU reference",
    benchFlags,
  )
  await runSuite(toOptions(flags)).catch((error: unknown) => {
    console.error(`bun run bench: ${error instanceof Error ? error.message : String(error)}`)
    process.exit(1)
  })
}
