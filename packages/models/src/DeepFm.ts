/**
 * DeepFM (Guo et al., IJCAI 2017), the paper's second base recommender (section 5.1), as
 * encoder φ and predictor ψ* (section 3.2, eq. 15).
 *
 * Fields: the user id, the target item, and the history pooled by a masked mean of its item
 * embeddings (items share one embedding table). With field embeddings v_f:
 *
 *   logit = b + w_user + w_item                         (FM, first order)
 *         + ½ Σ_k ((Σ_f v_fk)² − Σ_f v_fk²)             (FM, second order: Σ_{f<g} <v_f, v_g>)
 *         + DNN([v_user, v_item, v_history])            (256, 128, ReLU)
 *
 * FM and DNN share the embeddings, as in DeepFM. Side features are not modelled.
 *
 * The **mediator** is the pooled-history field embedding v_history [B, d]: it is the only part of
 * the input that encodes the history X (the user id and the target item are not X), and it is
 * everything the predictor sees of X. For the same reason the history has no first-order term:
 * a per-item scalar weight summed over the history would be a second path from X to Y that
 * bypasses the mediator, breaking requirement (i) of section 3.2 (M intercepts every directed
 * path from X to Y). ψ* takes the mediator plus the other fields.
 *
 * @module
 */
import { Fused, Mlp, type Parameter, Random, type Tensor, type TensorBackend } from "@causald/core"
import { Result, Schema } from "effect"
import type { InvalidConfig } from "./Errors.ts"
import {
  integerAtLeast,
  layerSizes,
  nonNegative,
  option,
  resolver,
} from "./internal/ConfigSchema.ts"
import * as Embedding from "./internal/Embedding.ts"
import type {
  Recommender,
  RecommenderFactory,
  RecommenderInputs,
  Vocabulary,
} from "./Recommender.ts"

/**
 * DeepFM's configuration as a Schema, each field with its default (the paper's, section 5.1):
 * decoding `{}` gives {@link defaultConfig}; {@link resolve} is the one step from options to a
 * checked configuration.
 */
export const DeepFmConfig = Schema.Struct({
  /** d: field embedding width; the paper's 8. */
  embeddingSize: option(integerAtLeast(1), 8),
  /** Hidden widths of the DNN part; 256, 128. */
  dnnHidden: option(layerSizes, [256, 128]),
  /** Hidden activation of the DNN part. */
  dnnActivation: option(Schema.Literals(Mlp.activations), "relu"),
  /** Standard deviation of the normal initial embeddings (first-order weights start at 0). */
  embeddingStd: option(nonNegative, 0.05),
})
/** DeepFM's options, resolved; {@link defaultConfig} holds the paper's. */
export type DeepFmConfig = typeof DeepFmConfig.Type

/**
 * DeepFM's configuration from its defaults, then each layer of options in order (later layers
 * win); an {@link InvalidConfig} names the first bad field.
 */
export const resolve: (
  ...layers: ReadonlyArray<Partial<DeepFmConfig> | undefined>
) => Result.Result<DeepFmConfig, InvalidConfig> = resolver(DeepFmConfig)

/** The paper's configuration (section 5.1): {@link DeepFmConfig} decoded from `{}`. */
export const defaultConfig: DeepFmConfig = Result.getOrThrow(resolve())

/** A DeepFM model: the {@link Recommender} plus its parts. */
export interface DeepFmModel extends Recommender {
  readonly kind: "deepfm"
  readonly config: DeepFmConfig
  /** `deepfm/item-embedding` [numItems + 1, d]: target and history items; row 0 is padding. */
  readonly itemEmbedding: Parameter
  /** `deepfm/user-embedding` [numUsers, d]. */
  readonly userEmbedding: Parameter
  /** `deepfm/item-weight` [numItems + 1, 1]: first-order weight of the target item. */
  readonly itemWeight: Parameter
  /** `deepfm/user-weight` [numUsers, 1]: first-order weight of the user. */
  readonly userWeight: Parameter
  /** `deepfm/bias` [1]: global bias. */
  readonly bias: Parameter
  /** The DNN part, [3d, ...dnnHidden, 1], `deepfm/dnn/...`. */
  readonly dnn: Mlp.Mlp
  /** Embedding tables and first-order weight tables. */
  readonly embeddings: ReadonlyArray<Parameter>
  /** The parameters that are not tables (DNN, global bias). */
  readonly dense: ReadonlyArray<Parameter>
}

/** φ: the masked mean of the history's item embeddings [B, d] (0 for an empty history). */
const pooledHistory = (b: TensorBackend, model: DeepFmModel, inputs: RecommenderInputs): Tensor => {
  const mask = inputs.historyMask
  const count = b.maximum(b.sum(mask, 1, true), b.scalar(1))
  const weights = b.div(mask, count) // [B, L]
  // One fused kernel where the backend has it (no gathered [B, L, d] tensor), else composed.
  return Fused.gatherWeightedSum(b, model.itemEmbedding.value, inputs.history, weights, () => {
    const h = b.gather(model.itemEmbedding.value, inputs.history)
    // The weighted sum as a batched product [B, 1, L] x [B, L, d]: 1.6x faster per training step
    // on tfjs's cpu backend than a broadcast multiply and sum (bench/NOTES.md), equal on wasm.
    const [rows, , d] = h.shape as [number, number, number]
    return b.reshape(b.matmul(b.expandDims(weights, 1), h), [rows, d])
  })
}

/** ψ*: logits [B] from the mediator (history field) and the user and item fields. */
const predictFrom = (
  b: TensorBackend,
  model: DeepFmModel,
  mediator: Tensor,
  inputs: RecommenderInputs,
): Tensor => {
  const rows = mediator.shape[0]!
  const user = b.gather(model.userEmbedding.value, inputs.user)
  const item = b.gather(model.itemEmbedding.value, inputs.item)
  const firstOrder = b.add(
    b.reshape(
      b.add(
        b.gather(model.userWeight.value, inputs.user),
        b.gather(model.itemWeight.value, inputs.item),
      ),
      [rows],
    ),
    model.bias.value,
  )
  const total = b.add(b.add(user, item), mediator)
  const squares = b.add(b.add(b.square(user), b.square(item)), b.square(mediator))
  const secondOrder = b.mul(b.sum(b.sub(b.square(total), squares), 1), b.scalar(0.5))
  const deep = b.reshape(Mlp.forward(b, model.dnn, b.concat([user, item, mediator], 1)), [rows])
  return b.add(b.add(firstOrder, secondOrder), deep)
}

/**
 * Builds DeepFM on a backend with seeded initial values: the same seed gives the same
 * parameters. Parameters are named `deepfm/...`. `options` are resolved over the defaults
 * ({@link resolve}); throws {@link InvalidConfig} for a bad option.
 */
export const make = (
  backend: TensorBackend,
  vocabulary: Vocabulary,
  options: Partial<DeepFmConfig> = {},
  seed = 0,
): DeepFmModel => {
  const config: DeepFmConfig = Result.getOrThrow(resolve(options))
  Embedding.checkVocabulary(vocabulary)
  const d = config.embeddingSize
  const items = vocabulary.numItems + 1
  const users = vocabulary.numUsers
  const std = config.embeddingStd
  const itemEmbedding = Embedding.table(
    backend,
    "deepfm/item-embedding",
    items,
    d,
    Random.derive(seed, 0),
    std,
    true,
  )
  const userEmbedding = Embedding.table(
    backend,
    "deepfm/user-embedding",
    users,
    d,
    Random.derive(seed, 1),
    std,
    false,
  )
  const itemWeight = backend.parameter("deepfm/item-weight", new Float32Array(items), [items, 1])
  const userWeight = backend.parameter("deepfm/user-weight", new Float32Array(users), [users, 1])
  const bias = backend.parameter("deepfm/bias", new Float32Array(1), [1])
  const dnn = Mlp.make(
    backend,
    "deepfm/dnn",
    [3 * d, ...config.dnnHidden, 1],
    Random.derive(seed, 2),
    config.dnnActivation,
  )
  const embeddings = [itemEmbedding, userEmbedding, itemWeight, userWeight]
  const dense = [...Mlp.parameters(dnn), bias]
  const model: DeepFmModel = {
    kind: "deepfm",
    config,
    itemEmbedding,
    userEmbedding,
    itemWeight,
    userWeight,
    bias,
    dnn,
    parameters: [...embeddings, ...dense],
    embeddings,
    dense,
    mediatorSize: d,
    itemSize: d,
    encode: (inputs) => pooledHistory(backend, model, inputs),
    embedItems: (ids) => backend.gather(itemEmbedding.value, ids),
    predict: (mediator, inputs) => predictFrom(backend, model, mediator, inputs),
  }
  return model
}

/** {@link make} as a generic factory. */
export const factory: RecommenderFactory<Partial<DeepFmConfig>> = make
