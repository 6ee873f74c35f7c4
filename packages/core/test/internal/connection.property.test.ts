/**
 * The connection's state machine (plain TypeScript, no Effect) against a reference model written
 * here, over random thresholds and random sequences of events (acquires that start, succeed or
 * fail, retries, health checks, closing, clock steps), including events that do not fit the state.
 * After every step the state, whether the event was taken, every counter and the time connected
 * must agree; and on the machine alone: Closed is absorbing, connects - disconnects is 1 exactly
 * while connected (0 otherwise, before closing), and a drop comes only with the
 * `failuresToDisconnect`-th failed check in a row.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { ConnectionCore, type CoreState } from "../../src/internal/connection/core.js"

type Event =
  | { readonly _tag: "start" }
  | { readonly _tag: "acquired" }
  | { readonly _tag: "failed"; readonly retryIn: number | undefined }
  | { readonly _tag: "retry" }
  | { readonly _tag: "health"; readonly ok: boolean }
  | { readonly _tag: "close" }
  | { readonly _tag: "tick"; readonly millis: number }

const openEventArb: fc.Arbitrary<Event> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ _tag: "start" as const }) },
  { weight: 2, arbitrary: fc.constant({ _tag: "acquired" as const }) },
  {
    weight: 2,
    arbitrary: fc.record({
      _tag: fc.constant("failed" as const),
      // mostly a retry at some time; now and then a schedule that gave up
      retryIn: fc.option(fc.nat(1_000), { nil: undefined, freq: 10 })
    })
  },
  { weight: 3, arbitrary: fc.constant({ _tag: "retry" as const }) },
  { weight: 5, arbitrary: fc.record({ _tag: fc.constant("health" as const), ok: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ _tag: fc.constant("tick" as const), millis: fc.nat(500) }) }
)

/** A life: events while open, then maybe a close and what arrives after it. */
const lifeArb: fc.Arbitrary<ReadonlyArray<Event>> = fc
  .tuple(
    fc.array(openEventArb, { maxLength: 200, size: "large" }),
    fc.option(fc.array(openEventArb, { maxLength: 10 }), { nil: undefined })
  )
  .map(([open, after]) => (after === undefined ? open : [...open, { _tag: "close" as const }, ...after]))

interface Model {
  state: CoreState
  started: boolean
  failedSinceUp: number
  inARow: number
  connects: number
  disconnects: number
  attempts: number
  failedConnects: number
  checks: number
  failedChecks: number
  connectedMillis: number
  lastReason: string | undefined
}

describe("ConnectionCore against a reference model", () => {
  it("agrees on every step; Closed absorbs; drops only on the threshold", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 4 }), lifeArb, (threshold, events) => {
        const core = new ConnectionCore(threshold)
        const m: Model = {
          state: { _tag: "Connecting", attempt: 1 },
          started: false,
          failedSinceUp: 0,
          inARow: 0,
          connects: 0,
          disconnects: 0,
          attempts: 0,
          failedConnects: 0,
          checks: 0,
          failedChecks: 0,
          connectedMillis: 0,
          lastReason: undefined
        }
        let now = 0
        let n = 0
        for (const event of events) {
          n++
          const wasClosed = core.state._tag === "Closed"
          let taken: boolean
          let expected = false
          switch (event._tag) {
            case "start":
              taken = core.acquireStarted()
              if (m.state._tag === "Connecting" && !m.started) {
                expected = true
                m.started = true
                m.attempts++
              }
              break
            case "acquired":
              taken = core.acquired(now)
              if (m.state._tag === "Connecting" && m.started) {
                expected = true
                m.started = false
                m.connects++
                m.failedSinceUp = 0
                m.inARow = 0
                m.state = { _tag: "Connected", sinceMillis: now }
              }
              break
            case "failed": {
              const at = event.retryIn === undefined ? undefined : now + event.retryIn
              taken = core.acquireFailed(`fail ${n}`, at)
              if (m.state._tag === "Connecting" && m.started) {
                expected = true
                m.started = false
                m.failedConnects++
                m.failedSinceUp = m.state.attempt
                m.lastReason = `fail ${n}`
                m.state = { _tag: "Disconnected", reason: `fail ${n}`, retryingAtMillis: at }
              }
              break
            }
            case "retry":
              taken = core.retry()
              if (m.state._tag === "Disconnected" && m.state.retryingAtMillis !== undefined) {
                expected = true
                m.state = { _tag: "Connecting", attempt: m.failedSinceUp + 1 }
              }
              break
            case "health": {
              const before = m.inARow
              taken = core.healthChecked(event.ok, `sick ${n}`, now)
              if (m.state._tag === "Connected") {
                m.checks++
                if (event.ok) m.inARow = 0
                else {
                  m.failedChecks++
                  m.inARow++
                  if (m.inARow >= threshold) {
                    expected = true
                    // the drop comes with exactly the threshold-th failure in a row
                    expect(before).toBe(threshold - 1)
                    m.connectedMillis += now - m.state.sinceMillis
                    m.disconnects++
                    m.lastReason = `sick ${n}`
                    m.failedSinceUp = 0
                    m.inARow = 0
                    m.state = { _tag: "Disconnected", reason: `sick ${n}`, retryingAtMillis: now }
                  }
                }
              }
              break
            }
            case "close":
              taken = core.close(now)
              if (m.state._tag !== "Closed") {
                expected = true
                if (m.state._tag === "Connected") m.connectedMillis += now - m.state.sinceMillis
                m.started = false
                m.state = { _tag: "Closed" }
              }
              break
            case "tick":
              now += event.millis
              taken = false
              break
          }
          expect(taken).toBe(expected)
          expect(core.state).toStrictEqual(m.state)
          if (wasClosed) expect(core.state._tag).toBe("Closed")
          expect(core.counters).toStrictEqual({
            connects: m.connects,
            disconnects: m.disconnects,
            connectAttempts: m.attempts,
            failedConnects: m.failedConnects,
            healthChecks: m.checks,
            failedHealthChecks: m.failedChecks,
            connectedMillis: m.connectedMillis,
            lastReason: m.lastReason
          })
          const current = m.state._tag === "Connected" ? now - m.state.sinceMillis : 0
          expect(core.connectedMillis(now)).toBe(m.connectedMillis + current)
          if (core.state._tag !== "Closed") {
            expect(core.counters.connects - core.counters.disconnects).toBe(core.state._tag === "Connected" ? 1 : 0)
          }
        }
      }),
      { numRuns: 100 }
    )
  })
})

describe("ConnectionCore", () => {
  it("numbers tries since the connection was last up: failed tries count up, a drop starts again at 1", () => {
    const core = new ConnectionCore(2)
    core.acquireStarted()
    core.acquireFailed("refused", 100)
    core.retry()
    expect(core.state).toStrictEqual({ _tag: "Connecting", attempt: 2 })
    core.acquireStarted()
    core.acquired(100)
    expect(core.healthChecked(false, "sick", 200)).toBe(false)
    expect(core.healthChecked(true, "", 300)).toBe(false)
    expect(core.healthChecked(false, "sick", 400)).toBe(false)
    expect(core.healthChecked(false, "sick", 500)).toBe(true)
    expect(core.state).toStrictEqual({ _tag: "Disconnected", reason: "sick", retryingAtMillis: 500 })
    core.retry()
    expect(core.state).toStrictEqual({ _tag: "Connecting", attempt: 1 })
    expect(core.connectedMillis(10_000)).toBe(400)
  })
})
