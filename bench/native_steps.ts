/**
 * Whole DIN or DeepFM training steps (paper configuration: batch 4096, history 50, Adagrad) on
 * the wasm backend with its products on the wasm kernels, and on each native BLAS found at 1 and
 * 2 threads, timed interleaved (wasm, onednn/1, onednn/2, openblas/1, ... each round), so that a
 * background load shifts every variant alike. Medians after the warm-up rounds.
 *
 * CPU time of the process per step is printed beside the wall time: with one library thread it
 * counts the step's work without the time the process waited for a core, so it is steadier
 * under load (with two it also counts OpenMP's spinning).
 *
 * What it decides: which library `auto` should prefer and whether the library's second thread
 * pays in one process (bench/NOTES.md, "Native matrix products"). `bun run bench` measures one
 * configuration against PyTorch; this one compares configurations with each other.
 *
 *   bun run bench/native_steps.ts [--step din|deepfm] [--rounds N] [--warmup N]
 */
import { Random } from "@causald/core"
import { DeepFm, Din } from "@causald/models"
import { blasOrder, openBlas, startBackend } from "@causald/tfjs"
import { Objective, Train } from "@causald/training"
import { Effect } from "effect"
import { setNativeBlas } from "../packages/tfjs/src/kernels/NativeMatMul.ts"
import type { NativeBlas } from "../packages/tfjs/src/native/Blas.ts"
import { choice, integer, parseFlags } from "./Cli.ts"
import { median, randomBatch, vocabulary } from "./train_step.ts"

const {
  step: stepName,
  rounds,
  warmup,
} = await parseFlags(
  "bench/native_steps.ts",
  "Whole DIN or DeepFM training steps on the wasm backend, on the wasm kernels and on each native BLAS found at 1 and 2 threads, timed interleaved",
  {
    step: choice("step", ["din", "deepfm"], "din", "the training step timed"),
    rounds: integer("rounds", 5, 1, "timed rounds of every variant"),
    warmup: integer("warmup", 2, 0, "untimed warm-up rounds"),
  },
)

const b = await Effect.runPromise(startBackend("wasm", { blas: "none" }))
const variants: Array<{ name: string; blas: NativeBlas | undefined; threads: number }> = [
  { name: "wasm", blas: undefined, threads: 1 },
]
for (const name of blasOrder) {
  const found = openBlas(name)
  if (typeof found === "string") continue
  variants.push({ name: `${name}/1`, blas: found, threads: 1 })
  if (found.setThreads(1)) variants.push({ name: `${name}/2`, blas: found, threads: 2 })
}

const model =
  stepName === "deepfm" ? DeepFm.make(b, vocabulary, {}, 0) : Din.make(b, vocabulary, {}, 0)
const batch = randomBatch(1, 4096, 50)
const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
const rng = Random.generator(1)
const objective = Objective.recommendation(b, model)
const step = () => Train.trainStep(b, objective, optimizer, batch, rng, 1)

const ms = variants.map(() => [] as Array<number>)
const cpuMs = variants.map(() => [] as Array<number>)
for (let i = 0; i < warmup + rounds; i++)
  variants.forEach((v, j) => {
    setNativeBlas(v.blas)
    v.blas?.setThreads(v.threads)
    const c0 = process.cpuUsage()
    const t0 = performance.now()
    step()
    const wall = performance.now() - t0
    const cpu = process.cpuUsage(c0)
    if (i >= warmup) {
      ms[j]!.push(wall)
      cpuMs[j]!.push((cpu.user + cpu.system) / 1000)
    }
  })
setNativeBlas(undefined)
const medians = ms.map(median)
const cpuMedians = cpuMs.map(median)
for (const [j, v] of variants.entries())
  console.log(
    `${stepName} step ${v.name.padEnd(12)} ${medians[j]!.toFixed(1).padStart(8)} ms  ${((4096 * 1000) / medians[j]!).toFixed(0).padStart(7)} samples/s  ${(medians[0]! / medians[j]!).toFixed(2)}x of wasm   CPU ${cpuMedians[j]!.toFixed(1).padStart(8)} ms  ${(cpuMedians[0]! / cpuMedians[j]!).toFixed(2)}x`,
  )
console.log(
  JSON.stringify({
    bench: "native_steps",
    step: stepName,
    rounds,
    variants: variants.map((v, j) => ({
      name: v.name,
      msPerStep: medians[j],
      cpuMsPerStep: cpuMedians[j],
      all: ms[j],
    })),
  }),
)
