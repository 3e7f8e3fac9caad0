/**
 * A bounded load test of `bun run serve` on loopback: the service runs as its own process on
 * 127.0.0.1 (any free port), and this process sends `POST /recommend` requests (random users,
 * K = 10) from C concurrent callers at increasing C, each level for a fixed time, and reports
 * throughput, p50 and p99 latency and errors per level. Then it checks that the service's
 * answers equal `bun run recommend`'s for the first users (same items, same scores).
 *
 *   bun run bench/serve_load.ts [--run DIR] [--method causald] [--seconds 30]
 *     [--levels 1,4,16,64] [--backend auto|wasm|cpu] [--check-users 50]
 *
 * Without `--run` it first trains a small run (`bun run repro --quick --methods din,causald`)
 * in a temporary folder. Exits with status 1 on any failed request or differing score. Only
 * loopback is contacted; the request loops stop at the time limit (and at 200,000 requests).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dir, "..")
const args = process.argv.slice(2)
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback
}
const seconds = Number(flag("seconds", "30"))
const levels = flag("levels", "1,4,16,64").split(",").map(Number)
const method = flag("method", "causald")
const backend = flag("backend", "auto")
const checkUsers = Number(flag("check-users", "50"))
const MAX_REQUESTS = 200_000
if (
  !(seconds > 0 && seconds <= 600) ||
  levels.some((c) => !Number.isInteger(c) || c < 1 || c > 256)
) {
  process.stderr.write("serve_load: --seconds in (0, 600], --levels integers in 1..256\n")
  process.exit(1)
}

let run = flag("run", "")
let temporary: string | null = null
if (run === "") {
  temporary = mkdtempSync(join(tmpdir(), "causald-serve-load-"))
  run = join(temporary, "run")
  process.stderr.write(`training a quick run into ${run}\n`)
  const trained = Bun.spawnSync(
    [
      "bun",
      join(root, "apps/repro/src/main.ts"),
      "--quick",
      "--methods",
      "din,causald",
      "--seeds",
      "1",
      "--experiments",
      "table3",
      "--heterogeneity",
      "off",
      "--out",
      run,
    ],
    { stdout: "ignore", stderr: "ignore" },
  )
  if (trained.exitCode !== 0) throw new Error("repro --quick failed")
}

const server = Bun.spawn(
  [
    "bun",
    join(root, "apps/use/src/serve-main.ts"),
    "--run",
    run,
    "--method",
    method,
    "--port",
    "0",
    "--backend",
    backend,
  ],
  { stdout: "ignore", stderr: "pipe" },
)
const cleanup = () => {
  server.kill()
  if (temporary !== null) rmSync(temporary, { recursive: true, force: true })
}

try {
  // the address the service prints once it listens
  const reader = server.stderr.getReader()
  let banner = ""
  while (!/http:\/\/127\.0\.0\.1:\d+/.test(banner)) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`serve ended: ${banner}`)
    banner += new TextDecoder().decode(value)
  }
  const url = /http:\/\/127\.0\.0\.1:\d+/.exec(banner)![0]
  const health = (await (await fetch(`${url}/health`)).json()) as {
    data: { users: number; name: string }
    backend: string
    model: string
  }
  const users = health.data.users
  // user ids as the service spells them: read them back from recommend's JSON for a range
  const listed = Bun.spawnSync(
    [
      "bun",
      join(root, "apps/use/src/recommend-main.ts"),
      "--run",
      run,
      "--method",
      method,
      "--user-range",
      `0..${users - 1}`,
      "--k",
      "10",
      "--format",
      "json",
      "--backend",
      backend,
    ],
    { stdout: "pipe", stderr: "pipe" },
  )
  if (listed.exitCode !== 0) throw new Error(`recommend failed: ${listed.stderr.toString()}`)
  const reference = JSON.parse(listed.stdout.toString()) as {
    recommendations: Array<{ user: string; rank: number; item: string; score: number }>
  }
  const byUser = new Map<string, Array<{ item: string; score: number }>>()
  for (const r of reference.recommendations) {
    const list = byUser.get(r.user) ?? []
    list.push({ item: r.item, score: r.score })
    byUser.set(r.user, list)
  }
  const ids = [...byUser.keys()]

  // --- load at increasing concurrency -----------------------------------------------------
  let seed = 12345
  const nextUser = () => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff
    return ids[seed % ids.length]!
  }
  const rows: Array<{
    c: number
    requests: number
    errors: number
    rps: number
    p50: number
    p99: number
  }> = []
  let total = 0
  for (const c of levels) {
    const latencies: Array<number> = []
    let errors = 0
    const end = performance.now() + (seconds * 1000) / levels.length
    const t0 = performance.now()
    await Promise.all(
      Array.from({ length: c }, async () => {
        while (performance.now() < end && total < MAX_REQUESTS) {
          total++
          const start = performance.now()
          try {
            const response = await fetch(`${url}/recommend`, {
              method: "POST",
              body: JSON.stringify({ user: nextUser(), k: 10 }),
            })
            await response.arrayBuffer()
            if (response.status !== 200) errors++
          } catch {
            errors++
          }
          latencies.push(performance.now() - start)
        }
      }),
    )
    const elapsed = (performance.now() - t0) / 1000
    latencies.sort((a, b) => a - b)
    const q = (p: number) =>
      latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0
    rows.push({
      c,
      requests: latencies.length,
      errors,
      rps: latencies.length / elapsed,
      p50: q(0.5),
      p99: q(0.99),
    })
  }

  // --- the service's answers against recommend's ------------------------------------------
  let maxDiff = 0
  let mismatches = 0
  for (const user of ids.slice(0, checkUsers)) {
    const served = (await (
      await fetch(`${url}/recommend`, { method: "POST", body: JSON.stringify({ user, k: 10 }) })
    ).json()) as { items: Array<{ item: string; score: number }> }
    const expected = byUser.get(user)!
    if (served.items.map((s) => s.item).join() !== expected.map((s) => s.item).join()) mismatches++
    served.items.forEach((s, i) => {
      maxDiff = Math.max(maxDiff, Math.abs(s.score - (expected[i]?.score ?? Number.NaN)))
    })
  }

  const cpu = cpus()[0]?.model ?? "unknown CPU"
  console.log(
    `serve load test: ${health.model} ${method} on ${health.data.name} (${users} users), backend ${health.backend}; ${cpus().length} x ${cpu}; load average ${loadavg()[0]!.toFixed(2)}`,
  )
  console.log("| concurrency | requests | errors | requests/s | p50 ms | p99 ms |")
  console.log("|---|---|---|---|---|---|")
  for (const r of rows)
    console.log(
      `| ${r.c} | ${r.requests} | ${r.errors} | ${r.rps.toFixed(0)} | ${r.p50.toFixed(1)} | ${r.p99.toFixed(1)} |`,
    )
  console.log(
    `same answers as recommend for ${Math.min(checkUsers, ids.length)} users: ${mismatches === 0 ? "yes" : `no (${mismatches} differ)`}, largest score difference ${maxDiff.toExponential(2)}`,
  )
  console.log(JSON.stringify({ bench: "serve_load", rows, mismatches, maxDiff }))
  if (mismatches > 0 || maxDiff > 1e-6 || rows.some((r) => r.errors > 0)) process.exitCode = 1
} finally {
  cleanup()
}
