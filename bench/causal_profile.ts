/**
 * Where a CausalD student step's time goes on the wasm backend, per tfjs kernel: `tf.profile` of
 * `--steps` steps (after `--warmup` unprofiled ones, which also fill the positive cache), summed
 * by kernel name and by (kernel, shapes), the largest first, beside the base step's profile.
 * The step is `Train.trainStep` with `CausalDObjective.causalD` over K frozen teachers of the
 * base model (`causal_step.ts`'s configuration: random full histories, batch 4096, S 16).
 * `CAUSALD_FUSED=off` profiles the composition instead of the fused kernels (issue 17).
 *
 *   bun run bench/causal_profile.ts [--base din|deepfm] [--blas none|onednn|...] [--batch N]
 *     [--partners S] [--steps N]
 */
import { Random } from "@causald/core"
import { DeepFm, Din, forInference, type Recommender } from "@causald/models"
import { blasChoices, startBackend } from "@causald/tfjs"
import { CausalDObjective, Objective, Train } from "@causald/training"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { choice, integer, parseFlags } from "./Cli.ts"
import { randomBatch, vocabulary } from "./train_step.ts"

const flags = await parseFlags(
  "bench/causal_profile.ts",
  "tf.profile of CausalD and base training steps on wasm, summed per kernel",
  {
    base: choice("base", ["din", "deepfm"], "deepfm", "the base recommender"),
    blas: choice("blas", blasChoices, "auto", "the products' library"),
    batch: integer("batch", 4096, 1, "rows per batch"),
    history: integer("history", 50, 1, "history length L"),
    teachers: integer("teachers", 4, 1, "K, the teachers"),
    partners: integer("partners", 16, 1, "S, the Monte-Carlo partners"),
    steps: integer("steps", 3, 1, "profiled steps"),
    warmup: integer("warmup", 2, 0, "unprofiled warm-up steps"),
    top: integer("top", 25, 1, "rows of the (kernel, shape) table"),
  },
)

const b = await Effect.runPromise(startBackend("wasm", { blas: flags.blas, wasmThreads: 1 }))
const batch = randomBatch(1, flags.batch, flags.history)
const makeModel = (seed: number): Recommender =>
  flags.base === "deepfm" ? DeepFm.make(b, vocabulary, {}, seed) : Din.make(b, vocabulary, {}, seed)
const teachers = Array.from({ length: flags.teachers }, (_, k) => forInference(makeModel(100 + k)))

const profile = async <P>(name: string, objective: Objective.Objective<P>) => {
  const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
  const rng = Random.generator(3)
  const step = () => Train.trainStep(b, objective, optimizer, batch, rng, 1)
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
  optimizer.dispose()
  const per = (ms: number) => (ms / flags.steps).toFixed(1).padStart(8)
  console.log(
    `=== ${name}: ${b.name}, base ${flags.base}, batch ${batch.size}; ms per step: kernels ${per(total)}, profiled wall ${per(wall)}`,
  )
  for (const [kernel, v] of [...byName].sort((x, y) => y[1].ms - x[1].ms).slice(0, flags.top))
    console.log(`${per(v.ms)} ms ${String(v.calls / flags.steps).padStart(6)} calls  ${kernel}`)
  console.log("--- by kernel and shapes ---")
  for (const [key, v] of [...byShape].sort((x, y) => y[1].ms - x[1].ms).slice(0, flags.top))
    console.log(`${per(v.ms)} ms ${String(v.calls / flags.steps).padStart(6)} x  ${key}`)
}

const base = makeModel(7)
await profile("base", Objective.recommendation(b, base))
const student = makeModel(7)
const causal = CausalDObjective.causalD(
  b,
  student,
  teachers,
  {
    ...CausalDObjective.defaultCausalDConfig,
    teacherPrior: new Float32Array(flags.teachers).fill(1 / flags.teachers),
    partners: { _tag: "MonteCarlo", partners: flags.partners },
  },
  1,
)
await profile("causald", causal)
causal.dispose()
