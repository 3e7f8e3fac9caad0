import { describe, expect, test } from "bun:test"
import {
  activeness,
  activenessGroups,
  attributeGroups,
  consistency,
  consistencyGroups,
  interactionWeights,
  members,
  popularityGroups,
  randomSubsets,
  summary,
  teacherSubsets,
} from "../src/Groups.ts"
import type { PreparedDataset } from "../src/Prepared.ts"
import { prepareLog } from "../src/Protocol.ts"
import { simulate } from "../src/Simulated.ts"
import { logOf, thrown } from "./helpers.ts"

const sim = simulate({ users: 203, items: 150, candidates: 20, maxLength: 30 })

const config = {
  kCore: 0,
  historyLength: 5,
  negativesPerPositive: 1,
  candidates: 1,
  seed: 0,
  minRating: null,
}

describe("groups", () => {
  test("activeness: G equally sized groups, ordered by training interactions", () => {
    const g = activenessGroups(sim, 4)
    expect(Array.from(g.sizes)).toEqual([50, 51, 51, 51])
    expect(Array.from(g.weights).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
    const act = activeness(sim)
    for (let k = 0; k < 3; k++) {
      const hi = Math.max(...Array.from(members(g, k)).map((u) => act[u]!))
      const lo = Math.min(...Array.from(members(g, k + 1)).map((u) => act[u]!))
      expect(hi).toBeLessThanOrEqual(lo)
    }
    expect(act[0]).toBe(sim.sequenceOffsets[1]! - sim.sequenceOffsets[0]! - 2)
  })

  test("P(z_k) by interactions: each group's share of the training interactions, unlike its share of users", () => {
    const g = activenessGroups(sim, 4)
    const w = interactionWeights(sim, g)
    const act = activeness(sim)
    const total = act.reduce((a, b) => a + b, 0)
    for (let k = 0; k < 4; k++) {
      const mine = Array.from(members(g, k)).reduce((a, u) => a + act[u]!, 0)
      expect(w[k]!).toBeCloseTo(mine / total, 12)
    }
    expect(Array.from(w).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12)
    // activeness groups: the most active quarter holds far more than a quarter of the interactions
    expect(w[3]!).toBeGreaterThan(g.weights[3]! + 0.05)
    expect(w[0]!).toBeLessThan(g.weights[0]! - 0.05)
  })

  test("popularity groups: equal sizes, most popular items first", () => {
    const groups = popularityGroups(sim, 18)
    const sizes = new Array(18).fill(0)
    for (let i = 1; i <= sim.numItems; i++) sizes[groups[i]!]++
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    const pop = new Int32Array(sim.numItems + 1)
    for (let u = 0; u < sim.numUsers; u++)
      for (let p = sim.sequenceOffsets[u]!; p < sim.sequenceOffsets[u + 1]! - 2; p++)
        pop[sim.sequenceItems[p]!]!++
    for (let i = 1; i <= sim.numItems; i++)
      for (let j = 1; j <= sim.numItems; j++)
        if (groups[i]! < groups[j]!) expect(pop[i]).toBeGreaterThanOrEqual(pop[j]!)
  })

  test("consistency: KL between the smoothed halves, by hand", () => {
    const rows: Array<[number, number, number]> = []
    const add = (u: number, items: Array<number>) =>
      items.forEach((i, t) => {
        rows.push([u, i, t])
      })
    add(1, [10, 10 + 1, 20, 21, 90, 91]) // training part [10, 11, 20, 21]
    add(2, [10, 11, 12, 92, 93])
    add(3, [10, 11, 20, 94, 95])
    const data: PreparedDataset = prepareLog(logOf(rows), "kl", config)
    // training popularity: 10:3, 11:3, 20:2, 12:1, 21:1, the six targets 0: 11 items, ranks
    // 0..5 in group 0 (the five popular ones and 90, first of the ties by id), 6..10 in group 1
    const groups = popularityGroups(data, 2)
    const groupOf = (raw: string) => groups[data.itemIds.indexOf(raw)]
    expect([groupOf("10"), groupOf("11"), groupOf("20"), groupOf("12"), groupOf("21")]).toEqual([
      0, 0, 0, 0, 0,
    ])
    expect(groupOf("90")).toBe(0)
    expect(groupOf("91")).toBe(1)
    const kl = consistency(data, { popularityGroups: 2, smoothing: 1 })
    // user 1: past [10, 11] -> counts (2, 0), now [20, 21] -> (2, 0): identical halves
    expect(kl[0]).toBeCloseTo(0, 12)
    // user 2: training [10, 11, 12]: past [10] -> (1+1, 0+1)/3, now [11, 12] -> (2+1, 0+1)/4
    const p = [2 / 3, 1 / 3]
    const q = [3 / 4, 1 / 4]
    expect(kl[1]).toBeCloseTo(p[0]! * Math.log(p[0]! / q[0]!) + p[1]! * Math.log(p[1]! / q[1]!), 12)
    expect(consistencyGroups(data, 3, { popularityGroups: 2 }).sizes).toEqual(
      Int32Array.from([1, 1, 1]),
    )
    expect(thrown(() => consistency(data, { smoothing: 0 }))._tag).toBe("InvalidOption")
  })

  test("attribute groups and teacher subsets by attribute drop empty values", () => {
    const base = prepareLog(
      logOf([
        [1, 1, 1],
        [1, 2, 2],
        [1, 3, 3],
        [2, 1, 1],
        [2, 2, 2],
        [2, 4, 3],
        [3, 5, 1],
        [3, 2, 2],
        [3, 3, 3],
      ]),
      "attr",
      config,
    )
    const data: PreparedDataset = {
      ...base,
      attributes: [{ name: "gender", codes: Int32Array.from([1, 0, 1]), labels: ["F", "M", "X"] }],
    }
    const g = attributeGroups(data, "gender")
    expect(Array.from(g.sizes)).toEqual([1, 2, 0])
    const t = teacherSubsets(data, { attribute: "gender" }, 99)
    expect(t.labels).toEqual(["F", "M"])
    expect(Array.from(t.groupOf)).toEqual([1, 0, 1])
    expect(Array.from(t.weights)).toEqual([1 / 3, 2 / 3])
    const e = thrown(() => attributeGroups(data, "age"))
    expect(e._tag).toBe("InvalidOption")
    expect(e.message).toContain("gender")
  })

  test("teacher subsets by a confounder and random subsets", () => {
    const byActiveness = teacherSubsets(sim, "activeness", 3)
    expect(byActiveness.name).toBe("activeness")
    expect(byActiveness.labels).toHaveLength(3)
    const byConsistency = teacherSubsets(sim, "consistency", 2)
    expect(Array.from(byConsistency.sizes)).toEqual([101, 102])
    const a = randomSubsets(sim, 4, 1)
    const b = randomSubsets(sim, 4, 1)
    const other = randomSubsets(sim, 4, 2)
    expect(b.groupOf).toEqual(a.groupOf)
    expect(other.groupOf).not.toEqual(a.groupOf)
    expect(Array.from(a.sizes)).toEqual([50, 51, 51, 51])
    const all = [0, 1, 2, 3].flatMap((k) => Array.from(members(a, k))).sort((x, y) => x - y)
    expect(all).toEqual(Array.from({ length: sim.numUsers }, (_, u) => u))
    expect(thrown(() => randomSubsets(sim, 0, 1))._tag).toBe("InvalidOption")
    const byConfounder = teacherSubsets(sim, "confounder", 2)
    const c = sim.confounder!.values
    const low = Math.max(...Array.from(members(byConfounder, 0)).map((u) => c[u]!))
    const high = Math.min(...Array.from(members(byConfounder, 1)).map((u) => c[u]!))
    expect(low).toBeLessThanOrEqual(high)
    expect(low).toBeLessThan(Math.max(...c))
  })

  test("summary table (arquero): users, weights and mean activeness per group", () => {
    const g = activenessGroups(sim, 4)
    const table = summary(sim, g)
    expect(table.numRows()).toBe(4)
    expect(Array.from(table.array("users") as ArrayLike<number>)).toEqual(Array.from(g.sizes))
    const act = activeness(sim)
    const mean0 = Array.from(members(g, 0)).reduce((s, u) => s + act[u]!, 0) / g.sizes[0]!
    expect(table.get("meanActiveness", 0)).toBeCloseTo(mean0, 10)
    const shares = Array.from(table.array("interactionShare") as ArrayLike<number>)
    expect(shares.reduce((s, x) => s + x, 0)).toBeCloseTo(1, 10)
    expect(table.get("label", 3)).toBe(g.labels[3])
  })
})
