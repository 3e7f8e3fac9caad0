/**
 * What an output folder's models were trained on (`<out>/fingerprint.json`): a SHA-256 of the
 * prepared data's content and the settings that shape every model but no folder's name. Bound to
 * the folder by `Provenance.bindOutput`; recorded in `results.json`'s manifest, so that
 * `bun run repro-merge` joins only parts of one study trained on the same data (`Merge.ts`).
 *
 * @module
 */
import { Fingerprint, type PreparedDataset } from "@causald/data"
import type { Train } from "@causald/training"
import { Schema } from "effect"

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
})
export type OutputFingerprint = typeof OutputFingerprint.Type

/** The file of {@link OutputFingerprint} in an output folder. */
export const fingerprintFile = "fingerprint.json"

/**
 * SHA-256 of what models train and are selected on (`@causald/data`'s `Fingerprint`, shared with
 * `apps/use`, which checks a run's re-prepared data against it).
 */
export const dataFingerprint: (data: PreparedDataset) => string = Fingerprint.dataFingerprint

/** The fingerprint of a study: its prepared data, base recommender and training settings. */
export const outputFingerprint = (
  data: PreparedDataset,
  base: string,
  training: Pick<Train.TrainingConfig, "batchSize" | "negatives" | "optimizer">,
): OutputFingerprint => ({
  data: dataFingerprint(data),
  name: data.name,
  users: data.numUsers,
  items: data.numItems,
  interactions: data.stats.interactions,
  kCore: data.config.kCore,
  settings: {
    base,
    batchSize: training.batchSize,
    negatives: training.negatives,
    optimizer: JSON.stringify(training.optimizer),
  },
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
  return undefined
}
