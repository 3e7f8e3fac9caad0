/**
 * A/B of the wasm kernels of `packages/tfjs/src/kernels` (GatherV2, Slice, Concat and Tile as run
 * copies in one heap view, a copy-free Identity, Sum over leading axes, a tiled Transpose, and
 * `BlockedReduction`: long x^T y products as sums over row blocks, `MatMul.ts`) against the stock
 * tfjs-backend-wasm 4.22 kernels they replace, on whole training steps: the kernels are swapped
 * in the registry between steps and the two variants are timed interleaved (stock, new, stock, new, ...), so a background load
 * shifts both alike. Medians after the warm-up rounds.
 *
 * `--step eval` times `Evaluate.scoreSplit` of every ml-100k user (1 + 100 candidates) instead.
 *
 *   bun run bench/wasm_kernels.ts
 *     [--kernels GatherV2,Identity,Sum,Slice,Concat,Transpose,Tile,BlockedReduction]
 *     [--step din|deepfm|causald|eval] [--rounds N] [--warmup N]
 */
import { Random } from "@causald/core"
import { DeepFm, Din, forInference } from "@causald/models"
import { startBackend } from "@causald/tfjs"
import { CausalDObjective, Evaluate, Objective, Train } from "@causald/training"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { productOptions } from "../packages/tfjs/src/kernels/MatMul.ts"
import { stockKernel } from "../packages/tfjs/src/kernels/Stock.ts"
import { choice, failWith, integer, list, parseFlags } from "./Cli.ts"
import { defaultMovieLensDirectory, loadMovieLens100k, movieLensMissing } from "./evaluation.ts"
import { median, randomBatch, vocabulary } from "./train_step.ts"

const fail = failWith("wasm_kernels.ts")
const accepted = [
  "GatherV2",
  "Identity",
  "Sum",
  "Slice",
  "Concat",
  "Transpose",
  "Tile",
  "BlockedReduction",
]
const {
  kernels: names,
  step: stepName,
  rounds,
  warmup,
} = await parseFlags(
  "bench/wasm_kernels.ts",
  "A/B of the wasm kernels of packages/tfjs/src/kernels against the stock tfjs-backend-wasm kernels they replace, on whole training steps timed interleaved",
  {
    kernels: list("kernels", accepted, "the kernels swapped"),
    step: choice("step", ["din", "deepfm", "causald", "eval"], "din", "the step timed"),
    rounds: integer("rounds", 7, 1, "timed rounds of both variants"),
    warmup: integer("warmup", 2, 0, "untimed warm-up rounds"),
  },
)

const b = await Effect.runPromise(startBackend("wasm"))
const kernelNames = names.filter((n) => n !== "BlockedReduction")
const ours = new Map(kernelNames.map((n) => [n, tf.getKernel(n, "wasm")!]))
const install = (stock: boolean): void => {
  if (names.includes("BlockedReduction")) productOptions.blockLongReductions = !stock
  for (const n of kernelNames) {
    tf.unregisterKernel(n, "wasm")
    tf.registerKernel(
      stock
        ? { kernelName: n, backendName: "wasm", kernelFunc: stockKernel(n, "wasm") }
        : ours.get(n)!,
    )
  }
}

const student =
  stepName === "deepfm" ? DeepFm.make(b, vocabulary, {}, 0) : Din.make(b, vocabulary, {}, 0)
const batch = randomBatch(1, 4096, 50)
const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
const rng = Random.generator(1)
let step: () => number
if (stepName === "eval") {
  const missing = movieLensMissing(defaultMovieLensDirectory)
  if (missing !== null) fail(`--step eval: ${missing}`)
  const data = await loadMovieLens100k(defaultMovieLensDirectory)
  const model = Din.make(b, data, {}, 0)
  step = () => Evaluate.scoreSplit(b, model, data, "test")[0]!
} else if (stepName === "causald") {
  const teachers = [1, 2, 3, 4].map((k) => forInference(Din.make(b, vocabulary, {}, k)))
  const objective = CausalDObjective.causalD(
    b,
    student,
    teachers,
    { ...CausalDObjective.defaultCausalDConfig, teacherPrior: new Float32Array(4).fill(0.25) },
    1,
  )
  step = () => Train.trainStep(b, objective, optimizer, batch, rng, 1)
} else {
  const objective = Objective.recommendation(b, student)
  step = () => Train.trainStep(b, objective, optimizer, batch, rng, 1)
}

const ms = { stock: [] as Array<number>, new: [] as Array<number> }
for (let i = 0; i < warmup + rounds; i++)
  for (const variant of ["stock", "new"] as const) {
    install(variant === "stock")
    const t0 = performance.now()
    step()
    if (i >= warmup) ms[variant].push(performance.now() - t0)
  }
install(false)
const stock = median(ms.stock)
const fresh = median(ms.new)
console.log(
  `${stepName} step, kernels ${names.join(",")}: stock ${stock.toFixed(1)} ms, new ${fresh.toFixed(1)} ms, ${(stock / fresh).toFixed(2)}x (median of ${rounds}, interleaved)`,
)
console.log(
  JSON.stringify({
    bench: "wasm_kernels",
    step: stepName,
    kernels: names,
    stockMs: stock,
    newMs: fresh,
    speedup: stock / fresh,
  }),
)
