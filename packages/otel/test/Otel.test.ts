import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Events from "@effect-resilience/core/Events"
import * as Failures from "@effect-resilience/core/Failures"
import * as Resilience from "@effect-resilience/core/Resilience"
import { Otel, TraceSummary } from "@effect-resilience/otel"
import { describe, expect, it } from "@effect/vitest"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"

describe("Otel", () => {
  it.live("serves Effect metrics at /metrics on 127.0.0.1 and keeps spans in memory", () =>
    Effect.gen(function* () {
      const telemetry = yield* Otel.Telemetry
      yield* Metric.increment(Metric.counter("otel_test_things_total"))
      yield* Effect.void.pipe(Effect.withSpan("a span"))
      const url = Option.getOrThrow(telemetry.metricsUrl)
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
      const body = yield* Effect.promise(() => fetch(url).then((r) => r.text()))
      expect(body).toContain("otel_test_things_total")
      const spans = yield* telemetry.finishedSpans
      expect(spans.map((s) => s.name)).toContain("a span")
      expect(Option.isNone(telemetry.otlpEndpoint)).toBe(true)
    }).pipe(Effect.provide(Otel.layer({ serviceName: "otel-test", otlpEndpoint: undefined, prometheus: { port: 0 } })))
  )

  it.live("records retries as span events and breaker transitions as spans", () =>
    Effect.gen(function* () {
      const telemetry = yield* Otel.Telemetry
      yield* Otel.traceEvents()
      const pipeline = yield* Resilience.make({
        operation: "flaky",
        retry: { maxAttempts: 3, initialDelay: 1, jitter: "none" },
        breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 2 }, openDuration: 60_000 }
      })
      yield* Effect.exit(pipeline.protect(Effect.fail(new Failures.HttpError({ status: 503 }))))
      // the transition is published on the hub and traced by a fiber of its own
      yield* Effect.sleep("50 millis")
      const summary = TraceSummary.summarize(yield* telemetry.finishedSpans)
      expect(summary.calls).toBe(1)
      expect(summary.retryEvents).toBeGreaterThanOrEqual(1)
      expect(summary.breakerTransitions).toEqual([{ breaker: "flaky", from: "closed", to: "open" }])
      expect(TraceSummary.format(summary)).toContain("breaker flaky: closed -> open")
    }).pipe(
      Effect.scoped,
      Effect.provide(
        Layer.mergeAll(
          Otel.layer({ serviceName: "otel-test", prometheus: false }),
          CircuitBreaker.layerRegistry().pipe(Layer.provideMerge(Events.layer())),
          Classifier.layer
        )
      )
    )
  )

  it.live("fails with MetricsServeError when the port is taken", () =>
    Effect.gen(function* () {
      const first = yield* Layer.build(Otel.layer({ serviceName: "a", prometheus: { port: 0 } }))
      const url = Option.getOrThrow(Context.get(first, Otel.Telemetry).metricsUrl)
      const port = Number(new URL(url).port)
      const second = yield* Effect.flip(Layer.build(Otel.layer({ serviceName: "b", prometheus: { port } })))
      expect(second._tag).toBe("MetricsServeError")
      expect(second.message).toBe(`Cannot serve /metrics on 127.0.0.1:${port} (EADDRINUSE)`)
    }).pipe(Effect.scoped)
  )
})
