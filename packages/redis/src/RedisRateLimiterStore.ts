/**
 * Rate limits shared by a fleet of processes on Redis: a `RateLimiterStore` for
 * `@effect-resilience/core`'s `RateLimiter`. Each key's token bucket or fixed window lives in
 * Redis and is taken from by one atomic script of our own in integer arithmetic, so every limit
 * per window works (3 per second included, which `@effect/experimental` 0.61.1's fixed-window
 * store refuses). A limited call waits one round trip for the script; under `"delay"` it asks
 * again when a token is due, within `maxDelay` and its deadline. When Redis fails or is slow, the
 * call is decided by a local limiter of the same settings, no error reaches the caller, and
 * `resilience_store_fallback_total` counts it. `consume` answers from the local limiter: only
 * admission (`protect`, pipelines) is shared.
 *
 * @since 0.2.0
 */
import * as DurationInput from "@effect-resilience/core/DurationInput"
import * as RateLimiter from "@effect-resilience/core/RateLimiter"
import type * as EffectConfig from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as connection from "./internal/connection.js"
import * as store from "./internal/limiterStore.js"

/**
 * The store's config. Defaults: `url` `redis://127.0.0.1:6379`, `keyPrefix` `resilience`,
 * `commandTimeout` 250 ms (the budget of each limited call's round trip).
 *
 * @example
 * ```ts
 * import { RedisRateLimiterStore } from "@effect-resilience/redis"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(RedisRateLimiterStore.Config)({ url: "redis://cache:6379", commandTimeout: 50 })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Config = Schema.Struct({
  url: Schema.optionalWith(Schema.String, { default: () => "redis://127.0.0.1:6379" }),
  keyPrefix: Schema.optionalWith(Schema.NonEmptyString, { default: () => "resilience" }),
  commandTimeout: Schema.optionalWith(DurationInput.FinitePositive, { default: () => Duration.millis(250) })
})

/**
 * The decoded config.
 *
 * @example
 * ```ts
 * import type { RedisRateLimiterStore } from "@effect-resilience/redis"
 *
 * const prefix = (config: RedisRateLimiterStore.Config) => config.keyPrefix
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The config as written.
 *
 * @example
 * ```ts
 * import type { RedisRateLimiterStore } from "@effect-resilience/redis"
 *
 * const config: RedisRateLimiterStore.ConfigInput = { url: "redis://127.0.0.1:6379" }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * The store, its connection living as long as the scope.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { RedisRateLimiterStore } from "@effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RedisRateLimiterStore.make({ url: "redis://127.0.0.1:6379" })
 *   return yield* RateLimiter.make({ name: "api", algorithm: "fixed-window", limit: 3, window: "1 second" }).pipe(
 *     Effect.provideService(RateLimiter.RateLimiterStore, store)
 *   )
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  config: ConfigInput = {}
): Effect.Effect<RateLimiter.RateLimiterStoreService, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config), (decoded) =>
    Effect.map(
      connection.make({
        url: decoded.url,
        commandTimeoutMillis: Duration.toMillis(decoded.commandTimeout),
        processId: `${process.pid}`
      }),
      (conn) => store.make(conn, { keyPrefix: decoded.keyPrefix })
    )
  )

/**
 * The `RateLimiterStore` on Redis: limiters made under this Layer share each key's limit with the
 * limiters of the same name in other processes.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { RedisRateLimiterStore } from "@effect-resilience/redis"
 * import { Layer } from "effect"
 *
 * const PerTenant = RateLimiter.layer({ name: "per-tenant", limit: 3, window: "1 second" }).pipe(
 *   Layer.provide(RedisRateLimiterStore.layer({ url: "redis://127.0.0.1:6379" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<RateLimiter.RateLimiterStore, ParseResult.ParseError> =>
  Layer.scoped(RateLimiter.RateLimiterStore, make(config))

/**
 * {@link layer} from Effect's `Config`.
 *
 * @example
 * ```ts
 * import { RedisRateLimiterStore } from "@effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const Store = RedisRateLimiterStore.layerConfig(Config.all({ url: Config.string("REDIS_URL") }))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  config: EffectConfig.Config<ConfigInput>
): Layer.Layer<RateLimiter.RateLimiterStore, ConfigError.ConfigError | ParseResult.ParseError> =>
  Layer.scoped(
    RateLimiter.RateLimiterStore,
    Effect.flatMap(config, (input) => make(input))
  )
