/** Shared helpers of the data package's tests. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Cause, Effect, Exit } from "effect"
import type { DataError } from "../src/Errors.ts"
import { type InteractionLog, LogBuilder, NumericIds } from "../src/Interactions.ts"

/** A fresh temporary folder and a function removing it. */
export const tempDir = (): { readonly dir: string; readonly cleanup: () => void } => {
  const dir = mkdtempSync(join(tmpdir(), "causald-data-"))
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) }
}

/** Writes `content` (text or bytes) to `dir/name` and returns the path. */
export const writeFile = (dir: string, name: string, content: string | Uint8Array): string => {
  const path = join(dir, name)
  writeFileSync(path, content)
  return path
}

/** An in-memory log from rows [user, item, time] (numeric ids, file order = array order). */
export const logOf = (
  rows: ReadonlyArray<readonly [number, number, number]>,
  extra: { readonly rating?: ReadonlyArray<number>; readonly clicked?: ReadonlyArray<number> } = {},
): InteractionLog => {
  const users = new NumericIds()
  const items = new NumericIds()
  const b = new LogBuilder({
    rating: extra.rating !== undefined,
    clicked: extra.clicked !== undefined,
  })
  rows.forEach(([u, i, t], r) => {
    b.push(users.code(u), items.code(i), t, extra.rating?.[r] ?? 0, extra.clicked?.[r] ?? 1)
  })
  return b.finish("memory", users, items)
}

/** Runs an effect that must fail and returns its typed error. */
export const failure = async <A>(effect: Effect.Effect<A, DataError>): Promise<DataError> => {
  const exit = await Effect.runPromiseExit(effect)
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const found = exit.cause.reasons.find(Cause.isFailReason)
  if (found === undefined)
    throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return found.error
}

/** Runs a plain function that must throw a typed error and returns it. */
export const thrown = (f: () => unknown): DataError => {
  try {
    f()
  } catch (e) {
    return e as DataError
  }
  throw new Error("expected a thrown error")
}
