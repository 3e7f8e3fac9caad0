/**
 * A hand-made results object for the output tests: three seeds, the Table 3 methods, group-wise
 * and ablation models, two groupings, teacher counts and sensitivity points. The numbers are
 * invented (not from a run) and chosen so that the expected marks are known: CausalD is best on
 * every ranking metric and on Heterogeneity, EnsCTR runner-up on the ranking metrics, IPS
 * runner-up on Heterogeneity (as in the paper's MovieLens row).
 */
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Result } from "effect"
import { type Method, methodLabel } from "../src/Methods.ts"
import type { StudyOptions } from "../src/Options.ts"
import {
  compareMethods,
  decodeResults,
  type Grouping,
  type MethodResult,
  type RankingMetric,
  type RankingSummaries,
  type Results,
  rankingMetrics,
  summarize,
  summarizeGroups,
  type TableMetric,
} from "../src/Results.ts"

/** Mean AUC of each method (the other metrics are derived from it). */
const auc: { readonly [M in Method]?: number } = {
  base: 0.8,
  groupwise: 0.79,
  kd: 0.801,
  ips: 0.78,
  causalrec: 0.805,
  derec: 0.81,
  debiasd: 0.812,
  ensctr: 0.82,
  meal: 0.811,
  causald: 0.83,
  "wo-fda": 0.815,
  "ho-teachers": 0.808,
}

/** Heterogeneity (lower is better): IPS runner-up, CausalD best. */
const heterogeneity: { readonly [M in Method]?: number } = {
  base: 0.73,
  groupwise: 0,
  kd: 0.45,
  ips: 0.31,
  causalrec: 0.75,
  derec: 0.79,
  debiasd: 0.69,
  ensctr: 0.95,
  meal: 0.78,
  causald: 0.11,
  "wo-fda": 0.4,
  "ho-teachers": 0.5,
}

const scale: { readonly [M in RankingMetric]: number } = {
  AUC: 1,
  "R@5": 0.4,
  "R@10": 0.6,
  "NDCG@5": 0.3,
  "NDCG@10": 0.4,
}

const jitter = [-0.002, 0.0005, 0.0015]

const threeSeeds = (mean: number) => summarize(jitter.map((j) => mean + j))

const rankingOf = (a: number): RankingSummaries => {
  const out: Partial<Record<RankingMetric, ReturnType<typeof summarize>>> = {}
  for (const m of rankingMetrics) out[m] = threeSeeds(a * scale[m])
  return out as RankingSummaries
}

export const options: StudyOptions = {
  dataset: "movielens-100k",
  data: "/data/ml-100k",
  source: { format: "movielens-100k", directory: "/data/ml-100k" },
  base: "din",
  methods: Object.keys(auc) as Array<Method>,
  seeds: 3,
  teachers: 4,
  splitBy: "activeness",
  attribute: "gender",
  lambdaBda: 1,
  lambdaFda: 1,
  epochs: null,
  backend: "cpu",
  out: "/tmp/run",
  experiments: ["table2", "table3", "table5", "table7", "fig1", "fig4", "fig5"],
  quick: false,
  search: false,
}

const method = (m: Method): MethodResult => ({
  method: m,
  label: methodLabel(m, "din"),
  metrics: { ...rankingOf(auc[m] ?? 0.5), Heterogeneity: threeSeeds(heterogeneity[m] ?? 1) },
  truth: {
    rankCorrelation: threeSeeds((auc[m] ?? 0.5) - 0.3),
    pairwiseAccuracy: threeSeeds(auc[m] ?? 0.5),
  },
})

const groupLabels = ["G1 (least)", "G2", "G3", "G4", "G5 (most)"]

/** Per-group AUC: tail groups worse, CausalD lifting them most. */
const groupAuc = (m: Method, g: number): number => {
  const a = auc[m] ?? 0.5
  const lift = m === "causald" ? 0.02 * (4 - g) : m === "groupwise" ? -0.01 : 0
  return Math.min(0.99, a - 0.04 + 0.02 * g + lift / 2)
}

const grouping = (name: string, valueName: string, values: ReadonlyArray<number>): Grouping => ({
  name,
  labels: groupLabels,
  sizes: [189, 189, 188, 189, 188],
  value: { name: valueName, mean: [...values] },
  methods: (Object.keys(auc) as Array<Method>).map((m) => {
    const metrics: Partial<Record<RankingMetric, ReturnType<typeof summarizeGroups>>> = {}
    for (const metric of rankingMetrics) {
      metrics[metric] = summarizeGroups(
        jitter.map((j) => groupLabels.map((_, g) => groupAuc(m, g) * scale[metric] + j)),
      )
    }
    return { method: m, metrics: metrics as Grouping["methods"][number]["metrics"] }
  }),
})

const point = (value: number, a: number) => ({ value, metrics: rankingOf(a) })

/** The hand-made results; `overrides` replaces top-level fields. */
export const makeResults = (overrides: Partial<Results> = {}): Results => {
  const methods = (Object.keys(auc) as Array<Method>).map(method)
  return {
    schemaVersion: 2,
    manifest: {
      configuration: options,
      seeds: [0, 1, 2],
      backend: "cpu",
      packages: { "@causald/core": "0.1.0", effect: "4.1.0" },
      gitRevision: "0123456789abcdef0123456789abcdef01234567",
      gitDirty: false,
      runtime: { bun: "1.4.5", platform: "linux", arch: "x64", cpus: 2 },
      startedAt: "2026-01-02T03:04:05.000Z",
      finishedAt: "2026-01-02T04:04:05.000Z",
      wallTimeSeconds: 3600,
      stages: [
        { name: "data", seconds: 5 },
        { name: "teachers", seconds: 600 },
      ],
      training: [
        { model: "teachers-activeness-4-0", epochs: 9, seconds: 31.5 },
        { model: "base/seed-1", epochs: 22, seconds: 1210 },
      ],
    },
    dataset: {
      name: "ml-100k",
      kind: "movielens-100k",
      users: 943,
      items: 1010,
      interactions: 96216,
      density: 96216 / (943 * 1010),
      kCore: 16,
      candidates: 100,
      historyLength: 50,
      hasTruth: false,
    },
    heterogeneity: { grouping: "activeness", scale: "percent" },
    methods,
    comparisons: compareMethods(methods),
    groupings: [
      grouping("activeness", "mean activeness (interactions)", [25, 48, 77, 125, 260]),
      grouping("consistency", "mean behaviour inconsistency", [0.12, 0.2, 0.27, 0.35, 0.48]),
    ],
    teacherCounts: [point(2, 0.82), point(4, 0.83), point(8, 0.835), point(16, 0.833)],
    coefficients: {},
    sensitivity: {
      lambdaBda: [point(0.01, 0.82), point(0.1, 0.826), point(1, 0.83), point(10, 0.824)],
      lambdaFda: [point(0.01, 0.815), point(0.1, 0.822), point(1, 0.83), point(10, 0.834)],
    },
    ...overrides,
  }
}

/** The metrics of the table, for loops in tests. */
export const allTableMetrics: ReadonlyArray<TableMetric> = [...rankingMetrics, "Heterogeneity"]

/** Waits for a spawned `bun run repro`: its exit code and what it wrote on stderr. */
export const finish = async (proc: {
  readonly exited: Promise<number>
  readonly stderr: ReadableStream<Uint8Array>
}) => {
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()])
  return { code, stderr }
}

/** The `results.json` a run wrote in `dir`, decoded against its schema. */
export const readRunResults = (dir: string): Results => {
  const decoded = decodeResults(readFileSync(join(dir, "results.json"), "utf8"))
  if (Result.isFailure(decoded)) throw new Error(decoded.failure.message)
  return decoded.success
}

/**
 * A small study that trains several jobs at once (two seeds, DIN, group-wise, CausalD): the one
 * the multi-process tests (`--workers`, `--cluster`) compare with a single process.
 */
export const twoSeedStudy: ReadonlyArray<string> = [
  "--quick",
  "--backend",
  "wasm",
  "--seeds",
  "2",
  "--methods",
  "base,groupwise,causald",
  "--experiments",
  "table2,table3",
]
