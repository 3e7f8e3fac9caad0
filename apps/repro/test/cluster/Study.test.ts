/**
 * `repro --cluster URL` with two `repro-worker` processes on a real PostgreSQL server: one worker
 * is killed (SIGKILL) in the middle of a training run; the other takes the job over from its
 * checkpoint, the study finishes with the numbers of a one-process run, no job or shared model
 * was trained to its end twice, and leases left on model folders by a process of another host do
 * not block it. A worker on another tensor backend than the coordinator's refuses the jobs.
 */
import { afterAll, describe, expect, test } from "bun:test"
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
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
const worker = (url: string, log: string, backend = "wasm") => {
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
      backend,
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
/** The training runs' finished epochs a worker's log notes, in order: [run, epoch]. */
const epochs = (log: string): Array<readonly [string, number]> =>
  [...read(log).matchAll(/"message":"([^"]+) epoch (\d+) {2}(?:new best|no gain)/g)].map(
    (m) => [m[1]!, Number(m[2])] as const,
  )
/** The epochs after which a worker's log says `run` resumed from its checkpoint. */
const resumed = (log: string, run: string): Array<number> =>
  [...read(log).matchAll(/"message":"([^"]+) {2}resumed after epoch (\d+)/g)]
    .filter((m) => m[1] === run)
    .map((m) => Number(m[2]))

/** A lease on `folder` as a live process of another machine would hold it. */
const foreignLease = (folder: string) => {
  mkdirSync(folder, { recursive: true })
  writeFileSync(
    join(folder, "lease"),
    JSON.stringify({ pid: 1, host: `elsewhere-${hostname()}`, started: null, token: "far-away" }),
  )
}

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
  test("a worker killed mid-run and leases of another host: the study ends with one process's numbers, each job and shared model trained once, the killed run resumed", async () => {
    const url = await freshDatabase(testServerUrl as string, "study")
    const one = join(root, "one")
    const two = join(root, "two")
    const [log1, log2] = [join(root, "worker-1.log"), join(root, "worker-2.log")]
    // Leases of a live-looking process of another host, which `--workers` would wait for
    // forever: on a shared model's folder (a teacher) and on a job's own (a CausalD student).
    const leased = [
      join(two, "models", "teachers-activeness-4-0"),
      join(two, "models", "causald", "seed-2"),
    ]
    for (const folder of leased) foreignLease(folder)
    const w1 = worker(url, log1)
    worker(url, log2)
    const coordinator = repro(["--out", two, "--cluster", url])
    // Kill the first worker with SIGKILL once the job (or shared model) it trains now has
    // finished an epoch, so that its run has a checkpoint to resume from.
    const inTraining = () => {
      const text = read(log1)
      const current = notes(log1, "training").at(-1)
      if (current === undefined || notes(log1, "trained").includes(current)) return undefined
      const lastEpoch = Math.max(
        -1,
        ...[...text.matchAll(/ epoch \d+ {2}(?:new best|no gain)/g)].map((m) => m.index),
      )
      return text.lastIndexOf(`"cluster  training ${current}"`) < lastEpoch ? current : undefined
    }
    let victim: string | undefined
    for (let i = 0; i < 2400 && victim === undefined; i++) {
      await Bun.sleep(50)
      victim = inTraining()
    }
    expect(victim).toBeDefined()
    w1.kill("SIGKILL")
    await w1.exited
    // The run it was in, and its last finished epoch before the kill.
    const [run, epoch] = epochs(log1).at(-1) ?? ["", 0]
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
    // Every job and shared model was trained to its end once, the killed one by the other
    // worker, which resumed the killed run from its checkpoint.
    const finished = [...notes(log1, "trained"), ...notes(log2, "trained")].sort()
    expect(finished).toEqual([...new Set(finished)])
    expect(finished).toEqual(
      [
        ...["base", "groupwise", "causald"].flatMap((m) => [`${m} seed 1`, `${m} seed 2`]),
        // what several jobs need: each seed's base model, and the teachers of every seed
        "shared base/seed-1",
        "shared base/seed-2",
        "shared teachers-activeness-4",
      ].sort(),
    )
    expect(notes(log1, "trained")).not.toContain(victim as string)
    expect(notes(log2, "trained")).toContain(victim as string)
    expect(run).not.toBe("")
    expect(Math.max(...resumed(log2, run))).toBeGreaterThanOrEqual(epoch)
    // The other host's leases were taken over, not waited for, and are gone.
    expect(read(log1) + read(log2)).toContain(`on elsewhere-${hostname()}, as asked (takeOver)`)
    for (const folder of leased) expect(existsSync(join(folder, "lease"))).toBe(false)
    expect(clustered.stderr).toContain("job done: ")
    // Each job's state, as the coordinator reads it from the shared folder: done, on a worker.
    for (const job of finished)
      expect(describeJob(job, readStatus(two, job), Date.now())).toMatch(
        /: done on .+ \(pid \d+\)$/,
      )
  }, 300_000)

  test("one worker, models started from the base, --search: shared models awaiting shared models, the numbers of one process", async () => {
    // The aligned readings: teachers fine-tuned from each seed's base model (a shared model that
    // waits for another), the student started from it; KD's and Ho Teachers' teachers; the
    // searches of CausalD's λ and KD's coefficient. One worker: every wait must give its
    // training slot to what it waits for.
    const study = [
      ...["--quick", "--backend", "wasm", "--seeds", "2", "--experiments", "table2,table3"],
      ...["--methods", "base,causald,ho-teachers,kd", "--teacher-init", "base"],
      ...["--student-init", "base", "--search"],
    ]
    const run = (extra: ReadonlyArray<string>) =>
      Bun.spawn(["bun", join(src, "main.ts"), ...study, ...extra], {
        stdout: "ignore",
        stderr: "pipe",
      })
    const url = await freshDatabase(testServerUrl as string, "nested")
    const [one, two] = [join(root, "nested-one"), join(root, "nested-two")]
    const log = join(root, "worker-nested.log")
    worker(url, log)
    const clustered = await finish(run(["--out", two, "--cluster", url]))
    const single = await finish(run(["--out", one]))
    expect(single.code).toBe(0)
    expect(clustered.code).toBe(0)
    expect(comparable(join(two, "results.json"), two)).toEqual(
      comparable(join(one, "results.json"), one),
    )
    const finished = notes(log, "trained").sort()
    expect(finished).toEqual(
      [
        // (group-wise models too: Heterogeneity needs them)
        ...["base", "causald", "ho-teachers", "kd", "groupwise"].flatMap((m) => [
          `${m} seed 1`,
          `${m} seed 2`,
        ]),
        ...[1, 2].flatMap((seed) => [
          `shared base/seed-${seed}`,
          `shared kd-teacher/seed-${seed}`,
          `shared teachers-activeness-4-from-base-s${seed}`,
          `shared teachers-random-4-from-base-s${seed}`,
        ]),
        // the searches (--search), on the first seed, for every seed's model
        "shared search-causald",
        "shared search-kd",
      ].sort(),
    )
  }, 300_000)

  test("a worker on another tensor backend than the coordinator's refuses the jobs, saying which; rerun after fixing the worker, the failed jobs are retried on the same database; the final reload waits for no lease and names a missing model", async () => {
    const url = await freshDatabase(testServerUrl as string, "backend")
    const out = join(root, "backend")
    const cpu = worker(url, join(root, "worker-cpu.log"), "cpu")
    const { code, stderr } = await finish(repro(["--out", out, "--cluster", url]))
    expect(code).toBe(1)
    // (wasm's name says what runs its products, e.g. "wasm+onednn")
    expect(stderr).toMatch(
      /repro failed: training job "[^"]+" failed on its worker: this worker computes on the cpu backend but the study \(its coordinator\) on wasm\S*: start repro-worker with --backend wasm\n/,
    )
    // The worker restarted with the right backend, the coordinator run again: the failed jobs
    // are resumed (the engine's resume) rather than failing again from their recorded result.
    cpu.kill("SIGKILL")
    await cpu.exited
    const log = join(root, "worker-wasm.log")
    worker(url, log)
    const again = await finish(repro(["--out", out, "--cluster", url]))
    expect(again.stderr).not.toContain("repro failed")
    expect(again.code).toBe(0)
    // the one job the first coordinator saw fail at least, with the reason it failed
    expect(again.stderr).toMatch(
      /retrying [^:"]+ seed \d: its last run failed: this worker computes on the cpu backend/,
    )
    expect(existsSync(join(out, "results.json"))).toBe(true)
    const second = comparable(join(out, "results.json"), out)
    // every job and shared model trained to its end once, all by the new worker
    expect(notes(log, "trained").sort()).toEqual(
      [
        ...["base", "groupwise", "causald"].flatMap((m) => [`${m} seed 1`, `${m} seed 2`]),
        "shared base/seed-1",
        "shared base/seed-2",
        "shared teachers-activeness-4",
      ].sort(),
    )
    // Once every execution has finished, the coordinator reads the models without leases: a
    // live-looking lease of another host on a finished model's folder (one that no execution
    // trains now) does not block a third run, which has nothing to retry; and a model missing
    // from the shared folder fails the study with its name, rather than being trained here.
    const student = join(out, "models", "causald", "seed-1")
    foreignLease(student)
    const third = await finish(repro(["--out", out, "--cluster", url]))
    expect(third.code).toBe(0)
    expect(third.stderr).not.toContain("retrying")
    expect(comparable(join(out, "results.json"), out)).toEqual(second)
    expect(existsSync(join(student, "lease"))).toBe(true)
    rmSync(join(out, "models", "base", "seed-2"), { recursive: true })
    const missing = await finish(repro(["--out", out, "--cluster", url]))
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain("repro failed: base seed 2: ")
    expect(missing.stderr).toContain(
      `base seed 2: not trained in ${join(out, "models", "base", "seed-2")} (no checkpoint last.ckpt); this process only reloads finished models\n`,
    )
  }, 300_000)
})

describe.skipIf(testServerUrl === undefined)("bun run repro --cluster, retries", () => {
  test("a shared model that failed is retried by the job that needs it, when the coordinator is run again", async () => {
    const url = await freshDatabase(testServerUrl as string, "shared_retry")
    const out = join(root, "shared-retry")
    // A file where seed 1's base model folder goes: its shared execution fails (cannot create
    // the folder), and so does the job awaiting it.
    mkdirSync(join(out, "models", "base"), { recursive: true })
    writeFileSync(join(out, "models", "base", "seed-1"), "in the way")
    const log = join(root, "worker-shared-retry.log")
    worker(url, log)
    const first = await finish(repro(["--out", out, "--cluster", url]))
    expect(first.code).toBe(1)
    expect(first.stderr).toContain(
      'repro failed: training job "base seed 1" failed on its worker: training job "shared base/seed-1" failed on its worker: ',
    )
    rmSync(join(out, "models", "base", "seed-1"))
    const again = await finish(repro(["--out", out, "--cluster", url]))
    expect(again.stderr).not.toContain("repro failed")
    expect(again.code).toBe(0)
    expect(again.stderr).toContain(
      'retrying base seed 1: its last run failed: training job \\"shared base/seed-1\\" failed',
    )
    // the job, resumed, resumed the failed shared model, which then trained once
    expect(read(log)).toContain("cluster  retrying shared base/seed-1: its last run failed: ")
    expect(notes(log, "trained").filter((name) => name === "shared base/seed-1")).toEqual([
      "shared base/seed-1",
    ])
    expect(existsSync(join(out, "results.json"))).toBe(true)
  }, 300_000)
})

describe.skipIf(testServerUrl === undefined)("bun run repro --cluster, no worker", () => {
  test("with no worker registered, the coordinator says so outright, naming the database and the command to start one", async () => {
    const url = await freshDatabase(testServerUrl as string, "no_worker")
    const out = join(root, "no-worker")
    const coordinator = repro(["--out", out, "--cluster", url])
    const reader = (coordinator.stderr as ReadableStream<Uint8Array>).getReader()
    const decoder = new TextDecoder()
    let text = ""
    const deadline = Date.now() + 120_000
    // said when it starts, and again in place of the 30 s notes on every job
    const said = () => text.split("no worker has registered").length - 1
    while (said() < 2 && Date.now() < deadline) {
      const { value, done } = await reader.read()
      if (done) break
      text += decoder.decode(value)
    }
    coordinator.kill("SIGKILL")
    await coordinator.exited
    const shown = new URL(url).toString()
    expect(text).toContain(
      `no worker has registered on ${shown} yet: start \`bun run repro-worker --cluster ${shown}\` on a machine that sees ${out}`,
    )
    expect(said()).toBeGreaterThanOrEqual(2)
    // said instead of a line per pending job
    expect(text).not.toMatch(/seed \d: pending/)
  }, 180_000)
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
