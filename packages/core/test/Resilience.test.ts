import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Schema from "effect/Schema"
import * as Chaos from "../src/Chaos.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Deadline from "../src/Deadline.js"
import * as Errors from "../src/Errors.js"
import * as Events from "../src/Events.js"
import * as Resilience from "../src/Resilience.js"
import * as RetryBudget from "../src/RetryBudget.js"
import { Boom, classifyBoom, scripted, testClassifier, transient } from "./support/boom.js"
import { recordingTracer } from "./support/tracer.js"

/** Reads a counter from Effect's metric registry by name and labels (what an exporter sees). */
const counterValue = (name: string, tags: Record<string, string>) =>
  Effect.map(Metric.snapshot, (pairs) => {
    let total = 0
    for (const pair of pairs) {
      if (pair.metricKey.name !== name) continue
      const labels = Object.fromEntries(pair.metricKey.tags.map((t) => [t.key, t.value]))
      if (!Object.entries(tags).every(([k, v]) => labels[k] === v)) continue
      if (MetricState.isCounterState(pair.metricState)) total += Number(pair.metricState.count)
    }
    return total
  })

/** A retry policy without waiting, so tests need not move the clock for retries. */
const fastRetry = { maxAttempts: 3, initialDelay: 0, throttledInitialDelay: 0, jitter: "none" } as const

describe("Resilience pipeline", () => {
  it.scoped("the success path returns the value and counts the call", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "ok-op" })
      expect(yield* pipeline.protect(Effect.succeed(42))).toBe(42)
      expect(yield* counterValue("resilience_calls_total", { operation: "ok-op", outcome: "success" })).toBe(1)
      expect(yield* counterValue("resilience_attempts_total", { operation: "ok-op" })).toBe(1)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("retries transient failures and counts retries by category", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "retry-op", retry: fastRetry })
      const { op, times } = yield* scripted([transient, transient])
      expect(yield* pipeline.protect(op)).toBe("ok")
      expect((yield* times).length).toBe(3)
      expect(yield* counterValue("resilience_retries_total", { operation: "retry-op", category: "unavailable" })).toBe(
        2
      )
      expect(yield* counterValue("resilience_attempts_total", { operation: "retry-op" })).toBe(3)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("a validation failure is tried once and never trips the breaker", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "bad-request", retry: fastRetry })
      const calls = yield* Ref.make(0)
      const op = Effect.zipRight(
        Ref.update(calls, (n) => n + 1),
        Effect.fail(new Boom({ category: "validation" }))
      )
      for (let i = 0; i < 20; i++) {
        const exit = yield* Effect.exit(pipeline.protect(op))
        expect(exit).toStrictEqual(Exit.fail(new Boom({ category: "validation" })))
      }
      expect(yield* Ref.get(calls)).toBe(20)
      const snapshot = yield* pipeline.breaker!.snapshot
      expect(snapshot.state).toBe("closed")
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("the breaker opens after 5 consecutive counted failures and then rejects without calling", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "trip", retry: false })
      const calls = yield* Ref.make(0)
      const op = Effect.zipRight(
        Ref.update(calls, (n) => n + 1),
        Effect.fail(transient)
      )
      for (let i = 0; i < 5; i++) expect(yield* Effect.flip(pipeline.protect(op))).toBe(transient)
      const rejected = yield* Effect.flip(pipeline.protect(op))
      expect(rejected).toBeInstanceOf(Errors.CircuitOpen)
      if (rejected instanceof Errors.CircuitOpen) expect(rejected.retryAfterMillis).toBe(30_000)
      expect(yield* Ref.get(calls)).toBe(5)
      expect(yield* counterValue("resilience_rejections_total", { operation: "trip", component: "breaker" })).toBe(1)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("breaker state and transitions are metrics, counted once however many pipelines share the breaker", () =>
    Effect.gen(function* () {
      const breaker = { name: "gauged-breaker", policy: { _tag: "ConsecutiveFailures", threshold: 2 } } as const
      const reads = yield* Resilience.make({ operation: "gauged-read", retry: false, breaker })
      const writes = yield* Resilience.make({ operation: "gauged-write", retry: false, breaker })
      expect(reads.breaker).toBe(writes.breaker)
      yield* Effect.exit(reads.protect(Effect.fail(transient)))
      yield* Effect.exit(writes.protect(Effect.fail(transient)))
      // transitions reach the metrics through the breaker's publishing fiber: give it a few turns
      const transitions = counterValue("resilience_breaker_transitions_total", {
        breaker: "gauged-breaker",
        from: "closed",
        to: "open"
      })
      for (let turn = 0; turn < 50 && (yield* transitions) === 0; turn++) yield* Effect.yieldNow()
      for (let turn = 0; turn < 10; turn++) yield* Effect.yieldNow()
      expect(yield* transitions).toBe(1)
      const snapshot = yield* Metric.snapshot
      const state = snapshot.find(
        (p) =>
          p.metricKey.name === "resilience_breaker_state" &&
          p.metricKey.tags.some((t) => t.key === "breaker" && t.value === "gauged-breaker")
      )
      if (state === undefined || !MetricState.isGaugeState(state.metricState)) return expect.unreachable()
      expect(state.metricState.value).toBe(1)
    }).pipe(Effect.provide(Layer.merge(testClassifier, CircuitBreaker.layerRegistry())))
  )

  it.scoped("each failure is classified once, though the breaker and the retry both read it", () =>
    Effect.gen(function* () {
      let classified = 0
      const counting = Classifier.layerFrom((failure) => {
        classified += 1
        return classifyBoom(failure)
      })
      const pipeline = yield* Resilience.make({ operation: "classify-once", retry: fastRetry }).pipe(
        Effect.provide(counting)
      )
      const { op } = yield* scripted([new Boom({ category: "unavailable" })])
      expect(yield* pipeline.protect(op)).toBe("ok")
      expect(classified).toBe(1)
    })
  )

  it.scoped("an attempt that outlives its timeout is interrupted and fails with AttemptTimeout", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "slow", retry: false, attemptTimeout: 1000 })
      const released = yield* Deferred.make<void>()
      const hang = Effect.acquireRelease(Effect.void, () => Deferred.succeed(released, undefined)).pipe(
        Effect.zipRight(Effect.never),
        Effect.scoped
      )
      const fiber = yield* Effect.fork(Effect.flip(pipeline.protect(hang)))
      yield* TestClock.adjust("999 millis")
      expect(fiber.unsafePoll()).toBe(null)
      yield* TestClock.adjust("1 millis")
      const error = yield* Fiber.join(fiber)
      expect(error).toStrictEqual(new Errors.AttemptTimeout({ operation: "slow", attempt: 1, timeoutMillis: 1000 }))
      yield* Deferred.await(released)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("tryPromise: a deadline set outside the pipeline (propagated) cuts the first attempt", () =>
    Effect.gen(function* () {
      // no deadline of the pipeline's own: the first attempt reads the caller's, inside its Effect.async
      const pipeline = yield* Resilience.make({ operation: "inherited", attemptTimeout: "10 seconds" })
      const fiber = yield* Effect.fork(
        Effect.flip(pipeline.tryPromise(() => new Promise<never>(() => {}))).pipe(Deadline.propagate("1 second"))
      )
      yield* TestClock.adjust("999 millis")
      expect(fiber.unsafePoll()).toBe(null)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBeInstanceOf(Errors.DeadlineExceeded)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("timeouts are retried and the deadline bounds the whole call", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({
        operation: "deadline",
        attemptTimeout: 100,
        deadline: 250,
        retry: { maxAttempts: 10, initialDelay: 0, jitter: "none" }
      }).pipe(
        // timeouts are transient; a passed deadline is not retryable (as the default classifier says)
        Effect.provide(
          Classifier.layerFrom((e) =>
            e instanceof Errors.DeadlineExceeded
              ? Classification.make({ category: "timeout", retryable: false, code: "deadline", message: "deadline" })
              : classifyBoom(transient)
          )
        )
      )
      const starts = yield* Ref.make<ReadonlyArray<number>>([])
      const op = Effect.zipRight(
        Effect.flatMap(TestClock.currentTimeMillis, (now) => Ref.update(starts, (s) => [...s, now])),
        Effect.never
      )
      const fiber = yield* Effect.fork(Effect.flip(pipeline.protect(op)))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      // attempts at 0 and 100 time out after 100 ms; the third, at 200, is cut by the deadline at 250
      expect(yield* Ref.get(starts)).toEqual([0, 100, 200])
      expect(error).toBeInstanceOf(Errors.DeadlineExceeded)
    })
  )

  it.scoped("a full bulkhead rejects with BulkheadRejected and frees its slot afterwards", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({
        operation: "bulk",
        retry: false,
        attemptTimeout: false,
        bulkhead: { maxConcurrent: 1, maxQueue: 0 }
      })
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(pipeline.protect(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const rejected = yield* Effect.flip(pipeline.protect(Effect.succeed(1)))
      expect(rejected).toStrictEqual(new Errors.BulkheadRejected({ bulkhead: "bulk", reason: "full" }))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      expect(yield* pipeline.protect(Effect.succeed(2))).toBe(2)
      expect(pipeline.bulkhead?.active()).toBe(0)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("hedging: a slow first attempt is overtaken by a hedge started after the delay", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({
        operation: "hedged",
        retry: false,
        attemptTimeout: false,
        hedging: { delay: 100, maxHedges: 1 }
      })
      let started = 0
      const op = Effect.suspend(() => {
        started += 1
        return started === 1 ? Effect.never : Effect.succeed("hedge")
      })
      const fiber = yield* Effect.fork(pipeline.protect(op))
      yield* TestClock.adjust("99 millis")
      expect(started).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("hedge")
      expect(started).toBe(2)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("with a tracer installed: breaker transitions and rejections are events on the call's span", () =>
    Effect.gen(function* () {
      const { tracer, events } = recordingTracer()
      const pipeline = yield* Resilience.make({
        operation: "tripping",
        retry: false,
        breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 1 } }
      }).pipe(Effect.withTracer(tracer))
      yield* Effect.exit(pipeline.protect(Effect.fail(transient)).pipe(Effect.withTracer(tracer)))
      yield* Effect.exit(pipeline.protect(Effect.succeed(1)).pipe(Effect.withTracer(tracer)))
      // (the runtime's log lines are events on the span too, as Effect's logger puts every line
      // logged inside a span: the rejection's is one, named by its message)
      expect(
        events.map((e) => [e.span, e.name, e.attributes["resilience.to"] ?? e.attributes["resilience.reason"]])
      ).toEqual([
        ["resilience tripping", "resilience.breaker.transition", "open"],
        ["resilience tripping", "tripping refused by breaker tripping: open", undefined],
        ["resilience tripping", "resilience.rejected", "open"]
      ])
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("a shared retry budget's tokens are a metric", () =>
    Effect.gen(function* () {
      const retryBudget = { name: "readme-budget" } as const
      const pipeline = yield* Resilience.make({ operation: "budgeted", retry: fastRetry, retryBudget })
      const other = yield* Resilience.make({ operation: "budgeted-too", retry: fastRetry, retryBudget })
      const { op } = yield* scripted([transient])
      yield* pipeline.protect(op)
      // the pipelines took their budget from the registry, by name: a retry that ends in a
      // failure that is not retried keeps its cost (100 - 5), whichever pipeline made it
      const { op: failing } = yield* scripted([transient, new Boom({ category: "validation" })])
      yield* Effect.exit(other.protect(failing))
      const budget = yield* Effect.flatMap(RetryBudget.Registry, (registry) => registry.get("readme-budget"))
      expect(budget.available()).toBe(95)
      const snapshot = yield* Metric.snapshot
      const gauge = snapshot.find(
        (p) =>
          p.metricKey.name === "resilience_retry_budget_tokens" &&
          p.metricKey.tags.some((t) => t.key === "budget" && t.value === "readme-budget")
      )
      if (gauge === undefined || !MetricState.isGaugeState(gauge.metricState)) return expect.unreachable()
      // 100 - 5 for the retry (AWS semantics)
      expect(gauge.metricState.value).toBe(95)
    }).pipe(Effect.provide(Layer.merge(testClassifier, RetryBudget.layerRegistry)))
  )

  it.scoped("a half-open probe waiting in the bulkhead's queue gives its slot back when interrupted", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({
        operation: "probing",
        retry: false,
        attemptTimeout: false,
        breaker: {
          policy: { _tag: "ConsecutiveFailures", threshold: 1 },
          openDuration: 1000,
          halfOpen: { maxProbes: 2, successThreshold: 2 }
        },
        bulkhead: { maxConcurrent: 1, maxQueue: 1, queueTimeout: 60_000 }
      })
      yield* Effect.exit(pipeline.protect(Effect.fail(transient)))
      yield* TestClock.adjust("1 second")
      const gate = yield* Deferred.make<void>()
      const first = yield* Effect.fork(pipeline.protect(Deferred.await(gate)))
      yield* Effect.yieldNow()
      const queued = yield* Effect.fork(pipeline.protect(Effect.succeed(2)))
      yield* Effect.yieldNow()
      expect((yield* pipeline.breaker!.snapshot).probesInFlight).toBe(2)
      yield* Fiber.interrupt(queued)
      expect((yield* pipeline.breaker!.snapshot).probesInFlight).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(first)
      expect(pipeline.bulkhead?.active()).toBe(0)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("a rate limit rejects with RateLimited, or waits for a token when told to", () =>
    Effect.gen(function* () {
      const failing = yield* Resilience.make({
        operation: "limited",
        retry: false,
        rateLimit: { limit: 2, window: 1000, onExceeded: "fail" }
      })
      yield* failing.protect(Effect.succeed(1))
      yield* failing.protect(Effect.succeed(2))
      const error = yield* Effect.flip(failing.protect(Effect.succeed(3)))
      expect(error).toBeInstanceOf(Errors.RateLimited)
      if (error instanceof Errors.RateLimited) expect(error.retryAfterMillis).toBe(500)
      const waiting = yield* Resilience.make({
        operation: "limited-wait",
        retry: false,
        attemptTimeout: false,
        rateLimit: { limit: 1, window: 1000, onExceeded: "delay", maxDelay: 5000 }
      })
      yield* waiting.protect(Effect.succeed(1))
      const fiber = yield* Effect.fork(waiting.protect(Effect.succeed(2)))
      yield* TestClock.adjust("999 millis")
      expect(fiber.unsafePoll()).toBe(null)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe(2)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("a bad policy fails with the path of the bad field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Resilience.make({ operation: "x", retry: { maxAttempts: -1 } }))
      expect(error.message).toMatch(/retry/)
      expect(error.message).toMatch(/maxAttempts/)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("publishes retries and breaker transitions on the event hub", () =>
    Effect.gen(function* () {
      const hub = yield* Events.ResilienceEvents
      const events = yield* hub.subscribe
      const pipeline = yield* Resilience.make({
        operation: "evented",
        retry: { ...fastRetry, maxAttempts: 2 },
        breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 2 } }
      })
      yield* Effect.exit(pipeline.protect(Effect.fail(transient)))
      const seen = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(events, 3)))
      // the retry policy and the breaker publish independently: order between them is not fixed
      expect(seen[0]?._tag).toBe("RetryScheduled")
      expect(seen.map((e) => e._tag).sort()).toEqual(["BreakerTransition", "RetryScheduled", "RetryStopped"])
    }).pipe(Effect.provide(Layer.merge(testClassifier, Events.layer())))
  )

  it.live("tryPromise runs a Promise operation with a real timer and aborts it on timeout", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make({ operation: "promise", retry: false, attemptTimeout: 50 })
        expect(yield* pipeline.tryPromise(async () => 42)).toBe(42)
        let aborted = false
        const error = yield* Effect.flip(
          pipeline.tryPromise(
            (signal) =>
              new Promise<number>((resolve) => {
                const handle = setTimeout(() => resolve(1), 5_000)
                signal.addEventListener("abort", () => {
                  aborted = true
                  clearTimeout(handle)
                })
              })
          )
        )
        expect(error).toStrictEqual(new Errors.AttemptTimeout({ operation: "promise", attempt: 1, timeoutMillis: 50 }))
        expect(aborted).toBe(true)
        const rejected = yield* Effect.flip(
          pipeline.tryPromise({ try: () => Promise.reject(new Error("nope")), catch: () => transient })
        )
        expect(rejected).toBe(transient)
      })
    ).pipe(Effect.provide(testClassifier))
  )

  it.scoped("chaos faults injected into the operation are classified by the default classifier and retried", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "chaotic", retry: fastRetry })
      const faults = Schema.decodeUnknownSync(Chaos.Faults)({ failure: { rate: 1, category: "unavailable" } })
      const error = yield* Effect.flip(pipeline.protect(Effect.succeed(1).pipe(Chaos.withFaults(faults, "chaotic"))))
      if (!(error instanceof Errors.RetriesExhausted)) return expect.unreachable(String(error))
      expect(error.attempts.map((a) => [a.failure.tag, a.classification.category])).toEqual([
        ["ChaosFault", "unavailable"],
        ["ChaosFault", "unavailable"],
        ["ChaosFault", "unavailable"]
      ])
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.live("runPromise serves callers outside Effect: fast first attempt, retries in the runtime", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make({ operation: "outside", retry: fastRetry })
        const value = yield* Effect.promise(() => pipeline.runPromise(async () => 7))
        expect(value).toBe(7)
        let calls = 0
        const flaky = async () => {
          calls += 1
          if (calls < 3) throw transient
          return "third time"
        }
        expect(yield* Effect.promise(() => pipeline.runPromise(flaky))).toBe("third time")
        expect(calls).toBe(3)
        const rejected = yield* Effect.promise(() =>
          pipeline
            .runPromise(() => Promise.reject(new Boom({ category: "validation" })))
            .then(
              () => "resolved",
              (error: unknown) => error
            )
        )
        expect(rejected).toStrictEqual(new Boom({ category: "validation" }))
        const exhausted = yield* Effect.promise(() =>
          pipeline
            .runPromise(() => Promise.reject(transient))
            .then(
              () => undefined,
              (error: unknown) => error
            )
        )
        expect(exhausted).toBeInstanceOf(Errors.RetriesExhausted)
      })
    ).pipe(Effect.provide(testClassifier))
  )

  it.live("runPromise: a call refused before it ran is admitted once (a refusal takes no second token)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        // the rate limit (3 a minute) comes before the bulkhead (2 at once, no queue)
        const pipeline = yield* Resilience.make({
          operation: "admitted-once",
          retry: false,
          breaker: false,
          rateLimit: { limit: 3, window: "1 minute" },
          bulkhead: { maxConcurrent: 2, maxQueue: 0 }
        })
        const release = yield* Deferred.make<void>()
        const held = () => Effect.runPromise(Deferred.await(release))
        const first = pipeline.runPromise(held)
        const second = pipeline.runPromise(held)
        // the third takes the last token, then the full bulkhead refuses it: that is its answer
        const third = yield* Effect.promise(() =>
          pipeline
            .runPromise(async () => "ran")
            .then(
              () => undefined,
              (error: unknown) => error
            )
        )
        expect(third).toBeInstanceOf(Errors.BulkheadRejected)
        yield* Deferred.succeed(release, undefined)
        yield* Effect.promise(() => Promise.all([first, second]))
        // three tokens taken, one each: the next call is refused by the rate limit
        const fourth = yield* Effect.promise(() =>
          pipeline
            .runPromise(async () => "ran")
            .then(
              () => undefined,
              (error: unknown) => error
            )
        )
        expect(fourth).toBeInstanceOf(Errors.RateLimited)
      })
    ).pipe(Effect.provide(testClassifier))
  )

  it.scoped("with a tracer installed: a span per call, and one per attempt when there is more than one", () =>
    Effect.gen(function* () {
      const { tracer, ended } = recordingTracer()
      const pipeline = yield* Resilience.make({ operation: "traced", retry: fastRetry }).pipe(Effect.withTracer(tracer))
      yield* pipeline.protect(Effect.succeed(1)).pipe(Effect.withTracer(tracer))
      expect(ended.map((s) => s.name)).toEqual(["resilience traced"])
      ended.length = 0
      const { op } = yield* scripted([transient])
      yield* pipeline.protect(op).pipe(Effect.withTracer(tracer))
      expect(ended.map((s) => s.name)).toEqual([
        "resilience.attempt traced",
        "resilience.attempt traced",
        "resilience traced"
      ])
      const call = ended[2]
      expect(ended[0]?.parent).toBe(ended[1]?.parent)
      expect(ended[0]?.attributes["resilience.attempt"]).toBe(1)
      expect(ended[0]?.attributes["resilience.category"]).toBe("unavailable")
      expect(ended[1]?.attributes["resilience.attempt"]).toBe(2)
      expect(call?.attributes["resilience.operation"]).toBe("traced")
    }).pipe(Effect.provide(testClassifier))
  )
})
