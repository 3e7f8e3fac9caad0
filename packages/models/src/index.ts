/**
 * `@causald/models`: base recommenders as encoder (mediator) and predictor.
 *
 * @module
 */
export * as Inputs from "./Inputs.ts"
export * from "./Recommender.ts"
