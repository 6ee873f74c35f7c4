import { Classifier, Events, Failures, Resilience } from "@effect-resilience/core"
import * as Analytics from "@effect-resilience/ops/Analytics"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Duration, Effect, Fiber, Layer, Option, Schema, Stream, TestClock } from "effect"

const Live = Layer.mergeAll(Classifier.layer, Events.layer())

/**
 * Runs `calls` calls through the pipeline, the i-th failing when `fails(i)` says so; a call that
 * succeeds takes `millis` of the test clock (run it in a fiber and adjust the clock then).
 */
const traffic = (
  pipeline: Resilience.Pipeline,
  calls: number,
  fails: (i: number) => boolean,
  options: { readonly failure?: () => unknown; readonly millis?: number } = {}
) =>
  Effect.forEach(
    Array.from({ length: calls }, (_, i) => i),
    (i) =>
      Effect.exit(
        pipeline.protect(
          fails(i)
            ? Effect.fail(options.failure?.() ?? new Failures.HttpError({ status: 503 }))
            : options.millis === undefined
              ? Effect.void
              : Effect.sleep(options.millis)
        )
      ),
    { concurrency: "unbounded", discard: true }
  )

/** Lets forked fibers (the sampler, subscribers) run at the current test time. */
const settle = Effect.repeatN(Effect.yieldNow(), 20)

describe("Analytics", () => {
  it.scoped("a failure spike through a real pipeline is an alert on the stream, with the evidence", () =>
    Effect.gen(function* () {
      const operation = "analytics-test-spike"
      const analytics = yield* Analytics.make({ interval: "10 seconds" })
      const pipeline = yield* Resilience.make({ operation, retry: false, breaker: false, attemptTimeout: false })
      const first = yield* Effect.fork(
        Stream.runHead(Stream.filter(analytics.alerts, (a) => a.operation === operation))
      )
      yield* settle
      // 20 intervals of 100 calls with 1% failures: the baseline
      for (let interval = 0; interval < 20; interval++) {
        yield* traffic(pipeline, 100, (i) => i === interval % 100)
        yield* TestClock.adjust("10 seconds")
      }
      expect(yield* analytics.recent).toEqual([])
      expect(Option.isNone(yield* Fiber.poll(first))).toBe(true)
      // then 40% of the calls of one interval fail
      yield* traffic(pipeline, 100, (i) => i % 5 < 2)
      yield* TestClock.adjust("10 seconds")
      const alert = Option.getOrThrow(yield* Fiber.join(first))
      expect(alert.kind).toBe("spike")
      expect(alert.operation).toBe(operation)
      expect(alert.category).toBe("unavailable")
      expect(alert.severity).toBe("warning")
      expect(alert.evidence.rate).toBeCloseTo(0.4)
      expect(alert.evidence.calls).toBe(100)
      expect(alert.evidence.z).toBeGreaterThan(5)
      expect(alert.summary).toContain("40%")
      expect(alert.suggestedAction.length).toBeGreaterThan(10)
      expect((yield* analytics.recent).map((a) => a.id)).toContain(alert.id)
      // an alert is data the HTTP API can serve
      expect(
        Schema.decodeUnknownSync(Analytics.Alert)(JSON.parse(JSON.stringify(Schema.encodeSync(Analytics.Alert)(alert))))
      ).toEqual(alert)
    }).pipe(Effect.provide(Live))
  )

  it.scoped("the snapshot holds calls, failures by category, retries and latency per interval", () =>
    Effect.gen(function* () {
      const operation = "analytics-test-snapshot"
      const analytics = yield* Analytics.make({ interval: "1 second", history: 10 })
      const pipeline = yield* Resilience.make({
        operation,
        retry: { maxAttempts: 2, backoff: "constant", initialDelay: "10 millis", jitter: "none" },
        breaker: false,
        attemptTimeout: false
      })
      yield* settle
      for (let interval = 0; interval < 12; interval++) {
        // 10 calls: one fails for good with a timeout (retried once first), the others take 20 ms
        yield* Effect.fork(
          traffic(pipeline, 10, (i) => i === 0, { failure: () => new Failures.TimeoutError(), millis: 20 })
        )
        yield* TestClock.adjust("1 second")
      }
      const snapshot = yield* analytics.snapshot
      const series = snapshot.operations.find((o) => o.operation === operation)
      expect(series).toBeDefined()
      if (series === undefined) return
      // the ring keeps the latest 10 intervals
      const ten = (x: number) => Array.from({ length: 10 }, () => x)
      expect(series.timestamps).toHaveLength(10)
      expect(series.calls).toEqual(ten(10))
      expect(series.failures).toEqual(ten(1))
      expect(series.failuresByCategory.timeout).toEqual(ten(1))
      expect(series.retries).toEqual(ten(1))
      expect(series.retriesByCategory.timeout).toEqual(ten(1))
      expect(series.rejections).toEqual(ten(0))
      // successful calls took 20 ms: within the (0.01, 0.025] bucket
      for (const p of [...series.latency.p50, ...series.latency.p99]) {
        expect(p).toBeGreaterThan(0.01)
        expect(p).toBeLessThanOrEqual(0.025)
      }
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Analytics.AnalyticsSnapshot)(snapshot)))
      expect(Schema.decodeUnknownSync(Analytics.AnalyticsSnapshot)(json).intervalMillis).toBe(1000)
    }).pipe(Effect.provide(Live))
  )

  it.scoped("breakers of dependents opening after their dependency's are a cascade, root cause first", () =>
    Effect.gen(function* () {
      const analytics = yield* Analytics.make({
        interval: "1 second",
        dependencies: {
          "analytics-test-checkout": ["analytics-test-payments"],
          "analytics-test-payments": ["analytics-test-ledger"]
        }
      })
      const breaker: Resilience.PolicyInput["breaker"] = {
        policy: { _tag: "ConsecutiveFailures", threshold: 3 },
        openDuration: "1 minute"
      }
      const make = (operation: string) => Resilience.make({ operation, retry: false, attemptTimeout: false, breaker })
      const ledger = yield* make("analytics-test-ledger")
      const payments = yield* make("analytics-test-payments")
      const checkout = yield* make("analytics-test-checkout")
      const alerts = yield* Effect.fork(
        Stream.runCollect(
          Stream.take(
            Stream.filter(analytics.alerts, (a) => a.kind === "cascade"),
            2
          )
        )
      )
      yield* settle
      yield* traffic(ledger, 3, () => true)
      yield* TestClock.adjust("5 seconds")
      yield* traffic(payments, 3, () => true)
      yield* TestClock.adjust("5 seconds")
      yield* traffic(checkout, 3, () => true)
      yield* TestClock.adjust("2 seconds")
      const [first, second] = Chunk.toReadonlyArray(yield* Fiber.join(alerts))
      // seen once two had opened, and again when it spread to the third
      expect(first?.operation).toBe("analytics-test-ledger")
      expect(first?.evidence.dependents).toBe(1)
      expect(second?.operation).toBe("analytics-test-ledger")
      expect(second?.severity).toBe("critical")
      expect(second?.evidence.dependents).toBe(2)
      expect(second?.evidence["delayMillis.1"]).toBe(5000)
      expect(second?.summary).toContain('"analytics-test-payments", then "analytics-test-checkout"')
      const breakers = (yield* analytics.snapshot).breakers.filter((b) => b.name.startsWith("analytics-test-"))
      expect(breakers.map((b) => b.state)).toEqual(["open", "open", "open"])
    }).pipe(Effect.provide(Live))
  )

  it.effect("a bad config fails with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(Analytics.make({ history: 2 })))
      expect(error._tag).toBe("ParseError")
      expect(error.message).toContain("history")
    })
  )

  it.scoped("stops sampling when its scope closes", () =>
    Effect.gen(function* () {
      const scoped = yield* Effect.scoped(
        Effect.gen(function* () {
          const analytics = yield* Analytics.make({ interval: "1 second" })
          yield* settle
          return analytics
        })
      )
      const before = (yield* scoped.snapshot).atMillis
      yield* TestClock.adjust(Duration.seconds(10))
      expect((yield* scoped.snapshot).atMillis).toBe(before)
    }).pipe(Effect.provide(Live))
  )
})
