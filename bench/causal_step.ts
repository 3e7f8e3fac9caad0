/**
 * Cost of a CausalD student step against a base step (section 3.5.2: training costs more, by the
 * frozen teachers' encoders and the causal-label estimator; inference costs the same).
 *
 * A step is exactly what `Train.trainStep` does: batch to tensors, the objective's constants
 * outside the tape (for CausalD: the K teachers' mediators, the guidance and the partners),
 * forward, backward, Adagrad update, loss read. The base objective is `Objective.recommendation`
 * (L_Rec, BCE), the student objective `CausalDObjective.causalD` with K DIN teachers, back-door
 * guidance under a uniform P(z_k), λ_BDA = λ_FDA = 1, ψ_FDA hidden [16].
 *
 * The positive cache (`CausalDConfig.cachePositives`, default on) is timed in its steady state,
 * i.e. from a run's second epoch on: the warm-up steps fill it (the bench repeats one batch), so
 * a timed step runs the teachers on the negatives only. The `-nocache` rows run the teachers on
 * every row: the cost of a run's first epoch, and of every epoch without the cache. The teachers
 * also encode rows in chunks trimmed to their longest history (`teacherChunkOverhead`): a no-op
 * on the random full histories, a large saving on real ones (`--sequences`).
 *
 * DIN teachers encode by their item-pair tables by default (`CausalDConfig.teacherPairTables`,
 * `Din`'s frozen encoder): the activation unit once per (history item, candidate) pair of the
 * vocabulary, when the run starts, then lookups. The `-forward` row runs their forward pass
 * instead (the cost without tables). `first prepare ms` is the first batch's constants, which
 * include building the tables: a one-time cost per run, reported beside the per-step one.
 *
 * Two causal labels: the Monte-Carlo one (S in-batch partners per row, O(K B S h)) at the paper's
 * batch, and the exact one (all B partners, O(K B² h)), which `causalD` refuses above
 * `EXACT_LIMIT` elements, so it is measured at a smaller batch with its own base step.
 *
 * The variants of one comparison are timed interleaved (base, causal, base, causal, ...), so a
 * background load shifts all of them alike; the median of each is reported. The teachers'
 * share (`prepare`: K encoders and the guidance) is timed separately.
 *
 *   bun run bench/causal_step.ts [--backend wasm|cpu] [--steps N] [--warmup N] [--batch N]
 *     [--exact-batch N] [--teachers K] [--partners S] [--sequences FILE] [--base din|deepfm]
 *     [--fused current|on|off|both] [--exact on|off] [--nocache on|off]
 *
 * `--fused both` times every variant with the fused kernels (`CAUSALD_FUSED`, issue 17: DIN's
 * activation unit, the causal label's ψ_FDA over the partners) off and on, interleaved step by
 * step, each with its own student; each ratio is over the base step of the same setting.
 * `--exact off` and `--nocache off` leave out the exact-label comparison and the `-nocache` rows.
 * The CPU model, its vector extensions, the backend's name and the load average are printed.
 *
 * `--sequences FILE` (a `user item1 item2 ...` file, e.g. /work/shared/data/amazon/Beauty.txt)
 * times the first batch of a real epoch instead of random full histories.
 */

import { loadavg } from "node:os"
import { Random, type TensorBackend } from "@causald/core"
import { Batches, type PreparedDataset, Sources } from "@causald/data"
import { DeepFm, Din, forInference, Inputs, type Recommender } from "@causald/models"
import { fusedKernelOptions, startBackend } from "@causald/tfjs"
import { CausalDObjective, Objective, Train } from "@causald/training"
import { Effect } from "effect"
import { choice, failWith, integer, onOff, parseFlags, text } from "./Cli.ts"
import { cpuDescription } from "./Machine.ts"
import {
  median,
  randomBatch,
  vocabulary as randomVocabulary,
  type TimingOptions,
} from "./train_step.ts"

export interface CausalStepOptions extends TimingOptions {
  /** Batch of the base and Monte-Carlo steps (paper: 4096). */
  readonly batchSize: number
  /** Batch of the exact-label comparison (its [K, B, B, h] tensor must fit EXACT_LIMIT). */
  readonly exactBatchSize: number
  readonly historyLength: number
  readonly teachers: number
  /** S of the Monte-Carlo label. */
  readonly partners: number
  /** Base model of the student and the teachers (default DIN; DeepFM's mediator is the pooled history). */
  readonly base?: "din" | "deepfm"
  /**
   * Real batches instead of random full histories: the first batch of an epoch of this data set
   * (1 negative per positive). Real histories are mostly shorter than L, which the teachers'
   * length chunks (`CausalDConfig.teacherChunkOverhead`) exploit and the random batches hide.
   */
  readonly data?: PreparedDataset
  /**
   * The fused kernels' settings to time, interleaved (`fusedKernelOptions.enabled`); undefined:
   * the process's setting only.
   */
  readonly fused?: ReadonlyArray<boolean>
  /** Whether to run the exact-label comparison at `exactBatchSize` (default true). */
  readonly exact?: boolean
  /** Whether to time the `-nocache` variants (default true). */
  readonly nocache?: boolean
}

export const defaultCausalStepOptions: CausalStepOptions = {
  steps: 5,
  warmup: 2,
  batchSize: 4096,
  exactBatchSize: 256,
  historyLength: 50,
  teachers: 4,
  partners: 16,
}

/** One timed variant. */
export interface CausalStepRow {
  /** "base", "causald-mc" or "causald-exact", "-nocache" without the positive cache. */
  readonly objective: string
  /** The fused kernels' setting it ran with; undefined: the process's. */
  readonly fused?: boolean
  readonly batch: number
  readonly teachers: number
  /** Partners per row: S (Monte-Carlo), B (exact), 0 (base). */
  readonly partners: number
  readonly msPerStep: number
  /** The objective's constants alone (CausalD: K teacher encoders + guidance); 0 for base. */
  readonly prepareMs: number
  /** The same in CPU milliseconds (median). */
  readonly prepareCpuMs: number
  /** The first batch's constants: with pair tables, their one-time construction included. */
  readonly firstPrepareMs: number
  /** msPerStep over the base step's at the same batch. */
  readonly ratio: number
  /** Median CPU milliseconds per step (user + system; see `interleaved`). */
  readonly cpuMsPerStep: number
  /** cpuMsPerStep over the base step's at the same batch. */
  readonly cpuRatio: number
}

const round1 = (x: number): number => Math.round(x * 10) / 10
const round2 = (x: number): number => Math.round(x * 100) / 100

interface Variant {
  readonly objective: string
  readonly fused: boolean | undefined
  readonly partners: number
  readonly step: () => number
  readonly prepare: () => void
  readonly release: () => void
}

/** Milliseconds of CPU time (user + system) this process has used. */
const cpuNow = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}

/** Median wall-clock and CPU milliseconds of a timed variant. */
interface Timing {
  readonly wall: number
  readonly cpu: number
}

/**
 * Times the variants interleaved: after `warmup` rounds, `steps` rounds each running every
 * variant once; returns the median wall-clock and CPU milliseconds of each. On the shared
 * 2-core machine the wall clock includes time spent waiting for a core; the CPU time (tfjs's
 * wasm backend runs on one thread) does not, so its ratio is the steadier one under load.
 */
const interleaved = (variants: ReadonlyArray<Variant>, timing: TimingOptions): Array<Timing> => {
  for (let i = 0; i < timing.warmup; i++) for (const v of variants) v.step()
  const wall = variants.map(() => [] as Array<number>)
  const cpu = variants.map(() => [] as Array<number>)
  for (let i = 0; i < timing.steps; i++)
    variants.forEach((v, j) => {
      const c0 = cpuNow()
      const t0 = performance.now()
      const loss = v.step()
      wall[j]!.push(performance.now() - t0)
      cpu[j]!.push(cpuNow() - c0)
      if (!Number.isFinite(loss)) throw new Error(`${v.objective}: non-finite loss ${loss}`)
    })
  return variants.map((_, j) => ({ wall: median(wall[j]!), cpu: median(cpu[j]!) }))
}

const timePrepare = (v: Variant, timing: TimingOptions): Timing => {
  if (v.objective === "base") return { wall: 0, cpu: 0 }
  const ms: Array<number> = []
  const cpu: Array<number> = []
  for (let i = 0; i < Math.max(1, timing.warmup); i++) v.prepare()
  for (let i = 0; i < timing.steps; i++) {
    const c0 = cpuNow()
    const t0 = performance.now()
    v.prepare()
    ms.push(performance.now() - t0)
    cpu.push(cpuNow() - c0)
  }
  return { wall: median(ms), cpu: median(cpu) }
}

/**
 * Measures base vs CausalD steps: base and Monte-Carlo at `batchSize`, then base, exact and
 * Monte-Carlo at `exactBatchSize`. Every model and optimiser it makes is freed; a tensor leak
 * from step to step throws.
 */
export const measureCausalSteps = (
  b: TensorBackend,
  options: CausalStepOptions,
): Array<CausalStepRow> => {
  const K = options.teachers
  const data = options.data
  const vocabulary =
    data === undefined ? randomVocabulary : { numUsers: data.numUsers, numItems: data.numItems }
  const batchOf = (seed: number, size: number): Batches.TrainingBatch =>
    data === undefined
      ? randomBatch(seed, size, options.historyLength)
      : Batches.trainingBatches(data, {
          batchSize: size,
          negatives: 1,
          epochSeed: seed,
          historyLength: options.historyLength,
        }).next().value!
  const makeModel = (seed: number): Recommender =>
    options.base === "deepfm"
      ? DeepFm.make(b, vocabulary, {}, seed)
      : Din.make(b, vocabulary, {}, seed)
  // Teachers are untrained: a step's cost does not depend on the weights' values.
  const teacherModels = Array.from({ length: K }, (_, k) => makeModel(100 + k))
  const teachers = teacherModels.map((t) => forInference(t))
  const prior = new Float32Array(K).fill(1 / K)
  const rows: Array<CausalStepRow> = []

  const variant = (
    name: string,
    batch: Batches.TrainingBatch,
    partners: CausalDObjective.CausalDConfig["partners"] | null,
    cachePositives = true,
    pairTables = true,
    fused: boolean | undefined = undefined,
  ): Variant => {
    const apply = (): void => {
      if (fused !== undefined) fusedKernelOptions.enabled = fused
    }
    const student = makeModel(7)
    const causal =
      partners === null
        ? null
        : CausalDObjective.causalD(
            b,
            student,
            teachers,
            {
              ...CausalDObjective.defaultCausalDConfig,
              teacherPrior: prior,
              partners,
              cachePositives,
              teacherPairTables: pairTables,
            },
            1,
          )
    const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
    const rng = Random.generator(3)
    // `wait` reads one value of the constants: it returns once every kernel of the teachers ran
    // (wasm and cpu run eagerly).
    const timed = <P>(objective: Objective.Objective<P>, wait: (prepared: P) => void) => ({
      step: () => {
        apply()
        return Train.trainStep(b, objective, optimizer, batch, rng, 1)
      },
      prepare: () =>
        b.tidy(() => {
          apply()
          const prepared = objective.prepare({
            inputs: Inputs.toInputs(b, batch),
            batch,
            labels: b.tensor(batch.label, [batch.size]),
            rng,
            epoch: 1,
          })
          wait(prepared)
        }),
    })
    return {
      objective: name,
      fused,
      partners: partners === null ? 0 : partners._tag === "Exact" ? batch.size : partners.partners,
      ...(causal === null
        ? timed(Objective.recommendation(b, student), () => {})
        : timed(causal, (prepared) => b.read(prepared.guidance))),
      release: () => {
        optimizer.dispose()
        causal?.dispose()
        b.dispose([...student.parameters, ...(student.buffers ?? [])])
      },
    }
  }

  const compare = (batch: Batches.TrainingBatch, variants: ReadonlyArray<Variant>) => {
    try {
      const first = variants.map((v) => {
        if (v.objective === "base") return 0
        const t0 = performance.now()
        v.prepare()
        return performance.now() - t0
      })
      const ms = interleaved(variants, options)
      const live = b.liveTensors()
      for (const v of variants) v.step()
      if (b.liveTensors() !== live)
        throw new Error(`causal step: tensors leaked (${live} -> ${b.liveTensors()})`)
      const prepare = variants.map((v) => timePrepare(v, options))
      variants.forEach((v, j) => {
        // the base step of the same fused setting
        const base = ms[variants.findIndex((u) => u.objective === "base" && u.fused === v.fused)]!
        rows.push({
          objective: v.objective,
          ...(v.fused === undefined ? {} : { fused: v.fused }),
          batch: batch.size,
          teachers: v.objective === "base" ? 0 : K,
          partners: v.partners,
          msPerStep: round1(ms[j]!.wall),
          prepareMs: round1(prepare[j]!.wall),
          prepareCpuMs: round1(prepare[j]!.cpu),
          firstPrepareMs: round1(first[j]!),
          ratio: round2(ms[j]!.wall / base.wall),
          cpuMsPerStep: round1(ms[j]!.cpu),
          cpuRatio: round2(ms[j]!.cpu / base.cpu),
        })
      })
    } finally {
      for (const v of variants) v.release()
    }
  }

  try {
    const large = batchOf(11, options.batchSize)
    const mc = { _tag: "MonteCarlo", partners: options.partners } as const
    const settings: ReadonlyArray<boolean | undefined> = options.fused ?? [undefined]
    const nocache = options.nocache !== false
    compare(
      large,
      settings.flatMap((f) => [
        variant("base", large, null, true, true, f),
        variant("causald-mc", large, mc, true, true, f),
        ...(nocache ? [variant("causald-mc-nocache", large, mc, false, true, f)] : []),
        // Only DIN has item-pair tables: DeepFM teachers always run their forward pass.
        ...(options.base === "deepfm"
          ? []
          : [variant("causald-mc-forward", large, mc, true, false, f)]),
      ]),
    )
    if (options.exact !== false) {
      const small = batchOf(12, options.exactBatchSize)
      compare(
        small,
        settings.flatMap((f) => [
          variant("base", small, null, true, true, f),
          variant("causald-exact", small, { _tag: "Exact" }, true, true, f),
          ...(nocache
            ? [variant("causald-exact-nocache", small, { _tag: "Exact" }, false, true, f)]
            : []),
          variant("causald-mc", small, mc, true, true, f),
        ]),
      )
    }
  } finally {
    for (const t of teacherModels) b.dispose([...t.parameters, ...(t.buffers ?? [])])
  }
  return rows
}

export const formatCausalRows = (rows: ReadonlyArray<CausalStepRow>): Array<string> => [
  "objective              batch  K   partners   ms/step   teachers ms   first prepare ms   x base   cpu ms/step   x base (cpu)   teachers cpu ms",
  ...rows.map(
    (r) =>
      `${`${r.objective}${r.fused === undefined ? "" : r.fused ? " on" : " off"}`.padEnd(21)} ${String(r.batch).padStart(6)} ${String(r.teachers).padStart(2)} ${String(r.partners).padStart(10)} ${r.msPerStep.toFixed(1).padStart(9)} ${r.prepareMs.toFixed(1).padStart(13)} ${r.firstPrepareMs.toFixed(0).padStart(18)} ${r.ratio.toFixed(2).padStart(8)} ${r.cpuMsPerStep.toFixed(1).padStart(13)} ${r.cpuRatio.toFixed(2).padStart(14)} ${r.prepareCpuMs.toFixed(1).padStart(17)}`,
  ),
]

const main = async (): Promise<void> => {
  const fail = failWith("causal_step.ts")
  const d = defaultCausalStepOptions
  const {
    backend: backendName,
    sequences,
    ...options
  }: CausalStepOptions & {
    backend: "wasm" | "cpu"
    sequences: string | undefined
    fusedChoice: "current" | "on" | "off" | "both"
  } = await parseFlags(
    "bench/causal_step.ts",
    "The CausalD student step over the base step (K DIN teachers, Monte-Carlo and exact labels), timed interleaved",
    {
      backend: choice("backend", ["wasm", "cpu"], "wasm", "tensor backend"),
      steps: integer("steps", d.steps, 1, "timed steps"),
      warmup: integer("warmup", d.warmup, 0, "untimed warm-up steps"),
      batchSize: integer("batch", d.batchSize, 2, "batch of the Monte-Carlo label"),
      exactBatchSize: integer("exact-batch", d.exactBatchSize, 2, "batch of the exact label"),
      historyLength: integer("history", d.historyLength, 1, "history length L"),
      teachers: integer("teachers", d.teachers, 1, "K, the teachers"),
      partners: integer("partners", d.partners, 1, "S, the Monte-Carlo partners"),
      base: choice("base", ["din", "deepfm"], "din", "the base recommender"),
      fusedChoice: choice(
        "fused",
        ["current", "on", "off", "both"],
        "current",
        "the fused kernels (CAUSALD_FUSED): on, off, or both interleaved",
      ),
      exact: onOff("exact", true, "the exact-label comparison at --exact-batch"),
      nocache: onOff("nocache", true, "the variants without the positive cache"),
      sequences: text(
        "sequences",
        "FILE",
        "time the first batch of a real epoch of this `user item1 item2 ...` file instead of random full histories",
      ),
    },
  )
  const data =
    sequences === undefined
      ? undefined
      : await Sources.loadPromise({ format: "sequences", file: sequences }).catch(
          (error: unknown) =>
            fail(`--sequences ${sequences}: ${error instanceof Error ? error.message : error}`),
        )
  const b = await Effect.runPromise(startBackend(backendName as "wasm" | "cpu"))
  const { fusedChoice, ...measured } = options
  const fused =
    fusedChoice === "both"
      ? [false, true]
      : fusedChoice === "current"
        ? undefined
        : [fusedChoice === "on"]
  const cpu = cpuDescription()
  const loadStart = loadavg()[0]!
  let rows: Array<CausalStepRow> = []
  try {
    rows = measureCausalSteps(b, {
      ...measured,
      ...(data === undefined ? {} : { data }),
      ...(fused === undefined ? {} : { fused }),
    })
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error))
  }
  const loadEnd = loadavg()[0]!
  console.log(
    `CPU ${cpu.model} (${cpu.vectorExtensions.join(" ")}), ${b.name}, load average ${loadStart.toFixed(1)} -> ${loadEnd.toFixed(1)}`,
  )
  console.log(
    `backend ${backendName}, base ${options.base}, ${data === undefined ? "random full histories" : `first batch of ${data.name}`}, history ${options.historyLength}, ${options.warmup} warm-up + ${options.steps} timed steps (median, interleaved)`,
  )
  for (const line of formatCausalRows(rows)) console.log(line)
  console.log(
    JSON.stringify({
      bench: "causal_step",
      options,
      backend: b.name,
      cpu,
      load: [loadStart, loadEnd],
      ...(data === undefined ? {} : { data: data.name }),
      results: rows,
    }),
  )
}

if (import.meta.main) await main()
