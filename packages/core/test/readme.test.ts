/**
 * The examples of the README, run as they are written there (keep the two in step).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Fiber, Layer, Schema, TestClock } from "effect"
import {
  Batch,
  Checkpoint,
  Classification,
  Classifier,
  DeadLetterQueue,
  Errors,
  Failures,
  Idempotency,
  Resilience,
  RetryPolicy,
  Rule
} from "../src/index.js"

describe("README examples", () => {
  it.effect("classify and retry", () =>
    Effect.gen(function* () {
      // --- README: classify and retry ---
      let calls = 0
      const getUser = Effect.suspend(() => {
        calls += 1
        return calls < 3 ? Effect.fail(new Failures.HttpError({ status: 503 })) : Effect.succeed({ id: 1, name: "Ada" })
      })

      const program = getUser.pipe(
        RetryPolicy.retry(RetryPolicy.fromConfig("get-user", { ...RetryPolicy.defaultConfig, maxAttempts: 4 })),
        Effect.provide(Classifier.layer)
      )
      // --- end ---
      const fiber = yield* Effect.fork(program)
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toEqual({ id: 1, name: "Ada" })
      expect(calls).toBe(3)
    })
  )

  it.effect("a 400 is not retried", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.fail(new Failures.HttpError({ status: 400 })).pipe(
          RetryPolicy.retry(RetryPolicy.fromConfig("post-order")),
          Effect.provide(Classifier.layer)
        )
      )
      expect(exit._tag).toBe("Failure")
      const classifier = yield* Effect.provide(Classifier.Classifier, Classifier.layer)
      const c = classifier.classify(new Failures.HttpError({ status: 400 }))
      expect([c.category, c.retryable, c.countsForBreaker]).toEqual(["validation", false, false])
    })
  )

  it.scoped("one pipeline per operation", () =>
    Effect.gen(function* () {
      // --- README: pipeline ---
      const users = yield* Resilience.make({
        operation: "get-user",
        attemptTimeoutMillis: 2_000,
        deadlineMillis: 10_000,
        retry: { maxAttempts: 3 },
        breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 5 } },
        bulkhead: { maxConcurrent: 32, maxQueue: 100 }
      })
      const user = yield* users.tryPromise(async (_signal: AbortSignal) => ({ id: 1 }))
      // --- end ---
      expect(user).toEqual({ id: 1 })
      expect((yield* users.breaker!.snapshot).state).toBe("closed")
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.effect("your own errors, classified exhaustively", () =>
    Effect.gen(function* () {
      // --- README: exhaustive ---
      class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", {}) {}
      class GatewayBusy extends Schema.TaggedError<GatewayBusy>()("GatewayBusy", {}) {}
      type PaymentError = PaymentDeclined | GatewayBusy

      const payments = Classifier.exhaustive<PaymentError>()({
        PaymentDeclined: Classification.make({ category: "business", code: "pay.declined", message: "Declined" }),
        GatewayBusy: Classification.make({ category: "unavailable", code: "pay.busy", message: "Try again" })
      })
      const classifier = Classifier.layerWith({
        mappings: [payments],
        rules: [[Rule.status(418), Classification.make({ category: "client", code: "teapot", message: "No" })]]
      })
      // --- end ---
      const c = yield* Effect.provide(Classifier.Classifier, classifier)
      expect(c.classify(new GatewayBusy()).retryable).toBe(true)
      expect(c.classify(new PaymentDeclined()).category).toBe("business")
      expect(c.classify(new Failures.HttpError({ status: 418 })).code).toBe("teapot")
      expect(c.classify(new Failures.HttpError({ status: 503 })).code).toBe("http.503")
    })
  )

  it.effect("a batch that loses nothing", () =>
    Effect.gen(function* () {
      // --- README: batch ---
      const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
      const send = (order: typeof Order.Type, _idempotencyKey: string) =>
        order.amount < 0 ? Effect.fail(new Failures.HttpError({ status: 422 })) : Effect.succeed(`accepted ${order.id}`)

      const result = yield* Batch.run({
        batchId: "orders-2026-11-22",
        items: [
          { id: "o-1", amount: 10 },
          { id: "o-2", amount: -5 }
        ],
        key: (order) => order.id,
        process: (order, ctx) => send(order, ctx.idempotencyKey),
        itemSchema: Order,
        resultSchema: Schema.String,
        concurrency: 8
      }).pipe(
        Effect.provide(
          Layer.mergeAll(
            Checkpoint.layerMemory,
            Idempotency.layerMemory,
            DeadLetterQueue.layerMemory(),
            Classifier.layer
          )
        )
      )
      // result.succeeded: [o-1], result.deadLettered: [o-2] (the 422 waits in the DLQ for review)
      // --- end ---
      expect(result.succeeded.map((s) => s.key)).toEqual(["o-1"])
      expect(result.deadLettered.map((d) => d.key)).toEqual(["o-2"])
      expect(result.failed).toEqual([])
    })
  )

  it("runtime errors serialise", () => {
    const e = new Errors.CircuitOpen({ breaker: "payments", retryAfterMillis: 1200 })
    expect(Schema.decodeUnknownSync(Errors.CircuitOpen)(Schema.encodeSync(Errors.CircuitOpen)(e))).toStrictEqual(e)
    expect(e.message).toBe('Circuit "payments" is open; next probe in 1200 ms')
  })
})
