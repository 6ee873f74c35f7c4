/**
 * 10,000 protected calls in flight through one pipeline (breaker, bulkhead, attempt timeout),
 * interrupted all at once: every bulkhead slot and queue place, every breaker probe permit and every
 * attempt timer is given back. Time is TestClock's, seen through a Clock that counts the sleeps in
 * progress (TestClock's own list keeps interrupted sleeps until their time comes), so "pending
 * timers" is that count.
 */
import { Classifier, Resilience } from "@effect-resilience/core"
import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Deferred from "effect/Deferred"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as TestClock from "effect/TestClock"

const CALLS = 10_000

/** `inner`, counting the sleeps (timers) that have started and not yet ended or been interrupted. */
const countingClock = (inner: Clock.Clock) => {
  let pending = 0
  const clock: Clock.Clock = {
    [Clock.ClockTypeId]: Clock.ClockTypeId,
    unsafeCurrentTimeMillis: () => inner.unsafeCurrentTimeMillis(),
    unsafeCurrentTimeNanos: () => inner.unsafeCurrentTimeNanos(),
    currentTimeMillis: inner.currentTimeMillis,
    currentTimeNanos: inner.currentTimeNanos,
    sleep: (duration) =>
      Effect.suspend(() => {
        pending++
        return Effect.ensuring(
          inner.sleep(duration),
          Effect.sync(() => {
            pending--
          })
        )
      })
  }
  return { clock, pending: () => pending }
}

/** Runs `f` with the counting clock over the test's TestClock. */
const withCountingClock = <A, E, R>(
  f: (
    pendingTimers: () => number,
    adjust: (duration: Duration.DurationInput) => Effect.Effect<void>
  ) => Effect.Effect<A, E, R>
) =>
  Effect.flatMap(Effect.clock, (inner) => {
    const counting = countingClock(inner)
    return Effect.withClock(
      f(counting.pending, (duration) => Effect.withClock(TestClock.adjust(duration), inner)),
      counting.clock
    )
  })

const policy = (maxProbes: number): Resilience.PolicyInput => ({
  operation: "soak",
  attemptTimeout: "5 seconds",
  retry: false,
  breaker: {
    policy: { _tag: "CountWindow", size: 100, minimumCalls: 100, failureRateThreshold: 0.5 },
    openDuration: "1 second",
    halfOpen: { maxProbes, successThreshold: maxProbes }
  },
  bulkhead: { maxConcurrent: 200, maxQueue: CALLS }
})

/** Starts `CALLS` calls that never end on their own; resolves once `started` have begun. */
const flood = (pipeline: Resilience.Pipeline, started: number) =>
  Effect.gen(function* () {
    let running = 0
    const reached = yield* Deferred.make<void>()
    const call = Effect.suspend(() => {
      running++
      return running === started ? Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never) : Effect.never
    })
    const fibers = yield* Effect.forEach(Array.from({ length: CALLS }), () => Effect.fork(pipeline.protect(call)))
    yield* Deferred.await(reached)
    // let every forked call reach the bulkhead's queue
    for (let i = 0; i < 1_000 && (pipeline.bulkhead?.queued() ?? 0) < CALLS - started; i++) yield* Effect.yieldNow()
    return fibers
  })

describe("10,000 calls interrupted at once", () => {
  it.scoped("closed breaker: bulkhead slots, queue places and attempt timers all released", () =>
    withCountingClock((pendingTimers) =>
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make(policy(1))
        const bulkhead = pipeline.bulkhead
        expect(bulkhead).toBeDefined()
        if (bulkhead === undefined) return
        const fibers = yield* flood(pipeline, 200)
        expect(bulkhead.active()).toBe(200)
        expect(bulkhead.queued()).toBe(CALLS - 200)
        // attempt timers, and the timers of calls waiting in the bulkhead's queue
        expect(pendingTimers()).toBeGreaterThanOrEqual(200)

        yield* Fiber.interruptAll(fibers)
        expect(bulkhead.active()).toBe(0)
        expect(bulkhead.queued()).toBe(0)
        expect(pendingTimers()).toBe(0)
        const snapshot = yield* pipeline.breaker!.snapshot
        expect(snapshot.state).toBe("closed")
        expect(snapshot.probesInFlight).toBe(0)
        // and the pipeline still works: the next call gets a slot at once
        expect(yield* pipeline.protect(Effect.succeed(1))).toBe(1)
        expect(bulkhead.active()).toBe(0)
        for (let i = 0; i < 100 && pendingTimers() > 0; i++) yield* Effect.yieldNow()
        expect(pendingTimers()).toBe(0)
      })
    ).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("half-open breaker: every probe permit given back, so the next probe is admitted", () =>
    withCountingClock((pendingTimers, adjust) =>
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make(policy(100))
        const breaker = pipeline.breaker!
        const bulkhead = pipeline.bulkhead!
        yield* breaker.forceOpen
        yield* breaker.reset
        // open it by failures, wait out the open duration: half-open with 100 probe permits
        yield* Effect.forEach(Array.from({ length: 100 }), () =>
          Effect.either(pipeline.protect(Effect.fail(new Error("boom"))))
        )
        expect((yield* breaker.snapshot).state).toBe("open")
        yield* adjust("1 second")
        let admitted = 0
        const reached = yield* Deferred.make<void>()
        const probe = Effect.suspend(() => {
          admitted++
          return admitted === 100 ? Effect.zipRight(Deferred.succeed(reached, undefined), Effect.never) : Effect.never
        })
        const fibers = yield* Effect.forEach(Array.from({ length: CALLS }), () =>
          Effect.fork(Effect.either(pipeline.protect(probe)))
        )
        yield* Deferred.await(reached)
        const during = yield* breaker.snapshot
        expect(during.state).toBe("half-open")
        expect(during.probesInFlight).toBe(100)
        expect(pendingTimers()).toBe(100)

        yield* Fiber.interruptAll(fibers)
        const after = yield* breaker.snapshot
        expect(after.probesInFlight).toBe(0)
        expect(bulkhead.active()).toBe(0)
        expect(bulkhead.queued()).toBe(0)
        expect(pendingTimers()).toBe(0)
        // the permits really are free: a new probe is admitted and closes the breaker
        yield* Effect.forEach(Array.from({ length: 100 }), () => pipeline.protect(Effect.void))
        expect((yield* breaker.snapshot).state).toBe("closed")
        // a finished attempt cancels its timer fiber without waiting for it: let those run
        for (let i = 0; i < 100 && pendingTimers() > 0; i++) yield* Effect.yieldNow()
        expect(pendingTimers()).toBe(0)
      })
    ).pipe(Effect.provide(Classifier.layer))
  )
})
