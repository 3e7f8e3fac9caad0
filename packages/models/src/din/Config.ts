/**
 * DIN's configuration and the model's parts (the options of section 5.1 and DIN's layer sizes).
 *
 * @module
 */
import type { Parameter } from "@causald/core"
import type * as Dense from "../Dense.ts"
import type { Recommender } from "../Recommender.ts"

/** DIN's options; {@link defaultConfig} holds the paper's. */
export interface DinConfig {
  /** d: item (and user) embedding width; the paper's 8. */
  readonly embeddingSize: number
  /** Hidden widths of the local activation unit; DIN's 80, 40. */
  readonly attentionHidden: ReadonlyArray<number>
  /** Hidden activation of the activation unit: sigmoid (DeepCTR-Torch, the PyTorch reference) or Dice. */
  readonly attentionActivation: "sigmoid" | "dice"
  /**
   * "none" (DIN's choice: weights keep the intensity of the interest, section 4.3) or "softmax"
   * over the real history items of each row.
   */
  readonly attentionNormalization: "none" | "softmax"
  /** Hidden widths of ψ*; DIN's 200, 80. */
  readonly predictorHidden: ReadonlyArray<number>
  /** Hidden activation of ψ* (ReLU in the PyTorch reference; DIN's paper uses PReLU/Dice). */
  readonly predictorActivation: Dense.HiddenActivation
  /** Adds a user-id embedding to ψ*'s input (user ids are not part of X). Default false. */
  readonly userEmbedding: boolean
  /** Standard deviation of the normal initial embeddings. */
  readonly embeddingStd: number
  /** Dice's running-statistics momentum (used only with Dice). */
  readonly diceMomentum: number
}

/** The paper's configuration (section 5.1) and DIN's layer sizes. */
export const defaultConfig: DinConfig = {
  embeddingSize: 8,
  attentionHidden: [80, 40],
  attentionActivation: "sigmoid",
  attentionNormalization: "none",
  predictorHidden: [200, 80],
  predictorActivation: "relu",
  userEmbedding: false,
  embeddingStd: 0.05,
  diceMomentum: 0.99,
}

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
