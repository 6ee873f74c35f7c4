/**
 * Alert delivery: a {@link Sink} takes one alert at a time (a webhook sink is included), and
 * {@link deliver} feeds it from a stream of alerts through a bounded buffer, so that a slow or
 * failing receiver never holds up detection: when the buffer is full the oldest alert waiting is
 * dropped and counted.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { Alerts, Analytics } from "@effect-resilience/ops"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer } from "effect"
 *
 * const live = Alerts.layer(Alerts.webhook({ url: "https://hooks.example.com/alerts", minSeverity: "warning" })).pipe(
 *   Layer.provide(Analytics.layer({ interval: "10 seconds" })),
 *   Layer.provide([FetchHttpClient.layer, Classifier.layer])
 * )
 * ```
 *
 * @since 0.3.0
 */
import { Classifier } from "@effect-resilience/core/Classifier"
import * as DurationInput from "@effect-resilience/core/DurationInput"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Queue from "effect/Queue"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as Analytics from "./Analytics.js"

/**
 * A sink could not take an alert. `message` names the sink and why (a failure category and
 * code), never the receiver's address, headers or the alert's content.
 *
 * @example
 * ```ts
 * import { Alerts } from "@effect-resilience/ops"
 *
 * const e = new Alerts.SinkError({ sink: "pager", message: "the pager is down" })
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class SinkError extends Schema.TaggedError<SinkError>()("SinkError", {
  sink: Schema.String,
  message: Schema.String
}) {}

/**
 * Where alerts go: a name (for metrics and logs) and `deliver`, which takes one alert.
 *
 * @example
 * ```ts
 * import { Alerts } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const console: Alerts.Sink = {
 *   name: "console",
 *   deliver: (alert) => Effect.log(`[${alert.severity}] ${alert.summary}`)
 * }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Sink {
  readonly name: string
  readonly deliver: (alert: Analytics.Alert) => Effect.Effect<void, SinkError>
}

const severityRank = { info: 0, warning: 1, critical: 2 } as const

/**
 * The webhook sink's config:
 *
 * - `url`: where alerts are POSTed (http or https), as JSON (`Analytics.Alert` encoded), with an
 *   `idempotency-key` header holding the alert's id so that a receiver can drop a repeat.
 * - `name` (default `"webhook"`): for metrics, logs and the pipeline's operation name
 *   (`alerts.webhook.<name>`).
 * - `headers` (none): added to every request (an authorization header, say; never logged).
 * - `timeout` (5 seconds): per attempt.
 * - `maxAttempts` (3): attempts per alert, through a resilience pipeline (retry with exponential
 *   backoff on what the classifier says is retryable, a circuit breaker so that a dead receiver
 *   fails fast).
 * - `minSeverity` (`"info"`): alerts below it are not sent.
 *
 * @example
 * ```ts
 * import { Alerts } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(Alerts.WebhookConfig)({
 *   url: "https://hooks.example.com/alerts",
 *   headers: { authorization: "Bearer a-secret" },
 *   minSeverity: "warning"
 * })
 * ```
 *
 * @since 0.3.0
 * @category config
 */
export const WebhookConfig = Schema.Struct({
  url: Schema.String.pipe(
    Schema.filter((u) => URL.canParse(u) && /^https?:$/.test(new URL(u).protocol), {
      message: () => "url must be an absolute http or https URL"
    })
  ),
  name: Schema.optionalWith(Schema.NonEmptyTrimmedString, { default: () => "webhook" }),
  headers: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) }),
  timeout: Schema.optionalWith(DurationInput.FinitePositive, { default: () => Duration.seconds(5) }),
  maxAttempts: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 20)), { default: () => 3 }),
  minSeverity: Schema.optionalWith(Analytics.Severity, { default: () => "info" as const })
})

/**
 * @since 0.3.0
 * @category config
 */
export interface WebhookConfig extends Schema.Schema.Type<typeof WebhookConfig> {}

/**
 * The webhook config as written (durations as milliseconds or strings).
 *
 * @since 0.3.0
 * @category config
 */
export interface WebhookConfigInput extends Schema.Schema.Encoded<typeof WebhookConfig> {}

/**
 * A sink that POSTs each alert as JSON to a URL with `HttpClient` from context, through a
 * resilience pipeline (attempt timeout, retries of retryable failures, a breaker). A response
 * outside 2xx is a failure (a 4xx is not retried). Fails with a `ParseError` naming the bad
 * field of `config`.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { Alerts } from "@effect-resilience/ops"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const sink = Alerts.webhook({ url: "https://hooks.example.com/alerts", timeout: "2 seconds" }).pipe(
 *   Effect.provide([FetchHttpClient.layer, Classifier.layer])
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const webhook = (
  config: WebhookConfigInput
): Effect.Effect<Sink, ParseResult.ParseError, HttpClient.HttpClient | Classifier | Scope.Scope> =>
  Effect.gen(function* () {
    const c = yield* Schema.decodeUnknown(WebhookConfig)(config)
    const client = HttpClient.filterStatusOk(yield* HttpClient.HttpClient)
    const classifier = yield* Classifier
    const pipeline = yield* Resilience.make({
      operation: `alerts.webhook.${c.name}`,
      attemptTimeout: c.timeout,
      retry: { maxAttempts: c.maxAttempts, backoff: "exponential", initialDelay: "200 millis", maxDelay: "5 seconds" }
    })
    const encode = Schema.encodeSync(Analytics.Alert)
    const minimum = severityRank[c.minSeverity]
    return {
      name: c.name,
      deliver: (alert) => {
        if (severityRank[alert.severity] < minimum) return Effect.void
        const request = HttpClientRequest.post(c.url).pipe(
          HttpClientRequest.setHeaders(c.headers),
          HttpClientRequest.setHeader("idempotency-key", alert.id),
          HttpClientRequest.bodyUnsafeJson(encode(alert))
        )
        return pipeline.protect(Effect.scoped(Effect.asVoid(client.execute(request)))).pipe(
          Effect.mapError((error) => {
            // the classification's category and code: never the URL or the response
            const failure =
              typeof error === "object" && error !== null && "lastClassification" in error
                ? error.lastClassification
                : classifier.classify(error)
            const why = failure === undefined ? "failed" : `${failure.category}: ${failure.code}`
            return new SinkError({ sink: c.name, message: `the webhook "${c.name}" did not take the alert (${why})` })
          })
        )
      }
    }
  })

/**
 * What a delivery has done so far: alerts the sink took, alerts it failed to take (after its own
 * retries), alerts dropped because the buffer was full (the oldest waiting go first), and alerts
 * waiting.
 *
 * @example
 * ```ts
 * import { Alerts } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(Alerts.DeliveryStats)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const DeliveryStats = Schema.Struct({
  delivered: Schema.Number,
  failed: Schema.Number,
  dropped: Schema.Number,
  pending: Schema.Number
})

/**
 * @example
 * ```ts
 * import type { Alerts } from "@effect-resilience/ops"
 *
 * const healthy = (s: Alerts.DeliveryStats) => s.failed === 0 && s.dropped === 0
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface DeliveryStats extends Schema.Schema.Type<typeof DeliveryStats> {}

/**
 * A running delivery (see {@link deliver}).
 *
 * @example
 * ```ts
 * import type { Alerts } from "@effect-resilience/ops"
 *
 * const stats = (d: Alerts.Delivery) => d.stats
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Delivery {
  readonly stats: Effect.Effect<DeliveryStats>
}

const alertsTotal = Metric.counter("resilience_alerts_total", {
  description: "Alerts handed to a sink, by outcome (delivered, failed, dropped)",
  incremental: true
})

/**
 * Delivers a stream of alerts to a sink for the life of the scope: the stream is read into a
 * buffer of `capacity` alerts (default 100) that a second fiber drains into the sink one alert
 * at a time. When the sink is slower than the alerts come, the oldest alert waiting is dropped
 * (counted in `dropped` and in `resilience_alerts_total{sink,outcome="dropped"}`), so detection
 * never waits for a sink. A failed delivery is counted and logged (its `SinkError` message) and
 * the next alert is taken.
 *
 * @example
 * ```ts
 * import { Alerts, Analytics } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const sink: Alerts.Sink = { name: "log", deliver: (alert) => Effect.logWarning(alert.summary) }
 * const program = Effect.gen(function* () {
 *   const analytics = yield* Analytics.Analytics
 *   const delivery = yield* Alerts.deliver(analytics.alerts, sink, { capacity: 50 })
 *   return yield* delivery.stats
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const deliver = <E, R>(
  alerts: Stream.Stream<Analytics.Alert, E, R>,
  sink: Sink,
  options?: { readonly capacity?: number | undefined }
): Effect.Effect<Delivery, never, R | Scope.Scope> =>
  Effect.gen(function* () {
    const capacity = Math.max(1, Math.floor(options?.capacity ?? 100))
    const buffer = yield* Effect.acquireRelease(Queue.sliding<Analytics.Alert>(capacity), Queue.shutdown)
    const counted = Metric.tagged(alertsTotal, "sink", sink.name)
    const delivered = Metric.tagged(counted, "outcome", "delivered")
    const failed = Metric.tagged(counted, "outcome", "failed")
    const dropped = Metric.tagged(counted, "outcome", "dropped")
    const stats = { delivered: 0, failed: 0, dropped: 0 }

    const offer = (alert: Analytics.Alert) =>
      Effect.flatMap(Queue.size(buffer), (size) => {
        // the sliding queue drops its oldest to make room: count it
        if (size < capacity) return Queue.offer(buffer, alert)
        stats.dropped += 1
        return Effect.zipRight(Metric.increment(dropped), Queue.offer(buffer, alert))
      })

    const drain = Effect.forever(
      Effect.flatMap(Queue.take(buffer), (alert) =>
        Effect.matchCauseEffect(sink.deliver(alert), {
          onSuccess: () => {
            stats.delivered += 1
            return Metric.increment(delivered)
          },
          onFailure: (cause) => {
            stats.failed += 1
            // the sink's message only: no stack trace in the log
            const why = Option.match(Cause.failureOption(cause), {
              onNone: () => "the sink failed unexpectedly",
              onSome: (error) => error.message
            })
            return Effect.zipRight(
              Metric.increment(failed),
              Effect.logWarning(`alert ${alert.id} not delivered: ${why}`)
            )
          }
        })
      )
    )

    yield* Effect.forkScoped(Stream.runForEach(alerts, offer))
    yield* Effect.forkScoped(drain)

    return {
      stats: Effect.map(Queue.size(buffer), (pending) => ({ ...stats, pending: Math.max(0, pending) }))
    }
  })

/**
 * Delivers the alerts of the `Analytics` service in context to a sink made by `sink` (a
 * {@link webhook}, say), for as long as the Layer lives (alerts from when its delivery fiber
 * starts reading the stream).
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { Alerts, Analytics } from "@effect-resilience/ops"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Layer } from "effect"
 *
 * const live = Alerts.layer(Alerts.webhook({ url: "https://hooks.example.com/alerts" }), { capacity: 200 }).pipe(
 *   Layer.provide(Analytics.layer()),
 *   Layer.provide([FetchHttpClient.layer, Classifier.layer])
 * )
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = <E, R>(
  sink: Effect.Effect<Sink, E, R>,
  options?: { readonly capacity?: number | undefined }
): Layer.Layer<never, E, Analytics.Analytics | Exclude<R, Scope.Scope>> =>
  Layer.scopedDiscard(
    Effect.gen(function* () {
      const analytics = yield* Analytics.Analytics
      const made = yield* sink
      yield* deliver(analytics.alerts, made, options)
    })
  )
