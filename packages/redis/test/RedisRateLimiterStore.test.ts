/**
 * Shared rate limits on a Redis of the test's own: 3 per second, the case `@effect/experimental`
 * 0.61.1's fixed-window Redis store refuses, shared by two limiters on two connections (as two
 * processes would be), in both algorithms; the delay policy; and the fallback without Redis.
 */
import { Classifier, RateLimiter } from "@effect-resilience/core"
import * as ExperimentalLimiter from "@effect/experimental/RateLimiter"
import * as ExperimentalRedis from "@effect/experimental/RateLimiter/Redis"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import { RedisRateLimiterStore } from "../src/index.js"
import { type RedisServer, startRedis } from "./support/redisServer.js"

let redis: RedisServer
let prefixes = 0
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const prefix = () => `rl-${process.pid}-${prefixes++}`

/** Two limiters of one name on two stores; `n` calls alternate between them at once; how many got through. */
const shared = (config: RateLimiter.ConfigInput, keyPrefix: string, n: number) =>
  Effect.gen(function* () {
    const limiter = Effect.flatMap(RedisRateLimiterStore.make({ url: redis.url, keyPrefix }), (store) =>
      RateLimiter.make(config).pipe(Effect.provideService(RateLimiter.RateLimiterStore, store))
    )
    const [a, b] = yield* Effect.all([limiter, limiter])
    const exits = yield* Effect.forEach(
      Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b)),
      (l) => Effect.exit(Effect.succeed(1).pipe(RateLimiter.protect(l, { key: "tenant-1" }))),
      { concurrency: "unbounded" }
    )
    return exits.filter(Exit.isSuccess).length
  }).pipe(Effect.scoped, Effect.provide(Classifier.layer))

describe("RedisRateLimiterStore", () => {
  it.live("@effect/experimental 0.61.1's fixed-window Redis store refuses 3 per second (the case we replace)", () =>
    Effect.gen(function* () {
      const limiter = yield* ExperimentalLimiter.make
      const exit = yield* Effect.exit(
        limiter.consume({ algorithm: "fixed-window", limit: 3, window: "1 second", key: "k" })
      )
      const error = Exit.isFailure(exit) && exit.cause._tag === "Fail" ? exit.cause.error : undefined
      expect(error?.reason).toBe("StoreError")
      // it sets a TTL of window / limit = 333.33 ms
      expect(error?.reason === "StoreError" && String(error.cause)).toMatch(/not an integer/)
    }).pipe(Effect.provide(ExperimentalRedis.layerStore({ host: "127.0.0.1", port: redis.port })))
  )

  it.live("3 per second, fixed window, shared: three calls of ten get through across two stores", () =>
    Effect.gen(function* () {
      // windows are aligned on Redis's clock (this machine's): start early in one
      if (Date.now() % 1000 > 600) yield* Effect.sleep(1000 - (Date.now() % 1000) + 20)
      const through = yield* shared(
        { name: "api", algorithm: "fixed-window", limit: 3, window: "1 second" },
        prefix(),
        10
      )
      expect(through).toBe(3)
    })
  )

  it.live("3 per second, token bucket, shared: a burst of three gets through, then one per 333 ms", () =>
    Effect.gen(function* () {
      const keyPrefix = prefix()
      const config: RateLimiter.ConfigInput = { name: "api", limit: 3, window: "1 second" }
      expect(yield* shared(config, keyPrefix, 10)).toBe(3)
      yield* Effect.sleep(400)
      expect(yield* shared(config, keyPrefix, 10)).toBe(1)
    })
  )

  it.live("under the delay policy a call waits for the shared token instead of failing", () =>
    Effect.gen(function* () {
      const through = yield* shared(
        { name: "api", limit: 3, window: "300 millis", onExceeded: "delay", maxDelay: "1 second" },
        prefix(),
        5
      )
      expect(through).toBe(5)
    })
  )

  it.live("without Redis each call is decided by a local limiter; no store error reaches the caller", () =>
    Effect.gen(function* () {
      const store = yield* RedisRateLimiterStore.make({ url: "redis://127.0.0.1:1", commandTimeout: 50 })
      const limiter = yield* RateLimiter.make({ name: "api", algorithm: "fixed-window", limit: 3 }).pipe(
        Effect.provideService(RateLimiter.RateLimiterStore, store)
      )
      const exits = yield* Effect.forEach(Array.from({ length: 5 }), () =>
        Effect.exit(Effect.succeed(1).pipe(RateLimiter.protect(limiter)))
      )
      expect(exits.filter(Exit.isSuccess)).toHaveLength(3)
      for (const exit of exits.filter(Exit.isFailure)) {
        expect(exit.cause._tag === "Fail" && exit.cause.error._tag).toBe("RateLimited")
      }
    }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
  )
})
