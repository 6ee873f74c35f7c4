/**
 * The breaker's decision core on its own: plain numbers for time, no Effect anywhere.
 */
import { describe, expect, it } from "@effect/vitest"
import * as core from "../../src/internal/circuitBreaker/core.js"
import { makeWindow } from "../../src/internal/circuitBreaker/window.js"
import type { ClassificationView } from "../../src/internal/strategy/core.js"
import { failure, neutral, success } from "../../src/internal/strategy/core.js"

const counted: ClassificationView = { category: "server", retryable: true, countsForBreaker: true }
const ignored: ClassificationView = { category: "client", retryable: false, countsForBreaker: false }
const failed = failure(counted)
const notCounted = failure(ignored)

const consecutive = (threshold: number): core.Policy => ({ _tag: "ConsecutiveFailures", threshold })
const countWindow = (size: number, minimumCalls: number, failureRateThreshold: number, slow?: [number, number]) =>
  ({
    _tag: "CountWindow",
    size,
    minimumCalls,
    failureRateThreshold,
    slowCallMillis: slow?.[0] ?? Number.POSITIVE_INFINITY,
    slowCallRateThreshold: slow?.[1] ?? Number.POSITIVE_INFINITY
  }) satisfies core.Policy

const breaker = (
  overrides: Partial<core.Settings> = {},
  store?: core.EvidenceStore
): { readonly b: core.Breaker; readonly transitions: Array<core.Transition> } => {
  const transitions: Array<core.Transition> = []
  const settings: core.Settings = {
    name: "db",
    policy: consecutive(5),
    openDurationFor: () => 30_000,
    maxProbes: 1,
    successThreshold: 3,
    mode: "normal",
    ...overrides
  }
  const b = new core.Breaker(settings, store ?? makeWindow(settings.policy), (t) => transitions.push(t), 0)
  return { b, transitions }
}

const ticket = (decision: core.Ticket | core.Rejected): core.Ticket => {
  if (decision._tag !== "Admitted") throw new Error(`expected a ticket, got ${decision.reason}`)
  return decision
}

const run = (b: core.Breaker, n: number, outcome: typeof success, now: number, duration = 1) => {
  for (let i = 0; i < n; i++) ticket(b.admit(now)).settle(outcome, duration, now)
}

describe("circuit breaker core: consecutive failures", () => {
  it("opens after exactly the threshold and refuses with the time left", () => {
    const { b, transitions } = breaker()
    run(b, 4, failed, 10)
    expect(b.stateAt(10)).toBe("closed")
    run(b, 1, failed, 10)
    expect(b.stateAt(10)).toBe("open")
    expect(b.admit(12)).toEqual({ _tag: "Rejected", reason: "open", retryAfterMillis: 29_998 })
    expect(transitions).toEqual([
      { breaker: "db", from: "closed", to: "open", atMillis: 10, reason: "consecutive-failures" }
    ])
  })

  it("a success resets the count; a failure that does not count and a neutral end change nothing", () => {
    const { b } = breaker()
    run(b, 4, failed, 0)
    run(b, 1, success, 0)
    run(b, 4, failed, 0)
    run(b, 10, notCounted, 0)
    run(b, 10, neutral, 0)
    const snapshot = b.snapshotAt(0)
    expect([snapshot.state, snapshot.consecutiveFailures, snapshot.calls]).toEqual(["closed", 4, 9])
  })

  it("while closed every call shares one ticket (no allocation); a transition replaces it", () => {
    const { b } = breaker({ policy: consecutive(1) })
    const first = b.admit(0)
    expect(b.admit(0)).toBe(first)
    ticket(first).settle(failed, 1, 0)
    b.reset(1)
    const second = b.admit(1)
    expect(second).not.toBe(first)
    // a ticket of an earlier closed period is stale: its outcome is ignored
    ticket(first).settle(failed, 1, 2)
    expect(b.stateAt(2)).toBe("closed")
  })
})

describe("circuit breaker core: half-open", () => {
  it("moves to half-open lazily when due, one probe at a time, closes after successThreshold", () => {
    const { b, transitions } = breaker()
    run(b, 5, failed, 0)
    expect(b.stateAt(29_999)).toBe("open")
    const probe = ticket(b.admit(30_000))
    expect(probe.probe).toBe(true)
    expect(b.admit(30_000)).toEqual({ _tag: "Rejected", reason: "half-open", retryAfterMillis: 0 })
    probe.settle(success, 1, 30_001)
    run(b, 2, success, 30_002)
    expect(b.stateAt(30_002)).toBe("closed")
    expect(transitions.map((t) => `${t.from}>${t.to}:${t.reason}`)).toEqual([
      "closed>open:consecutive-failures",
      "open>half-open:open-duration-elapsed",
      "half-open>closed:success-threshold"
    ])
    expect(b.snapshotAt(30_002).calls).toBe(0)
  })

  it("a probe failure reopens with the next open duration; a slow probe reopens too", () => {
    const durations = [100, 200, 400]
    const { b, transitions } = breaker({
      policy: countWindow(2, 1, 1, [50, 1]),
      openDurationFor: (n) => durations[Math.min(n, 2)] ?? 0
    })
    run(b, 1, failed, 0)
    expect(b.snapshotAt(0).openUntilMillis).toBe(100)
    ticket(b.admit(100)).settle(failed, 1, 100)
    expect(b.snapshotAt(100).openUntilMillis).toBe(300)
    ticket(b.admit(300)).settle(success, 51, 351)
    expect(b.snapshotAt(351)).toMatchObject({ state: "open", openUntilMillis: 751, reopenings: 2 })
    expect(transitions.map((t) => t.reason)).toContain("probe-slow")
  })

  it("a probe settled twice releases its slot once; a neutral probe releases it without evidence", () => {
    const { b } = breaker({ maxProbes: 2 })
    run(b, 5, failed, 0)
    const p1 = ticket(b.admit(30_000))
    const p2 = ticket(b.admit(30_000))
    expect(b.admit(30_000)._tag).toBe("Rejected")
    p1.settle(neutral, 0, 30_000)
    p1.settle(neutral, 0, 30_000)
    expect(b.snapshotAt(30_000).probesInFlight).toBe(1)
    p2.settle(notCounted, 0, 30_000)
    expect(b.snapshotAt(30_000)).toMatchObject({ state: "half-open", probesInFlight: 0, probeSuccesses: 0 })
  })

  it("a probe of an earlier half-open period frees its slot but says nothing about this one", () => {
    const { b } = breaker({ maxProbes: 2, successThreshold: 1 })
    run(b, 5, failed, 0)
    const old = ticket(b.admit(30_000))
    ticket(b.admit(30_000)).settle(failed, 1, 30_000) // reopens
    const fresh = ticket(b.admit(60_000))
    old.settle(success, 1, 60_000)
    expect(b.snapshotAt(60_000)).toMatchObject({ state: "half-open", probesInFlight: 1 })
    fresh.settle(success, 1, 60_000)
    expect(b.stateAt(60_000)).toBe("closed")
  })
})

describe("circuit breaker core: windows", () => {
  it("count window: opens at the failure rate once minimumCalls are in", () => {
    const { b, transitions } = breaker({ policy: countWindow(10, 6, 0.5) })
    run(b, 4, failed, 0)
    run(b, 1, success, 0)
    expect(b.stateAt(0)).toBe("closed")
    run(b, 1, success, 0)
    expect(b.stateAt(0)).toBe("open")
    expect(transitions[0]?.reason).toBe("failure-rate")
  })

  it("slow calls: a call of exactly the threshold is slow (resilience4j); the slow rate opens", () => {
    const { b, transitions } = breaker({ policy: countWindow(4, 4, 1, [1000, 0.5]) })
    run(b, 1, success, 0, 999)
    run(b, 1, success, 0, 1000)
    run(b, 1, success, 0, 1)
    expect(b.snapshotAt(0).slowCalls).toBe(1)
    run(b, 1, failed, 0, 2000)
    expect(b.snapshotAt(0)).toMatchObject({ state: "open", slowCallRate: 0.5 })
    expect(transitions[0]?.reason).toBe("slow-call-rate")
  })

  it("time window: only the current bucket and the buckets - 1 before it count", () => {
    const window = makeWindow({
      _tag: "TimeWindow",
      windowMillis: 1000,
      buckets: 4,
      minimumCalls: 1,
      failureRateThreshold: 1,
      slowCallMillis: Number.POSITIVE_INFINITY,
      slowCallRateThreshold: Number.POSITIVE_INFINITY
    })
    window.record("failure", 0)
    window.record("success", 250)
    window.record("slow-failure", 999)
    expect(window.evidence(999)).toMatchObject({ calls: 3, failures: 2, slowCalls: 1 })
    expect(window.evidence(1000)).toMatchObject({ calls: 2, failures: 1 })
    expect(window.evidence(1500)).toMatchObject({ calls: 1, slowCalls: 1 })
    expect(window.evidence(10_000)).toMatchObject({ calls: 0, failures: 0, slowCalls: 0 })
    // a clock that steps back records into the current bucket
    window.record("failure", 5)
    expect(window.evidence(10_000)).toMatchObject({ calls: 1, failures: 1 })
  })

  it("count window: the oldest outcome slides out", () => {
    const window = makeWindow(countWindow(2, 1, 1))
    window.record("failure", 0)
    window.record("slow-success", 0)
    window.record("success", 0)
    expect(window.evidence(0)).toMatchObject({ calls: 2, failures: 0, slowCalls: 1 })
  })
})

describe("circuit breaker core: manual modes", () => {
  it("forced-open refuses with Infinity; disabled admits and records nothing; metrics-only records and never opens", () => {
    const { b, transitions } = breaker({ policy: consecutive(1) })
    b.forceOpen(1)
    expect(b.admit(2)).toEqual({ _tag: "Rejected", reason: "forced-open", retryAfterMillis: Number.POSITIVE_INFINITY })
    b.disable(3)
    run(b, 3, failed, 3)
    expect(b.snapshotAt(3)).toMatchObject({ state: "disabled", calls: 0 })
    b.metricsOnly(4)
    run(b, 3, failed, 4)
    expect(b.snapshotAt(4)).toMatchObject({ state: "metrics-only", calls: 3, failures: 3 })
    b.forceClosed(5)
    run(b, 1, failed, 6)
    expect(b.stateAt(6)).toBe("open")
    expect(transitions.map((t) => `${t.from}>${t.to}:${t.reason}`)).toEqual([
      "closed>forced-open:manual",
      "forced-open>disabled:manual",
      "disabled>metrics-only:manual",
      "metrics-only>closed:manual",
      "closed>open:consecutive-failures"
    ])
  })

  it("reset forgets the evidence and the backoff", () => {
    const { b } = breaker({ policy: consecutive(1), openDurationFor: (n) => 100 * 2 ** n })
    run(b, 1, failed, 0)
    ticket(b.admit(100)).settle(failed, 1, 100)
    expect(b.snapshotAt(100).reopenings).toBe(1)
    b.reset(101)
    expect(b.snapshotAt(101)).toMatchObject({ state: "closed", reopenings: 0, calls: 0 })
    run(b, 1, failed, 102)
    expect(b.snapshotAt(102).openUntilMillis).toBe(202)
  })

  it("the store hears every transition with the end of the open period", () => {
    const decisions: Array<core.StoreDecision> = []
    const inner = makeWindow(consecutive(1))
    const { b } = breaker(
      { policy: consecutive(1) },
      {
        record: (outcome, at) => inner.record(outcome, at),
        evidence: (at) => inner.evidence(at),
        clear: (at) => inner.clear(at),
        decide: (d) => {
          decisions.push(d)
        }
      }
    )
    run(b, 1, failed, 7)
    expect(decisions).toEqual([
      {
        transition: { breaker: "db", from: "closed", to: "open", atMillis: 7, reason: "consecutive-failures" },
        openUntilMillis: 30_007,
        reopenings: 0
      }
    ])
  })
})

describe("circuit breaker core: open durations", () => {
  it("openBackoff multiplies and caps; without a backoff the base repeats", () => {
    const backoff = core.openBackoff(10_000, { multiplier: 2, maxMillis: 35_000 })
    expect([0, 1, 2, 3].map(backoff)).toEqual([10_000, 20_000, 35_000, 35_000])
    expect([0, 5].map(core.openBackoff(500, undefined))).toEqual([500, 500])
  })

  it("openTable reads a table and repeats its last delay; an empty table falls back", () => {
    const table = core.openTable([1000, 1000, 2000], 30_000)
    expect([0, 1, 2, 3, 10].map(table)).toEqual([1000, 1000, 2000, 2000, 2000])
    expect(core.openTable([], 30_000)(3)).toBe(30_000)
  })
})

describe("breaker core: a store that hears of the fleet", () => {
  const connected = (overrides: Partial<core.Settings> = {}, gate: (now: number) => number = () => 0) => {
    const inner = makeWindow(overrides.policy ?? consecutive(5))
    let control: core.BreakerControl | undefined
    const decisions: Array<core.StoreDecision> = []
    const store: core.EvidenceStore = {
      record: (o, at) => inner.record(o, at),
      evidence: (at) => inner.evidence(at),
      clear: (at) => inner.clear(at),
      decide: (d) => {
        decisions.push(d)
      },
      connect: (c) => {
        control = c
      },
      probeGate: (now) => gate(now)
    }
    const made = breaker(overrides, store)
    if (control === undefined) throw new Error("not connected")
    return { ...made, control, decisions }
  }

  it("connects once, with the policy and a pure trip check", () => {
    const { control } = connected({ policy: countWindow(10, 4, 0.5) })
    expect(control.name).toBe("db")
    expect(control.trips({ calls: 3, failures: 3, slowCalls: 0, consecutiveFailures: 3 })).toBeUndefined()
    expect(control.trips({ calls: 4, failures: 2, slowCalls: 0, consecutiveFailures: 0 })).toBe("failure-rate")
    expect(control.trips({ calls: 4, failures: 1, slowCalls: 0, consecutiveFailures: 0 })).toBeUndefined()
  })

  it("opens on fleet evidence only when closed and in normal mode", () => {
    const { b, control, transitions } = connected()
    expect(control.openOnFleetEvidence(10)).toBe(true)
    expect(b.stateAt(10)).toBe("open")
    expect(transitions.at(-1)?.reason).toBe("fleet-evidence")
    expect(control.openOnFleetEvidence(20)).toBe(false)
    const other = connected()
    other.b.forceOpen(0)
    expect(other.control.openOnFleetEvidence(5)).toBe(false)
  })

  it("applies a remote opening with its time left and re-openings, then a remote close", () => {
    const { b, control, transitions, decisions } = connected()
    control.apply({ _tag: "Open", remainingMillis: 500, reopenings: 2 }, 100)
    expect(b.snapshotAt(100)).toMatchObject({ state: "open", openUntilMillis: 600, reopenings: 2 })
    expect(transitions.at(-1)).toMatchObject({ from: "closed", to: "open", reason: "fleet" })
    expect(decisions.at(-1)?.transition.reason).toBe("fleet")
    // a later opening only moves the end of the open period
    control.apply({ _tag: "Open", remainingMillis: 1000, reopenings: 3 }, 200)
    expect(b.snapshotAt(200)).toMatchObject({ state: "open", openUntilMillis: 1200, reopenings: 3 })
    expect(transitions).toHaveLength(1)
    control.apply({ _tag: "Closed" }, 300)
    expect(b.stateAt(300)).toBe("closed")
    expect(transitions.at(-1)).toMatchObject({ from: "open", to: "closed", reason: "fleet" })
    // closing a closed breaker is no transition
    control.apply({ _tag: "Closed" }, 400)
    expect(transitions).toHaveLength(2)
  })

  it("applies a remote forced open, and a remote close ends it; a local manual mode wins over a remote opening", () => {
    const { b, control } = connected()
    control.apply({ _tag: "ForcedOpen" }, 0)
    expect(b.stateAt(0)).toBe("forced-open")
    control.apply({ _tag: "Open", remainingMillis: 100, reopenings: 0 }, 1)
    expect(b.stateAt(1)).toBe("forced-open")
    control.apply({ _tag: "Closed" }, 2)
    expect(b.stateAt(2)).toBe("closed")
    b.disable(3)
    control.apply({ _tag: "Open", remainingMillis: 100, reopenings: 0 }, 4)
    control.apply({ _tag: "Closed" }, 5)
    expect(b.stateAt(5)).toBe("disabled")
  })

  it("asks the probe gate before each half-open probe, never while closed", () => {
    let gateCalls = 0
    let holder = false
    const { b } = connected({ openDurationFor: () => 100 }, () => {
      gateCalls++
      return holder ? 0 : 250
    })
    run(b, 3, success, 0)
    expect(gateCalls).toBe(0)
    run(b, 5, failed, 0)
    expect(b.stateAt(0)).toBe("open")
    const refused = b.admit(100)
    expect(refused).toMatchObject({ _tag: "Rejected", reason: "half-open", retryAfterMillis: 250 })
    expect(b.snapshotAt(100).probesInFlight).toBe(0)
    holder = true
    const probe = ticket(b.admit(101))
    expect(probe.probe).toBe(true)
    expect(gateCalls).toBe(2)
    // every slot taken: refused without asking the gate
    expect(b.admit(102)).toMatchObject({ _tag: "Rejected", reason: "half-open", retryAfterMillis: 0 })
    expect(gateCalls).toBe(2)
  })
})
