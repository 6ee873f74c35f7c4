/**
 * The fleet's decision on pooled evidence against a reference model written here with plain
 * arithmetic: random policies (as the breaker's core holds them), random windows of 1 to 6
 * processes and random quorums. The decision uses the breaker core's own trip rule, as the store
 * does through its control.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { tripReason } from "../../core/src/internal/circuitBreaker/core.js"
import type * as core from "../../core/src/internal/circuitBreaker/core.js"
import * as fleet from "../src/internal/fleet.js"

const policyArb: fc.Arbitrary<core.Policy> = fc.oneof(
  fc.record({ _tag: fc.constant("ConsecutiveFailures" as const), threshold: fc.integer({ min: 1, max: 8 }) }),
  fc.record({
    _tag: fc.constant("CountWindow" as const),
    size: fc.constant(100),
    minimumCalls: fc.integer({ min: 1, max: 30 }),
    failureRateThreshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
    slowCallMillis: fc.constantFrom(50, Number.POSITIVE_INFINITY),
    slowCallRateThreshold: fc.constantFrom(0.5, 1, Number.POSITIVE_INFINITY)
  }),
  fc.record({
    _tag: fc.constant("TimeWindow" as const),
    windowMillis: fc.constant(10_000),
    buckets: fc.constant(10),
    minimumCalls: fc.integer({ min: 1, max: 30 }),
    failureRateThreshold: fc.constantFrom(0.25, 0.5, 0.75, 1),
    slowCallMillis: fc.constant(50),
    slowCallRateThreshold: fc.constantFrom(0.5, 1)
  })
)

const entryArb: fc.Arbitrary<fleet.Evidence> = fc
  .record({ calls: fc.integer({ min: 0, max: 20 }), failed: fc.nat(), slow: fc.nat(), consecutive: fc.nat() })
  .map(({ calls, failed, slow, consecutive }) => {
    const failures = calls === 0 ? 0 : failed % (calls + 1)
    return {
      calls,
      failures,
      slowCalls: calls === 0 ? 0 : slow % (calls + 1),
      consecutiveFailures: failures === 0 ? 0 : consecutive % (failures + 1)
    }
  })

const quorumArb = fc.record({
  processes: fc.integer({ min: 1, max: 4 }),
  share: fc.constantFrom(0, 0.25, 0.5, 1)
})

/** The reference: sums by hand, the policy's rule written out, failing processes counted with a filter. */
const reference = (policy: core.Policy, entries: ReadonlyArray<fleet.Evidence>, quorum: fleet.Quorum): boolean => {
  const sum = (f: (e: fleet.Evidence) => number) => entries.map(f).reduce((a, b) => a + b, 0)
  const calls = sum((e) => e.calls)
  const failures = sum((e) => e.failures)
  const slow = sum((e) => e.slowCalls)
  const trips =
    policy._tag === "ConsecutiveFailures"
      ? sum((e) => e.consecutiveFailures) >= policy.threshold
      : calls > 0 &&
        calls >= policy.minimumCalls &&
        (failures / calls >= policy.failureRateThreshold || slow / calls >= policy.slowCallRateThreshold)
  const failing = entries.filter((e) =>
    policy._tag === "ConsecutiveFailures"
      ? e.consecutiveFailures > 0
      : e.calls > 0 &&
        ((e.failures > 0 && e.failures / e.calls >= policy.failureRateThreshold) ||
          (e.slowCalls > 0 && e.slowCalls / e.calls >= policy.slowCallRateThreshold))
  ).length
  return trips && failing >= 1 && failing >= quorum.processes && failing / entries.length >= quorum.share
}

describe("the fleet's decision on pooled evidence", () => {
  it("agrees with the reference model", () => {
    fc.assert(
      fc.property(
        policyArb,
        fc.array(entryArb, { minLength: 1, maxLength: 6 }),
        quorumArb,
        (policy, entries, quorum) => {
          const decided = fleet.fleetOpens(policy, (e) => tripReason(policy, e) !== undefined, entries, quorum)
          expect(decided).toBe(reference(policy, entries, quorum))
        }
      ),
      { numRuns: 2000 }
    )
  })

  it("never opens the fleet on one sick process when the quorum asks for two or more", () => {
    fc.assert(
      fc.property(
        policyArb,
        entryArb,
        fc.array(entryArb, { maxLength: 5 }),
        fc.integer({ min: 2, max: 4 }),
        (policy, sick, others, processes) => {
          // the others report no failures at all
          const healthy = others.map((e) => ({ ...e, failures: 0, slowCalls: 0, consecutiveFailures: 0 }))
          const decided = fleet.fleetOpens(policy, (e) => tripReason(policy, e) !== undefined, [sick, ...healthy], {
            processes,
            share: 0
          })
          expect(decided).toBe(false)
        }
      )
    )
  })

  it("encodes and decodes windows and states", () => {
    fc.assert(
      fc.property(entryArb, (e) => {
        expect(fleet.decode(`${fleet.encode(e)},1733400000000`)).toEqual(e)
      })
    )
    expect(fleet.decodeState("open|1000|2|900")).toEqual({
      _tag: "Open",
      untilMillis: 1000,
      reopenings: 2,
      atMillis: 900
    })
    expect(fleet.decodeState("forced|5")).toEqual({ _tag: "ForcedOpen", atMillis: 5 })
    expect(fleet.decodeState("closed|7")).toEqual({ _tag: "Closed", atMillis: 7 })
    expect(fleet.decodeState("")).toBeUndefined()
    expect(fleet.decodeState("open|x|1|2")).toBeUndefined()
    expect(fleet.decode("1,2")).toBeUndefined()
  })
})
