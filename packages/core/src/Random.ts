/**
 * Seeded random numbers (pure-rand's xoroshiro128+). Every random draw of the project goes
 * through a generator made from a user seed and a named stream ({@link rng}), so two purposes
 * never share draws and a change in one (say, more negatives) does not shift another (the stored
 * candidates). Plain functions on a mutable generator: hot loops call them directly.
 *
 * @module
 */
import { uniformFloat64 } from "pure-rand/distribution/uniformFloat64"
import { uniformInt } from "pure-rand/distribution/uniformInt"
import { xoroshiro128plus } from "pure-rand/generator/xoroshiro128plus"
import type { RandomGenerator } from "pure-rand/types/RandomGenerator"

export type { RandomGenerator }

/** 32-bit FNV-1a of a string, then mixed with the seed (murmur3 finaliser). */
export const streamSeed = (seed: number, stream: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < stream.length; i++) {
    h ^= stream.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  // Fold the full 53-bit seed in, high word and low word.
  h ^= Math.floor(seed / 0x100000000) | 0
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h ^= seed | 0
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return (h ^ (h >>> 16)) | 0
}

/** A generator for one purpose (`stream`, e.g. "candidates" or "teacher-2") under a user seed. */
export const rng = (seed: number, stream: string): RandomGenerator =>
  xoroshiro128plus(streamSeed(seed, stream))

/** A generator seeded with `seed` alone. */
export const generator = (seed: number): RandomGenerator => xoroshiro128plus(seed | 0)

/** The generator of the `stream`-th numbered purpose under a seed (epochs, teachers). */
export const derive = (seed: number, stream: number): RandomGenerator => rng(seed, `#${stream}`)

/** Uniform float in [0, 1). */
export const float = (g: RandomGenerator): number => uniformFloat64(g)

/** Uniform integer in [0, n). */
export const int = (g: RandomGenerator, n: number): number => uniformInt(g, 0, n - 1)

/** Uniform integer in [min, max] (both included). */
export const integer = (g: RandomGenerator, min: number, max: number): number =>
  uniformInt(g, min, max)

/** Standard normal draw (Box-Muller). */
export const normal = (g: RandomGenerator): number => {
  const u = 1 - uniformFloat64(g) // (0, 1]
  const v = uniformFloat64(g)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Fisher-Yates shuffle in place of the first `n` entries of `a` (all by default). */
export const shuffle = (g: RandomGenerator, a: Int32Array, n: number = a.length): void => {
  for (let i = n - 1; i > 0; i--) {
    const j = uniformInt(g, 0, i)
    const t = a[i]!
    a[i] = a[j]!
    a[j] = t
  }
}

/** Index drawn from unnormalised non-negative weights w[0..n) whose sum is `total`. */
export const categorical = (
  g: RandomGenerator,
  w: Float64Array,
  n: number,
  total: number,
): number => {
  let r = uniformFloat64(g) * total
  for (let i = 0; i < n; i++) {
    r -= w[i]!
    if (r < 0) return i
  }
  // Rounding: the last index with positive weight.
  for (let i = n - 1; i >= 0; i--) if (w[i]! > 0) return i
  return n - 1
}

/**
 * Glorot (Xavier) uniform initial values for a [fanIn, fanOut] weight: U(-l, l) with
 * l = sqrt(6 / (fanIn + fanOut)), the default initialiser of TensorFlow's dense layers.
 */
export const glorotUniform = (g: RandomGenerator, fanIn: number, fanOut: number): Float32Array => {
  const limit = Math.sqrt(6 / (fanIn + fanOut))
  const out = new Float32Array(fanIn * fanOut)
  for (let i = 0; i < out.length; i++) out[i] = (2 * uniformFloat64(g) - 1) * limit
  return out
}

/** Normal initial values with standard deviation `std` (embedding tables). */
export const normalArray = (g: RandomGenerator, size: number, std: number): Float32Array => {
  const out = new Float32Array(size)
  for (let i = 0; i < size; i++) out[i] = normal(g) * std
  return out
}
