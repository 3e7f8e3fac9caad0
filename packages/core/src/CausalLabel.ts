/**
 * CausalD's front-door estimate of P(Y | do(X)) with heterogeneous teachers: the causal label
 * õ_i of section 3.3.2, eq. (9)-(14).
 *
 * Front-door adjustment (eq. 5) is an expectation over P(m | x_i) and the prior P(x):
 *   õ_i = Σ_k α_{k,i} · (1 / N_b) Σ_j σ(ψ_FDA([m̃_j, m̃_{k,i}, y_i]))            (14)
 * - m̃_{k,i} = φ_k(x_i): the K teachers' encoders give K samples of the mediator (eq. 9);
 * - α_{k,i} = softmax_k((W1 m̃_{k,i}) · (W2 m̂_i)) models P(M = m_{k,i} | X = x_i) (eq. 10),
 *   attending from the student's mediator m̂_i = φ*(x_i) to the teachers';
 * - the partners x_j of the batch stand in for the prior over X, each with weight 1 / N_b
 *   (uniform, since samples enter the batch at random), represented by their mediator feature
 *   m̃_j: the teachers' mean (eq. 12) or the back-door-adjusted m̃°_j (eq. 19, see FeatureGuidance);
 * - ψ_FDA is a small MLP, followed by σ, that models P(Y | M, X) (eq. 11-13).
 *
 * Two estimators of the inner average over j: the exact one over all N_b partners (eq. 14 as
 * printed, j = i included; memory O(N_b² K h)), and an unbiased Monte-Carlo one over S partners
 * drawn uniformly with replacement per row (memory O(N_b S K h)), for the paper's batch of 4096.
 *
 * Both avoid materialising [m̃_j, m̃_{k,i}, y_i]: ψ_FDA's first layer is linear, so it is applied
 * to each block once (N_b + K N_b + N_b rows) and the blocks are added with broadcasting. With
 * one hidden ReLU layer, a backend's fused kernel ({@link Fused.broadcastReluDot}) runs that
 * addition, the ReLU and the output layer without writing the [K, N_b, S, h] hidden layer.
 *
 * @module
 */
import { Effect, type Scope } from "effect"
import * as Fused from "./Fused.ts"
import * as Mlp from "./Mlp.ts"
import * as Random from "./Random.ts"
import { type Parameter, type Tensor, type TensorBackend, Tensors } from "./Tensor.ts"

/** Sizes of the estimator. */
export interface CausalLabelConfig {
  /** Width d of mediator features (teachers' and student's encoders share it). */
  readonly mediatorSize: number
  /** Width of the target-item representation y_i. */
  readonly itemSize: number
  /** Width of the attention space of W1, W2 (eq. 10). Default: mediatorSize. */
  readonly attentionSize?: number
  /** Hidden layers of ψ_FDA (eq. 13). The paper asks for a light network; default [16]. */
  readonly hidden?: ReadonlyArray<number>
  /** Name prefix of the parameters. Default "causal-label". */
  readonly name?: string
  /**
   * Items 1..I of an own trainable look-up table for y_i (eq. 11: "the embedding of item y_i
   * obtained from a trainable embedding look-up table"), trained by the consistency loss with
   * W1, W2 and ψ_FDA; 0 (default): y_i is given by the caller (the student's item embedding,
   * held constant).
   */
  readonly items?: number
}

/** The trainable parts of the estimator: W1, W2 (eq. 10) and ψ_FDA (eq. 13). */
export interface CausalLabelEstimator {
  readonly config: Required<CausalLabelConfig>
  readonly w1: Parameter
  readonly w2: Parameter
  readonly psi: Mlp.Mlp
  /** The own item table [I+1, e] when `config.items > 0`. */
  readonly itemTable: Parameter | null
  /** W1, W2, ψ_FDA's parameters (and the own item table): the consistency loss trains exactly these (eq. 16). */
  readonly parameters: ReadonlyArray<Parameter>
}

/** The inputs of one batch. Shapes use K teachers, B rows, d = mediatorSize, e = itemSize. */
export interface CausalLabelInputs {
  /** m̃_{k,i}: [K, B, d], the teachers' mediators (eq. 9); constant (teachers are frozen). */
  readonly teacherMediators: Tensor
  /** m̂_i: [B, d], the student's mediator. */
  readonly studentMediator: Tensor
  /** m̃_j: [B, d], the partners' mediator feature (teachers' mean, eq. 12, or m̃°_j, eq. 19). */
  readonly partnerMediators: Tensor
  /** y_i: [B, e], the target items' representation (ignored with an own item table). */
  readonly items: Tensor
  /** The target items' ids, int32 [B]: needed with an own item table. */
  readonly itemIds?: Tensor
}

/** Creates the estimator's parameters (seeded). */
export const make = (
  backend: TensorBackend,
  config: CausalLabelConfig,
  rng: Random.RandomGenerator,
): CausalLabelEstimator => {
  const full: Required<CausalLabelConfig> = {
    mediatorSize: config.mediatorSize,
    itemSize: config.itemSize,
    attentionSize: config.attentionSize ?? config.mediatorSize,
    hidden: config.hidden ?? [16],
    name: config.name ?? "causal-label",
    items: config.items ?? 0,
  }
  const d = full.mediatorSize
  const a = full.attentionSize
  const w1 = backend.parameter(`${full.name}/w1`, Random.glorotUniform(rng, d, a), [d, a])
  const w2 = backend.parameter(`${full.name}/w2`, Random.glorotUniform(rng, d, a), [d, a])
  const psi = Mlp.make(backend, `${full.name}/psi`, [2 * d + full.itemSize, ...full.hidden, 1], rng)
  const e = full.itemSize
  const itemTable =
    full.items > 0
      ? backend.parameter(
          `${full.name}/items`,
          Random.normalArray(rng, (full.items + 1) * e, 0.05),
          [full.items + 1, e],
        )
      : null
  return {
    config: full,
    w1,
    w2,
    psi,
    itemTable,
    parameters: [w1, w2, ...Mlp.parameters(psi), ...(itemTable === null ? [] : [itemTable])],
  }
}

/**
 * The estimator as a scoped resource of the {@link Tensors} service: its parameters are freed
 * when the scope closes.
 */
export const makeScoped = (
  config: CausalLabelConfig,
  seed: number,
): Effect.Effect<CausalLabelEstimator, never, Tensors | Scope.Scope> =>
  Tensors.use((backend) =>
    Effect.acquireRelease(
      Effect.sync(() => make(backend, config, Random.generator(seed))),
      (estimator) => Effect.sync(() => backend.dispose(estimator.parameters)),
    ),
  )

/**
 * α: [B, K], the attention of each row's student mediator over the K teachers' mediators,
 * P(M = m_{k,i} | X = x_i) (eq. 10).
 */
export const mediatorPosterior = (
  backend: TensorBackend,
  estimator: CausalLabelEstimator,
  teacherMediators: Tensor,
  studentMediator: Tensor,
): Tensor => {
  const [k, b, d] = teacherMediators.shape as [number, number, number]
  const keys = backend.reshape(
    backend.matmul(backend.reshape(teacherMediators, [k * b, d]), estimator.w1.value),
    [k, b, -1],
  )
  const query = backend.matmul(studentMediator, estimator.w2.value) // [B, a]
  const scores = backend.sum(backend.mul(keys, backend.expandDims(query, 0)), -1) // [K, B]
  return backend.softmax(backend.transpose(scores), -1)
}

/**
 * σ(ψ_FDA([m̃_j, m̃_{k,i}, y_i])) for S partners j per row: [K, B, S] (eq. 11-13).
 * `partners` is an int32 [B, S] tensor of row indices into the batch.
 */
export const interventionalClick = (
  backend: TensorBackend,
  estimator: CausalLabelEstimator,
  inputs: CausalLabelInputs,
  partners: Tensor,
): Tensor => {
  const { mediatorSize: d, itemSize: e } = estimator.config
  const [wPartner, wMediator, wItem] = Mlp.firstLayerBlocks(backend, estimator.psi, [d, d, e]) as [
    Tensor,
    Tensor,
    Tensor,
  ]
  const [k, b] = inputs.teacherMediators.shape as [number, number, number]
  // First layer of ψ_FDA block by block: partner term per batch row, gathered for each partner.
  const partnerTable = backend.matmul(inputs.partnerMediators, wPartner) // [B, h]
  const mediatorTerm = backend.reshape(
    backend.matmul(backend.reshape(inputs.teacherMediators, [k * b, d]), wMediator),
    [k, b, 1, -1],
  ) // [K, B, 1, h]
  const itemTerm = backend.add(backend.matmul(inputs.items, wItem), estimator.psi.biases[0]!.value) // [B, h]
  const rowTerm = backend.add(mediatorTerm, backend.reshape(itemTerm, [1, b, 1, -1])) // [K, B, 1, h]
  const composed = (): Tensor => {
    const pre = backend.add(rowTerm, backend.expandDims(backend.gather(partnerTable, partners), 0)) // [K, B, S, h]
    const [, , s, h] = pre.shape as [number, number, number, number]
    const logits = Mlp.continueFrom(backend, estimator.psi, backend.reshape(pre, [k * b * s, h]))
    return backend.reshape(logits, [k, b, s])
  }
  // One hidden ReLU layer (the default, the paper's light ψ_FDA): the hidden layer and the
  // output over the K·B·S partner rows as one fused op where the backend has it (eq. 13).
  const { psi } = estimator
  const logits =
    psi.weights.length === 2 && psi.hidden === "relu"
      ? Fused.broadcastReluDot(
          backend,
          {
            rows: backend.reshape(rowTerm, [k, b, -1]),
            partners: partnerTable,
            ids: partners,
            weight: psi.weights[1]!.value,
            bias: psi.biases[1]!.value,
          },
          composed,
        )
      : composed()
  return backend.sigmoid(logits)
}

/**
 * The causal label õ: [B] probabilities (eq. 14), averaging the interventional click over the
 * given partners (uniform prior over X) and over the teachers with the attention α (eq. 10).
 * Gradients reach only the estimator's own parameters.
 */
export const estimate = (
  backend: TensorBackend,
  estimator: CausalLabelEstimator,
  inputs: CausalLabelInputs,
  partners: Tensor,
): Tensor => {
  // Every input is a constant here: the label trains only W1, W2 and ψ_FDA (eq. 16), never the
  // student's encoder or embeddings, nor the frozen teachers.
  // An own item table (eq. 11's trainable look-up) belongs to the estimator and trains with it.
  if (estimator.itemTable !== null && inputs.itemIds === undefined)
    throw new Error("CausalLabel.estimate: an estimator with its own item table needs itemIds")
  const constant: CausalLabelInputs = {
    teacherMediators: backend.stopGradient(inputs.teacherMediators),
    studentMediator: backend.stopGradient(inputs.studentMediator),
    partnerMediators: backend.stopGradient(inputs.partnerMediators),
    items:
      estimator.itemTable === null
        ? backend.stopGradient(inputs.items)
        : backend.gather(estimator.itemTable.value, inputs.itemIds!),
  }
  const clicks = backend.mean(interventionalClick(backend, estimator, constant, partners), -1) // [K, B]
  const alpha = mediatorPosterior(
    backend,
    estimator,
    constant.teacherMediators,
    constant.studentMediator,
  ) // [B, K]
  return backend.sum(backend.mul(alpha, backend.transpose(clicks)), -1)
}

/** Every row's partners are the whole batch, j = 0..B-1: the exact in-batch estimator of eq. (14). */
export const allPartners = (batchSize: number): Int32Array => {
  const out = new Int32Array(batchSize * batchSize)
  for (let i = 0; i < batchSize; i++) for (let j = 0; j < batchSize; j++) out[i * batchSize + j] = j
  return out
}

/**
 * S partners per row drawn uniformly with replacement from the batch: an unbiased Monte-Carlo
 * estimate of the inner average of eq. (14), since each draw has expectation (1/B) Σ_j.
 */
export const sampledPartners = (
  rng: Random.RandomGenerator,
  batchSize: number,
  samples: number,
): Int32Array => {
  const out = new Int32Array(batchSize * samples)
  for (let i = 0; i < out.length; i++) out[i] = Random.integer(rng, 0, batchSize - 1)
  return out
}
