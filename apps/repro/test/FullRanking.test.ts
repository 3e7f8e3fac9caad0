/**
 * `--full-ranking`: every item is a candidate, the target is ranked against every item outside the
 * user's test history (never against itself), as a brute-force count says; `--full-ranking-users
 * N` ranks a seeded sample of users with the same per-user metrics.
 */
import { describe, expect, test } from "bun:test"
import { Random, Ranking } from "@causald/core"
import { Batches, Prepared, Simulated } from "@causald/data"
import { Result } from "effect"
import { fullRankingData, fullRankingUsers } from "../src/Study.ts"

const data = Simulated.simulate({ users: 30, items: 90, candidates: 20, maxLength: 25 })
const I = data.numItems
const g = Random.generator(3)
/** A score for every (user, item): column j - 1 is item j. */
const scores = Float32Array.from({ length: data.numUsers * I }, () => Random.float(g))
const scoresOf = (users: Int32Array) => {
  const out = new Float32Array(users.length * I)
  users.forEach((u, i) => {
    out.set(scores.subarray(u * I, u * I + I), i * I)
  })
  return out
}

describe("full ranking", () => {
  test("every item a candidate, the test history excluded, AUC as a brute-force count", () => {
    const users = fullRankingUsers(data)
    expect(Array.from(users)).toEqual(Array.from({ length: data.numUsers }, (_, u) => u))
    const { candidates, input } = fullRankingData(data, users)
    expect(Array.from(candidates)).toEqual(Array.from({ length: I }, (_, c) => c + 1))
    const metrics = Result.getOrThrow(Ranking.full({ ...input, scores: scoresOf(users) }))
    for (let u = 0; u < data.numUsers; u++) {
      const seq = Prepared.userSequence(data, u)
      const history = new Set(seq.subarray(0, seq.length - 1))
      const target = data.test.target[u]!
      expect(history.has(target)).toBe(false)
      let below = 0
      let negatives = 0
      for (let j = 1; j <= I; j++) {
        if (j === target || history.has(j)) continue
        negatives++
        if (scores[u * I + j - 1]! < scores[u * I + target - 1]!) below++
      }
      expect(metrics.negatives[u]).toBe(negatives)
      expect(metrics.auc[u]!).toBeCloseTo(below / negatives, 10)
    }
  })

  test("a sample of users: seeded, distinct, in order, each ranked exactly as among all users", () => {
    const sample = fullRankingUsers(data, 10)
    expect(sample.length).toBe(10)
    expect(new Set(sample).size).toBe(10)
    expect(Array.from(sample)).toEqual(Array.from(sample).sort((a, b) => a - b))
    expect(Array.from(fullRankingUsers(data, 10))).toEqual(Array.from(sample))
    expect(Array.from(sample)).not.toEqual(Array.from({ length: 10 }, (_, u) => u))
    const all = Result.getOrThrow(
      Ranking.full({
        ...fullRankingData(data, fullRankingUsers(data)).input,
        scores: scoresOf(fullRankingUsers(data)),
      }),
    )
    const some = Result.getOrThrow(
      Ranking.full({ ...fullRankingData(data, sample).input, scores: scoresOf(sample) }),
    )
    sample.forEach((u, i) => {
      expect(some.auc[i]).toBe(all.auc[u]!)
      expect(some.negatives[i]).toBe(all.negatives[u]!)
    })
  })

  test("evaluation batches with common candidates: every user's row holds them, nothing stored is read", () => {
    const { candidates } = fullRankingData(data, fullRankingUsers(data))
    const users = Int32Array.of(4, 7)
    const batches = [
      ...Batches.evaluationBatches(data, "test", { batchSize: 8, users, candidates }),
    ]
    expect(batches.length).toBe(1)
    expect(batches[0]!.candidatesPerUser).toBe(I)
    expect(Array.from(batches[0]!.user)).toEqual([4, 7])
    expect(Array.from(batches[0]!.candidates.subarray(I, 2 * I))).toEqual(Array.from(candidates))
    expect(batches[0]!.truth).toBeUndefined()
  })
})
