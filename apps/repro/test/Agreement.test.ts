import { describe, expect, test } from "bun:test"
import { truthAgreement } from "../src/Agreement.ts"

describe("Agreement with the true interventional click probabilities", () => {
  test("same order: 1 and 1; reversed: -1 and 0", () => {
    const truth = Float32Array.from([0.9, 0.5, 0.1, 0.2, 0.3, 0.4])
    const same = Float32Array.from([5, 3, 1, 0, 1, 2])
    const a = truthAgreement(same, truth, 3)
    expect(a.rankCorrelation).toBeCloseTo(1, 12)
    expect(a.pairwiseAccuracy).toBe(1)
    const reversed = Float32Array.from([1, 3, 5, 2, 1, 0])
    const b = truthAgreement(reversed, truth, 3)
    expect(b.rankCorrelation).toBeCloseTo(-1, 12)
    expect(b.pairwiseAccuracy).toBe(0)
    expect(b.correlatedUsers).toBe(2)
  })

  test("a hand-computed user with a score tie", () => {
    // truth ranks 4,3,2,1; score ranks 3.5,3.5,1,2 (tie on the top two)
    const truth = [0.4, 0.3, 0.2, 0.1]
    const scores = [2, 2, 0, 1]
    const a = truthAgreement(scores, truth, 4)
    // Spearman: Pearson of (4,3,2,1) and (3.5,3.5,1,2): means 2.5, 2.5; deviations
    // (1.5,.5,-.5,-1.5) and (1,1,-1.5,-.5): sab = 1.5+.5+.75+.75 = 3.5, saa = 5, sbb = 4.5
    expect(a.rankCorrelation).toBeCloseTo(3.5 / Math.sqrt(5 * 4.5), 12)
    // 6 pairs: (0,1) tie 0.5, (0,2) ok, (0,3) ok, (1,2) ok, (1,3) ok, (2,3) wrong -> 4.5 / 6
    expect(a.pairwiseAccuracy).toBeCloseTo(4.5 / 6, 12)
  })

  test("constant scores: no correlation, pairwise accuracy one half", () => {
    const a = truthAgreement([1, 1, 1], [0.1, 0.2, 0.3], 3)
    expect(a.correlatedUsers).toBe(0)
    expect(Number.isNaN(a.rankCorrelation)).toBe(true)
    expect(a.pairwiseAccuracy).toBe(0.5)
  })

  test("shapes that do not match are a RangeError naming the sizes", () => {
    expect(() => truthAgreement([1, 2, 3], [1, 2], 3)).toThrow("3 scores and 2 truths")
  })
})
