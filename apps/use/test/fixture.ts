/**
 * A small finished repro run for the tests of `apps/use`: `bun run repro --quick` on the
 * simulated world (no external files), trained once per test file in a temporary folder.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Checkpoint, type Tensors } from "@causald/core"
import { layer as tensorsLayer } from "@causald/tfjs"
import { NodeServices } from "@effect/platform-node"
import { Effect, Layer, Option } from "effect"
import type { RecommendOptions } from "../src/Recommend.ts"

export const repoRoot = join(import.meta.dir, "..", "..", "..")
const reproMain = join(repoRoot, "apps", "repro", "src", "main.ts")

/** A fresh temporary folder and its removal. */
export const tempFolder = (prefix: string) => {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * Trains a quick study into `out` (as a process, as a user would): `methods` over seed 1, only
 * Table 3, no group-wise models. Fails the test with repro's stderr when it fails.
 */
export const trainRun = async (
  out: string,
  methods: string,
  extra: ReadonlyArray<string> = [],
): Promise<void> => {
  const proc = Bun.spawn(
    [
      "bun",
      reproMain,
      "--quick",
      "--backend",
      "wasm",
      "--seeds",
      "1",
      "--methods",
      methods,
      "--experiments",
      "table3",
      "--heterogeneity",
      "off",
      "--out",
      out,
      ...extra,
    ],
    { stdout: "ignore", stderr: "pipe" },
  )
  const stderr = await new Response(proc.stderr).text()
  const code = await proc.exited
  if (code !== 0) throw new Error(`repro failed (${code}): ${stderr.slice(-2000)}`)
}

/** Runs a process of `apps/use` (`recommend-main.ts`, ...) to its end. */
export const runUse = async (
  entry: string,
  args: ReadonlyArray<string>,
): Promise<{ code: number; stdout: string; stderr: string }> => {
  const proc = Bun.spawn(["bun", join(repoRoot, "apps", "use", "src", entry), ...args], {
    stdout: "pipe",
    stderr: "pipe",
  })
  const [stdout, stderr] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
  ])
  return { code: await proc.exited, stdout, stderr }
}

/** The services the in-process tests run with: a tensor backend (as the environment says) and the file system. */
export const services = Layer.mergeAll(tensorsLayer(), NodeServices.layer)

export const runEffect = <A, E>(
  effect: Effect.Effect<A, E, Tensors | NodeServices.NodeServices>,
): Promise<A> => Effect.runPromise(effect.pipe(Effect.provide(services)) as Effect.Effect<A, E>)

/** The failure of an effect (which must fail), for error assertions. */
export const failureOf = async <A, E>(
  effect: Effect.Effect<A, E, Tensors | NodeServices.NodeServices>,
): Promise<E> => {
  const result = await runEffect(
    Effect.flip(effect) as Effect.Effect<E, A, Tensors | NodeServices.NodeServices>,
  )
  return result
}

/** Rewrites a model's `last.ckpt` as if its training had stopped after epoch 1, unfinished. */
export const markUnfinished = (file: string) =>
  Effect.gen(function* () {
    const contents = yield* Checkpoint.load(file)
    const meta = contents.meta as Record<string, unknown>
    yield* Checkpoint.save(file, { arrays: contents.arrays, meta: { ...meta, finished: false } })
  })

/** `recommend`'s options for `run`: the CausalD student's top 10, with `over` on top. */
export const recommendOptions = (
  run: string,
  over: Partial<RecommendOptions>,
): RecommendOptions => ({
  run,
  method: "causald",
  seed: Option.none(),
  user: Option.none(),
  usersFile: Option.none(),
  userRange: Option.none(),
  history: Option.none(),
  k: 10,
  format: Option.none(),
  output: Option.none(),
  ...over,
})
