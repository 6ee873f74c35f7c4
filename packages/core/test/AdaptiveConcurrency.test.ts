import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as ParseResult from "effect/ParseResult"
import * as TestClock from "effect/TestClock"
import { AdaptiveConcurrency, Classification, Classifier, Errors } from "../src/index.js"

const waitUntil = (condition: () => boolean, spins = 10_000): Effect.Effect<void> =>
  Effect.suspend(() =>
    condition()
      ? Effect.void
      : spins === 0
        ? Effect.dieMessage("condition never held")
        : Effect.zipRight(Effect.yieldNow(), waitUntil(condition, spins - 1))
  )

const classifier = Classifier.layerFrom((e) =>
  e === "503"
    ? Classification.make({ category: "unavailable", code: "http.503", message: "Unavailable" })
    : Classification.make({ category: "client", code: "http.404", message: "Not found" })
)

describe("AdaptiveConcurrency", () => {
  it.scoped("over the limit, calls are rejected at once with BulkheadRejected(adaptive-limit)", () =>
    Effect.gen(function* () {
      const limit = yield* AdaptiveConcurrency.make({ name: "db", initialLimit: 1 })
      expect(limit.component).toBe("adaptive-concurrency")
      const running = yield* Effect.fork(AdaptiveConcurrency.protect(Effect.never, limit))
      yield* waitUntil(() => limit.inflight() === 1)
      const refused = yield* Effect.either(Effect.succeed(1).pipe(AdaptiveConcurrency.protect(limit)))
      expect(refused).toEqual(Either.left(new Errors.BulkheadRejected({ bulkhead: "db", reason: "adaptive-limit" })))
      yield* Fiber.interrupt(running)
      // interruption frees the slot without moving the limit
      expect(limit.inflight()).toBe(0)
      expect(limit.limit()).toBe(1)
    }).pipe(Effect.provide(classifier))
  )

  it.scoped("protect measures latency with the Clock: a call slower than the threshold is a drop", () =>
    Effect.gen(function* () {
      const limit = yield* AdaptiveConcurrency.make({ initialLimit: 10, latencyThreshold: "1 second" })
      const slow = yield* Effect.fork(AdaptiveConcurrency.protect(Effect.sleep("1001 millis"), limit))
      yield* TestClock.adjust("1001 millis")
      yield* Fiber.join(slow)
      expect(limit.limit()).toBe(9)
      const fast = yield* Effect.fork(AdaptiveConcurrency.protect(Effect.sleep("1000 millis"), limit))
      yield* TestClock.adjust("1000 millis")
      yield* Fiber.join(fast)
      // not a drop; only 1 of 9 in use, so no growth either
      expect(limit.limit()).toBe(9)
    }).pipe(Effect.provide(classifier))
  )

  it.scoped("only failures classified as overload are drops", () =>
    Effect.gen(function* () {
      const limit = yield* AdaptiveConcurrency.make({ initialLimit: 10 })
      yield* Effect.either(AdaptiveConcurrency.protect(Effect.fail("404"), limit))
      expect(limit.limit()).toBe(10)
      yield* Effect.either(AdaptiveConcurrency.protect(Effect.fail("503"), limit))
      expect(limit.limit()).toBe(9)
      expect(limit.inflight()).toBe(0)
    }).pipe(Effect.provide(classifier))
  )

  it.effect("a bad config fails make with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const range = yield* Effect.flip(Effect.scoped(AdaptiveConcurrency.make({ minLimit: 10, maxLimit: 5 })))
      expect(ParseResult.isParseError(range)).toBe(true)
      expect(range.message).toContain("minLimit")
      const threshold = yield* Effect.flip(Effect.scoped(AdaptiveConcurrency.make({ latencyThreshold: 0 })))
      expect(threshold.message).toContain("latencyThreshold")
    })
  )

  it.effect("layer provides one limit; protect is dual", () =>
    Effect.gen(function* () {
      const limit = yield* AdaptiveConcurrency.AdaptiveConcurrency
      yield* AdaptiveConcurrency.protect(Effect.void, limit)
      yield* Effect.void.pipe(AdaptiveConcurrency.protect(limit))
      expect(limit.limit()).toBe(20)
      expect(limit.inflight()).toBe(0)
    }).pipe(Effect.provide(AdaptiveConcurrency.layer({ name: "db" })), Effect.provide(classifier))
  )
})
