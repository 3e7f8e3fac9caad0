/**
 * The methods' registry is the one place a method is defined: the command line, the labels, the
 * tables and the paper lookups derive from it, and agree with the paper's layout.
 */
import { describe, expect, test } from "bun:test"
import { BaseModels } from "@causald/models"
import { Baselines, Methods as Training } from "@causald/training"
import {
  ablationMethods,
  bases,
  experimentNeeds,
  methodAliases,
  methodLabel,
  methods,
  overallMethods,
  paperOverallMethods,
} from "../src/Methods.ts"

describe("the methods' registry", () => {
  test("every baseline of @causald/training is a method, in the paper's column order", () => {
    const baselines = methods.filter((m) => Training.methods[m].objective._tag === "Baseline")
    expect(baselines).toEqual([...Baselines.baselineNames])
    for (const b of Baselines.baselineNames) {
      expect(methodLabel(b, "din")).toBe(Baselines.baselines[b].title)
      expect(overallMethods).toContain(b)
    }
  })

  test("labels follow the base model's title", () => {
    for (const b of bases) {
      const title = BaseModels.baseModels[b].title
      expect(methodLabel("base", b)).toBe(title)
      expect(methodLabel("groupwise", b)).toBe(`${title} (Group-wise)`)
    }
    expect(methodLabel("wo-fda", "din")).toBe("w.o. FDA")
    expect(methodLabel("ho-teachers", "deepfm")).toBe("Ho Teachers")
  })

  test("the tables' columns and rows are the paper's", () => {
    expect(paperOverallMethods).toEqual([
      "base",
      "kd",
      "ips",
      "causalrec",
      "derec",
      "debiasd",
      "ensctr",
      "meal",
      "causald",
    ])
    expect(ablationMethods).toEqual(["base", "ho-teachers", "wo-fda", "causald"])
    expect(experimentNeeds.table5).toEqual(ablationMethods)
    expect(experimentNeeds.fig4).toEqual(["base", "wo-fda", "causald"])
    expect(experimentNeeds.fig1).toEqual(["base", "groupwise"])
  })

  test("every base model names the base method on the command line", () => {
    for (const b of bases) expect(methodAliases[b]).toBe("base")
  })

  test("CausalD's coefficients are searched on the paper's grid, λ_FDA first", () => {
    expect(Training.methods.causald.coefficients.map((c) => c.name)).toEqual([
      "lambdaFda",
      "lambdaBda",
    ])
    for (const c of Training.methods.causald.coefficients)
      expect(c.grid).toEqual(Baselines.coefficientGrid)
  })
})
