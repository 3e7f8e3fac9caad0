/**
 * A model's record of what it was trained from (its teachers and coefficients): written when it
 * is first trained, accepted while the configuration is the same, refused (with the folder to
 * delete) once it changed.
 */
import { describe, expect, test } from "bun:test"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { BaseModels, Din } from "@causald/models"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit, Result } from "effect"
import { baseModelRecord } from "../src/Fingerprint.ts"
import { checkProvenance, difference, type Provenance } from "../src/Provenance.ts"

const run = <A, E>(
  effect: Effect.Effect<A, E, import("@effect/platform-node").NodeServices.NodeServices>,
) => Effect.runPromiseExit(effect.pipe(Effect.provide(NodeServices.layer)))

const record: Provenance = {
  teachers: [
    { model: "teachers-activeness-4-0", epochs: 8, bestEpoch: 4, bestValidationAuc: 0.733 },
    { model: "teachers-activeness-4-1", epochs: 17, bestEpoch: 14, bestValidationAuc: 0.753 },
  ],
  settings: { lambdaBda: 1, lambdaFda: 1 },
}

/** The failure's printed cause (its message included), "" on success. */
const failure = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isFailure(exit) ? String(exit.cause) : ""

const saved = (directory: string) =>
  JSON.parse(readFileSync(join(directory, "provenance.json"), "utf8"))

describe("Provenance: what a model was trained from", () => {
  test("recorded on first use, accepted while the same, refused by folder once the teachers changed", async () => {
    const directory = join(mkdtempSync(join(tmpdir(), "causald-prov-")), "causald", "seed-1")
    const first = await run(checkProvenance(directory, record))
    expect(Exit.isSuccess(first) && first.value).toBe("recorded")
    expect(saved(directory)).toEqual(record)
    const again = await run(checkProvenance(directory, record))
    expect(Exit.isSuccess(again) && again.value).toBe("matched")

    const continued: Provenance = {
      ...record,
      teachers: [record.teachers[0]!, { ...record.teachers[1]!, epochs: 31, bestEpoch: 27 }],
    }
    const exit = await run(checkProvenance(directory, continued))
    expect(Exit.isFailure(exit)).toBe(true)
    const message = failure(exit)
    expect(message).toContain(`${directory} was trained from another configuration`)
    expect(message).toContain("recorded teachers-activeness-4-1: 17 epochs, best 14")
    expect(message).toContain("now teachers-activeness-4-1: 31 epochs, best 27")
    expect(message).toContain("delete that folder")
    expect(saved(directory)).toEqual(record) // left as it was
  })

  test("a model trained before records existed is adopted (and then recorded), not silently", async () => {
    const directory = mkdtempSync(join(tmpdir(), "causald-prov-"))
    writeFileSync(join(directory, "last.ckpt"), "")
    const exit = await run(checkProvenance(directory, record))
    expect(Exit.isSuccess(exit) && exit.value).toBe("adopted")
    expect(saved(directory)).toEqual(record)
    const again = await run(checkProvenance(directory, record))
    expect(Exit.isSuccess(again) && again.value).toBe("matched")
  })

  test("another coefficient is refused, naming it", async () => {
    const directory = mkdtempSync(join(tmpdir(), "causald-prov-"))
    expect(Exit.isSuccess(await run(checkProvenance(directory, record)))).toBe(true)
    const exit = await run(
      checkProvenance(directory, { ...record, settings: { lambdaBda: 0.01, lambdaFda: 1 } }),
    )
    expect(failure(exit)).toContain("lambdaBda was 1, now 0.01")
  })

  test("the base model's configuration: another one is refused, naming the option", async () => {
    const directory = mkdtempSync(join(tmpdir(), "causald-prov-"))
    const atDefaults = { ...record, model: baseModelRecord(BaseModels.defaults("din")) }
    expect(Exit.isSuccess(await run(checkProvenance(directory, atDefaults)))).toBe(true)
    expect(saved(directory).model).toEqual({ base: "din", config: Din.defaultConfig })
    const deeper = Result.getOrThrow(BaseModels.resolve("din", { predictorHidden: [200, 80, 40] }))
    const exit = await run(
      checkProvenance(directory, { ...record, model: baseModelRecord(deeper) }),
    )
    expect(failure(exit)).toContain(
      "base model option predictorHidden was [200,80], now [200,80,40]",
    )
    expect(failure(exit)).toContain("delete that folder")
    const again = await run(checkProvenance(directory, atDefaults))
    expect(Exit.isSuccess(again) && again.value).toBe("matched")
  })

  test("a record from before configurations were recorded stands for the defaults", async () => {
    // provenance.json as earlier versions wrote it: teachers and settings, no `model`
    const directory = mkdtempSync(join(tmpdir(), "causald-prov-"))
    writeFileSync(join(directory, "provenance.json"), JSON.stringify(record))
    for (const base of BaseModels.baseModelNames) {
      const current = { ...record, model: baseModelRecord(BaseModels.defaults(base)) }
      const exit = await run(checkProvenance(directory, current))
      expect(Exit.isSuccess(exit) && exit.value).toBe("matched")
    }
    expect(saved(directory)).toEqual(record) // a match leaves the record as it was
    const wider = Result.getOrThrow(BaseModels.resolve("deepfm", { embeddingSize: 16 }))
    const exit = await run(checkProvenance(directory, { ...record, model: baseModelRecord(wider) }))
    expect(failure(exit)).toContain("base model option embeddingSize was 8, now 16")
  })

  test("a record that is not a provenance record is refused, naming the file", async () => {
    const directory = mkdtempSync(join(tmpdir(), "causald-prov-"))
    writeFileSync(join(directory, "provenance.json"), '{"teachers": 4}')
    const exit = await run(checkProvenance(directory, record))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(failure(exit)).toContain(
      `${join(directory, "provenance.json")} is not a provenance record`,
    )
  })

  test("difference: teacher count, folder, outcome and settings; none for equal records", () => {
    const [t0, t1] = [record.teachers[0]!, record.teachers[1]!]
    expect(difference(record, record)).toBeUndefined()
    expect(difference(record, { ...record, teachers: [t0] })).toBe("2 teachers recorded, 1 now")
    expect(difference(record, { ...record, teachers: [{ ...t0, model: "x" }, t1] })).toContain(
      "now x:",
    )
    expect(
      difference(record, { ...record, teachers: [{ ...t0, bestValidationAuc: 0.8 }, t1] }),
    ).toContain("validation AUC 0.8000")
    expect(difference(record, { ...record, settings: { lambdaBda: 1 } })).toBe(
      "lambdaFda was 1, now unset",
    )
    // a non-default feature distance is a setting too (CausalD's --bda-distance)
    expect(
      difference(record, {
        ...record,
        settings: { ...record.settings, bdaDistance: "squared-euclidean" },
      }),
    ).toBe("bdaDistance was unset, now squared-euclidean")
  })
})
