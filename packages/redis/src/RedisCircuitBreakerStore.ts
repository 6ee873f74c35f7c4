/**
 * Circuit breakers shared by a fleet of processes on Redis: a `CircuitBreakerStore` for
 * `@effect-resilience/core`.
 *
 * - Each process decides locally and synchronously: no Redis round trip on the call path.
 * - In the background, once per `flushInterval` and per breaker, one script publishes the
 *   process's window, reads the fleet's, and re-reads the fleet's state. A breaker trips on its
 *   own evidence and on the fleet's pooled evidence; the fleet opens when a `quorum` of processes
 *   reports failures (so one sick replica opens only its own breaker).
 * - Openings, forced opens and closes reach every process within one round trip (pub/sub); a
 *   process that joins reads the current state.
 * - In half-open one process of the fleet probes: the holder of a lease (`SET NX PX`) that expires
 *   when its holder dies; the probe's outcome closes or re-opens the breaker everywhere.
 * - When Redis fails or is slow (every command has a `commandTimeout`), breakers decide on local
 *   state; no error reaches a caller; `resilience_store_fallback_total` counts the failed commands,
 *   a log says so once, and the state re-syncs when Redis returns.
 *
 * @since 0.2.0
 */
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as DurationInput from "@effect-resilience/core/DurationInput"
import { randomUUID } from "node:crypto"
import { hostname } from "node:os"
import type * as EffectConfig from "effect/Config"
import type * as ConfigError from "effect/ConfigError"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Metric from "effect/Metric"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as store from "./internal/breakerStore.js"
import * as connection from "./internal/connection.js"

/**
 * When the fleet may open on pooled evidence: at least `processes` processes (default 1) report
 * failures, and at least `share` of the live processes (a ratio, default 0). A process reports
 * failures when its own window's failure (or slow-call) rate reaches the policy's threshold; under
 * the consecutive-failures policy, when its last call failed.
 *
 * @example
 * ```ts
 * import type { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 *
 * // two processes, and at least a third of the fleet
 * const quorum: RedisCircuitBreakerStore.ConfigInput["quorum"] = { processes: 2, share: 0.33 }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Quorum = Schema.Struct({
  processes: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 1 }),
  share: Schema.optionalWith(Schema.Number.pipe(Schema.between(0, 1)), { default: () => 0 })
})

/**
 * The store's config. Defaults: `url` `redis://127.0.0.1:6379`, `keyPrefix` `resilience`,
 * `flushInterval` 1 second, `commandTimeout` 250 ms (the budget of every Redis command),
 * `probeLease` 10 seconds (how long a process holds the fleet's half-open probe; it should outlast
 * a probe call), `quorum` one process, `processId` host, pid and a random suffix.
 *
 * @example
 * ```ts
 * import { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(RedisCircuitBreakerStore.Config)({
 *   url: "redis://cache:6379",
 *   flushInterval: "500 millis",
 *   quorum: { processes: 2 }
 * })
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
  probeLease: Schema.optionalWith(DurationInput.FinitePositive, { default: () => Duration.seconds(10) }),
  quorum: Schema.optionalWith(Quorum, { default: () => ({ processes: 1, share: 0 }) }),
  processId: Schema.optional(Schema.NonEmptyString.pipe(Schema.pattern(/^[^|]+$/)))
})

/**
 * The decoded config.
 *
 * @example
 * ```ts
 * import type { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 * import { Duration } from "effect"
 *
 * const flushMillis = (config: RedisCircuitBreakerStore.Config) => Duration.toMillis(config.flushInterval)
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
 * import type { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 *
 * const config: RedisCircuitBreakerStore.ConfigInput = { url: "redis://127.0.0.1:6379", commandTimeout: 100 }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * Counts the Redis commands of the stores that failed or ran out of time (labels `store` and
 * `operation`): each time, decisions fell back to local state.
 *
 * @example
 * ```ts
 * import { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 * import { Effect, Metric } from "effect"
 *
 * const fallbacks = Metric.value(RedisCircuitBreakerStore.fallbackTotal).pipe(Effect.map((state) => state.count))
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export const fallbackTotal: Metric.Metric.Counter<number> = connection.fallbackTotal

const processIdOf = (config: Config): string =>
  config.processId ?? `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`

/**
 * The store, its connections living as long as the scope. A bad config fails with a `ParseError`
 * naming the path; Redis being down is no error (breakers decide locally until it comes).
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* RedisCircuitBreakerStore.make({ url: "redis://127.0.0.1:6379" })
 *   return yield* CircuitBreaker.make({ name: "payments" }).pipe(
 *     Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
 *   )
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (
  config: ConfigInput = {}
): Effect.Effect<CircuitBreaker.CircuitBreakerStoreService, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config), (decoded) =>
    Effect.map(
      connection.make({
        url: decoded.url,
        commandTimeoutMillis: Duration.toMillis(decoded.commandTimeout),
        processId: processIdOf(decoded)
      }),
      (conn) =>
        store.make(conn, {
          keyPrefix: decoded.keyPrefix,
          flushMillis: Duration.toMillis(decoded.flushInterval),
          leaseMillis: Duration.toMillis(decoded.probeLease),
          quorum: decoded.quorum
        })
    )
  )

/**
 * The `CircuitBreakerStore` on Redis: every breaker made under this Layer shares its state with
 * the breakers of the same name in other processes using the same Redis and key prefix.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 * import { Layer } from "effect"
 *
 * const Payments = CircuitBreaker.layer({ name: "payments" }).pipe(
 *   Layer.provide(RedisCircuitBreakerStore.layer({ url: "redis://127.0.0.1:6379", quorum: { processes: 2 } }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  config: ConfigInput = {}
): Layer.Layer<CircuitBreaker.CircuitBreakerStore, ParseResult.ParseError> =>
  Layer.scoped(CircuitBreaker.CircuitBreakerStore, make(config))

/**
 * {@link layer} from Effect's `Config` (environment variables, a config provider).
 *
 * @example
 * ```ts
 * import { RedisCircuitBreakerStore } from "@effect-resilience/redis"
 * import { Config } from "effect"
 *
 * const Store = RedisCircuitBreakerStore.layerConfig(
 *   Config.all({
 *     url: Config.string("REDIS_URL"),
 *     keyPrefix: Config.withDefault(Config.string("REDIS_PREFIX"), "resilience"),
 *     flushInterval: Config.withDefault(Config.integer("BREAKER_FLUSH_MILLIS"), 1000),
 *     quorum: Config.all({ processes: Config.withDefault(Config.integer("BREAKER_QUORUM"), 1) })
 *   })
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerConfig = (
  config: EffectConfig.Config<ConfigInput>
): Layer.Layer<CircuitBreaker.CircuitBreakerStore, ConfigError.ConfigError | ParseResult.ParseError> =>
  Layer.scoped(
    CircuitBreaker.CircuitBreakerStore,
    Effect.flatMap(config, (input) => make(input))
  )
