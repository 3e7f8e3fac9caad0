/**
 * DIN (Zhou et al. 2018) on every backend: shapes, masking, the fast first layer of the
 * activation unit against the concatenation form, gradients, learning, seeding, memory, Dice.
 */
import { expect, test } from "bun:test"
import { Random } from "@causald/core"
import fc from "fast-check"
import { describeEachBackend } from "../../../test/backends.ts"
import { Din, forInference, Inputs, InvalidConfig, logits } from "../src/index.ts"
import {
  gradients,
  learnNextItemRule,
  maxAbs,
  maxAbsDiff,
  score,
  scramblePadding,
  smallDin,
  syntheticBatch,
  trainStep,
  vocabulary,
} from "./fixtures.ts"

const variants = {
  sigmoid: {},
  dice: { attentionActivation: "dice", predictorActivation: "dice" },
  softmax: { attentionNormalization: "softmax" },
  user: { userEmbedding: true },
} as const satisfies Record<string, Partial<Din.DinConfig>>

describeEachBackend("DIN", (backend) => {
  test("shapes: mediator [B, d], item representation [B, d], logits [B]", () => {
    const b = backend()
    const batch = syntheticBatch(Random.generator(1), 6, 5)
    for (const [name, options] of Object.entries(variants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options }, 3)
      b.tidy(() => {
        const inputs = Inputs.toInputs(b, batch)
        const m = model.encode(inputs)
        expect({ name, shape: m.shape }).toEqual({ name, shape: [6, 8] })
        expect(model.embedItems(inputs.item).shape).toEqual([6, 8])
        expect(logits(model, inputs).shape).toEqual([6])
        expect(logits(forInference(model), inputs).shape).toEqual([6])
      })
      expect(model.mediatorSize).toBe(8)
      expect(model.itemSize).toBe(8)
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  test("padding never changes an output: scrambling masked ids leaves logits unchanged", () => {
    const b = backend()
    for (const [name, options] of Object.entries(variants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options }, 5)
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
          const rng = Random.generator(seed)
          const batch = syntheticBatch(rng, 8, 6)
          const scrambled = scramblePadding(rng, batch)
          const diff = maxAbsDiff(score(b, model, batch), score(b, model, scrambled))
          expect({ name, diff }).toEqual({ name, diff: 0 })
        }),
        { seed: 42, numRuns: 8 },
      )
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  test("fast first layer equals the [h, t, h - t, h * t] concatenation to 1e-5", () => {
    const b = backend()
    for (const activation of ["sigmoid", "dice"] as const) {
      // Large embeddings so that every block of the first layer matters.
      const model = Din.make(
        b,
        vocabulary,
        { ...smallDin, attentionActivation: activation, embeddingStd: 1 },
        9,
      )
      const batch = syntheticBatch(Random.generator(2), 10, 7)
      const [fast, naive, firstFast, firstNaive] = b.tidy(() => {
        const inputs = Inputs.toInputs(b, batch)
        const table = model.itemEmbedding.value
        const h = b.gather(table, b.transpose(inputs.history))
        const t = b.gather(table, inputs.item)
        const mask = b.transpose(inputs.historyMask)
        return [
          b.read(Din.encode(b, model, inputs, "train", "fast")),
          b.read(Din.encode(b, model, inputs, "train", "naive")),
          b.read(Din.attentionLogits(b, model, h, t, mask, "infer", "fast")),
          b.read(Din.attentionLogits(b, model, h, t, mask, "infer", "naive")),
        ]
      })
      expect(maxAbs(fast!)).toBeGreaterThan(1e-3)
      expect(maxAbsDiff(fast!, naive!)).toBeLessThan(1e-5)
      expect(maxAbsDiff(firstFast!, firstNaive!)).toBeLessThan(1e-5)
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  test("gradients reach every trainable parameter", () => {
    const b = backend()
    const batch = syntheticBatch(Random.generator(4), 12, 5)
    for (const [name, options] of Object.entries(variants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options }, 11)
      const grads = gradients(b, model, batch)
      model.parameters.forEach((p, i) => {
        expect({ name, parameter: p.name, nonZero: maxAbs(grads[i]!) > 0 }).toEqual({
          name,
          parameter: p.name,
          nonZero: true,
        })
      })
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  for (const name of ["sigmoid", "dice"] as const)
    test(`${name}: a few hundred Adagrad steps learn the synthetic next-item rule (AUC well above 0.5)`, () => {
      const b = backend()
      const model = Din.make(b, vocabulary, { ...smallDin, ...variants[name] }, 13)
      const { before, after } = learnNextItemRule(b, model, forInference(model))
      expect(before).toBeLessThan(0.6)
      expect(after).toBeGreaterThan(0.8)
      b.dispose([...model.parameters, ...model.buffers])
    }, 30_000)

  test("the same seed gives the same parameters; another seed does not", () => {
    const b = backend()
    const snap = (seed: number) => {
      const model = Din.make(b, vocabulary, { ...smallDin, userEmbedding: true }, seed)
      const arrays = b.snapshot(model.parameters)
      b.dispose([...model.parameters, ...model.buffers])
      return arrays
    }
    const a = snap(7)
    const again = snap(7)
    const other = snap(8)
    expect(a.map((x) => x.name)).toEqual(again.map((x) => x.name))
    a.forEach((x, i) => {
      expect(x.name.startsWith("din/")).toBe(true)
      expect(Array.from(x.data)).toEqual(Array.from(again[i]!.data))
    })
    expect(maxAbsDiff(a[0]!.data, other[0]!.data)).toBeGreaterThan(0)
    // Row 0 of the item table is the padding item.
    expect(maxAbs(a[0]!.data.subarray(0, 8))).toBe(0)
  })

  test("no tensor leaks across repeated training steps", () => {
    const b = backend()
    for (const options of [variants.sigmoid, variants.dice]) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options }, 17)
      const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
      const rng = Random.generator(3)
      trainStep(b, model, optimizer, syntheticBatch(rng, 16, 5))
      const live = b.liveTensors()
      for (let i = 0; i < 4; i++) {
        trainStep(b, model, optimizer, syntheticBatch(rng, 16, 5))
        score(b, forInference(model), syntheticBatch(rng, 16, 5))
        expect(b.liveTensors()).toBe(live)
      }
      optimizer.dispose()
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  test("Dice: training updates the running statistics; inference uses them and is row-independent", () => {
    const b = backend()
    const model = Din.make(b, vocabulary, { ...smallDin, ...variants.dice, diceMomentum: 0.5 }, 19)
    expect(model.buffers.map((p) => p.name)).toContain("din/attention/dice0/running-mean")
    const batch = syntheticBatch(Random.generator(5), 12, 5)
    const before = b.snapshot(model.buffers)
    const inferred = score(b, forInference(model), batch)
    expect(b.snapshot(model.buffers)).toEqual(before)
    score(b, model, batch)
    const after = b.snapshot(model.buffers)
    expect(maxAbsDiff(before[0]!.data, after[0]!.data)).toBeGreaterThan(0)
    // Inference: one row scored alone equals the row scored within the batch.
    const updated = score(b, forInference(model), batch)
    expect(maxAbsDiff(inferred, updated)).toBeGreaterThan(0)
    for (const r of [0, 5, 11]) {
      const row: Inputs.RowBatch = {
        user: batch.user.subarray(r, r + 1),
        history: batch.history.subarray(r * 5, r * 5 + 5),
        historyLength: batch.historyLength.subarray(r, r + 1),
        item: batch.item.subarray(r, r + 1),
      }
      expect(Math.abs(score(b, forInference(model), row)[0]! - updated[r]!)).toBeLessThan(1e-5)
    }
    b.dispose([...model.parameters, ...model.buffers])
  })

  test("bad options are typed errors naming the option", () => {
    const b = backend()
    expect(() => Din.make(b, vocabulary, { embeddingSize: 0 })).toThrow(InvalidConfig)
    expect(() => Din.make(b, vocabulary, { attentionHidden: [80, -1] })).toThrow(/attentionHidden/)
    expect(() => Din.make(b, { numUsers: 0, numItems: 3 })).toThrow(/numUsers/)
  })
})
