/**
 * ψ_FDA over the partners of CausalD's causal label (eq. 13 inside eq. 14) alone: the fused op
 * `Fused.broadcastReluDot` (`packages/tfjs/src/kernels/BroadcastReluDot.ts`) against its
 * composition (gather, broadcast add to [K, B, S, h], ReLU, product, bias), forward and backward
 * (the gradients of the per-row block, the partner block, w and the bias), interleaved, median
 * wall and process CPU milliseconds. Defaults: the CausalD step's K 4, B 4096, S 16, h 16.
 *
 *   bun run bench/partner_label.ts [--teachers K] [--batch B] [--partners S] [--hidden h] [--steps N]
 */
import { Fused, Random } from "@causald/core"
import { fusedKernelOptions, startBackend } from "@causald/tfjs"
import { Effect } from "effect"
import { integer, parseFlags } from "./Cli.ts"
import { cpuDescription } from "./Machine.ts"
import { median } from "./train_step.ts"

const flags = await parseFlags(
  "bench/partner_label.ts",
  "ψ_FDA over the partners (eq. 13): the fused op against its composition, forward and backward",
  {
    teachers: integer("teachers", 4, 1, "K"),
    batch: integer("batch", 4096, 1, "B"),
    partners: integer("partners", 16, 1, "S"),
    hidden: integer("hidden", 16, 1, "h, ψ_FDA's hidden width"),
    steps: integer("steps", 31, 1, "timed rounds"),
    warmup: integer("warmup", 3, 0, "untimed rounds"),
  },
)
const { teachers: k, batch: n, partners: s, hidden: h } = flags
const b = await Effect.runPromise(startBackend("wasm", { wasmThreads: 1 }))
const g = Random.generator(1)
const values = (count: number) => Float32Array.from({ length: count }, () => Random.float(g) - 0.5)
const rows = b.parameter("rows", values(k * n * h), [k, n, h])
const partners = b.parameter("partners", values(n * h), [n, h])
const w = b.parameter("w", values(h), [h, 1])
const bias = b.parameter("bias", values(1), [1])
const ids = b.keep(
  b.tensor(
    Int32Array.from({ length: n * s }, () => Random.integer(g, 0, n - 1)),
    [n, s],
    "int32",
  ),
)
const seeds = b.keep(b.tensor(values(k * n * s), [k, n, s]))
const params = [rows, partners, w, bias]

const step = (fused: boolean): number => {
  fusedKernelOptions.enabled = fused
  return b.tidy(() => {
    const layer = {
      rows: rows.value,
      partners: partners.value,
      ids,
      weight: w.value,
      bias: bias.value,
    }
    const { value } = b.valueAndGrads(
      () =>
        b.sum(
          b.mul(
            Fused.broadcastReluDot(b, layer, () => Fused.broadcastReluDotComposed(b, layer)),
            seeds,
          ),
        ),
      params,
    )
    return b.read(value)[0]!
  })
}

const cpuNow = (): number => {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}
const settings = [false, true] as const
const wall = settings.map(() => [] as Array<number>)
const cpu = settings.map(() => [] as Array<number>)
for (let i = 0; i < flags.warmup; i++) for (const f of settings) step(f)
for (let i = 0; i < flags.steps; i++)
  settings.forEach((f, j) => {
    const c0 = cpuNow()
    const t0 = performance.now()
    step(f)
    wall[j]!.push(performance.now() - t0)
    cpu[j]!.push(cpuNow() - c0)
  })
const machine = cpuDescription()
console.log(`CPU ${machine.model} (${machine.vectorExtensions.join(" ")}), ${b.name}`)
console.log(
  `K ${k}, B ${n}, S ${s}, h ${h}: forward and backward, median of ${flags.steps} interleaved`,
)
for (const [j, f] of settings.entries())
  console.log(
    `${f ? "fused   " : "composed"}  wall ${median(wall[j]!).toFixed(1).padStart(7)} ms   cpu ${median(cpu[j]!).toFixed(1).padStart(7)} ms`,
  )
b.dispose([...params, ids, seeds])
