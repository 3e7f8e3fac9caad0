/**
 * `repro --cluster URL` with two `repro-worker` processes on a real PostgreSQL server: one worker
 * is killed (SIGKILL) in the middle of a training job; the other takes the job over, the study
 * finishes with the numbers of a one-process run, and no job was trained to its end twice.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe as describeJob, readStatus } from "../../src/cluster/Status.ts"
import { twoSeedStudy as args, finish, readRunResults } from "../fixture.ts"
import { freshDatabase, testServerUrl } from "./database.ts"

const src = join(import.meta.dir, "..", "..", "src")
const root = mkdtempSync(join(tmpdir(), "causald-cluster-study-"))
const workers: Array<ReturnType<typeof Bun.spawn>> = []
afterAll(() => {
  for (const w of workers) if (w.exitCode === null) w.kill("SIGKILL")
  rmSync(root, { recursive: true, force: true })
})

const repro = (extra: ReadonlyArray<string>) =>
  Bun.spawn(["bun", join(src, "main.ts"), ...args, ...extra], { stdout: "ignore", stderr: "pipe" })
const worker = (url: string, log: string) => {
  const w = Bun.spawn(
    [
      "bun",
      join(src, "cluster", "worker-main.ts"),
      "--cluster",
      url,
      "--host",
      "127.0.0.1",
      "--listen",
      "127.0.0.1",
      "--backend",
      "wasm",
    ],
    { stdout: "ignore", stderr: Bun.file(log) },
  )
  workers.push(w)
  return w
}
const read = (file: string): string => (existsSync(file) ? readFileSync(file, "utf8") : "")
/** The jobs a worker's log says it started ("training") or finished ("trained"). */
const notes = (log: string, verb: "training" | "trained"): Array<string> =>
  [...read(log).matchAll(new RegExp(`"cluster  ${verb} ([^"]+)"`, "g"))].map((m) => m[1]!)

/** results.json without its times, its own folder's name and the cluster's stage. */
const comparable = (file: string, out: string): unknown =>
  JSON.parse(read(file).replaceAll(out, "<out>"), (key, value) =>
    /^(seconds|wallTimeSeconds|startedAt|finishedAt)$/.test(key)
      ? undefined
      : Array.isArray(value)
        ? value.filter((v) => v?.name !== "models (cluster)")
        : value,
  )

describe.skipIf(testServerUrl === undefined)("bun run repro --cluster", () => {
  test("a worker killed mid-job: the study ends with one process's numbers, each job trained once", async () => {
    const url = await freshDatabase(testServerUrl as string, "study")
    const one = join(root, "one")
    const two = join(root, "two")
    const [log1, log2] = [join(root, "worker-1.log"), join(root, "worker-2.log")]
    const w1 = worker(url, log1)
    worker(url, log2)
    const coordinator = repro(["--out", two, "--cluster", url])
    // The first job a worker starts: kill that worker with SIGKILL once it is in training.
    let victim: string | undefined
    for (let i = 0; i < 600 && victim === undefined; i++) {
      await Bun.sleep(50)
      victim = notes(log1, "training")[0]
    }
    expect(victim).toBeDefined()
    w1.kill("SIGKILL")
    const single = await finish(repro(["--out", one]))
    const clustered = await finish(coordinator)
    expect(single.code).toBe(0)
    expect(clustered.code).toBe(0)
    const [r1, r2] = [readRunResults(one), readRunResults(two)]
    expect(r2.methods).toEqual(r1.methods)
    expect(r2.comparisons).toEqual(r1.comparisons)
    expect(r2.groupings).toEqual(r1.groupings)
    expect(r2.manifest.configuration).toEqual({ ...r1.manifest.configuration, out: two })
    // The whole file, timestamps and durations aside (and the coordinator's wait, a stage of its
    // own), is the one process's.
    expect(comparable(join(two, "results.json"), two)).toEqual(
      comparable(join(one, "results.json"), one),
    )
    // Every job was trained to its end once, the killed one by the other worker.
    const finished = [...notes(log1, "trained"), ...notes(log2, "trained")].sort()
    expect(finished).toEqual([...new Set(finished)])
    expect(finished).toHaveLength(6)
    expect(notes(log1, "trained")).not.toContain(victim as string)
    expect(notes(log2, "trained")).toContain(victim as string)
    expect(clustered.stderr).toContain("job done: ")
    // Each job's state, as the coordinator reads it from the shared folder: done, on a worker.
    for (const job of finished)
      expect(describeJob(job, readStatus(two, job), Date.now())).toMatch(
        /: done on .+ \(pid \d+\)$/,
      )
  }, 240_000)
})

describe("bun run repro --cluster, no server needed", () => {
  test("an unreachable database: one line naming the flag, the password masked, nothing written", async () => {
    const out = join(root, "unreachable")
    const { code, stderr } = await finish(
      repro(["--out", out, "--cluster", "postgres://study:secret@127.0.0.1:1/db"]),
    )
    expect(code).toBe(1)
    expect(stderr).toContain("repro failed: --cluster postgres://study:***@127.0.0.1:1/db: ")
    expect(stderr).not.toContain("secret")
    expect(stderr).not.toMatch(/\n\s+at /)
    expect(existsSync(out)).toBe(false)
  })

  test("--cluster with --workers is refused", async () => {
    const out = join(root, "both")
    const { code, stderr } = await finish(
      repro(["--out", out, "--workers", "2", "--cluster", "postgres://127.0.0.1:1/db"]),
    )
    expect(code).toBe(1)
    expect(stderr).toContain("--cluster trains on the cluster's workers: drop --workers")
  })
})
