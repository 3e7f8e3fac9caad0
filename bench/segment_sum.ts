/**
 * Benchmark of `UnsortedSegmentSum` for the gradient of an embedding lookup: a 3,900 x 8 table and
 * 200,000 lookups, i.e. x = [200000, 8] scattered into numSegments = 3900 rows.
 *
 * Compares the stock tfjs 4.22 cpu kernel (one pass over all rows PER SEGMENT), the scatter-add
 * kernels of `packages/tfjs/src/kernels` on cpu and wasm (one pass over the rows), and the whole
 * gradient of `gather` on both backends. Warm-up runs are excluded; the median of the timed runs
 * is reported. Prints a table and one JSON line.
 *
 * The stock kernel cannot run at full size in one call: it keeps every per-segment intermediate
 * (mask, cast mask, masked copy of x: ~15 MB) alive until it returns, ~60 GB for 3,900 segments.
 * Its cost is exactly linear in the segment count (each segment is an independent pass over all
 * 200,000 rows), so by default it is timed on the full x and ids with `--stock-segments` segments
 * and scaled to 3,900. `--stock-full` times one exact full pass instead, in calls of 100 segments
 * (ids shifted so each call computes its own 100 segments; ~11 minutes).
 *
 *   bun run bench/segment_sum.ts [--runs N] [--stock-runs N] [--stock-segments N] [--stock-full]
 */
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { registerKernels } from "../packages/tfjs/src/kernels/index.ts"
import {
  unsortedSegmentSumCpu,
  unsortedSegmentSumWasm,
} from "../packages/tfjs/src/kernels/UnsortedSegmentSum.ts"
import { integer, parseFlags, present } from "./Cli.ts"

const ROWS = 200_000
const DIM = 8
const SEGMENTS = 3_900

const { runs, stockRuns, stockSegments, stockFull } = await parseFlags(
  "bench/segment_sum.ts",
  "A segment sum of 200,000 rows into 3,900 segments: the wasm kernel against tfjs's stock one",
  {
    runs: integer("runs", 15, 1, "timed runs of the kernel"),
    stockRuns: integer("stock-runs", 3, 1, "timed runs of the stock kernel"),
    stockSegments: integer(
      "stock-segments",
      32,
      1,
      "segments the stock kernel is timed on (scaled to 3,900)",
    ),
    stockFull: present("stock-full", "time one exact full pass of the stock kernel instead"),
  },
)

type KernelFunc = tf.KernelFunc

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = s.length >> 1
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2
}

/** Milliseconds of each timed run of `f`, after `warmup` untimed runs. */
const time = (f: () => void, warmup: number, timed: number): Array<number> => {
  for (let i = 0; i < warmup; i++) f()
  const out: Array<number> = []
  for (let i = 0; i < timed; i++) {
    const t0 = performance.now()
    f()
    out.push(performance.now() - t0)
  }
  return out
}

/** Calls a kernel directly on the active backend and frees its output. */
const callKernel = (
  kernel: KernelFunc,
  x: tf.Tensor,
  ids: tf.Tensor,
  numSegments: number,
): void => {
  const backend = tf.backend()
  const out = kernel({
    inputs: { x, segmentIds: ids },
    backend,
    attrs: { numSegments },
  }) as tf.TensorInfo
  backend.disposeData(out.dataId)
}

/** The kernel's output values, for the agreement check. */
const kernelValues = (kernel: KernelFunc, x: tf.Tensor, ids: tf.Tensor, numSegments: number) => {
  const backend = tf.backend()
  const out = kernel({
    inputs: { x, segmentIds: ids },
    backend,
    attrs: { numSegments },
  }) as tf.TensorInfo
  const values = Float32Array.from(backend.readSync(out.dataId) as Float32Array)
  backend.disposeData(out.dataId)
  return values
}

// Seeded inputs (Park-Miller), identical on both backends.
let state = 20_240_607
const next = (): number => {
  state = (state * 16807) % 2147483647
  return state / 2147483647
}
const xValues = Float32Array.from({ length: ROWS * DIM }, () => 2 * next() - 1)
const idValues = Int32Array.from({ length: ROWS }, () => Math.floor(next() * SEGMENTS))

await tf.setBackend("cpu")
const stockCpu = tf.getKernel("UnsortedSegmentSum", "cpu").kernelFunc
registerKernels()
if (tf.getKernel("UnsortedSegmentSum", "cpu").kernelFunc !== unsortedSegmentSumCpu) {
  throw new Error("registerKernels did not replace the cpu kernel")
}

const results: Record<string, number> = {}
const rowsOut: Array<[string, string, string]> = []

// --- cpu -----------------------------------------------------------------------------------------
{
  const x = tf.tensor2d(xValues, [ROWS, DIM])
  const ids = tf.tensor1d(idValues, "int32")

  // Agreement on the first segments before timing anything.
  const stockOut = kernelValues(stockCpu, x, ids, stockSegments)
  const newOut = kernelValues(unsortedSegmentSumCpu, x, ids, stockSegments)
  const worst = stockOut.reduce((m, v, i) => Math.max(m, Math.abs(v - newOut[i]!)), 0)
  if (worst > 1e-3) throw new Error(`stock and new cpu kernels disagree by ${worst}`)

  const cpuMs = median(time(() => callKernel(unsortedSegmentSumCpu, x, ids, SEGMENTS), 3, runs))
  results["cpuNewMs"] = cpuMs
  rowsOut.push(["cpu, scatter-add kernel", cpuMs.toFixed(2), `median of ${runs}`])

  const perSegment =
    median(time(() => callKernel(stockCpu, x, ids, stockSegments), 1, stockRuns)) / stockSegments
  results["cpuStockMsPerSegment"] = perSegment
  results["cpuStockMs"] = perSegment * SEGMENTS
  rowsOut.push([
    "cpu, stock kernel",
    (perSegment * SEGMENTS).toFixed(0),
    `${perSegment.toFixed(1)} ms/segment x ${SEGMENTS} (median of ${stockRuns} on ${stockSegments} segments)`,
  ])

  if (stockFull) {
    const chunk = 100
    const chunks: Array<tf.Tensor> = []
    for (let offset = 0; offset < SEGMENTS; offset += chunk) {
      chunks.push(tf.sub(ids, tf.scalar(offset, "int32")))
    }
    const t0 = performance.now()
    for (const [i, shifted] of chunks.entries()) {
      callKernel(stockCpu, x, shifted, Math.min(chunk, SEGMENTS - i * chunk))
    }
    results["cpuStockFullMs"] = performance.now() - t0
    rowsOut.push([
      "cpu, stock kernel (full pass)",
      results["cpuStockFullMs"].toFixed(0),
      `one run, ${chunks.length} calls of ${chunk} segments`,
    ])
    tf.dispose(chunks)
  }

  const table = tf.zeros([SEGMENTS, DIM])
  const gatherGrad = () =>
    tf.tidy(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids, 0)))(table)
      g.dataSync()
    })
  const e2e = median(time(gatherGrad, 2, runs))
  results["cpuGatherGradMs"] = e2e
  rowsOut.push(["cpu, grad of gather (end to end)", e2e.toFixed(2), `median of ${runs}`])
  tf.dispose([x, ids, table])
}

// --- wasm ----------------------------------------------------------------------------------------
{
  await tf.setBackend("wasm")
  if (tf.getKernel("UnsortedSegmentSum", "wasm")?.kernelFunc !== unsortedSegmentSumWasm) {
    throw new Error("registerKernels did not register the wasm kernel")
  }
  const x = tf.tensor2d(xValues, [ROWS, DIM])
  const ids = tf.tensor1d(idValues, "int32")
  const wasmMs = median(time(() => callKernel(unsortedSegmentSumWasm, x, ids, SEGMENTS), 3, runs))
  results["wasmNewMs"] = wasmMs
  rowsOut.push(["wasm, scatter-add kernel", wasmMs.toFixed(2), `median of ${runs}`])
  const table = tf.zeros([SEGMENTS, DIM])
  const gatherGrad = () =>
    tf.tidy(() => {
      const g = tf.grad((t: tf.Tensor) => tf.sum(tf.gather(t, ids, 0)))(table)
      g.dataSync()
    })
  const e2e = median(time(gatherGrad, 2, runs))
  results["wasmGatherGradMs"] = e2e
  rowsOut.push(["wasm, grad of gather (end to end)", e2e.toFixed(2), `median of ${runs}`])
  tf.dispose([x, ids, table])
}

results["speedupCpu"] = results["cpuStockMs"]! / results["cpuNewMs"]!

const width = Math.max(...rowsOut.map((r) => r[0].length))
console.log(`UnsortedSegmentSum, x = [${ROWS}, ${DIM}], numSegments = ${SEGMENTS}`)
console.log(`${"variant".padEnd(width)}  ${"ms".padStart(10)}  how`)
for (const [name, ms, how] of rowsOut)
  console.log(`${name.padEnd(width)}  ${ms.padStart(10)}  ${how}`)
console.log(`cpu speed-up over stock: ${results["speedupCpu"].toFixed(0)}x`)
console.log(
  JSON.stringify({
    bench: "segment_sum",
    rows: ROWS,
    dim: DIM,
    numSegments: SEGMENTS,
    runs,
    stockRuns,
    stockSegments,
    ...results,
  }),
)
