/**
 * What the benchmarks share: the median, and the `--runs N --iterations N --out FILE` flags.
 */
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

/** The median of some numbers (the mean of the two middle ones for an even count). */
export const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2
}

/** Where a bench writes `NAME.json`. */
export const resultsFile = (name: string): string =>
  join(dirname(fileURLToPath(import.meta.url)), "..", "results", `${name}.json`)

/** Parses `--runs N --iterations N --out FILE`; anything else is an error naming the flag. */
export const parseRunArgs = (
  args: ReadonlyArray<string>,
  defaults: { readonly runs: number; readonly iterations: number; readonly name: string }
) => {
  const options = { runs: defaults.runs, iterations: defaults.iterations, out: resultsFile(defaults.name) }
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]
    const value = args[i + 1]
    const number = Number(value)
    if (flag === "--runs" && Number.isInteger(number) && number > 0) options.runs = number
    else if (flag === "--iterations" && Number.isInteger(number) && number > 0) options.iterations = number
    else if (flag === "--out" && value !== undefined) options.out = value
    else throw new Error(`unknown or bad flag: ${flag} ${value ?? ""}`)
  }
  return options
}
