/**
 * Where a DIN training step's time goes on the wasm backend, per tfjs kernel: `tf.profile` of
 * `--steps` steps (after `--warmup` unprofiled ones), summed by kernel name and by (kernel,
 * output shape), the largest first. What issue 17's fused kernels were chosen from
 * (`bench/NOTES.md`, "Fused attention unit").
 *
 * Batches: random full histories (batch 4096, history 50: the paper's configuration,
 * `train_step.ts`) or, with `--movielens`, the first training batch of MovieLens 100K at the
 * study's profile (batch 512, history 50, most histories shorter: DIN's packed layout).
 * `--blas` picks the products' library (`CAUSALD_BLAS`'s choices); `CAUSALD_FUSED=off` profiles
 * the composition instead of the fused kernels.
 *
 *   bun run bench/din_profile.ts [--blas none|onednn|...] [--batch N] [--movielens] [--steps N]
 */
import { join } from "node:path"
import { Losses, type TensorBackend } from "@causald/core"
import { Batches, Sources } from "@causald/data"
import { Din, Inputs, logits } from "@causald/models"
import { blasChoices, startBackend } from "@causald/tfjs"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { choice, integer, parseFlags, present } from "./Cli.ts"
import { randomBatch, vocabulary } from "./train_step.ts"

const flags = await parseFlags(
  "bench/din_profile.ts",
  "tf.profile of DIN training steps on wasm, summed per kernel",
  {
    blas: choice("blas", blasChoices, "none", "the products' library"),
    batch: integer("batch", 4096, 1, "rows per batch"),
    history: integer("history", 50, 1, "history length L"),
    movielens: present("movielens", "the first MovieLens 100K training batch (--batch rows)"),
    steps: integer("steps", 2, 1, "profiled steps"),
    warmup: integer("warmup", 1, 0, "unprofiled warm-up steps"),
    top: integer("top", 25, 1, "rows of the (kernel, shape) table"),
  },
)

const b: TensorBackend = await Effect.runPromise(
  startBackend("wasm", { blas: flags.blas, wasmThreads: 1 }),
)
let vocab = vocabulary
let batch = randomBatch(1, flags.batch, flags.history)
if (flags.movielens) {
  const directory = join(import.meta.dir, "..", "..", "shared", "data", "ml-100k")
  const data = await Sources.loadPromise({ format: "movielens-100k", directory })
  vocab = { numUsers: data.numUsers, numItems: data.numItems }
  const first = Batches.trainingBatches(data, {
    batchSize: flags.batch,
    epochSeed: 1,
    historyLength: flags.history,
  }).next()
  if (first.done === true) throw new Error("no MovieLens batch")
  batch = first.value as Batches.TrainingBatch
}
const model = Din.make(b, vocab, {}, 0)
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
for (let i = 0; i < flags.warmup; i++) step()
const byName = new Map<string, { ms: number; calls: number }>()
const byShape = new Map<string, { ms: number; calls: number }>()
let total = 0
let wall = 0
for (let i = 0; i < flags.steps; i++) {
  const t0 = performance.now()
  const info = await tf.profile(() => {
    step()
  })
  wall += performance.now() - t0
  for (const k of info.kernels) {
    const ms = typeof k.kernelTimeMs === "number" ? k.kernelTimeMs : 0
    total += ms
    const n = byName.get(k.name) ?? { ms: 0, calls: 0 }
    byName.set(k.name, { ms: n.ms + ms, calls: n.calls + 1 })
    const key = `${k.name} ${k.inputShapes.map((s) => `[${s}]`).join(" ")} -> ${k.outputShapes.map((s) => `[${s}]`).join(" ")}`
    const s = byShape.get(key) ?? { ms: 0, calls: 0 }
    byShape.set(key, { ms: s.ms + ms, calls: s.calls + 1 })
  }
}
const per = (ms: number) => (ms / flags.steps).toFixed(1).padStart(8)
console.log(
  `${b.name}, batch ${batch.size}${flags.movielens ? " (MovieLens 100K)" : ""}, history ${batch.maxHistoryLength}; ms per step: kernels ${per(total)}, profiled wall ${per(wall)}`,
)
for (const [name, v] of [...byName].sort((x, y) => y[1].ms - x[1].ms))
  console.log(`${per(v.ms)} ms ${String(v.calls / flags.steps).padStart(5)} calls  ${name}`)
console.log("--- by kernel and shapes ---")
for (const [key, v] of [...byShape].sort((x, y) => y[1].ms - x[1].ms).slice(0, flags.top))
  console.log(`${per(v.ms)} ms ${String(v.calls / flags.steps).padStart(5)} x  ${key}`)
