/**
 * The base recommenders (section 5.1) as one registry: name, title as the paper prints it, its
 * configuration (a Schema with its defaults) and constructor. Every method of a study, its
 * teachers and its student share the base model chosen here (`--base`) and its configuration,
 * resolved once ({@link resolve}); adding a base model is its module plus one entry.
 *
 * @module
 */
import type { TensorBackend } from "@causald/core"
import { Result } from "effect"
import * as DeepFm from "./DeepFm.ts"
import * as Din from "./Din.ts"
import type { InvalidConfig } from "./Errors.ts"
import { resolver } from "./internal/ConfigSchema.ts"
import type { Recommender, Vocabulary } from "./Recommender.ts"

export const baseModelNames = ["din", "deepfm"] as const
export type BaseModelName = (typeof baseModelNames)[number]

/** Each base model's resolved configuration. */
export interface Configs {
  readonly din: Din.DinConfig
  readonly deepfm: DeepFm.DeepFmConfig
}

/**
 * Options of a base model as they arrive from outside (a study's options, an experiment's
 * overrides): any of its configuration's fields; checked by {@link resolve}.
 */
export type BaseModelOptions = { readonly [key: string]: unknown }

export interface BaseModel<B extends BaseModelName = BaseModelName> {
  readonly name: B
  /** Its name as the paper prints it (Table 3: DIN, Table 4: DeepFM). */
  readonly title: string
  /** Its configuration decoded from `{}` (the paper's). */
  readonly defaults: Configs[B]
  /** Its defaults, then each layer in order; an {@link InvalidConfig} names the first bad field. */
  readonly resolve: (
    ...layers: ReadonlyArray<BaseModelOptions | undefined>
  ) => Result.Result<Configs[B], InvalidConfig>
  /** Builds the model with seeded initial values (the same seed gives the same parameters). */
  readonly make: (
    backend: TensorBackend,
    vocabulary: Vocabulary,
    config: Configs[B],
    seed: number,
  ) => Recommender
}

export const baseModels: { readonly [B in BaseModelName]: BaseModel<B> } = {
  din: {
    name: "din",
    title: "DIN",
    defaults: Din.defaultConfig,
    resolve: resolver(Din.DinConfig),
    make: Din.make,
  },
  deepfm: {
    name: "deepfm",
    title: "DeepFM",
    defaults: DeepFm.defaultConfig,
    resolve: resolver(DeepFm.DeepFmConfig),
    make: DeepFm.make,
  },
}

/** A base model and its resolved configuration. */
export type Resolved = {
  readonly [B in BaseModelName]: { readonly base: B; readonly config: Configs[B] }
}[BaseModelName]

/**
 * The configuration of base model `base`, resolved in one step: its defaults, then `options`
 * (a study's), then `overrides` (an experiment's). Fails with an {@link InvalidConfig} naming the
 * first bad field, before anything is built.
 */
export const resolve = (
  base: BaseModelName,
  options?: BaseModelOptions,
  overrides?: BaseModelOptions,
): Result.Result<Resolved, InvalidConfig> => {
  const config: Result.Result<Configs[BaseModelName], InvalidConfig> = baseModels[base].resolve(
    options,
    overrides,
  )
  return Result.map(config, (c) => ({ base, config: c }) as Resolved)
}

/** Base model `base` at its defaults. */
export const defaults = (base: BaseModelName): Resolved =>
  ({ base, config: baseModels[base].defaults }) as Resolved

/** A fresh model of a resolved base model, initialised from `seed`. */
export const make = (
  backend: TensorBackend,
  vocabulary: Vocabulary,
  resolved: Resolved,
  seed: number,
): Recommender => {
  switch (resolved.base) {
    case "din":
      return baseModels.din.make(backend, vocabulary, resolved.config, seed)
    case "deepfm":
      return baseModels.deepfm.make(backend, vocabulary, resolved.config, seed)
  }
}
