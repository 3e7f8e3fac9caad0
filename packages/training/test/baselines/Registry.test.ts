import { describe, expect, test } from "bun:test"
import { InvalidBaselineOption } from "../../src/baselines/Errors.ts"
import {
  baselineNames,
  baselines,
  clippingGrid,
  coefficientGrid,
  isBaselineName,
  makeBaseline,
} from "../../src/baselines/index.ts"
import { meanPool } from "../fixtures.ts"
import { contextOf, data, firstBatch, groups, sharedWith, startCpu, student } from "./setup.ts"

const backend = await startCpu()

describe("the baseline registry", () => {
  test("it lists the seven baselines of Tables 3-4 in column order, with the paper's grids", () => {
    expect(baselineNames.map((n) => baselines[n].title)).toEqual([
      "KD",
      "IPS",
      "CausalRec",
      "DeRec",
      "DebiasD",
      "EnsCTR",
      "MEAL",
    ])
    expect(coefficientGrid).toEqual([0.01, 0.1, 1, 10])
    expect(clippingGrid.map((t) => Math.round(1 / t))).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 10])
    for (const name of baselineNames) {
      const entry = baselines[name]
      expect(entry.name).toBe(name)
      expect(isBaselineName(name)).toBe(true)
      if (entry.hyperparameter !== null)
        expect(entry.hyperparameter.grid).toContain(entry.hyperparameter.default)
    }
    expect(baselines.ips.hyperparameter?.name).toBe("clip")
    expect(baselines.ips.hyperparameter?.grid).toEqual(clippingGrid)
    for (const name of ["kd", "debiasd", "ensctr", "meal"] as const)
      expect(baselines[name].hyperparameter?.grid).toEqual(coefficientGrid)
    expect(baselines.derec.hyperparameter).toBeNull()
    expect(baselines.kd.teachers).toBe("single")
    expect(isBaselineName("causald")).toBe(false)
  })

  test("every constructor returns an Objective with a finite loss that trains the student and never a teacher, and frees what it owns", () => {
    const teachers = [0, 1].map((k) => meanPool(backend, data.numItems, 8, 50 + k, `t${k}`))
    const s = student(backend, 9)
    for (const name of baselineNames) {
      const live = backend.liveTensors()
      const pool = baselines[name].teachers === "single" ? [teachers[0]!] : teachers
      const objective = makeBaseline(name, backend, s, pool, data, { seed: 1, groups })
      expect(objective.method).toBe(name)
      for (const p of s.parameters) expect(objective.parameters).toContain(p)
      expect(sharedWith(objective, teachers)).toEqual([])
      const loss = backend.tidy(() => {
        const context = contextOf(backend, firstBatch(64))
        const { value, grads } = backend.valueAndGrads(
          () => objective.loss(context, objective.prepare(context)),
          objective.parameters,
        )
        expect(grads).toHaveLength(objective.parameters.length)
        return backend.read(value)[0]!
      })
      expect(Number.isFinite(loss)).toBe(true)
      objective.dispose()
      expect(backend.liveTensors()).toBe(live)
    }
    backend.dispose([...s.parameters, ...teachers.flatMap((t) => t.parameters)])
  })

  test("the coefficient option sets the method's searched hyperparameter", () => {
    const teacher = meanPool(backend, data.numItems, 8, 60, "coef-teacher")
    const s = student(backend, 10)
    const lossAt = (name: "kd" | "ips" | "meal", coefficient: number) => {
      const objective = makeBaseline(name, backend, s, [teacher], data, {
        seed: 1,
        groups,
        coefficient,
      })
      const value = backend.tidy(() => {
        const context = { ...contextOf(backend, firstBatch(64)) }
        return backend.read(objective.loss(context, objective.prepare(context)))[0]!
      })
      objective.dispose()
      return value
    }
    expect(lossAt("kd", 10)).toBeGreaterThan(lossAt("kd", 0.01))
    // A smaller τ clips less: every weight 1/max(p, τ) is at least as large, so the loss grows.
    expect(lossAt("ips", 1 / 10)).toBeGreaterThan(lossAt("ips", 1 / 2))
    expect(lossAt("meal", 10)).toBeGreaterThan(lossAt("meal", 0.01))
    backend.dispose([...s.parameters, ...teacher.parameters])
  })

  test("bad options are typed errors naming the method and the option", () => {
    const s = student(backend, 11)
    const attempt = (f: () => unknown) => {
      try {
        f()
      } catch (error) {
        return error
      }
      return undefined
    }
    for (const name of ["debiasd", "ensctr", "meal"] as const) {
      const error = attempt(() => makeBaseline(name, backend, s, [], data, { seed: 0 }))
      expect(error).toBeInstanceOf(InvalidBaselineOption)
      expect((error as InvalidBaselineOption).method).toBe(name)
      expect((error as InvalidBaselineOption).option).toBe("teachers")
    }
    const wide = meanPool(backend, data.numItems, 4, 1, "wide")
    expect(
      String(attempt(() => makeBaseline("meal", backend, s, [wide], data, { seed: 0 }))),
    ).toContain("mediator width 8")
    const error = attempt(() =>
      makeBaseline("ips", backend, s, [], data, { seed: 0, groups, coefficient: 3 }),
    )
    expect(error).toBeInstanceOf(InvalidBaselineOption)
    expect((error as InvalidBaselineOption).message).toBe(
      "ips: option clip must be a number > 0 and <= 1, found 3",
    )
    backend.dispose([...s.parameters, ...wide.parameters])
  })
})
