/**
 * What an output folder's models were trained on (`<out>/fingerprint.json`): a SHA-256 of the
 * prepared data's content, the base model's resolved configuration and the settings that shape
 * every model but no folder's name. Bound to
 * the folder by `Provenance.bindOutput`; recorded in `results.json`'s manifest, so that
 * `bun run repro-merge` joins only parts of one study trained on the same data (`Merge.ts`).
 *
 * @module
 */
import { Fingerprint, type PreparedDataset } from "@causald/data"
import { BaseModels } from "@causald/models"
import type { Train } from "@causald/training"
import { Schema } from "effect"

/**
 * A base model's configuration as resolved for a study (`BaseModels.resolve`: its defaults, the
 * study's `--base-config`, an experiment's overrides), recorded in `fingerprint.json`, each
 * model's `provenance.json` and `results.json`'s manifest.
 */
export const BaseModelRecord = Schema.Struct({
  base: Schema.String,
  config: Schema.Record(Schema.String, Schema.Json),
})
export type BaseModelRecord = typeof BaseModelRecord.Type

/** The record of a resolved base model. */
export const baseModelRecord = (resolved: BaseModels.Resolved): BaseModelRecord => ({
  base: resolved.base,
  config: resolved.config,
})

/** The defaults of base model `base`, or undefined for a name this version does not know. */
const defaultsOf = (base: string): BaseModelRecord | undefined => {
  const known = BaseModels.baseModelNames.find((b) => b === base)
  return known === undefined ? undefined : baseModelRecord(BaseModels.defaults(known))
}

/**
 * The first difference between a recorded base-model configuration and the current one, in
 * words; undefined when they match. An absent record (written before configurations were
 * recorded, when every model was built at its base model's defaults) stands for the defaults of
 * the other side's base model, so folders from then stay reusable at the defaults and are refused
 * under any other configuration.
 */
export const baseModelDifference = (
  recorded: BaseModelRecord | undefined,
  current: BaseModelRecord | undefined,
): string | undefined => {
  if (recorded === undefined && current === undefined) return undefined
  const was = recorded ?? defaultsOf(current!.base)
  const now = current ?? defaultsOf(recorded!.base)
  if (was === undefined || now === undefined)
    return `base model ${recorded?.base ?? current?.base}: no configuration to compare with`
  if (was.base !== now.base) return `base model was ${was.base}, now ${now.base}`
  const names = [...new Set([...Object.keys(was.config), ...Object.keys(now.config)])]
  for (const name of names.sort()) {
    const a = was.config[name]
    const b = now.config[name]
    if (JSON.stringify(a) !== JSON.stringify(b))
      return `base model option ${name} was ${a === undefined ? "unset" : JSON.stringify(a)}, now ${b === undefined ? "unset" : JSON.stringify(b)}`
  }
  return undefined
}

/** What an output folder's models were trained on (`<out>/fingerprint.json`). */
export const OutputFingerprint = Schema.Struct({
  /** SHA-256 (hex) of the prepared data's content ({@link dataFingerprint}). */
  data: Schema.String,
  /** The data set's name and sizes, for the message when the content differs. */
  name: Schema.String,
  users: Schema.Int,
  items: Schema.Int,
  interactions: Schema.Int,
  kCore: Schema.Int,
  /** The settings that shape every model but not its folder's name. */
  settings: Schema.Record(Schema.String, Schema.Union([Schema.Number, Schema.String])),
  /**
   * The base model's resolved configuration; absent in folders bound before configurations were
   * recorded, which stands for its defaults ({@link baseModelDifference}).
   */
  model: Schema.optionalKey(BaseModelRecord),
})
export type OutputFingerprint = typeof OutputFingerprint.Type

/** The file of {@link OutputFingerprint} in an output folder. */
export const fingerprintFile = "fingerprint.json"

/**
 * SHA-256 of what models train and are selected on (`@causald/data`'s `Fingerprint`, shared with
 * `apps/use`, which checks a run's re-prepared data against it).
 */
export const dataFingerprint: (data: PreparedDataset) => string = Fingerprint.dataFingerprint

/**
 * The fingerprint of a study: its prepared data, base recommender (and its resolved
 * configuration) and training settings.
 */
export const outputFingerprint = (
  data: PreparedDataset,
  model: BaseModels.Resolved,
  training: Pick<Train.TrainingConfig, "batchSize" | "negatives" | "optimizer">,
): OutputFingerprint => ({
  data: dataFingerprint(data),
  name: data.name,
  users: data.numUsers,
  items: data.numItems,
  interactions: data.stats.interactions,
  kCore: data.config.kCore,
  settings: {
    base: model.base,
    batchSize: training.batchSize,
    negatives: training.negatives,
    optimizer: JSON.stringify(training.optimizer),
  },
  model: baseModelRecord(model),
})

const describeData = (f: OutputFingerprint): string =>
  `${f.name}: ${f.users} users, ${f.items} items, ${f.interactions} interactions${f.kCore > 0 ? `, ${f.kCore}-core` : ""}`

/** The first difference between two fingerprints, in words; undefined when they match. */
export const fingerprintDifference = (
  recorded: OutputFingerprint,
  current: OutputFingerprint,
): string | undefined => {
  if (recorded.data !== current.data) {
    const was = describeData(recorded)
    const now = describeData(current)
    return was !== now
      ? `trained on ${was}; now ${now}`
      : `trained on other content of the same shape (${was}; data sha256 ${recorded.data.slice(0, 12)} recorded, ${current.data.slice(0, 12)} now)`
  }
  const names = [...new Set([...Object.keys(recorded.settings), ...Object.keys(current.settings)])]
  for (const name of names.sort())
    if (recorded.settings[name] !== current.settings[name])
      return `${name} was ${recorded.settings[name] ?? "unset"}, now ${current.settings[name] ?? "unset"}`
  return baseModelDifference(recorded.model, current.model)
}
