import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Either from "effect/Either"
import * as Random from "effect/Random"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { AdaptiveThrottle, Classification, Classifier, Errors, Events } from "../src/index.js"

const sre = (requests: number, accepts: number, k: number) => Math.max(0, (requests - k * accepts) / (requests + 1))

/** Records `requests` requests of which `accepts` were accepted, without any local rejection. */
const record = (throttle: AdaptiveThrottle.AdaptiveThrottleService, requests: number, accepts: number) => {
  for (let i = 0; i < requests; i++) throttle.admit(1)
  for (let i = 0; i < accepts; i++) throttle.onAccepted()
}

describe("AdaptiveThrottle", () => {
  it.effect("property: the rejection probability is max(0, (req - K*acc) / (req + 1)), 0 when all accepted", () =>
    Effect.gen(function* () {
      const samples = fc.sample(
        fc
          .record({
            requests: fc.integer({ min: 0, max: 5000 }),
            acceptedRatio: fc.double({ min: 0, max: 1, noNaN: true }),
            k: fc.double({ min: 0.5, max: 4, noNaN: true }),
            u: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true })
          })
          .map(({ requests, acceptedRatio, k, u }) => ({
            requests,
            accepts: Math.floor(requests * acceptedRatio),
            k,
            u
          })),
        { numRuns: 200, seed: 42 }
      )
      for (const { requests, accepts, k, u } of samples) {
        const throttle = yield* Effect.scoped(AdaptiveThrottle.make({ k }))
        record(throttle, requests, accepts)
        const p = throttle.probability()
        expect(p).toBeCloseTo(sre(requests, accepts, k), 12)
        expect(p).toBeGreaterThanOrEqual(0)
        expect(p).toBeLessThan(1)
        // the decision is exactly "reject when u < p"
        expect(throttle.admit(u)).toBe(u >= p)
        // with K >= 1, a client whose requests were all accepted never rejects
        const all = yield* Effect.scoped(AdaptiveThrottle.make({ k: Math.max(1, k) }))
        record(all, requests, requests)
        expect(all.probability()).toBe(0)
      }
    })
  )

  it.effect("fast-check property over the synchronous core", () =>
    Effect.gen(function* () {
      const throttle = yield* Effect.scoped(AdaptiveThrottle.make())
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), (requests, extra) => {
          throttle.reset()
          const accepts = Math.min(requests, extra)
          record(throttle, requests, accepts)
          return Math.abs(throttle.probability() - sre(requests, accepts, 2)) < 1e-12
        }),
        { seed: 7, numRuns: 300 }
      )
    })
  )

  it.scoped("counts only the last 2 minutes", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make()
      record(throttle, 100, 0)
      expect(throttle.probability()).toBeCloseTo(100 / 101, 12)
      yield* TestClock.adjust("60 seconds")
      record(throttle, 50, 50)
      expect(throttle.probability()).toBeCloseTo(50 / 151, 12)
      yield* TestClock.adjust("59999 millis")
      expect(throttle.requests()).toBe(150)
      yield* TestClock.adjust("1 millis")
      // the first 100 requests are 2 minutes old: gone
      expect(throttle.requests()).toBe(50)
      expect(throttle.accepts()).toBe(50)
      expect(throttle.probability()).toBe(0)
      yield* TestClock.adjust("60 seconds")
      expect(throttle.requests()).toBe(0)
    })
  )

  it.scoped(
    "with a seeded Random, protect rejects about p of the calls locally, with BulkheadRejected(throttled)",
    () =>
      Effect.gen(function* () {
        const hub = yield* Events.ResilienceEvents
        const events = yield* hub.subscribe
        const throttle = yield* AdaptiveThrottle.make({ name: "search", k: 1 })
        record(throttle, 10_000, 5_000)
        let ran = 0
        const results = yield* Effect.forEach(Array.from({ length: 2000 }), () =>
          Effect.either(
            Effect.sync(() => {
              ran++
            }).pipe(AdaptiveThrottle.protect(throttle))
          )
        ).pipe(Effect.withRandom(Random.make(1234)))
        const rejected = results.filter(Either.isLeft)
        // p stays within 0.49..0.52 while these calls run
        expect(rejected.length / results.length).toBeGreaterThan(0.45)
        expect(rejected.length / results.length).toBeLessThan(0.56)
        expect(ran).toBe(results.length - rejected.length)
        expect(rejected[0]?.left).toEqual(new Errors.BulkheadRejected({ bulkhead: "search", reason: "throttled" }))
        expect(throttle.requests()).toBe(12_000)
        expect(throttle.accepts()).toBe(5_000 + ran)
        const seen = yield* Stream.runCollect(Stream.take(events, 1))
        expect(Chunk.toReadonlyArray(seen)).toEqual([
          Events.ResilienceEvent.Rejected({ component: "adaptive-throttle", name: "search", reason: "throttled" })
        ])
      }).pipe(Effect.provide(Events.layer()))
  )

  it.scoped("an admitted call counts when it ends; an interrupted one does not count", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make()
      const fiber = yield* Effect.fork(AdaptiveThrottle.protect(Effect.sleep("1 second"), throttle))
      yield* TestClock.adjust("500 millis")
      expect(throttle.requests()).toBe(0)
      yield* Fiber.interrupt(fiber)
      expect(throttle.requests()).toBe(0)
      const done = yield* Effect.fork(AdaptiveThrottle.protect(Effect.sleep("1 second"), throttle))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(done)
      expect(throttle.requests()).toBe(1)
      expect(throttle.accepts()).toBe(1)
    })
  )

  it.scoped("a healthy client is never throttled", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make()
      for (let i = 0; i < 500; i++) yield* AdaptiveThrottle.protect(Effect.void, throttle)
      expect(throttle.probability()).toBe(0)
      expect(throttle.accepts()).toBe(500)
    })
  )

  it.scoped("only overload failures count against accepts when a Classifier is present", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make()
      for (let i = 0; i < 10; i++) yield* Effect.either(AdaptiveThrottle.protect(Effect.fail("404"), throttle))
      expect(throttle.accepts()).toBe(10)
      for (let i = 0; i < 10; i++) yield* Effect.either(AdaptiveThrottle.protect(Effect.fail("429"), throttle))
      expect(throttle.requests()).toBe(20)
      expect(throttle.accepts()).toBe(10)
    }).pipe(
      Effect.provide(
        Classifier.layerFrom((e) =>
          e === "429"
            ? Classification.make({ category: "throttled", code: "http.429", message: "Too many requests" })
            : Classification.make({ category: "client", code: "http.404", message: "Not found" })
        )
      ),
      Effect.withRandom(Random.make(1))
    )
  )

  it.scoped("without a Classifier every failure counts as refused", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make()
      for (let i = 0; i < 10; i++) yield* Effect.either(AdaptiveThrottle.protect(Effect.fail("x"), throttle))
      expect(throttle.requests()).toBe(10)
      expect(throttle.accepts()).toBe(0)
    }).pipe(Effect.withRandom(Random.make(1)))
  )
})
