/**
 * An adaptive concurrency limit: like a bulkhead, but the limit moves with what the dependency
 * shows. AIMD, as in Netflix concurrency-limits: a call that succeeds within `latencyThreshold`
 * while at least half the limit is in use raises the limit by 1; a drop (a failure that signals
 * overload, or a call slower than the threshold) multiplies it by `backoffRatio` (0.9), rounding
 * down; the limit stays within [`minLimit`, `maxLimit`].
 *
 * Gradient2 (Netflix concurrency-limits' `Gradient2Limit`) is the other algorithm: it keeps a
 * long-term exponential average of the round-trip time and, on each sample while at least half the
 * limit is in use, moves the limit towards `limit * gradient + queueSize` with
 * `gradient = clamp(rttTolerance * longRtt / rtt, 0.5, 1)`, smoothed by `smoothing`. Latency growth
 * thus shrinks the limit before anything fails. Unlike Netflix's, a drop counts as the strongest
 * slow-down (gradient 0.5), so that timeouts and overload refusals always lower the limit. Vegas is
 * not implemented.
 *
 * A limit is a {@link Strategy.Strategy} (component `"adaptive-concurrency"`). A call over the
 * limit is rejected at once (no queue) with `BulkheadRejected` reason `"adaptive-limit"`. A failure
 * is a drop when its `Classification` category is one of `dropCategories` (default `timeout`,
 * `throttled`, `unavailable`, `resource`); an interrupted call frees its slot without moving the
 * limit.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Category } from "./Classification.js"
import type { Classifier } from "./Classifier.js"
import { BulkheadRejected } from "./Errors.js"
import * as core from "./internal/adaptiveConcurrency/core.js"
import { PositiveDuration } from "./internal/schema.js"
import * as binding from "./internal/strategy/binding.js"
import type * as Strategy from "./Strategy.js"

/**
 * `algorithm` `"aimd"` (default) or `"gradient2"`. Shared: `initialLimit` 20 and `maxLimit` 200
 * (Netflix), `minLimit` 1 (Netflix uses 20, which forbids backing off below the start).
 * AIMD (Netflix's `AIMDLimit`): `backoffRatio` 0.9, `latencyThreshold` 5 seconds.
 * Gradient2 (Netflix's `Gradient2Limit`): `smoothing` 0.2, `rttTolerance` 1.5, `longWindow` 600
 * samples, `queueSize` 4. `make` also checks that `minLimit` does not exceed `maxLimit`.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(AdaptiveConcurrency.Config)({ name: "db", initialLimit: 10, maxLimit: 50 })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  algorithm: Schema.optionalWith(Schema.Literal("aimd", "gradient2"), { default: () => "aimd" as const }),
  initialLimit: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 20 }),
  minLimit: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 1 }),
  maxLimit: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 200 }),
  backoffRatio: Schema.optionalWith(Schema.Number.pipe(Schema.between(0.5, 1, { exclusiveMaximum: true })), {
    default: () => 0.9
  }),
  latencyThreshold: Schema.optionalWith(PositiveDuration, { default: () => Duration.seconds(5) }),
  smoothing: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1, { exclusiveMinimum: true })), {
    default: () => 0.2
  }),
  rttTolerance: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1), Schema.finite()), {
    default: () => 1.5
  }),
  longWindow: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 600 }),
  queueSize: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative(), Schema.finite()), { default: () => 4 }),
  dropCategories: Schema.optionalWith(Schema.Array(Category), {
    default: () => ["timeout", "throttled", "unavailable", "resource"] as const
  })
})

/**
 * A decoded configuration.
 *
 * @example
 * ```ts
 * import type { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * const range = (config: AdaptiveConcurrency.Config) => `${config.minLimit}..${config.maxLimit}`
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layer` accept (every field optional; `latencyThreshold` as a `DurationInput`).
 *
 * @example
 * ```ts
 * import type { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * const config: AdaptiveConcurrency.ConfigInput = { algorithm: "aimd", initialLimit: 20, latencyThreshold: "2 seconds" }
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/** `Config` with the check across fields (`minLimit` not above `maxLimit`). */
const CheckedConfig = Config.pipe(
  Schema.filter((c) => c.minLimit <= c.maxLimit || { path: ["minLimit"], message: "minLimit must not exceed maxLimit" })
)

/**
 * An adaptive concurrency limit: an admission strategy whose refusals are
 * `BulkheadRejected("adaptive-limit")`, with read-only views of its state.
 *
 * @example
 * ```ts
 * import type { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * const load = (limit: AdaptiveConcurrency.AdaptiveConcurrency) => `${limit.inflight()}/${limit.limit()}`
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface AdaptiveConcurrency extends Strategy.Strategy<BulkheadRejected> {
  readonly [TypeId]: TypeId
  /** The current limit. */
  readonly limit: () => number
  /** Calls running. */
  readonly inflight: () => number
}

/**
 * Marks an adaptive concurrency limit.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * const key: symbol = AdaptiveConcurrency.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@effect-resilience/core/AdaptiveConcurrency")

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * type Key = AdaptiveConcurrency.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Whether a value (a strategy of a pipeline, say) is an adaptive concurrency limit.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import type { Strategy } from "@effect-resilience/core"
 *
 * const find = (strategies: ReadonlyArray<Strategy.Strategy<unknown>>) => strategies.find(AdaptiveConcurrency.isAdaptiveConcurrency)
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const isAdaptiveConcurrency = (u: unknown): u is AdaptiveConcurrency => Predicate.hasProperty(u, TypeId)

/**
 * The limit in context.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const current = Effect.map(AdaptiveConcurrency.AdaptiveConcurrency, (limit) => limit.limit())
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const AdaptiveConcurrency: Context.Tag<AdaptiveConcurrency, AdaptiveConcurrency> =
  Context.GenericTag<AdaptiveConcurrency>("@effect-resilience/core/AdaptiveConcurrency")

/**
 * Creates a limit. A bad config fails with the `ParseError` naming the field.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency, Classifier } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const limit = yield* AdaptiveConcurrency.make({ initialLimit: 10 })
 *   return yield* Effect.succeed("ok").pipe(AdaptiveConcurrency.protect(limit))
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: ConfigInput = {}
): Effect.Effect<AdaptiveConcurrency, ParseResult.ParseError, Scope.Scope> =>
  Effect.map(Schema.decodeUnknown(CheckedConfig)(config), fromConfig)

const fromConfig = (config: Config): AdaptiveConcurrency => {
  const name = config.name
  const state = core.make({ ...config, latencyThresholdMillis: Duration.toMillis(config.latencyThreshold) })
  const error = new BulkheadRejected({ bulkhead: name, reason: "adaptive-limit" })
  return {
    [TypeId]: TypeId,
    component: "adaptive-concurrency",
    name,
    admit: state.admit,
    reject: () => error,
    limit: state.limit,
    inflight: state.inflight
  }
}

/**
 * Provides one limit to everything under the Layer.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * const Limit = AdaptiveConcurrency.layer({ name: "db", initialLimit: 20, maxLimit: 100 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<AdaptiveConcurrency, ParseResult.ParseError> =>
  Layer.scoped(AdaptiveConcurrency, make(config))

/**
 * Runs an effect under `limit` (the generic `Strategy.protect`): its duration on the Clock and its
 * failure, classified once by the `Classifier` in context, feed the algorithm. Data-first or
 * data-last.
 *
 * @example
 * ```ts
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const limit = yield* AdaptiveConcurrency.AdaptiveConcurrency
 *   return yield* AdaptiveConcurrency.protect(Effect.succeed(1), limit)
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: {
  (
    limit: AdaptiveConcurrency
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R | Classifier>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limit: AdaptiveConcurrency
  ): Effect.Effect<A, E | BulkheadRejected, R | Classifier>
} = dual(
  2,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limit: AdaptiveConcurrency
  ): Effect.Effect<A, E | BulkheadRejected, R | Classifier> => binding.protect(limit)(self)
)
