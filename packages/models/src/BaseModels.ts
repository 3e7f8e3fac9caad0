/**
 * The base recommenders (section 5.1) as one registry: name, title as the paper prints it, and
 * constructor. Every method of a study, its teachers and its student share the base model chosen
 * here (`--base`), so adding a base model is its module plus one entry.
 *
 * @module
 */
import type { TensorBackend } from "@causald/core"
import * as DeepFm from "./DeepFm.ts"
import * as Din from "./Din.ts"
import type { Recommender, Vocabulary } from "./Recommender.ts"

export const baseModelNames = ["din", "deepfm"] as const
export type BaseModelName = (typeof baseModelNames)[number]

/** The options every base model takes; each model's own stay at its defaults. */
export interface BaseModelOptions {
  readonly embeddingSize: number
}

export interface BaseModel {
  readonly name: BaseModelName
  /** Its name as the paper prints it (Table 3: DIN, Table 4: DeepFM). */
  readonly title: string
  /** Builds the model with seeded initial values (the same seed gives the same parameters). */
  readonly make: (
    backend: TensorBackend,
    vocabulary: Vocabulary,
    options: BaseModelOptions,
    seed: number,
  ) => Recommender
}

export const baseModels: { readonly [B in BaseModelName]: BaseModel } = {
  din: { name: "din", title: "DIN", make: Din.make },
  deepfm: { name: "deepfm", title: "DeepFM", make: DeepFm.make },
}
