/**
 * `report.md`: links to the run's tables and figures and what the numbers show, every sentence
 * computed from the results (a direction, a difference, a p-value), none written in advance.
 * Pure: results and the list of written files in, Markdown out.
 *
 * @module
 */
import { Statistics } from "@causald/core"
import { Result } from "effect"
import { type Method, methodLabel, paperTable } from "./Methods.ts"
import * as Paper from "./PaperNumbers.ts"
import {
  baseLabel,
  direction,
  findGrouping,
  findMethod,
  type Grouping,
  type MethodResult,
  metricOf,
  type RankingMetric,
  type Results,
  type Summary,
  type TableMetric,
  type VariantPoint,
} from "./Results.ts"
import { formatP, paperMatch } from "./Tables.ts"

const f4 = (x: number): string => x.toFixed(4)

const signed = (x: number, digits = 4): string =>
  `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(digits)}`

const percent = (x: number): string => `${x >= 0 ? "+" : "−"}${Math.abs(100 * x).toFixed(1)}%`

const withStd = (s: Summary): string =>
  s.std === null ? f4(s.mean) : `${f4(s.mean)} (± ${f4(s.std)})`

const duration = (seconds: number): string => {
  if (seconds < 60) return `${seconds.toFixed(1)} s`
  const m = Math.floor(seconds / 60)
  if (m < 60) return `${m} min ${Math.round(seconds - 60 * m)} s`
  return `${Math.floor(m / 60)} h ${m % 60} min`
}

/** Two-sided Student t-test over seeds, as a phrase. */
const pPhrase = (a: Summary, b: Summary): string => {
  const t = Statistics.studentTTest(a.perSeed, b.perSeed)
  if (Result.isFailure(t)) return `no t-test (${t.failure.reason})`
  const p = t.success.pValue
  return `two-sided Student t-test over seeds p = ${formatP(p)} (${p < 0.05 ? "significant" : "not significant"} at 0.05)`
}

/** "CausalD's mean AUC is X (± s) vs DIN's Y (± s): +d (+r%); p = …". */
const versus = (
  a: MethodResult,
  b: MethodResult,
  metric: TableMetric,
  nameA: string,
  nameB: string,
): string | undefined => {
  const sa = metricOf(a, metric)
  const sb = metricOf(b, metric)
  if (sa === undefined || sb === undefined) return undefined
  const diff = sa.mean - sb.mean
  // A relative change means nothing against a reference at or below zero (Heterogeneity can be
  // negative: group-wise models more dispersed than the unified one).
  const rel = sb.mean <= 0 ? "" : ` (${percent(diff / sb.mean)})`
  const better =
    diff === 0
      ? "equal"
      : diff > 0 === (direction(metric) === "higher")
        ? `better for ${nameA}`
        : `better for ${nameB}`
  return `${nameA}'s mean ${metric} is ${withStd(sa)} vs ${nameB}'s ${withStd(sb)}: ${signed(diff)}${rel}, ${better}${direction(metric) === "lower" ? " (lower is better)" : ""}; ${pPhrase(sa, sb)}.`
}

const section = (title: string, lines: ReadonlyArray<string>): ReadonlyArray<string> =>
  lines.length === 0 ? [] : [`## ${title}`, "", ...lines.map((l) => `- ${l}`), ""]

const overall = (results: Results): ReadonlyArray<string> => {
  const base = results.manifest.configuration.base
  const causald = findMethod(results, "causald")
  const din = findMethod(results, "base")
  const lines: Array<string> = []
  if (causald !== undefined && din !== undefined) {
    for (const metric of ["AUC", "NDCG@10", "R@10", "Heterogeneity"] as const) {
      const s = versus(causald, din, metric, "CausalD", methodLabel("base", base))
      if (s !== undefined) lines.push(s)
    }
  }
  const bestCount = results.comparisons.filter((c) => c.best === "causald").length
  if (causald !== undefined && results.comparisons.length > 0) {
    lines.push(
      `CausalD is the best of the Table 3 methods on ${bestCount} of ${results.comparisons.length} metrics.`,
    )
  }
  for (const c of results.comparisons) {
    const best = findMethod(results, c.best)
    const s = best === undefined ? undefined : metricOf(best, c.metric)
    if (s === undefined) continue
    const runner =
      c.runnerUp === null
        ? "no runner-up"
        : `runner-up ${methodLabel(c.runnerUp, base)}, ${c.pValue === null ? `no p-value: ${c.note ?? "not computed"}` : `p = ${formatP(c.pValue)}, ${c.pValue < 0.05 ? "significant" : "not significant"} at 0.05`}`
    lines.push(`Best on ${c.metric}: ${methodLabel(c.best, base)} with ${f4(s.mean)} (${runner}).`)
  }
  if (results.methods.every((m) => m.metrics.Heterogeneity === null)) {
    lines.push("Heterogeneity was not measured (it needs the group-wise models).")
  }
  return lines
}

/** Tail (first) and head (last) group of a grouping, CausalD against the base model. */
const perGroup = (
  results: Results,
  grouping: Grouping,
  metric: RankingMetric,
): ReadonlyArray<string> => {
  const base = results.manifest.configuration.base
  const of = (m: Method) => grouping.methods.find((x) => x.method === m)?.metrics[metric]
  const c = of("causald")
  const b = of("base")
  if (c === undefined || b === undefined || grouping.labels.length < 2) return []
  const last = grouping.labels.length - 1
  const at = (g: number) =>
    `group ${grouping.labels[g]}: CausalD ${f4(c.mean[g])} vs ${methodLabel("base", base)} ${f4(b.mean[g])} (${signed(c.mean[g] - b.mean[g])})`
  const spread = (xs: ReadonlyArray<number>) => Math.max(...xs) - Math.min(...xs)
  const gains = c.mean.map((x, g) => x - b.mean[g])
  const improved = gains.filter((x) => x > 0).length
  const largest = gains.indexOf(Math.max(...gains))
  return [
    `By ${grouping.name} (${metric}), ${at(0)}; ${at(last)}. CausalD is higher on ${improved} of ${grouping.labels.length} groups, most on ${grouping.labels[largest]}. Spread over groups (max − min): CausalD ${f4(spread(c.mean))}, ${methodLabel("base", base)} ${f4(spread(b.mean))}.`,
  ]
}

const unifiedVsGroupWise = (results: Results, metric: RankingMetric): ReadonlyArray<string> => {
  const g = findGrouping(results, "activeness")
  if (g === undefined) return []
  const u = g.methods.find((x) => x.method === "base")?.metrics[metric]
  const w = g.methods.find((x) => x.method === "groupwise")?.metrics[metric]
  if (u === undefined || w === undefined) return []
  const better = u.mean.filter((x, i) => x > w.mean[i]).length
  const diffs = u.mean.map((x, i) => `${g.labels[i]} ${signed(x - w.mean[i])}`).join(", ")
  return [
    `Unified minus group-wise ${metric} per activeness group: ${diffs}. Unified training is higher on ${better} of ${g.labels.length} groups.`,
  ]
}

const ablation = (results: Results): ReadonlyArray<string> => {
  const base = results.manifest.configuration.base
  const rows = Paper.ablationMethods.flatMap((m) => {
    const r = findMethod(results, m)
    return r === undefined ? [] : [r]
  })
  if (rows.length < 2) return []
  return (["AUC", "NDCG@10", "R@10"] as const).map((metric) => {
    const parts = rows.map((r) => `${methodLabel(r.method, base)} ${f4(r.metrics[metric].mean)}`)
    const best = rows.reduce((a, b) => (b.metrics[metric].mean > a.metrics[metric].mean ? b : a))
    return `${metric}: ${parts.join(", ")}; highest: ${methodLabel(best.method, base)}.`
  })
}

const variants = (
  points: ReadonlyArray<VariantPoint> | undefined | null,
  name: string,
  metric: RankingMetric,
): ReadonlyArray<string> => {
  if (points === undefined || points === null || points.length === 0) return []
  const values = points.map((p) => `${p.value}: ${f4(p.metrics[metric].mean)}`).join(", ")
  const best = points.reduce((a, b) => (b.metrics[metric].mean > a.metrics[metric].mean ? b : a))
  const means = points.map((p) => p.metrics[metric].mean)
  return [
    `CausalD's ${metric} by ${name}: ${values}; highest at ${name} = ${best.value}; range ${f4(Math.max(...means) - Math.min(...means))}.`,
  ]
}

const truth = (results: Results): ReadonlyArray<string> => {
  if (!results.dataset.hasTruth) return []
  const base = results.manifest.configuration.base
  const lines: Array<string> = []
  const withTruth = results.methods.filter((m) => m.truth !== null)
  for (const m of withTruth) {
    if (m.truth === null) continue
    lines.push(
      `${methodLabel(m.method, base)}: rank correlation with the true P(click | do(history)) ${withStd(m.truth.rankCorrelation)}, pairwise accuracy ${withStd(m.truth.pairwiseAccuracy)}.`,
    )
  }
  const c = findMethod(results, "causald")?.truth
  const b = findMethod(results, "base")?.truth
  if (c != null && b != null) {
    const d = c.rankCorrelation.mean - b.rankCorrelation.mean
    lines.push(
      `CausalD's rank correlation with the truth is ${d >= 0 ? "higher" : "lower"} than ${methodLabel("base", base)}'s by ${Math.abs(d).toFixed(4)}; ${pPhrase(c.rankCorrelation, b.rankCorrelation)}.`,
    )
  }
  return lines
}

/** Front-door world: the oracle gap, the interventional test and the strength sweep. */
const frontDoor = (results: Results): ReadonlyArray<string> => {
  const oracle = results.oracles?.find((o) => o.oracle === "observational-oracle")
  if (oracle === undefined) return []
  const base = results.manifest.configuration.base
  const lines: Array<string> = [
    `The observational oracle P(y | x), the best prediction without adjustment, has rank correlation ${f4(oracle.rankCorrelation)} with the truth P(y | do(x)): the oracle gap is ${f4(1 - oracle.rankCorrelation)}.`,
  ]
  for (const m of results.methods)
    if (m.truth?.gapClosed !== undefined)
      lines.push(
        `${methodLabel(m.method, base)} closes ${withStd(m.truth.gapClosed)} of the oracle gap (0: as close to the truth as the observational oracle, 1: the truth, below 0: further from it).`,
      )
  const c = findMethod(results, "causald")
  const b = findMethod(results, "base")
  if (c?.interventional !== undefined && b?.interventional !== undefined)
    lines.push(
      `On the interventional test (clicks drawn under do(history)) CausalD's AUC is ${withStd(c.interventional.AUC)} against ${methodLabel("base", base)}'s ${withStd(b.interventional.AUC)}; ${pPhrase(c.interventional.AUC, b.interventional.AUC)}. The truth's is ${f4(results.oracles!.find((o) => o.oracle === "truth")!.interventional.AUC)}, the observational oracle's ${f4(oracle.interventional.AUC)}.`,
    )
  for (const p of results.strength ?? []) {
    const parts = p.methods.map(
      (m) => `${methodLabel(m.method, base)} ${withStd(m.rankCorrelation)}`,
    )
    const pc = p.methods.find((m) => m.method === "causald")?.rankCorrelation
    const pb = p.methods.find((m) => m.method === "base")?.rankCorrelation
    lines.push(
      `s = ${p.strength}: rank correlation with the truth: observational oracle ${f4(p.oracleRankCorrelation)}, ${parts.join(", ")}${pc !== undefined && pb !== undefined ? `; CausalD against ${methodLabel("base", base)}: ${pPhrase(pc, pb)}` : ""} (run folder ${p.folder}).`,
    )
  }
  return lines
}

/** The readings screen: each reading's AUC against the base model's. */
const readings = (results: Results): ReadonlyArray<string> => {
  const b = findMethod(results, "base")
  if (results.readings === undefined || b === undefined) return []
  const base = methodLabel("base", results.manifest.configuration.base)
  return results.readings.map(
    (r) =>
      `CausalD ${r.name} (${r.reading}): AUC ${withStd(r.metrics.AUC)} against ${base}'s ${withStd(b.metrics.AUC)}, ${pPhrase(r.metrics.AUC, b.metrics.AUC)}; NDCG@10 ${withStd(r.metrics["NDCG@10"])}${r.truth === null ? "" : `; rank correlation with the truth ${withStd(r.truth.rankCorrelation)}`}.`,
  )
}

const againstPaper = (results: Results): ReadonlyArray<string> => {
  const match = paperMatch(results)
  const c = findMethod(results, "causald")
  const b = findMethod(results, "base")
  if (match === undefined || c === undefined || b === undefined) return []
  const rows = Paper.overall[match.base]?.[match.dataset] ?? []
  const table = String(paperTable[match.base])
  const parts: Array<string> = []
  for (const metric of ["AUC", "R@5", "R@10", "NDCG@5", "NDCG@10", "Heterogeneity"] as const) {
    const p = rows.find((r) => r.metric === metric)
    const pc = p?.values.causald
    const pb = p?.values.base
    const oc = metricOf(c, metric)
    const ob = metricOf(b, metric)
    if (pc === undefined || pb === undefined || oc === undefined || ob === undefined) continue
    parts.push(
      `${metric} paper ${pb <= 0 ? "n/a" : percent((pc - pb) / pb)}, this run ${ob.mean <= 0 ? "n/a" : percent((oc.mean - ob.mean) / ob.mean)}`,
    )
  }
  if (parts.length === 0) return []
  return [
    `CausalD relative to ${methodLabel("base", match.base)}, the paper's Table ${table} (${match.dataset}) against this run: ${parts.join("; ")}.${match.note === null ? "" : ` Note: ${match.note}.`}`,
  ]
}

const caveats = (results: Results): ReadonlyArray<string> => {
  const out: Array<string> = []
  const n = results.manifest.seeds.length
  if (results.manifest.configuration.quick) {
    out.push("This was a --quick run: tiny data and models, its numbers say nothing about CausalD.")
  }
  if (n < 5) out.push(`${n} seed${n === 1 ? "" : "s"} per method (the paper runs 5).`)
  if (results.heterogeneity.scale === "percent") {
    out.push(
      "Heterogeneity is in percentage points of the metrics (the paper does not state its unit; see `Heterogeneity.ts` of the core).",
    )
  }
  return out
}

/** Markdown links to the written files, by name. */
const links = (files: ReadonlyArray<string>): ReadonlyArray<string> => {
  const has = (f: string) => files.includes(f)
  const out: Array<string> = []
  const tables: ReadonlyArray<readonly [string, string]> = [
    ["table2", "Table 2: data statistics"],
    ["table3", "Table 3/4: overall performance and heterogeneity"],
    ["table5", "Table 5/6: ablation"],
    ["table7", "Table 7: number of teachers"],
  ]
  for (const [name, title] of tables) {
    if (has(`${name}.md`)) {
      out.push(`- [${title}](${name}.md)${has(`${name}.csv`) ? ` ([csv](${name}.csv))` : ""}`)
    }
  }
  const figures: ReadonlyArray<readonly [string, string]> = [
    ["figure1", "Figure 1: unified vs group-wise training per activeness group"],
    ["figure4", "Figure 4: per-group performance against the confounders"],
    ["figure5", "Figure 5: sensitivity to λ_BDA and λ_FDA"],
  ]
  for (const [name, title] of figures) {
    if (has(`${name}.png`)) {
      out.push(
        `- ${title} ([svg](${name}.svg), [Vega-Lite](${name}.vl.json))\n\n  ![${title}](${name}.png)`,
      )
    }
  }
  if (has("results.json"))
    out.push("- [results.json](results.json): every number, with the manifest")
  return out
}

/**
 * The training time of every model from its checkpoint: with `--workers` or after an
 * interruption the stages above show only this invocation's share.
 */
const trainingCost = (m: Results["manifest"]): Array<string> => {
  if (m.training.length === 0) return []
  let seconds = 0
  let epochs = 0
  for (const t of m.training) {
    seconds += t.seconds
    epochs += t.epochs
  }
  return [
    "## Training time",
    "",
    `${m.training.length} models, ${epochs.toLocaleString("en-US")} epochs, ${duration(seconds)} of training summed over the models' epochs (from their checkpoints, whichever process or invocation trained them; with --workers N up to N trained at a time).`,
    "",
  ]
}

/**
 * The report of a run. `files` are the names written beside it (only those are linked); `skipped`
 * lists requested outputs that the results could not support, with the reason.
 */
export const report = (
  results: Results,
  files: ReadonlyArray<string>,
  skipped: ReadonlyArray<string> = [],
): string => {
  const m = results.manifest
  const git =
    m.gitRevision === null
      ? "git revision unknown"
      : `git ${m.gitRevision.slice(0, 12)}${m.gitDirty === true ? " (with uncommitted changes)" : ""}`
  const causald = findMethod(results, "causald")
  const base = findMethod(results, "base")
  const headline =
    causald !== undefined && base !== undefined
      ? versus(causald, base, "AUC", "CausalD", baseLabel(results))
      : undefined
  return [
    `# CausalD reproduction: ${results.dataset.name}, base ${baseLabel(results)}`,
    "",
    `${m.startedAt} to ${m.finishedAt} (${duration(m.wallTimeSeconds)}); seeds ${m.seeds.join(", ")}; backend ${m.backend}; ${git}; ${results.dataset.users.toLocaleString("en-US")} users, ${results.dataset.items.toLocaleString("en-US")} items, ${results.dataset.interactions.toLocaleString("en-US")} interactions.`,
    "",
    ...(headline === undefined ? [] : [`**${headline}**`, ""]),
    "## Outputs",
    "",
    ...links(files),
    "",
    ...section("Overall performance (Table 3/4)", overall(results)),
    ...section(
      "Per user group (Figure 4)",
      (["activeness", "consistency"] as const).flatMap((name) => {
        const g = findGrouping(results, name)
        return g === undefined ? [] : perGroup(results, g, "AUC")
      }),
    ),
    ...section("Unified vs group-wise training (Figure 1)", unifiedVsGroupWise(results, "AUC")),
    ...section("Ablation (Table 5/6)", ablation(results)),
    ...section("Number of teachers (Table 7)", variants(results.teacherCounts, "K", "AUC")),
    ...section("Loss coefficients (Figure 5)", [
      ...variants(results.sensitivity?.lambdaBda, "λ_BDA", "AUC"),
      ...variants(results.sensitivity?.lambdaFda, "λ_FDA", "AUC"),
    ]),
    ...section("Agreement with the true causal effect (simulated data)", truth(results)),
    ...section(
      "The front-door world: oracle gap, interventional test, strength",
      frontDoor(results),
    ),
    ...section("Readings of the paper (screen)", readings(results)),
    ...section("Against the paper", againstPaper(results)),
    ...section("Not produced", skipped),
    ...section("Caveats", caveats(results)),
    "## Stages",
    "",
    ...m.stages.map((s) => `- ${s.name}: ${duration(s.seconds)}`),
    "",
    ...trainingCost(m),
  ].join("\n")
}
