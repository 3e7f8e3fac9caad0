/**
 * DIN's configuration and the model's parts (the options of section 5.1 and DIN's layer sizes).
 *
 * @module
 */
import type { Parameter } from "@causald/core"
import { Result, Schema } from "effect"
import * as Dense from "../Dense.ts"
import type { InvalidConfig } from "../Errors.ts"
import {
  integerAtLeast,
  layerSizes,
  nonNegative,
  option,
  resolver,
} from "../internal/ConfigSchema.ts"
import type { Recommender } from "../Recommender.ts"

/**
 * DIN's configuration as a Schema, each field with its default (the paper's options of section
 * 5.1 and DIN's layer sizes): decoding `{}` gives {@link defaultConfig}; {@link resolve} is the one
 * step from options to a checked configuration.
 */
export const DinConfig = Schema.Struct({
  /** d: item (and user) embedding width; the paper's 8. */
  embeddingSize: option(integerAtLeast(1), 8),
  /** Hidden widths of the local activation unit; DIN's 80, 40. */
  attentionHidden: option(layerSizes, [80, 40]),
  /** Hidden activation of the activation unit: sigmoid (DeepCTR-Torch, the PyTorch reference) or Dice. */
  attentionActivation: option(Schema.Literals(["sigmoid", "dice"]), "sigmoid"),
  /**
   * "none" (DIN's choice: weights keep the intensity of the interest, section 4.3) or "softmax"
   * over the real history items of each row.
   */
  attentionNormalization: option(Schema.Literals(["none", "softmax"]), "none"),
  /** Hidden widths of ψ*; DIN's 200, 80. */
  predictorHidden: option(layerSizes, [200, 80]),
  /** Hidden activation of ψ* (ReLU in the PyTorch reference; DIN's paper uses PReLU/Dice). */
  predictorActivation: option(Schema.Literals(Dense.hiddenActivations), "relu"),
  /** Adds a user-id embedding to ψ*'s input (user ids are not part of X). Default false. */
  userEmbedding: option(Schema.Boolean, false),
  /** Standard deviation of the normal initial embeddings. */
  embeddingStd: option(nonNegative, 0.05),
  /** Dice's running-statistics momentum (used only with Dice). */
  diceMomentum: option(nonNegative, 0.99),
})
/** DIN's options, resolved; {@link defaultConfig} holds the paper's. */
export type DinConfig = typeof DinConfig.Type

/**
 * DIN's configuration from its defaults, then each layer of options in order (later layers win);
 * an {@link InvalidConfig} names the first bad field.
 */
export const resolve: (
  ...layers: ReadonlyArray<Partial<DinConfig> | undefined>
) => Result.Result<DinConfig, InvalidConfig> = resolver(DinConfig)

/** The paper's configuration (section 5.1) and DIN's layer sizes: {@link DinConfig} decoded from `{}`. */
export const defaultConfig: DinConfig = Result.getOrThrow(resolve())

/** A DIN model: the {@link Recommender} in training mode plus its parts. */
export interface DinModel extends Recommender {
  readonly kind: "din"
  readonly config: DinConfig
  /** `din/item-embedding` [numItems + 1, d]; row 0 is padding. */
  readonly itemEmbedding: Parameter
  /** `din/user-embedding` [numUsers, d], when {@link DinConfig.userEmbedding}. */
  readonly userEmbedding?: Parameter
  /** The local activation unit, [4d, ...attentionHidden, 1], `din/attention/...`. */
  readonly attention: Dense.DenseStack
  /** ψ*, [2d (+d), ...predictorHidden, 1], `din/predictor/...`. */
  readonly predictor: Dense.DenseStack
  readonly embeddings: ReadonlyArray<Parameter>
  /** The parameters that are not embeddings. */
  readonly dense: ReadonlyArray<Parameter>
  readonly buffers: ReadonlyArray<Parameter>
  readonly inference: Recommender
}
