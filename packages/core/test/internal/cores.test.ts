/**
 * The decision cores (the strategy interface, breaker, bulkhead, limiter, adaptive throttle and
 * concurrency, classification, backoff, retry, retry budget, timeout) import nothing
 * from `effect`, directly or through what they import.
 */
import { readFileSync } from "node:fs"
import { dirname, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const internal = resolve(dirname(fileURLToPath(import.meta.url)), "../../src/internal")

const cores = [
  "classifier/categories.ts",
  "classifier/tables.ts",
  "classifier/recognise.ts",
  "backoff/core.ts",
  "backoff/stepper.ts",
  "retryPolicy/core.ts",
  "retryBudget/core.ts",
  "timeout/core.ts",
  "strategy/core.ts",
  "circuitBreaker/core.ts",
  "circuitBreaker/window.ts",
  "bulkhead/core.ts",
  "rateLimiter/core.ts",
  "adaptiveThrottle/core.ts",
  "adaptiveConcurrency/core.ts",
  "window/slidingCounts.ts",
  "recovery/budget.ts",
  "connection/core.ts"
]

/** Every module specifier `file` imports, type-only imports included. */
const importsOf = (file: string): ReadonlyArray<string> =>
  Array.from(
    readFileSync(file, "utf8").matchAll(/^\s*(?:import|export)\b[^"']*?from\s+["']([^"']+)["']/gm),
    (m) => m[1] ?? ""
  )

/** The packages reached from `file` through its relative imports. */
const packagesReached = (file: string, seen = new Set<string>()): ReadonlyArray<string> => {
  if (seen.has(file)) return []
  seen.add(file)
  return importsOf(file).flatMap((specifier) =>
    specifier.startsWith(".")
      ? packagesReached(resolve(dirname(file), specifier.replace(/\.js$/, ".ts")), seen)
      : [specifier]
  )
}

describe("decision cores", () => {
  for (const core of cores) {
    it(`${core} imports nothing from effect`, () => {
      expect(packagesReached(resolve(internal, core))).toEqual([])
    })
  }
})
