import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import { AdaptiveConcurrency, Classification, Classifier, Errors, Events } from "../src/index.js"

const waitUntil = (condition: () => boolean, spins = 10_000): Effect.Effect<void> =>
  Effect.suspend(() =>
    condition()
      ? Effect.void
      : spins === 0
        ? Effect.dieMessage("condition never held")
        : Effect.zipRight(Effect.yieldNow(), waitUntil(condition, spins - 1))
  )

describe("AdaptiveConcurrency (AIMD)", () => {
  it.scoped("a fast success grows the limit by 1 while at least half of it is in use", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ initialLimit: 4 })
      expect(limiter.tryAcquire()).toBe(true)
      limiter.complete(10, false)
      // one in flight out of 4: idle, no growth
      expect(limiter.limit()).toBe(4)
      expect(limiter.tryAcquire()).toBe(true)
      expect(limiter.tryAcquire()).toBe(true)
      limiter.complete(10, false)
      expect(limiter.limit()).toBe(5)
      limiter.complete(10, false)
      expect(limiter.limit()).toBe(5)
      expect(limiter.inflight()).toBe(0)
    })
  )

  it.scoped("a drop or a slow call multiplies the limit by backoffRatio (rounded down), never below minLimit", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ initialLimit: 20, minLimit: 15, latencyThresholdMillis: 100 })
      limiter.tryAcquire()
      limiter.complete(10, true)
      expect(limiter.limit()).toBe(18)
      limiter.tryAcquire()
      limiter.complete(101, false)
      expect(limiter.limit()).toBe(16)
      limiter.tryAcquire()
      limiter.complete(100, true)
      expect(limiter.limit()).toBe(15)
      limiter.tryAcquire()
      limiter.complete(5, true)
      expect(limiter.limit()).toBe(15)
    })
  )

  it.scoped("the limit never passes maxLimit", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ initialLimit: 2, maxLimit: 3 })
      for (let i = 0; i < 10; i++) {
        while (limiter.tryAcquire()) {}
        while (limiter.inflight() > 0) limiter.complete(1, false)
      }
      expect(limiter.limit()).toBe(3)
    })
  )

  it.effect("property: under any sequence of outcomes the limit stays an integer within [min, max]", () =>
    Effect.gen(function* () {
      const op = fc.oneof(
        fc.constant({ _tag: "acquire" as const }),
        fc.record({
          _tag: fc.constant("complete" as const),
          latency: fc.integer({ min: 0, max: 10_000 }),
          dropped: fc.boolean()
        }),
        fc.constant({ _tag: "cancel" as const })
      )
      const setup = fc
        .record({
          min: fc.integer({ min: 1, max: 50 }),
          span: fc.integer({ min: 0, max: 100 }),
          initial: fc.integer({ min: 1, max: 200 }),
          backoffRatio: fc.double({ min: 0.5, max: 0.99, noNaN: true }),
          algorithm: fc.constantFrom("aimd" as const, "gradient2" as const)
        })
        .map((s) => ({ ...s, max: s.min + s.span }))
      fc.assert(
        fc.property(setup, fc.array(op, { maxLength: 300 }), ({ min, max, initial, backoffRatio, algorithm }, ops) => {
          const limiter = Effect.runSync(
            Effect.scoped(
              AdaptiveConcurrency.make({ algorithm, initialLimit: initial, minLimit: min, maxLimit: max, backoffRatio })
            )
          )
          for (const o of ops) {
            if (o._tag === "acquire") limiter.tryAcquire()
            else if (limiter.inflight() > 0) {
              if (o._tag === "complete") limiter.complete(o.latency, o.dropped)
              else limiter.cancel()
            }
            const limit = limiter.limit()
            if (!Number.isInteger(limit) || limit < min || limit > max) return false
          }
          return true
        }),
        { seed: 3, numRuns: 300 }
      )
    })
  )

  it.scoped("over the limit, calls are rejected with BulkheadRejected(adaptive-limit) and a Rejected event", () =>
    Effect.gen(function* () {
      const hub = yield* Events.ResilienceEvents
      const events = yield* hub.subscribe
      const limiter = yield* AdaptiveConcurrency.make({ name: "db", initialLimit: 1 })
      const running = yield* Effect.fork(AdaptiveConcurrency.protect(Effect.never, limiter))
      yield* waitUntil(() => limiter.inflight() === 1)
      const refused = yield* Effect.either(Effect.succeed(1).pipe(AdaptiveConcurrency.protect(limiter)))
      expect(refused).toEqual(Either.left(new Errors.BulkheadRejected({ bulkhead: "db", reason: "adaptive-limit" })))
      yield* Fiber.interrupt(running)
      // interruption frees the slot without moving the limit
      expect(limiter.inflight()).toBe(0)
      expect(limiter.limit()).toBe(1)
      const seen = yield* Stream.runCollect(Stream.take(events, 1))
      expect(Chunk.toReadonlyArray(seen)).toEqual([
        Events.ResilienceEvent.Rejected({ component: "adaptive-concurrency", name: "db", reason: "adaptive-limit" })
      ])
    }).pipe(Effect.provide(Events.layer()))
  )

  it.scoped("protect measures latency with the Clock: a call slower than the threshold is a drop", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ initialLimit: 10, latencyThresholdMillis: 1000 })
      const slow = yield* Effect.fork(AdaptiveConcurrency.protect(Effect.sleep("1001 millis"), limiter))
      yield* TestClock.adjust("1001 millis")
      yield* Fiber.join(slow)
      expect(limiter.limit()).toBe(9)
      const fast = yield* Effect.fork(AdaptiveConcurrency.protect(Effect.sleep("1000 millis"), limiter))
      yield* TestClock.adjust("1000 millis")
      yield* Fiber.join(fast)
      // not a drop; only 1 of 9 in use, so no growth either
      expect(limiter.limit()).toBe(9)
    })
  )

  it.scoped("with a Classifier only overload failures are drops", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ initialLimit: 10 })
      yield* Effect.either(AdaptiveConcurrency.protect(Effect.fail("404"), limiter))
      expect(limiter.limit()).toBe(10)
      yield* Effect.either(AdaptiveConcurrency.protect(Effect.fail("503"), limiter))
      expect(limiter.limit()).toBe(9)
      yield* Effect.exit(AdaptiveConcurrency.protect(Effect.die("bug"), limiter))
      expect(limiter.limit()).toBe(8)
      expect(limiter.inflight()).toBe(0)
    }).pipe(
      Effect.provide(
        Classifier.layerFrom((e) =>
          e === "503"
            ? Classification.make({ category: "unavailable", code: "http.503", message: "Unavailable" })
            : Classification.make({ category: "client", code: "http.404", message: "Not found" })
        )
      )
    )
  )

  it.effect("minLimit above maxLimit is refused at start-up", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.scoped(AdaptiveConcurrency.make({ minLimit: 10, maxLimit: 5 })))
      expect(exit._tag).toBe("Failure")
    })
  )
})

describe("AdaptiveConcurrency (Gradient2)", () => {
  /** One sample while `held` other calls are in flight. */
  const sample = (limiter: AdaptiveConcurrency.AdaptiveConcurrencyService, latency: number, dropped = false) => {
    expect(limiter.tryAcquire()).toBe(true)
    limiter.complete(latency, dropped)
  }
  const hold = (limiter: AdaptiveConcurrency.AdaptiveConcurrencyService, n: number) => {
    for (let i = 0; i < n; i++) expect(limiter.tryAcquire()).toBe(true)
  }

  it.scoped("steady latency while the limit is used: the limit creeps up by smoothing * queueSize per sample", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ algorithm: "gradient2", initialLimit: 20 })
      hold(limiter, 15)
      const seen: Array<number> = []
      for (let i = 0; i < 4; i++) {
        sample(limiter, 100)
        seen.push(limiter.limit())
      }
      // 20.8, 21.6, 22.4, 23.2
      expect(seen).toEqual([20, 21, 22, 23])
    })
  )

  it.scoped("an idle client does not grow its limit", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ algorithm: "gradient2", initialLimit: 20 })
      for (let i = 0; i < 50; i++) sample(limiter, 100)
      expect(limiter.limit()).toBe(20)
    })
  )

  it.scoped("rising latency shrinks the limit before anything fails; a drop shrinks it most", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({ algorithm: "gradient2", initialLimit: 20 })
      hold(limiter, 15)
      for (let i = 0; i < 10; i++) sample(limiter, 100)
      // 10 samples of +0.8 from 20
      let estimate = 28
      expect(limiter.limit()).toBe(28)
      // the long average moves little; the gradient is clamp(1.5 * long / 300, 0.5, 1)
      const long = 100 * (1 - 2 / 601) + (300 * 2) / 601
      const gradient = Math.max(0.5, Math.min(1, (1.5 * long) / 300))
      sample(limiter, 300)
      estimate = estimate * 0.8 + (estimate * gradient + 4) * 0.2
      expect(limiter.limit()).toBe(Math.floor(estimate))
      expect(limiter.limit()).toBeLessThan(28)
      const before = estimate
      sample(limiter, 100, true)
      estimate = before * 0.8 + (before * 0.5 + 4) * 0.2
      expect(limiter.limit()).toBe(Math.floor(estimate))
    })
  )

  it.scoped("Gradient2 stays within [minLimit, maxLimit]", () =>
    Effect.gen(function* () {
      const limiter = yield* AdaptiveConcurrency.make({
        algorithm: "gradient2",
        initialLimit: 10,
        minLimit: 8,
        maxLimit: 12
      })
      hold(limiter, 6)
      for (let i = 0; i < 100; i++) sample(limiter, 10)
      expect(limiter.limit()).toBe(12)
      for (let i = 0; i < 100; i++) sample(limiter, 10, true)
      expect(limiter.limit()).toBe(8)
    })
  )
})
