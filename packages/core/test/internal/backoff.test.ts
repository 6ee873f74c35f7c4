/** The backoff core on its own: delay arithmetic given numbers, no Effect runtime. */
import * as fc from "fast-check"
import { describe, expect, it } from "vitest"
import * as core from "../../src/internal/backoff/core.js"

describe("backoff core", () => {
  it("exponential, linear and Fibonacci delays", () => {
    expect([0, 1, 2, 3].map((n) => core.exponentialDelay(100, 2, n))).toEqual([100, 200, 400, 800])
    expect(core.exponentialDelay(1000, 1.6, 2)).toBeCloseTo(2560)
    expect([0, 1, 2].map((n) => core.linearDelay(50, n))).toEqual([50, 100, 150])
    let state = core.fibonacciStart(10)
    const delays: Array<number> = []
    for (let i = 0; i < 6; i++) {
      const [delay, next] = core.fibonacciStep(state)
      delays.push(delay)
      state = next
    }
    expect(delays).toEqual([10, 10, 20, 30, 50, 80])
  })

  it("caps", () => {
    expect(core.capDelay(800, 500)).toBe(500)
    expect(core.capDelay(300, 500)).toBe(300)
    expect(core.capDelay(Number.POSITIVE_INFINITY, 500)).toBe(500)
  })

  it("jitter modes at the ends of [0, 1)", () => {
    expect(core.applyJitter("none", 400, 0.7)).toBe(400)
    expect(core.applyJitter("full", 400, 0)).toBe(0)
    expect(core.applyJitter("full", 400, 0.5)).toBe(200)
    expect(core.applyJitter("equal", 400, 0)).toBe(200)
    expect(core.applyJitter("equal", 400, 0.5)).toBe(300)
    expect(core.applyJitter({ proportional: 0.2 }, 1000, 0)).toBe(800)
    expect(core.applyJitter({ proportional: 0.2 }, 1000, 0.5)).toBe(1000)
    expect(core.applyJitter({ proportional: 2 }, 1000, 0)).toBe(0)
    expect(core.applyJitter("full", Number.POSITIVE_INFINITY, 0.5)).toBe(Number.POSITIVE_INFINITY)
  })

  it("jitter stays within its bounds for any r in [0, 1)", () => {
    const r = fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
    const d = fc.integer({ min: 0, max: 10_000_000 })
    fc.assert(
      fc.property(d, r, (millis, x) => {
        const full = core.applyJitter("full", millis, x)
        const equal = core.applyJitter("equal", millis, x)
        const prop = core.applyJitter({ proportional: 0.1 }, millis, x)
        return (
          full >= 0 &&
          full <= millis &&
          equal >= millis / 2 &&
          equal <= millis &&
          prop >= millis * 0.9 - 1e-6 &&
          prop <= millis * 1.1 + 1e-6
        )
      }),
      { seed: 8 }
    )
  })

  it("decorrelated jitter: between base and 3x the previous delay, never above the cap", () => {
    expect(core.decorrelatedDelay(10, 1000, 10, 0)).toBe(10)
    expect(core.decorrelatedDelay(10, 1000, 100, 0.5)).toBe(155)
    expect(core.decorrelatedDelay(10, 100, 1000, 0.9)).toBe(100)
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 1000, noNaN: true }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (previous, r) => {
          const delay = core.decorrelatedDelay(1, 5000, previous, r)
          return delay >= 1 && delay <= Math.max(1, previous * 3) && delay <= 5000
        }
      ),
      { seed: 8 }
    )
  })

  it("Retry-After: never shorter than asked unless that is more than `extra` beyond the backoff", () => {
    expect(core.retryAfterDelay(100, 2000, 5000)).toBe(2000)
    expect(core.retryAfterDelay(100, 20_000, 5000)).toBe(5100)
    expect(core.retryAfterDelay(3000, 2000, 5000)).toBe(3000)
  })

  it("elapsed and deadline limits", () => {
    expect(core.exceedsElapsed(1000, 2000, 1000)).toBe(false)
    expect(core.exceedsElapsed(1000, 2001, 1000)).toBe(true)
    expect(core.pastDeadline(5000, undefined)).toBe(false)
    expect(core.pastDeadline(4999, 5000)).toBe(false)
    expect(core.pastDeadline(5000, 5000)).toBe(true)
  })
})
