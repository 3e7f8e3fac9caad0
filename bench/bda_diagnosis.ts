/**
 * Why CausalD's feature distillation can hold a student back: the measurements behind the
 * README's "CausalD on ml-100k", read from a finished study's models (nothing is trained).
 *
 * On the first `--batches` training batches of the student's seed (the study's real-data batches:
 * 512 rows, one negative per positive), it reports:
 * - the mediators' norms ‖m‖: the student's, DIN's, each teacher's and the guidance m° (eq. 19);
 * - the student's loss terms L_Rec and L_BDA (eq. 20, Euclidean d as the paper), and the norms of
 *   their gradients over the student's parameters, λ_BDA included: which one drives training;
 * - the cosine between the student's mediator and the guidance (1: pinned to it);
 * - whether the teachers' mediator spaces are aligned: the mean cosine between two teachers'
 *   mediators of the same rows, against the same for rows in random order (unrelated vectors).
 *
 *   bun run bench/bda_diagnosis.ts --out DIR [--data DIR] [--student NAME] [--seed N]
 *     [--teachers K] [--teacher-folders PREFIX] [--lambda-bda X] [--bda-distance D] [--batches N]
 *
 * `--out` is the study's output folder (`bun run repro --dataset movielens-100k --out DIR`), with
 * `models/base/seed-N`, `models/<student>/seed-N` (default `causald`) and the activeness teachers
 * `models/teachers-activeness-K-k` (`--teacher-folders teachers-activeness-4-shared` for a study
 * run with `--teacher-init shared`). `--lambda-bda` and `--bda-distance` are what the student was
 * trained with (default 1 and euclidean). `--data` defaults to ../shared/data/ml-100k.
 */
import { join, resolve } from "node:path"
import { Checkpoint, FeatureGuidance, Losses, Random, type Tensor, Tensors } from "@causald/core"
import { Batches, Groups, Sources } from "@causald/data"
import { Din, forInference, Inputs, type Recommender } from "@causald/models"
import { startBackend } from "@causald/tfjs"
import { Train } from "@causald/training"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { CliError, Flag } from "effect/cli"
import { choice, failWith, integer, parseFlags, text } from "./Cli.ts"

const fail = failWith("bda_diagnosis.ts")
const flags = await parseFlags(
  "bench/bda_diagnosis.ts",
  "Why CausalD's feature distillation can hold a student back: mediator norms, loss terms and their gradients, and the teachers' alignment, read from a finished study's models",
  {
    out: Flag.String("out").pipe(
      Flag.withMetavar("DIR"),
      Flag.withDescription("the study's output folder (required)"),
    ),
    data: text("data", "DIR", "the ml-100k folder (default ../shared/data/ml-100k)"),
    student: Flag.String("student").pipe(
      Flag.withMetavar("NAME"),
      Flag.withDescription("the student's folder under models/ (default causald)"),
      Flag.withDefault("causald"),
    ),
    seed: integer("seed", 1, 1, "the student's seed"),
    teachers: integer("teachers", 4, 2, "K, the activeness teachers"),
    batches: integer("batches", 4, 1, "training batches measured"),
    teacherFolders: text(
      "teacher-folders",
      "PREFIX",
      "the teachers' folders models/PREFIX-k (default teachers-activeness-K)",
    ),
    bdaDistance: choice(
      "bda-distance",
      ["euclidean", "squared-euclidean", "cosine"],
      "euclidean",
      "the distance d of L_BDA the student was trained with",
    ),
    lambdaBda: Flag.Finite("lambda-bda").pipe(
      Flag.withMetavar("X"),
      Flag.withDescription("λ_BDA the student was trained with (default 1)"),
      Flag.withDefault(1),
      Flag.mapEffect((x) =>
        x >= 0
          ? Effect.succeed(x)
          : Effect.fail(
              new CliError.InvalidValue({
                option: "lambda-bda",
                value: String(x),
                expected: "a number >= 0",
                kind: "flag",
              }),
            ),
      ),
    ),
  },
)
const { out, student, seed, batches: batchCount, bdaDistance: distance, lambdaBda } = flags
const K = flags.teachers
const dataDir = flags.data ?? resolve(import.meta.dir, "..", "..", "shared", "data", "ml-100k")
const teacherFolders = flags.teacherFolders ?? `teachers-activeness-${K}`

const b = await Effect.runPromise(startBackend("wasm", { wasmThreads: 1 }))
const layer = Layer.mergeAll(NodeFileSystem.layer, Layer.succeed(Tensors, b))
const data = await Sources.loadPromise({ format: "movielens-100k", directory: dataDir }).catch(
  (e: unknown) => fail(`--data ${dataDir}: ${e instanceof Error ? e.message : e}`),
)
const split = Groups.teacherSubsets(data, "activeness", K)
const d = 8

/** A DIN holding the best parameters of `models/<folder>`. */
const load = async (folder: string): Promise<Din.DinModel> => {
  const model = Din.make(b, data, { embeddingSize: d }, 0)
  const path = join(out, "models", folder, "best.ckpt")
  await Effect.runPromise(
    Checkpoint.loadParameters(path, [...model.parameters, ...model.buffers]).pipe(
      Effect.provide(layer),
    ),
  ).catch((e: unknown) => fail(`${path}: ${e instanceof Error ? e.message : e}`))
  return model
}
const teachers = await Promise.all(
  Array.from({ length: K }, (_, k) => load(`${teacherFolders}-${k}`)),
)
const base = await load(`base/seed-${seed}`)
const trained = await load(`${student}/seed-${seed}`)

// ---- host helpers: rows of d floats ---------------------------------------------------------
const norms = (a: Float32Array): Array<number> =>
  Array.from({ length: a.length / d }, (_, i) => Math.hypot(...a.subarray(i * d, i * d + d)))
const mean = (xs: ReadonlyArray<number>): number => xs.reduce((s, x) => s + x, 0) / xs.length
/** Mean cosine of row i of `a` with row order[i] of `c`. */
const meanCosine = (a: Float32Array, c: Float32Array, order?: Int32Array): number => {
  const n = a.length / d
  let total = 0
  for (let i = 0; i < n; i++) {
    const j = order === undefined ? i : order[i]!
    let dot = 0
    let na = 0
    let nc = 0
    for (let k = 0; k < d; k++) {
      const x = a[i * d + k]!
      const y = c[j * d + k]!
      dot += x * y
      na += x * x
      nc += y * y
    }
    total += dot / Math.sqrt(na * nc + 1e-24)
  }
  return total / n
}
const gradientNorm = (grads: ReadonlyArray<Tensor>): number =>
  Math.sqrt(
    grads.reduce((s, g) => s + (b.read(g) as Float32Array).reduce((t, x) => t + x * x, 0), 0),
  )

// ---- the batches ------------------------------------------------------------------------------
const mediators = new Map<string, Array<number>>()
const collect = (name: string, values: Float32Array): void => {
  mediators.set(name, [...(mediators.get(name) ?? []), ...values])
}
const terms = { rec: [] as Array<number>, bda: [] as Array<number>, gRec: [] as Array<number> }
const gBda: Array<number> = []
const pinned: Array<number> = []
const prior = b.keep(b.tensor(Float32Array.from(split.weights), [K]))
let seen = 0
for (const batch of Batches.trainingBatches(data, {
  batchSize: 512,
  negatives: 1,
  epochSeed: Train.epochSeed(seed, 1),
})) {
  if (seen++ === batchCount) break
  b.tidy(() => {
    const inputs = Inputs.toInputs(b, batch)
    const labels = b.tensor(batch.label, [batch.size])
    const encode = (m: Recommender) => forInference(m).encode(inputs)
    const teacherMediators = teachers.map(encode)
    for (const [k, m] of teacherMediators.entries())
      collect(`teacher ${k}`, b.read(m) as Float32Array)
    const guidance = FeatureGuidance.backdoorGuidance(
      b,
      b.concat(
        teacherMediators.map((m) => b.expandDims(m, 0)),
        0,
      ),
      prior,
    )
    collect("guidance m°", b.read(guidance) as Float32Array)
    collect("DIN", b.read(encode(base)) as Float32Array)
    const own = encode(trained)
    collect(student, b.read(own) as Float32Array)
    pinned.push(meanCosine(b.read(own) as Float32Array, b.read(guidance) as Float32Array))
    // the student's terms as it trains (its own mode), and their gradients
    const rec = () =>
      Losses.binaryCrossEntropy(b, trained.predict(trained.encode(inputs), inputs), labels)
    const bda = () =>
      FeatureGuidance.featureDistillationLoss(b, trained.encode(inputs), guidance, distance)
    const r = b.valueAndGrads(rec, trained.parameters)
    const f = b.valueAndGrads(() => b.mul(bda(), b.scalar(lambdaBda)), trained.parameters)
    terms.rec.push(b.read(r.value)[0]!)
    terms.bda.push(b.read(f.value)[0]! / (lambdaBda || 1))
    terms.gRec.push(gradientNorm(r.grads))
    gBda.push(gradientNorm(f.grads))
  })
}

// ---- report -----------------------------------------------------------------------------------
const f3 = (x: number) => x.toFixed(3)
console.log(
  `${data.name}, ${student} seed ${seed} (λ_BDA ${lambdaBda}, ${distance}), ${K} activeness teachers, ${Math.min(seen, batchCount)} batches of 512 rows`,
)
console.log("\nmediator norms ‖m‖ (mean)")
for (const [name, values] of mediators)
  console.log(`  ${name.padEnd(14)} ${f3(mean(norms(Float32Array.from(values))))}`)
const rec = mean(terms.rec)
const bda = mean(terms.bda)
console.log(
  `\n${student}: L_Rec ${f3(rec)}, L_BDA ${f3(bda)}; λ_BDA·L_BDA is ${((100 * lambdaBda * bda) / (rec + lambdaBda * bda)).toFixed(1)}% of L_Rec + λ_BDA·L_BDA`,
)
console.log(
  `  gradient norms: ‖∇L_Rec‖ ${f3(mean(terms.gRec))}, ‖∇λ_BDA·L_BDA‖ ${f3(mean(gBda))} (ratio ${(mean(gBda) / mean(terms.gRec)).toFixed(1)})`,
)
console.log(`  cosine(student's mediator, guidance) ${f3(mean(pinned))}`)
console.log("\nteachers' mediator spaces: mean cosine for the same rows (rows in random order)")
const rows = (mediators.get("teacher 0") ?? []).length / d
const shuffled = Int32Array.from({ length: rows }, (_, i) => i)
Random.shuffle(Random.generator(5), shuffled)
for (let k = 0; k < K; k++)
  for (let l = k + 1; l < K; l++) {
    const a = Float32Array.from(mediators.get(`teacher ${k}`)!)
    const c = Float32Array.from(mediators.get(`teacher ${l}`)!)
    console.log(
      `  teacher ${k} vs ${l}: ${f3(meanCosine(a, c))} (${f3(meanCosine(a, c, shuffled))})`,
    )
  }
b.dispose(prior)
