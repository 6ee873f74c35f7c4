/**
 * A keyed rate limiter: at most `limit` tokens per `window` for each key (a user, a tenant, an
 * upstream host). When a call finds no token it either waits (policy `"delay"`, up to `maxDelay`,
 * its tokens reserved) or fails with `RateLimited` carrying `retryAfterMillis` (policy `"fail"`,
 * or a wait that would be longer than allowed or than the call's `Deadline` leaves).
 *
 * Two algorithms: `"token-bucket"` (continuous refill at `limit / window`, bursts up to `limit`)
 * and `"fixed-window"` (windows aligned to multiples of `window` on the Clock).
 *
 * A limiter is a {@link Strategy.Strategy} (component `"rate-limit"`) that limits one key, its
 * name; {@link RateLimiter.forKey} gives the strategy of any other key. The vocabulary follows
 * `@effect/experimental`'s `RateLimiter` (key, limit, window, algorithm, `onExceeded`, `consume`
 * returning `{ delay, limit, remaining, resetAfter }`) so that a Redis-backed limiter can adapt
 * that module; the failure is our `RateLimited`, so that the classification and every other
 * strategy read one error type.
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
import type { Classifier } from "./Classifier.js"
import { RateLimited } from "./Errors.js"
import * as core from "./internal/rateLimiter/core.js"
import { FinitePositiveDuration, NonNegativeDuration } from "./internal/schema.js"
import * as binding from "./internal/strategy/binding.js"
import type * as Strategy from "./Strategy.js"
import { unsafeConstruct } from "./internal/construct.js"

/**
 * Defaults: `algorithm` `"token-bucket"`, `limit` 100 per `window` of 1 second, `onExceeded`
 * `"fail"` (as `@effect/experimental`), `maxDelay` 1 second (the longest wait under `"delay"`),
 * `maxKeys` 10 000 (above it, idle keys are swept when a new key arrives).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(RateLimiter.Config)({ name: "per-tenant", limit: 5, window: "1 second" })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  algorithm: Schema.optionalWith(Schema.Literal("token-bucket", "fixed-window"), {
    default: () => "token-bucket" as const
  }),
  limit: Schema.optionalWith(Schema.Number.pipe(Schema.positive(), Schema.finite()), { default: () => 100 }),
  window: Schema.optionalWith(FinitePositiveDuration, { default: () => Duration.seconds(1) }),
  onExceeded: Schema.optionalWith(Schema.Literal("delay", "fail"), { default: () => "fail" as const }),
  maxDelay: Schema.optionalWith(NonNegativeDuration, { default: () => Duration.seconds(1) }),
  maxKeys: Schema.optionalWith(Schema.Int.pipe(Schema.positive()), { default: () => 10_000 })
})

/**
 * A decoded configuration.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 * import { Duration } from "effect"
 *
 * const perSecond = (config: RateLimiter.Config) => config.limit / Duration.toSeconds(config.window)
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layer` accept (every field optional; durations as `DurationInput`).
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * const perUser: RateLimiter.ConfigInput = { limit: 20, window: "1 minute", onExceeded: "delay" }
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * The outcome of `consume`, as in `@effect/experimental`: how long to wait before going (zero
 * when allowed now), the limit, tokens left and the time until the key is back to full.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 * import { Duration } from "effect"
 *
 * const header = (r: RateLimiter.ConsumeResult) => `${r.remaining}/${r.limit}, reset in ${Duration.toMillis(r.resetAfter)} ms`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ConsumeResult {
  readonly delay: Duration.Duration
  readonly limit: number
  readonly remaining: number
  readonly resetAfter: Duration.Duration
}

/**
 * A rate limiter: an admission strategy (component `"rate-limit"`) that takes one token of the
 * key named like the limiter, and the strategies of other keys.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const sleepIfNeeded = (limiter: RateLimiter.RateLimiter, key: string) =>
 *   Effect.flatMap(limiter.consume(key), (r) => Effect.sleep(r.delay))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface RateLimiter extends Strategy.Strategy<RateLimited> {
  readonly [TypeId]: TypeId
  readonly algorithm: "token-bucket" | "fixed-window"
  readonly limit: number
  readonly window: Duration.Duration
  /** The strategy that takes `tokens` (default 1) of `key` for each admitted call. */
  readonly forKey: (key: string, tokens?: number) => Strategy.Strategy<RateLimited>
  /**
   * Takes `tokens` (default 1) for `key`. Succeeds with the delay to wait before going (the tokens
   * are reserved), or fails with `RateLimited` when the policy is `"fail"` or the wait would be
   * longer than `maxDelay`. It does not sleep.
   */
  readonly consume: (key: string, tokens?: number) => Effect.Effect<ConsumeResult, RateLimited>
  /** Keys currently held in memory. */
  readonly keys: () => number
}

/**
 * Marks a rate limiter.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 *
 * const key: symbol = RateLimiter.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@effect-resilience/core/RateLimiter")

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * type Key = RateLimiter.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Whether a value (a strategy of a pipeline, say) is a rate limiter.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import type { Strategy } from "@effect-resilience/core"
 *
 * const find = (strategies: ReadonlyArray<Strategy.Strategy<unknown>>) => strategies.find(RateLimiter.isRateLimiter)
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const isRateLimiter = (u: unknown): u is RateLimiter => Predicate.hasProperty(u, TypeId)

/**
 * The rate limiter in context.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(RateLimiter.RateLimiter, (limiter) =>
 *   Effect.succeed("ok").pipe(RateLimiter.protect(limiter, { key: "tenant-42" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const RateLimiter: Context.Tag<RateLimiter, RateLimiter> = Context.GenericTag<RateLimiter>(
  "@effect-resilience/core/RateLimiter"
)

/**
 * Creates a keyed limiter, its buckets in the {@link RateLimiterStore} in context (memory by
 * default) and living as long as the scope. A bad config fails
 * with the `ParseError` naming the field.
 *
 * @example
 * ```ts
 * import { Classifier, RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const limiter = yield* RateLimiter.make({ limit: 10, window: "1 second", onExceeded: "delay" })
 *   yield* Effect.log("hello").pipe(RateLimiter.protect(limiter, { key: "a" }))
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: ConfigInput = {}): Effect.Effect<RateLimiter, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config), (decoded) =>
    Effect.flatMap(RateLimiterStore, (store) =>
      Effect.flatMap(store.attach(decoded.name, storeOptions(decoded)), (state) =>
        Effect.flatMap(Effect.clock, (clock) =>
          Effect.acquireRelease(
            Effect.sync(() => fromConfig(decoded, () => clock.unsafeCurrentTimeMillis(), state)),
            (limiter) => Effect.sync(limiter.close)
          )
        )
      )
    )
  )

const storeOptions = (config: Config): StoreOptions => ({
  algorithm: config.algorithm,
  limit: config.limit,
  windowMillis: Duration.toMillis(config.window),
  maxDelayMillis: config.onExceeded === "delay" ? Duration.toMillis(config.maxDelay) : 0,
  maxKeys: config.maxKeys
})

const fromConfig = (
  config: Config,
  now: () => number,
  state: StoreHandle
): RateLimiter & { readonly close: () => void } => {
  const { name, limit } = config
  const reject = (rejected: Strategy.Rejected): RateLimited =>
    unsafeConstruct(RateLimited, { limiter: name, retryAfterMillis: rejected.retryAfterMillis })
  const forKey = (key: string, tokens = 1): Strategy.Strategy<RateLimited> => ({
    component: "rate-limit",
    name,
    admit: (nowMillis) => state.admit(key, tokens, nowMillis),
    reject
  })
  const consume = (key: string, tokens = 1): Effect.Effect<ConsumeResult, RateLimited> =>
    Effect.suspend(() => {
      const delay = state.tryConsume(key, tokens, now())
      if (delay < 0) return Effect.fail(unsafeConstruct(RateLimited, { limiter: name, retryAfterMillis: -delay }))
      return Effect.succeed<ConsumeResult>({
        delay: Duration.millis(delay),
        limit,
        remaining: state.last.remaining,
        resetAfter: Duration.millis(state.last.resetAfterMillis)
      })
    })
  return {
    ...forKey(name),
    [TypeId]: TypeId,
    algorithm: config.algorithm,
    limit,
    window: config.window,
    forKey,
    consume,
    keys: state.keys,
    close: state.clear
  }
}

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

/**
 * A limiter's settings as its store sees them, in numbers: the algorithm, `limit` tokens per
 * `windowMillis`, the longest wait a call may reserve (`maxDelayMillis`, 0 under `"fail"`), and
 * how many idle keys are kept (`maxKeys`).
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * const perSecond = (o: RateLimiter.StoreOptions) => (o.limit * 1000) / o.windowMillis
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreOptions extends core.Options {}

/**
 * One limiter's buckets in a store. `admit` decides a call synchronously: admitted, refused, or a
 * `Wait` (for a token that comes later, or for a remote store's answer). `tryConsume`, `refund`
 * and `last` serve `consume`; `keys` and `clear` the limiter's upkeep.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * const allowedNow = (handle: RateLimiter.StoreHandle, key: string, now: number) => handle.tryConsume(key, 1, now) === 0
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreHandle extends core.Core {}

/**
 * The service of {@link RateLimiterStore}: the buckets of the limiter `name`, for the lifetime of
 * the scope.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const handle = Effect.flatMap(RateLimiter.RateLimiterStore, (store) =>
 *   store.attach("api", { algorithm: "token-bucket", limit: 10, windowMillis: 1000, maxDelayMillis: 0, maxKeys: 100 })
 * )
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface RateLimiterStoreService {
  readonly attach: (name: string, options: StoreOptions) => Effect.Effect<StoreHandle, never, Scope.Scope>
}

const memoryStore: RateLimiterStoreService = { attach: (_name, options) => Effect.sync(() => core.make(options)) }

/**
 * Where limiters keep their buckets. A `Context.Reference`: without a store in context, each
 * limiter keeps its own in memory.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const inMemory = Effect.map(RateLimiter.RateLimiterStore, (store) => store === RateLimiter.storeMemory)
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class RateLimiterStore extends Context.Reference<RateLimiterStore>()(
  "@effect-resilience/core/RateLimiterStore",
  {
    defaultValue: (): RateLimiterStoreService => memoryStore
  }
) {}

/**
 * The in-memory store as a value (also the default).
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const local = Effect.scoped(
 *   RateLimiter.storeMemory.attach("api", { algorithm: "fixed-window", limit: 3, windowMillis: 1000, maxDelayMillis: 0, maxKeys: 100 })
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const storeMemory: RateLimiterStoreService = memoryStore

/**
 * The in-memory store as a Layer.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * const Limits = RateLimiter.layer({ name: "api" }).pipe(Layer.provide(RateLimiter.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<RateLimiterStore> = Layer.succeed(RateLimiterStore, memoryStore)

/**
 * Provides one in-memory limiter to everything under the Layer.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 *
 * const Limits = RateLimiter.layer({ name: "api", algorithm: "fixed-window", limit: 3, window: "1 second" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<RateLimiter, ParseResult.ParseError> =>
  Layer.scoped(RateLimiter, make(config))

/**
 * Options of one limited call.
 *
 * @example
 * ```ts
 * import type { RateLimiter } from "@effect-resilience/core"
 *
 * const bulkUpload: RateLimiter.LimitOptions = { key: "tenant-7", tokens: 5 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface LimitOptions {
  /** Default: the limiter's name. */
  readonly key?: string | undefined
  /** Default 1. */
  readonly tokens?: number | undefined
}

/**
 * Runs an effect under `limiter` for a key (the generic `Strategy.protect` of
 * {@link RateLimiter.forKey}). Data-first or data-last.
 *
 * @example
 * ```ts
 * import { RateLimiter } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const limiter = yield* RateLimiter.RateLimiter
 *   const a = yield* Effect.succeed(1).pipe(RateLimiter.protect(limiter, { key: "tenant-1" }))
 *   const b = yield* RateLimiter.protect(Effect.succeed(2), limiter)
 *   return a + b
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: {
  (
    limiter: RateLimiter,
    options?: LimitOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | RateLimited, R | Classifier>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limiter: RateLimiter,
    options?: LimitOptions
  ): Effect.Effect<A, E | RateLimited, R | Classifier>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    limiter: RateLimiter,
    options?: LimitOptions
  ): Effect.Effect<A, E | RateLimited, R | Classifier> =>
    binding.protect(
      options?.key === undefined && (options?.tokens ?? 1) === 1
        ? limiter
        : limiter.forKey(options?.key ?? limiter.name, options?.tokens ?? 1)
    )(self)
)
