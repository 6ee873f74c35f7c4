import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as TestClock from "effect/TestClock"
import { Classifier, Deadline, Errors, RateLimiter } from "../src/index.js"

/** The delay `consume` reports for one more token of `key` (it reserves the token). */
const delayOf = (limiter: RateLimiter.RateLimiter, key: string) =>
  Effect.map(limiter.consume(key), (r) => Duration.toMillis(r.delay))

describe("RateLimiter", () => {
  it.scoped("a token bucket lets `limit` through, then fails with RateLimited(retryAfterMillis)", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ name: "api", limit: 4, window: "1 second" })
      expect(limiter.component).toBe("rate-limit")
      for (let i = 0; i < 4; i++) yield* Effect.void.pipe(RateLimiter.protect(limiter, { key: "t1" }))
      const refused = yield* Effect.either(RateLimiter.protect(Effect.void, limiter, { key: "t1" }))
      expect(refused).toEqual(Either.left(new Errors.RateLimited({ limiter: "api", retryAfterMillis: 250 })))
      // other keys have their own buckets
      yield* RateLimiter.protect(Effect.void, limiter, { key: "t2" })
      yield* TestClock.adjust("250 millis")
      yield* RateLimiter.protect(Effect.void, limiter, { key: "t1" })
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("the delay policy waits for the reserved tokens on the Clock", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 2, window: "1 second", onExceeded: "delay" })
      yield* RateLimiter.protect(Effect.void, limiter, { key: "k", tokens: 2 })
      const fiber = yield* Effect.fork(RateLimiter.protect(Effect.succeed("went"), limiter, { key: "k" }))
      yield* TestClock.adjust("499 millis")
      expect(fiber.unsafePoll()).toBe(null)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("went")
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("a caller interrupted while waiting gives its tokens back", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 2, window: "1 second", onExceeded: "delay" })
      expect(yield* delayOf(limiter, "k")).toBe(0)
      expect(yield* delayOf(limiter, "k")).toBe(0)
      const fiber = yield* Effect.fork(RateLimiter.protect(Effect.void, limiter, { key: "k" }))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(fiber)
      // without the refund the reservation would push the next caller to 900 ms
      expect(yield* delayOf(limiter, "k")).toBe(400)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("a wait longer than the call's deadline is refused at once and takes nothing", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ name: "dl", limit: 10, window: "1 second", onExceeded: "delay" })
      yield* RateLimiter.protect(Effect.void, limiter, { key: "k", tokens: 10 })
      const refused = yield* Effect.either(
        Effect.locally(
          RateLimiter.protect(Effect.void, limiter, { key: "k" }),
          Deadline.currentDeadline,
          Option.some(50)
        )
      )
      expect(refused).toEqual(Either.left(new Errors.RateLimited({ limiter: "dl", retryAfterMillis: 100 })))
      // the refused reservation was given back: the next caller waits 100 ms, not 200
      expect(yield* delayOf(limiter, "k")).toBe(100)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("consume reports delay, remaining and resetAfter", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second", onExceeded: "delay" })
      const first = yield* limiter.consume("k", 4)
      expect(Duration.toMillis(first.delay)).toBe(0)
      expect(first.remaining).toBe(6)
      expect(Duration.toMillis(first.resetAfter)).toBe(400)
      const second = yield* limiter.consume("k", 8)
      expect(Duration.toMillis(second.delay)).toBe(200)
      expect(second.remaining).toBe(0)
      const refused = yield* Effect.either(limiter.consume("k", 11))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("RateLimited")
    })
  )

  it.scoped("fixed windows are aligned on the Clock", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ algorithm: "fixed-window", limit: 3, window: "1 second" })
      yield* TestClock.adjust("250 millis")
      for (let i = 0; i < 3; i++) expect(yield* delayOf(limiter, "k")).toBe(0)
      const refused = yield* Effect.either(limiter.consume("k"))
      expect(refused).toEqual(Either.left(new Errors.RateLimited({ limiter: "default", retryAfterMillis: 750 })))
    })
  )

  it.effect("a bad config fails make with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(RateLimiter.make({ window: Infinity })))
      expect(ParseResult.isParseError(error)).toBe(true)
      expect(error.message).toContain("window")
      const zero = yield* Effect.flip(Effect.scoped(RateLimiter.make({ window: "0 millis" })))
      expect(zero.message).toContain("window")
      const limit = yield* Effect.flip(Effect.scoped(RateLimiter.make({ limit: -1 })))
      expect(limit.message).toContain("limit")
    })
  )

  it.effect("layer provides one limiter, limiting its name by default; protect is dual", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.RateLimiter
      expect(limiter.algorithm).toBe("fixed-window")
      expect(Duration.toMillis(limiter.window)).toBe(1000)
      yield* RateLimiter.protect(Effect.void, limiter)
      yield* Effect.void.pipe(RateLimiter.protect(limiter))
      const r = yield* Effect.either(RateLimiter.protect(Effect.void, limiter, { key: "api" }))
      expect(Either.isLeft(r) && r.left._tag).toBe("RateLimited")
      expect(limiter.keys()).toBe(1)
    }).pipe(
      Effect.provide(RateLimiter.layer({ name: "api", algorithm: "fixed-window", limit: 2 })),
      Effect.provide(Classifier.layer)
    )
  )
})
