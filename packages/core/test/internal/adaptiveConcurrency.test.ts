import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as core from "../../src/internal/adaptiveConcurrency/core.js"
import { type Admitted, failure, neutral, success } from "../../src/internal/strategy/core.js"

const defaults: core.Options = {
  algorithm: "aimd",
  initialLimit: 20,
  minLimit: 1,
  maxLimit: 200,
  backoffRatio: 0.9,
  latencyThresholdMillis: 5000,
  smoothing: 0.2,
  rttTolerance: 1.5,
  longWindow: 600,
  queueSize: 4,
  dropCategories: ["timeout", "throttled", "unavailable", "resource"]
}
const make = (options: Partial<core.Options>) => core.make({ ...defaults, ...options })
const unavailable = failure({ category: "unavailable", retryable: true, countsForBreaker: true })
const client = failure({ category: "client", retryable: false, countsForBreaker: false })

const admitted = (l: core.Core): Admitted => {
  const d = l.admit()
  if (d._tag !== "Admitted") throw new Error(`expected Admitted, got ${d._tag}`)
  return d
}

describe("adaptive concurrency core (AIMD)", () => {
  it("a fast success grows the limit by 1 while at least half of it is in use", () => {
    const l = make({ initialLimit: 4 })
    admitted(l).settle(success, 10, 0)
    // one in flight out of 4: idle, no growth
    expect(l.limit()).toBe(4)
    const a = admitted(l)
    const b = admitted(l)
    a.settle(success, 10, 0)
    expect(l.limit()).toBe(5)
    b.settle(success, 10, 0)
    expect(l.limit()).toBe(5)
    expect(l.inflight()).toBe(0)
  })

  it("a drop or a slow call multiplies the limit by backoffRatio (rounded down), never below minLimit", () => {
    const l = make({ initialLimit: 20, minLimit: 15, latencyThresholdMillis: 100 })
    admitted(l).settle(unavailable, 10, 0)
    expect(l.limit()).toBe(18)
    admitted(l).settle(success, 101, 0)
    expect(l.limit()).toBe(16)
    admitted(l).settle(unavailable, 100, 0)
    expect(l.limit()).toBe(15)
    admitted(l).settle(unavailable, 5, 0)
    expect(l.limit()).toBe(15)
  })

  it("a failure outside dropCategories is no drop; a neutral settle frees the slot without a sample", () => {
    const l = make({ initialLimit: 10 })
    admitted(l).settle(client, 10, 0)
    expect(l.limit()).toBe(10)
    admitted(l).settle(neutral, 0, 0)
    expect(l.limit()).toBe(10)
    expect(l.inflight()).toBe(0)
  })

  it("over the limit: refused with `limit`, no queue", () => {
    const l = make({ initialLimit: 1 })
    const held = admitted(l)
    expect(l.admit()).toBe(core.overLimit)
    held.settle(neutral, 0, 0)
    expect(l.admit()._tag).toBe("Admitted")
  })

  it("the limit never passes maxLimit", () => {
    const l = make({ initialLimit: 2, maxLimit: 3 })
    for (let i = 0; i < 10; i++) {
      const held: Array<Admitted> = []
      for (let d = l.admit(); d._tag === "Admitted"; d = l.admit()) held.push(d)
      for (const t of held) t.settle(success, 1, 0)
    }
    expect(l.limit()).toBe(3)
  })

  it("property: under any sequence of outcomes the limit stays an integer within [min, max]", () => {
    const op = fc.oneof(
      fc.constant({ _tag: "acquire" as const }),
      fc.record({
        _tag: fc.constant("complete" as const),
        latency: fc.integer({ min: 0, max: 10_000 }),
        dropped: fc.boolean()
      }),
      fc.constant({ _tag: "cancel" as const })
    )
    const setup = fc
      .record({
        min: fc.integer({ min: 1, max: 50 }),
        span: fc.integer({ min: 0, max: 100 }),
        initial: fc.integer({ min: 1, max: 200 }),
        backoffRatio: fc.double({ min: 0.5, max: 0.99, noNaN: true }),
        algorithm: fc.constantFrom("aimd" as const, "gradient2" as const)
      })
      .map((s) => ({ ...s, max: s.min + s.span }))
    fc.assert(
      fc.property(setup, fc.array(op, { maxLength: 300 }), ({ min, max, initial, backoffRatio, algorithm }, ops) => {
        const l = make({ algorithm, initialLimit: initial, minLimit: min, maxLimit: max, backoffRatio })
        const held: Array<Admitted> = []
        for (const o of ops) {
          if (o._tag === "acquire") {
            const d = l.admit()
            if (d._tag === "Admitted") held.push(d)
          } else {
            const t = held.pop()
            if (o._tag === "complete") t?.settle(o.dropped ? unavailable : success, o.latency, 0)
            else t?.settle(neutral, 0, 0)
          }
          const limit = l.limit()
          if (!Number.isInteger(limit) || limit < min || limit > max || l.inflight() !== held.length) return false
        }
        return true
      }),
      { seed: 3, numRuns: 300 }
    )
  })
})

describe("adaptive concurrency core (Gradient2)", () => {
  const hold = (l: core.Core, n: number) => {
    for (let i = 0; i < n; i++) admitted(l)
  }
  const sample = (l: core.Core, latency: number, dropped = false) =>
    admitted(l).settle(dropped ? unavailable : success, latency, 0)

  it("steady latency while the limit is used: the limit creeps up by smoothing * queueSize per sample", () => {
    const l = make({ algorithm: "gradient2", initialLimit: 20 })
    hold(l, 15)
    const seen: Array<number> = []
    for (let i = 0; i < 4; i++) {
      sample(l, 100)
      seen.push(l.limit())
    }
    // 20.8, 21.6, 22.4, 23.2
    expect(seen).toEqual([20, 21, 22, 23])
  })

  it("an idle client does not grow its limit", () => {
    const l = make({ algorithm: "gradient2", initialLimit: 20 })
    for (let i = 0; i < 50; i++) sample(l, 100)
    expect(l.limit()).toBe(20)
  })

  it("rising latency shrinks the limit before anything fails; a drop shrinks it most", () => {
    const l = make({ algorithm: "gradient2", initialLimit: 20 })
    hold(l, 15)
    for (let i = 0; i < 10; i++) sample(l, 100)
    let estimate = 28
    expect(l.limit()).toBe(28)
    // the long average moves little; the gradient is clamp(1.5 * long / 300, 0.5, 1)
    const long = 100 * (1 - 2 / 601) + (300 * 2) / 601
    const gradient = Math.max(0.5, Math.min(1, (1.5 * long) / 300))
    sample(l, 300)
    estimate = estimate * 0.8 + (estimate * gradient + 4) * 0.2
    expect(l.limit()).toBe(Math.floor(estimate))
    expect(l.limit()).toBeLessThan(28)
    const before = estimate
    sample(l, 100, true)
    estimate = before * 0.8 + (before * 0.5 + 4) * 0.2
    expect(l.limit()).toBe(Math.floor(estimate))
  })

  it("modest overload (a gradient held at 0.8): the limit stays bounded, at queueSize / (1 - 0.8)", () => {
    // latencies that keep the gradient at 0.8: the latency is 1.5 * long / 0.8, where `long`, the
    // core's long average, follows long' = long * (1 - f) + latency * f with f = 2 / 601
    const l = make({ algorithm: "gradient2", initialLimit: 20, maxLimit: 1000 })
    hold(l, 20)
    // one sample frees one slot, taken again while the limit allows: the limit stays in use
    const feed = (latency: number) => {
      l.complete(latency, false)
      l.admit()
    }
    for (let i = 0; i < 10; i++) feed(100)
    const f = 2 / 601
    let long = 100
    const seen: Array<number> = []
    for (let i = 0; i < 2000; i++) {
      long = (long * (1 - f)) / (1 - (1.5 / 0.8) * f)
      feed((1.5 * long) / 0.8)
      seen.push(l.limit())
    }
    // the latency grew about 350-fold; the limit came down to 4 / (1 - 0.8) = 20 and stayed there
    expect(long).toBeGreaterThan(100 * 300)
    expect(Math.max(...seen.slice(100))).toBeLessThanOrEqual(20)
    expect(seen[seen.length - 1]).toBe(20)
  })

  it("stays within [minLimit, maxLimit]", () => {
    const l = make({ algorithm: "gradient2", initialLimit: 10, minLimit: 8, maxLimit: 12 })
    hold(l, 6)
    for (let i = 0; i < 100; i++) sample(l, 10)
    expect(l.limit()).toBe(12)
    for (let i = 0; i < 100; i++) sample(l, 10, true)
    expect(l.limit()).toBe(8)
  })
})
