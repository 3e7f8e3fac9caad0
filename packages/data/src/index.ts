/**
 * @causald/data: data sets for CausalD. Readers for the MovieLens, Amazon, sequence and
 * exposure-log formats, the paper's protocol (k-core, chronological leave-last-out, stored
 * candidates) producing a {@link PreparedDataset}, a simulator with known causal effects, user
 * groups and teacher subsets, and fast batch builders for training and evaluation.
 *
 * @module
 */

export type {
  EvaluationBatch,
  EvaluationBatchOptions,
  TrainingBatch,
  TrainingBatchOptions,
} from "./Batches.ts"
export * as Batches from "./Batches.ts"
export * as Cache from "./Cache.ts"
export type { DataError } from "./Errors.ts"
export * as Errors from "./Errors.ts"
export * as Fingerprint from "./Fingerprint.ts"
export * as FrontDoor from "./FrontDoor.ts"
export type { UserGroups } from "./Groups.ts"
export * as Groups from "./Groups.ts"
export type { InteractionLog } from "./Interactions.ts"
export * as Interactions from "./Interactions.ts"
export type { PreparedConfig, PreparedDataset } from "./Prepared.ts"
export * as Prepared from "./Prepared.ts"
export * as Protocol from "./Protocol.ts"
export * as Amazon from "./readers/Amazon.ts"
export * as Delimited from "./readers/Delimited.ts"
export * as Exposure from "./readers/Exposure.ts"
export * as Lines from "./readers/Lines.ts"
export * as MovieLens from "./readers/MovieLens.ts"
export * as Sequences from "./readers/Sequences.ts"
export * as Simulated from "./Simulated.ts"
export * as Sources from "./Sources.ts"
export { DataSource, type LoadOptions } from "./Sources.ts"
