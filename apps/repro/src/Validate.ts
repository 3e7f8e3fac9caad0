/**
 * The options checked against the prepared data, once it is prepared and before anything trains:
 * what the command line alone cannot know. Each problem names the flag and what it accepts on
 * this data.
 *
 * - `--teachers K` against the users: the K teacher subsets (and Ho Teachers' K random subsets)
 *   each need the study's minimum users per group (`Profile.minimumUsersPerGroup`), so K is at
 *   most floor(U / minimum); Table 7's K = 16 likewise.
 * - `--split-by attribute` against the data's attributes, `--attribute` against their names, and
 *   each of its groups against the same minimum.
 * - `--methods groupwise` against the users of each activeness group.
 * - the data itself against the groupings every study makes: at least as many users as
 *   evaluation groups, and 18 items for the popularity groups of behaviour consistency.
 *
 * Without these checks `--teachers 1000` failed after the group-wise models had trained, naming
 * "option groups", and `--attribute shoe_size` on ml-100k after more than two minutes of training.
 * {@link problems} is pure; {@link check} is what the study runs right after preparing the data.
 *
 * @module
 */
import type { PreparedDataset } from "@causald/data"
import { Effect, Schema } from "effect"
import { type Method, spec } from "./Methods.ts"
import type { StudyOptions } from "./Options.ts"

/** One option that does not fit the data: the flag and a one-line message starting with it. */
export interface Problem {
  readonly flag: string
  readonly message: string
}

/** The sizes of a study that the checks compare the data with (`Study.Profile`). */
export interface Sizes {
  /** Groups of users for Heterogeneity and the per-group figures. */
  readonly evaluationGroups: number
  /** Users each teacher and each group-wise model needs at least. */
  readonly minimumUsersPerGroup: number
}

/** Popularity groups of behaviour consistency (footnote 1 of the paper; `Groups.consistency`). */
export const popularityGroups = 18

/** The options do not fit the prepared data; names each flag. */
export class InvalidOptions extends Schema.TaggedError<InvalidOptions>()("InvalidOptions", {
  problems: Schema.Array(Schema.Struct({ flag: Schema.String, message: Schema.String })),
}) {
  override get message(): string {
    return this.problems.length === 1
      ? this.problems[0]!.message
      : `${this.problems.length} options do not fit the data: ${this.problems.map((p) => p.message).join("; ")}`
  }
}

/** The methods that train the K teachers of `--split-by` (CausalD, w.o. FDA, multi-teacher baselines). */
export const trainsTeachers = (m: Method): boolean => spec(m).teachers === "multiple"

/** The methods whose objective reads the teacher split (every baseline, CausalD, w.o. FDA). */
const readsSplit = (m: Method): boolean => {
  const { objective, teachers } = spec(m)
  return objective._tag === "Baseline" || (objective._tag === "CausalD" && teachers === "multiple")
}

/** Users per value of an attribute, non-empty values only, largest first. */
const attributeGroups = (
  attribute: NonNullable<PreparedDataset["attributes"]>[number],
): Array<{ label: string; users: number }> => {
  const counts = new Array<number>(attribute.labels.length).fill(0)
  for (const c of attribute.codes) counts[c] = (counts[c] ?? 0) + 1
  return counts
    .map((users, c) => ({ label: attribute.labels[c] ?? String(c), users }))
    .filter((g) => g.users > 0)
    .sort((a, b) => b.users - a.users)
}

/**
 * `--split-by attribute` against the data: it needs user attributes, `--attribute` one of their
 * names, and that attribute at least two groups of `min` users when teachers train; else the
 * problem, with the attributes that fit.
 */
const attributeProblem = (
  options: StudyOptions,
  data: PreparedDataset,
  described: string,
  trains: boolean,
  min: number,
): Problem | undefined => {
  const attributes = data.attributes ?? []
  const attribute = attributes.find((a) => a.name === options.attribute)
  if (attributes.length === 0)
    return {
      flag: "--split-by",
      message: `--split-by attribute: ${described} has no user attributes${options.dataset === "movielens-100k" ? " (its folder has no u.user)" : ""}; choose activeness, consistency or random`,
    }
  if (attribute === undefined)
    return {
      flag: "--attribute",
      message: `--attribute ${options.attribute}: ${data.name}'s users have the attributes ${attributes.map((a) => a.name).join(", ")}; choose one of them`,
    }
  const groups = attributeGroups(attribute)
  const fits = (a: (typeof attributes)[number]) => {
    const g = attributeGroups(a)
    return g.length >= 2 && (!trains || g.every((x) => x.users >= min))
  }
  const others = attributes.filter((a) => a !== attribute && fits(a)).map((a) => a.name)
  const instead =
    others.length > 0
      ? `; attributes that fit: ${others.join(", ")}`
      : "; no attribute of this data set fits: use --split-by activeness"
  const smallest = groups[groups.length - 1]!
  if (groups.length < 2)
    return {
      flag: "--attribute",
      message: `--attribute ${options.attribute}: every user of ${data.name} has the same value (${smallest.label}), so it gives a single teacher${instead}`,
    }
  if (trains && smallest.users < min)
    return {
      flag: "--attribute",
      message: `--attribute ${options.attribute}: its group "${smallest.label}" has ${smallest.users} users, fewer than the ${min} each teacher needs${instead}`,
    }
  return undefined
}

/** Every option of `options` that does not fit `data` under `sizes`; empty when all fit. */
export const problems = (
  options: StudyOptions,
  data: PreparedDataset,
  sizes: Sizes,
): ReadonlyArray<Problem> => {
  const found: Array<Problem> = []
  const add = (flag: string, message: string) => {
    if (!found.some((p) => p.message === message)) found.push({ flag, message })
  }
  const U = data.numUsers
  const min = sizes.minimumUsersPerGroup
  const G = sizes.evaluationGroups
  const real = options.source !== null
  const described = real
    ? `${data.name} (${U} users and ${data.numItems} items after its ${data.config.kCore}-core filter)`
    : `${data.name} (${U} users, ${data.numItems} items)`
  const dataFlag = real ? `--data ${options.data}` : `--dataset ${options.dataset}`
  const chosen = (m: Method) => options.methods.includes(m)

  // the groupings of every study
  if (U < G)
    add(
      real ? "--data" : "--dataset",
      `${dataFlag}: ${described} has fewer users than the ${G} activeness groups every study scores${real ? "; a lower --kcore keeps more users" : ""}`,
    )
  if (data.numItems < popularityGroups)
    add(
      real ? "--data" : "--dataset",
      `${dataFlag}: ${described} has fewer items than the ${popularityGroups} popularity groups of behaviour consistency (footnote 1)${real ? "; a lower --kcore keeps more items" : ""}`,
    )
  if (chosen("groupwise") && Math.floor(U / G) < min)
    add(
      "--methods",
      `--methods groupwise: ${described} gives ${G} activeness groups of ${Math.floor(U / G)} users, fewer than the ${min} each group-wise model needs; leave groupwise (and fig1) out`,
    )

  /** K subsets of U users (quantile or random): the smallest holds floor(U / K). */
  const teacherCount = (flag: string, K: number, what: string, trains: boolean) => {
    if (K > U) {
      add(flag, `${what}: ${described} has only ${U} users, fewer than ${K} teachers`)
      return
    }
    if (!trains || Math.floor(U / K) >= min) return
    const most = Math.floor(U / min)
    add(
      flag,
      `${what}: ${described} gives ${K} teachers of ${Math.floor(U / K)} users, fewer than the ${min} each teacher needs; ${most >= 2 ? `use at most ${most} teachers` : `the data has too few users for 2 teachers (${2 * min} needed)`}`,
    )
  }
  const trains = options.methods.some(trainsTeachers)
  if (options.methods.some(readsSplit)) {
    if (options.splitBy === "attribute") {
      const problem = attributeProblem(options, data, described, trains, min)
      if (problem !== undefined) add(problem.flag, problem.message)
    } else teacherCount("--teachers", options.teachers, `--teachers ${options.teachers}`, trains)
  }
  if (chosen("ho-teachers") && !found.some((p) => p.flag === "--teachers"))
    teacherCount(
      "--teachers",
      options.teachers,
      `--teachers ${options.teachers} (Ho Teachers' random subsets)`,
      true,
    )
  if (
    options.experiments.includes("table7") &&
    chosen("causald") &&
    options.splitBy !== "attribute"
  ) {
    const largest = [16, 8, 4, 2].find((k) => k !== options.teachers && Math.floor(U / k) < min)
    if (largest !== undefined)
      add(
        "--experiments",
        `--experiments table7: it trains CausalD with ${largest} teachers, and ${described} gives teachers of ${Math.floor(U / largest)} users, fewer than the ${min} each needs; leave table7 out`,
      )
  }
  return found
}

/** {@link problems} as the study's check: fails with {@link InvalidOptions} when any is found. */
export const check = (
  options: StudyOptions,
  data: PreparedDataset,
  sizes: Sizes,
): Effect.Effect<void, InvalidOptions> =>
  Effect.suspend(() => {
    const found = problems(options, data, sizes)
    return found.length === 0 ? Effect.void : Effect.fail(new InvalidOptions({ problems: found }))
  })
