import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as core from "../../src/internal/adaptiveThrottle/core.js"
import { type Admitted, failure, neutral, success } from "../../src/internal/strategy/core.js"
import { SlidingCounts } from "../../src/internal/window/slidingCounts.js"

const options: core.Options = { k: 2, windowMillis: 120_000, buckets: 120, rejectionCategories: ["throttled"] }
const sre = (requests: number, accepts: number, k: number) => Math.max(0, (requests - k * accepts) / (requests + 1))
const never = () => 0.999_999
const throttledFailure = failure({ category: "throttled", retryable: true, countsForBreaker: true })
const clientFailure = failure({ category: "client", retryable: false, countsForBreaker: false })

const admitted = (t: core.Core, now: number): Admitted => {
  const d = t.admit(now, never)
  if (d._tag !== "Admitted") throw new Error(`expected Admitted, got ${d._tag}`)
  return d
}

/** `requests` admitted at `now`, the first `accepts` accepted and the rest refused by the backend. */
const record = (t: core.Core, requests: number, accepts: number, now = 0) => {
  for (let i = 0; i < requests; i++) admitted(t, now).settle(i < accepts ? success : throttledFailure, 1, now)
}

describe("adaptive throttle core", () => {
  it("property: the rejection probability is max(0, (req - K*acc) / (req + 1)); the draw rejects when u < p", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2000 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0.5, max: 4, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (requests, ratio, k, u) => {
          const accepts = Math.floor(requests * ratio)
          const t = core.make({ ...options, k })
          record(t, requests, accepts)
          const p = t.probability(0)
          if (Math.abs(p - sre(requests, accepts, k)) > 1e-12 || p < 0 || p >= 1) return false
          const decision = t.admit(0, () => u)
          return (decision._tag === "Admitted") === (p === 0 || u >= p)
        }
      ),
      { seed: 42, numRuns: 200 }
    )
  })

  it("a healthy client never draws and is never throttled", () => {
    const t = core.make(options)
    record(t, 500, 500)
    let draws = 0
    for (let i = 0; i < 100; i++) {
      const d = t.admit(0, () => {
        draws++
        return 0
      })
      expect(d._tag).toBe("Admitted")
    }
    expect(draws).toBe(0)
  })

  it("a local rejection counts as a request; an admitted call counts when settled; neutral does not count", () => {
    const t = core.make({ ...options, k: 1 })
    record(t, 10, 0)
    const p = t.probability(0)
    expect(t.admit(0, () => 0)).toBe(core.throttled)
    expect(t.requests(0)).toBe(11)
    expect(t.probability(0)).toBeGreaterThan(p)
    const ticket = admitted(core.make(options), 0)
    ticket.settle(neutral, 0, 0)
    const u = core.make(options)
    admitted(u, 0).settle(neutral, 0, 0)
    expect(u.requests(0)).toBe(0)
  })

  it("only failures in rejectionCategories count against accepts", () => {
    const t = core.make(options)
    for (let i = 0; i < 10; i++) admitted(t, 0).settle(clientFailure, 1, 0)
    expect(t.accepts(0)).toBe(10)
    for (let i = 0; i < 10; i++) admitted(t, 0).settle(throttledFailure, 1, 0)
    expect(t.requests(0)).toBe(20)
    expect(t.accepts(0)).toBe(10)
  })

  it("counts only the window", () => {
    const t = core.make(options)
    record(t, 100, 0, 0)
    expect(t.probability(0)).toBeCloseTo(100 / 101, 12)
    record(t, 50, 50, 60_000)
    expect(t.probability(60_000)).toBeCloseTo(50 / 151, 12)
    expect(t.requests(119_999)).toBe(150)
    // the first 100 requests are 2 minutes old: gone
    expect(t.requests(120_000)).toBe(50)
    expect(t.accepts(120_000)).toBe(50)
    expect(t.probability(120_000)).toBe(0)
    expect(t.requests(180_000)).toBe(0)
  })
})

describe("sliding counts", () => {
  it("an event counts until it leaves the window at bucket granularity", () => {
    const w = new SlidingCounts(1000, 10)
    w.advance(0)
    w.addA(1)
    w.advance(550)
    w.addB(2)
    w.advance(999)
    expect([w.sumA, w.sumB]).toEqual([1, 2])
    w.advance(1000)
    expect([w.sumA, w.sumB]).toEqual([0, 2])
    w.advance(10_000)
    expect([w.sumA, w.sumB]).toEqual([0, 0])
  })
})
