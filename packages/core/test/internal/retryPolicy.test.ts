/** The retry decision core on its own: numbers and classification views in, decisions out. */
import { describe, expect, it } from "vitest"
import * as core from "../../src/internal/retryPolicy/core.js"
import type { ClassificationView } from "../../src/internal/strategy/core.js"

const retryable: ClassificationView = { category: "server", retryable: true, countsForBreaker: true }
const final: ClassificationView = { category: "validation", retryable: false, countsForBreaker: false }

describe("retry decision core", () => {
  it("stops before the schedule for a failure that is not retryable, or when attempts are used up", () => {
    expect(core.stopBeforeSchedule(final, 1, 5)).toBe("not-retryable")
    expect(core.stopBeforeSchedule(retryable, 4, 5)).toBeUndefined()
    expect(core.stopBeforeSchedule(retryable, 5, 5)).toBe("exhausted")
    expect(core.stopBeforeSchedule(retryable, 1, 1)).toBe("exhausted")
  })

  it("a call an open breaker refused did not reach the operation", () => {
    expect(core.reachedAttempts(3, false)).toBe(3)
    expect(core.reachedAttempts(3, true)).toBe(2)
  })

  it("delays: whole milliseconds rounded up; Retry-After up to `extra` beyond the backoff; a breaker in full", () => {
    expect(core.retryDelay(99.2, undefined, 5000, false)).toBe(100)
    expect(core.retryDelay(-3, undefined, 5000, false)).toBe(0)
    expect(core.retryDelay(100, 2000, 5000, false)).toBe(2000)
    expect(core.retryDelay(100, 60_000, 5000, false)).toBe(5100)
    expect(core.retryDelay(100, 60_000, 5000, true)).toBe(60_000)
    expect(core.retryDelay(3000, 1000, 5000, true)).toBe(3000)
  })

  it("time: a delay must fit in what the deadline leaves; an open breaker needs a deadline to wait", () => {
    expect(core.stopForTime(100, undefined, false)).toBeUndefined()
    expect(core.stopForTime(100, 101, false)).toBeUndefined()
    expect(core.stopForTime(100, 100, false)).toBe("deadline")
    expect(core.stopForTime(100, 50, true)).toBe("breaker-open")
    expect(core.stopForTime(100, undefined, true)).toBe("breaker-open")
    expect(core.stopForTime(100, 5000, true)).toBeUndefined()
  })
})
