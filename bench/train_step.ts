/**
 * Training throughput of the base recommenders at the paper's configuration (section 5.1):
 * batch 4096, history 50, embedding 8, DIN attention 80-40 and predictor 200-80, DeepFM DNN
 * 256-128, Adagrad 0.01, binary cross-entropy. Ids are random (3,700 items, 6,000 users, about
 * MovieLens-1M's sizes), every history is full (as in the PyTorch reference,
 * `/work/shared/bench/torch_reference.py`).
 *
 * A step is what the training loop does: batch arrays to tensors (`Inputs.toInputs`), forward,
 * backward, optimiser update, loss read back. Warm-up steps are excluded; the median of the timed
 * steps is reported, with the forward pass alone timed the same way. Prints a table and one
 * JSON line. `bench/index.ts` (`bun run bench`) reuses the exported functions.
 *
 *   bun run bench/train_step.ts [--backend wasm|cpu] [--models din,deepfm] [--steps N]
 *     [--warmup N] [--batch N] [--history N] [--din-form fast|naive]
 *     [--din-activation sigmoid|dice] [--din-layout padded|chunks|packed] [--wasm-threads N]
 *     [--movielens[=DIR]] [--fused on|off|both] [--blas none,onednn,...] [--torch]
 *     [--torch-threads N]
 *
 * `--movielens` times real training batches instead of random full ones: the first batch of an
 * epoch of MovieLens 100K (`../shared/data/ml-100k` by default), most of whose histories are
 * shorter than L. `--din-layout` picks how DIN treats padded positions (`Din.HistoryLayout`;
 * default `Din.defaultLayoutFor(backend)`).
 *
 * `--wasm-threads` (default `CAUSALD_WASM_THREADS`, else the idle cores) picks the wasm
 * binary: 1 = single-threaded SIMD, N >= 2 = threaded SIMD with N XNNPACK threads.
 *
 * `--fused both` and/or `--blas LIST` time DIN's step in several variants **interleaved** (one
 * step of each variant per round, so that a background load shifts all alike): fused
 * activation-unit kernels off and on (`CAUSALD_FUSED`, `packages/tfjs/src/kernels/BiasSigmoid.ts`)
 * crossed with the products' library (`none` = the wasm kernels; each native one at one
 * thread). Each variant has its own DIN of the same seed. Reported per variant: the median wall
 * and process-CPU milliseconds per step (CPU time is steadier under load), samples/s and the
 * ratio to the first variant. `--torch` then runs PyTorch's reference at the same batch size
 * (`Machine.ts`), after ours. The CPU model and the load average are printed.
 */

import { loadavg } from "node:os"
import { join } from "node:path"
import { Losses, Random, type TensorBackend } from "@causald/core"
import { Batches, Sources } from "@causald/data"
import { DeepFm, Din, Inputs, logits, type Recommender } from "@causald/models"
import {
  type BlasName,
  blasOrder,
  fusedKernelOptions,
  type NativeBlas,
  nativeBlas,
  openBlas,
  startBackend,
  wasmThreadsStatus,
} from "@causald/tfjs"
import { Effect } from "effect"
import { Flag } from "effect/cli"
import { setNativeBlas } from "../packages/tfjs/src/kernels/NativeMatMul.ts"
import {
  choice,
  failWith,
  integer,
  list,
  optionalChoice,
  optionalInteger,
  parseFlags,
  present,
  text,
} from "./Cli.ts"
import { cpuDescription, runTorch } from "./Machine.ts"

export const NUM_ITEMS = 3_700
export const NUM_USERS = 6_000

/** The vocabulary of the random batches. */
export const vocabulary = { numUsers: NUM_USERS, numItems: NUM_ITEMS }

/** Settings of a timed step. */
export interface TimingOptions {
  readonly steps: number
  readonly warmup: number
}

export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/**
 * Median milliseconds of `timed` calls of `f` after `warmup` untimed ones; `f` returns a loss,
 * which must stay finite.
 */
export const timeMedian = (
  label: string,
  f: () => number,
  { steps, warmup }: TimingOptions,
): number => {
  for (let i = 0; i < warmup; i++) f()
  const ms: Array<number> = []
  for (let i = 0; i < steps; i++) {
    const t0 = performance.now()
    const loss = f()
    ms.push(performance.now() - t0)
    if (!Number.isFinite(loss)) throw new Error(`${label}: non-finite loss ${loss}`)
  }
  return median(ms)
}

/**
 * A random training batch in the data package's layout: full histories of random items, random
 * users and targets, one sampled negative per positive (groups of 2, positive first).
 */
export const randomBatch = (
  seed: number,
  batchSize: number,
  historyLength: number,
): Batches.TrainingBatch => {
  const rng = Random.generator(seed)
  const user = new Int32Array(batchSize)
  const item = new Int32Array(batchSize)
  const history = new Int32Array(batchSize * historyLength)
  const label = new Float32Array(batchSize)
  const positiveRow = new Int32Array(batchSize)
  const positiveIndex = new Int32Array(batchSize)
  for (let r = 0; r < batchSize; r++) {
    user[r] = Random.integer(rng, 0, NUM_USERS - 1)
    item[r] = Random.integer(rng, 1, NUM_ITEMS)
    label[r] = r % 2 === 0 ? 1 : 0
    positiveRow[r] = r - (r % 2)
    positiveIndex[r] = r >> 1
  }
  for (let i = 0; i < history.length; i++) history[i] = Random.integer(rng, 1, NUM_ITEMS)
  const lengths = new Int32Array(batchSize).fill(historyLength)
  return {
    size: batchSize,
    positives: Math.ceil(batchSize / 2),
    groupSize: 2,
    maxHistoryLength: historyLength,
    user,
    item,
    history,
    historyLength: lengths,
    label,
    positiveRow,
    positiveIndex,
  }
}

export interface TrainStepResult {
  readonly model: string
  readonly backend: string
  readonly batch: number
  readonly history: number
  readonly msPerStep: number
  readonly forwardMs: number
  readonly samplesPerSecond: number
}

/**
 * Times the training step (inputs, forward, backward, Adagrad update, loss read) and the forward
 * pass of `model` on one random batch; checks that no tensor leaks from step to step.
 */
export const measureTrainStep = (
  b: TensorBackend,
  name: string,
  model: Recommender,
  options: TimingOptions & {
    readonly batchSize: number
    readonly historyLength: number
    /** A real batch to time instead of a random full-history one. */
    readonly batch?: Batches.TrainingBatch
  },
): TrainStepResult => {
  const batch = options.batch ?? randomBatch(1, options.batchSize, options.historyLength)
  const batchSize = batch.size
  const historyLength = batch.maxHistoryLength
  const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
  const step = (): number =>
    b.tidy(() => {
      const inputs = Inputs.toInputs(b, batch)
      const labels = b.tensor(batch.label, [batchSize])
      const { value, grads } = b.valueAndGrads(
        () => Losses.binaryCrossEntropy(b, logits(model, inputs), labels),
        model.parameters,
      )
      optimizer.apply(model.parameters, grads)
      return b.read(value)[0]!
    })
  const forward = (): number => b.tidy(() => b.read(logits(model, Inputs.toInputs(b, batch)))[0]!)
  const msPerStep = timeMedian(name, step, options)
  // The optimiser's slots exist from the first step on: from then on nothing may accumulate.
  const live = b.liveTensors()
  const forwardMs = timeMedian(`${name} forward`, forward, options)
  step()
  if (b.liveTensors() !== live)
    throw new Error(`${name}: tensors leaked (${live} -> ${b.liveTensors()})`)
  optimizer.dispose()
  return {
    model: name,
    backend: b.name,
    batch: batchSize,
    history: historyLength,
    msPerStep: Math.round(msPerStep * 10) / 10,
    forwardMs: Math.round(forwardMs * 10) / 10,
    samplesPerSecond: Math.round((batchSize / msPerStep) * 1000),
  }
}

/** DIN (paper configuration, sigmoid attention, fast form) or DeepFM, measured then freed. */
export const measureModel = (
  b: TensorBackend,
  model: "din" | "deepfm",
  options: TimingOptions & { readonly batchSize: number; readonly historyLength: number },
): TrainStepResult => {
  if (model === "din") {
    const din = Din.make(b, vocabulary, {}, 0)
    try {
      return measureTrainStep(b, "din", din, options)
    } finally {
      b.dispose([...din.parameters, ...din.buffers])
    }
  }
  const deepFm = DeepFm.make(b, vocabulary, {}, 0)
  try {
    return measureTrainStep(b, "deepfm", deepFm, options)
  } finally {
    b.dispose(deepFm.parameters)
  }
}

/** One configuration of an interleaved DIN measurement. */
export interface StepVariant {
  /** e.g. "wasm+onednn fused" */
  readonly name: string
  /** The products' library; undefined for the wasm kernels. */
  readonly blas: NativeBlas | undefined
  /** Whether the fused activation-unit kernels run (`fusedKernelOptions.enabled`). */
  readonly fused: boolean
}

export interface VariantResult {
  readonly variant: string
  readonly fused: boolean
  readonly msPerStep: number
  readonly cpuMsPerStep: number
  readonly samplesPerSecond: number
  /** Wall milliseconds of every timed step, in order. */
  readonly all: ReadonlyArray<number>
}

/**
 * DIN training steps in each variant, interleaved: every round runs one step of each variant in
 * turn (after `warmup` untimed rounds), so that a background load shifts all alike, starting one
 * variant later each round. Each variant trains its own DIN of the same seed with its own
 * optimiser. Restores the BLAS and the fused
 * switch as they were; throws if a variant leaks tensors.
 */
export const measureInterleaved = (
  b: TensorBackend,
  vocab: { readonly numUsers: number; readonly numItems: number },
  dinOptions: Partial<Din.DinConfig>,
  variants: ReadonlyArray<StepVariant>,
  batch: Batches.TrainingBatch,
  { steps, warmup }: TimingOptions,
): Array<VariantResult> => {
  const before = { fused: fusedKernelOptions.enabled, blas: nativeBlas() }
  const runs = variants.map((v) => {
    const model = Din.make(b, vocab, dinOptions, 0)
    const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
    const step = (): number =>
      b.tidy(() => {
        const inputs = Inputs.toInputs(b, batch)
        const labels = b.tensor(batch.label, [batch.size])
        const { value, grads } = b.valueAndGrads(
          () => Losses.binaryCrossEntropy(b, logits(model, inputs), labels),
          model.parameters,
        )
        optimizer.apply(model.parameters, grads)
        return b.read(value)[0]!
      })
    return { v, model, optimizer, step, ms: [] as Array<number>, cpu: [] as Array<number> }
  })
  try {
    let live = -1
    for (let round = 0; round < warmup + steps; round++) {
      // each round starts one variant later, so that none always runs first (after the check)
      const order = runs.map((_, i) => runs[(i + round) % runs.length]!)
      for (const run of order) {
        setNativeBlas(run.v.blas)
        fusedKernelOptions.enabled = run.v.fused
        const c0 = process.cpuUsage()
        const t0 = performance.now()
        const loss = run.step()
        const wall = performance.now() - t0
        const cpu = process.cpuUsage(c0)
        if (!Number.isFinite(loss)) throw new Error(`${run.v.name}: non-finite loss ${loss}`)
        if (round >= warmup) {
          run.ms.push(wall)
          run.cpu.push((cpu.user + cpu.system) / 1000)
        }
      }
      // Every optimiser has its slots after the first round: from then on nothing may accumulate.
      if (round === 0) live = b.liveTensors()
      else if (b.liveTensors() !== live)
        throw new Error(`interleaved DIN steps leaked tensors (${live} -> ${b.liveTensors()})`)
    }
  } finally {
    fusedKernelOptions.enabled = before.fused
    setNativeBlas(before.blas)
    for (const run of runs) {
      run.optimizer.dispose()
      b.dispose([...run.model.parameters, ...run.model.buffers])
    }
  }
  return runs.map((run) => {
    const ms = median(run.ms)
    return {
      variant: run.v.name,
      fused: run.v.fused,
      msPerStep: Math.round(ms * 10) / 10,
      cpuMsPerStep: Math.round(median(run.cpu) * 10) / 10,
      samplesPerSecond: Math.round((batch.size / ms) * 1000),
      all: run.ms.map((x) => Math.round(x * 10) / 10),
    }
  })
}

const main = async (): Promise<void> => {
  const fail = failWith("train_step.ts")
  const flags = await parseFlags(
    "bench/train_step.ts",
    "DIN and DeepFM training throughput at the paper's configuration (Adagrad, batch 4096, history 50)",
    {
      backend: choice("backend", ["wasm", "cpu"], "wasm", "tensor backend"),
      models: list("models", ["din", "deepfm"], "the models timed"),
      steps: integer("steps", 5, 1, "timed steps"),
      warmup: integer("warmup", 2, 0, "untimed warm-up steps"),
      batch: integer("batch", 4096, 1, "rows per batch"),
      history: integer("history", 50, 1, "history length L"),
      dinForm: choice("din-form", ["fast", "naive"], "fast", "DIN's first attention layer"),
      dinActivation: choice(
        "din-activation",
        ["sigmoid", "dice"],
        "sigmoid",
        "DIN's attention activation",
      ),
      dinLayout: optionalChoice(
        "din-layout",
        ["padded", "chunks", "packed"],
        "how DIN treats padded positions (default Din.defaultLayoutFor(backend))",
      ),
      wasmThreads: optionalInteger(
        "wasm-threads",
        1,
        "the wasm binary: 1 = single-threaded SIMD, N >= 2 = N XNNPACK threads (default CAUSALD_WASM_THREADS, else the idle cores)",
      ),
      movielens: Flag.String("movielens").pipe(
        Flag.withMetavar("DIR"),
        Flag.withDescription(
          "time the first training batch of MovieLens 100K (--movielens=DIR; default ../shared/data/ml-100k) instead of random full ones",
        ),
        Flag.withOptionalValue(join(import.meta.dir, "..", "..", "shared", "data", "ml-100k")),
        Flag.optional,
      ),
      fused: choice(
        "fused",
        ["on", "off", "both"],
        fusedKernelOptions.enabled ? "on" : "off",
        "DIN's fused activation-unit kernels (CAUSALD_FUSED); both = off and on, interleaved",
      ),
      blas: text(
        "blas",
        "LIST",
        `products' libraries to compare interleaved, comma-separated: none (wasm kernels), ${blasOrder.join(", ")} (default: as the backend started, CAUSALD_BLAS)`,
      ),
      torch: present("torch", "run PyTorch's reference at the same batch size after ours"),
      torchThreads: optionalInteger(
        "torch-threads",
        1,
        "PyTorch's threads (default: the reference script's, 2)",
      ),
    },
  )
  const { backend: backendName, dinForm, dinActivation, steps, warmup, wasmThreads } = flags
  const batchSize = flags.batch
  const historyLength = flags.history
  const dinLayout = flags.dinLayout ?? Din.defaultLayoutFor(backendName)
  const models: ReadonlyArray<string> = flags.models
  let realBatch: Batches.TrainingBatch | undefined
  let vocab: { numUsers: number; numItems: number } = vocabulary
  if (flags.movielens._tag === "Some") {
    const directory = flags.movielens.value
    const data = await Sources.loadPromise({ format: "movielens-100k", directory }).catch(
      (error: unknown) => fail(`--movielens ${directory}: ${String(error)}`),
    )
    const first = Batches.trainingBatches(data, {
      batchSize,
      epochSeed: 1,
      historyLength,
    }).next()
    if (first.done === true) fail(`--movielens: no training batch in ${directory}`)
    realBatch = first.value as Batches.TrainingBatch
    vocab = { numUsers: data.numUsers, numItems: data.numItems }
    let sum = 0
    for (const n of realBatch.historyLength) sum += n
    console.log(
      `MovieLens 100K batch: ${realBatch.size} rows, mean history ${(sum / realBatch.size).toFixed(1)} of ${realBatch.maxHistoryLength}`,
    )
  }
  const options = {
    steps,
    warmup,
    batchSize,
    historyLength,
    ...(realBatch === undefined ? {} : { batch: realBatch }),
  }

  const b = await Effect.runPromise(
    startBackend(backendName, wasmThreads === undefined ? {} : { wasmThreads }),
  ).catch((error: unknown) => fail(error instanceof Error ? error.message : String(error)))
  const threads = wasmThreadsStatus()
  const cpu = cpuDescription()
  const loadStart = loadavg()[0]!
  const results: Array<TrainStepResult> = []
  const fusedChoices = flags.fused === "both" ? [false, true] : [flags.fused === "on"]
  if (flags.fused !== "both") fusedKernelOptions.enabled = flags.fused === "on"
  let interleaved: Array<VariantResult> = []
  if (models.includes("din") && (flags.fused === "both" || flags.blas !== undefined)) {
    if (backendName !== "wasm") fail("--fused both and --blas compare variants on wasm only")
    const libraries: Array<{ name: string; blas: NativeBlas | undefined }> = []
    for (const name of flags.blas?.split(",") ?? ["current"]) {
      if (name === "current") libraries.push({ name: b.name, blas: nativeBlas() })
      else if (name === "none") libraries.push({ name: "wasm", blas: undefined })
      else if ((blasOrder as ReadonlyArray<string>).includes(name)) {
        const found = openBlas(name as BlasName)
        if (typeof found === "string") fail(`--blas ${name}: ${found}`)
        else {
          found.setThreads(1)
          libraries.push({ name: `wasm+${name}`, blas: found })
        }
      } else fail(`--blas: unknown library "${name}"; expected none, ${blasOrder.join(", ")}`)
    }
    const variants = libraries.flatMap((l) =>
      fusedChoices.map((fused) => ({
        name: `${l.name} ${fused ? "fused" : "unfused"}`,
        blas: l.blas,
        fused,
      })),
    )
    interleaved = measureInterleaved(
      b,
      vocab,
      { attentionActivation: dinActivation },
      variants,
      realBatch ?? randomBatch(1, batchSize, historyLength),
      { steps, warmup },
    )
  }
  try {
    for (const m of models) {
      if (m === "din" && interleaved.length > 0) continue
      if (m === "din") {
        const din = Din.make(b, vocab, { attentionActivation: dinActivation }, 0)
        const model: Recommender =
          dinForm === "fast" && dinLayout === Din.defaultLayoutFor(backendName)
            ? din
            : {
                ...din,
                encode: (inputs) => Din.encode(b, din, inputs, "train", dinForm, dinLayout),
              }
        const name = `din${dinForm === "naive" ? "-naive" : ""}${dinActivation === "dice" ? "-dice" : ""}${dinLayout === Din.defaultLayoutFor(backendName) ? "" : `-${dinLayout}`}`
        results.push(measureTrainStep(b, name, model, options))
        b.dispose([...din.parameters, ...din.buffers])
      } else {
        const deepFm = DeepFm.make(b, vocab, {}, 0)
        results.push(measureTrainStep(b, "deepfm", deepFm, options))
        b.dispose(deepFm.parameters)
      }
    }
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }

  if (backendName === "wasm" && threads !== undefined)
    console.log(
      `wasm binary ${threads.binary}, ${threads.threads} thread(s) (${threads.requested} requested)${threads.note === undefined ? "" : `; ${threads.note}`}`,
    )
  console.log(
    `backend ${backendName}, batch ${realBatch?.size ?? batchSize}${realBatch === undefined ? "" : " (MovieLens 100K)"}, history ${historyLength}, ${warmup} warm-up + ${steps} timed steps (median)`,
  )
  const loadEnd = loadavg()[0]!
  console.log(
    `CPU: ${cpu.model}; vector extensions: ${cpu.vectorExtensions.join(" ") || "none named"}; load average ${loadStart.toFixed(2)} at start, ${loadEnd.toFixed(2)} at end; fused kernels ${flags.fused}`,
  )
  if (interleaved.length > 0) {
    console.log(
      `DIN, interleaved (${warmup} warm-up + ${steps} timed rounds, medians; ${flags.movielens._tag === "Some" ? "the MovieLens batch" : "random full histories"})`,
    )
    console.log(
      "variant                    ms/step   CPU ms/step   samples/s   x first (wall, CPU)",
    )
    const first = interleaved[0]!
    for (const r of interleaved)
      console.log(
        `${r.variant.padEnd(24)} ${r.msPerStep.toFixed(1).padStart(9)} ${r.cpuMsPerStep.toFixed(1).padStart(13)} ${String(r.samplesPerSecond).padStart(11)}   ${(first.msPerStep / r.msPerStep).toFixed(2)}x, ${(first.cpuMsPerStep / r.cpuMsPerStep).toFixed(2)}x`,
      )
  }
  const torch = flags.torch
    ? runTorch(["din"], {
        quick: false,
        torchThreads: flags.torchThreads ?? null,
        batch: realBatch?.size ?? batchSize,
      })
    : undefined
  if (torch !== undefined)
    console.log(
      torch._tag === "Measured"
        ? `PyTorch ${torch.version} (${torch.command}): ${torch.rows.map((r) => `${r.model} ${r.samples_per_s} samples/s (${r.ms_per_step} ms/step, ${r.threads} threads, batch ${r.batch})`).join("; ")}`
        : `PyTorch reference skipped: ${torch.reason}`,
    )
  console.log("model       ms/step   forward ms   samples/s")
  for (const r of results)
    console.log(
      `${r.model.padEnd(10)} ${r.msPerStep.toFixed(1).padStart(8)} ${r.forwardMs.toFixed(1).padStart(12)} ${String(r.samplesPerSecond).padStart(11)}`,
    )
  console.log(
    JSON.stringify({
      bench: "train_step",
      cpu,
      loadAverage: { start: loadStart, end: loadEnd },
      fusedKernels: flags.fused,
      interleaved,
      ...(torch === undefined ? {} : { torch }),
      ...(backendName === "wasm" && threads !== undefined ? { wasmThreads: threads } : {}),
      results,
    }),
  )
}

if (import.meta.main) await main()
