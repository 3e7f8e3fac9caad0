/**
 * `bun run serve`: a scoring service for a trained model of a repro run, on Bun's HTTP server,
 * on loopback by default.
 *
 * - `POST /recommend` `{ "user": "u3" }` or `{ "history": ["i1", "i7"], "user"?: ... }`, with
 *   `"k"` (default 10): the top K items, the user's (or the history's) items left out, as
 *   `bun run recommend` gives them.
 * - `POST /score` `{ "history": [...] | "user": ..., "items": ["i2", "i9"] }`: the model's logit
 *   of each candidate item after that history (a user without a history: the user's own).
 * - `GET /health`: the model's provenance: the run, method and seed, the data's name, sizes and
 *   SHA-256 fingerprint, the reading of the paper it was trained under, the backend.
 *
 * Bad requests get a 4xx and `{ "error": "<one line>" }`, never a crash: malformed JSON or a
 * field of the wrong type (400), an unknown user or item (404, naming it), a body over
 * {@link Limits.bodyBytes}, a history or an item list over its limit (413), another method (405)
 * or path (404).
 *
 * Requests are scored in batches: a request's query joins a queue, and the queue is scored in
 * one pass of the model (up to {@link Limits.batchQueries} queries) on the next turn of the event
 * loop. Scoring is synchronous, so the requests that arrive while one batch is scored form the
 * next: concurrent callers share tensor work, a lone caller waits for no timer. A DIN model
 * scores through its item-pair table (`Scoring.tableScorer`, built once at start: a(h, t) of
 * every pair of items), so that a request costs look-ups and one pass of ψ* over its candidates;
 * DeepFM (and DIN over more than 4,095 items) through `Scoring.score`.
 *
 * @module
 */
import type { TensorBackend } from "@causald/core"
import { Tensors } from "@causald/core"
import type { PreparedDataset } from "@causald/data"
import { Effect, type Option, Result, Schema } from "effect"
import { Command, Flag } from "effect/cli"
import { backendLayer, modelFlags, openModel } from "./Cli.ts"
import type { LoadedModel, OpenRun } from "./Run.ts"
import { UseError } from "./Run.ts"
import * as Scoring from "./Scoring.ts"

/** Bounds on one request. */
export interface Limits {
  /** Largest request body, in bytes. */
  readonly bodyBytes: number
  /** Longest raw history, in items (a model sees its last L). */
  readonly historyItems: number
  /** Most candidate items of one `/score` request. */
  readonly scoreItems: number
  /** Largest K of `/recommend`. */
  readonly k: number
  /** Most queries scored in one pass of the model. */
  readonly batchQueries: number
}

export const defaultLimits: Limits = {
  bodyBytes: 64 * 1024,
  historyItems: 1000,
  scoreItems: 5000,
  k: 1000,
  batchQueries: 64,
}

const RecommendRequest = Schema.Struct({
  user: Schema.optionalKey(Schema.String),
  history: Schema.optionalKey(Schema.Array(Schema.String)),
  k: Schema.optionalKey(Schema.Int),
})

const ScoreRequest = Schema.Struct({
  user: Schema.optionalKey(Schema.String),
  history: Schema.optionalKey(Schema.Array(Schema.String)),
  items: Schema.Array(Schema.String),
})

/** A request that cannot be served: its HTTP status and the reason, one line. */
class Rejected {
  constructor(
    readonly status: number,
    readonly reason: string,
  ) {}
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json" },
  })

const rejected = (r: Rejected) => json({ error: r.reason }, r.status)

/** One queued query and where its scores go. */
interface Pending {
  readonly query: Scoring.Query
  readonly candidates: Int32Array
  readonly resolve: (scores: Float32Array) => void
  readonly reject: (error: unknown) => void
}

/**
 * The batching queue of {@link make}: `submit` queues a query, and the queue is scored on the
 * next turn of the event loop, up to `batchQueries` queries a pass.
 */
export const batcher = (scorer: Scoring.Scorer, batchQueries: number) => {
  const queue: Array<Pending> = []
  let scheduled = false
  const stats = { batches: 0, queries: 0, largest: 0 }
  const flush = () => {
    scheduled = false
    const batch = queue.splice(0, batchQueries)
    if (queue.length > 0) schedule()
    if (batch.length === 0) return
    stats.batches++
    stats.queries += batch.length
    stats.largest = Math.max(stats.largest, batch.length)
    try {
      const scores = scorer(
        batch.map((p) => p.query),
        batch.map((p) => p.candidates),
      )
      batch.forEach((p, i) => {
        p.resolve(scores[i]!)
      })
    } catch (error) {
      for (const p of batch) p.reject(error)
    }
  }
  const schedule = () => {
    if (scheduled) return
    scheduled = true
    setImmediate(flush)
  }
  return {
    submit: (query: Scoring.Query, candidates: Int32Array): Promise<Float32Array> =>
      new Promise((resolve, reject) => {
        queue.push({ query, candidates, resolve, reject })
        schedule()
      }),
    stats,
  }
}

/** The service's request handler and its batching statistics. */
export interface Service {
  readonly fetch: (request: Request) => Promise<Response>
  readonly stats: { readonly batches: number; readonly queries: number; readonly largest: number }
  /** What `GET /health` answers. */
  readonly health: unknown
}

/** The request handler of a loaded model (no server: {@link serve} binds it to a port). */
export const make = (
  backend: TensorBackend,
  run: OpenRun,
  loaded: LoadedModel,
  limits: Limits = defaultLimits,
): Service => {
  const data: PreparedDataset = run.data
  const ids = Scoring.idsOf(data)
  const items = Scoring.allItems(data)
  // DIN: the item-pair table of the frozen encoder, built now (one query), so that no request
  // waits for it; a model without one (DeepFM) or too many items: the candidate scorer
  const table = Scoring.tableScorer(backend, loaded.model)
  if (table !== undefined) table([Scoring.userQuery(data, 0)], [items.subarray(0, 1)])
  const scorer = table ?? Scoring.directScorer(backend, loaded.model)
  const queue = batcher(scorer, limits.batchQueries)
  const health = {
    status: "ok",
    run: run.dir,
    method: loaded.method,
    seed: loaded.seed,
    model: loaded.kind,
    checkpoint: { bestEpoch: loaded.bestEpoch, validationAuc: loaded.validationAuc },
    data: {
      name: data.name,
      fingerprint: run.fingerprint,
      users: data.numUsers,
      items: data.numItems,
      historyLength: data.config.historyLength,
    },
    reading: { preset: run.configuration.reading ?? "literal", settings: loaded.settings },
    backend: backend.name,
    scoring: table === undefined ? "candidate scorer" : "item-pair table",
  }

  const fromUse = (e: UseError) => new Rejected(404, `${e.subject}: ${e.reason}`)

  /** The query of a request: its history (cut to the last L) or its user's. */
  const queryOf = (body: {
    readonly user?: string
    readonly history?: ReadonlyArray<string>
  }): Result.Result<Scoring.Query, Rejected> => {
    let user = -1
    if (body.user !== undefined) {
      const u = Scoring.resolveUser(data, ids, body.user, "user")
      if (Result.isFailure(u)) return Result.fail(fromUse(u.failure))
      user = u.success
    }
    if (body.history !== undefined) {
      if (body.history.length === 0)
        return Result.fail(new Rejected(400, "history: expected at least one item id"))
      if (body.history.length > limits.historyItems)
        return Result.fail(
          new Rejected(
            413,
            `history: ${body.history.length} items, at most ${limits.historyItems} (the model sees the last ${data.config.historyLength})`,
          ),
        )
      const history = Scoring.resolveItems(data, ids, body.history, "history")
      if (Result.isFailure(history)) return Result.fail(fromUse(history.failure))
      if (user < 0 && Scoring.needsUser(loaded.model))
        return Result.fail(
          new Rejected(400, `user: a ${loaded.kind} model reads the user id too; give "user"`),
        )
      return Result.succeed(Scoring.historyQuery(data, history.success, user))
    }
    if (user < 0) return Result.fail(new Rejected(400, 'expected "user" or "history"'))
    return Result.succeed(Scoring.userQuery(data, user))
  }

  /** The body as JSON of `schema`, or why not. */
  const readBody = async <S extends Schema.Top & { readonly DecodingServices: never }>(
    request: Request,
    schema: S,
  ): Promise<Result.Result<S["Type"], Rejected>> => {
    const declared = Number(request.headers.get("content-length") ?? "0")
    const tooLarge = (n: number) =>
      Result.fail(new Rejected(413, `body of ${n} bytes, at most ${limits.bodyBytes}`))
    if (declared > limits.bodyBytes) return tooLarge(declared)
    const bytes = new Uint8Array(await request.arrayBuffer())
    if (bytes.length > limits.bodyBytes) return tooLarge(bytes.length)
    let value: unknown
    try {
      value = JSON.parse(new TextDecoder().decode(bytes))
    } catch {
      return Result.fail(new Rejected(400, "the body is not valid JSON"))
    }
    const decoded = Schema.decodeUnknownResult(schema)(value)
    return Result.isFailure(decoded)
      ? Result.fail(new Rejected(400, decoded.failure.message.replace(/\s*\n\s*/g, " ")))
      : Result.succeed(decoded.success as S["Type"])
  }

  const recommend = async (request: Request): Promise<Response> => {
    const body = await readBody(request, RecommendRequest)
    if (Result.isFailure(body)) return rejected(body.failure)
    const k = body.success.k ?? 10
    const maxK = Math.min(limits.k, data.numItems)
    if (k < 1 || k > maxK) return rejected(new Rejected(400, `k: ${k}, expected 1..${maxK}`))
    const query = queryOf(body.success)
    if (Result.isFailure(query)) return rejected(query.failure)
    const scores = await queue.submit(query.success, items)
    const top = Scoring.topK(data, items, scores, query.success.exclude, k)
    return json({ user: body.success.user ?? null, items: top })
  }

  const score = async (request: Request): Promise<Response> => {
    const body = await readBody(request, ScoreRequest)
    if (Result.isFailure(body)) return rejected(body.failure)
    const list = body.success.items
    if (list.length === 0)
      return rejected(new Rejected(400, "items: expected at least one item id"))
    if (list.length > limits.scoreItems)
      return rejected(
        new Rejected(413, `items: ${list.length} candidates, at most ${limits.scoreItems}`),
      )
    const candidates = Scoring.resolveItems(data, ids, list, "items")
    if (Result.isFailure(candidates)) return rejected(fromUse(candidates.failure))
    const query = queryOf(body.success)
    if (Result.isFailure(query)) return rejected(query.failure)
    const scores = await queue.submit(query.success, candidates.success)
    return json({
      user: body.success.user ?? null,
      scores: list.map((item, i) => ({ item, score: scores[i]! })),
    })
  }

  const routes: {
    readonly [path: string]: { method: string; handle: (r: Request) => Promise<Response> }
  } = {
    "/recommend": { method: "POST", handle: recommend },
    "/score": { method: "POST", handle: score },
    "/health": { method: "GET", handle: async () => json(health) },
  }

  return {
    fetch: async (request) => {
      const route = routes[new URL(request.url).pathname]
      if (route === undefined)
        return json({ error: `no such path; use POST /recommend, POST /score, GET /health` }, 404)
      if (request.method !== route.method) return json({ error: `use ${route.method} here` }, 405)
      try {
        return await route.handle(request)
      } catch (error) {
        // a defect: reported, and the service goes on
        return json({ error: `internal error: ${String(error).split("\n")[0]}` }, 500)
      }
    },
    stats: queue.stats,
    health,
  }
}

export const flags = {
  ...modelFlags,
  host: Flag.String("host").pipe(
    Flag.withDescription("Address to listen on; default 127.0.0.1 (loopback only)"),
    Flag.withDefault("127.0.0.1"),
  ),
  port: Flag.Int("port").pipe(
    Flag.withDescription("Port, 0..65535 (0: any free port); default 8080"),
    Flag.withDefault(8080),
  ),
  batch: Flag.Int("batch").pipe(
    Flag.withDescription(
      `Most queries scored in one pass of the model, 1..4096; default ${defaultLimits.batchQueries}`,
    ),
    Flag.withDefault(defaultLimits.batchQueries),
  ),
} as const

/** Loads the model, listens, prints the address on standard error, and serves until stopped. */
export const serve = (o: {
  readonly run: string
  readonly method: string
  readonly seed: Option.Option<number>
  readonly host: string
  readonly port: number
  readonly batch: number
}) =>
  Effect.gen(function* () {
    if (!Number.isInteger(o.port) || o.port < 0 || o.port > 65535)
      return yield* new UseError({ subject: `--port ${o.port}`, reason: "expected 0..65535" })
    if (!Number.isInteger(o.batch) || o.batch < 1 || o.batch > 4096)
      return yield* new UseError({ subject: `--batch ${o.batch}`, reason: "expected 1..4096" })
    const { run, loaded } = yield* Effect.acquireRelease(openModel(o), ({ loaded }) =>
      Effect.sync(() => loaded.dispose()),
    )
    const backend = yield* Tensors
    const service = make(backend, run, loaded, { ...defaultLimits, batchQueries: o.batch })
    const server = yield* Effect.acquireRelease(
      Effect.try({
        try: () =>
          Bun.serve({
            hostname: o.host,
            port: o.port,
            // Bun refuses larger bodies itself; the service's own limit is far below
            maxRequestBodySize: 1024 * 1024,
            fetch: service.fetch,
          }),
        catch: (e) =>
          new UseError({
            subject: `--host ${o.host} --port ${o.port}`,
            reason: `cannot listen: ${String((e as Error).message ?? e)}`,
          }),
      }),
      (s) => Effect.sync(() => s.stop(true)),
    )
    process.stderr.write(
      `serving ${loaded.method} seed ${loaded.seed} of ${run.dir} (${loaded.kind}, ${backend.name}) on http://${o.host}:${server.port}\n`,
    )
    return yield* Effect.never
  }).pipe(Effect.scoped)

export const command = Command.make("serve", flags).pipe(
  Command.withDescription(
    "Serve a trained model of a repro run over HTTP: POST /recommend, POST /score, GET /health",
  ),
  Command.withHandler((o) => serve(o).pipe(Effect.provide(backendLayer(o.backend)))),
)
