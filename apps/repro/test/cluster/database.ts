/**
 * The test server of `scripts/pg-test-server.sh` (`CAUSALD_TEST_PG_URL`), and a fresh database on
 * it for each test, so that no test sees another's cluster tables.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import { QUEUE_LOCK_ENV } from "../../src/cluster/Jobs.ts"

// A killed worker's queue item goes to another after 15 s here, not the default 120 s
// (`queueLockSeconds`): the workers and runners these tests spawn inherit the environment.
process.env[QUEUE_LOCK_ENV] = "15"

/** The test server's URL, or undefined: the tests that need it are then skipped, saying so. */
export const testServerUrl: string | undefined = process.env.CAUSALD_TEST_PG_URL || undefined

if (testServerUrl === undefined) {
  process.stderr.write(
    'SKIP cluster tests with a real server: CAUSALD_TEST_PG_URL is not set (eval "$(scripts/pg-test-server.sh start)")\n',
  )
}

/** A new, empty database on the server of `url`; returns its URL. */
export const freshDatabase = (url: string, prefix: string): Promise<string> => {
  const name = `${prefix}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e9).toString(36)}`
  return Effect.runPromise(
    Effect.gen(function* () {
      const sql = yield* PgClient.PgClient
      yield* sql.unsafe(`CREATE DATABASE ${name}`)
    }).pipe(Effect.provide(PgClient.layer({ url: Redacted.make(url) }))),
  ).then(() => {
    const next = new URL(url)
    next.pathname = `/${name}`
    return next.toString()
  })
}
