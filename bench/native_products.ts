/**
 * One matrix product on the wasm backend, per library: the wasm kernels (XNNPACK, the SIMD
 * transposed product of `TransposedProduct.ts`), and each native BLAS found (`native/Blas.ts`)
 * at 1 and 2 threads. The variants are timed interleaved (wasm, onednn/1, onednn/2, ...), so a
 * background load shifts them alike; medians of the rounds. Each product runs through
 * `MatMul.product`, as the models' products and their gradients do.
 *
 * What it decides: `nativeProductOptions.minMultiplyAdds` (the size under which the native
 * call is not worth it) and whether a second thread pays (bench/NOTES.md, "Native matrix
 * products").
 *
 *   bun run bench/native_products.ts [--rounds N] [--ms-per-round N]
 */
import { blasOrder, openBlas, startBackend } from "@causald/tfjs"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { product } from "../packages/tfjs/src/kernels/MatMul.ts"
import { nativeProductOptions, setNativeBlas } from "../packages/tfjs/src/kernels/NativeMatMul.ts"
import type { NativeBlas } from "../packages/tfjs/src/native/Blas.ts"
import { integer, parseFlags } from "./Cli.ts"
import { median } from "./train_step.ts"

const { rounds, msPerRound } = await parseFlags(
  "bench/native_products.ts",
  "One matrix product on the wasm backend per library: the wasm kernels and each native BLAS found at 1 and 2 threads, timed interleaved",
  {
    rounds: integer("rounds", 5, 1, "rounds of every variant (medians are reported)"),
    msPerRound: integer("ms-per-round", 40, 1, "milliseconds of products per round and variant"),
  },
)

await Effect.runPromise(startBackend("wasm", { blas: "none" }))
nativeProductOptions.minMultiplyAdds = 0

/** [label, rows of op(x), reduction, columns of op(y), x transposed]. */
const shapes: ReadonlyArray<readonly [string, number, number, number, boolean]> = [
  ["tiny 8x8x8", 8, 8, 8, false],
  ["16x16x16", 16, 16, 16, false],
  ["64x16x16", 64, 16, 16, false],
  ["32x32x32", 32, 32, 32, false],
  ["256x36x80", 256, 36, 80, false],
  ["4096x36x80 (DIN MLP layer)", 4096, 36, 80, false],
  ["4096x200x80", 4096, 200, 80, false],
  ["204800x40x80 (DIN attention)", 204800, 40, 80, false],
  ["x^T y 40x204800x80 (its weight gradient)", 40, 204800, 80, true],
  ["x^T y 36x4096x80", 36, 4096, 80, true],
]

const variants: Array<{ name: string; blas: NativeBlas | undefined; threads: number }> = [
  { name: "wasm", blas: undefined, threads: 1 },
]
for (const name of blasOrder) {
  const found = openBlas(name)
  if (typeof found === "string") {
    console.log(`${name}: not found (${found})`)
    continue
  }
  variants.push({ name: `${name}/1`, blas: found, threads: 1 })
  if (found.setThreads(1)) variants.push({ name: `${name}/2`, blas: found, threads: 2 })
}

const random = (n: number): Float32Array => {
  const v = new Float32Array(n)
  let s = 12345
  for (let i = 0; i < n; i++) {
    s = (s * 16807) % 2147483647
    v[i] = s / 2147483647 - 0.5
  }
  return v
}

console.log(
  `shape${" ".repeat(38)}${variants.map((v) => v.name.padStart(12)).join("")}   (µs per product)`,
)
for (const [label, m, k, n, tx] of shapes) {
  const x = tf.tensor(random(m * k), tx ? [k, m] : [m, k])
  const y = tf.tensor(random(k * n), [k, n])
  const times = variants.map(() => [] as Array<number>)
  for (let r = 0; r < rounds + 1; r++)
    variants.forEach((v, i) => {
      setNativeBlas(v.blas)
      v.blas?.setThreads(v.threads)
      let reps = 0
      const start = performance.now()
      while (performance.now() - start < msPerRound || reps < 2) {
        product(x, tx, y, false).dispose()
        reps++
      }
      // the first round warms up
      if (r > 0) times[i]!.push(((performance.now() - start) * 1000) / reps)
    })
  x.dispose()
  y.dispose()
  console.log(`${label.padEnd(43)}${times.map((t) => median(t).toFixed(1).padStart(12)).join("")}`)
}
setNativeBlas(undefined)
