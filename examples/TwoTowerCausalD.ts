/**
 * Worked example: CausalD's front-door causal label on a recommender that is not in this
 * repository, a tiny two-tower model written here against the tensor interface.
 *
 * - The model: the user tower is the encoder φ (section 3.2): it averages the embeddings of the
 *   user's history x and applies a dense layer with tanh, giving the mediator feature m. The item
 *   tower is an embedding lookup y. The predictor ψ* (eq. 15) is the dot product <m, y>.
 * - The teachers: K copies of the model, each trained on one activeness group of users (a
 *   non-IID split, section 3.3.1). Their encoders give the K mediator samples m̃_{k,i} (eq. 9).
 * - The feature guidance m̃°_i = Σ_k P(z_k) m̃_{k,i} (eq. 19), with P(z_k) proportional to the
 *   users of group k, is both the target of L_BDA (eq. 20) and the partners' feature m̃_j of the
 *   causal label (eq. 13-14).
 * - The causal label õ_i (eq. 14) with Monte-Carlo partners, checked against the exact in-batch
 *   average; the student's L_CausalD (eq. 22) and the routing of eq. 16: the consistency term
 *   trains only W1, W2 and ψ_FDA, the distillation term only the student.
 *
 * The program needs only the `Tensors` service, so it runs on any backend; {@link main} runs it on
 * TensorFlow.js's cpu backend. The click log is synthetic (a hidden "conformity" confounder
 * pushes some users towards popular items in both their history and their next click), tiny, and
 * seeded, so the example runs in about a second.
 *
 * Run it: `bun examples/TwoTowerCausalD.ts`.
 *
 * @module
 */
import {
  CausalLabel,
  FeatureGuidance,
  Losses,
  type Parameter,
  Random,
  type Tensor,
  type TensorBackend,
  Tensors,
} from "@causald/core"
import { layer } from "@causald/tfjs"
import { Effect, Result } from "effect"

// --- a synthetic click log --------------------------------------------------------------------

/** Interactions of users with items; `rows*` are the training samples (x_i, y_i, o_i). */
export interface ClickLog {
  readonly users: number
  readonly items: number
  /** L: items in each user's history. */
  readonly historyLength: number
  /** int32 [users, L]: each user's history x. */
  readonly history: Int32Array
  /** The observed confounder Z: each user's activeness group, 0..groups-1. */
  readonly group: Int32Array
  readonly groups: number
  readonly rowUser: Int32Array
  readonly rowItem: Int32Array
  /** o_i: 1 for an interaction, 0 otherwise. */
  readonly rowLabel: Float32Array
}

/** Users per activeness group (inactive, normal, active) and training rows per user of each. */
const GROUP_USERS = [24, 16, 8] as const
const ROWS_PER_USER = [3, 6, 12] as const
const TASTE_SIZE = 4

/** A seeded synthetic log: tastes and traits are normal; the first quarter of items is popular. */
export const makeClickLog = (seed: number, items = 40, historyLength = 6): ClickLog => {
  const rng = Random.rng(seed, "click-log")
  const users = GROUP_USERS.reduce((a, b) => a + b, 0)
  const taste = Random.normalArray(rng, users * TASTE_SIZE, 1)
  const trait = Random.normalArray(rng, items * TASTE_SIZE, 1)
  const popular = (j: number) => (j < items / 4 ? 1 : 0)
  // The hidden confounder U: conformity. Never given to any model.
  const conformity = Int32Array.from({ length: users }, () => (Random.float(rng) < 0.5 ? 1 : 0))
  const affinity = (u: number, j: number): number => {
    let s = 0
    for (let f = 0; f < TASTE_SIZE; f++)
      s += taste[u * TASTE_SIZE + f]! * trait[j * TASTE_SIZE + f]!
    return s + 2 * conformity[u]! * popular(j)
  }
  const group = new Int32Array(users)
  for (let u = 0, g = 0, seen = 0; u < users; u++) {
    if (u - seen >= GROUP_USERS[g]!) {
      seen += GROUP_USERS[g]!
      g++
    }
    group[u] = g
  }
  // U -> X: the history leans towards popular items for conformist users.
  const history = new Int32Array(users * historyLength)
  const weights = new Float64Array(items)
  for (let u = 0; u < users; u++) {
    let total = 0
    for (let j = 0; j < items; j++) total += weights[j] = Math.exp(affinity(u, j))
    for (let l = 0; l < historyLength; l++)
      history[u * historyLength + l] = Random.categorical(rng, weights, items, total)
  }
  // U -> Y: so does the next click.
  const rowUser: Array<number> = []
  const rowItem: Array<number> = []
  const rowLabel: Array<number> = []
  for (let u = 0; u < users; u++)
    for (let r = 0; r < ROWS_PER_USER[group[u]!]!; r++) {
      const j = Random.int(rng, items)
      rowUser.push(u)
      rowItem.push(j)
      rowLabel.push(Random.float(rng) < 1 / (1 + Math.exp(-(2 * affinity(u, j) - 1))) ? 1 : 0)
    }
  return {
    users,
    items,
    historyLength,
    history,
    group,
    groups: GROUP_USERS.length,
    rowUser: Int32Array.from(rowUser),
    rowItem: Int32Array.from(rowItem),
    rowLabel: Float32Array.from(rowLabel),
  }
}

/** A batch of rows as tensors: histories x [B, L], target items y [B], labels o [B]. */
export interface Batch {
  readonly size: number
  readonly history: Tensor
  readonly items: Tensor
  readonly labels: Tensor
}

/** The rows `rows` of the log as tensors (owned by the caller's scope). */
export const batchOf = (backend: TensorBackend, log: ClickLog, rows: Int32Array): Batch => {
  const L = log.historyLength
  const history = new Int32Array(rows.length * L)
  rows.forEach((r, i) => {
    history.set(log.history.subarray(log.rowUser[r]! * L, (log.rowUser[r]! + 1) * L), i * L)
  })
  return {
    size: rows.length,
    history: backend.tensor(history, [rows.length, L], "int32"),
    items: backend.tensor(
      Int32Array.from(rows, (r) => log.rowItem[r]!),
      [rows.length],
      "int32",
    ),
    labels: backend.tensor(
      Float32Array.from(rows, (r) => log.rowLabel[r]!),
      [rows.length],
    ),
  }
}

// --- the recommender: a two-tower model on the tensor interface -------------------------------

/** Parameters of the two-tower model. */
export interface TwoTower {
  /** Item embeddings E [items, d]: the item tower, and the input of the user tower. */
  readonly itemEmbedding: Parameter
  /** The user tower's dense layer W [d, d] and bias b [d]. */
  readonly userKernel: Parameter
  readonly userBias: Parameter
  readonly parameters: ReadonlyArray<Parameter>
}

/** A model named `name` with N(0, 0.1²) embeddings and a Glorot-uniform dense layer. */
export const makeTwoTower = (
  backend: TensorBackend,
  name: string,
  items: number,
  size: number,
  rng: Random.RandomGenerator,
): TwoTower => {
  const itemEmbedding = backend.parameter(
    `${name}/items`,
    Random.normalArray(rng, items * size, 0.1),
    [items, size],
  )
  const userKernel = backend.parameter(
    `${name}/user/kernel`,
    Random.glorotUniform(rng, size, size),
    [size, size],
  )
  const userBias = backend.parameter(`${name}/user/bias`, new Float32Array(size), [size])
  return { itemEmbedding, userKernel, userBias, parameters: [itemEmbedding, userKernel, userBias] }
}

/** The encoder φ: m = tanh(mean_l E[x_l] W + b), [B, L] -> [B, d]: the mediator feature. */
export const encode = (backend: TensorBackend, model: TwoTower, history: Tensor): Tensor =>
  backend.tanh(
    backend.add(
      backend.matmul(
        backend.mean(backend.gather(model.itemEmbedding.value, history), 1),
        model.userKernel.value,
      ),
      model.userBias.value,
    ),
  )

/** The item tower: y = E[item], [B] -> [B, d]. */
export const embedItems = (backend: TensorBackend, model: TwoTower, items: Tensor): Tensor =>
  backend.gather(model.itemEmbedding.value, items)

/** The predictor ψ* (eq. 15): the logit ô = <m, y>, [B]. */
export const predict = (backend: TensorBackend, mediator: Tensor, itemVectors: Tensor): Tensor =>
  backend.sum(backend.mul(mediator, itemVectors), -1)

const maxAbs = (backend: TensorBackend, xs: ReadonlyArray<Tensor>): number => {
  let worst = 0
  for (const x of xs) for (const v of backend.read(x)) worst = Math.max(worst, Math.abs(v))
  return worst
}

const scalar = (backend: TensorBackend, x: Tensor): number => backend.read(x)[0]!

// --- the example --------------------------------------------------------------------------------

/** Options of {@link program}. */
export interface TwoTowerOptions {
  readonly seed?: number
  /** d: width of the mediator and item features. */
  readonly size?: number
  /** Full-batch Adam steps of each teacher on its group. */
  readonly teacherSteps?: number
  /** B: rows per student batch. */
  readonly batchSize?: number
  /** S: Monte-Carlo partners x_j per row (eq. 14). */
  readonly partners?: number
  /** Student steps on L_CausalD after the first one. */
  readonly studentSteps?: number
}

/** What the example computes. */
export interface TwoTowerReport {
  readonly backend: string
  /** Per teacher: its group's users and training rows, and its BCE before and after training. */
  readonly teachers: ReadonlyArray<{
    readonly users: number
    readonly rows: number
    readonly lossBefore: number
    readonly lossAfter: number
  }>
  /** P(z_k) of eq. (19). */
  readonly prior: ReadonlyArray<number>
  /** õ on the first batch, with S Monte-Carlo partners and with every in-batch partner. */
  readonly causalLabel: {
    readonly monteCarlo: Float32Array
    readonly exact: Float32Array
    /** Mean |õ_MC - õ_exact| with S partners, and with 64·B partners (unbiasedness). */
    readonly meanAbsError: number
    readonly meanAbsErrorManyPartners: number
  }
  /** Largest |gradient| of each L_FDA term on each parameter set (eq. 16 routing). */
  readonly routing: {
    readonly consistencyOnStudent: number
    readonly consistencyOnEstimator: number
    readonly distillationOnStudent: number
    readonly distillationOnEstimator: number
  }
  /** L_CausalD and its terms on the first batch (same partners) before and after one step. */
  readonly firstStep: {
    readonly before: {
      readonly total: number
      readonly recommendation: number
      readonly backdoor: number
      readonly frontDoor: number
    }
    readonly after: number
  }
  /** L_CausalD of every later step (fresh batches and partners). */
  readonly losses: ReadonlyArray<number>
  /** Tensors alive after everything was disposed, minus those alive before: 0 unless a leak. */
  readonly leakedTensors: number
}

/** The whole example as an Effect program over the `Tensors` service. */
export const program = (
  options: TwoTowerOptions = {},
): Effect.Effect<TwoTowerReport, never, Tensors> =>
  Effect.gen(function* () {
    const backend = yield* Tensors
    const seed = options.seed ?? 2024
    const size = options.size ?? 8
    const batchSize = options.batchSize ?? 32
    const partnerCount = options.partners ?? 16
    const liveAtStart = backend.liveTensors()
    const report = yield* Effect.scoped(
      Effect.gen(function* () {
        const log = makeClickLog(seed)
        const rows = log.rowUser.length

        // Every parameter set is a scoped resource: freed when the example ends, however it ends.
        const owned = <A extends { readonly parameters: ReadonlyArray<Parameter> }>(
          make: () => A,
        ) =>
          Effect.acquireRelease(Effect.sync(make), (m) =>
            Effect.sync(() => backend.dispose(m.parameters)),
          )

        // 1. K teachers: copies of the model, each trained on one activeness group (eq. 9).
        const teachers: Array<TwoTower> = []
        const teacherReports: Array<TwoTowerReport["teachers"][number]> = []
        for (let k = 0; k < log.groups; k++) {
          const teacher = yield* owned(() =>
            makeTwoTower(backend, `teacher-${k}`, log.items, size, Random.derive(seed, k)),
          )
          const groupRows = Int32Array.from({ length: rows }, (_, r) => r).filter(
            (r) => log.group[log.rowUser[r]!] === k,
          )
          const groupLoss = () =>
            backend.tidy(() => {
              const b = batchOf(backend, log, groupRows)
              const logits = predict(
                backend,
                encode(backend, teacher, b.history),
                embedItems(backend, teacher, b.items),
              )
              return scalar(backend, Losses.binaryCrossEntropy(backend, logits, b.labels))
            })
          const lossBefore = groupLoss()
          const optimizer = backend.optimizer({ _tag: "Adam", learningRate: 0.05 })
          for (let step = 0; step < (options.teacherSteps ?? 60); step++)
            backend.tidy(() => {
              const b = batchOf(backend, log, groupRows)
              const { grads } = backend.valueAndGrads(
                () =>
                  Losses.binaryCrossEntropy(
                    backend,
                    predict(
                      backend,
                      encode(backend, teacher, b.history),
                      embedItems(backend, teacher, b.items),
                    ),
                    b.labels,
                  ),
                teacher.parameters,
              )
              optimizer.apply(teacher.parameters, grads)
            })
          optimizer.dispose()
          teachers.push(teacher)
          teacherReports.push({
            users: log.group.filter((g) => g === k).length,
            rows: groupRows.length,
            lossBefore,
            lossAfter: groupLoss(),
          })
        }

        // 2. The prior P(z_k) of eq. (19): proportional to the users of teacher k's group.
        // every group has users here (the log is drawn so), so the prior always exists
        const prior = Result.getOrThrow(
          FeatureGuidance.teacherPrior(teacherReports.map((t) => t.users)),
        )
        const priorTensor = yield* Effect.acquireRelease(
          Effect.sync(() => backend.keep(backend.tensor(prior, [prior.length]))),
          (t) => Effect.sync(() => backend.dispose(t)),
        )

        // 3. The student (same architecture, fresh) and the estimator's W1, W2, ψ_FDA (eq. 10-13).
        const student = yield* owned(() =>
          makeTwoTower(backend, "student", log.items, size, Random.rng(seed, "student")),
        )
        const estimator = yield* owned(() =>
          CausalLabel.make(
            backend,
            { mediatorSize: size, itemSize: size, hidden: [16] },
            Random.rng(seed, "estimator"),
          ),
        )
        const trained = [...student.parameters, ...estimator.parameters]
        const optimizer = yield* Effect.acquireRelease(
          Effect.sync(() => backend.optimizer({ _tag: "Adam", learningRate: 0.01 })),
          (o) => Effect.sync(() => o.dispose()),
        )
        const batchRng = Random.rng(seed, "batches")
        const partnerRng = Random.rng(seed, "partners")
        const drawRows = () =>
          Int32Array.from({ length: batchSize }, () => Random.int(batchRng, rows))

        /** The frozen teachers' outputs for a batch: constants of the student's loss. */
        const teacherOutputs = (batch: Batch) => {
          const mediators = backend.concat(
            teachers.map((t) => backend.expandDims(encode(backend, t, batch.history), 0)),
            0,
          ) // m̃_{k,i}: [K, B, d] (eq. 9)
          // m̃°_i (eq. 19): the L_BDA target (eq. 20) and the partner feature m̃_j (eq. 13-14).
          const guidance = FeatureGuidance.backdoorGuidance(backend, mediators, priorTensor)
          return { mediators, guidance }
        }

        /** L_CausalD (eq. 22) of a batch, with its terms. */
        const objective = (
          batch: Batch,
          teacher: ReturnType<typeof teacherOutputs>,
          partners: Tensor,
        ) => {
          const mediator = encode(backend, student, batch.history) // m̂_i = φ*(x_i)
          const itemVectors = embedItems(backend, student, batch.items) // y_i
          const logits = predict(backend, mediator, itemVectors) // ô_i (eq. 15)
          const causalLabel = CausalLabel.estimate(
            backend,
            estimator,
            {
              teacherMediators: teacher.mediators,
              studentMediator: mediator,
              partnerMediators: teacher.guidance,
              items: itemVectors,
            },
            partners,
          ) // õ_i (eq. 14)
          const fda = Losses.frontDoor(backend, causalLabel, logits, batch.labels) // eq. 16
          const terms = {
            recommendation: Losses.binaryCrossEntropy(backend, logits, batch.labels),
            backdoor: FeatureGuidance.featureDistillationLoss(backend, mediator, teacher.guidance),
            frontDoor: fda.total,
          }
          const total = Losses.causalD(backend, terms, { backdoor: 1, frontDoor: 1 })
          return { total, terms, fda }
        }

        /** One training step: gradients of L_CausalD over the student and the estimator. */
        const trainStep = (batch: Batch, partners: Tensor): number =>
          backend.tidy(() => {
            const teacher = teacherOutputs(batch)
            const { value, grads } = backend.valueAndGrads(
              () => objective(batch, teacher, partners).total,
              trained,
            )
            optimizer.apply(trained, grads)
            return scalar(backend, value)
          })

        // 4. On a first batch: the causal label, the routing of eq. 16 and one training step.
        const first = backend.tidy(() => {
          const batch = batchOf(backend, log, drawRows())
          const teacher = teacherOutputs(batch)
          const partnersOf = (ids: Int32Array, s: number) =>
            backend.tensor(ids, [batchSize, s], "int32")
          const partners = partnersOf(
            CausalLabel.sampledPartners(partnerRng, batchSize, partnerCount),
            partnerCount,
          )
          const label = (p: Tensor) =>
            backend.read(
              CausalLabel.estimate(
                backend,
                estimator,
                {
                  teacherMediators: teacher.mediators,
                  studentMediator: encode(backend, student, batch.history),
                  partnerMediators: teacher.guidance,
                  items: embedItems(backend, student, batch.items),
                },
                p,
              ),
            ) as Float32Array
          const exact = label(partnersOf(CausalLabel.allPartners(batchSize), batchSize))
          const monteCarlo = label(partners)
          const many = 64 * batchSize
          const manyPartners = label(
            partnersOf(CausalLabel.sampledPartners(partnerRng, batchSize, many), many),
          )
          const meanAbs = (a: Float32Array) =>
            a.reduce((s, v, i) => s + Math.abs(v - exact[i]!), 0) / a.length

          const gradientsOf = (term: "consistency" | "distillation") =>
            backend.valueAndGrads(() => objective(batch, teacher, partners).fda[term], trained)
              .grads
          const onStudent = (g: ReadonlyArray<Tensor>) =>
            maxAbs(backend, g.slice(0, student.parameters.length))
          const onEstimator = (g: ReadonlyArray<Tensor>) =>
            maxAbs(backend, g.slice(student.parameters.length))
          const consistency = gradientsOf("consistency")
          const distillation = gradientsOf("distillation")

          const before = objective(batch, teacher, partners)
          const beforeValues = {
            total: scalar(backend, before.total),
            recommendation: scalar(backend, before.terms.recommendation),
            backdoor: scalar(backend, before.terms.backdoor),
            frontDoor: scalar(backend, before.terms.frontDoor),
          }
          trainStep(batch, partners)
          const after = scalar(backend, objective(batch, teacher, partners).total)
          return {
            causalLabel: {
              monteCarlo,
              exact,
              meanAbsError: meanAbs(monteCarlo),
              meanAbsErrorManyPartners: meanAbs(manyPartners),
            },
            routing: {
              consistencyOnStudent: onStudent(consistency),
              consistencyOnEstimator: onEstimator(consistency),
              distillationOnStudent: onStudent(distillation),
              distillationOnEstimator: onEstimator(distillation),
            },
            firstStep: { before: beforeValues, after },
          }
        })

        // 5. A few more steps on fresh batches and fresh Monte-Carlo partners.
        const losses: Array<number> = []
        for (let step = 0; step < (options.studentSteps ?? 20); step++)
          losses.push(
            backend.tidy(() =>
              trainStep(
                batchOf(backend, log, drawRows()),
                backend.tensor(
                  CausalLabel.sampledPartners(partnerRng, batchSize, partnerCount),
                  [batchSize, partnerCount],
                  "int32",
                ),
              ),
            ),
          )

        return {
          backend: backend.name,
          teachers: teacherReports,
          prior: Array.from(prior),
          ...first,
          losses,
        }
      }),
    )
    // The scope has closed: every parameter, optimiser slot and kept tensor is freed.
    return { ...report, leakedTensors: backend.liveTensors() - liveAtStart }
  })

/** Runs {@link program} on TensorFlow.js's cpu backend. */
export const main = (options: TwoTowerOptions = {}): Promise<TwoTowerReport> =>
  Effect.runPromise(program(options).pipe(Effect.provide(layer("cpu"))))

if (import.meta.main) {
  const r = await main()
  const f = (x: number) => x.toFixed(4)
  console.log(`backend: ${r.backend}`)
  r.teachers.forEach((t, k) => {
    console.log(
      `teacher ${k}: ${t.users} users, ${t.rows} rows, BCE ${f(t.lossBefore)} -> ${f(t.lossAfter)}`,
    )
  })
  console.log(`P(z_k): ${r.prior.map(f).join(", ")}`)
  console.log(
    `causal label õ, first rows: ${Array.from(r.causalLabel.monteCarlo.slice(0, 5), f).join(", ")}`,
  )
  console.log(
    `|õ_MC - õ_exact|: ${f(r.causalLabel.meanAbsError)} with 16 partners, ${f(r.causalLabel.meanAbsErrorManyPartners)} with many`,
  )
  console.log(
    `routing: consistency -> student ${r.routing.consistencyOnStudent}, -> estimator ${f(r.routing.consistencyOnEstimator)}; distillation -> student ${f(r.routing.distillationOnStudent)}, -> estimator ${r.routing.distillationOnEstimator}`,
  )
  const b = r.firstStep.before
  console.log(
    `L_CausalD ${f(b.total)} = L_Rec ${f(b.recommendation)} + L_BDA ${f(b.backdoor)} + L_FDA ${f(b.frontDoor)}; after one step ${f(r.firstStep.after)}`,
  )
  console.log(`later steps: ${r.losses.map(f).join(" ")}`)
  console.log(`leaked tensors: ${r.leakedTensors}`)
}
