/**
 * CausalD's estimators over the tensor interface (section 3.3), on every backend: the causal
 * label (eq. 9-14), feature guidance (eq. 17-20) and the loss routing of eq. (16).
 */
import { expect, test } from "bun:test"
import {
  CausalLabel,
  FeatureGuidance,
  Losses,
  MetricAccumulator,
  Mlp,
  type Parameter,
  Random,
  type Tensor,
  type TensorBackend,
} from "@causald/core"
import { Result } from "effect"
import { describeEachBackend } from "./backends.ts"

const K = 3
const B = 6
const D = 4
const E = 5

const randomTensor = (
  b: TensorBackend,
  rng: Random.RandomGenerator,
  shape: ReadonlyArray<number>,
): Tensor =>
  b.tensor(
    Random.normalArray(
      rng,
      shape.reduce((x, y) => x * y, 1),
      1,
    ),
    shape,
  )

/** A stand-in student: mediator m̂ = tanh(x W_s), items from its own embedding table, logit m̂·y. */
const makeStudent = (b: TensorBackend, rng: Random.RandomGenerator) => {
  const encoder = b.parameter("student/encoder", Random.glorotUniform(rng, D, D), [D, D])
  const embeddings = b.parameter("student/items", Random.normalArray(rng, 10 * E, 0.5), [10, E])
  const projection = b.parameter("student/projection", Random.glorotUniform(rng, E, D), [E, D])
  const params: Array<Parameter> = [encoder, embeddings, projection]
  const forward = (x: Tensor, itemIds: Tensor) => {
    const mediator = b.tanh(b.matmul(x, encoder.value))
    const items = b.gather(embeddings.value, itemIds)
    const logits = b.sum(b.mul(mediator, b.matmul(items, projection.value)), -1)
    return { mediator, items, logits }
  }
  return { params, forward }
}

const absMax = (xs: ArrayLike<number>): number => {
  let m = 0
  for (let i = 0; i < xs.length; i++) m = Math.max(m, Math.abs(xs[i]!))
  return m
}

describeEachBackend("causal label (eq. 9-14)", (backend) => {
  const setup = (seed: number) => {
    const b = backend()
    const rng = Random.generator(seed)
    const estimator = CausalLabel.make(b, { mediatorSize: D, itemSize: E, hidden: [7] }, rng)
    const inputs: CausalLabel.CausalLabelInputs = {
      teacherMediators: randomTensor(b, rng, [K, B, D]),
      studentMediator: randomTensor(b, rng, [B, D]),
      partnerMediators: randomTensor(b, rng, [B, D]),
      items: randomTensor(b, rng, [B, E]),
    }
    return { b, rng, estimator, inputs }
  }

  test("P(M | X) by attention (eq. 10) is a distribution over the K teachers for every row", () => {
    const { b, estimator, inputs } = setup(1)
    const alpha = b.read(
      CausalLabel.mediatorPosterior(b, estimator, inputs.teacherMediators, inputs.studentMediator),
    )
    expect(alpha.length).toBe(B * K)
    for (let i = 0; i < B; i++) {
      let total = 0
      for (let k = 0; k < K; k++) {
        expect(alpha[i * K + k]!).toBeGreaterThan(0)
        total += alpha[i * K + k]!
      }
      expect(total).toBeCloseTo(1, 5)
    }
  })

  test("the block-wise first layer equals ψ_FDA applied to the concatenation [m̃_j, m̃_{k,i}, y_i] (eq. 13)", () => {
    const { b, estimator, inputs } = setup(2)
    const S = 4
    const partners = CausalLabel.sampledPartners(Random.generator(9), B, S)
    const fast = b.read(
      CausalLabel.interventionalClick(b, estimator, inputs, b.tensor(partners, [B, S])),
    )
    const teacher = b.read(inputs.teacherMediators)
    const partner = b.read(inputs.partnerMediators)
    const items = b.read(inputs.items)
    const rows: Array<number> = []
    for (let k = 0; k < K; k++)
      for (let i = 0; i < B; i++)
        for (let s = 0; s < S; s++) {
          const j = partners[i * S + s]!
          rows.push(
            ...partner.subarray(j * D, j * D + D),
            ...teacher.subarray((k * B + i) * D, (k * B + i + 1) * D),
            ...items.subarray(i * E, i * E + E),
          )
        }
    const naive = b.read(
      b.sigmoid(Mlp.forward(b, estimator.psi, b.tensor(rows, [K * B * S, 2 * D + E]))),
    )
    expect(fast.length).toBe(naive.length)
    for (let n = 0; n < naive.length; n++) expect(Math.abs(fast[n]! - naive[n]!)).toBeLessThan(1e-5)
  })

  test("the causal label is Σ_k α_{k,i} (1/N_b) Σ_j σ(ψ(...)) over all in-batch partners (eq. 14)", () => {
    const { b, estimator, inputs } = setup(3)
    const exact = b.read(
      CausalLabel.estimate(b, estimator, inputs, b.tensor(CausalLabel.allPartners(B), [B, B])),
    )
    const clicks = b.read(
      CausalLabel.interventionalClick(
        b,
        estimator,
        inputs,
        b.tensor(CausalLabel.allPartners(B), [B, B]),
      ),
    )
    const alpha = b.read(
      CausalLabel.mediatorPosterior(b, estimator, inputs.teacherMediators, inputs.studentMediator),
    )
    for (let i = 0; i < B; i++) {
      let expected = 0
      for (let k = 0; k < K; k++) {
        let inner = 0
        for (let j = 0; j < B; j++) inner += clicks[(k * B + i) * B + j]! / B
        expected += alpha[i * K + k]! * inner
      }
      expect(exact[i]!).toBeCloseTo(expected, 5)
      expect(exact[i]!).toBeGreaterThan(0)
      expect(exact[i]!).toBeLessThan(1)
    }
  })

  test("the Monte-Carlo label with S sampled partners is unbiased: its mean over draws equals the exact label", () => {
    const { b, estimator, inputs } = setup(4)
    const exact = b.read(
      CausalLabel.estimate(b, estimator, inputs, b.tensor(CausalLabel.allPartners(B), [B, B])),
    )
    const draws = 300
    const S = 2
    const rng = Random.generator(77)
    const sum = new Float64Array(B)
    const sumSq = new Float64Array(B)
    for (let r = 0; r < draws; r++) {
      const mc = b.tidy(() =>
        b.read(
          CausalLabel.estimate(
            b,
            estimator,
            inputs,
            b.tensor(CausalLabel.sampledPartners(rng, B, S), [B, S]),
          ),
        ),
      )
      for (let i = 0; i < B; i++) {
        sum[i]! += mc[i]!
        sumSq[i]! += mc[i]! * mc[i]!
      }
    }
    let spread = 0
    for (let i = 0; i < B; i++) {
      const mean = sum[i]! / draws
      const sd = Math.sqrt(Math.max(sumSq[i]! / draws - mean * mean, 0))
      spread = Math.max(spread, sd)
      // Five standard errors of the mean of `draws` independent estimates (plus float32 rounding).
      expect(Math.abs(mean - exact[i]!)).toBeLessThanOrEqual((5 * sd) / Math.sqrt(draws) + 1e-5)
    }
    expect(spread).toBeGreaterThan(0) // the draws really differ, so the check above is not vacuous
  })
})

describeEachBackend("loss routing of L_FDA (eq. 16)", (backend) => {
  const setup = () => {
    const b = backend()
    const rng = Random.generator(11)
    const student = makeStudent(b, rng)
    const estimator = CausalLabel.make(b, { mediatorSize: D, itemSize: E, hidden: [6] }, rng)
    const x = randomTensor(b, rng, [B, D])
    const itemIds = b.tensor(
      Int32Array.from({ length: B }, (_, i) => (i * 3) % 10),
      [B],
    )
    const teacherMediators = randomTensor(b, rng, [K, B, D])
    const labels = b.tensor(
      Float32Array.from({ length: B }, (_, i) => i % 2),
      [B],
    )
    const loss = (term: "distillation" | "consistency") => () => {
      const s = student.forward(x, itemIds)
      const label = CausalLabel.estimate(
        b,
        estimator,
        {
          teacherMediators,
          studentMediator: s.mediator,
          partnerMediators: FeatureGuidance.vanillaGuidance(b, teacherMediators),
          items: s.items,
        },
        b.tensor(CausalLabel.allPartners(B), [B, B]),
      )
      return Losses.frontDoor(b, label, s.logits, labels)[term]
    }
    const all = [...student.params, ...estimator.parameters]
    return { b, student, estimator, loss, all }
  }

  test("the consistency term's gradient is exactly zero for every student parameter and non-zero for W1, W2, ψ_FDA", () => {
    const { b, student, estimator, loss, all } = setup()
    const { grads } = b.valueAndGrads(loss("consistency"), all)
    for (const g of grads.slice(0, student.params.length)) expect(absMax(b.read(g))).toBe(0)
    const estimatorGrads = grads.slice(student.params.length).map((g) => absMax(b.read(g)))
    expect(estimatorGrads).toHaveLength(estimator.parameters.length)
    expect(estimatorGrads[0]!).toBeGreaterThan(0) // W1
    expect(estimatorGrads[1]!).toBeGreaterThan(0) // W2
    expect(estimatorGrads[2]!).toBeGreaterThan(0) // ψ_FDA first kernel
  })

  test("the distillation term's gradient is exactly zero for W1, W2, ψ_FDA and non-zero for the student", () => {
    const { b, student, loss, all } = setup()
    const { grads } = b.valueAndGrads(loss("distillation"), all)
    for (const g of grads.slice(student.params.length)) expect(absMax(b.read(g))).toBe(0)
    for (const g of grads.slice(0, student.params.length))
      expect(absMax(b.read(g))).toBeGreaterThan(0)
  })
})

describeEachBackend("feature guidance (eq. 17-20)", (backend) => {
  test("P(z_k) is proportional to the users of each teacher's group", () => {
    const prior = Result.getOrThrow(FeatureGuidance.teacherPrior([10, 30, 60]))
    expect(Array.from(prior).map((p) => Number(p.toFixed(6)))).toEqual([0.1, 0.3, 0.6])
    // no distribution to weight by: a typed failure naming the sizes
    for (const sizes of [
      [0, 0],
      [1, -1],
      [Number.NaN, 2],
    ]) {
      const failed = FeatureGuidance.teacherPrior(sizes)
      expect(Result.isFailure(failed)).toBe(true)
      if (Result.isFailure(failed)) {
        expect(failed.failure).toBeInstanceOf(MetricAccumulator.InvalidGroups)
        expect(failed.failure.message).toContain("teacher group sizes")
      }
    }
  })

  test("back-door guidance is the P(z_k)-weighted teacher mediator; with a uniform prior it is the vanilla mean", () => {
    const b = backend()
    const rng = Random.generator(5)
    const teachers = randomTensor(b, rng, [K, B, D])
    const values = b.read(teachers)
    const prior = Result.getOrThrow(FeatureGuidance.teacherPrior([1, 2, 7]))
    const adjusted = b.read(FeatureGuidance.backdoorGuidance(b, teachers, b.tensor(prior, [K])))
    for (let n = 0; n < B * D; n++) {
      let expected = 0
      for (let k = 0; k < K; k++) expected += prior[k]! * values[k * B * D + n]!
      expect(adjusted[n]!).toBeCloseTo(expected, 5)
    }
    const uniform = b.read(
      FeatureGuidance.backdoorGuidance(
        b,
        teachers,
        b.tensor(Result.getOrThrow(FeatureGuidance.teacherPrior([1, 1, 1])), [K]),
      ),
    )
    const mean = b.read(FeatureGuidance.vanillaGuidance(b, teachers))
    for (let n = 0; n < B * D; n++) expect(uniform[n]!).toBeCloseTo(mean[n]!, 5)
  })

  test("L_BDA is zero at the guidance, positive elsewhere, and trains only the student's side", () => {
    const b = backend()
    const rng = Random.generator(6)
    const guidance = b.parameter("guidance", Random.normalArray(rng, B * D, 1), [B, D])
    const student = b.parameter("student", Random.normalArray(rng, B * D, 1), [B, D])
    for (const distance of ["euclidean", "squared-euclidean", "mse", "cosine"] as const) {
      const same = b.read(
        FeatureGuidance.featureDistillationLoss(b, guidance.value, guidance.value, distance),
      )[0]!
      expect(Math.abs(same)).toBeLessThan(1e-4)
      const { value, grads } = b.valueAndGrads(
        () => FeatureGuidance.featureDistillationLoss(b, student.value, guidance.value, distance),
        [student, guidance],
      )
      expect(b.read(value)[0]!).toBeGreaterThan(0)
      expect(absMax(b.read(grads[0]!))).toBeGreaterThan(0)
      expect(absMax(b.read(grads[1]!))).toBe(0)
    }
    b.dispose([guidance, student])
  })
})

describeEachBackend("readings of the open points (Readings.ts)", (backend) => {
  test("mse is the squared distance over d, and its pull vanishes near the guidance where euclidean's does not", () => {
    const b = backend()
    const rng = Random.generator(8)
    const guidance = b.tensor(Random.normalArray(rng, B * D, 1), [B, D])
    const offset = Random.normalArray(rng, B * D, 1)
    const g = b.read(guidance)
    const gradNorm = (distance: "euclidean" | "mse", scale: number) => {
      const student = b.parameter(
        `student-${distance}-${scale}`,
        Float32Array.from(g, (v, i) => v + scale * offset[i]!),
        [B, D],
      )
      const { value, grads } = b.valueAndGrads(
        () => FeatureGuidance.featureDistillationLoss(b, student.value, guidance, distance),
        [student],
      )
      const out = {
        value: b.read(value)[0]!,
        grad: Math.sqrt(
          Array.from(b.read(grads[0]!)).reduce((a: number, x: number) => a + x * x, 0),
        ),
      }
      b.dispose([student])
      return out
    }
    const squared = b.read(
      FeatureGuidance.featureDistillationLoss(
        b,
        b.tensor(
          Float32Array.from(g, (v, i) => v + offset[i]!),
          [B, D],
        ),
        guidance,
        "squared-euclidean",
      ),
    )[0]!
    expect(gradNorm("mse", 1).value).toBeCloseTo(squared / D, 4)
    // 100 times closer: mse's gradient shrinks 100-fold, euclidean's keeps its size
    expect(gradNorm("mse", 0.01).grad / gradNorm("mse", 1).grad).toBeCloseTo(0.01, 3)
    expect(gradNorm("euclidean", 0.01).grad / gradNorm("euclidean", 1).grad).toBeCloseTo(1, 2)
  })

  test("ψ_FDA with its own item table: the table is an estimator parameter trained by the consistency loss, and the caller's items are ignored", () => {
    const b = backend()
    const rng = Random.generator(12)
    const estimator = CausalLabel.make(
      b,
      { mediatorSize: D, itemSize: E, hidden: [5], items: 9 },
      rng,
    )
    expect(estimator.itemTable!.value.shape).toEqual([10, E])
    expect(estimator.parameters).toContain(estimator.itemTable!)
    const itemIds = b.tensor(
      Int32Array.from({ length: B }, (_, i) => 1 + (i % 9)),
      [B],
    )
    const inputs = (items: Tensor): CausalLabel.CausalLabelInputs => ({
      teacherMediators: randomTensor(b, Random.generator(1), [K, B, D]),
      studentMediator: randomTensor(b, Random.generator(2), [B, D]),
      partnerMediators: randomTensor(b, Random.generator(3), [B, D]),
      items,
      itemIds,
    })
    const partners = b.tensor(CausalLabel.allPartners(B), [B, B])
    const one = b.read(
      CausalLabel.estimate(b, estimator, inputs(randomTensor(b, rng, [B, E])), partners),
    )
    const two = b.read(
      CausalLabel.estimate(b, estimator, inputs(randomTensor(b, rng, [B, E])), partners),
    )
    expect(Array.from(two)).toEqual(Array.from(one))
    const labels = b.tensor(
      Float32Array.from({ length: B }, (_, i) => i % 2),
      [B],
    )
    const { grads } = b.valueAndGrads(
      () =>
        Losses.frontDoor(
          b,
          CausalLabel.estimate(b, estimator, inputs(randomTensor(b, rng, [B, E])), partners),
          b.tensor(new Float32Array(B), [B]),
          labels,
        ).consistency,
      [estimator.itemTable!],
    )
    expect(absMax(b.read(grads[0]!))).toBeGreaterThan(0)
    expect(() =>
      CausalLabel.estimate(
        b,
        estimator,
        { ...inputs(randomTensor(b, rng, [B, E])), itemIds: undefined as never },
        partners,
      ),
    ).toThrow("itemIds")
    b.dispose(estimator.parameters)
  })

  test("ψ_FDA's hidden widths set its layers", () => {
    const b = backend()
    const estimator = CausalLabel.make(
      b,
      { mediatorSize: D, itemSize: E, hidden: [80, 40] },
      Random.generator(4),
    )
    expect(estimator.psi.weights.map((k) => k.value.shape)).toEqual([
      [2 * D + E, 80],
      [80, 40],
      [40, 1],
    ])
    b.dispose(estimator.parameters)
  })
})

describeEachBackend("recommendation and distillation losses", (backend) => {
  const logits = [-2, -0.5, 0, 0.7, 3]
  const labels = [0, 1, 1, 0, 1]
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x))

  test("binary cross-entropy of logits matches -[y ln σ(o) + (1-y) ln(1-σ(o))]", () => {
    const b = backend()
    const got = b.read(
      Losses.binaryCrossEntropy(b, b.tensor(logits, [5]), b.tensor(labels, [5])),
    )[0]!
    const want =
      -logits.reduce(
        (acc, o, i) =>
          acc + labels[i]! * Math.log(sigmoid(o)) + (1 - labels[i]!) * Math.log(1 - sigmoid(o)),
        0,
      ) / 5
    expect(got).toBeCloseTo(want, 5)
  })

  test("BPR is -mean ln σ(o_pos - o_neg)", () => {
    const b = backend()
    const neg = [1, -1, 0.5, 0.7, -3]
    const got = b.read(Losses.bpr(b, b.tensor(logits, [5]), b.tensor(neg, [5])))[0]!
    const want = -logits.reduce((acc, o, i) => acc + Math.log(sigmoid(o - neg[i]!)), 0) / 5
    expect(got).toBeCloseTo(want, 5)
  })

  test("sampled softmax is the positive's negative log-probability among itself and its negatives", () => {
    const b = backend()
    const negatives = [0.1, 0.2, -0.3, 1, 0, 2, -1, -1, 0.5, 0.5]
    const got = b.read(
      Losses.sampledSoftmax(b, b.tensor(logits, [5]), b.tensor(negatives, [5, 2])),
    )[0]!
    let want = 0
    for (let i = 0; i < 5; i++) {
      const all = [logits[i]!, negatives[2 * i]!, negatives[2 * i + 1]!]
      want -= logits[i]! - Math.log(all.reduce((a, x) => a + Math.exp(x), 0))
    }
    expect(got).toBeCloseTo(want / 5, 5)
  })

  test("distillation at temperature 1 is cross-entropy against the soft label; at T it is scaled by T²", () => {
    const b = backend()
    const soft = b.tensor([0.2, 0.9, 0.5, 0.4, 0.7], [5])
    const o = b.tensor(logits, [5])
    expect(b.read(Losses.distillation(b, soft, o))[0]!).toBeCloseTo(
      b.read(Losses.binaryCrossEntropy(b, o, soft))[0]!,
      6,
    )
    const t2 = b.read(Losses.distillation(b, soft, o, 2))[0]!
    expect(t2).toBeGreaterThan(0)
    expect(Number.isFinite(t2)).toBe(true)
  })

  test("L_CausalD = L_Rec + λ_BDA L_BDA + λ_FDA L_FDA (eq. 22)", () => {
    const b = backend()
    const total = Losses.causalD(
      b,
      { recommendation: b.scalar(0.5), backdoor: b.scalar(2), frontDoor: b.scalar(3) },
      { backdoor: 0.1, frontDoor: 10 },
    )
    expect(b.read(total)[0]!).toBeCloseTo(0.5 + 0.2 + 30, 5)
  })
})
