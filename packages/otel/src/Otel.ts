/**
 * OpenTelemetry presets for effect-resilience, on `@effect/opentelemetry`'s `NodeSdk`:
 *
 * - traces: exported over OTLP/HTTP when an endpoint is configured (the option, else the
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` environment variable, as every OpenTelemetry SDK reads it), and
 *   kept in memory as well (unless `keepSpans: false`) so a program can summarise them
 *   (see `TraceSummary`);
 * - metrics: Effect's `Metric`s (the `resilience_*` ones included) served for Prometheus at
 *   `/metrics` on 127.0.0.1 (port 0 picks a free one; the URL is in {@link Telemetry});
 * - events: {@link traceEvents} turns breaker transitions and rejections published on the
 *   `ResilienceEvents` hub into spans, so a trace backend shows them next to the calls.
 *
 * @since 0.1.0
 */
import * as Events from "@effect-resilience/core/Events"
import * as NodeSdk from "@effect/opentelemetry/NodeSdk"
import type * as Resource from "@effect/opentelemetry/Resource"
import type { PrometheusExporter } from "@opentelemetry/exporter-prometheus"
import {
  BatchSpanProcessor,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  type SpanProcessor
} from "@opentelemetry/sdk-trace-base"
import * as Config from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import { serveMetrics } from "./internal/prometheus.js"

/**
 * The options of {@link layer}.
 *
 * - `serviceName` (and `serviceVersion`): the OpenTelemetry resource.
 * - `otlpEndpoint`: the collector's base URL (traces go to `<endpoint>/v1/traces`); default the
 *   `OTEL_EXPORTER_OTLP_ENDPOINT` variable; none means no export.
 * - `keepSpans`: keep finished spans in memory for {@link Telemetry.finishedSpans} (default true).
 * - `prometheus`: serve `/metrics` on `host` (default 127.0.0.1) and `port` (0 picks one); `false`
 *   serves nothing.
 *
 * @example
 * ```ts
 * import { Otel } from "@effect-resilience/otel"
 *
 * const options: Otel.Options = { serviceName: "ingest", prometheus: { port: 9464 } }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly serviceName: string
  readonly serviceVersion?: string | undefined
  readonly otlpEndpoint?: string | undefined
  readonly keepSpans?: boolean | undefined
  readonly prometheus?: { readonly port?: number | undefined; readonly host?: string | undefined } | false | undefined
}

/**
 * What the telemetry layer set up: where traces go, the `/metrics` URL, and the spans finished so
 * far (read them before the layer's scope closes: shutting the SDK down clears them).
 *
 * @example
 * ```ts
 * import type { Otel } from "@effect-resilience/otel"
 * import { Effect } from "effect"
 *
 * const countSpans = (t: Otel.TelemetryService) => Effect.map(t.finishedSpans, (spans) => spans.length)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface TelemetryService {
  readonly otlpEndpoint: Option.Option<string>
  readonly metricsUrl: Option.Option<string>
  readonly finishedSpans: Effect.Effect<ReadonlyArray<ReadableSpan>>
}

/**
 * The service of {@link layer}.
 *
 * @example
 * ```ts
 * import { Otel } from "@effect-resilience/otel"
 * import { Effect, Option } from "effect"
 *
 * const printUrl = Effect.flatMap(Otel.Telemetry, (t) =>
 *   Effect.log(Option.getOrElse(t.metricsUrl, () => "no /metrics"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Telemetry extends Context.Tag("@effect-resilience/otel/Telemetry")<Telemetry, TelemetryService>() {}

const otlpEndpointConfig = Config.option(Config.nonEmptyString("OTEL_EXPORTER_OTLP_ENDPOINT"))

// The exporters are optional peers: each is loaded only when the options ask for it.

const loadOtlpTraceExporter = Effect.promise(() => import("@opentelemetry/exporter-trace-otlp-http"))

const makePrometheusExporter: Effect.Effect<PrometheusExporter, MetricsServeError> = Effect.map(
  Effect.tryPromise({
    try: () => import("@opentelemetry/exporter-prometheus"),
    catch: () =>
      new MetricsServeError({ message: "Cannot serve /metrics: @opentelemetry/exporter-prometheus is not installed" })
  }),
  (prometheus) => new prometheus.PrometheusExporter({ preventServerStart: true })
)

/**
 * Tracing and metrics through `NodeSdk`, with the presets above. Fails when `/metrics` cannot be
 * served (the port is taken) or the environment variable is malformed.
 *
 * @example
 * ```ts
 * import { Otel } from "@effect-resilience/otel"
 * import { Effect, Option } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const telemetry = yield* Otel.Telemetry
 *   yield* Effect.log("work").pipe(Effect.withSpan("work"))
 *   const spans = yield* telemetry.finishedSpans
 *   return spans.length
 * }).pipe(Effect.provide(Otel.layer({ serviceName: "example", prometheus: { port: 0 } })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (
  options: Options
): Layer.Layer<Telemetry | Resource.Resource, ConfigError.ConfigError | MetricsServeError> =>
  Layer.unwrapScoped(
    Effect.gen(function* () {
      const endpoint =
        options.otlpEndpoint === undefined ? yield* otlpEndpointConfig : Option.some(options.otlpEndpoint)
      const memory = options.keepSpans === false ? undefined : new InMemorySpanExporter()
      const processors: Array<SpanProcessor> = []
      if (memory !== undefined) processors.push(new SimpleSpanProcessor(memory))
      if (Option.isSome(endpoint)) {
        const { OTLPTraceExporter } = yield* loadOtlpTraceExporter
        processors.push(
          new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint.value.replace(/\/+$/, "")}/v1/traces` }))
        )
      }
      const prometheus =
        options.prometheus === false || options.prometheus === undefined
          ? undefined
          : { exporter: yield* makePrometheusExporter, ...options.prometheus }
      const metricsUrl =
        prometheus === undefined
          ? Option.none<string>()
          : Option.some(
              yield* serveMetrics(prometheus.exporter, prometheus.host ?? "127.0.0.1", prometheus.port ?? 0).pipe(
                Effect.mapError((message) => new MetricsServeError({ message }))
              )
            )
      const telemetry: TelemetryService = {
        otlpEndpoint: endpoint,
        metricsUrl,
        finishedSpans: Effect.sync(() => (memory === undefined ? [] : memory.getFinishedSpans().slice()))
      }
      const sdk = NodeSdk.layer(() => ({
        resource: {
          serviceName: options.serviceName,
          ...(options.serviceVersion === undefined ? {} : { serviceVersion: options.serviceVersion })
        },
        spanProcessor: processors,
        ...(prometheus === undefined ? {} : { metricReader: prometheus.exporter })
      }))
      return Layer.merge(sdk, Layer.succeed(Telemetry, telemetry))
    })
  )

/**
 * `/metrics` could not be served (the port is taken, the host cannot be bound).
 *
 * @example
 * ```ts
 * import { Otel } from "@effect-resilience/otel"
 *
 * const e = new Otel.MetricsServeError({ message: "Cannot serve /metrics on 127.0.0.1:9464 (EADDRINUSE)" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class MetricsServeError extends Schema.TaggedError<MetricsServeError>()("MetricsServeError", {
  message: Schema.String
}) {}

const transitionSpan = (event: Extract<Events.ResilienceEvent, { readonly _tag: "BreakerTransition" }>) =>
  Effect.flatMap(Effect.currentSpan, (span) =>
    Effect.sync(() =>
      span.event("resilience.breaker.transition", BigInt(event.atMillis) * 1_000_000n, {
        "resilience.breaker": event.breaker,
        "resilience.from": event.from,
        "resilience.to": event.to
      })
    )
  ).pipe(
    Effect.ignore,
    Effect.withSpan(`resilience.breaker ${event.breaker} ${event.from} -> ${event.to}`, {
      root: true,
      attributes: {
        "resilience.breaker": event.breaker,
        "resilience.from": event.from,
        "resilience.to": event.to,
        "resilience.event": "BreakerTransition"
      }
    })
  )

const rejectedSpan = (event: Extract<Events.ResilienceEvent, { readonly _tag: "Rejected" }>) =>
  Effect.void.pipe(
    Effect.withSpan(`resilience.rejected ${event.component} ${event.name}`, {
      root: true,
      attributes: {
        "resilience.component": event.component,
        "resilience.name": event.name,
        "resilience.reason": event.reason,
        "resilience.event": "Rejected"
      }
    })
  )

/**
 * Subscribes to the `ResilienceEvents` hub for the lifetime of the Scope and records each breaker
 * transition as a root span `resilience.breaker <name> <from> -> <to>` carrying a
 * `resilience.breaker.transition` event (and, with `rejections: true`, each rejection as a span
 * too: one per rejected call, so off by default).
 *
 * @example
 * ```ts
 * import { Events } from "@effect-resilience/core"
 * import { Otel } from "@effect-resilience/otel"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   yield* Otel.traceEvents()
 *   // ... protected calls whose breakers publish to the hub
 * }).pipe(Effect.scoped, Effect.provide(Events.layer()))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const traceEvents = (options?: {
  readonly rejections?: boolean | undefined
}): Effect.Effect<void, never, Events.ResilienceEvents | Scope.Scope> =>
  Effect.gen(function* () {
    const hub = yield* Events.ResilienceEvents
    const events = yield* hub.subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(events, (event) =>
        event._tag === "BreakerTransition"
          ? transitionSpan(event)
          : event._tag === "Rejected" && options?.rejections === true
            ? rejectedSpan(event)
            : Effect.void
      )
    )
  })
