/**
 * Retry budgets shared by a fleet of processes on Redis: a `RetryBudgetStore` for
 * `@effect-resilience/core`. The AWS token bucket lives in Redis and is changed by one atomic
 * script (refilled by time at `refillPerSecond`, refunds added, capped at the capacity); each
 * process holds a local `allowance` taken from it, so a retry never waits for Redis, and the
 * fleet together never retries more than the bucket pays. When Redis fails or is slow, a process
 * spends its allowance and then decides on a bucket of its own, as without Redis; no error
 * reaches a caller, and `resilience_store_fallback_total` counts the failed commands.
 *
 * The ratio mode is shared too: requests and retries are counted in Redis in time buckets of the
 * budget's window, and a process takes up to `retryAllowance` retries at a time while the fleet's
 * retries stay below `ratio * requests + reserve`; a retry granted but not spent within one bucket
 * is dropped.
 *
 * @since 0.2.0
 */
import * as RetryBudget from "@effect-resilience/core/RetryBudget"
import * as DurationInput from "@effect-resilience/core/DurationInput"
import type * as EffectConfig from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as store from "./internal/budgetStore.js"
import * as connection from "./internal/connection.js"

/**
 * The store's config. Defaults: `url` `redis://127.0.0.1:6379`, `keyPrefix` `resilience`,
 * `flushInterval` 1 second (how often the allowance is topped up and refunds are given back, and
 * at once when the allowance runs below half), `commandTimeout` 250 ms, `allowance` 25 tokens
 * held by each process (five retries at the AWS cost of 5), `refillPerSecond` 0 (the AWS bucket
 * is refilled by successes only), `retryAllowance` 5 (the retries a process holds in ratio mode).
 *
 * @example
 * ```ts
 * import { RedisRetryBudgetStore } from "@effect-resilience/redis"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(RedisRetryBudgetStore.Config)({ allowance: 10, refillPerSecond: 5 })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Config = Schema.Struct({
  url: Schema.optionalWith(Schema.String, { default: () => "redis://127.0.0.1:6379" }),
  keyPrefix: Schema.optionalWith(Schema.NonEmptyString, { default: () => "resilience" }),
  flushInterval: Schema.optionalWith(DurationInput.FinitePositive, { default: () => Duration.seconds(1) }),
  commandTimeout: Schema.optionalWith(DurationInput.FinitePositive, { default: () => Duration.millis(250) }),
  allowance: Schema.optionalWith(Schema.Number.pipe(Schema.positive(), Schema.finite()), { default: () => 25 }),
  refillPerSecond: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative(), Schema.finite()), {
    default: () => 0
  }),
  retryAllowance: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 5 })
})

/**
 * The decoded config.
 *
 * @example
 * ```ts
 * import type { RedisRetryBudgetStore } from "@effect-resilience/redis"
 *
 * const held = (config: RedisRetryBudgetStore.Config) => config.allowance
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The config as written: every field optional, durations as milliseconds or strings.
 *
 * @example
 * ```ts
 * import type { RedisRetryBudgetStore } from "@effect-resilience/redis"
 *
 * const config: RedisRetryBudgetStore.ConfigInput = { url: "redis://127.0.0.1:6379", allowance: 10 }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * The store, its connection living as long as the scope. A bad config fails with a `ParseError`;
 * Redis being down is no error.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { RedisRetryBudgetStore } from "@effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RedisRetryBudgetStore.make({ url: "redis://127.0.0.1:6379" })
 *   return yield* RetryBudget.make({ name: "s3", capacity: 100 }).pipe(
 *     Effect.provideService(RetryBudget.RetryBudgetStore, store)
 *   )
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  config: ConfigInput = {}
): Effect.Effect<RetryBudget.RetryBudgetStoreService, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config), (decoded) =>
    Effect.map(
      connection.make({
        url: decoded.url,
        commandTimeoutMillis: Duration.toMillis(decoded.commandTimeout),
        processId: `${process.pid}`
      }),
      (conn) =>
        store.make(conn, {
          keyPrefix: decoded.keyPrefix,
          flushMillis: Duration.toMillis(decoded.flushInterval),
          allowance: decoded.allowance,
          refillPerSecond: decoded.refillPerSecond,
          retryAllowance: decoded.retryAllowance
        })
    )
  )

/**
 * The `RetryBudgetStore` on Redis: every budget made under this Layer (by `RetryBudget.layer`,
 * `make`, or the registry of a pipeline) shares its tokens with the budgets of the same name in
 * other processes.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { RedisRetryBudgetStore } from "@effect-resilience/redis"
 * import { Layer } from "effect"
 *
 * const Budgets = RetryBudget.layerRegistry.pipe(Layer.provide(RedisRetryBudgetStore.layer({ url: "redis://127.0.0.1:6379" })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<RetryBudget.RetryBudgetStore, ParseResult.ParseError> =>
  Layer.scoped(RetryBudget.RetryBudgetStore, make(config))

/**
 * {@link layer} from Effect's `Config`.
 *
 * @example
 * ```ts
 * import { RedisRetryBudgetStore } from "@effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const Store = RedisRetryBudgetStore.layerConfig(Config.all({ url: Config.string("REDIS_URL") }))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  config: EffectConfig.Config<ConfigInput>
): Layer.Layer<RetryBudget.RetryBudgetStore, ConfigError.ConfigError | ParseResult.ParseError> =>
  Layer.scoped(
    RetryBudget.RetryBudgetStore,
    Effect.flatMap(config, (input) => make(input))
  )
