/**
 * `--full-ranking`: the data view scores every item for every user, the target is ranked against
 * every item outside the user's test history (never against itself), as a brute-force count says.
 */
import { describe, expect, test } from "bun:test"
import { Random, Ranking } from "@causald/core"
import { Prepared, Simulated } from "@causald/data"
import { Result } from "effect"
import { fullRankingData } from "../src/Study.ts"

describe("full ranking", () => {
  test("every item a candidate, the test history excluded, AUC as a brute-force count", () => {
    const data = Simulated.simulate({ users: 30, items: 90, candidates: 20, maxLength: 25 })
    const { view, input } = fullRankingData(data)
    const I = data.numItems
    expect(view.config.candidates).toBe(I - 1)
    expect(view.truth).toBeUndefined()
    expect(Array.from(view.test.candidates.subarray(0, I))).toEqual(
      Array.from({ length: I }, (_, c) => c + 1),
    )
    const g = Random.generator(3)
    const scores = Float32Array.from({ length: data.numUsers * I }, () => Random.float(g))
    const metrics = Result.getOrThrow(Ranking.full({ ...input, scores }))
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
})
