import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Option from "effect/Option"
import { Deadline, Errors, Events, RateLimiter } from "../src/index.js"

describe("RateLimiter (token bucket)", () => {
  it.scoped("a full bucket allows a burst of `limit`, then refills at limit / window", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 10, windowMillis: 1000 })
      for (let i = 0; i < 10; i++) expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(-100)
      yield* TestClock.adjust("99 millis")
      expect(limiter.tryConsume("k")).toBeCloseTo(-1, 9)
      yield* TestClock.adjust("1 millis")
      expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(-100)
      yield* TestClock.adjust("250 millis")
      expect(limiter.tryConsume("k", 2)).toBe(0)
      expect(limiter.tryConsume("k")).toBeCloseTo(-50, 9)
    })
  )

  it.scoped("refill stops at the limit", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 5, windowMillis: 1000 })
      expect(limiter.tryConsume("k", 5)).toBe(0)
      yield* TestClock.adjust("1 hour")
      for (let i = 0; i < 5; i++) expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(-200)
    })
  )

  it.scoped("delay policy reserves tokens and queues callers up to maxDelayMillis", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({
        limit: 10,
        windowMillis: 1000,
        onExceeded: "delay",
        maxDelayMillis: 250
      })
      for (let i = 0; i < 10; i++) expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(100)
      expect(limiter.tryConsume("k")).toBe(200)
      // a third wait would be 300 ms: refused, nothing taken
      expect(limiter.tryConsume("k")).toBe(-300)
      expect(limiter.tryConsume("k")).toBe(-300)
      yield* TestClock.adjust("300 millis")
      expect(limiter.tryConsume("k")).toBe(0)
    })
  )

  it.scoped("withLimit waits the delay under the delay policy", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 2, windowMillis: 1000, onExceeded: "delay" })
      yield* limiter.withLimit(Effect.void, "k", 2)
      const fiber = yield* Effect.fork(limiter.withLimit(Effect.succeed("went"), "k"))
      yield* TestClock.adjust("499 millis")
      expect(fiber.unsafePoll()).toBe(null)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("went")
    })
  )

  it.scoped("a caller interrupted while waiting gives its tokens back", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 2, windowMillis: 1000, onExceeded: "delay" })
      expect(limiter.tryConsume("k", 2)).toBe(0)
      const fiber = yield* Effect.fork(limiter.withLimit(Effect.void, "k"))
      yield* TestClock.adjust("100 millis")
      yield* Fiber.interrupt(fiber)
      // without the refund the reservation would push the next caller to 900 ms
      expect(limiter.tryConsume("k")).toBe(400)
    })
  )

  it.scoped("a wait longer than the call's deadline is refused at once and takes nothing", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ name: "dl", limit: 10, windowMillis: 1000, onExceeded: "delay" })
      expect(limiter.tryConsume("k", 10)).toBe(0)
      const refused = yield* Effect.either(
        Effect.locally(limiter.withLimit(Effect.void, "k"), Deadline.currentDeadline, Option.some(50))
      )
      expect(refused).toEqual(Either.left(new Errors.RateLimited({ limiter: "dl", retryAfterMillis: 100 })))
      // the refused reservation was given back: the next caller waits 100 ms, not 200
      expect(limiter.tryConsume("k")).toBe(100)
    })
  )

  it.scoped("fail policy: protect fails with RateLimited(retryAfterMillis) and publishes Rejected", () =>
    Effect.gen(function* () {
      const hub = yield* Events.ResilienceEvents
      const events = yield* hub.subscribe
      const limiter = yield* RateLimiter.make({ name: "api", limit: 4, windowMillis: 1000 })
      for (let i = 0; i < 4; i++) yield* Effect.void.pipe(RateLimiter.protect(limiter, { key: "t1" }))
      const refused = yield* Effect.either(RateLimiter.protect(Effect.void, limiter, { key: "t1" }))
      expect(refused).toEqual(Either.left(new Errors.RateLimited({ limiter: "api", retryAfterMillis: 250 })))
      const seen = yield* Stream.runCollect(Stream.take(events, 1))
      expect(Chunk.toReadonlyArray(seen)).toEqual([
        Events.ResilienceEvent.Rejected({ component: "rate-limiter", name: "api", reason: "rate-limited" })
      ])
    }).pipe(Effect.provide(Events.layer()))
  )

  it.scoped("consume reports delay, remaining and resetAfter", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 10, windowMillis: 1000, onExceeded: "delay" })
      const first = yield* limiter.consume("k", 4)
      expect(Duration.toMillis(first.delay)).toBe(0)
      expect(first.remaining).toBe(6)
      expect(Duration.toMillis(first.resetAfter)).toBe(400)
      const second = yield* limiter.consume("k", 8)
      expect(Duration.toMillis(second.delay)).toBe(200)
      expect(second.remaining).toBe(0)
    })
  )

  it.scoped("keys are independent", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 1, windowMillis: 1000 })
      expect(limiter.tryConsume("a")).toBe(0)
      expect(limiter.tryConsume("a")).toBe(-1000)
      expect(limiter.tryConsume("b")).toBe(0)
      expect(limiter.tryConsume("c")).toBe(0)
      expect(limiter.tryConsume("b")).toBe(-1000)
    })
  )

  it.scoped("more tokens than the limit are always refused", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 3, windowMillis: 1000, onExceeded: "delay" })
      expect(limiter.tryConsume("k", 4)).toBe(-1000)
      expect(limiter.tryConsume("k", 3)).toBe(0)
    })
  )

  it.scoped("idle keys are swept once there are more than maxKeys", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ limit: 1, windowMillis: 1000, maxKeys: 3 })
      for (const k of ["a", "b", "c"]) limiter.tryConsume(k)
      expect(limiter.keys()).toBe(3)
      yield* TestClock.adjust("500 millis")
      limiter.tryConsume("d")
      // none was idle: all kept, so their limits still hold
      expect(limiter.keys()).toBe(4)
      expect(limiter.tryConsume("a")).toBe(-500)
      yield* TestClock.adjust("1 second")
      limiter.tryConsume("e")
      limiter.tryConsume("f")
      limiter.tryConsume("g")
      expect(limiter.keys()).toBeLessThanOrEqual(4)
      expect(limiter.tryConsume("g")).toBe(-1000)
    })
  )
})

describe("RateLimiter (fixed window)", () => {
  it.scoped("windows are aligned on the clock; a refusal says when the next one starts", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ algorithm: "fixed-window", limit: 3, windowMillis: 1000 })
      yield* TestClock.adjust("250 millis")
      for (let i = 0; i < 3; i++) expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(-750)
      yield* TestClock.adjust("749 millis")
      expect(limiter.tryConsume("k")).toBe(-1)
      yield* TestClock.adjust("1 millis")
      for (let i = 0; i < 3; i++) expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(-1000)
      yield* TestClock.adjust("5 seconds")
      expect(limiter.tryConsume("k", 3)).toBe(0)
    })
  )

  it.scoped("non-integer limit per window works (3 per 1 s is a known Redis-store trap)", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({ algorithm: "fixed-window", limit: 3, windowMillis: 1000 })
      expect(limiter.tryConsume("x", 2)).toBe(0)
      expect(limiter.tryConsume("x", 2)).toBe(-1000)
      expect(limiter.tryConsume("x", 1)).toBe(0)
    })
  )

  it.scoped("delay policy books later windows", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.make({
        algorithm: "fixed-window",
        limit: 2,
        windowMillis: 1000,
        onExceeded: "delay",
        maxDelayMillis: 1500
      })
      yield* TestClock.adjust("400 millis")
      expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(0)
      expect(limiter.tryConsume("k")).toBe(600)
      expect(limiter.tryConsume("k")).toBe(600)
      expect(limiter.tryConsume("k")).toBe(-1600)
      yield* TestClock.adjust("600 millis")
      // the next window is already booked
      expect(limiter.tryConsume("k")).toBe(1000)
    })
  )

  it.effect("layerMemory provides the service", () =>
    Effect.gen(function* () {
      const limiter = yield* RateLimiter.RateLimiter
      expect(limiter.algorithm).toBe("fixed-window")
      const r = yield* Effect.either(
        Effect.forEach([1, 2, 3], (i) => Effect.succeed(i).pipe(RateLimiter.protect(limiter, { key: "k" })))
      )
      expect(Either.isLeft(r) && r.left._tag).toBe("RateLimited")
    }).pipe(Effect.provide(RateLimiter.layerMemory({ algorithm: "fixed-window", limit: 2 })))
  )
})
