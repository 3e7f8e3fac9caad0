/**
 * The command line of a bench script: `--name value` options read from `process.argv`, each
 * checked, and a rejected one reported as `bench/<script>: <what was expected>` with exit code 2
 * (no stack trace). `bench/index.ts` has its own parser: it reports errors as values for its
 * tests.
 */

export interface Arguments {
  /** Prints `bench/<script>: message` on stderr and exits with status 2. */
  readonly fail: (message: string) => never
  /** The value after `name`, or undefined when the option is absent. */
  readonly option: (name: string) => string | undefined
  /** An integer option of at least `min`, `fallback` when absent. */
  readonly integer: (name: string, fallback: number, min: number) => number
  /** One of `allowed`, `fallback` when absent. */
  readonly choice: <A extends string>(name: string, allowed: ReadonlyArray<A>, fallback: A) => A
  /** `on` or `off` (`fallback` when absent) as a boolean. */
  readonly onOff: (name: string, fallback: boolean) => boolean
  /** True when the bare flag `name` is present. */
  readonly has: (name: string) => boolean
}

/** The arguments of the script `script` (its file name, for messages). */
export const benchArguments = (
  script: string,
  argv: ReadonlyArray<string> = process.argv,
): Arguments => {
  const fail = (message: string): never => {
    console.error(`bench/${script}: ${message}`)
    process.exit(2)
  }
  const option = (name: string): string | undefined => {
    const i = argv.indexOf(name)
    if (i < 0) return undefined
    const value = argv[i + 1]
    if (value === undefined || value.startsWith("--")) fail(`${name} expects a value`)
    return value
  }
  const integer = (name: string, fallback: number, min: number): number => {
    const raw = option(name)
    if (raw === undefined) return fallback
    const value = Number(raw)
    if (!Number.isInteger(value) || value < min)
      fail(`${name} expects an integer >= ${min}, got ${raw}`)
    return value
  }
  const choice = <A extends string>(name: string, allowed: ReadonlyArray<A>, fallback: A): A => {
    const raw = option(name) ?? fallback
    if (!(allowed as ReadonlyArray<string>).includes(raw))
      fail(`${name} expects one of ${allowed.join(", ")}, got ${raw}`)
    return raw as A
  }
  const onOff = (name: string, fallback: boolean): boolean =>
    choice(name, ["on", "off"] as const, fallback ? "on" : "off") === "on"
  const has = (name: string): boolean => argv.includes(name)
  return { fail, option, integer, choice, onOff, has }
}
