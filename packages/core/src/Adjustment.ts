/**
 * Exact causal-effect estimators on discrete variables (paper, Section 2).
 *
 * A {@link Joint} is a dense joint distribution over named discrete variables. From one the module
 * computes, for a treatment X and an outcome Y, a table `table[x][y]`:
 *
 * - {@link naive}: the observational P(Y = y | X = x), biased whenever a confounder opens a back-door
 *   path X <- U -> Y;
 * - {@link backDoor}: P(Y = y | do(X = x)) by back-door adjustment over an observed confounder Z,
 *   or a set of them (eq. 2);
 * - {@link frontDoor}: P(Y = y | do(X = x)) by front-door adjustment through a mediator M (eq. 3-5),
 *   valid with an unobserved confounder U as long as M satisfies the three front-door requirements.
 *
 * Nothing is computed from input the module cannot vouch for. A {@link Joint} comes only from
 * {@link fromProbabilities}, {@link fromSamples} or {@link marginal} (or CausalModel), which check
 * it, and every estimator checks again at run time that it got such a joint and that its
 * probabilities are still a distribution ({@link InvalidDistribution} otherwise). A variable given
 * two roles, such as a treatment that is also its own confounder or outcome, is a
 * {@link RepeatedVariable}. Division by a zero probability (a positivity violation) is reported as a
 * {@link PositivityViolation} that names the variables and values conditioned on.
 *
 * @since 0.1.0
 */
import { type Brand, Result, Schema } from "effect"
import * as Internal from "./internal/Joint.ts"

/**
 * A joint distribution over named discrete variables, stored densely.
 *
 * `probabilities` is row-major over `variables` in the given axis order (the last variable varies
 * fastest): the probability of `variables[i] = v_i` for all i is at index
 * `sum_i v_i * prod_{j > i} cardinalities[j]`. Values of a variable with cardinality k are 0..k-1.
 *
 * Only {@link fromProbabilities}, {@link fromSamples}, {@link marginal} and CausalModel's
 * `joint` and `observationalJoint` make one, after checking it: distinct variables, positive
 * integer cardinalities, exactly one finite non-negative probability per cell, summing to one
 * within 1e-9. The brand keeps an object literal from type-checking as a Joint; at run time every
 * estimator refuses, with {@link InvalidDistribution}, a value those builders did not make (a
 * literal, a spread copy, a cast) and re-checks the probabilities, which a Float64Array cannot
 * freeze. The object and its `variables` and `cardinalities` arrays are frozen.
 *
 * @since 0.1.0
 */
export interface Joint<V extends string = string> extends Brand.Brand<"Joint"> {
  readonly variables: ReadonlyArray<V>
  readonly cardinalities: ReadonlyArray<number>
  readonly probabilities: Float64Array
}

/**
 * An interventional (or conditional) table: `table[x][y]` is P(Y = y | do(X = x)) for the adjustment
 * estimators and P(Y = y | X = x) for {@link naive}. Each row is a distribution over y.
 *
 * @since 0.1.0
 */
export type EffectTable = ReadonlyArray<Float64Array>

/**
 * A joint distribution could not be built: shapes disagree, a probability is negative or not
 * finite, the probabilities do not sum to one, or a sample holds a value out of range. Also what
 * an estimator returns for a joint that no builder of this module made, or whose probabilities
 * were overwritten since.
 *
 * @since 0.1.0
 */
export class InvalidDistribution extends Schema.TaggedError<InvalidDistribution>()(
  "InvalidDistribution",
  { reason: Schema.String },
) {
  override get message(): string {
    return `invalid discrete distribution: ${this.reason}`
  }
}

/**
 * An estimator asked for a variable the joint distribution does not hold.
 *
 * @since 0.1.0
 */
export class UnknownVariable extends Schema.TaggedError<UnknownVariable>()("UnknownVariable", {
  variable: Schema.String,
  available: Schema.Array(Schema.String),
}) {
  override get message(): string {
    return `unknown variable "${this.variable}"; the joint holds ${this.available.join(", ")}`
  }
}

/**
 * One variable was given more than one role: the treatment as its own outcome, confounder or
 * mediator, the outcome as a confounder or mediator, a confounder listed twice, or a variable
 * that {@link marginal} is asked to keep twice. `roles` lists each role it was given (for
 * {@link marginal}, the positions in `keep`). No formula of this module has a meaning then; left
 * unchecked, back-door adjustment with X as its own confounder returns a wrong table.
 *
 * @since 0.1.0
 */
export class RepeatedVariable extends Schema.TaggedError<RepeatedVariable>()("RepeatedVariable", {
  variable: Schema.String,
  roles: Schema.Array(Schema.String),
}) {
  override get message(): string {
    return `variable "${this.variable}" has more than one role (${this.roles.join(", ")}); each role needs its own variable`
  }
}

/**
 * One variable fixed to one value, as in the event P(X = 1, Z = 0).
 *
 * @since 0.1.0
 */
export const Assignment = Schema.Struct({ variable: Schema.String, value: Schema.Number })

/**
 * Positivity violated: an estimator must condition on an event of probability zero. `event` lists
 * the assignments of that event, e.g. `[{ variable: "X", value: 1 }, { variable: "Z", value: 0 }]`
 * for P(X = 1, Z = 0) = 0 in back-door adjustment.
 *
 * @since 0.1.0
 */
export class PositivityViolation extends Schema.TaggedError<PositivityViolation>()(
  "PositivityViolation",
  {
    estimator: Schema.Literals(["naive", "backDoor", "frontDoor"]),
    event: Schema.Array(Assignment),
  },
) {
  override get message(): string {
    const event = this.event.map((a) => `${a.variable} = ${a.value}`).join(", ")
    return `positivity violated in ${this.estimator} estimation: P(${event}) = 0 but the estimator conditions on it`
  }
}

/**
 * Any error an estimator can return.
 *
 * @since 0.1.0
 */
export type AdjustmentError =
  | InvalidDistribution
  | RepeatedVariable
  | UnknownVariable
  | PositivityViolation

const validateShape = <V extends string>(
  variables: ReadonlyArray<V>,
  cardinalities: ReadonlyArray<number>,
): string | undefined => {
  if (variables.length !== cardinalities.length) {
    return `${variables.length} variables but ${cardinalities.length} cardinalities`
  }
  if (new Set(variables).size !== variables.length) {
    return `variable names must be distinct, got ${variables.join(", ")}`
  }
  for (let i = 0; i < variables.length; i++) {
    const k = cardinalities[i]
    if (!Number.isInteger(k) || k < 1) {
      return `cardinality of ${variables[i]} must be a positive integer, got ${k}`
    }
  }
  return undefined
}

const size = (cardinalities: ReadonlyArray<number>): number =>
  cardinalities.reduce((a, b) => a * b, 1)

/**
 * Why `probabilities` is not a joint distribution over `variables`, or undefined when it is: the
 * shape, then one finite non-negative probability per cell, then the sum within
 * Internal.SUM_TOLERANCE (1e-9).
 */
const validateDistribution = <V extends string>(
  variables: ReadonlyArray<V>,
  cardinalities: ReadonlyArray<number>,
  probabilities: ArrayLike<number>,
): string | undefined => {
  const shapeError = validateShape(variables, cardinalities)
  if (shapeError !== undefined) return shapeError
  const n = size(cardinalities)
  if (probabilities.length !== n) {
    return `expected ${n} probabilities (product of cardinalities ${cardinalities.join(" x ")}), got ${probabilities.length}`
  }
  let total = 0
  for (let i = 0; i < n; i++) {
    const p = probabilities[i]
    if (!Number.isFinite(p) || p < 0) return `probability at flat index ${i} is ${p}`
    total += p
  }
  if (Math.abs(total - 1) > Internal.SUM_TOLERANCE) return `probabilities sum to ${total}, not 1`
  return undefined
}

/**
 * The run-time check every estimator makes first: `joint` was built by this module (an object
 * literal, a spread copy or a cast is refused whatever it holds), and its probabilities, which a
 * caller can still overwrite, are still a distribution.
 */
const checkJoint = (joint: unknown): InvalidDistribution | undefined => {
  if (!Internal.isBuilt(joint)) {
    return new InvalidDistribution({
      reason:
        "not a Joint built by Adjustment.fromProbabilities, fromSamples or marginal (or CausalModel); build it with one of them instead of writing an object",
    })
  }
  const { variables, cardinalities, probabilities } = joint as Joint
  const reason = validateDistribution(variables, cardinalities, probabilities)
  return reason === undefined
    ? undefined
    : new InvalidDistribution({ reason: `the joint was changed after it was built: ${reason}` })
}

/**
 * The first variable given more than one role, with all of its roles; `roles` pairs each role with
 * the variable it names.
 */
const repeatedRole = (
  roles: ReadonlyArray<readonly [role: string, variable: string]>,
): RepeatedVariable | undefined => {
  for (const [, variable] of roles) {
    const named = roles.filter(([, v]) => v === variable)
    if (named.length > 1) {
      return new RepeatedVariable({
        variable: String(variable),
        roles: named.map(([role]) => role),
      })
    }
  }
  return undefined
}

/**
 * A joint distribution from exact probabilities (copied). They must be finite, non-negative and
 * sum to one within 1e-9, one per cell (the product of the cardinalities), over distinct variables.
 *
 * @since 0.1.0
 */
export const fromProbabilities = <V extends string>(
  variables: ReadonlyArray<V>,
  cardinalities: ReadonlyArray<number>,
  probabilities: ArrayLike<number>,
): Result.Result<Joint<V>, InvalidDistribution> => {
  const reason = validateDistribution(variables, cardinalities, probabilities)
  if (reason !== undefined) return Result.fail(new InvalidDistribution({ reason }))
  return Result.succeed(Internal.make(variables, cardinalities, Float64Array.from(probabilities)))
}

/**
 * The empirical joint distribution of n observations: counts over the cells divided by n.
 * `columns[v][i]` is the value of variable v in observation i; every column has the same length
 * n > 0 and holds integers in 0..cardinality-1.
 *
 * @since 0.1.0
 */
export const fromSamples = <V extends string>(
  variables: ReadonlyArray<V>,
  cardinalities: ReadonlyArray<number>,
  columns: { readonly [K in V]: ArrayLike<number> },
): Result.Result<Joint<V>, InvalidDistribution> => {
  const shapeError = validateShape(variables, cardinalities)
  if (shapeError !== undefined) return Result.fail(new InvalidDistribution({ reason: shapeError }))
  const cols = variables.map((v) => columns[v])
  const n = cols.length === 0 ? 0 : cols[0].length
  if (n === 0) {
    return Result.fail(new InvalidDistribution({ reason: "no observations" }))
  }
  for (let j = 0; j < cols.length; j++) {
    if (cols[j].length !== n) {
      return Result.fail(
        new InvalidDistribution({
          reason: `column ${variables[j]} has ${cols[j].length} observations, ${variables[0]} has ${n}`,
        }),
      )
    }
  }
  const strides = stridesOf(cardinalities)
  const counts = new Float64Array(size(cardinalities))
  for (let i = 0; i < n; i++) {
    let cell = 0
    for (let j = 0; j < cols.length; j++) {
      const v = cols[j][i]
      if (!Number.isInteger(v) || v < 0 || v >= cardinalities[j]) {
        return Result.fail(
          new InvalidDistribution({
            reason: `observation ${i} has ${variables[j]} = ${v}, expected an integer in 0..${cardinalities[j] - 1}`,
          }),
        )
      }
      cell += v * strides[j]
    }
    counts[cell] += 1
  }
  for (let c = 0; c < counts.length; c++) counts[c] /= n
  return Result.succeed(Internal.make(variables, cardinalities, counts))
}

const stridesOf = (cardinalities: ReadonlyArray<number>): Array<number> => {
  const strides = new Array<number>(cardinalities.length)
  let s = 1
  for (let i = cardinalities.length - 1; i >= 0; i--) {
    strides[i] = s
    s *= cardinalities[i]
  }
  return strides
}

/** {@link marginal} of a joint already checked, for distinct `keep`. */
const marginalOf = <V extends string, K extends V>(
  joint: Joint<V>,
  keep: ReadonlyArray<K>,
): Result.Result<Joint<K>, UnknownVariable> => {
  const axes: Array<number> = []
  for (const v of keep) {
    const axis = joint.variables.indexOf(v)
    if (axis < 0) {
      // String(v): a JavaScript caller may leave a role out (undefined).
      return Result.fail(
        new UnknownVariable({ variable: String(v), available: [...joint.variables] }),
      )
    }
    axes.push(axis)
  }
  const outCards = axes.map((a) => joint.cardinalities[a])
  const outStrides = stridesOf(outCards)
  // Stride, in the output, of each input axis (0 for summed-out axes).
  const strideByAxis = new Array<number>(joint.variables.length).fill(0)
  axes.forEach((axis, i) => {
    strideByAxis[axis] = outStrides[i]
  })
  const out = new Float64Array(size(outCards))
  const rank = joint.cardinalities.length
  const index = new Array<number>(rank).fill(0)
  let target = 0
  const p = joint.probabilities
  for (let cell = 0; cell < p.length; cell++) {
    out[target] += p[cell]
    // Odometer increment of the multi-index, keeping `target` in step.
    for (let axis = rank - 1; axis >= 0; axis--) {
      index[axis]++
      target += strideByAxis[axis]
      if (index[axis] < joint.cardinalities[axis]) break
      target -= strideByAxis[axis] * index[axis]
      index[axis] = 0
    }
  }
  return Result.succeed(Internal.make(keep, outCards, out))
}

/**
 * The marginal of `keep`, checked: the joint first ({@link checkJoint}), then the roles (each
 * variable in one role only), then the variables known ({@link marginalOf}).
 */
const checkedMarginal = <V extends string, K extends V>(
  joint: Joint<V>,
  roles: ReadonlyArray<readonly [role: string, variable: K]>,
  keep: ReadonlyArray<K>,
): Result.Result<Joint<K>, InvalidDistribution | RepeatedVariable | UnknownVariable> => {
  const invalid = checkJoint(joint)
  if (invalid !== undefined) return Result.fail(invalid)
  const repeated = repeatedRole(roles)
  if (repeated !== undefined) return Result.fail(repeated)
  return marginalOf(joint, keep)
}

/**
 * The marginal distribution of `keep` (summing out every other variable), with axes in the order
 * of `keep`.
 *
 * Fails with {@link InvalidDistribution} when `joint` was not built by this module or its
 * probabilities were overwritten, {@link RepeatedVariable} when `keep` names a variable twice, and
 * {@link UnknownVariable} when it names one the joint does not hold.
 *
 * @since 0.1.0
 */
export const marginal = <V extends string, K extends V>(
  joint: Joint<V>,
  keep: ReadonlyArray<K>,
): Result.Result<Joint<K>, InvalidDistribution | RepeatedVariable | UnknownVariable> =>
  checkedMarginal(
    joint,
    keep.map((v, i) => [`keep[${i}]`, v] as const),
    keep,
  )

const table = (rows: number, columns: number): Array<Float64Array> =>
  Array.from({ length: rows }, () => new Float64Array(columns))

/**
 * The observational conditional P(Y = y | X = x) as `table[x][y]`. Under confounding it differs
 * from P(Y | do(X)): this is the biased estimate that adjustment corrects (eq. 1).
 *
 * Fails with {@link InvalidDistribution} when `joint` was not built by this module or its
 * probabilities were overwritten, {@link RepeatedVariable} when the treatment is the outcome,
 * {@link UnknownVariable} when the joint lacks either, and {@link PositivityViolation} when
 * P(X = x) = 0 for some x.
 *
 * @since 0.1.0
 */
export const naive = <V extends string>(
  joint: Joint<V>,
  variables: { readonly treatment: V; readonly outcome: V },
): Result.Result<EffectTable, AdjustmentError> =>
  Result.flatMap(
    checkedMarginal(
      joint,
      [
        ["treatment", variables.treatment],
        ["outcome", variables.outcome],
      ],
      [variables.treatment, variables.outcome],
    ),
    (xy) => {
      const [nx, ny] = xy.cardinalities
      const out = table(nx, ny)
      for (let x = 0; x < nx; x++) {
        let px = 0
        for (let y = 0; y < ny; y++) px += xy.probabilities[x * ny + y]
        if (px <= 0) {
          return Result.fail(
            new PositivityViolation({
              estimator: "naive",
              event: [{ variable: variables.treatment, value: x }],
            }),
          )
        }
        for (let y = 0; y < ny; y++) out[x][y] = xy.probabilities[x * ny + y] / px
      }
      return Result.succeed(out)
    },
  )

/**
 * Back-door adjustment (eq. 2): P(Y = y | do(X = x)) = sum_z P(Y = y | X = x, Z = z) P(Z = z).
 * Replacing P(z | x) of eq. 1 by the prior P(z) cuts the back-door path X <- Z -> Y; correct when
 * the observed Z blocks every back-door path from X to Y. `confounder` is one variable Z or a set
 * of them, adjusted for jointly (z then ranges over their value combinations; the empty set gives
 * the naive estimate). Variables of the joint other than X, Y and Z are summed out.
 *
 * Fails with {@link InvalidDistribution} when `joint` was not built by this module or its
 * probabilities were overwritten, {@link RepeatedVariable} when the treatment is the outcome, a
 * confounder is the treatment or the outcome, or a confounder is listed twice,
 * {@link UnknownVariable} when the joint lacks one of them, and {@link PositivityViolation} when
 * P(X = x, Z = z) = 0 for some x and some z with P(Z = z) > 0 (the event lists X and every
 * confounder).
 *
 * @since 0.1.0
 */
export const backDoor = <V extends string>(
  joint: Joint<V>,
  variables: {
    readonly treatment: V
    readonly outcome: V
    readonly confounder: V | ReadonlyArray<V>
  },
): Result.Result<EffectTable, AdjustmentError> => {
  const confounders: ReadonlyArray<V> = Array.isArray(variables.confounder)
    ? variables.confounder
    : [variables.confounder as V]
  return Result.flatMap(
    checkedMarginal(
      joint,
      [
        ["treatment", variables.treatment],
        ["outcome", variables.outcome],
        ...confounders.map((z) => ["confounder", z] as const),
      ],
      [...confounders, variables.treatment, variables.outcome],
    ),
    (zxy) => {
      // The confounders' axes come first; z is their flat (row-major) value combination.
      const zCards = zxy.cardinalities.slice(0, confounders.length)
      const zStrides = stridesOf(zCards)
      const [nx, ny] = zxy.cardinalities.slice(confounders.length)
      const nz = size(zCards)
      const p = zxy.probabilities
      const out = table(nx, ny)
      for (let z = 0; z < nz; z++) {
        let pz = 0
        for (let i = z * nx * ny; i < (z + 1) * nx * ny; i++) pz += p[i]
        if (pz <= 0) continue // P(Z = z) = 0: the term vanishes from eq. 2
        for (let x = 0; x < nx; x++) {
          const base = (z * nx + x) * ny
          let pzx = 0
          for (let y = 0; y < ny; y++) pzx += p[base + y]
          if (pzx <= 0) {
            return Result.fail(
              new PositivityViolation({
                estimator: "backDoor",
                event: [
                  { variable: variables.treatment, value: x },
                  ...confounders.map((variable, j) => ({
                    variable,
                    value: Math.floor(z / zStrides[j]) % zCards[j],
                  })),
                ],
              }),
            )
          }
          for (let y = 0; y < ny; y++) out[x][y] += (pz * p[base + y]) / pzx
        }
      }
      return Result.succeed(out)
    },
  )
}

/**
 * Front-door adjustment (eq. 3-5):
 * P(Y = y | do(X = x)) = sum_m P(M = m | X = x) sum_x' P(X = x') P(Y = y | M = m, X = x').
 * The first factor is P(m | do(x)) (the back-door path from X to M is blocked by the collider Y);
 * the inner sum is P(y | do(m)) by back-door adjustment over X. Correct with an unobserved
 * confounder U of X and Y when M intercepts every directed path X -> Y, no back-door path X to M is
 * open, and X blocks every back-door path M to Y (requirements i-iii of Section 2.2). Variables of
 * the joint other than X, M and Y are summed out.
 *
 * Fails with {@link InvalidDistribution} when `joint` was not built by this module or its
 * probabilities were overwritten, {@link RepeatedVariable} when two of treatment, mediator and
 * outcome are the same variable, {@link UnknownVariable} when the joint lacks one of them, and
 * {@link PositivityViolation} when P(X = x) = 0 for some x, or P(X = x', M = m) = 0 for some x' and
 * some m with P(M = m) > 0.
 *
 * @since 0.1.0
 */
export const frontDoor = <V extends string>(
  joint: Joint<V>,
  variables: { readonly treatment: V; readonly outcome: V; readonly mediator: V },
): Result.Result<EffectTable, AdjustmentError> =>
  Result.flatMap(
    checkedMarginal(
      joint,
      [
        ["treatment", variables.treatment],
        ["mediator", variables.mediator],
        ["outcome", variables.outcome],
      ],
      [variables.treatment, variables.mediator, variables.outcome],
    ),
    (xmy) => {
      const [nx, nm, ny] = xmy.cardinalities
      const p = xmy.probabilities
      const pxm = new Float64Array(nx * nm)
      const px = new Float64Array(nx)
      const pm = new Float64Array(nm)
      for (let x = 0; x < nx; x++) {
        for (let m = 0; m < nm; m++) {
          let s = 0
          for (let y = 0; y < ny; y++) s += p[(x * nm + m) * ny + y]
          pxm[x * nm + m] = s
          px[x] += s
          pm[m] += s
        }
      }
      for (let x = 0; x < nx; x++) {
        if (px[x] <= 0) {
          return Result.fail(
            new PositivityViolation({
              estimator: "frontDoor",
              event: [{ variable: variables.treatment, value: x }],
            }),
          )
        }
      }
      // P(y | do(m)) = sum_x' P(x') P(y | m, x'), for every m that occurs.
      const doM = new Float64Array(nm * ny)
      for (let m = 0; m < nm; m++) {
        if (pm[m] <= 0) continue // P(m | x) = 0 for every x: the term vanishes from eq. 5
        for (let x = 0; x < nx; x++) {
          const q = pxm[x * nm + m]
          if (q <= 0) {
            return Result.fail(
              new PositivityViolation({
                estimator: "frontDoor",
                event: [
                  { variable: variables.treatment, value: x },
                  { variable: variables.mediator, value: m },
                ],
              }),
            )
          }
          for (let y = 0; y < ny; y++) doM[m * ny + y] += (px[x] * p[(x * nm + m) * ny + y]) / q
        }
      }
      const out = table(nx, ny)
      for (let x = 0; x < nx; x++) {
        for (let m = 0; m < nm; m++) {
          const pmGivenX = pxm[x * nm + m] / px[x]
          if (pmGivenX === 0) continue
          for (let y = 0; y < ny; y++) out[x][y] += pmGivenX * doM[m * ny + y]
        }
      }
      return Result.succeed(out)
    },
  )
