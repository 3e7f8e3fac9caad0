/**
 * Saving and loading a named set of parameters and optimiser slots on a real file system, on
 * every backend: a round trip restores the values exactly, and training resumed from it
 * continues exactly as an uninterrupted run.
 */
import { afterAll, expect, test } from "bun:test"
import { mkdtempSync, readdirSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import {
  Checkpoint,
  type OptimizerSpec,
  type Parameter,
  Random,
  type TensorBackend,
  Tensors,
} from "@causald/core"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Layer } from "effect"
import { describeEachBackend } from "./backends.ts"

const dir = mkdtempSync(join(tmpdir(), "causald-ckpt-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const run = <A, E>(
  backend: TensorBackend,
  effect: Effect.Effect<A, E, Tensors | import("effect").FileSystem.FileSystem>,
) =>
  Effect.runPromise(
    effect.pipe(Effect.provide(Layer.merge(NodeFileSystem.layer, Layer.succeed(Tensors, backend)))),
  )

const model = (b: TensorBackend, seed: number) => {
  const rng = Random.generator(seed)
  return [
    b.parameter("w", Random.normalArray(rng, 12, 1), [3, 4]),
    b.parameter("bias", Random.normalArray(rng, 4, 1), [4]),
  ] as const
}

/** A few steps of least squares on fixed data. */
const train = (
  b: TensorBackend,
  params: ReadonlyArray<Parameter>,
  optimizer: ReturnType<TensorBackend["optimizer"]>,
  steps: number,
) => {
  const x = b.tensor(
    Float32Array.from({ length: 6 }, (_, i) => Math.sin(i)),
    [2, 3],
  )
  for (let s = 0; s < steps; s++)
    b.tidy(() => {
      const { grads } = b.valueAndGrads(
        () => b.mean(b.square(b.add(b.matmul(x, params[0]!.value), params[1]!.value))),
        params,
      )
      optimizer.apply(params, grads)
    })
  b.dispose(x)
}

for (const spec of [
  { _tag: "Adagrad", learningRate: 0.1 },
  { _tag: "Adam", learningRate: 0.05 },
] satisfies ReadonlyArray<OptimizerSpec>) {
  describeEachBackend(`parameter checkpoints with ${spec._tag}`, (backend) => {
    test("save, keep training, reload: the values and optimiser state are those saved", async () => {
      const b = backend()
      const params = model(b, 1)
      const optimizer = b.optimizer(spec)
      train(b, params, optimizer, 3)
      const path = join(dir, `${b.name}-${spec._tag}.ckpt`)
      const saved = b.snapshot(params).map((a) => Array.from(a.data))
      await run(b, Checkpoint.saveParameters(path, params, { optimizer, meta: { epoch: 3 } }))
      expect(readdirSync(dir).filter((f) => f.endsWith(".partial"))).toEqual([])

      // Continue 4 steps: the reference for a resumed run.
      train(b, params, optimizer, 4)
      const uninterrupted = b.snapshot(params).map((a) => Array.from(a.data))

      // A fresh model and optimiser, restored from the checkpoint, then the same 4 steps.
      const restored = model(b, 99)
      const freshOptimizer = b.optimizer(spec)
      const meta = await run(
        b,
        Checkpoint.loadParameters(path, restored, { optimizer: freshOptimizer }),
      )
      expect(meta).toEqual({ epoch: 3 })
      expect(b.snapshot(restored).map((a) => Array.from(a.data))).toEqual(saved)
      train(b, restored, freshOptimizer, 4)
      expect(b.snapshot(restored).map((a) => Array.from(a.data))).toEqual(uninterrupted)

      optimizer.dispose()
      freshOptimizer.dispose()
      b.dispose([...params, ...restored])
    })

    test("a checkpoint of another shape is refused and changes nothing", async () => {
      const b = backend()
      const params = model(b, 2)
      const path = join(dir, `${b.name}-${spec._tag}-shape.ckpt`)
      await run(b, Checkpoint.saveParameters(path, params))
      const other = [
        b.parameter("w", new Float32Array(8), [2, 4]),
        b.parameter("bias", new Float32Array(4), [4]),
      ]
      const before = b.snapshot(other).map((a) => Array.from(a.data))
      const result = await Effect.runPromise(
        Effect.result(Checkpoint.loadParameters(path, other)).pipe(
          Effect.provide(Layer.merge(NodeFileSystem.layer, Layer.succeed(Tensors, b))),
        ),
      )
      expect(result._tag === "Failure" && result.failure.message).toContain(
        'parameter "w" has shape [3, 4], the model expects [2, 4]',
      )
      expect(b.snapshot(other).map((a) => Array.from(a.data))).toEqual(before)
      b.dispose([...params, ...other])
    })
  })
}
