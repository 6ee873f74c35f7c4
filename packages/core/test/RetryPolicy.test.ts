import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Backoff from "../src/Backoff.js"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Deadline from "../src/Deadline.js"
import * as Errors from "../src/Errors.js"
import * as Events from "../src/Events.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { Boom, scripted, testClassifier, transient } from "./support/boom.js"
import { recordingTracer } from "./support/tracer.js"

const constantPolicy = (maxAttempts: number, millis = 100) =>
  RetryPolicy.make<Boom>({ operation: "op", maxAttempts, schedule: Backoff.constant(`${millis} millis`) })

/** Retries with `constantPolicy(maxAttempts, millis)`. */
const retryConstant =
  (maxAttempts: number, millis = 100) =>
  <A, R>(self: Effect.Effect<A, Boom, R>) =>
    Effect.flatMap(constantPolicy(maxAttempts, millis), (policy) => RetryPolicy.retry(self, policy))

describe("RetryPolicy", () => {
  it.effect("a non-retryable failure makes exactly one attempt and keeps its own error", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([new Boom({ category: "validation" }), transient])
      const exit = yield* Effect.exit(op.pipe(retryConstant(5)))
      expect(exit).toStrictEqual(Exit.fail(new Boom({ category: "validation" })))
      expect(yield* times).toEqual([0])
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("retries transient failures on the schedule and succeeds", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([transient, transient])
      const fiber = yield* Effect.fork(op.pipe(retryConstant(5)))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* times).toEqual([0, 100, 200])
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("RetriesExhausted carries every attempt: failure, classification, delay and time", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([transient, transient, transient, transient])
      const fiber = yield* Effect.fork(Effect.flip(op.pipe(retryConstant(3))))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(yield* times).toEqual([0, 100, 200])
      if (!(error instanceof Errors.RetriesExhausted)) return expect.unreachable(`got ${String(error)}`)
      expect(error.reason).toBe("exhausted")
      expect(error.attempts.map((a) => [a.attempt, a.atMillis, a.delayMillis])).toEqual([
        [1, 0, 100],
        [2, 100, 100],
        [3, 200, undefined]
      ])
      expect(error.attempts.every((a) => a.failure.tag === "Boom" && a.classification.category === "unavailable")).toBe(
        true
      )
      // it serialises: a dead letter can store it
      const encoded = Schema.encodeSync(Errors.RetriesExhausted)(error)
      expect(Schema.decodeUnknownSync(Errors.RetriesExhausted)(JSON.parse(JSON.stringify(encoded)))).toStrictEqual(
        error
      )
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("each category may have its own schedule: throttled waits longer", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([transient, new Boom({ category: "throttled" }), transient])
      const policy = yield* RetryPolicy.make<Boom>({
        operation: "op",
        maxAttempts: 5,
        schedule: Backoff.constant("100 millis"),
        byCategory: { throttled: Backoff.constant("1 second") }
      })
      const fiber = yield* Effect.fork(op.pipe(RetryPolicy.retry(policy)))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* times).toEqual([0, 100, 1100, 1200])
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("a delay is never shorter than Retry-After, and at most `extra` longer than the backoff", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([
        new Boom({ category: "throttled", retryAfterMillis: 2000 }),
        new Boom({ category: "throttled", retryAfterMillis: 60_000 })
      ])
      const policy = yield* RetryPolicy.make<Boom>({
        operation: "op",
        maxAttempts: 5,
        schedule: Backoff.constant("100 millis"),
        byCategory: {},
        retryAfterExtra: "5 seconds"
      })
      const fiber = yield* Effect.fork(op.pipe(RetryPolicy.retry(policy)))
      yield* TestClock.adjust("1 minute")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      // 2000 honoured exactly; 60 s capped at backoff (100) + extra (5000)
      expect(yield* times).toEqual([0, 2000, 2000 + 5100])
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("never sleeps past the caller's deadline", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([transient, transient, transient, transient, transient])
      const fiber = yield* Effect.fork(Effect.flip(op.pipe(retryConstant(10), Deadline.within("250 millis"))))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      // attempts at 0, 100, 200; a retry at 300 would pass the deadline at 250: stop without sleeping
      expect(yield* times).toEqual([0, 100, 200])
      expect(error).toBeInstanceOf(Errors.RetriesExhausted)
      if (error instanceof Errors.RetriesExhausted) expect(error.reason).toBe("deadline")
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("waits for an open breaker's probe only when the deadline leaves room", () =>
    Effect.gen(function* () {
      const open = new Boom({ category: "unavailable", retryAfterMillis: 1000, code: Classification.circuitOpenCode })
      // no deadline: fail fast
      const a = yield* scripted([open])
      const noDeadline = yield* Effect.flip(a.op.pipe(retryConstant(5)))
      expect(noDeadline).toBeInstanceOf(Errors.RetriesExhausted)
      if (noDeadline instanceof Errors.RetriesExhausted) expect(noDeadline.reason).toBe("breaker-open")
      expect(yield* a.times).toEqual([0])
      // a deadline of 5 s: wait the full second for the probe, even past backoff + extra
      const b = yield* scripted([open])
      const policy = yield* RetryPolicy.make<Boom>({
        operation: "op",
        schedule: Backoff.constant("10 millis"),
        retryAfterExtra: "100 millis"
      })
      const fiber = yield* Effect.fork(b.op.pipe(RetryPolicy.retry(policy), Deadline.within("5 seconds")))
      yield* TestClock.adjust("2 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* b.times).toEqual([0, 1000])
      // a deadline of 500 ms: no room for the probe
      const c = yield* scripted([open])
      const tooShort = yield* Effect.flip(c.op.pipe(RetryPolicy.retry(policy), Deadline.within("500 millis")))
      if (!(tooShort instanceof Errors.RetriesExhausted)) return expect.unreachable()
      expect(tooShort.reason).toBe("breaker-open")
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("calls an open breaker refused do not use up attempts: the deadline bounds the wait", () =>
    Effect.gen(function* () {
      const open = new Boom({ category: "unavailable", retryAfterMillis: 1000, code: Classification.circuitOpenCode })
      const { op, times } = yield* scripted([transient, open, open, open, transient])
      const policy = yield* RetryPolicy.make<Boom>({
        operation: "op",
        maxAttempts: 3,
        schedule: Backoff.constant("10 millis")
      })
      const fiber = yield* Effect.fork(op.pipe(RetryPolicy.retry(policy), Deadline.within("10 seconds")))
      yield* TestClock.adjust("10 seconds")
      // two failures reached the operation, three refusals did not: the sixth try is the third attempt
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect((yield* times).length).toBe(6)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("waiting for an open breaker's probe does not spend the retry budget", () =>
    Effect.gen(function* () {
      const open = new Boom({ category: "unavailable", retryAfterMillis: 1000, code: Classification.circuitOpenCode })
      const budget = yield* RetryBudget.make({ name: "waits", capacity: 10 })
      const policy = yield* RetryPolicy.make<Boom>({
        operation: "op",
        maxAttempts: 3,
        schedule: Backoff.constant("10 millis"),
        budget
      })
      // three refusals by the open breaker, then the probe's answer: only the transient failure's
      // retry reached the dependency twice, so only it pays (5 of 10)
      const { op, times } = yield* scripted([open, open, open, transient])
      const fiber = yield* Effect.fork(op.pipe(RetryPolicy.retry(policy), Deadline.within("10 seconds")))
      yield* TestClock.adjust("10 seconds")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect((yield* times).length).toBe(5)
      // 10 - 5 for the transient failure's retry, + 5 back when that retry succeeded
      expect(budget.available()).toBe(10)
      const again = yield* scripted([open, open, open, open, open, open])
      const waiting = yield* Effect.fork(again.op.pipe(RetryPolicy.retry(policy), Deadline.within("10 seconds")))
      yield* TestClock.adjust("10 seconds")
      yield* Fiber.join(waiting)
      // six waits for the probe, none paid for: a token bucket would have refused the third
      expect(budget.available()).toBe(10)
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("asks the retry budget before each retry", () =>
    Effect.gen(function* () {
      let tokens = 1
      const successes: Array<boolean> = []
      const budget: RetryPolicy.Budget = {
        name: "test-budget",
        tryWithdraw: () => tokens-- > 0,
        onSuccess: (firstTry) => {
          successes.push(firstTry)
        }
      }
      const policy = yield* RetryPolicy.make<Boom>({
        operation: "op",
        maxAttempts: 5,
        schedule: Backoff.constant("10 millis"),
        budget
      })
      const { op, times } = yield* scripted([transient, transient, transient])
      const fiber = yield* Effect.fork(Effect.flip(op.pipe(RetryPolicy.retry(policy))))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      expect(error).toStrictEqual(new Errors.RetryBudgetExhausted({ budget: "test-budget", operation: "op" }))
      expect(yield* times).toEqual([0, 10])
      // successes are reported: first try, then after a retry
      yield* Effect.succeed(1).pipe(RetryPolicy.retry(policy))
      tokens = 1
      const again = yield* scripted([transient])
      const f2 = yield* Effect.fork(again.op.pipe(RetryPolicy.retry(policy)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(f2)
      expect(successes).toEqual([true, false])
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("with the AWS retry budget, a retry that succeeds refunds its cost", () =>
    Effect.gen(function* () {
      const budget = yield* RetryBudget.make({ name: "aws", capacity: 500 })
      const policy = yield* RetryPolicy.make<Boom>({
        operation: "op",
        maxAttempts: 3,
        schedule: Backoff.constant("10 millis"),
        budget
      })
      const { op } = yield* scripted([transient])
      const fiber = yield* Effect.fork(op.pipe(RetryPolicy.retry(policy)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      // 500 - 5 for the retry + 5 refunded when it succeeded
      expect(budget.available()).toBe(500)
      const failing = yield* scripted([transient, transient, transient])
      const f2 = yield* Effect.fork(Effect.exit(failing.op.pipe(RetryPolicy.retry(policy))))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(f2)
      expect(budget.available()).toBe(490)
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("swapping the Classifier Layer changes what is retried", () =>
    Effect.gen(function* () {
      const run = (layer: Layer.Layer<Classifier.Classifier>) =>
        Effect.gen(function* () {
          const { op, times } = yield* scripted([transient, transient])
          const fiber = yield* Effect.fork(Effect.exit(op.pipe(retryConstant(5))))
          yield* TestClock.adjust("1 second")
          yield* Fiber.join(fiber)
          return (yield* times).length
        }).pipe(Effect.provide(layer))
      expect(yield* run(testClassifier)).toBe(3)
      const nothingRetryable = Classifier.layerFrom(() =>
        Classification.make({ category: "business", code: "no", message: "no" })
      )
      expect(yield* run(nothingRetryable)).toBe(1)
    })
  )

  it.effect("interrupting the fiber during a backoff sleep stops the retries at once", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([transient, transient, transient, transient])
      const fiber = yield* Effect.fork(op.pipe(retryConstant(5, 1000)))
      yield* TestClock.adjust("1500 millis")
      expect(yield* times).toEqual([0, 1000])
      yield* Fiber.interrupt(fiber)
      yield* TestClock.adjust("1 minute")
      expect(yield* times).toEqual([0, 1000])
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("publishes every retry decision as an event", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const hub = yield* Events.ResilienceEvents
        const events = yield* hub.subscribe
        const { op } = yield* scripted([transient, new Boom({ category: "validation" })])
        const fiber = yield* Effect.fork(Effect.exit(op.pipe(retryConstant(5))))
        yield* TestClock.adjust("1 second")
        yield* Fiber.join(fiber)
        const seen = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(events, 2)))
        expect(seen.map((e) => e._tag)).toEqual(["RetryScheduled", "RetryStopped"])
        const [scheduled, stopped] = seen
        if (scheduled?._tag !== "RetryScheduled" || stopped?._tag !== "RetryStopped") return expect.unreachable()
        expect([scheduled.attempt, scheduled.delayMillis, scheduled.classification.category]).toEqual([
          1,
          100,
          "unavailable"
        ])
        expect([stopped.attempt, stopped.reason, stopped.attempts.length]).toEqual([2, "not-retryable", 2])
      })
    ).pipe(Effect.provide(Layer.merge(testClassifier, Events.layer())))
  )

  it.effect("adds an event to the current span for each retry", () =>
    Effect.gen(function* () {
      const { tracer, events: recorded } = recordingTracer()
      const { op } = yield* scripted([transient])
      const fiber = yield* Effect.fork(op.pipe(retryConstant(5), Effect.withSpan("call"), Effect.withTracer(tracer)))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(recorded).toEqual([
        {
          span: "call",
          name: "resilience.retry",
          attributes: {
            "resilience.operation": "op",
            "resilience.attempt": 1,
            "resilience.delay_ms": 100,
            "resilience.category": "unavailable",
            "resilience.code": "test.unavailable"
          }
        }
      ])
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("the default policy: 5 attempts in all, full jitter within the exponential envelope", () =>
    Effect.gen(function* () {
      const failures = Array.from({ length: 10 }, () => transient)
      const { op, times } = yield* scripted(failures)
      const fiber = yield* Effect.fork(
        Effect.flip(
          op.pipe((self) => Effect.flatMap(RetryPolicy.fromConfig("op"), (policy) => RetryPolicy.retry(self, policy)))
        )
      )
      yield* TestClock.adjust("1 minute")
      const error = yield* Fiber.join(fiber)
      const ts = yield* times
      expect(ts.length).toBe(5)
      if (!(error instanceof Errors.RetriesExhausted)) return expect.unreachable()
      const delays = error.attempts.flatMap((a) => (a.delayMillis === undefined ? [] : [a.delayMillis]))
      expect(delays.length).toBe(4)
      delays.forEach((d, i) => {
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(100 * 2 ** i)
      })
      // the delays recorded are the delays slept
      expect(ts.slice(1).map((t, i) => t - (ts[i] ?? 0))).toEqual(delays)
    }).pipe(Effect.provide(testClassifier), Effect.withRandom(Random.make(7)))
  )

  it("decodes a policy config, durations as DurationInput, and names the bad field", () => {
    const config = Schema.decodeUnknownSync(RetryPolicy.Config)({ maxAttempts: 3, maxDelay: "10 seconds" })
    expect(config).toStrictEqual({
      ...RetryPolicy.defaultConfig,
      maxAttempts: 3,
      maxDelay: Duration.seconds(10)
    })
    expect(Schema.decodeUnknownSync(RetryPolicy.Config)({})).toStrictEqual(RetryPolicy.defaultConfig)
    expect(Schema.decodeUnknownSync(RetryPolicy.Config)({ initialDelay: 250 }).initialDelay).toStrictEqual(
      Duration.millis(250)
    )
    expect(() => Schema.decodeUnknownSync(RetryPolicy.Config)({ maxAttempts: 0 })).toThrow(/maxAttempts/)
    expect(() => Schema.decodeUnknownSync(RetryPolicy.Config)({ jitter: "lots" })).toThrow(/jitter/)
    expect(() => Schema.decodeUnknownSync(RetryPolicy.Config)({ initialDelay: "soon" })).toThrow(/initialDelay/)
    expect(() => Schema.decodeUnknownSync(RetryPolicy.Config)({ maxDelay: "forever" })).toThrow(/maxDelay/)
    expect(() => Schema.decodeUnknownSync(RetryPolicy.Config)({ initialDelay: Duration.infinity })).toThrow(
      /initialDelay/
    )
  })

  it.effect("a bad config or bad options fail make / fromConfig with a ParseError naming the path; never clamped", () =>
    Effect.gen(function* () {
      const zero = yield* Effect.flip(RetryPolicy.make({ operation: "op", maxAttempts: 0 }))
      expect(zero._tag).toBe("ParseError")
      expect(zero.message).toContain("maxAttempts")
      const fraction = yield* Effect.flip(RetryPolicy.make({ operation: "op", maxAttempts: 1.5 }))
      expect(fraction.message).toContain("maxAttempts")
      const config = yield* Effect.flip(RetryPolicy.fromConfig("op", { maxAttempts: 0 }))
      expect(config.message).toContain("maxAttempts")
      const delay = yield* Effect.flip(RetryPolicy.fromConfig("op", { throttledInitialDelay: Duration.infinity }))
      expect(delay.message).toContain("throttledInitialDelay")
      const one = yield* RetryPolicy.make({ operation: "op", maxAttempts: 1 })
      expect(one.maxAttempts).toBe(1)
    })
  )

  it.effect('fromConfig reads durations as written: a constant backoff of "250 millis"', () =>
    Effect.gen(function* () {
      const policy = yield* RetryPolicy.fromConfig("op", {
        maxAttempts: 3,
        backoff: "constant",
        initialDelay: "250 millis",
        jitter: "none"
      })
      const { op, times } = yield* scripted([transient, transient])
      const fiber = yield* Effect.fork(op.pipe(RetryPolicy.retry(policy)))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      expect(yield* times).toEqual([0, 250, 500])
    }).pipe(Effect.provide(testClassifier))
  )

  it.effect("policies compose with Effect's schedule combinators", () =>
    Effect.gen(function* () {
      const { op, times } = yield* scripted([transient, transient, transient, transient])
      // stop once the failure is no longer "unavailable", and at most 2 recurrences via intersect
      const schedule = Backoff.constant("100 millis").pipe(
        Schedule.intersect(Schedule.recurs(2)),
        Schedule.whileInput((input: Backoff.RetryInput<Boom>) => input.error.category === "unavailable")
      )
      const fiber = yield* Effect.fork(
        Effect.flip(
          Effect.flatMap(RetryPolicy.make<Boom>({ operation: "op", maxAttempts: 10, schedule }), (policy) =>
            RetryPolicy.retry(op, policy)
          )
        )
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(yield* times).toEqual([0, 100, 200])
      expect(Option.isNone(yield* Deadline.remaining)).toBe(true)
    }).pipe(Effect.provide(testClassifier))
  )
})
