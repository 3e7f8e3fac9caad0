/**
 * A distilled student's record of its teachers: written when it is first trained, accepted when
 * the teachers are the same, refused (with the folder to delete) when they changed.
 */
import { describe, expect, test } from "bun:test"
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Exit } from "effect"
import { checkTeachers, difference, type TeacherRecord } from "../src/Provenance.ts"

const run = <A, E>(
  effect: Effect.Effect<A, E, import("@effect/platform-node").NodeServices.NodeServices>,
) => Effect.runPromiseExit(effect.pipe(Effect.provide(NodeServices.layer)))

const teachers: ReadonlyArray<TeacherRecord> = [
  { model: "teachers-activeness-4-0", epochs: 8, bestEpoch: 4, bestValidationAuc: 0.733 },
  { model: "teachers-activeness-4-1", epochs: 17, bestEpoch: 14, bestValidationAuc: 0.753 },
]

/** The failure's printed cause (its message included), "" on success. */
const failure = (exit: Exit.Exit<unknown, unknown>): string =>
  Exit.isFailure(exit) ? String(exit.cause) : ""

describe("Provenance: a student's teachers", () => {
  test("recorded on first use, accepted while the same, refused by folder once they changed", async () => {
    const directory = join(mkdtempSync(join(tmpdir(), "causald-prov-")), "causald", "seed-1")
    expect(Exit.isSuccess(await run(checkTeachers(directory, teachers)))).toBe(true)
    expect(JSON.parse(readFileSync(join(directory, "teachers.json"), "utf8"))).toEqual(teachers)
    expect(Exit.isSuccess(await run(checkTeachers(directory, teachers)))).toBe(true)

    const continued = [teachers[0]!, { ...teachers[1]!, epochs: 31, bestEpoch: 27 }]
    const exit = await run(checkTeachers(directory, continued))
    expect(Exit.isFailure(exit)).toBe(true)
    const message = failure(exit)
    expect(message).toContain(`${directory} was trained from other teachers`)
    expect(message).toContain("recorded teachers-activeness-4-1: 17 epochs, best 14")
    expect(message).toContain("now teachers-activeness-4-1: 31 epochs, best 27")
    expect(message).toContain("delete that folder")
    // the record is left as it was
    expect(JSON.parse(readFileSync(join(directory, "teachers.json"), "utf8"))).toEqual(teachers)
  })

  test("a record that is not a teacher list is refused, naming the file", async () => {
    const directory = mkdtempSync(join(tmpdir(), "causald-prov-"))
    writeFileSync(join(directory, "teachers.json"), '{"teachers": 4}')
    const exit = await run(checkTeachers(directory, teachers))
    expect(Exit.isFailure(exit)).toBe(true)
    expect(failure(exit)).toContain(`${join(directory, "teachers.json")} is not a teacher list`)
  })

  test("difference: count, folder and outcome changes; none for equal lists", () => {
    expect(difference(teachers, teachers)).toBeUndefined()
    expect(difference(teachers, teachers.slice(0, 1))).toBe("2 teachers recorded, 1 now")
    expect(difference(teachers, [{ ...teachers[0]!, model: "x" }, teachers[1]!])).toContain(
      "now x:",
    )
    expect(
      difference(teachers, [{ ...teachers[0]!, bestValidationAuc: 0.8 }, teachers[1]!]),
    ).toContain("validation AUC 0.8000")
  })
})
