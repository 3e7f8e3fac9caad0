/**
 * DeepFM (Guo et al. 2017) on every backend: the logit against a host computation of
 * FM (first and second order) + DNN, the pooled-history mediator, masking, gradients,
 * learning, seeding and memory.
 */
import { expect, test } from "bun:test"
import { Losses, type NamedArray, Random, type Tensor } from "@causald/core"
import { fusedKernelOptions } from "@causald/tfjs"
import fc from "fast-check"
import { describeEachBackend } from "../../../test/backends.ts"
import { DeepFm, Inputs, InvalidConfig, logits } from "../src/index.ts"
import {
  gradients,
  learnNextItemRule,
  maxAbs,
  maxAbsDiff,
  score,
  scramblePadding,
  smallDeepFm,
  syntheticBatch,
  trainStep,
  vocabulary,
} from "./fixtures.ts"

const d = smallDeepFm.embeddingSize

/** Row `r` of a [rows, width] table. */
const row = (table: NamedArray, r: number): Array<number> => {
  const width = table.shape[1]!
  return Array.from(table.data.subarray(r * width, r * width + width))
}

/** The DNN on the host: ReLU hidden layers, linear output. */
const dnnOnHost = (arrays: Map<string, NamedArray>, x: Array<number>): number => {
  let h = x
  const layers = [...arrays.keys()].filter((k) => k.endsWith("/kernel")).length
  for (let l = 0; l < layers; l++) {
    const w = arrays.get(`deepfm/dnn/dense${l}/kernel`)!
    const bias = arrays.get(`deepfm/dnn/dense${l}/bias`)!
    const [fanIn, fanOut] = w.shape as [number, number]
    const out = new Array<number>(fanOut).fill(0)
    for (let j = 0; j < fanOut; j++) {
      let s = bias.data[j]!
      for (let i = 0; i < fanIn; i++) s += h[i]! * w.data[i * fanOut + j]!
      out[j] = l + 1 < layers ? Math.max(0, s) : s
    }
    h = out
  }
  return h[0]!
}

const dot = (a: Array<number>, c: Array<number>): number => a.reduce((s, x, i) => s + x * c[i]!, 0)

describeEachBackend("DeepFM", (backend) => {
  test("the logit is b + w_u + w_i + Σ_{f<g} <v_f, v_g> + DNN(v_u, v_i, v_hist); the mediator is v_hist", () => {
    const b = backend()
    const model = DeepFm.make(b, vocabulary, { ...smallDeepFm, embeddingStd: 0.5 }, 3)
    // Non-zero first-order weights and bias, so that every term is exercised.
    b.assign(model.itemWeight, b.tensor(Random.normalArray(Random.generator(1), 25, 1), [25, 1]))
    b.assign(model.userWeight, b.tensor(Random.normalArray(Random.generator(2), 7, 1), [7, 1]))
    b.assign(model.bias, b.tensor([0.3], [1]))
    const batch = syntheticBatch(Random.generator(4), 9, 5)
    const [mediator, out] = b.tidy(() => {
      const inputs = Inputs.toInputs(b, batch)
      return [b.read(model.encode(inputs)), b.read(logits(model, inputs))]
    })
    const arrays = new Map(b.snapshot(model.parameters).map((a) => [a.name, a]))
    const items = arrays.get("deepfm/item-embedding")!
    const users = arrays.get("deepfm/user-embedding")!
    for (let r = 0; r < 9; r++) {
      const n = batch.historyLength[r]!
      const pooled = new Array<number>(d).fill(0)
      for (let j = 0; j < n; j++)
        row(items, batch.history[r * 5 + j]!).forEach((x, k) => {
          pooled[k] = pooled[k]! + x / n
        })
      expect(maxAbsDiff(mediator!.subarray(r * d, r * d + d), pooled)).toBeLessThan(1e-5)
      const u = row(users, batch.user[r]!)
      const i = row(items, batch.item[r]!)
      const expected =
        0.3 +
        arrays.get("deepfm/user-weight")!.data[batch.user[r]!]! +
        arrays.get("deepfm/item-weight")!.data[batch.item[r]!]! +
        dot(u, i) +
        dot(u, pooled) +
        dot(i, pooled) +
        dnnOnHost(arrays, [...u, ...i, ...pooled])
      expect(Math.abs(out![r]! - expected)).toBeLessThan(1e-4)
    }
    expect(model.mediatorSize).toBe(d)
    b.dispose(model.parameters)
  })

  test("padding never changes an output: scrambling masked ids leaves logits unchanged", () => {
    const b = backend()
    const model = DeepFm.make(b, vocabulary, smallDeepFm, 5)
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (seed) => {
        const rng = Random.generator(seed)
        const batch = syntheticBatch(rng, 8, 6)
        expect(
          maxAbsDiff(score(b, model, batch), score(b, model, scramblePadding(rng, batch))),
        ).toBe(0)
      }),
      { seed: 42, numRuns: 8 },
    )
    b.dispose(model.parameters)
  })

  test("gradients reach every trainable parameter", () => {
    const b = backend()
    const model = DeepFm.make(b, vocabulary, smallDeepFm, 11)
    const grads = gradients(b, model, syntheticBatch(Random.generator(4), 12, 5))
    model.parameters.forEach((p, i) => {
      expect({ parameter: p.name, nonZero: maxAbs(grads[i]!) > 0 }).toEqual({
        parameter: p.name,
        nonZero: true,
      })
    })
    b.dispose(model.parameters)
  })

  test("a few hundred Adagrad steps learn the synthetic next-item rule (AUC well above 0.5)", () => {
    const b = backend()
    const model = DeepFm.make(b, vocabulary, smallDeepFm, 13)
    const { before, after } = learnNextItemRule(b, model)
    expect(before).toBeLessThan(0.6)
    expect(after).toBeGreaterThan(0.8)
    b.dispose(model.parameters)
  }, 30_000)

  test("the same seed gives the same parameters; another seed does not", () => {
    const b = backend()
    const snap = (seed: number) => {
      const model = DeepFm.make(b, vocabulary, smallDeepFm, seed)
      const arrays = b.snapshot(model.parameters)
      b.dispose(model.parameters)
      return arrays
    }
    const a = snap(7)
    const again = snap(7)
    const other = snap(8)
    a.forEach((x, i) => {
      expect(x.name.startsWith("deepfm/")).toBe(true)
      expect(Array.from(x.data)).toEqual(Array.from(again[i]!.data))
    })
    expect(maxAbsDiff(a[0]!.data, other[0]!.data)).toBeGreaterThan(0)
    expect(new Set(a.map((x) => x.name)).size).toBe(a.length)
  })

  test("no tensor leaks across repeated training steps", () => {
    const b = backend()
    const model = DeepFm.make(b, vocabulary, smallDeepFm, 17)
    const optimizer = b.optimizer({ _tag: "Adagrad", learningRate: 0.01 })
    const rng = Random.generator(3)
    trainStep(b, model, optimizer, syntheticBatch(rng, 16, 5))
    const live = b.liveTensors()
    for (let i = 0; i < 4; i++) {
      trainStep(b, model, optimizer, syntheticBatch(rng, 16, 5))
      expect(b.liveTensors()).toBe(live)
    }
    optimizer.dispose()
    b.dispose(model.parameters)
  })

  test("fused history pooling (CAUSALD_FUSED) equals the composition: mediator, logits and every gradient; off is the code before, bit for bit", () => {
    const b = backend()
    const model = DeepFm.make(b, vocabulary, { ...smallDeepFm, embeddingStd: 0.5 }, 5)
    // 13 rows, L 7, short and full histories (padding masked out)
    const batch = syntheticBatch(Random.generator(61), 13, 7)
    const run = (mode: "fused" | "off" | "before") => {
      const before = fusedKernelOptions.enabled
      fusedKernelOptions.enabled = mode === "fused"
      try {
        return b.tidy(() => {
          const inputs = Inputs.toInputs(b, batch)
          const labels = b.tensor(batch.label, [batch.label.length])
          // "before": the masked mean as DeepFM computed it before the fused op, op for op
          const encode = (): Tensor => {
            if (mode !== "before") return model.encode(inputs)
            const h = b.gather(model.itemEmbedding.value, inputs.history)
            const mask = inputs.historyMask
            const count = b.maximum(b.sum(mask, 1, true), b.scalar(1))
            const [rows, , width] = h.shape as [number, number, number]
            return b.reshape(b.matmul(b.expandDims(b.div(mask, count), 1), h), [rows, width])
          }
          const forward = () => {
            const m = encode()
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
    const fused = run("fused")
    const off = run("off")
    const before = run("before")
    expect(maxAbs(fused[0]!)).toBeGreaterThan(1e-3)
    let differed = false
    for (const [i, values] of fused.entries()) {
      const at = { output: i < 2 ? ["mediator", "logits"][i] : model.parameters[i - 2]!.name }
      const scale = Math.max(1, maxAbs(off[i]!))
      expect({ ...at, close: maxAbsDiff(values, off[i]!) / scale < 1e-5 }).toEqual({
        ...at,
        close: true,
      })
      expect({ ...at, bits: Array.from(new Uint32Array(off[i]!.buffer)) }).toEqual({
        ...at,
        bits: Array.from(new Uint32Array(before[i]!.buffer)),
      })
      if (maxAbsDiff(values, off[i]!) > 0) differed = true
    }
    // On wasm the kernel sums in another order than the batched product: a difference somewhere
    // shows that the fused path ran (elsewhere both paths compose).
    if (b.name.startsWith("wasm")) expect(differed).toBe(true)
    b.dispose(model.parameters)
  })

  test("bad options are typed errors naming the option", () => {
    const b = backend()
    expect(() => DeepFm.make(b, vocabulary, { dnnHidden: [] })).toThrow(InvalidConfig)
    expect(() => DeepFm.make(b, vocabulary, { embeddingStd: -1 })).toThrow(/embeddingStd/)
  })
})
