import { afterAll, beforeAll, describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { Checkpoint, Losses, type TensorBackend, Tensors } from "@causald/core"
import { Batches } from "@causald/data"
import { startBackend } from "@causald/tfjs"
import { NodeFileSystem } from "@effect/platform-node"
import { Effect, Exit, Layer } from "effect"
import { causalD, defaultCausalDConfig } from "../src/CausalDObjective.ts"
import { type BatchContext, recommendation } from "../src/Objective.ts"
import { layerSilent, Progress } from "../src/Progress.ts"
import {
  defaultTrainingConfig,
  type LeasePolicy,
  NotTrained,
  stoppingRule,
  type TrainingConfig,
  type TrainingResult,
  train,
} from "../src/Train.ts"
import { meanPool, smallData } from "./fixtures.ts"

const dir = mkdtempSync(join(tmpdir(), "causald-train-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

let backend: TensorBackend
beforeAll(async () => {
  // The issue asks resume-after-kill to be exact on the cpu backend.
  backend = await Effect.runPromise(startBackend("cpu"))
})

const data = smallData()
const config: TrainingConfig = {
  ...defaultTrainingConfig,
  maxEpochs: 4,
  minEpochs: 4,
  patience: 10,
  batchSize: 256,
  optimizer: { _tag: "Adagrad", learningRate: 0.5 },
  seed: 5,
}

const layers = (progress: Layer.Layer<Progress> = layerSilent) =>
  Layer.mergeAll(NodeFileSystem.layer, Layer.succeed(Tensors, backend), progress)

const runBase = (
  name: string,
  progress?: Layer.Layer<Progress>,
  overrides: Partial<TrainingConfig> = {},
  lease?: LeasePolicy,
) => {
  const model = meanPool(backend, data.numItems, 8, 1)
  const effect = train({
    name,
    directory: join(dir, name),
    data,
    objective: recommendation(backend, model),
    config: { ...config, ...overrides },
    ...(lease === undefined ? {} : { lease }),
  })
  return { model, exit: Effect.runPromiseExit(effect.pipe(Effect.provide(layers(progress)))) }
}

const values = (model: { parameters: ReadonlyArray<import("@causald/core").Parameter> }) =>
  backend.snapshot(model.parameters).map((a) => Array.from(a.data))

const withoutTimes = (result: TrainingResult) => ({
  ...result,
  resumed: undefined,
  history: result.history.map((h) => ({ ...h, seconds: 0, liveTensors: 0 })),
})

describe("training runs", () => {
  test("an objective's warm-up epochs are never the run's result, and a warm-up as long as the run is refused", async () => {
    // learns in epoch 1, then unlearns (inverted labels): epoch 1 is the best epoch by validation
    const unlearning = (model: ReturnType<typeof meanPool>, warmupEpochs: number) => ({
      model,
      parameters: model.parameters,
      prepare: () => undefined,
      loss: (context: BatchContext) => {
        const logits = model.predict(model.encode(context.inputs), context.inputs)
        const labels =
          context.epoch === 1 ? context.labels : backend.sub(backend.scalar(1), context.labels)
        return Losses.binaryCrossEntropy(backend, logits, labels)
      },
      warmupEpochs,
    })
    const run = (name: string, warmupEpochs: number, overrides: Partial<TrainingConfig> = {}) =>
      Effect.runPromiseExit(
        train({
          name,
          directory: join(dir, name),
          data,
          objective: unlearning(meanPool(backend, data.numItems, 8, 1), warmupEpochs),
          config: { ...config, ...overrides },
        }).pipe(Effect.provide(layers())),
      )
    const plain = await run("unlearning", 0)
    const warmed = await run("unlearning-warm-up", 1)
    if (!Exit.isSuccess(plain) || !Exit.isSuccess(warmed)) throw new Error("a run failed")
    expect(plain.value.bestEpoch).toBe(1)
    expect(warmed.value.history.map((h) => h.validationAuc)).toEqual(
      plain.value.history.map((h) => h.validationAuc),
    )
    expect(warmed.value.bestEpoch).toBeGreaterThan(1)
    expect(warmed.value.bestValidationAuc).toBe(
      Math.max(...warmed.value.history.slice(1).map((h) => h.validationAuc)),
    )
    expect(warmed.value.bestValidationAuc).toBeLessThan(plain.value.bestValidationAuc)
    // patience counts from the end of the warm-up: the shortest rule still reaches epoch 2
    const impatient = await run("unlearning-impatient", 1, { minEpochs: 1, patience: 1 })
    if (!Exit.isSuccess(impatient)) throw new Error("the impatient run failed")
    expect(impatient.value.bestEpoch).toBe(2)
    expect(impatient.value.epochs).toBe(3)
    const refused = await run("warm-up-too-long", 4)
    expect(Exit.isFailure(refused)).toBe(true)
    expect(String(Exit.isFailure(refused) ? refused.cause : "")).toContain(
      "warms up for 4 epoch(s) but the run has at most 4",
    )
  })

  test("a run learns: validation AUC after training is well above chance", async () => {
    const { exit } = runBase("learns", undefined, { maxEpochs: 6, minEpochs: 6 })
    const result = await exit
    expect(Exit.isSuccess(result)).toBe(true)
    if (!Exit.isSuccess(result)) return
    expect(result.value.epochs).toBe(6)
    expect(result.value.history[0]!.validationAuc).toBeLessThan(0.6)
    expect(result.value.bestValidationAuc).toBeGreaterThan(0.65)
    expect(result.value.history.map((h) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6])
  })

  test("a run killed in the middle of an epoch resumes from its last checkpoint and ends exactly as an uninterrupted one", async () => {
    const reference = runBase("uninterrupted")
    const uninterrupted = await reference.exit
    expect(Exit.isSuccess(uninterrupted)).toBe(true)

    // Interrupt the run at step 2 of epoch 3: epochs 1 and 2 are checkpointed, epoch 3 is lost.
    const killer = Layer.succeed(
      Progress,
      Progress.of({
        update: (u) =>
          u.stage.endsWith("epoch 3") && u.done === 2 ? Effect.interrupt : Effect.void,
        note: () => Effect.void,
      }),
    )
    const killed = await runBase("killed", killer).exit
    expect(Exit.hasInterrupts(killed)).toBe(true)
    const meta = await Effect.runPromise(
      Effect.map(Checkpoint.load(join(dir, "killed", "last.ckpt")), (c) => c.meta).pipe(
        Effect.provide(NodeFileSystem.layer),
      ),
    )
    expect((meta as { epoch: number }).epoch).toBe(2)

    const resumed = runBase("killed")
    const after = await resumed.exit
    expect(Exit.isSuccess(after)).toBe(true)
    if (!Exit.isSuccess(after) || !Exit.isSuccess(uninterrupted)) return
    expect(after.value.resumed).toBe(true)
    expect(withoutTimes(after.value)).toEqual(withoutTimes(uninterrupted.value))
    expect(values(resumed.model)).toEqual(values(reference.model))
  })

  test("a finished run is reloaded, not retrained, and its model holds the best epoch's parameters", async () => {
    const first = runBase("finished")
    const done = await first.exit
    const again = runBase("finished")
    const reloaded = await again.exit
    expect(Exit.isSuccess(done) && Exit.isSuccess(reloaded)).toBe(true)
    if (!Exit.isSuccess(done) || !Exit.isSuccess(reloaded)) return
    expect(reloaded.value.resumed).toBe(true)
    expect(reloaded.value.history).toEqual(done.value.history)
    expect(values(again.model)).toEqual(values(first.model))
  })

  test('lease "reload-only": a finished run is read past any lease; a missing or unfinished one fails with NotTrained', async () => {
    const first = runBase("reload-only")
    const done = await first.exit
    // A lease of a live-looking process of another host, which "wait" would wait for forever.
    const lease = join(dir, "reload-only", "lease")
    const foreign = JSON.stringify({
      pid: 1,
      host: `elsewhere-${hostname()}`,
      started: null,
      token: "t",
    })
    writeFileSync(lease, foreign)
    const again = runBase("reload-only", undefined, {}, "reload-only")
    const reloaded = await again.exit
    expect(Exit.isSuccess(done) && Exit.isSuccess(reloaded)).toBe(true)
    if (!Exit.isSuccess(done) || !Exit.isSuccess(reloaded)) return
    expect(reloaded.value.history).toEqual(done.value.history)
    expect(values(again.model)).toEqual(values(first.model))
    // untouched: neither taken over nor removed
    expect(readFileSync(lease, "utf8")).toBe(foreign)

    const missing = await runBase("never-trained", undefined, {}, "reload-only").exit
    expect(Exit.isFailure(missing)).toBe(true)
    expect(JSON.stringify(missing)).toContain("NotTrained")
    expect(existsSync(join(dir, "never-trained"))).toBe(false)
    // stopped after 2 epochs by a lower cap: not finished under this run's rule of 4
    await runBase("stopped-early", undefined, { maxEpochs: 2, minEpochs: 2 }).exit
    const unfinished = await Effect.runPromiseExit(
      train({
        name: "stopped-early",
        directory: join(dir, "stopped-early"),
        data,
        objective: recommendation(backend, meanPool(backend, data.numItems, 8, 1)),
        config,
        lease: "reload-only",
      }).pipe(Effect.flip, Effect.provide(layers())),
    )
    expect(Exit.isSuccess(unfinished) && unfinished.value instanceof NotTrained).toBe(true)
    expect(Exit.isSuccess(unfinished) && unfinished.value.message).toBe(
      `stopped-early: not trained in ${join(dir, "stopped-early")} (its last checkpoint is after epoch 2, not finished); this process only reloads finished models`,
    )
  })

  /** The test config's uninterrupted run, the reference of the continuation tests below. */
  let reference: ReturnType<typeof runBase> | undefined
  test.each([
    ["the epoch cap is raised", { maxEpochs: 2, minEpochs: 2 }, [2, "max-epochs"]],
    // patience 0 stops it right after its first (minimum) epoch
    ["patience is longer", { minEpochs: 1, patience: 0 }, [1, "patience"]],
  ] as const)(
    "a run stopped early continues when %s, exactly as if the rule had always been the longer one",
    async (_, shorter, stopped) => {
      reference ??= runBase("rule-reference")
      const four = await reference.exit
      const name = `stopped-then-continued-${stopped[1]}`
      const early = await runBase(name, undefined, shorter).exit
      expect(Exit.isSuccess(early) && [early.value.epochs, early.value.stoppedBy]).toEqual([
        ...stopped,
      ])
      const again = runBase(name)
      const continued = await again.exit
      expect(Exit.isSuccess(four) && Exit.isSuccess(continued)).toBe(true)
      if (!Exit.isSuccess(four) || !Exit.isSuccess(continued)) return
      expect(continued.value.epochs).toBe(4)
      expect(withoutTimes(continued.value)).toEqual(withoutTimes(four.value))
      expect(values(again.model)).toEqual(values(reference.model))
    },
  )

  test("epochUnit all-users: a run on a quarter of the users trains as many steps as one on all", async () => {
    const users = Int32Array.from({ length: Math.floor(data.numUsers / 4) }, (_, u) => u)
    const own = Batches.trainingBatchCount(data, {
      batchSize: config.batchSize,
      negatives: 1,
      epochSeed: 0,
      users,
    })
    const all = Batches.trainingBatchCount(data, {
      batchSize: config.batchSize,
      negatives: 1,
      epochSeed: 0,
    })
    expect(all / own).toBeGreaterThan(2)
    const run = (name: string, epochUnit: "own-rows" | "all-users") => {
      const model = meanPool(backend, data.numItems, 8, 1)
      return Effect.runPromiseExit(
        train({
          name,
          directory: join(dir, name),
          data,
          objective: recommendation(backend, model),
          config: { ...config, maxEpochs: 2, minEpochs: 2, epochUnit },
          users,
        }).pipe(Effect.provide(layers())),
      ).finally(() => backend.dispose(model.parameters))
    }
    const scaled = await run("quarter-all-users", "all-users")
    const plain = await run("quarter-own-rows", "own-rows")
    expect(Exit.isSuccess(scaled) && scaled.value.epochs).toBe(Math.ceil((2 * all) / own))
    expect(Exit.isSuccess(plain) && plain.value.epochs).toBe(2)
  })

  test("stoppingRule: the counts times the scale, rounded up; cap before patience", () => {
    const rule = stoppingRule({ ...config, maxEpochs: 10, minEpochs: 3, patience: 2 }, 2.5)
    expect([rule.maxEpochs, rule.minEpochs, rule.patience]).toEqual([25, 8, 5])
    expect(rule.stoppedBy(7, 1)).toBe("")
    expect(rule.stoppedBy(8, 3)).toBe("patience")
    expect(rule.stoppedBy(8, 4)).toBe("")
    expect(rule.stoppedBy(25, 25)).toBe("max-epochs")
    expect(stoppingRule(config, 1).minEpochs).toBe(config.minEpochs)
  })

  test("the live tensor count is the same after every epoch, and a run leaves only its model behind", async () => {
    const before = backend.liveTensors()
    const run = runBase("live-count", undefined, { maxEpochs: 5, minEpochs: 5 })
    const exit = await run.exit
    expect(Exit.isSuccess(exit)).toBe(true)
    if (!Exit.isSuccess(exit)) return
    const counts = exit.value.history.map((h) => h.liveTensors)
    expect(counts).toHaveLength(5)
    expect(new Set(counts).size).toBe(1)
    expect(backend.liveTensors() - before).toBe(run.model.parameters.length)
    backend.dispose(run.model.parameters)
    expect(backend.liveTensors()).toBe(before)
  })

  test("a NaN loss stops the run with a typed error and keeps the last good checkpoint", async () => {
    const model = meanPool(backend, data.numItems, 8, 1)
    const base = recommendation(backend, model)
    let steps = 0
    const stepsPerEpoch = Batches.trainingBatchCount(data, {
      batchSize: config.batchSize,
      negatives: 1,
      epochSeed: 0,
    })
    const poisoned = {
      ...base,
      loss: (context: Parameters<typeof base.loss>[0], p: undefined) => {
        steps += 1
        const l = base.loss(context, p)
        return steps > stepsPerEpoch + 1 ? backend.mul(l, backend.scalar(Number.NaN)) : l
      },
    }
    const exit = await Effect.runPromiseExit(
      train({ name: "nan", directory: join(dir, "nan"), data, objective: poisoned, config }).pipe(
        Effect.provide(layers()),
      ),
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const error = Exit.isFailure(exit) ? exit.cause.toString() : ""
    expect(error).toContain("NonFiniteLoss")
    const meta = await Effect.runPromise(
      Effect.map(Checkpoint.load(join(dir, "nan", "last.ckpt")), (c) => c.meta).pipe(
        Effect.provide(NodeFileSystem.layer),
      ),
    )
    expect((meta as { epoch: number }).epoch).toBe(1)
    expect(error).toContain("epoch 2, step 2")
  })
})

describe("the CausalD student", () => {
  test("trains with frozen teachers, and its saved result has exactly the base model's parameters", async () => {
    const teachers = [
      meanPool(backend, data.numItems, 8, 11, "teacher0"),
      meanPool(backend, data.numItems, 8, 12, "teacher1"),
    ]
    const teacherValues = teachers.map(values)
    const student = meanPool(backend, data.numItems, 8, 1)
    const objective = causalD(
      backend,
      student,
      teachers,
      { ...defaultCausalDConfig, teacherPrior: Float32Array.of(0.25, 0.75) },
      1,
    )
    expect(objective.parameters.length).toBe(
      student.parameters.length + objective.estimator.parameters.length,
    )
    const exit = await Effect.runPromiseExit(
      train({
        name: "causald",
        directory: join(dir, "causald"),
        data,
        objective,
        config: { ...config, maxEpochs: 2, minEpochs: 2 },
      }).pipe(Effect.provide(layers())),
    )
    expect(Exit.isSuccess(exit)).toBe(true)
    if (Exit.isSuccess(exit)) expect(exit.value.bestValidationAuc).toBeGreaterThan(0.5)
    // Teachers are never updated.
    expect(teachers.map(values)).toEqual(teacherValues)
    // The result holds the student alone: the base model's parameter names and shapes.
    const best = await Effect.runPromise(
      Checkpoint.load(join(dir, "causald", "best.ckpt")).pipe(Effect.provide(NodeFileSystem.layer)),
    )
    expect(best.arrays.map((a) => [a.name, [...a.shape]])).toEqual(
      student.parameters.map((p) => [p.name, [...p.value.shape]]),
    )
    objective.dispose()
  })

  test("logs L_Rec, L_BDA and L_FDA per epoch, which weighted by their λ sum to the loss, and keeps them across a reload", async () => {
    const teachers = [
      meanPool(backend, data.numItems, 8, 11, "teacher0"),
      meanPool(backend, data.numItems, 8, 12, "teacher1"),
    ]
    const run = () => {
      const objective = causalD(
        backend,
        meanPool(backend, data.numItems, 8, 1),
        teachers,
        { ...defaultCausalDConfig, lambdaBda: 0.5, lambdaFda: 2, teacherPrior: null },
        1,
      )
      return Effect.runPromise(
        train({
          name: "causald-terms",
          directory: join(dir, "causald-terms"),
          data,
          objective,
          config: { ...config, maxEpochs: 2, minEpochs: 2 },
        }).pipe(Effect.provide(layers()), Effect.ensuring(Effect.sync(objective.dispose))),
      )
    }
    const trained = await run()
    expect(trained.history.length).toBe(2)
    for (const epoch of trained.history) {
      const terms = epoch.terms ?? {}
      expect(Object.keys(terms).sort()).toEqual(["L_BDA", "L_FDA", "L_Rec"])
      const weighted = terms.L_Rec! + 0.5 * terms.L_BDA! + 2 * terms.L_FDA!
      expect(Math.abs(weighted - epoch.loss)).toBeLessThan(1e-5 * Math.abs(epoch.loss))
      expect(terms.L_BDA!).toBeGreaterThan(0)
    }
    // the terms are part of the run's state: a finished run reloads them from last.ckpt
    const reloaded = await run()
    expect(reloaded.resumed).toBe(true)
    expect(reloaded.history.map((h) => h.terms)).toEqual(trained.history.map((h) => h.terms))
    // a single-term objective reports none
    const base = runBase("base-terms", undefined, { maxEpochs: 1, minEpochs: 1 })
    const exit = await base.exit
    expect(Exit.isSuccess(exit) && exit.value.history.every((h) => h.terms === undefined)).toBe(
      true,
    )
  })

  test("without the front-door loss (frontDoor: false, the w.o. FDA ablation) the estimator is not built or trained", () => {
    const teachers = [meanPool(backend, data.numItems, 8, 11, "teacher0")]
    const student = meanPool(backend, data.numItems, 8, 1)
    const objective = causalD(
      backend,
      student,
      teachers,
      { ...defaultCausalDConfig, frontDoor: false, teacherPrior: null },
      1,
    )
    expect(objective.parameters).toEqual(student.parameters)
    objective.dispose()
  })
})
