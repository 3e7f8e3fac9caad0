/**
 * How long `bun run recommend` takes for one user on a finished run: the whole command as a
 * process (start to exit), and its own phases as `--timings` reports them (opening the run, with
 * its data prepared again and fingerprinted, and loading the model; scoring one user's items).
 *
 *   bun run bench/recommend_latency.ts --run DIR [--method causald] [--user ID] [--repeats 5]
 */
import { cpus, loadavg } from "node:os"
import { join } from "node:path"

const root = join(import.meta.dir, "..")
const args = process.argv.slice(2)
const flag = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`)
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback
}
const run = flag("run", "")
if (run === "") {
  process.stderr.write("recommend_latency: --run DIR is required\n")
  process.exit(1)
}
const method = flag("method", "causald")
const repeats = Number(flag("repeats", "5"))
const user = flag("user", "")
const median = (xs: ReadonlyArray<number>) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

const wall: Array<number> = []
const open: Array<number> = []
const score: Array<number> = []
let backend = ""
for (let r = 0; r < repeats; r++) {
  const t0 = performance.now()
  const cli = Bun.spawnSync(
    [
      "bun",
      join(root, "apps/use/src/recommend-main.ts"),
      "--run",
      run,
      "--method",
      method,
      "--timings",
      ...(user === "" ? ["--user-range", "0..0"] : ["--user", user]),
    ],
    { stdout: "pipe", stderr: "pipe" },
  )
  wall.push(performance.now() - t0)
  const stderr = cli.stderr.toString()
  if (cli.exitCode !== 0) throw new Error(stderr)
  const m =
    /load the model ([\d.]+) ms, resolve ids [\d.]+ ms, score 1 query ([\d.]+) ms \(backend ([\w+]+)\)/.exec(
      stderr,
    )
  if (m === null) throw new Error(`no timings in: ${stderr}`)
  open.push(Number(m[1]))
  score.push(Number(m[2]))
  backend = m[3]!
}
console.log(
  `recommend latency: ${run}, ${method}, backend ${backend}; ${cpus().length} x ${cpus()[0]?.model}; load average ${loadavg()[0]!.toFixed(2)}; median of ${repeats}`,
)
console.log("| phase | ms |")
console.log("|---|---|")
console.log(
  `| open the run (data prepared again, fingerprinted) and load the model | ${median(open).toFixed(0)} |`,
)
console.log(`| score every item for one user, top 10 | ${median(score).toFixed(1)} |`)
console.log(`| whole command, process start to exit | ${median(wall).toFixed(0)} |`)
