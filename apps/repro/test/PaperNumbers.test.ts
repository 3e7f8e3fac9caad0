/**
 * Every transcribed number against the paper's text (`../shared/paper/causald-paper.txt`), read
 * here by an independent parser. Skipped, with a visible message, where the paper is absent.
 */
import { describe, expect, test } from "bun:test"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import * as Paper from "../src/PaperNumbers.ts"

const file = join(import.meta.dir, "..", "..", "..", "..", "shared", "paper", "causald-paper.txt")
const present = existsSync(file)
if (!present) console.log(`SKIP PaperNumbers transcription check: ${file} is absent`)
const lines = present ? readFileSync(file, "utf8").split("\n") : []

/** The tab-separated rows after the line starting with `caption`, up to a blank line. */
const rows = (caption: string): ReadonlyArray<ReadonlyArray<string>> => {
  const start = lines.findIndex((l) => l.startsWith(caption))
  const out: Array<Array<string>> = []
  for (let i = start + 2; i < lines.length && lines[i].trim() !== ""; i++)
    out.push(lines[i].split("\t"))
  return out
}

const num = (s: string): number => Number(s.replace(/<\/?u>/g, ""))

describe.skipIf(!present)("PaperNumbers match the paper's text", () => {
  test("Table 2", () => {
    const r = rows("TABLE 2:").slice(1)
    expect(r.length).toBe(3)
    r.forEach((cells, i) => {
      const t = Paper.table2[i]
      expect(cells[0]).toBe(t.dataset)
      expect([
        num(cells[1].replace(/[, ]/g, "")),
        num(cells[2].replace(/[, ]/g, "")),
        num(cells[3].replace(/[, ]/g, "")),
        num(cells[4]),
      ]).toEqual([t.users, t.items, t.interactions, t.density])
    })
  })

  for (const [caption, base] of [
    ["TABLE 3:", "din"],
    ["TABLE 4:", "deepfm"],
  ] as const) {
    test(`${caption} every value, p-value and underline`, () => {
      const r = rows(caption).slice(1)
      expect(r.length).toBe(18)
      let dataset = ""
      r.forEach((cells, i) => {
        if (cells[0] !== "") dataset = cells[0]
        const ours = Paper.overall[base]![dataset as Paper.PaperDataset][i % 6]
        expect(ours.metric).toBe(cells[1].replace(" ↓", "") as typeof ours.metric)
        const values = Paper.overallMethods.map((m) => ours.values[m])
        expect(values).toEqual(cells.slice(2, 11).map(num))
        expect(ours.pValue).toEqual(cells[11] === "-" ? null : Number(cells[11]))
        const underlined = Paper.overallMethods.filter((_, j) => cells[2 + j].startsWith("<u>"))
        expect([...ours.underlined]).toEqual(underlined)
      })
    })
  }

  for (const [caption, base] of [
    ["TABLE 5:", "din"],
    ["TABLE 6:", "deepfm"],
  ] as const) {
    test(`${caption} ablation`, () => {
      const r = rows(caption).slice(2)
      expect(r.length).toBe(4)
      r.forEach((cells, i) => {
        const m = Paper.ablationMethods[i]
        const amazon = Paper.ablation[base]!.Amazon[m]
        const alipay = Paper.ablation[base]!.Alipay[m]
        expect([
          amazon?.AUC,
          amazon?.["NDCG@10"],
          amazon?.["R@10"],
          alipay?.AUC,
          alipay?.["NDCG@10"],
          alipay?.["R@10"],
        ]).toEqual(cells.slice(1, 7).map(num))
      })
    })
  }

  test("TABLE 7: number of teachers", () => {
    const r = rows("TABLE 7:").slice(2)
    expect(r.length).toBe(4)
    r.forEach((cells, i) => {
      const a = Paper.teacherCounts.Amazon[i]
      const b = Paper.teacherCounts.Alipay[i]
      expect(a.teachers).toBe(Number(cells[0]))
      expect(b.teachers).toBe(Number(cells[0]))
      expect([a.AUC, a["NDCG@10"], a["R@10"], b.AUC, b["NDCG@10"], b["R@10"]]).toEqual(
        cells.slice(1, 7).map(num),
      )
    })
  })
})
