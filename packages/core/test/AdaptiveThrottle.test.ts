import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as ParseResult from "effect/ParseResult"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import { AdaptiveThrottle, Classification, Classifier, Errors, Strategy } from "../src/index.js"

const overload = Classification.make({ category: "throttled", code: "http.429", message: "Too many requests" })
const notFound = Classification.make({ category: "client", code: "http.404", message: "Not found" })

const classifier = Classifier.layerFrom((e) => (e === "429" ? overload : notFound))

/** `requests` admitted through the strategy interface at time 0, the first `accepts` accepted. */
const record = (throttle: AdaptiveThrottle.AdaptiveThrottle, requests: number, accepts: number) => {
  for (let i = 0; i < requests; i++) {
    const decision = throttle.admit(0, () => 0.999_999)
    if (decision._tag === "Admitted") {
      decision.settle(i < accepts ? { _tag: "Success" } : { _tag: "Failure", classification: overload }, 1, 0)
    }
  }
}

describe("AdaptiveThrottle", () => {
  it.scoped(
    "with a seeded Random, protect rejects about p of the calls locally, with BulkheadRejected(throttled)",
    () =>
      Effect.gen(function* () {
        const throttle = yield* AdaptiveThrottle.make({ name: "search", k: 1 })
        expect(throttle.component).toBe("adaptive-throttle")
        record(throttle, 10_000, 5_000)
        expect(throttle.probability()).toBeCloseTo(5_000 / 10_001, 9)
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
      }).pipe(Effect.provide(classifier))
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
    }).pipe(Effect.provide(classifier))
  )

  it.scoped("only failures classified as the backend's refusals count against accepts", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make()
      for (let i = 0; i < 10; i++) yield* Effect.either(AdaptiveThrottle.protect(Effect.fail("404"), throttle))
      expect(throttle.accepts()).toBe(10)
      for (let i = 0; i < 10; i++) yield* Effect.either(AdaptiveThrottle.protect(Effect.fail("429"), throttle))
      expect(throttle.requests()).toBe(20)
      expect(throttle.accepts()).toBe(10)
    }).pipe(Effect.provide(classifier), Effect.withRandom(Random.make(1)))
  )

  it.scoped("by default a timeout is the backend's refusal too (a server that queues shows overload as timeouts)", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make()
      const timedOut = new Errors.AttemptTimeout({ operation: "search", attempt: 1, timeoutMillis: 1000 })
      for (let i = 0; i < 10; i++) yield* Effect.either(AdaptiveThrottle.protect(Effect.fail(timedOut), throttle))
      expect(throttle.requests()).toBe(10)
      expect(throttle.accepts()).toBe(0)
    }).pipe(Effect.provide(Classifier.layer), Effect.withRandom(Random.make(1)))
  )

  it.scoped("counts only the window", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.make({ window: "1 minute", buckets: 60 })
      record(throttle, 100, 0)
      yield* TestClock.adjust("59999 millis")
      expect(throttle.requests()).toBe(100)
      yield* TestClock.adjust("1 millis")
      expect(throttle.requests()).toBe(0)
      expect(throttle.probability()).toBe(0)
    })
  )

  it.effect("a bad config fails make with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(AdaptiveThrottle.make({ window: 0 })))
      expect(ParseResult.isParseError(error)).toBe(true)
      expect(error.message).toContain("window")
      const k = yield* Effect.flip(Effect.scoped(AdaptiveThrottle.make({ k: 0 })))
      expect(k.message).toContain("k")
    })
  )

  it.effect("layer provides one throttle; protect is dual and the generic Strategy.protect agrees", () =>
    Effect.gen(function* () {
      const throttle = yield* AdaptiveThrottle.AdaptiveThrottle
      yield* AdaptiveThrottle.protect(Effect.void, throttle)
      yield* Effect.void.pipe(AdaptiveThrottle.protect(throttle))
      yield* Effect.void.pipe(Strategy.protect(throttle))
      expect(throttle.accepts()).toBe(3)
    }).pipe(Effect.provide(AdaptiveThrottle.layer({ name: "search" })), Effect.provide(classifier))
  )
})
