/**
 * The machine a benchmark ran on (CPU model, vector extensions) and the PyTorch CPU reference
 * (`/work/shared/bench/torch_reference.py`), shared by the suite (`index.ts`) and
 * `train_step.ts`.
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync } from "node:fs"
import { cpus } from "node:os"
import { join } from "node:path"

// --- the machine ----------------------------------------------------------------------------------

/** Vector extensions worth naming, in the order printed. */
export const vectorFlags = [
  "sse4_2",
  "avx",
  "avx2",
  "fma",
  "avx512f",
  "avx512bw",
  "avx512_vnni",
  "avx512_bf16",
  "avx512_fp16",
  "amx_tile",
  "amx_bf16",
  "amx_int8",
] as const

/** The CPU model and which of {@link vectorFlags} it has (Linux: /proc/cpuinfo; else the model only). */
export const cpuDescription = (): { model: string; vectorExtensions: ReadonlyArray<string> } => {
  const model = cpus()[0]?.model ?? "unknown CPU"
  let flags: ReadonlySet<string> = new Set()
  try {
    const line = /^flags\s*:(.*)$/m.exec(readFileSync("/proc/cpuinfo", "utf8"))
    if (line !== null) flags = new Set(line[1]!.trim().split(/\s+/))
  } catch {
    // not Linux: the model alone
  }
  return { model, vectorExtensions: vectorFlags.filter((f) => flags.has(f)) }
}

// --- the PyTorch reference ---------------------------------------------------------------------

export const torchScript = join(
  import.meta.dir,
  "..",
  "..",
  "shared",
  "bench",
  "torch_reference.py",
)
const python = "/usr/bin/python3"

export interface TorchRow {
  readonly model: string
  readonly impl: string
  readonly threads: number
  readonly batch: number
  readonly ms_per_step: number
  readonly samples_per_s: number
}

export type TorchResult =
  | {
      readonly _tag: "Measured"
      readonly rows: ReadonlyArray<TorchRow>
      /** torch.get_num_threads() without set_num_threads: torch's own default here. */
      readonly torchDefaultThreads: number
      readonly version: string
      readonly command: string
    }
  | { readonly _tag: "Skipped"; readonly reason: string }

/** Why the reference cannot run, or its version and default thread count. */
const probeTorch = (): { version: string; threads: number } | string => {
  if (!existsSync(python)) return `${python} not found`
  if (!existsSync(torchScript)) return `${torchScript} not found`
  const probe = spawnSync(
    python,
    ["-c", "import torch; print(torch.__version__, torch.get_num_threads())"],
    { encoding: "utf8" },
  )
  if (probe.status !== 0)
    return `${python} cannot import torch (Debian: apt-get install python3-torch): ${(probe.stderr ?? "").trim().split("\n").at(-1)}`
  const [version, threads] = probe.stdout.trim().split(/\s+/)
  return { version: version ?? "?", threads: Number(threads) }
}

/** What of the suite's options the reference takes; `batch` defaults to the script's (4096). */
export interface TorchOptions {
  readonly quick: boolean
  readonly torchThreads: number | null
  readonly batch?: number
}

export const runTorch = (
  models: ReadonlyArray<"din" | "deepfm">,
  options: TorchOptions,
): TorchResult => {
  const probe = probeTorch()
  if (typeof probe === "string") return { _tag: "Skipped", reason: probe }
  const args = [torchScript, "--models", models.join(",")]
  if (options.batch !== undefined) args.push("--batch", String(options.batch))
  if (options.quick) args.push("--steps", "2", "--warmup", "1")
  if (options.torchThreads !== null) args.push("--threads", String(options.torchThreads))
  const run = spawnSync(python, args, { encoding: "utf8" })
  if (run.status !== 0)
    return {
      _tag: "Skipped",
      reason: `torch_reference.py exited with ${run.status}: ${(run.stderr ?? "").trim().split("\n").at(-1)}`,
    }
  const rows: Array<TorchRow> = []
  for (const line of run.stdout.split("\n")) {
    if (!line.startsWith("{")) continue
    rows.push(JSON.parse(line) as TorchRow)
  }
  if (rows.length !== models.length)
    return {
      _tag: "Skipped",
      reason: `torch_reference.py printed ${rows.length} results for ${models.length} models`,
    }
  return {
    _tag: "Measured",
    rows,
    torchDefaultThreads: probe.threads,
    version: probe.version,
    command: `${python} ${args.join(" ")}`,
  }
}
