import { describe, expect, test } from "bun:test"
import { parse } from "csv-parse/sync"
import * as Paper from "../src/PaperNumbers.ts"
import { type Results, summarize } from "../src/Results.ts"
import { formatP, marks, paperMatch, table2, table3, table5, table7 } from "../src/Tables.ts"
import { makeResults, options } from "./fixture.ts"

/** The cells of `metric`'s row from `source` ("this run" or the paper row printed under it). */
const row = (markdown: string, metric: string, source: string): ReadonlyArray<string> => {
  const lines = markdown.split("\n").filter((l) => l.startsWith("| "))
  const cells = lines.map((l) => l.slice(2, -2).split(" | "))
  const ours = cells.findIndex((c) => c[0] === metric && c[1] === "this run")
  const i = source === "this run" ? ours : ours + 1
  if (ours < 0 || cells[i]?.[1] !== source) throw new Error(`no row ${metric} / ${source}`)
  return cells[i]
}

const header = (markdown: string): ReadonlyArray<string> => {
  const line = markdown.split("\n").find((l) => l.startsWith("| "))
  return line === undefined ? [] : line.slice(2, -2).split(" | ")
}

/** The cell of `label`'s column. */
const at = (markdown: string, cells: ReadonlyArray<string>, label: string): string =>
  cells[header(markdown).indexOf(label)]

const isBold = (c: string) => c.startsWith("**") && c.endsWith("**")
const isUnderlined = (c: string) => c.startsWith("<u>") && c.endsWith("</u>")

describe("Table 3", () => {
  const results = makeResults()
  const t = table3(results)

  test("columns: the paper's methods that ran, then the p-value", () => {
    expect(header(t.markdown)).toEqual([
      "Metric",
      "Source",
      "DIN",
      "KD",
      "IPS",
      "CausalRec",
      "DeRec",
      "DebiasD",
      "EnsCTR",
      "MEAL",
      "CausalD",
      "p-value",
    ])
  })

  test("bold on the best, underline on the runner-up, one of each per row", () => {
    for (const metric of ["AUC", "R@5", "R@10", "NDCG@5", "NDCG@10"]) {
      const cells = row(t.markdown, metric, "this run")
      expect(isBold(at(t.markdown, cells, "CausalD"))).toBe(true)
      expect(isUnderlined(at(t.markdown, cells, "EnsCTR"))).toBe(true)
      expect(cells.filter(isBold).length).toBe(1)
      expect(cells.filter(isUnderlined).length).toBe(1)
    }
  })

  test("Heterogeneity: lower is better", () => {
    const cells = row(t.markdown, "Heterogeneity ↓", "this run")
    expect(isBold(at(t.markdown, cells, "CausalD"))).toBe(true)
    expect(isUnderlined(at(t.markdown, cells, "IPS"))).toBe(true)
    // EnsCTR has the largest heterogeneity: neither mark
    expect(at(t.markdown, cells, "EnsCTR")).toBe("0.9500 ± 0.0018")
    // make DIN the least heterogeneous: it becomes bold there and only there
    const din = results.methods.map((m) =>
      m.method === "base"
        ? { ...m, metrics: { ...m.metrics, Heterogeneity: summarize([0.01, 0.02, 0.03]) } }
        : m,
    )
    const t2 = table3({ ...results, methods: din })
    expect(isBold(at(t2.markdown, row(t2.markdown, "Heterogeneity ↓", "this run"), "DIN"))).toBe(
      true,
    )
    expect(
      isUnderlined(at(t2.markdown, row(t2.markdown, "Heterogeneity ↓", "this run"), "CausalD")),
    ).toBe(true)
    expect(isBold(at(t2.markdown, row(t2.markdown, "AUC", "this run"), "DIN"))).toBe(false)
  })

  test("the p-value column holds the comparison, in the paper's format", () => {
    const cells = row(t.markdown, "AUC", "this run")
    const p = results.comparisons.find((c) => c.metric === "AUC")?.pValue ?? Number.NaN
    expect(cells.at(-1)).toBe(`${formatP(p)} (CausalD vs EnsCTR)`)
    expect(formatP(1.36e-7)).toBe("1.36e-07")
    expect(formatP(0.0189)).toBe("1.89e-02")
    expect(formatP(null)).toBe("–")
  })

  test("the paper's Table 3 row beside ours for MovieLens with DIN", () => {
    const cells = row(t.markdown, "AUC", "paper (Table 3, MovieLens)")
    expect(at(t.markdown, cells, "CausalD")).toBe("0.8329")
    expect(at(t.markdown, cells, "EnsCTR")).toBe("<u>0.8257</u>")
    expect(cells.at(-1)).toContain("1.36e-07")
    expect(t.markdown).toContain("MovieLens-1M")
  })

  test("DeepFM reads Table 4; a simulated run has no paper rows", () => {
    const deepfm = makeResults({
      manifest: { ...makeResults().manifest, configuration: { ...options, base: "deepfm" } },
    })
    const t4 = table3(deepfm)
    expect(t4.markdown).toContain("# Table 4")
    expect(header(t4.markdown)[2]).toBe("DeepFM")
    expect(
      at(t4.markdown, row(t4.markdown, "Heterogeneity ↓", "paper (Table 4, MovieLens)"), "DeepFM"),
    ).toBe("7.1753")
    const sim = makeResults({
      dataset: { ...makeResults().dataset, kind: "simulated", name: "simulated" },
    })
    expect(paperMatch(sim)).toBeUndefined()
    expect(table3(sim).markdown).not.toContain("paper (")
  })

  test("the CSV parses back to the results' numbers and the paper's", () => {
    const records: Array<Record<string, string>> = parse(t.csv, { columns: true })
    expect(records.length).toBe(12)
    for (const metric of ["AUC", "NDCG@10", "Heterogeneity"] as const) {
      const ours = records.find((r) => r.source === "this run" && r.metric === metric)
      const causald = results.methods.find((m) => m.method === "causald")?.metrics[metric]
      expect(Number(ours?.["CausalD mean"])).toBe(causald?.mean ?? Number.NaN)
      expect(Number(ours?.["CausalD std"])).toBe(causald?.std ?? Number.NaN)
      expect(ours?.best).toBe("causald")
      expect(ours?.direction).toBe(metric === "Heterogeneity" ? "lower" : "higher")
      const comparison = results.comparisons.find((c) => c.metric === metric)
      expect(Number(ours?.p_value)).toBe(comparison?.pValue ?? Number.NaN)
      const paper = records.find((r) => r.source.startsWith("paper") && r.metric === metric)
      const paperRow = Paper.overall.din!.MovieLens.find((r) => r.metric === metric)
      expect(Number(paper?.["DIN mean"])).toBe(paperRow?.values.base ?? Number.NaN)
      expect(Number(paper?.p_value)).toBe(paperRow?.pValue ?? Number.NaN)
    }
  })

  test("Heterogeneity not measured: dashes and a note saying why", () => {
    const results2: Results = {
      ...results,
      methods: results.methods.map((m) => ({
        ...m,
        metrics: { ...m.metrics, Heterogeneity: null },
      })),
      comparisons: results.comparisons.filter((c) => c.metric !== "Heterogeneity"),
    }
    const t2 = table3(results2)
    const cells = row(t2.markdown, "Heterogeneity ↓", "this run")
    expect(cells.slice(2).every((c) => c === "–")).toBe(true)
    expect(t2.markdown).toContain("Heterogeneity was not measured")
  })
})

describe("marks", () => {
  test("best and runner-up in either direction, undefined values skipped", () => {
    expect(marks([0.2, undefined, 0.5, 0.4], "higher")).toEqual([
      undefined,
      undefined,
      "best",
      "runnerUp",
    ])
    expect(marks([0.2, undefined, 0.5, 0.4], "lower")).toEqual([
      "best",
      undefined,
      undefined,
      "runnerUp",
    ])
  })
})

describe("Tables 2, 5 and 7", () => {
  test("Table 2: this run's statistics and the paper's three data sets", () => {
    const t = table2(makeResults())
    expect(t.markdown).toContain("| ml-100k (this run, 16-core) | 943 | 1,010 | 96,216 | 0.10102 |")
    expect(t.markdown).toContain("| MovieLens (paper) | 6,040 | 3,900 | 1,000,209 | 0.04246 |")
    const records: Array<Record<string, string>> = parse(t.csv, { columns: true })
    expect(records.map((r) => Number(r.users))).toEqual([943, 6040, 459133, 400594])
  })

  test("Table 5: the ablation rows with marks; the paper's beside on Amazon", () => {
    const t = table5(makeResults())
    if (t === undefined) throw new Error("no table 5")
    expect(t.markdown).toContain("| **0.8300 ± 0.0018** |")
    const lines = t.markdown.split("\n")
    expect(lines.find((l) => l.startsWith("| CausalD |"))).toContain("**0.8300 ± 0.0018**")
    expect(lines.find((l) => l.startsWith("| w.o. FDA |"))).toContain("<u>0.8150 ± 0.0018</u>")
    expect(t.markdown).not.toContain("(paper)")
    const amazon = makeResults({
      dataset: { ...makeResults().dataset, kind: "amazon-csv", name: "books" },
    })
    const ta = table5(amazon)
    expect(ta?.markdown).toContain("AUC (paper)")
    const records: Array<Record<string, string>> = parse(ta?.csv ?? "", { columns: true })
    expect(records.map((r) => r.method)).toEqual(["base", "ho-teachers", "wo-fda", "causald"])
    expect(Number(records[3]["AUC paper"])).toBe(0.9027)
    expect(Number(records[3]["R@10 paper"])).toBe(0.7216)
    const none = makeResults({
      methods: makeResults().methods.filter(
        (m) => !["base", "causald", "wo-fda", "ho-teachers"].includes(m.method),
      ),
    })
    expect(table5(none)).toBeUndefined()
  })

  test("Table 7: one row per teacher count, the best K in bold", () => {
    const t = table7(makeResults())
    expect(t?.markdown.split("\n").find((l) => l.startsWith("| 8 |"))).toContain(
      "**0.8350 ± 0.0018**",
    )
    expect(t?.markdown.split("\n").find((l) => l.startsWith("| 16 |"))).toContain(
      "<u>0.8330 ± 0.0018</u>",
    )
    const amazon = makeResults({
      dataset: { ...makeResults().dataset, kind: "amazon-json", name: "books" },
    })
    const records: Array<Record<string, string>> = parse(table7(amazon)?.csv ?? "", {
      columns: true,
    })
    expect(records.map((r) => [r.teachers, Number(r["AUC paper"])])).toEqual([
      ["2", 0.891],
      ["4", 0.8869],
      ["8", 0.8965],
      ["16", 0.8931],
    ])
    expect(table7(makeResults({ teacherCounts: null }))).toBeUndefined()
  })
})
