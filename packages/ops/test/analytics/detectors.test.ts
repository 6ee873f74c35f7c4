import { describe, expect, it } from "@effect/vitest"
import { cascades } from "../../src/internal/analytics/cascade.js"
import { periodic, poissonThreshold } from "../../src/internal/analytics/periodic.js"
import { quantile, Sampler } from "../../src/internal/analytics/series.js"
import { spikeAt } from "../../src/internal/analytics/spike.js"
import { autocorrelation, linearFit, mannKendall, median } from "../../src/internal/analytics/stats.js"
import { trendAt } from "../../src/internal/analytics/trend.js"
import { evaluateCascade, evaluatePeriodic, evaluateSpike, evaluateTrend, type Evaluation, table } from "./evaluate.js"
import { rng } from "./synthetic.js"

const flat = (length: number, calls: number, failures: number) => ({
  calls: Array.from({ length }, () => calls),
  failures: Array.from({ length }, () => failures)
})

describe("stats", () => {
  it("fits a line and tests it", () => {
    const fit = linearFit([1, 3, 5, 7, 9])
    expect(fit.slope).toBeCloseTo(2)
    expect(fit.intercept).toBeCloseTo(1)
    expect(mannKendall([1, 2, 3, 4, 5, 6, 7, 8]).z).toBeGreaterThan(3)
    expect(mannKendall([8, 7, 6, 5, 4, 3, 2, 1]).z).toBeLessThan(-3)
    expect(median([5, 1, 3])).toBe(3)
  })

  it("autocorrelation of a period-4 signal peaks at 4", () => {
    const xs = Array.from({ length: 40 }, (_, i) => (i % 4 === 0 ? 1 : 0))
    const acf = autocorrelation(xs, 8)
    expect(acf[4]).toBeGreaterThan(0.8)
    expect(acf[2]).toBeLessThan(0)
  })

  it("the Poisson burst threshold grows with the background", () => {
    expect(poissonThreshold(0, 0.001)).toBe(1)
    expect(poissonThreshold(1, 0.001)).toBe(6)
    expect(poissonThreshold(10, 0.001)).toBeGreaterThan(19)
  })
})

describe("spike", () => {
  it("finds a jump from 1% to 30% at volume", () => {
    const { calls, failures } = flat(31, 200, 2)
    failures[30] = 60
    const spike = spikeAt(calls, failures, 30)
    expect(spike?.rate).toBeCloseTo(0.3)
    expect(spike?.baselineMedian).toBeCloseTo(0.01)
    expect(spike?.z).toBeGreaterThan(5)
  })

  it("1 failure of 2 calls is not a spike (volume guard)", () => {
    const { calls, failures } = flat(31, 200, 0)
    calls[30] = 2
    failures[30] = 1
    expect(spikeAt(calls, failures, 30)).toBeUndefined()
  })

  it("needs a baseline", () => {
    const { calls, failures } = flat(5, 200, 0)
    failures[4] = 100
    expect(spikeAt(calls, failures, 4)).toBeUndefined()
  })

  it("a rate that climbed there step by step is not a spike (but a trend)", () => {
    // from 1% to 16% in steps of half a point
    const calls = Array.from({ length: 40 }, () => 500)
    const failures = calls.map((n, i) => Math.round(n * (i < 10 ? 0.01 : 0.01 + (i - 9) * 0.005)))
    const steady = calls.map((n) => Math.round(n * 0.01))
    steady[39] = Math.round(500 * 0.16)
    expect(spikeAt(calls, failures, 39)).toBeUndefined()
    expect(trendAt(calls, failures, 39)).toBeDefined()
    // the same final rate after a flat baseline is a spike
    expect(spikeAt(calls, steady, 39)).toBeDefined()
  })
})

describe("trend", () => {
  it("finds a steady rise and reports its size", () => {
    const calls = Array.from({ length: 30 }, () => 200)
    const r = rng(7)
    const failures = calls.map((n, i) => Math.round(n * (0.01 + 0.01 * i) + 2 * (r() - 0.5)))
    const trend = trendAt(calls, failures, 29)
    expect(trend).toBeDefined()
    expect(trend?.toRate).toBeGreaterThan(0.25)
    expect(trend?.t).toBeGreaterThan(3)
  })

  it("one bad interval at the end is not a trend", () => {
    const { calls, failures } = flat(30, 200, 4)
    failures[29] = 150
    expect(trendAt(calls, failures, 29)).toBeUndefined()
  })

  it("a falling rate is not an alert", () => {
    const calls = Array.from({ length: 30 }, () => 200)
    const failures = calls.map((_, i) => 80 - 2 * i)
    expect(trendAt(calls, failures, 29)).toBeUndefined()
  })
})

describe("periodic", () => {
  it("a cron failing every 10 minutes, sampled every 10 seconds, has a period of 10 minutes", () => {
    const r = rng(3)
    const counts = Array.from({ length: 360 }, (_, i) => (i % 60 === 5 ? 8 : r() < 0.05 ? 1 : 0))
    expect(periodic(counts, 10_000)?.periodMillis).toBe(600_000)
  })

  it("the same cron sampled every minute", () => {
    const counts = Array.from({ length: 120 }, (_, i) => (i % 10 === 3 ? 5 : 0))
    expect(periodic(counts, 60_000)?.periodMillis).toBe(600_000)
  })

  it("random noise has no period", () => {
    const r = rng(11)
    const counts = Array.from({ length: 360 }, () => (r() < 0.3 ? 1 : 0) + (r() < 0.1 ? 1 : 0))
    expect(periodic(counts, 10_000)).toBeUndefined()
  })
})

describe("cascade", () => {
  const graph = { checkout: ["payments", "inventory"], payments: ["ledger"], inventory: [] }

  it("reports the root cause and the chain in dependency order", () => {
    const found = cascades(
      [
        { name: "checkout", atMillis: 20_000 },
        { name: "ledger", atMillis: 0 },
        { name: "payments", atMillis: 5_000 }
      ],
      graph,
      60_000
    )
    expect(found).toHaveLength(1)
    expect(found[0]?.root).toBe("ledger")
    expect(found[0]?.chain.map((l) => [l.name, l.after, l.depth])).toEqual([
      ["payments", "ledger", 1],
      ["checkout", "payments", 2]
    ])
  })

  it("a dependent opening before its dependency is not a cascade", () => {
    expect(
      cascades(
        [
          { name: "payments", atMillis: 0 },
          { name: "ledger", atMillis: 5_000 }
        ],
        graph,
        60_000
      )
    ).toEqual([])
  })

  it("a dependent opening after the window is not a cascade", () => {
    expect(
      cascades(
        [
          { name: "ledger", atMillis: 0 },
          { name: "payments", atMillis: 61_000 }
        ],
        graph,
        60_000
      )
    ).toEqual([])
  })

  it("unconnected breakers opening together are not a cascade", () => {
    expect(
      cascades(
        [
          { name: "inventory", atMillis: 0 },
          { name: "payments", atMillis: 1_000 }
        ],
        graph,
        60_000
      )
    ).toEqual([])
  })
})

describe("series", () => {
  it("interpolates a quantile within its bucket", () => {
    // 10 values <= 0.1, 10 more <= 0.2
    const buckets: Array<[number, number]> = [
      [0.1, 10],
      [0.2, 20],
      [Number.POSITIVE_INFINITY, 20]
    ]
    expect(quantile(buckets, 0.5)).toBeCloseTo(0.1)
    expect(quantile(buckets, 0.75)).toBeCloseTo(0.15)
    expect(quantile([], 0.5)).toBeNaN()
  })

  it("keeps increases per interval in fixed-size rings, a category first seen late padded with zeros", () => {
    const sampler = new Sampler(3, 10)
    const calls = (success: number, failure: number, timeouts?: number) => [
      {
        kind: "counter" as const,
        name: "resilience_calls_total",
        tags: { operation: "db", outcome: "success" },
        value: success
      },
      {
        kind: "counter" as const,
        name: "resilience_calls_total",
        tags: { operation: "db", outcome: "failure" },
        value: failure
      },
      ...(timeouts === undefined
        ? []
        : [
            {
              kind: "counter" as const,
              name: "resilience_failures_total",
              tags: { operation: "db", category: "timeout" },
              value: timeouts
            }
          ])
    ]
    sampler.sample(calls(100, 5), 0) // the baseline: counts from before are not an interval's
    sampler.sample(calls(110, 5), 1000)
    sampler.sample(calls(130, 8, 3), 2000)
    sampler.sample(calls(160, 9, 4), 3000)
    sampler.sample(calls(170, 9, 4), 4000)
    const db = sampler.operations.get("db")
    expect(db?.timestamps.toArray()).toEqual([2000, 3000, 4000])
    expect(db?.calls.toArray()).toEqual([23, 31, 10])
    expect(db?.failures.toArray()).toEqual([3, 1, 0])
    // the timeout counter's first reading (3) only set its baseline
    expect(db?.failuresByCategory.get("timeout")?.toArray()).toEqual([0, 1, 0])
  })
})

describe("labelled sets (seeds 11 to 15, 200 series each: 1000 per detector, half positive)", () => {
  const seeds = [11, 12, 13, 14, 15]
  const pooled = (evaluate: (seed: number, count: number) => Evaluation): Evaluation => {
    const parts = seeds.map((s) => evaluate(s, 200))
    const sum = (k: "tp" | "fp" | "fn" | "tn") => parts.reduce((a, p) => a + p.score[k], 0)
    const tp = sum("tp")
    const fp = sum("fp")
    const fn = sum("fn")
    const tn = sum("tn")
    const errors: Record<string, number> = {}
    for (const p of parts) for (const [k, v] of Object.entries(p.errors)) errors[k] = (errors[k] ?? 0) + v
    return {
      detector: parts[0]?.detector ?? "",
      series: parts.reduce((a, p) => a + p.series, 0),
      positives: parts.reduce((a, p) => a + p.positives, 0),
      score: { tp, fp, fn, tn, precision: tp / (tp + fp), recall: tp / (tp + fn) },
      errors
    }
  }
  const results: Array<Evaluation> = []
  const check = (evaluation: Evaluation, precision: number, recall: number) => {
    results.push(evaluation)
    console.log(`${evaluation.detector}: ${JSON.stringify(evaluation.errors)}`)
    expect(evaluation.series).toBeGreaterThanOrEqual(50)
    expect(evaluation.score.precision).toBeGreaterThanOrEqual(precision)
    expect(evaluation.score.recall).toBeGreaterThanOrEqual(recall)
  }

  it("spike", () => check(pooled(evaluateSpike), 0.95, 0.95))
  it("trend", () => check(pooled(evaluateTrend), 0.95, 0.95))
  it("periodic", () => check(pooled(evaluatePeriodic), 0.92, 0.88))
  it("cascade", () => check(pooled(evaluateCascade), 0.99, 0.99))
  it("prints the table", () => {
    expect(results).toHaveLength(4)
    console.log(`\n${table(results)}\n`)
  })
})
