/**
 * Progress of long work (training epochs, evaluation, a reproduction study) with an ETA.
 *
 * On a terminal: one live line per stage on stderr (`stage  12/46  26%  loss 0.5521  ETA 1m05s`).
 * Elsewhere (CI, pipes): quiet, structured JSON lines on stderr, one per reported step of
 * progress at most every `interval`, and one at the end of each stage. Tests use {@link layerSilent}.
 *
 * @module
 */
import { Clock, Context, Effect, Layer } from "effect"

/** One report: `done` of `total` units of `stage` are finished. */
export interface ProgressUpdate {
  readonly stage: string
  readonly done: number
  readonly total: number
  /** Live numbers to show (loss, validation AUC, ...). */
  readonly metrics?: { readonly [name: string]: number }
}

/** Where progress goes. */
export class Progress extends Context.Service<
  Progress,
  {
    readonly update: (update: ProgressUpdate) => Effect.Effect<void>
    /** A one-off line (a stage finished, a checkpoint was resumed). */
    readonly note: (
      stage: string,
      message: string,
      metrics?: { readonly [name: string]: number },
    ) => Effect.Effect<void>
  }
>()("@causald/training/Progress") {}

/** Seconds as "1h02m", "3m05s" or "12s". */
export const formatDuration = (seconds: number): string => {
  if (!Number.isFinite(seconds) || seconds < 0) return "?"
  const s = Math.round(seconds)
  if (s >= 3600)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, "0")}m`
  if (s >= 60) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, "0")}s`
  return `${s}s`
}

/**
 * Remaining seconds, extrapolating the rate since the stage started. Units done before a resume
 * (`resumedAt`) do not count towards the rate.
 */
export const eta = (elapsedSeconds: number, done: number, total: number, resumedAt = 0): number =>
  done <= resumedAt ? Number.NaN : (elapsedSeconds / (done - resumedAt)) * (total - done)

const formatMetrics = (metrics: { readonly [name: string]: number } | undefined): string =>
  metrics === undefined
    ? ""
    : Object.entries(metrics)
        .map(([k, v]) => `  ${k} ${Number.isInteger(v) ? v : v.toFixed(4)}`)
        .join("")

interface StageClock {
  readonly startedMs: number
  readonly firstDone: number
  lastEmitMs: number
}

const makeReporter = (
  write: (
    line: string,
    update: ProgressUpdate | undefined,
    etaSeconds: number,
    final: boolean,
  ) => void,
  intervalMs: number,
) =>
  Effect.sync(() => {
    const stages = new Map<string, StageClock>()
    const update = (u: ProgressUpdate) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Effect.sync(() => {
          let clock = stages.get(u.stage)
          if (clock === undefined || u.done < clock.firstDone) {
            clock = { startedMs: now, firstDone: u.done, lastEmitMs: 0 }
            stages.set(u.stage, clock)
          }
          const final = u.done >= u.total
          if (!final && now - clock.lastEmitMs < intervalMs) return
          clock.lastEmitMs = now
          const remaining = eta((now - clock.startedMs) / 1000, u.done, u.total, clock.firstDone)
          const percent = u.total > 0 ? Math.floor((100 * u.done) / u.total) : 100
          write(
            `${u.stage}  ${u.done}/${u.total}  ${percent}%${formatMetrics(u.metrics)}  ETA ${formatDuration(final ? 0 : remaining)}`,
            u,
            remaining,
            final,
          )
          if (final) stages.delete(u.stage)
        }),
      )
    const note = (stage: string, message: string, metrics?: { readonly [name: string]: number }) =>
      Effect.sync(() =>
        write(`${stage}  ${message}${formatMetrics(metrics)}`, undefined, Number.NaN, true),
      )
    return Progress.of({ update, note })
  })

/** A live line per stage on a terminal (stderr), redrawn at most every 200 ms. */
export const layerTerminal: Layer.Layer<Progress> = Layer.effect(
  Progress,
  makeReporter((line, _u, _eta, final) => {
    process.stderr.write(`\r\x1b[2K${line}${final ? "\n" : ""}`)
  }, 200),
)

/** JSON lines on stderr, at most one every 10 s per stage plus one at each stage's end. */
export const layerJsonLines: Layer.Layer<Progress> = Layer.effect(
  Progress,
  makeReporter((line, u, remaining, final) => {
    const record =
      u === undefined
        ? { event: "note", message: line }
        : {
            event: final ? "done" : "progress",
            stage: u.stage,
            done: u.done,
            total: u.total,
            metrics: u.metrics ?? {},
            etaSeconds: Number.isFinite(remaining) ? Math.round(remaining) : null,
          }
    process.stderr.write(`${JSON.stringify(record)}\n`)
  }, 10_000),
)

/** No output (tests). */
export const layerSilent: Layer.Layer<Progress> = Layer.succeed(
  Progress,
  Progress.of({ update: () => Effect.void, note: () => Effect.void }),
)

/** The terminal reporter when stderr is a terminal, JSON lines otherwise. */
export const layerAuto: Layer.Layer<Progress> = Layer.unwrap(
  Effect.sync(() => (process.stderr.isTTY ? layerTerminal : layerJsonLines)),
)
