/**
 * Benchmark (not a test): time to prepare the real data sets of the shared folder (goal: under
 * 5 s each), with and without the cache, and the speed of the batch builders; optionally the
 * load of a synthetic MovieLens-25M-sized ratings.csv (time and peak memory).
 *
 *   bun run bench/prepare_data.ts
 *   bun run bench/prepare_data.ts --synthetic-rows 25000000   # writes a ~700 MB file to /tmp
 */
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Batches, type DataSource, Sources } from "@causald/data"

const shared = join(import.meta.dir, "..", "..", "shared", "data")
const cacheDir = mkdtempSync(join(tmpdir(), "causald-bench-cache-"))

const time = async <A>(f: () => Promise<A> | A): Promise<[A, number]> => {
  const t0 = performance.now()
  const a = await f()
  return [a, (performance.now() - t0) / 1000]
}

const sources: Array<[string, DataSource]> = [
  ["ml-100k", { format: "movielens-100k", directory: join(shared, "ml-100k") }],
  ["Beauty", { format: "sequences", file: join(shared, "amazon", "Beauty.txt") }],
  ["Toys_and_Games", { format: "sequences", file: join(shared, "amazon", "Toys_and_Games.txt") }],
]

console.log(
  "data set        | prepare (s) | cache write (s) | cache read (s) | users | items | interactions | epoch of batches (s) | rows/s",
)
for (const [name, source] of sources) {
  const files = Sources.inputFiles(source)
  if (!files.every((f) => existsSync(f))) {
    console.log(`${name}: skipped, ${files.join(", ")} absent`)
    continue
  }
  const [data, prepare] = await time(() => Sources.loadPromise(source))
  const [, write] = await time(() => Sources.loadPromise(source, { cacheDir }))
  const [, read] = await time(() => Sources.loadPromise(source, { cacheDir }))
  let rows = 0
  const [, epoch] = await time(() => {
    for (const b of Batches.trainingBatches(data, { batchSize: 4096, epochSeed: 1 })) rows += b.size
    for (const b of Batches.evaluationBatches(data, "test", { batchSize: 128 })) rows += 0 * b.size
  })
  console.log(
    `${name.padEnd(15)} | ${prepare.toFixed(3).padStart(11)} | ${write.toFixed(3).padStart(15)} | ${read.toFixed(3).padStart(14)} | ${String(data.stats.users).padStart(5)} | ${String(data.stats.items).padStart(5)} | ${String(data.stats.interactions).padStart(12)} | ${epoch.toFixed(3).padStart(20)} | ${(rows / epoch).toFixed(0)}`,
  )
  if (prepare > 5)
    console.log(`  ${name}: preparing took ${prepare.toFixed(1)} s, over the 5 s goal`)
}
rmSync(cacheDir, { recursive: true, force: true })

const flag = process.argv.indexOf("--synthetic-rows")
if (flag >= 0) {
  const rows = Number(process.argv[flag + 1] ?? 25_000_000)
  const dir = mkdtempSync(join(tmpdir(), "causald-bench-ml25m-"))
  const file = join(dir, "ratings.csv")
  // MovieLens-25M shape: 162,541 users, 59,047 movies, ratings in half stars
  const fd = openSync(file, "w")
  writeSync(fd, "userId,movieId,rating,timestamp\n")
  let state = 12345
  const next = () => {
    state ^= state << 13
    state ^= state >>> 17
    state ^= state << 5
    return state >>> 0
  }
  const chunk: Array<string> = []
  for (let r = 0; r < rows; r++) {
    const user = 1 + Math.floor((r / rows) * 162_541)
    const movie = 1 + (next() % 59_047)
    chunk.push(
      `${user},${movie},${(1 + (next() % 10)) / 2},${1_000_000_000 + (next() % 500_000_000)}`,
    )
    if (chunk.length === 100_000) {
      writeSync(fd, chunk.join("\n") + "\n")
      chunk.length = 0
    }
  }
  if (chunk.length > 0) writeSync(fd, chunk.join("\n") + "\n")
  closeSync(fd)
  const [data, seconds] = await time(() =>
    Sources.loadPromise({ format: "movielens-csv", ratings: file }),
  )
  console.log(
    `synthetic ratings.csv, ${rows} rows: ${seconds.toFixed(1)} s, ${data.stats.users} users, ${data.stats.items} items, ${data.stats.interactions} interactions, peak RSS ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB (current; see /usr/bin/time -v for the maximum)`,
  )
  rmSync(dir, { recursive: true, force: true })
}
