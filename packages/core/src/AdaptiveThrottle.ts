/**
 * Client-side adaptive throttling (Google SRE book, "Handling Overload"): each client counts, over
 * the last 2 minutes, the `requests` it attempted and the `accepts` the backend did not refuse for
 * overload, and rejects a new request locally, before it leaves the process, with probability
 *
 *     max(0, (requests - K * accepts) / (requests + 1))
 *
 * With K = 2 the backend receives at most about twice the load it accepts, so a backend that
 * sheds load does not drown in requests it would shed anyway. Requests rejected locally count as
 * requests, so the rejection rate keeps tracking the backend's acceptance rate.
 *
 * A local rejection fails with `BulkheadRejected` reason `"throttled"` and publishes a `Rejected`
 * event. A failed call counts as refused by the backend when its classification's category is one
 * of `rejectionCategories` (default `throttled`, `unavailable`, `resource`); other failures count
 * as accepts (the backend did serve them). Without a `Classifier` in context every failure counts
 * as refused. `protect` counts an admitted call when it ends; an interrupted call is not counted.
 *
 * The draw uses Effect's `Random` (seed it in tests), and only when the probability is above zero:
 * a healthy client pays no random draw.
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
import * as internal from "./internal/adaptiveThrottle.js"

/**
 * Defaults from the SRE book: `k` 2, `windowMillis` 120 000 (the last 2 minutes), in `buckets`
 * 120 of 1 s; `rejectionCategories` `throttled`, `unavailable` and `resource`.
 *
 * @example
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(AdaptiveThrottle.Config)({ name: "search", k: 1.5 })
 *
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  k: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 2 }),
  windowMillis: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 120_000 }),
  buckets: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 120 }),
  rejectionCategories: Schema.optionalWith(Schema.Array(Category), {
    default: () => ["throttled", "unavailable", "resource"] as const
  })
})

/** @since 0.1.0 */
export interface AdaptiveThrottleConfig extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layer` accept (every field optional).
 *
 * @example
 * import type { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * const config: AdaptiveThrottle.ConfigInput = { k: 1.5, rejectionCategories: ["throttled"] }
 *
 * @since 0.1.0
 */
export type ConfigInput = Schema.Schema.Encoded<typeof Config>

/**
 * An adaptive throttle.
 *
 * @example
 * import type { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * // the synchronous core with a caller-provided uniform draw
 * const decide = (throttle: AdaptiveThrottle.AdaptiveThrottleService): boolean => throttle.admit(Math.random())
 *
 * @since 0.1.0
 */
export interface AdaptiveThrottleService {
  readonly name: string
  readonly k: number
  /** The current local rejection probability, `max(0, (requests - k * accepts) / (requests + 1))`. */
  readonly probability: () => number
  /**
   * Records one request and decides it with `u`, a uniform draw in [0, 1): `false` (reject
   * locally) when `u < probability()`. Synchronous.
   */
  readonly admit: (u: number) => boolean
  /** Records that the backend accepted a request (admitted earlier by `admit`). Reads no clock. */
  readonly onAccepted: () => void
  /** Runs `self` unless throttled locally, recording the request and whether it was accepted. */
  readonly withThrottle: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  /** Requests in the window. */
  readonly requests: () => number
  /** Accepts in the window. */
  readonly accepts: () => number
  readonly reset: () => void
}

/**
 * The throttle in context.
 *
 * @example
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const p = Effect.map(AdaptiveThrottle.AdaptiveThrottle, (t) => t.probability())
 *
 * @since 0.1.0
 */
export class AdaptiveThrottle extends Context.Tag("@effect-resilience/core/AdaptiveThrottle")<
  AdaptiveThrottle,
  AdaptiveThrottleService
>() {}

/**
 * Creates a throttle. The `Classifier` in context when it is made (if any) decides which failures
 * are the backend's refusals.
 *
 * @example
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const throttle = yield* AdaptiveThrottle.make({ name: "search" })
 *     return yield* Effect.succeed("hits").pipe(AdaptiveThrottle.protect(throttle))
 *   })
 * )
 *
 * @since 0.1.0
 */
export const make = (config: ConfigInput = {}): Effect.Effect<AdaptiveThrottleService, never, Scope.Scope> =>
  Effect.flatMap(Effect.orDie(Schema.decode(Config)(config)), (decoded) =>
    Effect.zipWith(Effect.clock, Effect.serviceOption(Classifier), (clock, classifier) =>
      internal.make(decoded, clock, classifier)
    )
  )

/**
 * Provides one throttle to everything under the Layer.
 *
 * @example
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 *
 * const Throttle = AdaptiveThrottle.layer({ name: "search", k: 2 })
 *
 * @since 0.1.0
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<AdaptiveThrottle> =>
  Layer.scoped(AdaptiveThrottle, make(config))

/**
 * Runs an effect through `throttle`. Data-first or data-last.
 *
 * @example
 * import { AdaptiveThrottle } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const throttle = yield* AdaptiveThrottle.AdaptiveThrottle
 *   return yield* AdaptiveThrottle.protect(Effect.succeed(1), throttle)
 * })
 *
 * @since 0.1.0
 */
export const protect: {
  (
    throttle: AdaptiveThrottleService
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, throttle: AdaptiveThrottleService): Effect.Effect<A, E | BulkheadRejected, R>
} = dual(
  2,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    throttle: AdaptiveThrottleService
  ): Effect.Effect<A, E | BulkheadRejected, R> => throttle.withThrottle(self)
)
