/**
 * The live corpus: every case provoked for real against servers on 127.0.0.1, classified by the
 * default Classifier (`Classifier.layer`) on the raw value and on `Failures.fromUnknown(raw)`.
 * Prints the accuracy per library and every wrong answer; fails below the goal: at least 95 % of
 * cases right on category, retryable and countsForBreaker together (and Retry-After where the label
 * gives one), and every case right on retryable and countsForBreaker unless the labelling table
 * (docs/classification.md) lists it as a known exception.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Classifier } from "@effect-resilience/core"
import * as Effect from "effect/Effect"
import { cases, type Env, misses, type Provoked, provokeAll, rows, type Scored, score, start, table } from "./index.js"

const GOAL = 0.95

let env: Env | undefined
let provoked: ReadonlyArray<Provoked> = []
let scored: ReadonlyArray<Scored> = []

beforeAll(async () => {
  env = await start()
  provoked = await provokeAll(env)
  const classifier = Effect.runSync(Effect.provide(Classifier.Classifier, Classifier.layer))
  scored = score(provoked, classifier.classify)
  const seconds = provoked.reduce((sum, p) => sum + p.millis, 0) / 1000
  process.stdout.write(
    `\nLive corpus: ${cases.length} cases provoked in ${seconds.toFixed(1)} s\n\n${table(rows(scored))}\n\n` +
      `Wrong answers (${scored.filter((s) => !s.all).length}):\n${misses(scored).join("\n")}\n\n`
  )
}, 120_000)

afterAll(async () => {
  await env?.close()
})

describe("live corpus of real failures", () => {
  it("has at least 150 cases, each with a unique name", () => {
    expect(cases.length).toBeGreaterThanOrEqual(150)
    expect(new Set(cases.map((c) => c.name)).size).toBe(cases.length)
  })

  it("provokes every case for real (no case succeeded or broke)", () => {
    expect(provoked.filter((p) => p.broken !== undefined).map((p) => `${p.case.name}: ${p.broken}`)).toEqual([])
  })

  for (const view of ["raw", "tagged"] as const) {
    it(`classifies >= 95 % of the ${view} failures right on category, retryable and countsForBreaker together`, () => {
      const overall = rows(scored).find((r) => r.library === "overall" && r.view === view)
      expect(overall?.all ?? 0).toBeGreaterThanOrEqual(GOAL)
    })

    it(`classifies every ${view} failure right on retryable and countsForBreaker (known exceptions aside)`, () => {
      const wrongActions = scored.filter(
        (s) => s.view === view && s.case.knownException === undefined && !(s.retryable && s.countsForBreaker)
      )
      expect(misses(wrongActions)).toEqual([])
    })

    it(`keeps the Retry-After the protocol gives on every ${view} failure`, () => {
      expect(misses(scored.filter((s) => s.view === view && !s.retryAfter))).toEqual([])
    })
  }
})
