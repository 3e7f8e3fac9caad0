/**
 * A lease on a training run's folder, so that several processes can share one output folder
 * (`bun run repro --workers N`) and each model is trained by exactly one of them.
 *
 * The lease is the file `<directory>/lease`, holding the holder's process id, host name, start
 * time and a token unique to the acquisition. It is published atomically: written to a file of
 * its own, then hard-linked to `lease`, which fails when a lease exists (an exclusive create that
 * is never seen half-written). A process that finds a lease:
 * - held by a live process waits, polling, until it is released, then takes it (and the caller
 *   reloads what the holder trained);
 * - held by a dead process (a run killed with SIGKILL, or a process id reused by another program,
 *   told apart by the process's start time) takes it over. Take-over creates the marker
 *   `lease.stale-<token>` exclusively first, so of several processes finding the same stale lease
 *   exactly one removes it; the marker is left in place, so a late process can never remove a
 *   newer lease in the stale one's name.
 *
 * A lease of another host cannot be checked and counts as live, unless the caller asks to
 * {@link LeaseOptions.takeOver} every lease: where something else already guarantees one trainer
 * per folder (the cluster's engine, `apps/repro/src/cluster/Jobs.ts`), a lease left by a worker
 * that died on another machine would otherwise block the run forever.
 *
 * @module
 */
import { randomUUID } from "node:crypto"
import { readFileSync } from "node:fs"
import { hostname } from "node:os"
import { Effect, FileSystem, type PlatformError, Schema, type Scope } from "effect"
import { Progress } from "./Progress.ts"

/** The lease could not be read or written. */
export class LeaseError extends Schema.TaggedError<LeaseError>()("LeaseError", {
  path: Schema.String,
  reason: Schema.String,
}) {
  override get message(): string {
    return `${this.path}: ${this.reason}`
  }
}

/** Who holds a lease: the content of the lease file. */
export const Holder = Schema.Struct({
  pid: Schema.Number,
  host: Schema.String,
  /** The holder's start time (Linux `/proc/<pid>/stat`), to tell a reused process id; else null. */
  started: Schema.NullOr(Schema.Number),
  /** Unique to one acquisition. */
  token: Schema.String,
})
export type Holder = typeof Holder.Type

export interface LeaseOptions {
  /** The run's label, for progress ("waiting for <name> (held by pid P)"). */
  readonly name: string
  /** How often a waiting process looks again; default 2000 ms. */
  readonly pollMillis?: number
  /**
   * Take over any lease not held by this process at once, live-looking or of another host
   * (default false: wait while its holder may be alive). Only for callers that know no other
   * process trains the folder now (the cluster: one workflow execution per folder).
   */
  readonly takeOver?: boolean
}

/** The lease file of a run folder. */
export const leasePath = (directory: string): string => `${directory}/lease`

/** Tokens of the leases this process holds now. */
const held = new Set<string>()

/** The start time of process `pid` in clock ticks since boot (Linux), or null where unknown. */
export const processStart = (pid: number): number | null => {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8")
    // Field 22; the command name (field 2) is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    const started = Number(fields[19])
    return Number.isFinite(started) ? started : null
  } catch {
    return null
  }
}

/** Whether the holder of a lease may still be running (true when it cannot be told). */
export const isAlive = (holder: Holder): boolean => {
  if (holder.host !== hostname()) return true
  // Our own process id: alive only if this process holds that very lease; otherwise a previous
  // process had the same id (containers restart with the same ids).
  if (holder.pid === process.pid) return held.has(holder.token)
  try {
    process.kill(holder.pid, 0)
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    if ((error as { code?: string }).code !== "EPERM") return false
  }
  if (holder.started === null) return true
  const started = processStart(holder.pid)
  return started === null || started === holder.started
}

const systemTag = (error: PlatformError.PlatformError): string => error.reason._tag

/**
 * Whether a live process other than this one holds the lease of `directory` now: a hint for
 * scheduling (try another run first), never a substitute for {@link acquire}, since the answer
 * may change at once. No lease, a dead holder's, or an unreadable one (which `acquire` then
 * reports) count as free.
 */
export const heldByOther = (
  directory: string,
): Effect.Effect<boolean, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(leasePath(directory))
      .pipe(Effect.orElseSucceed(() => null))
    if (text === null) return false
    try {
      const holder = Schema.decodeUnknownSync(Holder)(JSON.parse(text))
      return !held.has(holder.token) && isAlive(holder)
    } catch {
      return false
    }
  })

/**
 * Holds the lease of `directory` for the enclosing scope: waits while a live process holds it,
 * takes over a dead process's lease, and releases it (removes the file, if it is still ours) when
 * the scope closes, whether by success, failure or interruption. The wait is interruptible.
 * Progress reports the wait and any take-over.
 */
export const acquire = (
  directory: string,
  options: LeaseOptions,
): Effect.Effect<Holder, LeaseError, FileSystem.FileSystem | Progress | Scope.Scope> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const progress = yield* Progress
    const path = leasePath(directory)
    const poll = options.pollMillis ?? 2_000
    const self: Holder = {
      pid: process.pid,
      host: hostname(),
      started: processStart(process.pid),
      token: randomUUID(),
    }
    const draft = `${path}.${self.token}`
    const failed = (what: string) => (error: PlatformError.PlatformError) =>
      new LeaseError({ path, reason: `${what}: ${error.message}` })

    /** One attempt to publish our lease: true if we hold it now. */
    const tryCreate = Effect.gen(function* () {
      yield* fs
        .writeFileString(draft, JSON.stringify(self), { flag: "wx" })
        .pipe(Effect.mapError(failed("cannot write the lease")))
      // Counted as held before the link is published: another fiber of this process that reads
      // the new lease while this one still awaits the link's completion must see it alive, not
      // as a previous process's lease with our process id (it would "take it over").
      held.add(self.token)
      const linked = yield* fs.link(draft, path).pipe(
        Effect.as(true),
        Effect.catchIf(
          (e) => systemTag(e) === "AlreadyExists",
          () => Effect.succeed(false),
        ),
        Effect.mapError(failed("cannot create the lease")),
      )
      if (!linked) held.delete(self.token)
      return linked
    }).pipe(
      Effect.onError(() => Effect.sync(() => held.delete(self.token))),
      Effect.ensuring(fs.remove(draft).pipe(Effect.ignore)),
    )

    /** The current holder, or null when the lease vanished meanwhile (released). */
    const readHolder = fs.readFileString(path).pipe(
      Effect.map((text): Holder | null | "unreadable" => {
        try {
          return Schema.decodeUnknownSync(Holder)(JSON.parse(text))
        } catch {
          return "unreadable"
        }
      }),
      Effect.catchIf(
        (e) => systemTag(e) === "NotFound",
        () => Effect.succeed(null),
      ),
      Effect.mapError(failed("cannot read the lease")),
    )

    // The file goes first, the token after: while the file exists, a fiber of this process that
    // reads it must see it held (see tryCreate).
    const release = Effect.gen(function* () {
      const current = yield* readHolder
      if (current !== null && current !== "unreadable" && current.token === self.token)
        yield* fs.remove(path)
    }).pipe(Effect.ignore, Effect.ensuring(Effect.sync(() => held.delete(self.token))))

    return yield* Effect.uninterruptibleMask((restore) =>
      Effect.gen(function* () {
        let waitingFor: string | null = null
        while (true) {
          // Creating the lease and registering its release happen without interruption between.
          if (yield* tryCreate) {
            yield* Effect.addFinalizer(() => release)
            return self
          }
          const holder = yield* restore(readHolder)
          if (holder === null) continue
          if (holder === "unreadable")
            return yield* new LeaseError({
              path,
              reason:
                "not a lease written by this program; remove the file if no process trains this run",
            })
          // With takeOver, only this process's own leases (another fiber's) are waited for.
          if (options.takeOver === true ? held.has(holder.token) : isAlive(holder)) {
            if (waitingFor !== holder.token) {
              waitingFor = holder.token
              yield* progress.note(
                options.name,
                `waiting for ${options.name} (held by pid ${holder.pid}${holder.host === self.host ? "" : ` on ${holder.host}`})`,
              )
            }
            yield* restore(Effect.sleep(poll))
            continue
          }
          // A dead holder's lease (or any other's, with takeOver): exactly one process wins its
          // marker and removes it.
          const won = yield* fs
            .writeFileString(`${path}.stale-${holder.token}`, JSON.stringify(self), { flag: "wx" })
            .pipe(
              Effect.as(true),
              Effect.catchIf(
                (e) => systemTag(e) === "AlreadyExists",
                () => Effect.succeed(false),
              ),
              Effect.mapError(failed("cannot take over the lease")),
            )
          if (won) {
            yield* fs.remove(path).pipe(Effect.mapError(failed("cannot remove a stale lease")))
            yield* progress.note(
              options.name,
              `took over the lease of ${options.name} from pid ${holder.pid}${holder.host === self.host ? "" : ` on ${holder.host}`}, ${options.takeOver === true ? "as asked (takeOver)" : "which is gone"}`,
            )
          } else yield* restore(Effect.sleep(Math.min(poll, 100)))
        }
      }),
    )
  })
