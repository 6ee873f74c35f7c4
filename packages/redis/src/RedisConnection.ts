/**
 * A Redis connection that heals (`Connection` of `@effect-resilience/core`) on ioredis: the
 * client is opened without ioredis' own reconnecting and offline queue, so that a lost connection
 * fails commands at once and the `Connection` service decides when to reconnect (with its backoff)
 * and makes calls wait for it within their deadline; the health check is a `PING`.
 *
 * @since 0.3.0
 */
import * as Connection from "@effect-resilience/core/Connection"
import * as Failures from "@effect-resilience/core/Failures"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type * as Scope from "effect/Scope"
import { Redis, type RedisOptions } from "ioredis"

/**
 * Opens one ioredis client for the lifetime of the scope: connected before it returns, no
 * reconnecting of its own, no offline queue. A refused connection fails with the `Failures` value
 * of the error (a `NetworkError` or a `RedisError`).
 *
 * @example
 * ```ts
 * import { RedisConnection } from "@effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const pong = Effect.scoped(Effect.flatMap(RedisConnection.acquire("redis://127.0.0.1:6379"), (redis) => RedisConnection.ping(redis)))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const acquire = (url: string, options?: RedisOptions): Effect.Effect<Redis, Failures.Failure, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.suspend(() => {
      const redis = new Redis(url, {
        connectTimeout: 2_000,
        ...options,
        lazyConnect: true,
        retryStrategy: () => null,
        maxRetriesPerRequest: 0,
        enableOfflineQueue: false
      })
      // failures reach callers through the commands; an unheard "error" event would be logged by ioredis
      redis.on("error", () => {})
      return Effect.tryPromise({
        try: () => redis.connect(),
        catch: (error) => {
          redis.disconnect()
          return Failures.fromUnknown(error)
        }
      }).pipe(Effect.as(redis))
    }),
    (redis) => Effect.sync(() => redis.disconnect())
  )

/**
 * The health check: a `PING` answered `PONG`.
 *
 * @example
 * ```ts
 * import { RedisConnection } from "@effect-resilience/redis"
 * import type { Redis } from "ioredis"
 *
 * const check = (redis: Redis) => RedisConnection.ping(redis)
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const ping = (redis: Redis): Effect.Effect<void, Failures.Failure> =>
  Effect.tryPromise({ try: () => redis.ping(), catch: Failures.fromUnknown }).pipe(
    Effect.flatMap((answer) =>
      answer === "PONG"
        ? Effect.void
        : Effect.fail(Failures.fromUnknown(new Error("Redis did not answer PING with PONG")))
    )
  )

/**
 * A connection to Redis that heals: {@link acquire} and {@link ping} under `Connection.make`.
 *
 * @example
 * ```ts
 * import { Deadline } from "@effect-resilience/core"
 * import { RedisConnection } from "@effect-resilience/redis"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const cache = yield* RedisConnection.make("redis://127.0.0.1:6379", { name: "cache", healthInterval: "1 second" })
 *   return yield* cache.use((redis) => Effect.promise(() => redis.get("greeting"))).pipe(Deadline.propagate("2 seconds"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  url: string,
  config: Connection.ConfigInput,
  options?: RedisOptions
): Effect.Effect<Connection.Connection<Redis>, ParseResult.ParseError, Scope.Scope> =>
  Connection.make({ acquire: acquire(url, options), healthCheck: ping }, config)
