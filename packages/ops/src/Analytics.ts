/**
 * Error analytics and alerts: a scoped service that samples Effect's metric registry (the
 * counters and the latency histogram the resilience pipeline updates) and the `ResilienceEvents`
 * hub (breaker transitions) once per interval into per-operation time series of fixed size, runs
 * four detectors over them, and publishes what they find as {@link Alert}s:
 *
 * - **spike**: the failure rate of the last interval (per failure category, else overall) against
 *   the median and MAD of the intervals before it, with volume guards;
 * - **trend**: a failure rate rising steadily over a window (least-squares slope significant by
 *   its t-statistic and by Mann-Kendall, and large enough to matter);
 * - **periodic**: failures that recur with a period (the dominant peak of the autocorrelation of
 *   failure counts: a cron that fails every 10 minutes);
 * - **cascade**: breakers of dependent operations opening after the breaker of what they depend
 *   on, within a window (the `dependencies` graph), reported with the root cause.
 *
 * The detectors and their measured precision and recall are described in docs/analytics.md.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const analytics = yield* Analytics.Analytics
 *   yield* Stream.runForEach(analytics.alerts, (alert) => Effect.log(alert.summary))
 * }).pipe(
 *   Effect.provide(Analytics.layer({ interval: "10 seconds", dependencies: { checkout: ["payments"] } }))
 * )
 * ```
 *
 * @since 0.3.0
 */
import * as DurationInput from "@effect-resilience/core/DurationInput"
import * as Events from "@effect-resilience/core/Events"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Metric from "effect/Metric"
import type * as MetricPair from "effect/MetricPair"
import * as MetricState from "effect/MetricState"
import type * as ParseResult from "effect/ParseResult"
import * as PubSub from "effect/PubSub"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Opening } from "./internal/analytics/cascade.js"
import { Engine, type Finding } from "./internal/analytics/engine.js"
import * as Periodic from "./internal/analytics/periodic.js"
import { type OperationSeries as SeriesState, type Reading, Sampler } from "./internal/analytics/series.js"
import * as Spike from "./internal/analytics/spike.js"
import * as Trend from "./internal/analytics/trend.js"

// ---------------------------------------------------------------------------------------------
// Schemas
// ---------------------------------------------------------------------------------------------

/**
 * What an alert is about.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 *
 * const kinds = Analytics.AlertKind.literals
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const AlertKind = Schema.Literal("spike", "trend", "periodic", "cascade")

/**
 * How urgent an alert is: `critical` (act now: a cascade, or half the calls failing),
 * `warning` (look soon), `info`.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 *
 * const isUrgent = (s: typeof Analytics.Severity.Type) => s === "critical"
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Severity = Schema.Literal("info", "warning", "critical")

/**
 * An alert: what was detected (`kind`) about which operation (for a cascade, the root cause) and
 * failure category, when, a sentence for a user (no payloads, hosts or stack traces), the numbers
 * the detector decided on, and a suggested action.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(Analytics.Alert)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const Alert = Schema.Struct({
  id: Schema.String,
  kind: AlertKind,
  severity: Severity,
  operation: Schema.String,
  category: Schema.optional(Schema.String),
  atMillis: Schema.Number,
  summary: Schema.String,
  evidence: Schema.Record({ key: Schema.String, value: Schema.Number }),
  suggestedAction: Schema.String
})

/**
 * @example
 * ```ts
 * import type { Analytics } from "@effect-resilience/ops"
 *
 * const line = (a: Analytics.Alert) => `[${a.severity}] ${a.summary}`
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Alert extends Schema.Schema.Type<typeof Alert> {}

const Series = Schema.Array(Schema.Number)
const LatencySeries = Schema.Array(Schema.NullOr(Schema.Number))

/**
 * The series of one operation, one entry per interval (oldest first), all arrays of the same
 * length as `timestamps` (the end of each interval, epoch milliseconds): completed calls,
 * failed calls (overall and by failure category), retries (overall and by category), calls
 * refused before they ran, and latency percentiles of successful calls in seconds (`null` for an
 * interval without one), estimated from the latency histogram's buckets.
 *
 * @example
 * ```ts
 * import type { Analytics } from "@effect-resilience/ops"
 *
 * const errorRates = (s: Analytics.OperationSeries) => s.calls.map((c, i) => (c === 0 ? 0 : s.failures[i]! / c))
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const OperationSeries = Schema.Struct({
  operation: Schema.String,
  timestamps: Series,
  calls: Series,
  failures: Series,
  failuresByCategory: Schema.Record({ key: Schema.String, value: Series }),
  retries: Series,
  retriesByCategory: Schema.Record({ key: Schema.String, value: Series }),
  rejections: Series,
  latency: Schema.Struct({ p50: LatencySeries, p95: LatencySeries, p99: LatencySeries })
})

/**
 * @example
 * ```ts
 * import type { Analytics } from "@effect-resilience/ops"
 *
 * const total = (s: Analytics.OperationSeries) => s.calls.reduce((a, b) => a + b, 0)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface OperationSeries extends Schema.Schema.Type<typeof OperationSeries> {}

/**
 * A breaker's current state (from the `resilience_breaker_state` gauge) and, when the service saw
 * it change, when it last did.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const b = Schema.decodeUnknownSync(Analytics.BreakerState)({ name: "payments", state: "open" })
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const BreakerState = Schema.Struct({
  name: Schema.String,
  state: Schema.Literal("closed", "open", "half-open", "forced-open", "disabled", "metrics-only", "unknown"),
  lastTransitionAtMillis: Schema.optional(Schema.Number)
})

/**
 * @example
 * ```ts
 * import type { Analytics } from "@effect-resilience/ops"
 *
 * const isOpen = (b: Analytics.BreakerState) => b.state === "open" || b.state === "forced-open"
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface BreakerState extends Schema.Schema.Type<typeof BreakerState> {}

/**
 * What the dashboard draws: when it was taken, the sampling interval, each operation's series
 * and each breaker's state.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(Analytics.AnalyticsSnapshot)
 * ```
 *
 * @since 0.3.0
 * @category schemas
 */
export const AnalyticsSnapshot = Schema.Struct({
  atMillis: Schema.Number,
  intervalMillis: Schema.Number,
  operations: Schema.Array(OperationSeries),
  breakers: Schema.Array(BreakerState)
})

/**
 * @example
 * ```ts
 * import type { Analytics } from "@effect-resilience/ops"
 *
 * const names = (s: Analytics.AnalyticsSnapshot) => s.operations.map((o) => o.operation)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface AnalyticsSnapshot extends Schema.Schema.Type<typeof AnalyticsSnapshot> {}

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

const int = (min: number, max: number, value: number) =>
  Schema.optionalWith(Schema.Int.pipe(Schema.between(min, max)), { default: () => value })
const num = (min: number, max: number, value: number) =>
  Schema.optionalWith(Schema.Number.pipe(Schema.between(min, max)), { default: () => value })

const SpikeConfig = Schema.Struct({
  window: int(3, 100_000, Spike.defaultSpikeOptions.window),
  minBaseline: int(2, 100_000, Spike.defaultSpikeOptions.minBaseline),
  threshold: num(0, 1000, Spike.defaultSpikeOptions.threshold),
  minCalls: int(1, Number.MAX_SAFE_INTEGER, Spike.defaultSpikeOptions.minCalls),
  minFailures: int(1, Number.MAX_SAFE_INTEGER, Spike.defaultSpikeOptions.minFailures),
  minIncrease: num(0, 1, Spike.defaultSpikeOptions.minIncrease),
  recent: int(1, 100_000, Spike.defaultSpikeOptions.recent)
})
const TrendConfig = Schema.Struct({
  window: int(5, 100_000, Trend.defaultTrendOptions.window),
  minPoints: int(3, 100_000, Trend.defaultTrendOptions.minPoints),
  minT: num(0, 1000, Trend.defaultTrendOptions.minT),
  minMannKendallZ: num(0, 1000, Trend.defaultTrendOptions.minMannKendallZ),
  minRise: num(0, 1, Trend.defaultTrendOptions.minRise),
  minFailures: int(0, Number.MAX_SAFE_INTEGER, Trend.defaultTrendOptions.minFailures)
})
const PeriodicConfig = Schema.Struct({
  minLag: int(1, 100_000, Periodic.defaultPeriodicOptions.minLag),
  minCycles: int(2, 1000, Periodic.defaultPeriodicOptions.minCycles),
  minCorrelation: num(0, 1, Periodic.defaultPeriodicOptions.minCorrelation),
  noiseZ: num(0, 100, Periodic.defaultPeriodicOptions.noiseZ),
  minProminence: num(0, 2, Periodic.defaultPeriodicOptions.minProminence),
  minFailures: int(0, Number.MAX_SAFE_INTEGER, Periodic.defaultPeriodicOptions.minFailures),
  smooth: int(1, 1000, Periodic.defaultPeriodicOptions.smooth),
  burstAlpha: num(0, 1, Periodic.defaultPeriodicOptions.burstAlpha),
  harmonic: num(0, 1, Periodic.defaultPeriodicOptions.harmonic),
  every: int(1, 100_000, 6)
})

/**
 * The service's config (every field has a default):
 *
 * - `interval` (10 seconds): how often the registry is sampled and the detectors run; one
 *   interval is one point of every series.
 * - `history` (360 intervals: an hour at the default interval): how many points each series
 *   keeps (a ring buffer: memory stays fixed); the periodic detector looks at all of them and
 *   finds periods up to a third of the history.
 * - `maxOperations` (200): operations tracked at most (later ones are ignored).
 * - `recentAlerts` (200): alerts `recent` keeps.
 * - `cooldown` (5 minutes): one alert per kind, operation and category per cooldown.
 * - `dependencies` (none): operation (breaker name) to what it depends on, for cascades.
 * - `cascadeWindow` (1 minute): the longest delay between a dependency's breaker opening and a
 *   dependent's that still counts as a cascade.
 * - `criticalRate` (0.5): a spike or trend reaching this failure rate is `critical`.
 * - `spike`, `trend`, `periodic`: the detectors' thresholds, in intervals and rates (see
 *   docs/analytics.md for what each means and how the defaults were measured);
 *   `periodic.every` (6): the periodic detector reads the whole history, so it runs for each
 *   operation every this many intervals (operations staggered) rather than every interval.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(Analytics.Config)({
 *   interval: "5 seconds",
 *   dependencies: { checkout: ["payments", "inventory"], payments: ["ledger"] },
 *   spike: { threshold: 5 }
 * })
 * ```
 *
 * @since 0.3.0
 * @category config
 */
export const Config = Schema.Struct({
  interval: Schema.optionalWith(DurationInput.FinitePositive, { default: () => Duration.seconds(10) }),
  history: int(10, 100_000, 360),
  maxOperations: int(1, 100_000, 200),
  recentAlerts: int(1, 100_000, 200),
  cooldown: Schema.optionalWith(DurationInput.NonNegative, { default: () => Duration.minutes(5) }),
  dependencies: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.Array(Schema.String) }), {
    default: () => ({})
  }),
  cascadeWindow: Schema.optionalWith(DurationInput.FinitePositive, { default: () => Duration.minutes(1) }),
  criticalRate: num(0, 1, 0.5),
  spike: Schema.optionalWith(SpikeConfig, { default: () => Schema.decodeSync(SpikeConfig)({}) }),
  trend: Schema.optionalWith(TrendConfig, { default: () => Schema.decodeSync(TrendConfig)({}) }),
  periodic: Schema.optionalWith(PeriodicConfig, { default: () => Schema.decodeSync(PeriodicConfig)({}) })
})

/**
 * @since 0.3.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The config as written (durations as milliseconds or strings).
 *
 * @since 0.3.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

// ---------------------------------------------------------------------------------------------
// Service
// ---------------------------------------------------------------------------------------------

/**
 * What the service offers.
 *
 * - `alerts`: every alert found from when the stream is run (each run is a subscriber of its
 *   own; a subscriber that falls more than 1024 alerts behind loses the oldest rather than slow
 *   the detectors).
 * - `recent`: the latest alerts, oldest first.
 * - `snapshot`: the series and breaker states now.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const latest = Effect.flatMap(Analytics.Analytics, (a) => a.recent)
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Analytics {
  readonly config: Config
  readonly alerts: Stream.Stream<Alert>
  readonly recent: Effect.Effect<ReadonlyArray<Alert>>
  readonly snapshot: Effect.Effect<AnalyticsSnapshot>
}

/**
 * The service's tag.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const snapshot = Effect.flatMap(Analytics.Analytics, (a) => a.snapshot)
 * ```
 *
 * @since 0.3.0
 * @category services
 */
export const Analytics: Context.Tag<Analytics, Analytics> = Context.GenericTag<Analytics>(
  "@effect-resilience/ops/Analytics"
)

const stateNames = ["closed", "open", "half-open", "forced-open", "disabled", "metrics-only"] as const

const numberOf = (n: number | bigint): number => (typeof n === "bigint" ? Number(n) : n)

const tagsOf = (pair: MetricPair.MetricPair.Untyped): Record<string, string> => {
  const tags: Record<string, string> = {}
  for (const t of pair.metricKey.tags) tags[t.key] = t.value
  return tags
}

/** The registry's snapshot as plain readings, keeping the metrics the analytics read. */
const readingsOf = (pairs: ReadonlyArray<MetricPair.MetricPair.Untyped>): Array<Reading> => {
  const out: Array<Reading> = []
  for (const pair of pairs) {
    const name = pair.metricKey.name
    if (!name.startsWith("resilience_")) continue
    const state = pair.metricState
    if (MetricState.isCounterState(state)) {
      out.push({ kind: "counter", name, tags: tagsOf(pair), value: numberOf(state.count) })
    } else if (MetricState.isGaugeState(state)) {
      out.push({ kind: "gauge", name, tags: tagsOf(pair), value: numberOf(state.value) })
    } else if (MetricState.isHistogramState(state)) {
      out.push({ kind: "histogram", name, tags: tagsOf(pair), buckets: state.buckets })
    }
  }
  return out
}

const nullable = (xs: ReadonlyArray<number>): Array<number | null> => xs.map((x) => (Number.isNaN(x) ? null : x))

const byCategory = (map: ReadonlyMap<string, { toArray(): Array<number> }>): Record<string, Array<number>> => {
  const out: Record<string, Array<number>> = {}
  for (const [k, ring] of map) out[k] = ring.toArray()
  return out
}

const toSeries = (s: SeriesState): OperationSeries => ({
  operation: s.operation,
  timestamps: s.timestamps.toArray(),
  calls: s.calls.toArray(),
  failures: s.failures.toArray(),
  failuresByCategory: byCategory(s.failuresByCategory),
  retries: s.retries.toArray(),
  retriesByCategory: byCategory(s.retriesByCategory),
  rejections: s.rejections.toArray(),
  latency: { p50: nullable(s.p50.toArray()), p95: nullable(s.p95.toArray()), p99: nullable(s.p99.toArray()) }
})

/**
 * Makes the service in the current scope: subscribes to the `ResilienceEvents` hub in context
 * (breaker transitions, for cascades and transition times) and samples the metric registry
 * every `interval` (the first sample at once, which only sets the baseline of each counter),
 * until the scope closes. Fails with a `ParseError` naming the bad field of `config`.
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const analytics = yield* Analytics.make({ interval: "10 seconds" })
 *     return yield* analytics.snapshot
 *   })
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (config?: ConfigInput): Effect.Effect<Analytics, ParseResult.ParseError, Scope.Scope> =>
  Effect.gen(function* () {
    const decoded = yield* Schema.decodeUnknown(Config)(config ?? {})
    const intervalMillis = Duration.toMillis(decoded.interval)
    const cascadeWindowMillis = Duration.toMillis(decoded.cascadeWindow)
    const sampler = new Sampler(decoded.history, decoded.maxOperations)
    const engine = new Engine({
      intervalMillis,
      cooldownMillis: Duration.toMillis(decoded.cooldown),
      cascadeWindowMillis,
      dependencies: decoded.dependencies,
      spike: decoded.spike,
      trend: decoded.trend,
      periodic: decoded.periodic,
      periodicEvery: decoded.periodic.every,
      criticalRate: decoded.criticalRate
    })
    const pubsub = yield* Effect.acquireRelease(PubSub.sliding<Alert>(1024), PubSub.shutdown)
    const recent = yield* Ref.make<ReadonlyArray<Alert>>([])
    const breakers = new Map<string, { state: BreakerState["state"]; lastTransitionAtMillis?: number }>()
    // openings kept for two cascade windows (a chain is linked one window at a time)
    const openings: Array<Opening> = []
    const maxOpenings = 1000
    let sequence = 0
    let lastSampleMillis = 0

    const hub = yield* Events.ResilienceEvents
    const events = yield* hub.subscribe
    yield* Effect.forkScoped(
      Stream.runForEach(events, (event) =>
        Effect.sync(() => {
          if (event._tag !== "BreakerTransition") return
          const known = breakers.get(event.breaker)
          breakers.set(event.breaker, { ...known, state: event.to, lastTransitionAtMillis: event.atMillis })
          if (event.to === "open") {
            openings.push({ name: event.breaker, atMillis: event.atMillis })
            if (openings.length > maxOpenings) openings.splice(0, openings.length - maxOpenings)
          }
        })
      )
    )

    const toAlert = (f: Finding): Alert => {
      sequence += 1
      return {
        id: `${f.kind}-${f.atMillis.toString(36)}-${sequence.toString(36)}`,
        kind: f.kind,
        severity: f.severity,
        operation: f.operation,
        ...(f.category === undefined ? {} : { category: f.category }),
        atMillis: f.atMillis,
        summary: f.summary,
        evidence: f.evidence,
        suggestedAction: f.suggestedAction
      }
    }

    const sample = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const pairs = yield* Metric.snapshot
      const readings = readingsOf(pairs)
      sampler.sample(readings, now)
      lastSampleMillis = now
      for (const r of readings) {
        if (r.kind !== "gauge" || r.name !== "resilience_breaker_state") continue
        const name = r.tags.breaker
        if (name === undefined) continue
        const known = breakers.get(name)
        breakers.set(name, { ...known, state: stateNames[r.value] ?? "unknown" })
      }
      const cutoff = now - 2 * cascadeWindowMillis
      while (openings[0] !== undefined && openings[0].atMillis < cutoff) openings.shift()
      const found = engine.run(sampler.operations.values(), openings, now).map(toAlert)
      if (found.length === 0) return
      yield* Ref.update(recent, (xs) => {
        const all = [...xs, ...found]
        return all.length > decoded.recentAlerts ? all.slice(all.length - decoded.recentAlerts) : all
      })
      yield* PubSub.publishAll(pubsub, found)
    })

    // fixed: one point per interval whatever a sample takes (spaced would drift by its duration);
    // a defect in one sample is logged (without its stack) and the next interval tries again
    const guarded = Effect.catchAllDefect(sample, () =>
      Effect.logWarning("analytics: a sample failed unexpectedly; the next interval tries again")
    )
    yield* Effect.forkScoped(Effect.repeat(guarded, Schedule.fixed(decoded.interval)))

    const snapshot = Effect.sync(
      (): AnalyticsSnapshot => ({
        atMillis: lastSampleMillis,
        intervalMillis,
        operations: Array.from(sampler.operations.values(), toSeries),
        breakers: Array.from(breakers, ([name, b]) => ({
          name,
          state: b.state,
          ...(b.lastTransitionAtMillis === undefined ? {} : { lastTransitionAtMillis: b.lastTransitionAtMillis })
        }))
      })
    )

    return {
      config: decoded,
      alerts: Stream.fromPubSub(pubsub),
      recent: Ref.get(recent),
      snapshot
    }
  })

/**
 * The service as a Layer (sampling for as long as the Layer lives).
 *
 * @example
 * ```ts
 * import { Analytics } from "@effect-resilience/ops"
 * import { Events } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * // the hub the pipelines publish to: provide it to them and to the analytics alike
 * const live = Analytics.layer({ dependencies: { checkout: ["payments"] } }).pipe(Layer.provideMerge(Events.layer()))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layer = (config?: ConfigInput): Layer.Layer<Analytics, ParseResult.ParseError> =>
  Layer.scoped(Analytics, make(config))
