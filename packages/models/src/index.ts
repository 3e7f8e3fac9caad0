/**
 * `@causald/models`: the paper's base recommenders (DIN, DeepFM) as encoder (mediator) and
 * predictor, written once against the `@causald/core` tensor interface.
 *
 * @module
 */
export * as BaseModels from "./BaseModels.ts"
export * as DeepFm from "./DeepFm.ts"
export * as Dense from "./Dense.ts"
export * as Dice from "./Dice.ts"
export * as Din from "./Din.ts"
export * from "./Errors.ts"
export * as Inputs from "./Inputs.ts"
export * as LengthChunks from "./LengthChunks.ts"
export * from "./Recommender.ts"
