/**
 * Client-side adaptive throttling (Google SRE book, "Handling Overload"): each client counts, over
 * the last `window` (2 minutes), the `requests` it attempted and the `accepts` the backend did not
 * refuse for overload, and rejects a new request locally, before it leaves the process, with
 * probability
 *
 *     max(0, (requests - K * accepts) / (requests + 1))
 *
 * With K = 2 the backend receives at most about twice the load it accepts, so a backend that
 * sheds load does not drown in requests it would shed anyway. Requests rejected locally count as
 * requests, so the rejection rate keeps tracking the backend's acceptance rate.
 *
 * A throttle is a {@link Strategy.Strategy} (component `"adaptive-throttle"`). A local rejection
 * fails with `BulkheadRejected` reason `"throttled"`. An admitted call is counted when it ends: a
 * failure whose `Classification` category is one of `rejectionCategories` (default `throttled`,
 * `unavailable`, `resource`, `timeout`) counts as refused by the backend, any other outcome as
 * accepted (a backend that queues instead of refusing shows its overload as timeouts); an
 * interrupted call is not counted. The draw uses the caller's `Random` (seed it in tests), and
 * only when the probability is above zero.
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
import * as core from "./internal/adaptiveThrottle/core.js"
import { FinitePositiveDuration } from "./internal/schema.js"
import * as binding from "./internal/strategy/binding.js"
import type * as Strategy from "./Strategy.js"

/**
 * Defaults from the SRE book: `k` 2, `window` 2 minutes in `buckets` 120 (of 1 second each);
 * `rejectionCategories` `throttled`, `unavailable`, `resource` and `timeout` (the overload
 * simulation of docs/overload.md shows a throttle that ignores timeouts never engages against a
 * server that queues).
 *
 * @example
 * ```ts
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(AdaptiveThrottle.Config)({ name: "search", k: 1.5, window: "1 minute" })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  k: Schema.optionalWith(Schema.Number.pipe(Schema.positive(), Schema.finite()), { default: () => 2 }),
  window: Schema.optionalWith(FinitePositiveDuration, { default: () => Duration.minutes(2) }),
  buckets: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 120 }),
  rejectionCategories: Schema.optionalWith(Schema.Array(Category), {
    default: () => ["throttled", "unavailable", "resource", "timeout"] as const
  })
})

/**
 * A decoded configuration.
 *
 * @example
 * ```ts
 * import type { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * const countsAsRefusal = (config: AdaptiveThrottle.Config, category: string) =>
 *   config.rejectionCategories.some((c) => c === category)
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layer` accept (every field optional; `window` as a `DurationInput`).
 *
 * @example
 * ```ts
 * import type { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * const config: AdaptiveThrottle.ConfigInput = { k: 1.5, window: "1 minute", rejectionCategories: ["throttled"] }
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * An adaptive throttle: an admission strategy whose local rejections are
 * `BulkheadRejected("throttled")`, with read-only views of its window.
 *
 * @example
 * ```ts
 * import type { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * const shedding = (throttle: AdaptiveThrottle.AdaptiveThrottle) => throttle.probability() > 0
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface AdaptiveThrottle extends Strategy.Strategy<BulkheadRejected> {
  readonly [TypeId]: TypeId
  readonly k: number
  /** The current local rejection probability, `max(0, (requests - k * accepts) / (requests + 1))`. */
  readonly probability: () => number
  /** Requests in the window. */
  readonly requests: () => number
  /** Accepts in the window. */
  readonly accepts: () => number
}

/**
 * Marks an adaptive throttle.
 *
 * @example
 * ```ts
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * const key: symbol = AdaptiveThrottle.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@effect-resilience/core/AdaptiveThrottle")

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * type Key = AdaptiveThrottle.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Whether a value (a strategy of a pipeline, say) is an adaptive throttle.
 *
 * @example
 * ```ts
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import type { Strategy } from "@effect-resilience/core"
 *
 * const find = (strategies: ReadonlyArray<Strategy.Strategy<unknown>>) => strategies.find(AdaptiveThrottle.isAdaptiveThrottle)
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const isAdaptiveThrottle = (u: unknown): u is AdaptiveThrottle => Predicate.hasProperty(u, TypeId)

/**
 * The throttle in context.
 *
 * @example
 * ```ts
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const p = Effect.map(AdaptiveThrottle.AdaptiveThrottle, (throttle) => throttle.probability())
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const AdaptiveThrottle: Context.Tag<AdaptiveThrottle, AdaptiveThrottle> = Context.GenericTag<AdaptiveThrottle>(
  "@effect-resilience/core/AdaptiveThrottle"
)

/**
 * Creates a throttle. A bad config fails with the `ParseError` naming the field.
 *
 * @example
 * ```ts
 * import { AdaptiveThrottle, Classifier } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const throttle = yield* AdaptiveThrottle.make({ name: "search" })
 *   return yield* Effect.succeed("hits").pipe(AdaptiveThrottle.protect(throttle))
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: ConfigInput = {}): Effect.Effect<AdaptiveThrottle, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config), (decoded) =>
    Effect.map(Effect.clock, (clock) => fromConfig(decoded, () => clock.unsafeCurrentTimeMillis()))
  )

const fromConfig = (config: Config, now: () => number): AdaptiveThrottle => {
  const name = config.name
  const state = core.make({
    k: config.k,
    windowMillis: Duration.toMillis(config.window),
    buckets: config.buckets,
    rejectionCategories: config.rejectionCategories
  })
  const error = new BulkheadRejected({ bulkhead: name, reason: "throttled" })
  return {
    [TypeId]: TypeId,
    component: "adaptive-throttle",
    name,
    admit: state.admit,
    reject: () => error,
    k: config.k,
    probability: () => state.probability(now()),
    requests: () => state.requests(now()),
    accepts: () => state.accepts(now())
  }
}

/**
 * Provides one throttle to everything under the Layer.
 *
 * @example
 * ```ts
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * const Throttle = AdaptiveThrottle.layer({ name: "search", k: 2 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<AdaptiveThrottle, ParseResult.ParseError> =>
  Layer.scoped(AdaptiveThrottle, make(config))

/**
 * Runs an effect through `throttle` (the generic `Strategy.protect`): the `Classifier` in context
 * classifies its failure once. Data-first or data-last.
 *
 * @example
 * ```ts
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const throttle = yield* AdaptiveThrottle.AdaptiveThrottle
 *   return yield* AdaptiveThrottle.protect(Effect.succeed(1), throttle)
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: {
  (
    throttle: AdaptiveThrottle
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R | Classifier>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    throttle: AdaptiveThrottle
  ): Effect.Effect<A, E | BulkheadRejected, R | Classifier>
} = dual(
  2,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    throttle: AdaptiveThrottle
  ): Effect.Effect<A, E | BulkheadRejected, R | Classifier> => binding.protect(throttle)(self)
)
