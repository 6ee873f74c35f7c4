import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as core from "../../src/internal/rateLimiter/core.js"
import type { Admitted, Rejected, Wait } from "../../src/internal/strategy/core.js"
import { manualTimers } from "../support/manualTimers.js"

const bucket = (options: Partial<core.Options> = {}) =>
  core.make({
    algorithm: "token-bucket",
    limit: 10,
    windowMillis: 1000,
    maxDelayMillis: 0,
    maxKeys: 10_000,
    ...options
  })
const fixed = (options: Partial<core.Options> = {}) => bucket({ algorithm: "fixed-window", ...options })

describe("rate limiter core (token bucket)", () => {
  it("a full bucket allows a burst of `limit`, then refills at limit / window", () => {
    const l = bucket()
    for (let i = 0; i < 10; i++) expect(l.tryConsume("k", 1, 0)).toBe(0)
    expect(l.tryConsume("k", 1, 0)).toBe(-100)
    expect(l.tryConsume("k", 1, 99)).toBeCloseTo(-1, 9)
    expect(l.tryConsume("k", 1, 100)).toBe(0)
    expect(l.tryConsume("k", 1, 100)).toBe(-100)
    expect(l.tryConsume("k", 2, 350)).toBe(0)
    expect(l.tryConsume("k", 1, 350)).toBeCloseTo(-50, 9)
  })

  it("refill stops at the limit", () => {
    const l = bucket({ limit: 5 })
    expect(l.tryConsume("k", 5, 0)).toBe(0)
    for (let i = 0; i < 5; i++) expect(l.tryConsume("k", 1, 3_600_000)).toBe(0)
    expect(l.tryConsume("k", 1, 3_600_000)).toBe(-200)
  })

  it("within maxDelayMillis, tokens are reserved and the caller told to wait", () => {
    const l = bucket({ maxDelayMillis: 250 })
    for (let i = 0; i < 10; i++) expect(l.tryConsume("k", 1, 0)).toBe(0)
    expect(l.tryConsume("k", 1, 0)).toBe(100)
    expect(l.tryConsume("k", 1, 0)).toBe(200)
    // a third wait would be 300 ms: refused, nothing taken
    expect(l.tryConsume("k", 1, 0)).toBe(-300)
    expect(l.tryConsume("k", 1, 0)).toBe(-300)
    expect(l.tryConsume("k", 1, 300)).toBe(0)
  })

  it("remaining and resetAfter of the last call", () => {
    const l = bucket({ maxDelayMillis: 1000 })
    expect(l.tryConsume("k", 4, 0)).toBe(0)
    expect(l.last).toEqual({ remaining: 6, resetAfterMillis: 400 })
    expect(l.tryConsume("k", 8, 0)).toBe(200)
    expect(l.last.remaining).toBe(0)
  })

  it("keys are independent; more tokens than the limit are always refused", () => {
    const l = bucket({ limit: 1 })
    expect(l.tryConsume("a", 1, 0)).toBe(0)
    expect(l.tryConsume("a", 1, 0)).toBe(-1000)
    expect(l.tryConsume("b", 1, 0)).toBe(0)
    expect(l.tryConsume("b", 2, 5000)).toBe(-1000)
  })

  it("idle keys are swept once there are more than maxKeys", () => {
    const l = bucket({ limit: 1, maxKeys: 3 })
    for (const k of ["a", "b", "c"]) l.tryConsume(k, 1, 0)
    l.tryConsume("d", 1, 500)
    // none was idle: all kept, so their limits still hold
    expect(l.keys()).toBe(4)
    expect(l.tryConsume("a", 1, 500)).toBe(-500)
    for (const k of ["e", "f", "g"]) l.tryConsume(k, 1, 1500)
    expect(l.keys()).toBeLessThanOrEqual(4)
    expect(l.tryConsume("g", 1, 1500)).toBe(-1000)
  })

  it("property: over any run, no key is granted more than limit + rate * elapsed tokens", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 300 }), tokens: fc.integer({ min: 1, max: 5 }) }), {
          maxLength: 200
        }),
        (limit, calls) => {
          const l = bucket({ limit })
          let now = 0
          let granted = 0
          for (const c of calls) {
            now += c.dt
            if (l.tryConsume("k", c.tokens, now) === 0) granted += c.tokens
            if (granted > limit + (limit * now) / 1000 + 1e-9) return false
          }
          return true
        }
      ),
      { seed: 5, numRuns: 300 }
    )
  })
})

describe("rate limiter core (fixed window)", () => {
  it("windows are aligned on the clock; a refusal says when the next one starts", () => {
    const l = fixed({ limit: 3 })
    for (let i = 0; i < 3; i++) expect(l.tryConsume("k", 1, 250)).toBe(0)
    expect(l.tryConsume("k", 1, 250)).toBe(-750)
    expect(l.tryConsume("k", 1, 999)).toBe(-1)
    for (let i = 0; i < 3; i++) expect(l.tryConsume("k", 1, 1000)).toBe(0)
    expect(l.tryConsume("k", 1, 1000)).toBe(-1000)
    expect(l.tryConsume("k", 3, 6000)).toBe(0)
  })

  it("a partial batch does not fit the window's remainder", () => {
    const l = fixed({ limit: 3 })
    expect(l.tryConsume("x", 2, 0)).toBe(0)
    expect(l.tryConsume("x", 2, 0)).toBe(-1000)
    expect(l.tryConsume("x", 1, 0)).toBe(0)
  })

  it("within maxDelayMillis, later windows are booked", () => {
    const l = fixed({ limit: 2, maxDelayMillis: 1500 })
    expect(l.tryConsume("k", 1, 400)).toBe(0)
    expect(l.tryConsume("k", 1, 400)).toBe(0)
    expect(l.tryConsume("k", 1, 400)).toBe(600)
    expect(l.tryConsume("k", 1, 400)).toBe(600)
    expect(l.tryConsume("k", 1, 400)).toBe(-1600)
    // the next window is already booked
    expect(l.tryConsume("k", 1, 1000)).toBe(1000)
  })
})

describe("rate limiter core: admit", () => {
  const wait = (l: core.Core, now: number): Wait => {
    const d = l.admit("k", 1, now)
    if (d._tag !== "Wait") throw new Error(`expected Wait, got ${d._tag}`)
    return d
  }

  it("allowed now: admitted; refused: exceeded with retryAfterMillis", () => {
    const l = bucket({ limit: 1 })
    expect(l.admit("k", 1, 0)._tag).toBe("Admitted")
    expect(l.admit("k", 1, 0)).toEqual(core.exceeded(1000))
  })

  it("a reserved token: the wait ends after the delay on the caller's timers", () => {
    const l = bucket({ limit: 2, maxDelayMillis: 1000 })
    l.tryConsume("k", 2, 0)
    const timers = manualTimers()
    const seen: Array<Admitted | Rejected> = []
    wait(l, 0).start(timers, undefined, (d) => seen.push(d))
    timers.advance(499)
    expect(seen).toEqual([])
    timers.advance(1)
    expect(seen.map((d) => d._tag)).toEqual(["Admitted"])
  })

  it("a wait longer than maxWaitMillis is refused at once and gives its tokens back", () => {
    const l = bucket({ maxDelayMillis: 1000 })
    l.tryConsume("k", 10, 0)
    const seen: Array<Admitted | Rejected> = []
    wait(l, 0).start(manualTimers(), 50, (d) => seen.push(d))
    expect(seen).toEqual([core.exceeded(100)])
    // the refused reservation was given back: the next caller waits 100 ms, not 200
    expect(l.tryConsume("k", 1, 0)).toBe(100)
  })

  it("a cancelled wait gives its tokens back and is never told", () => {
    const l = bucket({ limit: 2, maxDelayMillis: 1000 })
    l.tryConsume("k", 2, 0)
    const timers = manualTimers()
    const seen: Array<Admitted | Rejected> = []
    const cancel = wait(l, 0).start(timers, undefined, (d) => seen.push(d))
    timers.advance(100)
    cancel()
    timers.advance(1000)
    expect(seen).toEqual([])
    // without the refund the reservation would push the next caller to 900 ms
    expect(l.tryConsume("k", 1, 100)).toBe(400)
  })
})
