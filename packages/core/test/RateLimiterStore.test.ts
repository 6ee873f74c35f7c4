/**
 * The rate limiter's store seam: `make` keeps its buckets in the `RateLimiterStore` in context
 * (memory by default), attached once per limiter with its settings in numbers.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Classifier from "../src/Classifier.js"
import * as RateLimiter from "../src/RateLimiter.js"

describe("RateLimiter store", () => {
  it.scoped("make attaches its buckets in the store in context, and admits through it", () =>
    Effect.gen(function* () {
      const attached: Array<[string, RateLimiter.StoreOptions]> = []
      const refusing: RateLimiter.RateLimiterStoreService = {
        attach: (name, options) =>
          Effect.map(RateLimiter.storeMemory.attach(name, options), (memory) => {
            attached.push([name, options])
            const handle: RateLimiter.StoreHandle = {
              ...memory,
              admit: () => ({ _tag: "Rejected", reason: "exceeded", retryAfterMillis: 42 })
            }
            return handle
          })
      }
      const limiter = yield* RateLimiter.make({ name: "api", limit: 3, window: "1 second", onExceeded: "delay" }).pipe(
        Effect.provideService(RateLimiter.RateLimiterStore, refusing)
      )
      expect(attached).toEqual([
        ["api", { algorithm: "token-bucket", limit: 3, windowMillis: 1000, maxDelayMillis: 1000, maxKeys: 10_000 }]
      ])
      const exit = yield* Effect.exit(
        Effect.succeed(1).pipe(RateLimiter.protect(limiter), Effect.provide(Classifier.layer))
      )
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error).toMatchObject({
        _tag: "RateLimited",
        retryAfterMillis: 42
      })
    })
  )

  it.effect("the default store is memory", () =>
    Effect.map(RateLimiter.RateLimiterStore, (store) => expect(store).toBe(RateLimiter.storeMemory))
  )
})
