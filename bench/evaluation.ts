/**
 * Evaluation throughput: `Evaluate.scoreSplit` on the test split of MovieLens 100K (16-core:
 * 943 users), each user with 1 + 100 stored candidates (section 5.1), DIN at the paper's
 * configuration, history 50. Scores do not depend on training for timing, so the model is
 * freshly initialised. The first run (kernel set-up, heap growth) is reported separately; the
 * median of the following runs is the figure.
 *
 *   bun run bench/evaluation.ts [--backend wasm|cpu] [--runs N] [--data DIR]
 *     [--batch-users N] [--rows-per-chunk N] [--share on|off] [--trim on|off] [--pair-table on|off]
 *
 * `--share off` repeats each history per candidate instead of DIN's shared-history scoring;
 * `--trim off` keeps users in order at the full history width; `--pair-table off` turns off DIN's
 * (history item, candidate) attention table (all three off, with `--batch-users 128`: the
 * scoring before issue 8, except DIN's packed positions).
 */
import { existsSync } from "node:fs"
import { join } from "node:path"
import type { TensorBackend } from "@causald/core"
import { type PreparedDataset, Sources } from "@causald/data"
import { Din, type Inputs } from "@causald/models"
import { startBackend } from "@causald/tfjs"
import { Evaluate } from "@causald/training"
import { Effect } from "effect"
import { choice, integer, onOff, parseFlags, text } from "./Cli.ts"
import { median } from "./train_step.ts"

/** `../shared/data/ml-100k` from the repository root. */
export const defaultMovieLensDirectory = join(
  import.meta.dir,
  "..",
  "..",
  "shared",
  "data",
  "ml-100k",
)

/** Why the evaluation cannot run here, or null when the data folder is usable. */
export const movieLensMissing = (directory: string): string | null => {
  for (const file of ["u.data", "u.user"])
    if (!existsSync(join(directory, file))) return `${join(directory, file)} not found`
  return null
}

export interface EvaluationResult {
  readonly dataset: string
  readonly users: number
  /** 1 + N candidates per user. */
  readonly candidates: number
  readonly history: number
  /** Users per `scoreSplit` batch. */
  readonly batchUsers: number
  /** The first call (set-up included). */
  readonly firstSeconds: number
  /** Median of the timed calls after the first. */
  readonly seconds: number
  readonly usersPerSecond: number
  readonly runs: number
}

/** Loads ml-100k (16-core) through the data package's own loading program. */
export const loadMovieLens100k = (directory: string): Promise<PreparedDataset> =>
  Sources.loadPromise({ format: "movielens-100k", directory })

/**
 * Times scoring every user's test candidates: one first call, then `runs` timed calls. Checks
 * that every score is finite and that no tensor outlives a call.
 */
export const measureEvaluation = (
  b: TensorBackend,
  data: PreparedDataset,
  runs: number,
  batchUsers: number = Evaluate.DEFAULT_EVAL_BATCH_USERS,
  scoreOptions: Inputs.ScoreOptions = {},
): EvaluationResult => {
  const model = Din.make(b, data, {}, 0)
  try {
    const live = b.liveTensors()
    const once = (): number => {
      const t0 = performance.now()
      const scores = Evaluate.scoreSplit(b, model, data, "test", {
        batchUsers,
        score: scoreOptions,
      })
      const seconds = (performance.now() - t0) / 1000
      const C = 1 + data.config.candidates
      if (scores.length !== data.numUsers * C)
        throw new Error(`evaluation: ${scores.length} scores for ${data.numUsers} x ${C}`)
      for (const s of scores) if (!Number.isFinite(s)) throw new Error("evaluation: a NaN score")
      return seconds
    }
    const firstSeconds = once()
    const times = Array.from({ length: runs }, once)
    if (b.liveTensors() !== live)
      throw new Error(`evaluation: tensors leaked (${live} -> ${b.liveTensors()})`)
    const seconds = median(times)
    return {
      dataset: data.name,
      users: data.numUsers,
      candidates: 1 + data.config.candidates,
      history: data.config.historyLength,
      batchUsers,
      firstSeconds: Math.round(firstSeconds * 1000) / 1000,
      seconds: Math.round(seconds * 1000) / 1000,
      usersPerSecond: Math.round(data.numUsers / seconds),
      runs,
    }
  } finally {
    b.dispose([...model.parameters, ...model.buffers])
  }
}

const main = async (): Promise<void> => {
  const flags = await parseFlags(
    "bench/evaluation.ts",
    "Evaluation of every ml-100k user with 1 + 100 candidates",
    {
      backend: choice("backend", ["wasm", "cpu"], "wasm", "tensor backend"),
      runs: integer("runs", 3, 1, "timed runs"),
      data: text("data", "DIR", "the ml-100k folder (default ../shared/data/ml-100k)"),
      batchUsers: integer(
        "batch-users",
        Evaluate.DEFAULT_EVAL_BATCH_USERS,
        1,
        "users per evaluation batch",
      ),
      rowsPerChunk: integer("rows-per-chunk", 4096, 1, "scored rows per chunk"),
      share: onOff("share", true, "the history part once per user"),
      trim: onOff("trim", true, "histories trimmed to the batch's longest"),
      pairTable: onOff("pair-table", true, "DIN's item-pair table when it pays"),
    },
  )
  const { backend: backendName, runs, batchUsers, rowsPerChunk } = flags
  const directory = flags.data ?? defaultMovieLensDirectory
  const scoreOptions: Inputs.ScoreOptions = {
    rowsPerChunk,
    shareHistory: flags.share,
    trimHistory: flags.trim,
    pairTable: flags.pairTable,
  }
  const missing = movieLensMissing(directory)
  if (missing !== null) {
    console.log(`skipped: ${missing}`)
    return
  }
  const b = await Effect.runPromise(startBackend(backendName as "wasm" | "cpu"))
  const data = await loadMovieLens100k(directory)
  const r = measureEvaluation(b, data, runs, batchUsers, scoreOptions)
  console.log(
    `${r.dataset}: ${r.users} users x ${r.candidates} candidates (${r.batchUsers} users per batch, ${JSON.stringify(scoreOptions)}), ${r.seconds.toFixed(3)} s (first ${r.firstSeconds.toFixed(3)} s), ${r.usersPerSecond} users/s`,
  )
  console.log(JSON.stringify({ bench: "evaluation", result: r }))
}

if (import.meta.main) await main()
