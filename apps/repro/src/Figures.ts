/**
 * The paper's figures from a run's results, as Vega-Lite specifications rendered to SVG (Vega's
 * headless `View`) and PNG (resvg, with the DejaVu Sans font shipped by the `dejavu-fonts-ttf`
 * package, so rendering never depends on the machine's fonts or the network):
 *
 * - Figure 1: per activeness group, a metric under unified training (the base model) and
 *   group-wise training (one base model per group, eq. 7);
 * - Figure 4: per group of activeness and of behaviour consistency, the base model, w.o. FDA and
 *   CausalD as lines, the grouping variable's mean as bars;
 * - Figure 5: CausalD's metrics against λ_BDA and λ_FDA (log axis), the base model dashed;
 * - the strength figure (front-door world): agreement with the true P(y | do(x)) against the
 *   confounding strength s for the observational oracle, the base model and CausalD.
 *
 * Specifications are pure functions of the results; rendering is an Effect.
 *
 * @module
 */
import { createRequire } from "node:module"
import { Resvg } from "@resvg/resvg-js"
import { Effect, Result, Schema } from "effect"
import * as vega from "vega"
import { compile, type TopLevelSpec } from "vega-lite"
import { experimentNeeds, type Method, methodLabel } from "./Methods.ts"
import {
  baseLabel,
  findGrouping,
  findMethod,
  type Grouping,
  type RankingMetric,
  type Results,
  type VariantPoint,
} from "./Results.ts"

/** The figures a run can have, by output file name. */
export type FigureName = "figure1" | "figure4" | "figure5" | "strength"

/** A figure's specification. */
export interface Figure {
  readonly name: FigureName
  readonly spec: TopLevelSpec
}

/** Rendering failed (a malformed specification or an SVG resvg cannot read). */
export class FigureError extends Schema.TaggedError<FigureError>()("FigureError", {
  stage: Schema.Literals(["vega", "png"]),
  reason: Schema.String,
}) {
  override get message(): string {
    return `figure rendering failed (${this.stage}): ${this.reason}`
  }
}

const font = "DejaVu Sans"

/** Shared look: the bundled font everywhere, legible sizes. */
const config = {
  font,
  axis: { labelFontSize: 11, titleFontSize: 12 },
  legend: { labelFontSize: 11, titleFontSize: 12, orient: "top", labelLimit: 0 },
  title: { fontSize: 14, anchor: "start" },
  header: { labelFontSize: 12, titleFontSize: 12 },
} as const

const schema = "https://vega.github.io/schema/vega-lite/v6.json"

interface GroupRow {
  readonly group: string
  readonly order: number
  readonly series: string
  readonly value: number
  readonly low: number
  readonly high: number
}

/** One method's metric per group as rows (mean and mean ± std). */
const groupRows = (
  grouping: Grouping,
  method: Method,
  metric: RankingMetric,
  series: string,
): ReadonlyArray<GroupRow> => {
  const m = grouping.methods.find((x) => x.method === method)
  if (m === undefined) return []
  const s = m.metrics[metric]
  return grouping.labels.map((group, g) => ({
    group,
    order: g,
    series,
    value: s.mean[g],
    low: s.mean[g] - (s.std[g] ?? 0),
    high: s.mean[g] + (s.std[g] ?? 0),
  }))
}

/**
 * The x axis of a per-group panel. Group labels such as "activeness 1/5 [6, 11]" repeat the
 * grouping's name, which the axis title already gives: they are drawn without it, slanted, so
 * that five or more groups never overlap.
 */
const groupAxis = (grouping: Grouping) => {
  const prefix = JSON.stringify(`${grouping.name} `)
  return {
    field: "group",
    type: "nominal",
    sort: grouping.labels,
    title: groupAxisTitle(grouping),
    axis: {
      labelAngle: -30,
      labelAlign: "right",
      labelLimit: 180,
      labelExpr: `indexof(datum.label, ${prefix}) === 0 ? substring(datum.label, length(${prefix})) : datum.label`,
    },
  }
}

const groupAxisTitle = (grouping: Grouping): string =>
  grouping.name === "activeness"
    ? "user group by activeness (least to most active)"
    : grouping.name === "consistency"
      ? "user group by behaviour inconsistency (most to least consistent)"
      : `user group by ${grouping.name}`

/**
 * Figure 1: grouped bars of `metrics` per activeness group, unified (base) against group-wise
 * training, error bars ± one std over seeds. Undefined without both models or the grouping.
 */
export const figure1Spec = (
  results: Results,
  metrics: ReadonlyArray<RankingMetric> = ["AUC", "NDCG@10"],
): TopLevelSpec | undefined => {
  const grouping = findGrouping(results, "activeness")
  if (grouping === undefined) return undefined
  const base = baseLabel(results)
  const unified = `${base} (unified training)`
  const groupWise = `${base} (group-wise training)`
  const panels = metrics.map((metric) => {
    const values = [
      ...groupRows(grouping, "base", metric, unified),
      ...groupRows(grouping, "groupwise", metric, groupWise),
    ]
    return { metric, values }
  })
  if (panels.some((p) => p.values.length < 2 * grouping.labels.length)) return undefined
  return {
    $schema: schema,
    title: {
      text: `Fig. 1: ${metrics.join(" and ")} per user group, unified vs group-wise training`,
      subtitle: `${results.dataset.name}, ${results.manifest.seeds.length} seeds; error bars: ± 1 std`,
    },
    config,
    hconcat: panels.map(({ metric, values }) => ({
      data: { values },
      width: 70 * grouping.labels.length,
      height: 260,
      encoding: {
        x: groupAxis(grouping),
        xOffset: { field: "series", sort: [unified, groupWise] },
        color: {
          field: "series",
          type: "nominal",
          sort: [unified, groupWise],
          title: null,
        },
      },
      layer: [
        {
          mark: { type: "bar" },
          encoding: { y: { field: "value", type: "quantitative", title: `${metric} (test)` } },
        },
        {
          mark: { type: "rule", color: "black" },
          encoding: { y: { field: "low", type: "quantitative" }, y2: { field: "high" } },
        },
      ],
    })),
  } as TopLevelSpec
}

/** The models Figure 4 compares, in legend order. */
const figure4Methods: ReadonlyArray<Method> = experimentNeeds.fig4

/**
 * Figure 4: for the activeness and the consistency groupings, `metric` per group of the base
 * model, w.o. FDA and CausalD (lines, left axis) over the grouping variable's mean (bars, right
 * axis). Undefined when neither grouping has those models.
 */
export const figure4Spec = (
  results: Results,
  metric: RankingMetric = "AUC",
): TopLevelSpec | undefined => {
  const base = results.manifest.configuration.base
  const panels = (["activeness", "consistency"] as const).flatMap((name, i) => {
    const grouping = findGrouping(results, name)
    if (grouping === undefined) return []
    const lines = figure4Methods.flatMap((m) =>
      groupRows(grouping, m, metric, methodLabel(m, base)),
    )
    if (lines.length === 0) return []
    const bars =
      grouping.value === null
        ? []
        : grouping.labels.map((group, g) => ({ group, value: grouping.value?.mean[g] ?? 0 }))
    const x = groupAxis(grouping)
    const order = figure4Methods.map((m) => methodLabel(m, base))
    return [
      {
        title: `(${String.fromCharCode(97 + i)}) ${name === "activeness" ? "user activeness" : "behaviour consistency"}`,
        width: 70 * grouping.labels.length,
        height: 300,
        layer: [
          ...(bars.length === 0
            ? []
            : [
                {
                  data: { values: bars },
                  mark: { type: "bar", color: "#d9d9d9", opacity: 0.8 },
                  encoding: {
                    x,
                    y: {
                      field: "value",
                      type: "quantitative",
                      title: grouping.value?.name ?? name,
                      axis: { orient: "right", grid: false, titleLimit: 300 },
                    },
                  },
                },
              ]),
          {
            data: { values: lines },
            mark: { type: "line", point: true, strokeWidth: 2 },
            encoding: {
              x,
              y: {
                field: "value",
                type: "quantitative",
                title: metric,
                scale: { zero: false },
                axis: { orient: "left" },
              },
              color: { field: "series", type: "nominal", sort: order, title: null },
            },
          },
        ],
        resolve: { scale: { y: "independent" } },
      },
    ]
  })
  if (panels.length === 0) return undefined
  return {
    $schema: schema,
    title: {
      text: `Fig. 4: ${metric} per user group`,
      subtitle: `${results.dataset.name}, mean over ${results.manifest.seeds.length} seeds; lines: ${metric} (left axis), grey bars: the grouping variable's mean per group (right axis)`,
    },
    config,
    hconcat: panels,
    resolve: { scale: { color: "shared" } },
  } as TopLevelSpec
}

/**
 * Figure 5: CausalD's `metrics` against λ_BDA and against λ_FDA (log x axis, the values run),
 * one row per metric with its own y scale (the metrics differ in range by a factor of three), the
 * base model's value dashed. The sensitivity runs are trained on the first seed only, so the
 * dashed reference is the base model on that same seed, not the mean over seeds. Undefined
 * without sensitivity runs.
 */
export const figure5Spec = (
  results: Results,
  metrics: ReadonlyArray<RankingMetric> = ["AUC", "NDCG@10", "R@10"],
): TopLevelSpec | undefined => {
  const s = results.sensitivity
  if (s === null || (s.lambdaBda.length === 0 && s.lambdaFda.length === 0)) return undefined
  const base = findMethod(results, "base")
  const baseName = baseLabel(results)
  const firstSeed = results.manifest.seeds[0]
  const panel = (symbol: string, points: ReadonlyArray<VariantPoint>, metric: RankingMetric) => {
    const reference = base?.metrics[metric].perSeed[0]
    return {
      title: `CausalD vs ${symbol}`,
      width: 240,
      height: 150,
      layer: [
        {
          data: { values: points.map((p) => ({ lambda: p.value, value: p.metrics[metric].mean })) },
          mark: { type: "line", point: true, strokeWidth: 2, color: "#4c78a8" },
          encoding: {
            x: {
              field: "lambda",
              type: "quantitative",
              scale: { type: "log" },
              axis: { values: points.map((p) => p.value), format: "~g" },
              title: symbol,
            },
            y: {
              field: "value",
              type: "quantitative",
              title: `${metric} (test)`,
              scale: { zero: false },
            },
          },
        },
        ...(reference === undefined
          ? []
          : [
              {
                data: { values: [{ value: reference }] },
                mark: { type: "rule", strokeDash: [5, 4], strokeWidth: 1.5, color: "#e45756" },
                encoding: { y: { field: "value", type: "quantitative" } },
              },
            ]),
      ],
    }
  }
  const row = (metric: RankingMetric) => ({
    hconcat: [
      ...(s.lambdaBda.length === 0 ? [] : [panel("λ_BDA", s.lambdaBda, metric)]),
      ...(s.lambdaFda.length === 0 ? [] : [panel("λ_FDA", s.lambdaFda, metric)]),
    ],
    resolve: { scale: { y: "shared" } },
  })
  return {
    $schema: schema,
    title: {
      text: "Fig. 5: CausalD's performance against the loss coefficients",
      subtitle: `${results.dataset.name}, seed ${firstSeed} (the sensitivity runs' seed)${base === undefined ? "" : `; dashed red: ${baseName} on the same seed`}`,
    },
    config,
    vconcat: metrics.map(row),
  } as TopLevelSpec
}

/**
 * The strength figure: rank correlation with the truth against the confounding strength s, for
 * the observational oracle (exact, no seeds) and each method of the sweep (mean ± sample std over
 * the seeds as error bars). Undefined without a sweep.
 */
export const strengthSpec = (results: Results): TopLevelSpec | undefined => {
  const points = results.strength
  if (points === undefined || points.length === 0) return undefined
  const base = results.manifest.configuration.base
  const rows = points.flatMap((p) => [
    {
      s: p.strength,
      series: "Observational oracle P(y | x)",
      value: p.oracleRankCorrelation,
      low: p.oracleRankCorrelation,
      high: p.oracleRankCorrelation,
    },
    ...p.methods.map((m) => ({
      s: p.strength,
      series: methodLabel(m.method, base),
      value: m.rankCorrelation.mean,
      low: m.rankCorrelation.mean - (m.rankCorrelation.std ?? 0),
      high: m.rankCorrelation.mean + (m.rankCorrelation.std ?? 0),
    })),
  ])
  const x = {
    field: "s",
    type: "quantitative",
    title: "confounding strength s",
    // a label expression: Vega's default tick format rounds 0.25 to "0.3" despite `format`
    axis: { values: points.map((p) => p.strength), labelExpr: "format(datum.value, '~g')" },
  }
  const yTitle = "rank correlation with the truth (test)"
  const color = { field: "series", type: "nominal", title: null }
  return {
    $schema: schema,
    title: {
      text: "Agreement with the true P(y | do(x)) against the confounding strength",
      subtitle: `${results.dataset.name}; mean ± std over ${results.manifest.seeds.length} seeds; the truth itself is 1`,
    },
    config,
    width: 420,
    height: 260,
    data: { values: rows },
    layer: [
      {
        mark: { type: "line", point: true, strokeWidth: 2 },
        encoding: {
          x,
          y: {
            field: "value",
            type: "quantitative",
            title: yTitle,
            scale: { zero: false },
          },
          color,
        },
      },
      {
        mark: { type: "errorbar", ticks: true },
        encoding: {
          x,
          y: { field: "low", type: "quantitative", title: yTitle },
          y2: { field: "high" },
          color,
        },
      },
    ],
  } as TopLevelSpec
}

/** Every figure the results allow, in paper order. */
export const figures = (results: Results): ReadonlyArray<Figure> => {
  const out: Array<Figure> = []
  const f1 = figure1Spec(results)
  if (f1 !== undefined) out.push({ name: "figure1", spec: f1 })
  const f4 = figure4Spec(results)
  if (f4 !== undefined) out.push({ name: "figure4", spec: f4 })
  const f5 = figure5Spec(results)
  if (f5 !== undefined) out.push({ name: "figure5", spec: f5 })
  const strength = strengthSpec(results)
  if (strength !== undefined) out.push({ name: "strength", spec: strength })
  return out
}

/** Renders a Vega-Lite specification to SVG, headless (no canvas, no browser). */
export const renderSvg = (spec: TopLevelSpec): Effect.Effect<string, FigureError> =>
  Effect.tryPromise({
    try: async () => {
      const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" })
      try {
        return await view.toSVG()
      } finally {
        view.finalize()
      }
    },
    catch: (e) => new FigureError({ stage: "vega", reason: String(e) }),
  })

const require = createRequire(import.meta.url)

/** The TrueType files resvg draws text with (from the dejavu-fonts-ttf package). */
export const fontFiles: ReadonlyArray<string> = [
  require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans.ttf"),
  require.resolve("dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf"),
]

/** Rasterises an SVG to PNG at `scale` times its size (2 by default, for sharp text). */
export const svgToPng = (svg: string, scale = 2): Result.Result<Uint8Array, FigureError> =>
  Result.try({
    try: () =>
      new Uint8Array(
        new Resvg(svg, {
          background: "white",
          fitTo: { mode: "zoom", value: scale },
          font: {
            loadSystemFonts: false,
            fontFiles: [...fontFiles],
            defaultFontFamily: font,
            sansSerifFamily: font,
          },
        })
          .render()
          .asPng(),
      ),
    catch: (e) => new FigureError({ stage: "png", reason: String(e) }),
  })
