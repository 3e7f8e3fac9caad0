/**
 * `@causald/core`: the pure causal core of CausalD. Estimators, losses and metrics written
 * against an abstract tensor interface; no tensor library, file system or clock.
 *
 * @module
 */
export * as CausalLabel from "./CausalLabel.ts"
export * as Checkpoint from "./Checkpoint.ts"
export * as FeatureGuidance from "./FeatureGuidance.ts"
export * as Losses from "./Losses.ts"
export * as Mlp from "./Mlp.ts"
export * as Random from "./Random.ts"
export * from "./Tensor.ts"
