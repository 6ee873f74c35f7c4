/**
 * An adaptive concurrency limit: like a bulkhead, but the limit moves with what the dependency
 * shows. AIMD, as in Netflix concurrency-limits: a call that succeeds within
 * `latencyThresholdMillis` while at least half the limit is in use raises the limit by 1; a drop
 * (a failure that signals overload, or a call slower than the threshold) multiplies it by
 * `backoffRatio` (0.9), rounding down; the limit stays within [`minLimit`, `maxLimit`].
 *
 * A call over the limit is rejected at once (no queue) with `BulkheadRejected` reason
 * `"adaptive-limit"`, publishing a `Rejected` event. With a `Classifier` in context when the
 * limiter is made, a failure is a drop when its category is one of `dropCategories` (default
 * `timeout`, `throttled`, `unavailable`, `resource`); without one, every failure is a drop.
 * Defects are drops; an interrupted call frees its slot without moving the limit.
 *
 * Gradient2 (Netflix concurrency-limits' `Gradient2Limit`) is the other algorithm: it keeps a
 * long-term exponential average of the round-trip time and, on each sample while at least half the
 * limit is in use, moves the limit towards `limit * gradient + queueSize` with
 * `gradient = clamp(rttTolerance * longRtt / rtt, 0.5, 1)`, smoothed by `smoothing`. Latency growth
 * thus shrinks the limit before anything fails. Unlike Netflix's, a drop counts as the strongest
 * slow-down (gradient 0.5), so that timeouts and overload refusals always lower the limit. Vegas is
 * not implemented.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { Category } from "./Classification.js"
import { Classifier } from "./Classifier.js"
import type { BulkheadRejected } from "./Errors.js"
import * as internal from "./internal/adaptiveConcurrency.js"

/**
 * `algorithm` `"aimd"` (default) or `"gradient2"`. Shared: `initialLimit` 20 and `maxLimit` 200
 * (Netflix), `minLimit` 1 (Netflix uses 20, which forbids backing off below the start).
 * AIMD (Netflix's `AIMDLimit`): `backoffRatio` 0.9, `latencyThresholdMillis` 5000.
 * Gradient2 (Netflix's `Gradient2Limit`): `smoothing` 0.2, `rttTolerance` 1.5, `longWindow` 600
 * samples, `queueSize` 4.
 *
 * @example
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(AdaptiveConcurrency.Config)({ name: "db", initialLimit: 10, maxLimit: 50 })
 *
 * @since 0.1.0
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
  latencyThresholdMillis: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 5000 }),
  smoothing: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1, { exclusiveMinimum: true })), {
    default: () => 0.2
  }),
  rttTolerance: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 1.5 }),
  longWindow: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 600 }),
  queueSize: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 4 }),
  dropCategories: Schema.optionalWith(Schema.Array(Category), {
    default: () => ["timeout", "throttled", "unavailable", "resource"] as const
  })
}).pipe(Schema.filter((c) => c.minLimit <= c.maxLimit || "minLimit must not exceed maxLimit"))

/** @since 0.1.0 */
export interface AdaptiveConcurrencyConfig extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layer` accept (every field optional).
 *
 * @example
 * import type { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * const config: AdaptiveConcurrency.ConfigInput = { algorithm: "gradient2", initialLimit: 20, maxLimit: 100 }
 *
 * @since 0.1.0
 */
export type ConfigInput = Schema.Schema.Encoded<typeof Config>

/**
 * An adaptive concurrency limiter.
 *
 * @example
 * import type { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * // the synchronous core, with latency measured by the caller
 * const record = (limiter: AdaptiveConcurrency.AdaptiveConcurrencyService, latencyMillis: number, failed: boolean) =>
 *   limiter.complete(latencyMillis, failed)
 *
 * @since 0.1.0
 */
export interface AdaptiveConcurrencyService {
  readonly name: string
  /** The current limit. */
  readonly limit: () => number
  /** Calls running. */
  readonly inflight: () => number
  /** Takes a slot when fewer than `limit` calls run. Synchronous; pair with `complete` or `cancel`. */
  readonly tryAcquire: () => boolean
  /** Frees a slot and feeds the outcome to the algorithm. */
  readonly complete: (latencyMillis: number, dropped: boolean) => void
  /** Frees a slot without a sample (the call was interrupted). */
  readonly cancel: () => void
  /** Runs `self` in a slot, measuring it with the Clock and classifying its failure. */
  readonly withLimit: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
}

/**
 * The limiter in context.
 *
 * @example
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const current = Effect.map(AdaptiveConcurrency.AdaptiveConcurrency, (l) => l.limit())
 *
 * @since 0.1.0
 */
export class AdaptiveConcurrency extends Context.Tag("@effect-resilience/core/AdaptiveConcurrency")<
  AdaptiveConcurrency,
  AdaptiveConcurrencyService
>() {}

/**
 * Creates a limiter. The `Classifier` in context when it is made (if any) decides which failures
 * are drops.
 *
 * @example
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const limiter = yield* AdaptiveConcurrency.make({ initialLimit: 10 })
 *     return yield* Effect.succeed("ok").pipe(AdaptiveConcurrency.protect(limiter))
 *   })
 * )
 *
 * @since 0.1.0
 */
export const make = (config: ConfigInput = {}): Effect.Effect<AdaptiveConcurrencyService, never, Scope.Scope> =>
  Effect.flatMap(Effect.orDie(Schema.decode(Config)(config)), (decoded) =>
    Effect.zipWith(Effect.clock, Effect.serviceOption(Classifier), (clock, classifier) =>
      internal.make(decoded, clock, classifier)
    )
  )

/**
 * Provides one limiter to everything under the Layer.
 *
 * @example
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 *
 * const Limit = AdaptiveConcurrency.layer({ name: "db", initialLimit: 20, maxLimit: 100 })
 *
 * @since 0.1.0
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<AdaptiveConcurrency> =>
  Layer.scoped(AdaptiveConcurrency, make(config))

/**
 * Runs an effect under `limiter`. Data-first or data-last.
 *
 * @example
 * import { AdaptiveConcurrency } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const limiter = yield* AdaptiveConcurrency.AdaptiveConcurrency
 *   return yield* AdaptiveConcurrency.protect(Effect.succeed(1), limiter)
 * })
 *
 * @since 0.1.0
 */
export const protect: {
  (
    limiter: AdaptiveConcurrencyService
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limiter: AdaptiveConcurrencyService
  ): Effect.Effect<A, E | BulkheadRejected, R>
} = dual(
  2,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limiter: AdaptiveConcurrencyService
  ): Effect.Effect<A, E | BulkheadRejected, R> => limiter.withLimit(self)
)
