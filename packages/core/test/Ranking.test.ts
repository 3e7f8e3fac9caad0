import { describe, expect, test } from "bun:test"
import { Result } from "effect"
import fc from "fast-check"
import * as MetricAccumulator from "../src/MetricAccumulator.ts"
import * as Ranking from "../src/Ranking.ts"

const RUNS = { numRuns: 200, seed: 5101 } as const

/**
 * Reference metrics of one user by sorting: candidates sorted by decreasing score, a negative
 * before the positive when scores tie (pessimistic), then AUC by counting pairs and DCG by its
 * definition sum_i rel_i / log2(i + 2) over the top K (ideal DCG = 1 with one relevant item).
 */
const reference = (
  positive: number,
  negatives: ReadonlyArray<number>,
  ks: ReadonlyArray<number>,
) => {
  const candidates = [
    { score: positive, relevant: 1 },
    ...negatives.map((score) => ({ score, relevant: 0 })),
  ].sort((a, b) => b.score - a.score || a.relevant - b.relevant)
  const auc = negatives.filter((s) => s < positive).length / negatives.length
  const recall = ks.map((k) => candidates.slice(0, k).reduce((s, c) => s + c.relevant, 0))
  const ndcg = ks.map((k) =>
    candidates.slice(0, k).reduce((s, c, i) => s + c.relevant / Math.log2(i + 2), 0),
  )
  return { rank: candidates.findIndex((c) => c.relevant === 1), auc, recall, ndcg }
}

const expectMatchesReference = (
  metrics: Ranking.UserMetrics,
  u: number,
  ref: ReturnType<typeof reference>,
) => {
  expect(metrics.rank[u]).toBe(ref.rank)
  expect(metrics.auc[u]).toBeCloseTo(ref.auc, 12)
  ref.recall.forEach((r, j) => {
    expect(metrics.recall[j][u]).toBe(r)
  })
  ref.ndcg.forEach((n, j) => {
    expect(metrics.ndcg[j][u]).toBeCloseTo(n, 12)
  })
}

// Scores from a small set so that ties are frequent.
const score = fc.integer({ min: 0, max: 6 }).map((v) => v / 2)
const ksArb = fc.uniqueArray(fc.integer({ min: 1, max: 12 }), { minLength: 1, maxLength: 3 })

describe("sampled protocol (positive in column 0)", () => {
  test("hand-computed user: ties count against the positive", () => {
    // Positive 0.5; negatives 0.9 (above), 0.5 (tie: above), 0.1 and 0.3 (below). Rank 2.
    const metrics = Result.getOrThrow(
      Ranking.sampled(Float64Array.of(0.5, 0.9, 0.5, 0.1, 0.3), 5, { ks: [1, 2, 3] }),
    )
    expect(metrics.rank[0]).toBe(2)
    expect(metrics.negatives[0]).toBe(4)
    expect(metrics.auc[0]).toBe(0.5)
    expect(metrics.recall.map((r) => r[0])).toEqual([0, 0, 1])
    expect(metrics.ndcg[2][0]).toBeCloseTo(1 / Math.log2(4), 15)
    expect(metrics.ndcg[0][0]).toBe(0)
  })

  test("hand-computed means over users with the default K = 5, 10", () => {
    // User 0: positive above all 10 negatives (rank 0). User 1: 6 negatives above (rank 6).
    const row0 = [1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    const row1 = [0.5, 0.9, 0.8, 0.7, 0.6, 0.55, 0.51, 0.1, 0.2, 0.3, 0.4]
    const metrics = Result.getOrThrow(Ranking.sampled(Float32Array.from([...row0, ...row1]), 11))
    expect(Ranking.metricNames()).toEqual(["AUC", "R@5", "R@10", "NDCG@5", "NDCG@10"])
    const means = Ranking.means(metrics)
    expect(means["AUC"]).toBeCloseTo((1 + 4 / 10) / 2, 12)
    expect(means["R@5"]).toBeCloseTo(0.5, 12)
    expect(means["R@10"]).toBeCloseTo(1, 12)
    expect(means["NDCG@5"]).toBeCloseTo(0.5, 12)
    expect(means["NDCG@10"]).toBeCloseTo((1 + 1 / Math.log2(8)) / 2, 12)
  })

  test("a constant scorer gets AUC 0 and the worst rank", () => {
    const metrics = Result.getOrThrow(Ranking.sampled(new Float64Array(3 * 101).fill(0.5), 101))
    expect(Array.from(metrics.auc)).toEqual([0, 0, 0])
    expect(Array.from(metrics.rank)).toEqual([100, 100, 100])
  })

  test("matches the sort-based reference", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 25 }),
        ksArb,
        fc.infiniteStream(score),
        (users, negatives, ks, stream) => {
          const width = negatives + 1
          const scores = Float64Array.from(stream.take(users * width))
          const metrics = Result.getOrThrow(Ranking.sampled(scores, width, { ks }))
          for (let u = 0; u < users; u++) {
            const row = Array.from(scores.subarray(u * width, (u + 1) * width))
            expectMatchesReference(metrics, u, reference(row[0], row.slice(1), ks))
          }
        },
      ),
      RUNS,
    )
  })

  test("bad input is a typed error naming the user and column", () => {
    const nan = Ranking.sampled(Float64Array.of(1, 2, 3, 4, Number.NaN, 6), 3)
    expect(Result.isFailure(nan) && nan.failure.reason).toBe("score of user 1, column 1 is NaN")
    const cases = [
      Ranking.sampled(Float64Array.of(Number.NaN, 1), 2),
      Ranking.sampled(Float64Array.of(1, 2, 3), 2),
      Ranking.sampled(Float64Array.of(1, 2), 1),
      Ranking.sampled(Float64Array.of(1, 2), 2, { ks: [0] }),
      Ranking.sampled(Float64Array.of(1, 2), 2, { ks: [] }),
    ]
    for (const r of cases) expect(Result.isFailure(r) && r.failure._tag).toBe("RankingInputError")
  })
})

/** Users' exclusion lists in compressed-row form. */
const csr = (lists: ReadonlyArray<ReadonlyArray<number>>) => {
  const offsets = new Int32Array(lists.length + 1)
  lists.forEach((l, u) => {
    offsets[u + 1] = offsets[u] + l.length
  })
  return { excludedOffsets: offsets, excludedItems: Int32Array.from(lists.flat()) }
}

describe("full-ranking protocol", () => {
  test("hand-computed: excluded items are not candidates", () => {
    // Items 0..5; positive 2 (score 0.5); item 0 (0.9) and item 4 (0.7) are excluded history.
    // Candidates: items 1 (0.6, above), 3 (0.5, tie: above), 5 (0.1, below). Rank 2 of 3 negatives.
    const metrics = Result.getOrThrow(
      Ranking.full(
        {
          scores: Float64Array.of(0.9, 0.6, 0.5, 0.5, 0.7, 0.1),
          itemCount: 6,
          positives: Int32Array.of(2),
          ...csr([[0, 4, 4, 2]]),
        },
        { ks: [1, 3] },
      ),
    )
    expect(metrics.rank[0]).toBe(2)
    expect(metrics.negatives[0]).toBe(3)
    expect(metrics.auc[0]).toBeCloseTo(1 / 3, 15)
    expect(metrics.recall.map((r) => r[0])).toEqual([0, 1])
    expect(metrics.ndcg[1][0]).toBeCloseTo(0.5, 15)
  })

  test("matches the sort-based reference over the non-excluded items", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 30 }).chain((itemCount) =>
          fc.tuple(
            fc.constant(itemCount),
            fc.array(
              fc.record({
                scores: fc.array(score, { minLength: itemCount, maxLength: itemCount }),
                positive: fc.integer({ min: 0, max: itemCount - 1 }),
                excluded: fc.array(fc.integer({ min: 0, max: itemCount - 1 }), {
                  maxLength: itemCount,
                }),
              }),
              { minLength: 1, maxLength: 10 },
            ),
          ),
        ),
        ksArb,
        ([itemCount, users], ks) => {
          // At least one negative must remain: keep only users for which one does.
          const valid = users.filter((u) => new Set([...u.excluded, u.positive]).size < itemCount)
          fc.pre(valid.length > 0)
          const metrics = Result.getOrThrow(
            Ranking.full(
              {
                scores: Float32Array.from(valid.flatMap((u) => u.scores)),
                itemCount,
                positives: Int32Array.from(valid.map((u) => u.positive)),
                ...csr(valid.map((u) => u.excluded)),
              },
              { ks },
            ),
          )
          valid.forEach((u, i) => {
            const excluded = new Set(u.excluded)
            const negatives = u.scores.filter(
              (_, item) => item !== u.positive && !excluded.has(item),
            )
            expect(metrics.negatives[i]).toBe(negatives.length)
            expectMatchesReference(metrics, i, reference(u.scores[u.positive], negatives, ks))
          })
        },
      ),
      RUNS,
    )
  })

  test("bad input is a typed error", () => {
    const base = {
      scores: Float64Array.of(0.1, 0.2, 0.3, 0.4),
      itemCount: 2,
      positives: Int32Array.of(0, 1),
      ...csr([[], []]),
    }
    expect(Result.isSuccess(Ranking.full(base))).toBe(true)
    const cases = [
      Ranking.full({ ...base, positives: Int32Array.of(0, 2) }),
      Ranking.full({ ...base, ...csr([[1], []]) }),
      Ranking.full({ ...base, ...csr([[5], []]) }),
      Ranking.full({ ...base, scores: Float64Array.of(0.1, 0.2, 0.3) }),
      Ranking.full({ ...base, scores: Float64Array.of(0.1, Number.NaN, 0.3, 0.4) }),
      Ranking.full({ ...base, excludedOffsets: Int32Array.of(0, 0) }),
    ]
    for (const r of cases) expect(Result.isFailure(r) && r.failure._tag).toBe("RankingInputError")
    const none = Ranking.full({ ...base, ...csr([[1], []]) })
    expect(Result.isFailure(none) && none.failure.message).toContain("user 0 has no candidate")
  })
})

describe("per-group evaluation", () => {
  test("group means equal the means over each group's users", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 5 }),
        fc.array(fc.tuple(fc.nat(), fc.array(score, { minLength: 11, maxLength: 11 })), {
          minLength: 1,
          maxLength: 40,
        }),
        (groupCount, users) => {
          const scores = Float64Array.from(users.flatMap(([, row]) => row))
          const groups = Int32Array.from(users.map(([g]) => g % groupCount))
          const metrics = Result.getOrThrow(Ranking.sampled(scores, 11))
          const byGroup = Result.getOrThrow(Ranking.byGroup(metrics, groups, groupCount))
          expect(byGroup.length).toBe(groupCount)
          for (let g = 0; g < groupCount; g++) {
            const members = users.flatMap((_, u) => (groups[u] === g ? [u] : []))
            const means = MetricAccumulator.means(byGroup[g])
            if (members.length === 0) {
              expect(means).toEqual({})
              continue
            }
            const avg = (values: Float64Array) =>
              members.reduce((s, u) => s + values[u], 0) / members.length
            expect(means["AUC"]).toBeCloseTo(avg(metrics.auc), 12)
            expect(means["R@10"]).toBeCloseTo(avg(metrics.recall[1]), 12)
            expect(means["NDCG@5"]).toBeCloseTo(avg(metrics.ndcg[0]), 12)
          }
        },
      ),
      RUNS,
    )
  })

  test("a group id out of range is a typed error", () => {
    const metrics = Result.getOrThrow(Ranking.sampled(Float64Array.of(1, 0, 1, 0), 2))
    const r = Ranking.byGroup(metrics, Int32Array.of(0, 3), 2)
    expect(Result.isFailure(r) && r.failure.message).toContain("user 1 is in group 3")
    expect(Result.isFailure(Ranking.byGroup(metrics, Int32Array.of(0), 2))).toBe(true)
  })
})
