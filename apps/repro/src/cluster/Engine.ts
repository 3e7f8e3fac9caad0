/**
 * The distributed engine under `--cluster URL`: Effect's cluster (sharding, runners) and its
 * workflow engine, with every message, reply and runner record kept in PostgreSQL at `URL`.
 *
 * A worker is a *runner*: it owns a share of the shards, executes the workflows addressed to them
 * and listens on a socket so that the other processes can reach it. The coordinator is a
 * client-only member: it starts workflow executions and reads their results, and runs none.
 * When a runner dies (SIGKILL, a lost machine), its PostgreSQL connection ends with it, its shard
 * locks go, the others take its shards over and replay the workflows that had not finished; an
 * activity that had no recorded result runs again there (for training: from its last checkpoint).
 *
 * @module
 */
import { NodeClusterSocket } from "@effect/platform-node"
import { PgClient } from "@effect/sql-pg"
import { Cause, Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import { ClusterWorkflowEngine, RunnerAddress, type ShardingConfig } from "effect/cluster"
import { SqlClient } from "effect/sql"
import type { WorkflowEngine } from "effect/workflow"

/** The database of `--cluster` could not be reached or set up. */
export class ClusterUnavailable extends Schema.TaggedError<ClusterUnavailable>()(
  "ClusterUnavailable",
  { url: Schema.String, reason: Schema.String },
) {
  override get message(): string {
    return `--cluster ${this.url}: ${this.reason}`
  }
}

/** `url` without its password, for messages. */
export const displayUrl = (url: string): string => {
  try {
    const parsed = new URL(url)
    if (parsed.password !== "") parsed.password = "***"
    return parsed.toString()
  } catch {
    return url
  }
}

/**
 * Timings for a study's jobs: a dead runner is noticed within seconds rather than the library's
 * minute, since a training job waits for that long before another runner takes it over.
 */
export const studyShardingConfig: Partial<ShardingConfig.ShardingConfig["Service"]> = {
  runnerHealthCheckInterval: "5 seconds",
  shardLockRefreshInterval: "5 seconds",
  shardLockExpiration: "20 seconds",
  entityMessagePollInterval: "2 seconds",
  entityReplyPollInterval: "500 millis",
  refreshAssignmentsInterval: "2 seconds",
  // Few shards: a study has tens of jobs, not millions of entities.
  shardsPerGroup: 30,
}

/**
 * Any failure to build a layer of the engine on `url` as one {@link ClusterUnavailable} (a
 * connection refused, a failed migration, a port already taken).
 */
const unavailableAs =
  (url: string) =>
  <A, E, R>(layer: Layer.Layer<A, E, R>): Layer.Layer<A, ClusterUnavailable, R> =>
    Layer.catchCause(layer, (cause) => {
      const error = Cause.squash(cause)
      return Layer.unwrap(
        Effect.fail(
          error instanceof ClusterUnavailable
            ? error
            : new ClusterUnavailable({
                url: displayUrl(url),
                reason: error instanceof Error ? error.message : String(error),
              }),
        ),
      )
    })

/** The PostgreSQL client of `url`; a failure to connect names the URL. */
export const sqlLayer = (url: string) =>
  PgClient.layer({ url: Redacted.make(url) }).pipe(unavailableAs(url))

/** Where a runner listens and how the others reach it. */
export interface RunnerEndpoint {
  readonly host: string
  readonly port: number
  /** The interface to bind, when not `host` (e.g. 0.0.0.0 behind a NAT). */
  readonly listenHost?: string | undefined
}

/**
 * A runner of the engine on `url`: the workflow engine, for the workflow layers a worker
 * registers, with this process's share of the shards; and the database's client (the storage of
 * the engine's queues).
 */
export const runnerLayer = (
  url: string,
  endpoint: RunnerEndpoint,
  config: Partial<ShardingConfig.ShardingConfig["Service"]> = studyShardingConfig,
): Layer.Layer<WorkflowEngine.WorkflowEngine | SqlClient.SqlClient, ClusterUnavailable> =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      NodeClusterSocket.layer({
        storage: "sql",
        shardingConfig: {
          ...config,
          runnerAddress: Option.some(RunnerAddress.make(endpoint.host, endpoint.port)),
          runnerListenAddress: Option.some(
            RunnerAddress.make(endpoint.listenHost ?? endpoint.host, endpoint.port),
          ),
        },
      }),
    ),
    Layer.provideMerge(sqlLayer(url)),
    unavailableAs(url),
  )

/**
 * A client-only member on `url`: starts workflows and reads their results, runs none; with the
 * database's client, to read which workers have registered ({@link registeredRunners}).
 */
export const clientLayer = (
  url: string,
  config: Partial<ShardingConfig.ShardingConfig["Service"]> = studyShardingConfig,
): Layer.Layer<WorkflowEngine.WorkflowEngine | SqlClient.SqlClient, ClusterUnavailable> =>
  ClusterWorkflowEngine.layer.pipe(
    Layer.provideMerge(
      NodeClusterSocket.layer({ storage: "sql", clientOnly: true, shardingConfig: config }),
    ),
    Layer.provideMerge(sqlLayer(url)),
    unavailableAs(url),
  )

/**
 * The runners (workers) registered on the engine's database and heard from within the shard
 * lock expiration (as the engine's own `getRunners` counts them), from the engine's table
 * `cluster_runners`; null when it cannot be read (then nothing is said about workers).
 */
export const registeredRunners: Effect.Effect<
  ReadonlyArray<string> | null,
  never,
  SqlClient.SqlClient
> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const seconds = Math.ceil(
    Duration.toSeconds(
      Duration.fromInputUnsafe(studyShardingConfig.shardLockExpiration ?? "20 seconds"),
    ),
  )
  const rows = yield* sql<{
    readonly address: string
  }>`SELECT address FROM cluster_runners WHERE last_heartbeat > NOW() - ${`${seconds} seconds`}::interval`
  return rows.map((row) => String(row.address))
}).pipe(Effect.catchCause(() => Effect.succeed(null)))

/** What the coordinator says while no worker has registered on `url`. */
export const noWorkerYet = (url: string, out: string): string =>
  `no worker has registered on ${displayUrl(url)} yet: start \`bun run repro-worker --cluster ${displayUrl(url)}\` on a machine that sees ${out} (at that path)`

/** A free TCP port on `host`, chosen by the kernel (for a runner started without `--port`). */
export const freePort = (host = "127.0.0.1"): Effect.Effect<number> =>
  Effect.sync(() => {
    const server = Bun.listen({ hostname: host, port: 0, socket: { data() {} } })
    const port = server.port
    server.stop(true)
    return port
  })
