/**
 * DIN (Zhou et al. 2018) on every backend: shapes, masking, the fast first layer of the
 * activation unit against the concatenation form, gradients, learning, seeding, memory, Dice.
 */
import { expect, test } from "bun:test"
import { Losses, Random } from "@causald/core"
import { fusedKernelOptions } from "@causald/tfjs"
import fc from "fast-check"
import { describeEachBackend } from "../../../test/backends.ts"
import { Din, forInference, Inputs, InvalidConfig, logits } from "../src/index.ts"
import {
  gradients,
  type LabelledBatch,
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

  test("chunked and packed histories equal the padded form: values and gradients, incl. empty histories", () => {
    const b = backend()
    const batch = withEmptyHistories(syntheticBatch(Random.generator(31), 20, 9), [0, 5, 11])
    for (const [name, options] of Object.entries(variants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options, embeddingStd: 1 }, 17)
      for (const mode of ["train", "infer"] as const) {
        const run = (layout: Din.HistoryLayout, overhead: number) =>
          b.tidy(() => {
            const inputs = Inputs.toInputs(b, batch)
            const labels = b.tensor(batch.label, [batch.label.length])
            const forward = () => Din.encode(b, model, inputs, mode, "fast", layout, overhead)
            const mediator = b.read(forward())
            const { value, grads } = b.valueAndGrads(() => {
              const m = forward()
              const out =
                mode === "train" ? model.predict(m, inputs) : model.inference.predict(m, inputs)
              return Losses.binaryCrossEntropy(b, out, labels)
            }, model.parameters)
            return { mediator, loss: b.read(value)[0]!, grads: grads.map((g) => b.read(g)) }
          })
        const padded = run("padded", Din.defaultChunkOverhead)
        expect(maxAbs(padded.mediator)).toBeGreaterThan(1e-3)
        // overhead 0: one chunk per distinct length
        const cases = [
          ["chunks", 0],
          ["chunks", 40],
          ["chunks", Din.defaultChunkOverhead],
          ["packed", Din.defaultChunkOverhead],
        ] as const
        for (const [layout, overhead] of cases) {
          const other = run(layout, overhead)
          const at = { name, mode, layout, overhead }
          expect({ ...at, diff: maxAbsDiff(other.mediator, padded.mediator) < 1e-5 }).toEqual({
            ...at,
            diff: true,
          })
          expect({ ...at, loss: Math.abs(other.loss - padded.loss) < 1e-5 }).toEqual({
            ...at,
            loss: true,
          })
          other.grads.forEach((g, i) => {
            const scale = Math.max(1, maxAbs(padded.grads[i]!))
            expect({ ...at, i, close: maxAbsDiff(g, padded.grads[i]!) / scale < 1e-5 }).toEqual({
              ...at,
              i,
              close: true,
            })
          })
          // empty histories give a zero mediator
          for (const r of [0, 5, 11])
            expect({ ...at, r, m: maxAbs(other.mediator.subarray(r * 8, r * 8 + 8)) }).toEqual({
              ...at,
              r,
              m: 0,
            })
        }
      }
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  test("scoreCandidates (history part once per user) equals the logits of the repeated rows", () => {
    const b = backend()
    const users = 6
    const C = 5
    const L = 7
    const rows = withEmptyHistories(syntheticBatch(Random.generator(41), users, L), [2])
    const rng = Random.generator(43)
    const candidates = new Int32Array(users * C).map(() =>
      Random.integer(rng, 1, vocabulary.numItems),
    )
    const repeated = repeatRows(
      {
        size: users,
        candidatesPerUser: C,
        user: rows.user,
        history: rows.history,
        historyLength: rows.historyLength,
        candidates,
      },
      L,
    )
    for (const [name, options] of Object.entries(variants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options, embeddingStd: 1 }, 19)
      const expected = score(b, model.inference, repeated)
      const shared = b.tidy(
        () =>
          b.read(
            Din.scoreCandidates(b, model, {
              user: b.tensor(rows.user, [users], "int32"),
              history: b.tensor(rows.history, [users, L], "int32"),
              historyMask: b.tensor(Inputs.historyMask(rows.historyLength, L), [users, L]),
              candidates: b.tensor(candidates, [users, C], "int32"),
            }),
          ) as Float32Array,
      )
      expect(maxAbs(expected)).toBeGreaterThan(1e-3)
      expect({ name, diff: maxAbsDiff(shared, expected) < 1e-5 }).toEqual({ name, diff: true })
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  test("the candidate scorer's pair table gives the logits of the repeated rows", () => {
    const b = backend()
    // many users over few items: the distinct (history item, candidate) pairs are fewer than
    // the real (position, user, candidate) triples, so the scorer builds its table
    const users = 40
    const C = 6
    const L = 8
    const rows = withEmptyHistories(syntheticBatch(Random.generator(47), users, L), [3, 17])
    const rng = Random.generator(53)
    const candidates = new Int32Array(users * C).map(() =>
      Random.integer(rng, 1, vocabulary.numItems),
    )
    const batch = {
      size: users,
      candidatesPerUser: C,
      user: rows.user,
      history: scramblePadding(rng, rows).history,
      historyLength: rows.historyLength,
      candidates,
    }
    let triples = 0
    for (const n of rows.historyLength) triples += n * C
    expect(triples).toBeGreaterThan(vocabulary.numItems * vocabulary.numItems)
    for (const [name, options] of Object.entries(variants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options, embeddingStd: 1 }, 23)
      const expected = score(b, model.inference, repeatRows(batch, L))
      const live = b.liveTensors()
      for (const pairTable of [true, false]) {
        const scorer = Din.scorer(b, model, batch, { pairTable })
        // the table is kept on the host: no tensor outlives the scorer's construction
        expect(b.liveTensors()).toBe(live)
        const scores = new Float32Array(users * C)
        for (const [first, n] of [
          [0, 13],
          [13, 27],
        ] as const)
          scores.set(
            b.tidy(
              () =>
                b.read(
                  scorer.score({
                    user: b.tensor(batch.user.subarray(first, first + n), [n], "int32"),
                    history: b.tensor(
                      batch.history.subarray(first * L, (first + n) * L),
                      [n, L],
                      "int32",
                    ),
                    historyMask: b.tensor(
                      Inputs.historyMask(batch.historyLength.subarray(first, first + n), L),
                      [n, L],
                    ),
                    candidates: b.tensor(
                      candidates.subarray(first * C, (first + n) * C),
                      [n, C],
                      "int32",
                    ),
                  }),
                ) as Float32Array,
            ),
            first * C,
          )
        scorer.dispose()
        expect(b.liveTensors()).toBe(live)
        expect(maxAbs(expected)).toBeGreaterThan(1e-3)
        expect({ name, pairTable, diff: maxAbsDiff(scores, expected) < 1e-5 }).toEqual({
          name,
          pairTable,
          diff: true,
        })
      }
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

  test("frozen encoder: the item-pair table gives the inference mediators of any rows, for every variant; none above its size limit", () => {
    const b = backend()
    for (const [name, options] of Object.entries(variants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options, diceMomentum: 0.5 }, 23)
      const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.1 })
      // trained a little, so Dice's running statistics and the weights are not the initial ones
      for (let i = 0; i < 3; i++)
        trainStep(b, model, optimizer, syntheticBatch(Random.generator(i), 16, 6))
      const inference = forInference(model)
      const n = vocabulary.numItems + 1
      expect(inference.frozenEncoder?.({ maxTableCells: n * n - 1 })).toBeUndefined()
      const frozen = inference.frozenEncoder?.({ maxTableCells: n * n })
      expect(frozen).toBeDefined()
      const batch = withEmptyHistories(syntheticBatch(Random.generator(41), 24, 6), [3])
      const rows = Int32Array.of(5, 0, 3, 23, 11, 5)
      const host = {
        history: batch.history,
        width: 6,
        historyLength: batch.historyLength,
        item: batch.item,
      }
      const tabled = frozen!.mediators(host, rows)
      const direct = b.tidy(
        () => b.read(inference.encode(Inputs.toInputs(b, batch))) as Float32Array,
      )
      const expected = Array.from(rows).flatMap((r) =>
        Array.from(direct.subarray(r * 8, r * 8 + 8)),
      )
      expect({
        name,
        close: maxAbsDiff(tabled, expected) <= 1e-5 * Math.max(1, maxAbs(expected)),
      }).toEqual({ name, close: true })
      expect(maxAbs(tabled)).toBeGreaterThan(0)
      expect(Array.from(tabled.subarray(2 * 8, 3 * 8))).toEqual(new Array(8).fill(0)) // empty history
      optimizer.dispose()
      b.dispose([...model.parameters, ...model.buffers])
    }
  })

  test("fused activation unit (CAUSALD_FUSED) equals the composition: logits, mediators and every gradient, per layout, with padding", () => {
    const b = backend()
    // odd sizes: 13 rows, L = 7, hidden widths 12 and 6 (the kernel's 4-lane loop and its tail);
    // empty and short histories, so that padded positions and packed pairs both occur
    const batch = withEmptyHistories(syntheticBatch(Random.generator(57), 13, 7), [0, 4])
    const sigmoidVariants = {
      sigmoid: {},
      softmax: { attentionNormalization: "softmax" },
      user: { userEmbedding: true },
    } as const
    let differed = false
    for (const [name, options] of Object.entries(sigmoidVariants)) {
      const model = Din.make(b, vocabulary, { ...smallDin, ...options, embeddingStd: 1 }, 23)
      for (const layout of ["padded", "chunks", "packed"] as const) {
        const run = (fused: boolean) => {
          const before = fusedKernelOptions.enabled
          fusedKernelOptions.enabled = fused
          try {
            return b.tidy(() => {
              const inputs = Inputs.toInputs(b, batch)
              const labels = b.tensor(batch.label, [batch.label.length])
              const forward = () => {
                const m = Din.encode(b, model, inputs, "train", "fast", layout, 0)
                return { m, out: model.predict(m, inputs) }
              }
              const { m, out } = forward()
              const { grads } = b.valueAndGrads(
                () => Losses.binaryCrossEntropy(b, forward().out, labels),
                model.parameters,
              )
              return [b.read(m), b.read(out), ...grads.map((g) => b.read(g))]
            })
          } finally {
            fusedKernelOptions.enabled = before
          }
        }
        const fused = run(true)
        const composed = run(false)
        expect(maxAbs(fused[0]!)).toBeGreaterThan(1e-3)
        fused.forEach((values, i) => {
          const at = {
            name,
            layout,
            output: i < 2 ? ["mediator", "logits"][i] : model.parameters[i - 2]!.name,
          }
          const scale = Math.max(1, maxAbs(composed[i]!))
          expect({ ...at, close: maxAbsDiff(values, composed[i]!) / scale < 1e-5 }).toEqual({
            ...at,
            close: true,
          })
          if (maxAbsDiff(values, composed[i]!) > 0) differed = true
        })
      }
      b.dispose([...model.parameters, ...model.buffers])
    }
    // On wasm the fused kernel's sigmoid rounds differently from tfjs's in the last bit: a
    // difference somewhere shows that the fused path ran (elsewhere both paths compose).
    if (b.name.startsWith("wasm")) expect(differed).toBe(true)
  })

  test("bad options are typed errors naming the option", () => {
    const b = backend()
    expect(() => Din.make(b, vocabulary, { embeddingSize: 0 })).toThrow(InvalidConfig)
    expect(() => Din.make(b, vocabulary, { attentionHidden: [80, -1] })).toThrow(/attentionHidden/)
    expect(() => Din.make(b, { numUsers: 0, numItems: 3 })).toThrow(/numUsers/)
  })
})

/** A copy of a batch whose given rows have an empty history (length 0, all padding). */
const withEmptyHistories = (batch: LabelledBatch, rows: ReadonlyArray<number>): LabelledBatch => {
  const L = batch.history.length / batch.user.length
  const history = batch.history.slice()
  const historyLength = batch.historyLength.slice()
  for (const r of rows) {
    historyLength[r] = 0
    history.fill(0, r * L, r * L + L)
  }
  return { ...batch, history, historyLength }
}

/** The rows (user, history, candidate) of a candidate batch, each history repeated per candidate. */
const repeatRows = (batch: Inputs.CandidateBatch, L: number): Inputs.RowBatch => {
  const C = batch.candidatesPerUser
  const rows = batch.size * C
  const history = new Int32Array(rows * L)
  for (let r = 0; r < rows; r++) {
    const u = Math.floor(r / C)
    history.set(batch.history.subarray(u * L, u * L + L), r * L)
  }
  return {
    user: new Int32Array(rows).map((_, r) => batch.user[Math.floor(r / C)]!),
    history,
    historyLength: new Int32Array(rows).map((_, r) => batch.historyLength[Math.floor(r / C)]!),
    item: batch.candidates,
  }
}
