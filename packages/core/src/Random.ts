/**
 * Seeded random numbers (pure-rand's xoroshiro128+): every random draw in the project comes from
 * a seed, so runs are reproducible and resumable. Plain functions on a mutable generator; the
 * hot loops that draw many numbers call them directly.
 *
 * @module
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"

export type { RandomGenerator }

/** A generator seeded with `seed` (an integer). */
export const generator = (seed: number): RandomGenerator => xoroshiro128plus(seed | 0)

/** A generator for the `stream`-th independent purpose derived from one seed (e.g. per teacher, per epoch). */
export const derive = (seed: number, stream: number): RandomGenerator =>
  xoroshiro128plus(Math.imul(seed | 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b))

/** Uniform in [0, 1). */
export const uniform = (rng: RandomGenerator): number => uniformFloat64(rng)

/** Uniform integer in [min, max] (both included). */
export const integer = (rng: RandomGenerator, min: number, max: number): number =>
  uniformInt(rng, min, max)

/** Standard normal (Box-Muller). */
export const normal = (rng: RandomGenerator): number => {
  const u = 1 - uniformFloat64(rng)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * uniformFloat64(rng))
}

/**
 * Glorot (Xavier) uniform initial values for a [fanIn, fanOut] weight: U(-l, l) with
 * l = sqrt(6 / (fanIn + fanOut)), the default initialiser of TensorFlow's dense layers.
 */
export const glorotUniform = (
  rng: RandomGenerator,
  fanIn: number,
  fanOut: number,
): Float32Array => {
  const limit = Math.sqrt(6 / (fanIn + fanOut))
  const out = new Float32Array(fanIn * fanOut)
  for (let i = 0; i < out.length; i++) out[i] = (2 * uniformFloat64(rng) - 1) * limit
  return out
}

/** Normal initial values with standard deviation `std` (embedding tables). */
export const normalArray = (rng: RandomGenerator, size: number, std: number): Float32Array => {
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) out[i] = normal(rng) * std
  return out
}
