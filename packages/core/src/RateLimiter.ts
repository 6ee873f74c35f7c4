/**
 * A keyed rate limiter: at most `limit` tokens per `windowMillis` for each key (a user, a tenant,
 * an upstream host). When a call finds no token it either waits (policy `"delay"`, up to
 * `maxDelayMillis`) or fails with `RateLimited` carrying `retryAfterMillis` (policy `"fail"`, or a
 * wait that would be longer than allowed or than the call's `Deadline` leaves). Rejections publish
 * a `Rejected` event.
 *
 * Two algorithms: `"token-bucket"` (continuous refill at `limit / window`, bursts up to `limit`)
 * and `"fixed-window"` (windows aligned to multiples of `windowMillis` on the Clock).
 *
 * The interface follows `@effect/experimental`'s `RateLimiter` (key, limit, window, algorithm,
 * `onExceeded: "delay" | "fail"`, `consume` returning `{ delay, limit, remaining, resetAfter }`)
 * so that the Redis-backed limiter of `@effect-resilience/redis` can adapt that module (which owns
 * the Redis store; note its fixed-window Redis store fails on a window / limit that is not a whole
 * number of milliseconds, so the adapter uses the token bucket there or rounds). Core cannot build
 * on it because core depends on `effect` only, and because its limit and window are per call,
 * where ours are per limiter so that the hot path is one synchronous function (`tryConsume`) of
 * the in-memory implementation. The failure is our `RateLimited` rather than its
 * `RateLimitExceeded`, so that the classification and every other layer read one error type.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { RateLimited } from "./Errors.js"
import * as internal from "./internal/rateLimiter.js"

/**
 * Defaults: `algorithm` `"token-bucket"`, `limit` 100 per `windowMillis` 1000, `onExceeded`
 * `"fail"` (as `@effect/experimental`), `maxDelayMillis` 1000 (longest wait under `"delay"`),
 * `maxKeys` 10 000 (above it, idle keys are swept when a new key arrives).
 *
 * @example
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(RateLimiter.Config)({ name: "per-tenant", limit: 5, windowMillis: 1000 })
 *
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  algorithm: Schema.optionalWith(Schema.Literal("token-bucket", "fixed-window"), {
    default: () => "token-bucket" as const
  }),
  limit: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 100 }),
  windowMillis: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 1000 }),
  onExceeded: Schema.optionalWith(Schema.Literal("delay", "fail"), { default: () => "fail" as const }),
  maxDelayMillis: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1000 }),
  maxKeys: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000 })
})

/** @since 0.1.0 */
export interface RateLimiterConfig extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layerMemory` accept (every field optional).
 *
 * @example
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * const perUser: RateLimiter.ConfigInput = { limit: 20, windowMillis: 60_000, onExceeded: "delay" }
 *
 * @since 0.1.0
 */
export type ConfigInput = Schema.Schema.Encoded<typeof Config>

/**
 * The outcome of `consume`, as in `@effect/experimental`: how long to wait before going (zero
 * when allowed now), the limit, tokens left and the time until the key is back to full.
 *
 * @example
 * import type { RateLimiter } from "@effect-resilience/core"
 * import { Duration } from "effect"
 *
 * const header = (r: RateLimiter.ConsumeResult) => `${r.remaining}/${r.limit}, reset in ${Duration.toMillis(r.resetAfter)} ms`
 *
 * @since 0.1.0
 */
export interface ConsumeResult {
  readonly delay: Duration.Duration
  readonly limit: number
  readonly remaining: number
  readonly resetAfter: Duration.Duration
}

/**
 * A rate limiter, whatever its store.
 *
 * @example
 * import type { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const sleepIfNeeded = (limiter: RateLimiter.RateLimiterService, key: string) =>
 *   Effect.flatMap(limiter.consume(key), (r) => Effect.sleep(r.delay))
 *
 * @since 0.1.0
 */
export interface RateLimiterService {
  readonly name: string
  readonly algorithm: "token-bucket" | "fixed-window"
  readonly limit: number
  readonly windowMillis: number
  /**
   * Takes `tokens` (default 1) for `key`. Succeeds with the delay to wait before going (the tokens
   * are reserved), or fails with `RateLimited` when the policy is `"fail"` or the wait would be
   * longer than `maxDelayMillis`. It does not sleep.
   */
  readonly consume: (key: string, tokens?: number) => Effect.Effect<ConsumeResult, RateLimited>
  /** Runs `self` once `tokens` for `key` are available: waits the delay, or fails with `RateLimited`. */
  readonly withLimit: <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string,
    tokens?: number
  ) => Effect.Effect<A, E | RateLimited, R>
}

/**
 * The in-memory limiter adds a synchronous core.
 *
 * @example
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * const admitted = (limiter: RateLimiter.MemoryRateLimiter, key: string): boolean => limiter.tryConsume(key) === 0
 *
 * @since 0.1.0
 */
export interface MemoryRateLimiter extends RateLimiterService {
  /**
   * Takes `tokens` for `key` without allocating. Returns `0` when allowed now, a positive number
   * of milliseconds to wait when allowed later (the tokens are reserved), or a negative number
   * when refused: `-retryAfterMillis` (nothing is taken).
   */
  readonly tryConsume: (key: string, tokens?: number) => number
  /** Gives back tokens taken for `key` (for a caller that gave up waiting). */
  readonly refund: (key: string, tokens?: number) => void
  /** Keys currently held in memory. */
  readonly keys: () => number
}

/**
 * The rate limiter in context.
 *
 * @example
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(RateLimiter.RateLimiter, (limiter) =>
 *   limiter.withLimit(Effect.succeed("ok"), "tenant-42")
 * )
 *
 * @since 0.1.0
 */
export class RateLimiter extends Context.Tag("@effect-resilience/core/RateLimiter")<
  RateLimiter,
  RateLimiterService
>() {}

/**
 * Creates an in-memory keyed limiter, its state living as long as the scope.
 *
 * @example
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const limiter = yield* RateLimiter.make({ limit: 10, windowMillis: 1000, onExceeded: "delay" })
 *     limiter.tryConsume("a") // 0: allowed now
 *     yield* limiter.withLimit(Effect.log("hello"), "a")
 *   })
 * )
 *
 * @since 0.1.0
 */
export const make = (config: ConfigInput = {}): Effect.Effect<MemoryRateLimiter, never, Scope.Scope> =>
  Effect.flatMap(Effect.orDie(Schema.decode(Config)(config)), (decoded) =>
    Effect.flatMap(Effect.clock, (clock) =>
      Effect.acquireRelease(
        Effect.sync(() => internal.make(decoded, clock)),
        (limiter) => Effect.sync(limiter.close)
      )
    )
  )

/**
 * Provides an in-memory limiter.
 *
 * @example
 * import { RateLimiter } from "@effect-resilience/core"
 *
 * const Limits = RateLimiter.layerMemory({ name: "api", algorithm: "fixed-window", limit: 3, windowMillis: 1000 })
 *
 * @since 0.1.0
 */
export const layerMemory = (config: ConfigInput = {}): Layer.Layer<RateLimiter> =>
  Layer.scoped(RateLimiter, make(config))

/**
 * Options of one limited call.
 *
 * @example
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * const bulkUpload: RateLimiter.LimitOptions = { key: "tenant-7", tokens: 5 }
 *
 * @since 0.1.0
 */
export interface LimitOptions {
  readonly key: string
  /** Default 1. */
  readonly tokens?: number | undefined
}

/**
 * Runs an effect under `limiter` for a key. Data-first or data-last.
 *
 * @example
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const limiter = yield* RateLimiter.RateLimiter
 *   return yield* Effect.succeed(1).pipe(RateLimiter.protect(limiter, { key: "tenant-1" }))
 * })
 *
 * @since 0.1.0
 */
export const protect: {
  (
    limiter: RateLimiterService,
    options: LimitOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | RateLimited, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limiter: RateLimiterService,
    options: LimitOptions
  ): Effect.Effect<A, E | RateLimited, R>
} = dual(
  3,
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limiter: RateLimiterService,
    options: LimitOptions
  ): Effect.Effect<A, E | RateLimited, R> => limiter.withLimit(self, options.key, options.tokens ?? 1)
)
