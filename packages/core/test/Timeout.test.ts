import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as Classifier from "../src/Classifier.js"
import * as Deadline from "../src/Deadline.js"
import * as Errors from "../src/Errors.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as Timeout from "../src/Timeout.js"
import * as Backoff from "../src/Backoff.js"

/** An effect that sleeps `millis` on the Clock, recording whether it finished or was interrupted. */
const sleeper = (millis: number) =>
  Effect.map(Ref.make<"running" | "done" | "interrupted">("running"), (state) => ({
    state: Ref.get(state),
    effect: Effect.sleep(`${millis} millis`).pipe(
      Effect.zipRight(Ref.set(state, "done")),
      Effect.as("ok" as const),
      Effect.onInterrupt(() => Ref.set(state, "interrupted"))
    )
  }))

describe("Timeout.protect", () => {
  it.effect("an effect that finishes in time keeps its value; a failure keeps its error", () =>
    Effect.gen(function* () {
      const { effect, state } = yield* sleeper(100)
      const fiber = yield* Effect.fork(effect.pipe(Timeout.protect("1 second")))
      yield* TestClock.adjust("100 millis")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* state).toBe("done")
      const failed = yield* Effect.exit(Effect.fail("boom").pipe(Timeout.protect(500)))
      expect(failed).toStrictEqual(Exit.fail("boom"))
    })
  )

  it.effect("too slow: interrupted and failed with AttemptTimeout at exactly the timeout", () =>
    Effect.gen(function* () {
      const { effect, state } = yield* sleeper(1000)
      const fiber = yield* Effect.fork(
        Effect.flip(Timeout.protect(effect, "250 millis", { operation: "get-user", attempt: 2 }))
      )
      yield* TestClock.adjust("249 millis")
      expect(fiber.unsafePoll()).toBeNull()
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      expect(error).toStrictEqual(new Errors.AttemptTimeout({ operation: "get-user", attempt: 2, timeoutMillis: 250 }))
      yield* Effect.yieldNow()
      expect(yield* state).toBe("interrupted")
    })
  )

  it.effect("never past the deadline: DeadlineExceeded when the deadline comes first", () =>
    Effect.gen(function* () {
      const { effect, state } = yield* sleeper(1000)
      const fiber = yield* Effect.fork(
        Effect.flip(
          Effect.zipRight(
            Effect.sleep("100 millis"),
            effect.pipe(Timeout.protect("500 millis", { operation: "op" }))
          ).pipe(Deadline.propagate("300 millis"))
        )
      )
      yield* TestClock.adjust("300 millis")
      const error = yield* Fiber.join(fiber)
      // the attempt started at 100 ms with 200 ms left before the deadline
      expect(error).toStrictEqual(new Errors.DeadlineExceeded({ operation: "op", deadlineMillis: 200 }))
      yield* Effect.yieldNow()
      expect(yield* state).toBe("interrupted")
    })
  )

  it.effect("a deadline later than the timeout leaves the timeout in charge", () =>
    Effect.gen(function* () {
      const { effect } = yield* sleeper(1000)
      const fiber = yield* Effect.fork(
        Effect.flip(effect.pipe(Timeout.protect("200 millis"), Deadline.propagate("10 seconds")))
      )
      yield* TestClock.adjust("200 millis")
      expect((yield* Fiber.join(fiber))._tag).toBe("AttemptTimeout")
    })
  )

  it.effect("inside RetryPolicy.retry: a timeout per attempt, retried as a transient failure", () =>
    Effect.gen(function* () {
      let calls = 0
      const op = Effect.suspend(() => {
        calls += 1
        return calls < 3 ? Effect.sleep("1 second") : Effect.void
      }).pipe(Effect.as("ok" as const))
      const policy = yield* RetryPolicy.make({ operation: "op", maxAttempts: 5, schedule: Backoff.constant(10) })
      const fiber = yield* Effect.fork(op.pipe(Timeout.protect("100 millis"), RetryPolicy.retry(policy)))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(calls).toBe(3)
    }).pipe(Effect.provide(Classifier.layer))
  )
})

describe("Timeout.make", () => {
  it.effect("decodes its config (durations as DurationInput) and protects like Timeout.protect", () =>
    Effect.gen(function* () {
      const timeout = yield* Timeout.make({ timeout: "150 millis", operation: "get-user" })
      expect(timeout.operation).toBe("get-user")
      const { effect } = yield* sleeper(1000)
      const fiber = yield* Effect.fork(Effect.flip(timeout.protect(effect, { attempt: 3 })))
      yield* TestClock.adjust("150 millis")
      expect(yield* Fiber.join(fiber)).toStrictEqual(
        new Errors.AttemptTimeout({ operation: "get-user", attempt: 3, timeoutMillis: 150 })
      )
    })
  )

  it.effect("a bad config fails with a ParseError naming the path", () =>
    Effect.gen(function* () {
      const zero = yield* Effect.flip(Timeout.make({ timeout: 0 }))
      expect(zero._tag).toBe("ParseError")
      expect(zero.message).toContain("timeout")
      const infinite = yield* Effect.flip(Timeout.make({ timeout: Duration.infinity }))
      expect(infinite.message).toContain("timeout")
    })
  )
})
