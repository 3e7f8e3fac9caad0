/**
 * Worked example: the paper's Heterogeneity figure (Section 5.1, eq. 6-8) from per-group metrics
 * a user already has, e.g. exported from their own evaluation as a CSV.
 *
 * Per seed and per user group (here by activeness) the table holds AUC, R@5, R@10, NDCG@5 and
 * NDCG@10 of
 * - a unified model (one model for all users; here two of them, "DIN" and "CausalD"), and
 * - group-wise training (one model per group, each evaluated on its own group).
 *
 * For each unified model and seed, `Heterogeneity.heterogeneity` gives S_h (eq. 6, the sample
 * standard deviation over groups under unified training), S_h* (eq. 7, the same under group-wise
 * training) and S_h° = S_h - S_h* (eq. 8) per metric, and the figure: the mean of S_h° over the
 * five metrics. Values are fractions in [0, 1]; the standard deviations are reported in
 * percentage points (x 100), the scale the paper's tables appear to use. Finally
 * `Statistics.studentTTest` compares the two models' figures over seeds, as the paper's p-values
 * do (two-sided, pooled variance, scipy.stats.ttest_ind).
 *
 * Run it: `bun examples/HeterogeneityFigure.ts [file.csv]`.
 *
 * @module
 */
import { Heterogeneity, Statistics } from "@causald/core"
import { Result, Schema } from "effect"

/**
 * Per-group metrics of three runs (seeds) of group-wise training and of two unified models.
 * Illustrative numbers, not results of this repository. Seed 1 is laid out so that it can be
 * checked by hand: every metric moves by a constant step from group to group, and the sample
 * standard deviation of three equally spaced values is that step.
 */
export const exampleCsv = `model,seed,group,AUC,R@5,R@10,NDCG@5,NDCG@10
group-wise,1,inactive,0.70,0.30,0.45,0.20,0.25
group-wise,1,normal,0.74,0.34,0.50,0.23,0.28
group-wise,1,active,0.78,0.38,0.55,0.26,0.31
DIN,1,inactive,0.68,0.26,0.40,0.17,0.22
DIN,1,normal,0.75,0.34,0.50,0.23,0.29
DIN,1,active,0.82,0.42,0.60,0.29,0.36
CausalD,1,inactive,0.71,0.31,0.47,0.21,0.26
CausalD,1,normal,0.76,0.36,0.53,0.25,0.31
CausalD,1,active,0.81,0.41,0.59,0.29,0.36
group-wise,2,inactive,0.702,0.296,0.452,0.198,0.252
group-wise,2,normal,0.741,0.343,0.497,0.232,0.281
group-wise,2,active,0.779,0.377,0.553,0.262,0.309
DIN,2,inactive,0.676,0.262,0.398,0.168,0.221
DIN,2,normal,0.752,0.337,0.503,0.231,0.292
DIN,2,active,0.818,0.424,0.597,0.288,0.359
CausalD,2,inactive,0.712,0.306,0.468,0.212,0.262
CausalD,2,normal,0.757,0.362,0.531,0.248,0.309
CausalD,2,active,0.812,0.408,0.588,0.291,0.358
group-wise,3,inactive,0.698,0.303,0.447,0.201,0.248
group-wise,3,normal,0.739,0.338,0.502,0.229,0.279
group-wise,3,active,0.781,0.382,0.548,0.259,0.312
DIN,3,inactive,0.683,0.257,0.404,0.173,0.218
DIN,3,normal,0.748,0.342,0.497,0.228,0.291
DIN,3,active,0.821,0.417,0.603,0.292,0.362
CausalD,3,inactive,0.707,0.312,0.472,0.207,0.258
CausalD,3,normal,0.763,0.357,0.528,0.252,0.312
CausalD,3,active,0.808,0.413,0.591,0.287,0.361
`

/** The CSV is malformed or incomplete; `line` is 1-based (the header is line 1), 0 for the whole file. */
export class GroupMetricsCsvError extends Schema.TaggedError<GroupMetricsCsvError>()(
  "GroupMetricsCsvError",
  { source: Schema.String, line: Schema.Number, reason: Schema.String },
) {
  override get message(): string {
    return this.line > 0
      ? `${this.source}:${this.line}: ${this.reason}`
      : `${this.source}: ${this.reason}`
  }
}

/** The parsed table: `values.get(model)?.get(seed)?.get(group)?.[metric]`. */
export interface GroupMetricsTable {
  readonly source: string
  /** Metric columns, in header order. */
  readonly metrics: ReadonlyArray<string>
  /** Groups in order of first appearance: the order of every per-group array below. */
  readonly groups: ReadonlyArray<string>
  readonly values: ReadonlyMap<
    string,
    ReadonlyMap<number, ReadonlyMap<string, Readonly<Record<string, number>>>>
  >
}

const KEY_COLUMNS = ["model", "seed", "group"] as const

/**
 * Parses `model,seed,group,<metric>...` lines (a header first; blank lines ignored). Every metric
 * must be a number; a repeated (model, seed, group) is an error.
 */
export const parseGroupMetrics = (
  csv: string,
  source = "<inline CSV>",
): Result.Result<GroupMetricsTable, GroupMetricsCsvError> => {
  const fail = (line: number, reason: string) =>
    Result.fail(new GroupMetricsCsvError({ source, line, reason }))
  const lines = csv.split(/\r?\n/)
  const header = (lines[0] ?? "").split(",").map((c) => c.trim())
  if (KEY_COLUMNS.some((c, i) => header[i] !== c) || header.length <= KEY_COLUMNS.length)
    return fail(1, `expected the header "model,seed,group,<metric>,...", got "${lines[0] ?? ""}"`)
  const metrics = header.slice(KEY_COLUMNS.length)
  const groups: Array<string> = []
  const values = new Map<string, Map<number, Map<string, Record<string, number>>>>()
  for (let i = 1; i < lines.length; i++) {
    const text = lines[i]!.trim()
    if (text === "") continue
    const cells = text.split(",").map((c) => c.trim())
    if (cells.length !== header.length)
      return fail(i + 1, `expected ${header.length} columns, got ${cells.length}`)
    const [model, seedText, group] = cells as [string, string, string]
    const seed = Number(seedText)
    if (!Number.isInteger(seed)) return fail(i + 1, `seed must be an integer, got "${seedText}"`)
    const row: Record<string, number> = {}
    for (let m = 0; m < metrics.length; m++) {
      const text = cells[KEY_COLUMNS.length + m]!
      const v = Number(text)
      if (text === "" || !Number.isFinite(v))
        return fail(i + 1, `${metrics[m]} must be a number, got "${text}"`)
      row[metrics[m]!] = v
    }
    if (!groups.includes(group)) groups.push(group)
    const bySeed = values.get(model) ?? new Map<number, Map<string, Record<string, number>>>()
    values.set(model, bySeed)
    const byGroup = bySeed.get(seed) ?? new Map<string, Record<string, number>>()
    bySeed.set(seed, byGroup)
    if (byGroup.has(group))
      return fail(i + 1, `a second row for model ${model}, seed ${seed}, group ${group}`)
    byGroup.set(group, row)
  }
  return Result.succeed({ source, metrics, groups, values })
}

/** One run's metrics as `Heterogeneity.GroupPerformances`: per metric, one value per group. */
export const performances = (
  table: GroupMetricsTable,
  model: string,
  seed: number,
): Result.Result<Heterogeneity.GroupPerformances, GroupMetricsCsvError> => {
  const byGroup = table.values.get(model)?.get(seed)
  const missing = table.groups.filter((g) => byGroup?.get(g) === undefined)
  if (byGroup === undefined || missing.length > 0)
    return Result.fail(
      new GroupMetricsCsvError({
        source: table.source,
        line: 0,
        reason: `model ${model}, seed ${seed} has no rows for group(s) ${missing.join(", ")}`,
      }),
    )
  const out: Record<string, Float64Array> = {}
  for (const metric of table.metrics)
    out[metric] = Float64Array.from(table.groups, (g) => byGroup.get(g)![metric]!)
  return Result.succeed(out)
}

/** The figure of every run of the unified models, and the t-test between two of them. */
export interface HeterogeneityFigureReport {
  readonly groups: ReadonlyArray<string>
  readonly seeds: ReadonlyArray<number>
  /** `runs[model][s]`: S_h, S_h*, S_h° per metric and the figure for seeds[s], in percent. */
  readonly runs: Readonly<Record<string, ReadonlyArray<Heterogeneity.HeterogeneityReport>>>
  /** `figure[model][s]` = runs[model][s].heterogeneity. */
  readonly figure: Readonly<Record<string, ReadonlyArray<number>>>
  /** Two-sided Student t-test of `figure[candidate]` against `figure[baseline]` over seeds. */
  readonly tTest: Statistics.TTest
}

/** Options of {@link main}. */
export interface HeterogeneityFigureOptions {
  /** Where the CSV came from, for error messages. */
  readonly source?: string
  /** The rows of group-wise training. Default "group-wise". */
  readonly groupWise?: string
  /** The unified model tested for lower heterogeneity. Default "CausalD". */
  readonly candidate?: string
  /** The unified model it is compared with. Default "DIN". */
  readonly baseline?: string
}

/** From the CSV text to the per-seed Heterogeneity figures and their t-test. */
export const main = (
  csv: string = exampleCsv,
  options: HeterogeneityFigureOptions = {},
): Result.Result<
  HeterogeneityFigureReport,
  GroupMetricsCsvError | Heterogeneity.HeterogeneityError | Statistics.DegenerateSamples
> =>
  Result.gen(function* () {
    const groupWise = options.groupWise ?? "group-wise"
    const candidate = options.candidate ?? "CausalD"
    const baseline = options.baseline ?? "DIN"
    const table = yield* parseGroupMetrics(csv, options.source)
    const seeds = [...(table.values.get(groupWise)?.keys() ?? [])].sort((a, b) => a - b)
    if (seeds.length === 0)
      return yield* Result.fail(
        new GroupMetricsCsvError({
          source: table.source,
          line: 0,
          reason: `no rows of group-wise training (model "${groupWise}")`,
        }),
      )
    const runs: Record<string, Array<Heterogeneity.HeterogeneityReport>> = {}
    const figure: Record<string, Array<number>> = {}
    for (const model of [baseline, candidate]) {
      runs[model] = []
      figure[model] = []
      for (const seed of seeds) {
        // S_h (eq. 6) from the unified model, S_h* (eq. 7) from the group-wise models of the
        // same seed, S_h° = S_h - S_h* (eq. 8); the figure averages S_h° over AUC, R@5, R@10,
        // NDCG@5 and NDCG@10, in percentage points.
        const report = yield* Heterogeneity.heterogeneity(
          yield* performances(table, model, seed),
          yield* performances(table, groupWise, seed),
        )
        runs[model].push(report)
        figure[model].push(report.heterogeneity)
      }
    }
    const tTest = yield* Statistics.studentTTest(figure[candidate]!, figure[baseline]!)
    return { groups: table.groups, seeds, runs, figure, tTest }
  })

if (import.meta.main) {
  const path = process.argv[2]
  const csv = path === undefined ? exampleCsv : await Bun.file(path).text()
  const result = main(csv, path === undefined ? {} : { source: path })
  if (Result.isFailure(result)) {
    console.error(result.failure.message)
    process.exitCode = 1
  } else {
    const r = result.success
    console.log(`groups: ${r.groups.join(", ")}; seeds: ${r.seeds.join(", ")}`)
    for (const [model, reports] of Object.entries(r.runs)) {
      const first = reports[0]!
      console.log(`\n${model}, seed ${r.seeds[0]} (percentage points):`)
      for (const [metric, h] of Object.entries(first.metrics))
        console.log(
          `  ${metric.padEnd(8)} S_h ${h.total.toFixed(3).padStart(6)}  S_h* ${h.natural.toFixed(3).padStart(6)}  S_h° ${h.biasAmplified.toFixed(3).padStart(6)}`,
        )
      console.log(
        `  Heterogeneity per seed: ${r.figure[model]!.map((h) => h.toFixed(4)).join(", ")}`,
      )
    }
    console.log(
      `\nt = ${r.tTest.statistic.toFixed(3)}, df = ${r.tTest.degreesOfFreedom}, two-sided p = ${r.tTest.pValue.toExponential(2)}`,
    )
  }
}
