import { describe, expect, test } from "bun:test"
import { Effect, Result } from "effect"
import { XMLValidator } from "fast-xml-parser"
import type { TopLevelSpec } from "vega-lite"
import {
  figure1Spec,
  figure4Spec,
  figure5Spec,
  figures,
  renderSvg,
  svgToPng,
} from "../src/Figures.ts"
import { makeResults } from "./fixture.ts"

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]

const render = async (spec: TopLevelSpec | undefined) => {
  if (spec === undefined) throw new Error("no figure")
  const svg = await Effect.runPromise(renderSvg(spec))
  const png = Result.getOrThrow(svgToPng(svg))
  return { svg, png }
}

const checkImages = (svg: string, png: Uint8Array) => {
  expect(svg.length).toBeGreaterThan(1000)
  expect(svg.startsWith("<svg")).toBe(true)
  expect(XMLValidator.validate(svg)).toBe(true)
  expect([...png.subarray(0, 8)]).toEqual(PNG_SIGNATURE)
  expect(png.length).toBeGreaterThan(5000)
}

describe("Figures", () => {
  const results = makeResults()

  test("Figure 1: unified vs group-wise per activeness group", async () => {
    const { svg, png } = await render(figure1Spec(results))
    checkImages(svg, png)
    for (const text of [
      "Fig. 1",
      "DIN (unified training)",
      "DIN (group-wise training)",
      "G1 (least)",
      "AUC (test)",
      "NDCG@10 (test)",
    ]) {
      expect(svg).toContain(text)
    }
  })

  test("Figure 4: lines of DIN, w.o. FDA and CausalD over bars of the confounder, two panels", async () => {
    const { svg, png } = await render(figure4Spec(results))
    checkImages(svg, png)
    for (const text of [
      "(a) user activeness",
      "(b) behaviour consistency",
      "w.o. FDA",
      "CausalD",
      "mean activeness (interactions)",
    ]) {
      expect(svg).toContain(text)
    }
  })

  test("Figure 5: metrics against λ_BDA and λ_FDA on a log axis", async () => {
    const spec = figure5Spec(results)
    const { svg, png } = await render(spec)
    checkImages(svg, png)
    for (const text of ["λ_BDA", "λ_FDA", "0.01", "10", "NDCG@10"]) expect(svg).toContain(text)
    expect(JSON.stringify(spec)).toContain('"type":"log"')
  })

  test("Figure 5 compares like with like: the dashed base is the sensitivity runs' seed, not the mean", () => {
    const spec = JSON.stringify(figure5Spec(results))
    const base = results.methods.find((m) => m.method === "base")!.metrics.AUC
    expect(base.perSeed[0]).not.toBe(base.mean)
    expect(spec).toContain(`{"value":${base.perSeed[0]}}`)
    expect(spec).not.toContain(`{"value":${base.mean}}`)
    expect(spec).toContain(`seed ${results.manifest.seeds[0]}`)
  })

  test("group labels are drawn without the grouping's name, which the axis title gives", async () => {
    const prefixed = makeResults({
      groupings: results.groupings.map((g) => ({
        ...g,
        labels: g.labels.map((_label, i) => `${g.name} ${i + 1}/5 [${i}, ${i + 1}]`),
      })),
    })
    const { svg } = await render(figure1Spec(prefixed))
    // Drawn text only (the accessible labels keep the full name).
    expect(svg).toContain(">1/5 [0, 1]</text>")
    expect(svg).not.toContain(">activeness 1/5")
  })

  test("a figure whose inputs are missing is not drawn", () => {
    const noGroupWise = makeResults({
      groupings: results.groupings.map((g) => ({
        ...g,
        methods: g.methods.filter((m) => m.method !== "groupwise"),
      })),
      sensitivity: null,
    })
    expect(figure1Spec(noGroupWise)).toBeUndefined()
    expect(figure5Spec(noGroupWise)).toBeUndefined()
    expect(figure4Spec(makeResults({ groupings: [] }))).toBeUndefined()
    expect(figures(noGroupWise).map((f) => f.name)).toEqual(["figure4"])
    expect(figures(results).map((f) => f.name)).toEqual(["figure1", "figure4", "figure5"])
  })

  test("an SVG resvg cannot read is a FigureError, not a crash", () => {
    const r = svgToPng("<svg")
    expect(Result.isFailure(r) && r.failure._tag).toBe("FigureError")
  })
})
