import { describe, expect, it } from "@effect/vitest"
import { Engine, type EngineOptions } from "../../src/internal/analytics/engine.js"
import { defaultPeriodicOptions } from "../../src/internal/analytics/periodic.js"
import { type Reading, Sampler } from "../../src/internal/analytics/series.js"
import { defaultSpikeOptions } from "../../src/internal/analytics/spike.js"
import { defaultTrendOptions } from "../../src/internal/analytics/trend.js"

const options: EngineOptions = {
  intervalMillis: 10_000,
  cooldownMillis: 300_000,
  cascadeWindowMillis: 60_000,
  dependencies: {},
  spike: defaultSpikeOptions,
  trend: defaultTrendOptions,
  periodic: defaultPeriodicOptions,
  periodicEvery: 6,
  criticalRate: 0.5
}

/** Cumulative readings for one operation, fed interval by interval. */
const feeder = (operation: string) => {
  let success = 0
  let failure = 0
  const byCategory: Record<string, number> = {}
  return (calls: number, failures: Record<string, number>): Array<Reading> => {
    let failed = 0
    for (const [category, n] of Object.entries(failures)) {
      byCategory[category] = (byCategory[category] ?? 0) + n
      failed += n
    }
    success += calls - failed
    failure += failed
    return [
      { kind: "counter", name: "resilience_calls_total", tags: { operation, outcome: "success" }, value: success },
      { kind: "counter", name: "resilience_calls_total", tags: { operation, outcome: "failure" }, value: failure },
      ...Object.entries(byCategory).map(
        ([category, value]): Reading => ({
          kind: "counter",
          name: "resilience_failures_total",
          tags: { operation, category },
          value
        })
      )
    ]
  }
}

describe("Engine", () => {
  it("a lasting spike is one alert per cooldown, with the category's suggested action", () => {
    const sampler = new Sampler(360, 10)
    const engine = new Engine(options)
    const feed = feeder("payments")
    const alerts = []
    for (let i = 0; i <= 60; i++) {
      const now = i * 10_000
      // 1% throttled for 30 intervals, then 30% for 30 intervals
      sampler.sample(feed(200, { throttled: i <= 30 ? 2 : 60 }), now)
      alerts.push(...engine.run(sampler.operations.values(), [], now))
    }
    const spikes = alerts.filter((a) => a.kind === "spike")
    expect(spikes).toHaveLength(1)
    expect(spikes[0]).toMatchObject({ operation: "payments", category: "throttled", severity: "warning" })
    expect(spikes[0]?.suggestedAction).toContain("quota")
    expect(spikes[0]?.summary).toBe(
      '30% of "payments" calls failed with throttled errors in the last 10 s (60 of 200), against a usual 1.0%.'
    )
  })

  it("a rising rate is a trend alert; a cron is a periodic alert with its period", () => {
    const sampler = new Sampler(360, 10)
    const engine = new Engine(options)
    const rising = feeder("search")
    const cron = feeder("reports")
    const alerts = []
    for (let i = 0; i <= 240; i++) {
      const now = i * 10_000
      const rate = i < 200 ? 0.01 : 0.01 + (i - 200) * 0.01
      sampler.sample(rising(300, { timeout: Math.round(300 * rate) }), now)
      sampler.sample(cron(100, { server: i % 60 === 7 ? 12 : 0 }), now)
      alerts.push(...engine.run(sampler.operations.values(), [], now))
    }
    const trend = alerts.find((a) => a.kind === "trend")
    expect(trend).toMatchObject({ operation: "search", category: "timeout" })
    expect(trend?.evidence.t).toBeGreaterThan(3)
    const periodic = alerts.filter((a) => a.kind === "periodic")
    expect(periodic.map((a) => a.operation)).toEqual(["reports"])
    expect(periodic[0]?.evidence.periodMillis).toBe(600_000)
    expect(periodic[0]?.summary).toBe('Failures of "reports" recur about every 10 min (server).')
    // every number is finite (JSON has no Infinity)
    for (const a of alerts) for (const v of Object.values(a.evidence)) expect(Number.isFinite(v)).toBe(true)
  })

  it("a cascade is reported when first seen and again when it spreads, not every interval", () => {
    const engine = new Engine({ ...options, dependencies: { b: ["a"], c: ["b"] } })
    const a = { name: "a", atMillis: 0 }
    const b = { name: "b", atMillis: 5_000 }
    const c = { name: "c", atMillis: 12_000 }
    expect(engine.run([], [a], 1_000)).toEqual([])
    const first = engine.run([], [a, b], 10_000)
    expect(first.map((x) => [x.kind, x.operation, x.evidence.dependents])).toEqual([["cascade", "a", 1]])
    expect(engine.run([], [a, b], 20_000)).toEqual([])
    const spread = engine.run([], [a, b, c], 30_000)
    expect(spread.map((x) => x.evidence.dependents)).toEqual([2])
    expect(engine.run([], [a, b, c], 40_000)).toEqual([])
  })
})
