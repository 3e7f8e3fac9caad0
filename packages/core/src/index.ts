/**
 * `@causald/core`: the pure causal core of CausalD. Estimators, losses and metrics written
 * against an abstract tensor interface; no tensor library, file system or clock.
 *
 * @module @causald/core
 */
export * as Adjustment from "./Adjustment.ts"
export * as CausalLabel from "./CausalLabel.ts"
export * as CausalModel from "./CausalModel.ts"
export * as Checkpoint from "./Checkpoint.ts"
export * as FeatureGuidance from "./FeatureGuidance.ts"
export * as Fused from "./Fused.ts"
export * as Heterogeneity from "./Heterogeneity.ts"
export * as Losses from "./Losses.ts"
export * as MetricAccumulator from "./MetricAccumulator.ts"
export * as Mlp from "./Mlp.ts"
export * as Random from "./Random.ts"
export * as Ranking from "./Ranking.ts"
export * as Statistics from "./Statistics.ts"
export * from "./Tensor.ts"
