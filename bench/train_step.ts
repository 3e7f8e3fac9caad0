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
 * JSON line.
 *
 *   bun run bench/train_step.ts [--backend wasm|cpu] [--models din,deepfm] [--steps N]
 *     [--warmup N] [--batch N] [--history N] [--din-form fast|naive]
 *     [--din-activation sigmoid|dice]
 */
import { Losses, Random, type TensorBackend } from "@causald/core"
import { DeepFm, Din, Inputs, logits, type Recommender } from "@causald/models"
import { startBackend } from "@causald/tfjs"
import { Effect } from "effect"

const NUM_ITEMS = 3_700
const NUM_USERS = 6_000

const fail = (message: string): never => {
  console.error(`bench/train_step.ts: ${message}`)
  process.exit(2)
}

const option = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  if (i < 0) return undefined
  const value = process.argv[i + 1]
  if (value === undefined || value.startsWith("--")) fail(`${name} expects a value`)
  return value
}

const integer = (name: string, fallback: number, min: number): number => {
  const raw = option(name)
  if (raw === undefined) return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value < min)
    fail(`${name} expects an integer >= ${min}, got ${raw}`)
  return value
}

const choice = <A extends string>(name: string, allowed: ReadonlyArray<A>, fallback: A): A => {
  const raw = option(name) ?? fallback
  if (!(allowed as ReadonlyArray<string>).includes(raw))
    fail(`${name} expects one of ${allowed.join(", ")}, got ${raw}`)
  return raw as A
}

const backendName = choice("--backend", ["wasm", "cpu"] as const, "wasm")
const dinForm = choice("--din-form", ["fast", "naive"] as const, "fast")
const dinActivation = choice("--din-activation", ["sigmoid", "dice"] as const, "sigmoid")
const steps = integer("--steps", 5, 1)
const warmup = integer("--warmup", 2, 0)
const batchSize = integer("--batch", 4096, 1)
const historyLength = integer("--history", 50, 1)
const models = (option("--models") ?? "din,deepfm").split(",")
for (const m of models) if (m !== "din" && m !== "deepfm") fail(`--models: unknown model ${m}`)

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** A random batch: full histories of random items, random users, targets and labels. */
const randomBatch = (seed: number) => {
  const rng = Random.generator(seed)
  const user = new Int32Array(batchSize)
  const item = new Int32Array(batchSize)
  const history = new Int32Array(batchSize * historyLength)
  const label = new Float32Array(batchSize)
  for (let r = 0; r < batchSize; r++) {
    user[r] = Random.integer(rng, 0, NUM_USERS - 1)
    item[r] = Random.integer(rng, 1, NUM_ITEMS)
    label[r] = Random.float(rng) < 0.5 ? 1 : 0
  }
  for (let i = 0; i < history.length; i++) history[i] = Random.integer(rng, 1, NUM_ITEMS)
  const lengths = new Int32Array(batchSize).fill(historyLength)
  return { user, item, history, historyLength: lengths, label }
}

interface Result {
  readonly model: string
  readonly backend: string
  readonly batch: number
  readonly history: number
  readonly msPerStep: number
  readonly forwardMs: number
  readonly samplesPerSecond: number
}

const measure = (b: TensorBackend, name: string, model: Recommender): Result => {
  const batch = randomBatch(1)
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
  const time = (f: () => number): number => {
    for (let i = 0; i < warmup; i++) f()
    const ms: Array<number> = []
    for (let i = 0; i < steps; i++) {
      const t0 = performance.now()
      const loss = f()
      ms.push(performance.now() - t0)
      if (!Number.isFinite(loss)) fail(`${name}: non-finite loss ${loss}`)
    }
    return median(ms)
  }
  const msPerStep = time(step)
  // The optimiser's slots exist from the first step on: from then on nothing may accumulate.
  const live = b.liveTensors()
  const forwardMs = time(forward)
  step()
  if (b.liveTensors() !== live) fail(`${name}: tensors leaked (${live} -> ${b.liveTensors()})`)
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

const b = await Effect.runPromise(startBackend(backendName))
const vocabulary = { numUsers: NUM_USERS, numItems: NUM_ITEMS }
const results: Array<Result> = []
for (const m of models) {
  if (m === "din") {
    const din = Din.make(b, vocabulary, { attentionActivation: dinActivation }, 0)
    const model: Recommender =
      dinForm === "fast"
        ? din
        : { ...din, encode: (inputs) => Din.encode(b, din, inputs, "train", "naive") }
    const name = `din${dinForm === "naive" ? "-naive" : ""}${dinActivation === "dice" ? "-dice" : ""}`
    results.push(measure(b, name, model))
    b.dispose([...din.parameters, ...din.buffers])
  } else {
    const deepFm = DeepFm.make(b, vocabulary, {}, 0)
    results.push(measure(b, "deepfm", deepFm))
    b.dispose(deepFm.parameters)
  }
}

console.log(
  `backend ${backendName}, batch ${batchSize}, history ${historyLength}, ${warmup} warm-up + ${steps} timed steps (median)`,
)
console.log("model       ms/step   forward ms   samples/s")
for (const r of results)
  console.log(
    `${r.model.padEnd(10)} ${r.msPerStep.toFixed(1).padStart(8)} ${r.forwardMs.toFixed(1).padStart(12)} ${String(r.samplesPerSecond).padStart(11)}`,
  )
console.log(JSON.stringify({ bench: "train_step", results }))
