/**
 * The shared retry budget in one process: the local allowance and its top-ups against a Redis of
 * the test's own, and the fallback to a bucket of its own when Redis is not there.
 */
import { Classification, RetryBudget } from "@effect-resilience/core"
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Metric from "effect/Metric"
import { RedisRetryBudgetStore } from "../src/index.js"
import { type RedisServer, startRedis } from "./support/redisServer.js"

const serverError = Classification.make({ category: "server", code: "http.503", message: "Service unavailable" })
let redis: RedisServer
beforeAll(async () => {
  redis = await startRedis()
})
afterAll(() => redis?.stop())

const fallbacks = Effect.map(Metric.snapshot, (pairs) =>
  pairs
    .filter((p) => p.metricKey.name === "resilience_store_fallback_total")
    .reduce((sum, p) => sum + ("count" in p.metricState ? Number(p.metricState.count) : 0), 0)
)

const withdrawAll = (budget: RetryBudget.RetryBudget, n: number) =>
  Array.from({ length: n }, () => budget.tryWithdraw(serverError)).filter(Boolean).length

describe("RedisRetryBudgetStore", () => {
  it.live("two budgets of one name share the bucket; each pays from its allowance without waiting", () =>
    Effect.gen(function* () {
      const config = { url: redis.url, keyPrefix: `rb-${process.pid}`, flushInterval: 50, allowance: 10 }
      const budget = { name: "s3", capacity: 30, retryCost: 5, successRefund: 0, refundRetryCostOnSuccess: false }
      // two stores (two connections), as two processes would have
      const make = Effect.flatMap(RedisRetryBudgetStore.make(config), (store) =>
        RetryBudget.make(budget).pipe(Effect.provideService(RetryBudget.RetryBudgetStore, store))
      )
      const [a, b] = yield* Effect.all([make, make])
      // each holds 10 tokens (two retries) as soon as it is made
      expect([withdrawAll(a, 3), withdrawAll(b, 3)]).toEqual([2, 2])
      // topped up in the background: the two together get the 10 tokens left, no more
      yield* Effect.sleep(200)
      const more = withdrawAll(a, 3) + withdrawAll(b, 3)
      yield* Effect.sleep(200)
      expect(more + withdrawAll(a, 3) + withdrawAll(b, 3)).toBe(2)
    }).pipe(Effect.scoped)
  )

  it.live("the ratio budget is shared: the fleet's retries stay within ratio * the fleet's requests", () =>
    Effect.gen(function* () {
      const config = { url: redis.url, keyPrefix: `rb-ratio-${process.pid}`, flushInterval: 50, retryAllowance: 3 }
      const budget = { mode: "ratio", name: "ratio", ratio: 0.5, minRetriesPerSecond: 0, window: "10 seconds" } as const
      const make = Effect.flatMap(RedisRetryBudgetStore.make(config), (store) =>
        RetryBudget.make(budget).pipe(Effect.provideService(RetryBudget.RetryBudgetStore, store))
      )
      const [a, b] = yield* Effect.all([make, make])
      // 20 requests in the fleet: 10 retries at a ratio of 0.5
      for (let i = 0; i < 10; i++) {
        a.onRequest()
        b.onRequest()
      }
      let paid = 0
      for (let round = 0; round < 30; round++) {
        paid += withdrawAll(a, 2) + withdrawAll(b, 2)
        yield* Effect.sleep(20)
      }
      expect(paid).toBe(10)
    }).pipe(Effect.scoped)
  )

  it.live("without Redis it decides on a bucket of its own and counts the fallback; no error", () =>
    Effect.gen(function* () {
      const before = yield* fallbacks
      const store = yield* RedisRetryBudgetStore.make({ url: "redis://127.0.0.1:1", commandTimeout: 50 })
      const budget = yield* RetryBudget.make({ name: "alone", capacity: 10, retryCost: 5 }).pipe(
        Effect.provideService(RetryBudget.RetryBudgetStore, store)
      )
      expect(withdrawAll(budget, 3)).toBe(2)
      expect(yield* fallbacks).toBeGreaterThan(before)
    }).pipe(Effect.scoped)
  )
})
