/**
 * `@causald/training`: training programs over the core tensor interface.
 *
 * @module
 */

export * as Baselines from "./baselines/index.ts"
export * as CausalDObjective from "./CausalDObjective.ts"
export * as Errors from "./Errors.ts"
export * as Evaluate from "./Evaluate.ts"
export * as FrozenTeachers from "./FrozenTeachers.ts"
export * as Lease from "./Lease.ts"
export * as Methods from "./Methods.ts"
export * as Objective from "./Objective.ts"
export * as PerGroup from "./PerGroup.ts"
export * as Progress from "./Progress.ts"
export * as RunData from "./RunData.ts"
export * as Train from "./Train.ts"
