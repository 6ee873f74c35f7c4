/**
 * Property tests: random configs (written as a user would, decoded by the breaker's schema) and
 * random sequences of calls, outcomes, clock steps and manual actions, run against the breaker's
 * decision core (plain TypeScript, no Effect) and against a small reference model written
 * here (plain arrays, no rings or buckets). After every step the admission decisions, state and
 * counts must agree, and two invariants are checked on the breaker alone:
 * - never more unsettled probe permits than `maxProbes`;
 * - never half-open -> closed without `successThreshold` probe successes in that half-open period.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import * as CircuitBreaker from "../../src/CircuitBreaker.js"
import { settingsOf } from "../../src/internal/circuitBreaker/binding.js"
import * as core from "../../src/internal/circuitBreaker/core.js"
import { makeWindow } from "../../src/internal/circuitBreaker/window.js"
import * as strategy from "../../src/internal/strategy/core.js"

const counted = strategy.failure({ category: "server", retryable: true, countsForBreaker: true })
const ignored = strategy.failure({ category: "client", retryable: false, countsForBreaker: false })

// ---------------------------------------------------------------------------------------------
// Config generator (written as a user would, then decoded by the breaker)
// ---------------------------------------------------------------------------------------------

const slowCallArb = fc.option(
  fc.record({ duration: fc.constantFrom(10, 20, 30, 50), rateThreshold: fc.constantFrom(0.25, 0.5, 1) }),
  { nil: undefined }
)

const policyArb: fc.Arbitrary<CircuitBreaker.ConfigInput["policy"]> = fc.oneof(
  fc.record({ _tag: fc.constant("ConsecutiveFailures" as const), threshold: fc.integer({ min: 1, max: 4 }) }),
  fc
    .record({
      size: fc.integer({ min: 1, max: 6 }),
      minimum: fc.integer({ min: 1, max: 6 }),
      failureRateThreshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
      slowCall: slowCallArb
    })
    .map(({ size, minimum, failureRateThreshold, slowCall }) => ({
      _tag: "CountWindow" as const,
      size,
      minimumCalls: Math.min(minimum, size),
      failureRateThreshold,
      ...(slowCall === undefined ? {} : { slowCall })
    })),
  fc
    .record({
      window: fc.integer({ min: 100, max: 1000 }),
      buckets: fc.integer({ min: 1, max: 5 }),
      minimumCalls: fc.integer({ min: 1, max: 4 }),
      failureRateThreshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
      slowCall: slowCallArb
    })
    .map(({ slowCall, ...rest }) => ({
      _tag: "TimeWindow" as const,
      ...rest,
      ...(slowCall === undefined ? {} : { slowCall })
    }))
)

const configArb = fc.record({
  policy: policyArb,
  openDuration: fc.integer({ min: 50, max: 500 }),
  openBackoff: fc.option(
    fc.record({ multiplier: fc.constantFrom(1, 1.5, 2), max: fc.integer({ min: 100, max: 2000 }) }),
    {
      nil: undefined
    }
  ),
  halfOpen: fc.record({ maxProbes: fc.integer({ min: 1, max: 3 }), successThreshold: fc.integer({ min: 1, max: 3 }) })
})

type Op =
  | { readonly _tag: "acquire" }
  | {
      readonly _tag: "settle"
      readonly index: number
      readonly outcome: "success" | "failure" | "ignored" | "neutral"
      readonly duration: number
    }
  | { readonly _tag: "advance"; readonly millis: number }
  | { readonly _tag: "manual"; readonly action: "forceOpen" | "forceClosed" | "disable" | "metricsOnly" | "reset" }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 50, arbitrary: fc.record({ _tag: fc.constant("acquire" as const) }) },
  {
    weight: 50,
    arbitrary: fc.record({
      _tag: fc.constant("settle" as const),
      // mostly one of the latest permits (probes are settled often), sometimes any (stale permits)
      index: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: -3, max: -1 }) }, { weight: 1, arbitrary: fc.nat() }),
      outcome: fc.constantFrom("success" as const, "failure" as const, "ignored" as const, "neutral" as const),
      duration: fc.oneof(fc.integer({ min: 0, max: 60 }), fc.constantFrom(10, 20, 30, 50))
    })
  },
  {
    weight: 25,
    arbitrary: fc.record({ _tag: fc.constant("advance" as const), millis: fc.integer({ min: 1, max: 400 }) })
  },
  {
    weight: 1,
    arbitrary: fc.record({
      _tag: fc.constant("manual" as const),
      action: fc.constantFrom(
        "reset" as const,
        "forceClosed" as const,
        "forceOpen" as const,
        "forceClosed" as const,
        "disable" as const,
        "metricsOnly" as const,
        "reset" as const
      )
    })
  }
)

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

type ModelPermit = {
  readonly kind: "closed" | "probe" | "bypass" | "metrics"
  readonly epoch: number
  settled: boolean
}
type ModelDecision =
  | ModelPermit
  | { readonly kind: "reject"; readonly state: string; readonly retryAfterMillis: number }
type Entry = { readonly at: number; readonly failed: boolean; readonly slow: boolean }

class Model {
  mode: "normal" | "forced-open" | "disabled" | "metrics-only" = "normal"
  state: "closed" | "open" | "half-open" = "closed"
  epoch = 0
  openUntil = 0
  reopenings = 0
  inFlight = 0
  successes = 0
  entries: Array<Entry> = []
  consecutive = 0
  lastTransitionAt = 0

  constructor(readonly config: CircuitBreaker.Config) {}

  reported(): string {
    return this.mode === "normal" ? this.state : this.mode
  }
  openFor(k: number): number {
    const base = Duration.toMillis(this.config.openDuration)
    const b = this.config.openBackoff
    return b === undefined ? base : Math.min(base * b.multiplier ** k, Duration.toMillis(b.max))
  }
  slowMillis(): number {
    const p = this.config.policy
    if (p._tag === "ConsecutiveFailures" || p.slowCall === undefined) return Number.POSITIVE_INFINITY
    return Duration.toMillis(p.slowCall.duration)
  }
  moved(from: string, now: number) {
    this.epoch++
    if (from !== this.reported()) this.lastTransitionAt = now
  }
  window(now: number): Array<Entry> {
    const p = this.config.policy
    if (p._tag === "CountWindow") return this.entries.slice(-p.size)
    if (p._tag === "TimeWindow") {
      const width = Duration.toMillis(p.window) / p.buckets
      const current = Math.floor(now / width)
      return this.entries.filter((e) => Math.floor(e.at / width) > current - p.buckets)
    }
    return this.entries
  }
  record(failed: boolean, slow: boolean, now: number) {
    this.entries.push({ at: now, failed, slow })
    this.consecutive = failed ? this.consecutive + 1 : 0
  }
  clear() {
    this.entries = []
    this.consecutive = 0
  }
  open(now: number) {
    const from = this.reported()
    this.state = "open"
    this.openUntil = now + this.openFor(this.reopenings)
    this.moved(from, now)
  }
  close(now: number) {
    const from = this.reported()
    this.state = "closed"
    this.reopenings = 0
    this.successes = 0
    this.clear()
    this.moved(from, now)
  }
  refresh(now: number) {
    if (this.mode === "normal" && this.state === "open" && now >= this.openUntil) {
      this.state = "half-open"
      this.successes = 0
      this.moved("open", now)
    }
  }
  acquire(now: number): ModelDecision {
    if (this.mode === "disabled") return { kind: "bypass", epoch: this.epoch, settled: false }
    if (this.mode === "metrics-only") return { kind: "metrics", epoch: this.epoch, settled: false }
    if (this.mode === "forced-open")
      return { kind: "reject", state: "forced-open", retryAfterMillis: Number.POSITIVE_INFINITY }
    this.refresh(now)
    if (this.state === "closed") return { kind: "closed", epoch: this.epoch, settled: false }
    if (this.state === "open") return { kind: "reject", state: "open", retryAfterMillis: this.openUntil - now }
    if (this.inFlight < this.config.halfOpen.maxProbes) {
      this.inFlight++
      return { kind: "probe", epoch: this.epoch, settled: false }
    }
    return { kind: "reject", state: "half-open", retryAfterMillis: 0 }
  }
  evaluate(now: number) {
    const p = this.config.policy
    if (p._tag === "ConsecutiveFailures") {
      if (this.consecutive >= p.threshold) this.open(now)
      return
    }
    const w = this.window(now)
    if (w.length === 0 || w.length < p.minimumCalls) return
    const failures = w.filter((e) => e.failed).length
    const slow = w.filter((e) => e.slow).length
    if (failures / w.length >= p.failureRateThreshold) this.open(now)
    else if (p.slowCall !== undefined && slow / w.length >= p.slowCall.rateThreshold) this.open(now)
  }
  settle(permit: ModelPermit, outcome: "success" | "failure" | "neutral", duration: number, now: number) {
    const current = permit.epoch === this.epoch
    if (permit.kind === "probe") {
      if (permit.settled) return
      permit.settled = true
      this.inFlight--
      if (!current || outcome === "neutral") return
    }
    if (outcome === "neutral" || !current) return
    const slow = duration >= this.slowMillis()
    const failed = outcome === "failure"
    if (permit.kind === "closed") {
      this.record(failed, slow, now)
      this.evaluate(now)
    } else if (permit.kind === "metrics") {
      this.record(failed, slow, now)
    } else if (permit.kind === "probe") {
      this.record(failed, slow, now)
      if (failed || slow) {
        this.reopenings++
        this.open(now)
      } else if (++this.successes >= this.config.halfOpen.successThreshold) {
        this.close(now)
      }
    }
  }
  manual(action: Op & { _tag: "manual" }, now: number) {
    this.refresh(now)
    const from = this.reported()
    if (action.action === "forceClosed" || action.action === "reset") {
      this.mode = "normal"
      this.state = "closed"
      this.reopenings = 0
      this.successes = 0
      this.clear()
    } else {
      this.mode =
        action.action === "forceOpen" ? "forced-open" : action.action === "disable" ? "disabled" : "metrics-only"
      if (this.mode === "metrics-only") this.clear()
    }
    this.moved(from, now)
  }
  snapshot(now: number) {
    this.refresh(now)
    const w = this.window(now)
    const state = this.reported()
    return {
      state,
      calls: w.length,
      failures: w.filter((e) => e.failed).length,
      slowCalls: w.filter((e) => e.slow).length,
      consecutiveFailures: this.consecutive,
      probesInFlight: this.inFlight,
      probeSuccesses: state === "half-open" ? this.successes : 0,
      reopenings: this.reopenings,
      lastTransitionAtMillis: this.lastTransitionAt
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The property
// ---------------------------------------------------------------------------------------------

const decodeConfig = Schema.decodeUnknownSync(CircuitBreaker.Config)

const makeBreaker = (config: CircuitBreaker.Config) => {
  const base = Duration.toMillis(config.openDuration)
  const backoff = config.openBackoff
  const openDurationFor = core.openBackoff(
    base,
    backoff === undefined ? undefined : { multiplier: backoff.multiplier, maxMillis: Duration.toMillis(backoff.max) }
  )
  const settings = settingsOf(config, openDurationFor)
  return new core.Breaker(settings, makeWindow(settings.policy), () => {}, 0)
}

interface Held {
  readonly permit: core.Ticket
  readonly model: ModelPermit
  halfOpenPeriod: number
}

const run = (input: typeof configArb extends fc.Arbitrary<infer C> ? C : never, ops: ReadonlyArray<Op>) => {
  const configInput: CircuitBreaker.ConfigInput = {
    policy: input.policy,
    openDuration: input.openDuration,
    halfOpen: input.halfOpen,
    ...(input.openBackoff === undefined ? {} : { openBackoff: input.openBackoff })
  }
  const config = decodeConfig(configInput)
  const breaker = makeBreaker(config)
  const model = new Model(config)
  const { maxProbes, successThreshold } = config.halfOpen
  let now = 0
  const held: Array<Held> = []
  let period = 0
  let periodWins = 0
  let lastState = breaker.snapshotAt(now).state

  const observe = () => {
    const actual = breaker.snapshotAt(now)
    const expected = model.snapshot(now)
    // compare field by field, and only build a readable failure when something differs (speed)
    const differs = (Object.keys(expected) as Array<keyof typeof expected>).some((k) => actual[k] !== expected[k])
    if (differs) {
      const { failureRate: _, slowCallRate: __, name: ___, policy: ____, openUntilMillis: _____, ...rest } = actual
      const { retryAfterMillis: ______, ...shown } = rest
      expect(shown).toEqual(expected)
    }
    if (actual.state === "open") {
      if (actual.openUntilMillis !== model.openUntil) expect(actual.openUntilMillis).toBe(model.openUntil)
    } else if (actual.retryAfterMillis !== undefined) {
      expect(actual.retryAfterMillis).toBeUndefined()
    }
    if (actual.state === "half-open" && lastState !== "half-open") {
      period++
      periodWins = 0
    }
    return actual.state
  }

  for (const op of ops) {
    let manual = false
    let acquired: Held | undefined
    switch (op._tag) {
      case "advance":
        now += op.millis
        continue
      case "acquire": {
        const decision = breaker.admit(now)
        const expected = model.acquire(now)
        if (
          decision._tag === "Rejected" &&
          (expected.kind !== "reject" ||
            expected.state !== decision.reason ||
            expected.retryAfterMillis !== decision.retryAfterMillis)
        ) {
          expect(expected).toEqual({
            kind: "reject",
            state: decision.reason,
            retryAfterMillis: decision.retryAfterMillis
          })
        } else if (decision._tag === "Admitted") {
          if (expected.kind === "reject" || decision.probe !== (expected.kind === "probe")) {
            expect({ probe: decision.probe }).toEqual(expected)
          }
          if (expected.kind !== "reject") {
            acquired = { permit: decision, model: expected, halfOpenPeriod: -1 }
            held.push(acquired)
          }
        }
        break
      }
      case "settle": {
        if (held.length === 0) continue
        const index = op.index < 0 ? Math.max(0, held.length + op.index) : op.index % held.length
        const [h] = held.splice(index, 1)
        if (h === undefined) continue
        if (op.outcome === "success") {
          h.permit.settle(strategy.success, op.duration, now)
          model.settle(h.model, "success", op.duration, now)
          if (h.permit.probe && h.halfOpenPeriod === period && op.duration <= model.slowMillis()) periodWins++
        } else if (op.outcome === "failure") {
          h.permit.settle(counted, op.duration, now)
          model.settle(h.model, "failure", op.duration, now)
        } else if (op.outcome === "ignored") {
          h.permit.settle(ignored, op.duration, now)
          model.settle(h.model, "neutral", op.duration, now)
        } else {
          h.permit.settle(strategy.neutral, op.duration, now)
          model.settle(h.model, "neutral", op.duration, now)
        }
        break
      }
      case "manual": {
        manual = true
        breaker[op.action](now)
        model.manual(op, now)
        break
      }
    }
    // Invariant: never more unsettled probes than permitted (counted by the harness).
    let unsettledProbes = 0
    for (const h of held) if (h.permit.probe) unsettledProbes++
    if (unsettledProbes > maxProbes) expect(unsettledProbes).toBeLessThanOrEqual(maxProbes)
    const state = observe()
    if (acquired !== undefined) acquired.halfOpenPeriod = period
    // Invariant: half-open -> closed only after successThreshold probe successes in that period.
    if (!manual && lastState === "half-open" && state === "closed") {
      if (periodWins < successThreshold) expect(periodWins).toBeGreaterThanOrEqual(successThreshold)
      coverage.closedFromHalfOpen++
    }
    if (!manual && lastState === "closed" && state === "open" && config.policy._tag !== "ConsecutiveFailures") {
      coverage.windowTrips++
    }
    if (!manual && lastState === "half-open" && state === "open") coverage.reopened++
    lastState = state
  }
}

/** How often the interesting paths were taken: a property that never reaches them proves nothing. */
const coverage = { closedFromHalfOpen: 0, windowTrips: 0, reopened: 0 }

describe("CircuitBreaker properties", () => {
  it("agrees with the reference model and keeps its invariants", () => {
    fc.assert(
      fc.property(configArb, fc.array(opArb, { minLength: 10, maxLength: 200, size: "max" }), (config, ops) =>
        run(config, ops)
      ),
      { numRuns: 400 }
    )
    expect(coverage.closedFromHalfOpen).toBeGreaterThan(30)
    expect(coverage.windowTrips).toBeGreaterThan(30)
    expect(coverage.reopened).toBeGreaterThan(30)
  })
})
