/**
 * The readings of the paper: every point where eq. 9-22 and Algorithm 1 leave the implementer a
 * choice, each a named option of `bun run repro`, with the literal reading (what the paper's text
 * says, or its first example) as the default. This module is the one place that lists them: the
 * CLI's flags, the presets of `--reading`, the study's options and the settings recorded in
 * `provenance.json` (a model trained under another reading is refused on reuse) all derive from
 * {@link dimensions}. The study applies the resolved {@link Reading}.
 *
 * @module
 */

/** One open point of the paper and the readings of it the study can run. */
export interface Dimension<A extends string> {
  /** The command-line flag. */
  readonly flag: string
  readonly choices: ReadonlyArray<A>
  /** The literal reading: the default, never written to provenance. */
  readonly literal: A
  /** What the paper says, and what each choice means (shown by `--help`). */
  readonly description: string
}

const dimension = <const A extends string>(d: Dimension<A>): Dimension<A> => d

/** The open points with choices; ψ_FDA's layer sizes (a list of widths) is {@link fdaHidden}. */
export const dimensions = {
  bdaDistance: dimension({
    flag: "bda-distance",
    choices: ["euclidean", "squared-euclidean", "mse", "cosine"],
    literal: "euclidean",
    description:
      "d of CausalD's feature distillation loss L_BDA (eq. 17, 20: 'such as Euclidean distance'): euclidean (the paper's example, default; a pull of constant size), squared-euclidean (vanishes at the guidance), mse (mean squared error over elements: the squared distance / d), cosine (ignores mediator norms)",
  }),
  teacherInit: dimension({
    flag: "teacher-init",
    choices: ["independent", "shared", "base"],
    literal: "independent",
    description:
      "How the K teachers start (Algorithm 1 does not say): independent (each from its own seed, default), shared (all from one seed, so their mediator spaces start aligned), base (fine-tuned on their subsets from the trained base model of the seed, so teachers and student share one space; one set of teachers per seed)",
  }),
  studentInit: dimension({
    flag: "student-init",
    choices: ["scratch", "base"],
    literal: "scratch",
    description:
      "How the CausalD student starts (Algorithm 1: 'Initialize'): scratch (default) or base (the trained base model of the same seed)",
  }),
  fdaItems: dimension({
    flag: "fda-items",
    choices: ["student", "own"],
    literal: "student",
    description:
      "The item representation y_i that ψ_FDA sees (eq. 11-13): student (the student's item embedding, held constant; default) or own (a trainable look-up table of ψ_FDA's own, 'obtained from a trainable embedding look-up table')",
  }),
  teacherPrior: dimension({
    flag: "teacher-prior",
    choices: ["users", "interactions"],
    literal: "users",
    description:
      "P(z_k) of eq. 19: users (each teacher's share of the users, as the paper says; uniform for equal-sized activeness quantiles, default) or interactions (its share of the training interactions)",
  }),
  fdaWarmup: dimension({
    flag: "fda-warmup",
    choices: ["none", "epoch"],
    literal: "none",
    description:
      "When the front-door estimator (W1, W2, ψ_FDA of eq. 10-14) starts labelling (Algorithm 1 initialises it with the student): none (trained alongside the student from the first step, default) or epoch (a first epoch fits it alone on the consistency term of eq. 16, the student untouched, so the student is never distilled towards an untrained estimator's labels; eq. 16 computes the distillation 'when W1, W2 and ψ_FDA are fixed')",
  }),
} as const

export type DimensionName = keyof typeof dimensions
export type ChoiceOf<N extends DimensionName> = (typeof dimensions)[N]["choices"][number]

/** ψ_FDA's hidden layer widths (eq. 13: 'a FCL network', section 3.5.1: light-weight). */
export const fdaHidden = {
  flag: "fda-hidden",
  literal: [16] as ReadonlyArray<number>,
  description:
    "Hidden layer widths of ψ_FDA (eq. 13), a comma list: 16 (default, light-weight) or DIN-sized, e.g. 80,40",
} as const

/** A whole reading: one choice per open point. */
export type Reading = { readonly [N in DimensionName]: ChoiceOf<N> } & {
  readonly fdaHidden: ReadonlyArray<number>
}

/** The literal reading: every default. */
export const literal: Reading = {
  bdaDistance: dimensions.bdaDistance.literal,
  teacherInit: dimensions.teacherInit.literal,
  studentInit: dimensions.studentInit.literal,
  fdaItems: dimensions.fdaItems.literal,
  teacherPrior: dimensions.teacherPrior.literal,
  fdaWarmup: dimensions.fdaWarmup.literal,
  fdaHidden: fdaHidden.literal,
}

/**
 * Named readings for `--reading`. `aligned` is the combination judged most likely to be what the
 * authors ran: eq. 12, 18 and 19 average mediators over teachers and one ψ_FDA serves all K, which
 * is meaningful only when the teachers' mediator spaces are aligned, as they are when every
 * teacher is fine-tuned from one trained base model; the student then naturally starts from that
 * base too; and the paper calls L_BDA auxiliary and its results insensitive to λ, which fits a
 * mean-squared-error pull that vanishes at the target better than a Euclidean one of constant
 * size. An independent one-seed PyTorch run of this combination reached DIN's level on ml-100k.
 * `aligned-warmup` adds the estimator's warm-up: on ml-100k the aligned student fell from the
 * base model's validation AUC (0.84) to 0.78 in its first epoch, distilled towards the labels of
 * an untrained ψ_FDA.
 */
export const presets = {
  literal: {},
  aligned: { bdaDistance: "mse", teacherInit: "base", studentInit: "base" },
  "aligned-warmup": {
    bdaDistance: "mse",
    teacherInit: "base",
    studentInit: "base",
    fdaWarmup: "epoch",
  },
} as const satisfies { readonly [name: string]: Partial<Reading> }

export type Preset = keyof typeof presets
export const presetNames = Object.keys(presets) as ReadonlyArray<Preset>

/** The reading recorded in a study's options; a missing choice is the literal one. */
export const of = (recorded: { readonly [K in keyof Reading]?: Reading[K] }): Reading => ({
  bdaDistance: recorded.bdaDistance ?? literal.bdaDistance,
  teacherInit: recorded.teacherInit ?? literal.teacherInit,
  studentInit: recorded.studentInit ?? literal.studentInit,
  fdaItems: recorded.fdaItems ?? literal.fdaItems,
  teacherPrior: recorded.teacherPrior ?? literal.teacherPrior,
  fdaWarmup: recorded.fdaWarmup ?? literal.fdaWarmup,
  fdaHidden: recorded.fdaHidden ?? literal.fdaHidden,
})

/** The reading of a preset with explicit choices on top (an explicit flag wins). */
export const resolve = (preset: Preset, explicit: Partial<Reading>): Reading => ({
  ...literal,
  ...presets[preset],
  ...explicit,
})

/**
 * The settings a reading adds to a CausalD model's `provenance.json`: every choice that is not the
 * literal one (so models trained before a dimension existed stay valid under the literal reading).
 */
export const provenanceSettings = (reading: Reading): Record<string, string> => {
  const out: Record<string, string> = {}
  // the teachers' start is recorded by the teachers themselves (their folders)
  for (const name of Object.keys(dimensions) as ReadonlyArray<DimensionName>)
    if (name !== "teacherInit" && reading[name] !== dimensions[name].literal)
      out[name] = reading[name]
  if (reading.fdaHidden.join(",") !== fdaHidden.literal.join(","))
    out.fdaHidden = reading.fdaHidden.join(",")
  return out
}

/** A reading in one line, for notes and reports: its non-literal choices, or "literal". */
export const describe = (reading: Reading): string => {
  const s: Record<string, string> = provenanceSettings(reading)
  if (reading.teacherInit !== dimensions.teacherInit.literal) s.teacherInit = reading.teacherInit
  const parts = Object.entries(s).map(([k, v]) => `${k}=${v}`)
  return parts.length === 0 ? "literal" : parts.join(", ")
}

/** One reading of the screen (`--experiments readings`). */
export interface ScreenEntry {
  /** Its name in tables and model folders (`causald-screen-<name>`). */
  readonly name: string
  readonly reading: Reading
}

/**
 * The screen: the literal reading, each single change from it (every other choice of every open
 * point, and ψ_FDA at DIN's sizes 80,40), and each preset; derived from {@link dimensions}, so a
 * new open point joins the screen by being added there.
 */
export const screen: ReadonlyArray<ScreenEntry> = [
  { name: "literal", reading: literal },
  ...(Object.keys(dimensions) as ReadonlyArray<DimensionName>).flatMap((name) =>
    dimensions[name].choices
      .filter((choice) => choice !== dimensions[name].literal)
      .map((choice) => ({
        name: `${dimensions[name].flag}-${choice}`,
        reading: { ...literal, [name]: choice } as Reading,
      })),
  ),
  { name: `${fdaHidden.flag}-80-40`, reading: { ...literal, fdaHidden: [80, 40] } },
  ...presetNames.filter((p) => p !== "literal").map((p) => ({ name: p, reading: resolve(p, {}) })),
]

/** Whether two readings make the same choices. */
export const same = (a: Reading, b: Reading): boolean => describe(a) === describe(b)
