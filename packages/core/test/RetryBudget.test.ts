import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Chunk from "effect/Chunk"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import { Classification, Classifier, Events, RetryBudget, RetryPolicy } from "../src/index.js"

const server = Classification.make({ category: "server", code: "http.500", message: "Server error" })
const timeout = Classification.make({ category: "timeout", code: "timeout", message: "Timed out" })
const network = Classification.make({ category: "network", code: "ECONNRESET", message: "Connection reset" })

/** The AWS SDK v3 standard retry quota: our defaults but for the capacity (500 there, 100 here). */
const aws = { capacity: 500 } as const

describe("RetryBudget (AWS token bucket)", () => {
  it.scoped("defaults: AWS's costs (5 a retry, 10 after a timeout, 1 back) with a burst of 100 tokens", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make()
      expect(budget.available()).toBe(100)
      for (let i = 0; i < 10; i++) expect(budget.tryWithdraw(timeout)).toBe(true)
      expect(budget.tryWithdraw(server)).toBe(false)
      budget.onSuccess(true)
      expect(budget.available()).toBe(1)
    })
  )

  it.scoped("the AWS retry quota: 500 tokens, 5 per retry, 10 per timeout/network retry", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make(aws)
      expect(budget.available()).toBe(500)
      expect(budget.costOf(server)).toBe(5)
      expect(budget.costOf(timeout)).toBe(10)
      expect(budget.costOf(network)).toBe(10)
      expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.available()).toBe(495)
      expect(budget.tryWithdraw(timeout)).toBe(true)
      expect(budget.available()).toBe(485)
      expect(budget.tryWithdraw(network)).toBe(true)
      expect(budget.available()).toBe(475)
    })
  )

  it.scoped("a first-try success refunds 1, capped at capacity; a retried success refunds its last retry", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make(aws)
      budget.onSuccess(true)
      expect(budget.available()).toBe(500)
      budget.tryWithdraw(server)
      budget.tryWithdraw(server)
      expect(budget.available()).toBe(490)
      budget.onSuccess(true)
      expect(budget.available()).toBe(491)
      budget.onSuccess(false, timeout)
      expect(budget.available()).toBe(500)
      budget.onSuccess(false, timeout)
      expect(budget.available()).toBe(500)
      budget.tryWithdraw(server)
      budget.onSuccess(false)
      expect(budget.available()).toBe(495)
    })
  )

  it.scoped("exhaustion: 100 retries of 5 empty it, the 101st is refused and takes nothing", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make(aws)
      for (let i = 0; i < 100; i++) expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.available()).toBe(0)
      expect(budget.tryWithdraw(server)).toBe(false)
      expect(budget.available()).toBe(0)
      for (let i = 0; i < 4; i++) budget.onSuccess(true)
      expect(budget.tryWithdraw(server)).toBe(false)
      budget.onSuccess(true)
      expect(budget.tryWithdraw(timeout)).toBe(false)
      expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.available()).toBe(0)
    })
  )

  it.scoped("50 timeout retries exhaust it; a timeout retry needs 10 even when 5 are left", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ ...aws, refundRetryCostOnSuccess: false })
      for (let i = 0; i < 49; i++) expect(budget.tryWithdraw(timeout)).toBe(true)
      expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.available()).toBe(5)
      expect(budget.tryWithdraw(timeout)).toBe(false)
      budget.onSuccess(false, timeout)
      expect(budget.available()).toBe(5)
      budget.reset()
      expect(budget.available()).toBe(500)
    })
  )

  it.scoped("withdraw fails with RetryBudgetExhausted and publishes Rejected", () =>
    Effect.gen(function* () {
      const hub = yield* Events.ResilienceEvents
      const events = yield* hub.subscribe
      const budget = yield* RetryBudget.make({ name: "tiny", capacity: 5 })
      yield* budget.withdraw(server, "op")
      const refused = yield* Effect.either(budget.withdraw(server, "op"))
      expect(Either.isLeft(refused) && refused.left._tag).toBe("RetryBudgetExhausted")
      expect(Either.isLeft(refused) && refused.left.budget).toBe("tiny")
      const seen = yield* Stream.runCollect(Stream.take(events, 1))
      expect(Chunk.toReadonlyArray(seen)).toEqual([
        Events.ResilienceEvent.Rejected({ component: "retry-budget", name: "tiny", reason: "exhausted" })
      ])
    }).pipe(Effect.provide(Events.layer()))
  )

  it.effect("a bad config fails make with a ParseError naming the path", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(Effect.scoped(RetryBudget.make({ capacity: -1 })))
      expect(bad._tag).toBe("ParseError")
      expect(bad.message).toContain("capacity")
      const badWindow = yield* Effect.flip(Effect.scoped(RetryBudget.make({ mode: "ratio", window: -5 })))
      expect(badWindow.message).toContain("window")
      const layerError = yield* Effect.flip(
        Effect.provide(RetryBudget.RetryBudget, RetryBudget.layer({ mode: "ratio", ratio: -1 }))
      )
      expect(layerError.message).toContain("ratio")
    })
  )
})

describe("RetryBudget (ratio)", () => {
  it.scoped("retries stay below ratio * requests (no reserve)", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ mode: "ratio", ratio: 0.1, minRetriesPerSecond: 0 })
      expect(budget.tryWithdraw(server)).toBe(false)
      for (let i = 0; i < 100; i++) budget.onRequest()
      for (let i = 0; i < 10; i++) expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.tryWithdraw(server)).toBe(false)
      expect(budget.available()).toBe(0)
      for (let i = 0; i < 10; i++) budget.onRequest()
      expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.tryWithdraw(server)).toBe(false)
    })
  )

  it.scoped("Finagle reserve: minRetriesPerSecond * window retries without traffic", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ mode: "ratio", minRetriesPerSecond: 1, window: "5 seconds" })
      expect(budget.available()).toBe(5)
      for (let i = 0; i < 5; i++) expect(budget.tryWithdraw(timeout)).toBe(true)
      expect(budget.tryWithdraw(timeout)).toBe(false)
    })
  )

  it.scoped("the window slides: old requests and retries leave it", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({
        mode: "ratio",
        ratio: 0.5,
        minRetriesPerSecond: 0,
        window: 10_000,
        buckets: 10
      })
      for (let i = 0; i < 10; i++) budget.onRequest()
      for (let i = 0; i < 3; i++) expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.available()).toBe(2)
      yield* TestClock.adjust("5 seconds")
      for (let i = 0; i < 4; i++) budget.onRequest()
      // 14 requests, 3 retries: 7 allowed, 4 left
      expect(budget.available()).toBe(4)
      yield* TestClock.adjust("4999 millis")
      expect(budget.available()).toBe(4)
      yield* TestClock.adjust("1 millis")
      // the first 10 requests and 3 retries left the window: 4 requests, 0 retries
      expect(budget.available()).toBe(2)
      expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.tryWithdraw(server)).toBe(true)
      expect(budget.tryWithdraw(server)).toBe(false)
      yield* TestClock.adjust("10 seconds")
      expect(budget.available()).toBe(0)
    })
  )
})

describe("RetryBudget.Registry", () => {
  it.scoped("by default nothing is shared: every get makes a new budget", () =>
    Effect.gen(function* () {
      const registry = yield* RetryBudget.Registry
      const a = yield* registry.get("upstream", { capacity: 10 })
      const b = yield* registry.get("upstream", { capacity: 10 })
      expect(a).not.toBe(b)
      expect(a.name).toBe("upstream")
      a.tryWithdraw(server)
      expect(a.available()).toBe(5)
      expect(b.available()).toBe(10)
    })
  )

  it.scoped("layerRegistry shares one budget per name; the first config wins; names are separate", () =>
    Effect.gen(function* () {
      const registry = yield* RetryBudget.Registry
      const a = yield* registry.get("upstream", { capacity: 10 })
      const b = yield* registry.get("upstream", { capacity: 99 })
      const other = yield* registry.get("other", { mode: "ratio" })
      expect(a).toBe(b)
      expect(a.available()).toBe(10)
      expect(other).not.toBe(a)
      expect(other.name).toBe("other")
    }).pipe(Effect.provide(RetryBudget.layerRegistry))
  )

  it.scoped("a bad config is a ParseError, even for a name already shared", () =>
    Effect.gen(function* () {
      const registry = yield* RetryBudget.Registry
      yield* registry.get("upstream")
      const bad = yield* Effect.flip(registry.get("upstream", { retryCost: -5 }))
      expect(bad._tag).toBe("ParseError")
      expect(bad.message).toContain("retryCost")
    }).pipe(Effect.provide(RetryBudget.layerRegistry))
  )
})

describe("RetryBudget.unlimited", () => {
  it("always pays", () => {
    for (let i = 0; i < 1000; i++) expect(RetryBudget.unlimited.tryWithdraw(timeout)).toBe(true)
  })
})

describe("RetryBudget with RetryPolicy", () => {
  const alwaysServer = Classifier.layerFrom(() => server)

  /** Runs an always-failing call under `budget`; returns the number of attempts and the failure tag. */
  const run = (budget: RetryBudget.RetryBudget) =>
    Effect.gen(function* () {
      let attempts = 0
      const call = Effect.suspend(() => {
        attempts++
        return Effect.fail("boom")
      })
      const policy = yield* RetryPolicy.make({ operation: "op", maxAttempts: 10, schedule: Schedule.forever, budget })
      const fiber = yield* Effect.fork(Effect.flip(RetryPolicy.retry(call, policy)))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      return { attempts, tag: typeof error === "string" ? error : error._tag }
    }).pipe(Effect.provide(alwaysServer))

  it.scoped("an empty AWS budget makes the retry layer fail with RetryBudgetExhausted instead of retrying", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ capacity: 10 })
      // two retries of 5 tokens, then the third is refused
      expect(yield* run(budget)).toEqual({ attempts: 3, tag: "RetryBudgetExhausted" })
      expect(budget.available()).toBe(0)
      expect(yield* run(budget)).toEqual({ attempts: 1, tag: "RetryBudgetExhausted" })
    })
  )

  it.scoped("the retry layer counts requests for a ratio budget", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ mode: "ratio", ratio: 1, minRetriesPerSecond: 0 })
      // one request allows one retry
      expect(yield* run(budget)).toEqual({ attempts: 2, tag: "RetryBudgetExhausted" })
    })
  )
})
