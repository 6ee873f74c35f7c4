/** The attempt-timeout core on its own: which timer an attempt runs under. */
import { describe, expect, it } from "vitest"
import { timerFor } from "../../src/internal/timeout/core.js"

describe("timerFor", () => {
  it("no timeout and no deadline: no timer", () => {
    expect(timerFor(1000, undefined, undefined)).toBeUndefined()
    expect(timerFor(1000, undefined, Number.POSITIVE_INFINITY)).toBeUndefined()
  })

  it("the timeout alone", () => {
    expect(timerFor(1000, undefined, 250)).toEqual({ millis: 250, kind: "attempt" })
  })

  it("the deadline when it comes first or at the same time, as what is left of it", () => {
    expect(timerFor(1000, 1200, 500)).toEqual({ millis: 200, kind: "deadline" })
    expect(timerFor(1000, 1500, 500)).toEqual({ millis: 500, kind: "deadline" })
    expect(timerFor(1000, 1200, undefined)).toEqual({ millis: 200, kind: "deadline" })
    expect(timerFor(1000, 900, 500)).toEqual({ millis: 0, kind: "deadline" })
  })

  it("the timeout when the deadline is later", () => {
    expect(timerFor(1000, 5000, 500)).toEqual({ millis: 500, kind: "attempt" })
  })
})
