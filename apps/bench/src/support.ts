/**
 * What the benchmarks share: the median, the `--runs N --iterations N --out FILE` flags, the load
 * average as printed, and building the packages' `dist/` for benches that run the built output.
 */
import { execFileSync } from "node:child_process"
import { existsSync } from "node:fs"
import { loadavg } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import * as esbuild from "esbuild"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..")

/** The load average (1, 5, 15 min) as the benches print it. */
export const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ")

/**
 * Builds the named packages' `dist/` (incrementally; from scratch when a `dist/` is missing, since
 * `tsc -b` trusts its build info and would think itself up to date).
 */
export const buildPackages = (packages: ReadonlyArray<string>): void => {
  for (const pkg of packages) {
    if (!existsSync(join(root, "packages", pkg, "dist", "index.js"))) {
      execFileSync("rm", ["-f", join(root, "packages", pkg, "build", "tsbuildinfo.build")])
    }
  }
  execFileSync(
    join(root, "node_modules", ".bin", "tsc"),
    ["-b", ...packages.map((pkg) => join(root, "packages", pkg, "tsconfig.build.json"))],
    { stdio: "inherit" }
  )
}

/**
 * Bundles a bench's child process with esbuild, without `keepNames` (which wraps every closure of
 * ours, not the peers', in `__name(...)`): every package stays an import of its own (so ours run
 * their built `dist/`), unless `plugins` decide where each import goes.
 */
export const bundleChild = async (
  entry: string,
  outfile: string,
  plugins?: ReadonlyArray<esbuild.Plugin>
): Promise<void> => {
  await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    ...(plugins === undefined ? { packages: "external" } : { plugins: [...plugins] }),
    platform: "node",
    format: "esm",
    target: "node20",
    outfile,
    logLevel: "warning"
  })
}

/** A child process's environment without the condition that resolves our packages to sources. */
export const childEnv = (): NodeJS.ProcessEnv => {
  const nodeOptions = (process.env.NODE_OPTIONS ?? "")
    .split(/\s+/)
    .filter((o) => o !== "" && !o.includes("@effect-resilience/source"))
    .join(" ")
  return { ...process.env, NODE_OPTIONS: nodeOptions }
}

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
