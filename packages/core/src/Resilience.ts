/**
 * `Resilience` builds one pipeline per operation from a policy: an ordered list of strategies
 * that every call walks, in this order:
 *
 * ```text
 * deadline          one budget of time for the whole call, seen by every strategy below
 * retry             schedule from the classification; asks the retry budget before each retry
 * hedging           extra attempts for idempotent calls after a delay (optional)
 * admission         breaker, rate limit, adaptive throttle, adaptive concurrency, bulkhead,
 *                   then strategies of your own: each a `Strategy` (admit, then settle)
 * attempt timeout   per attempt (and never past the deadline)
 * operation
 * ```
 *
 * The architecture (docs/ARCHITECTURE.md) says why this order and how a strategy joins.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import { dual } from "effect/Function"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as AdaptiveConcurrency from "./AdaptiveConcurrency.js"
import * as AdaptiveThrottle from "./AdaptiveThrottle.js"
import * as Bulkhead from "./Bulkhead.js"
import * as CircuitBreaker from "./CircuitBreaker.js"
import type { Classifier } from "./Classifier.js"
import type {
  AttemptTimeout,
  BulkheadRejected,
  CircuitOpen,
  DeadlineExceeded,
  RateLimited,
  RetriesExhausted,
  RetryBudgetExhausted
} from "./Errors.js"
import * as internal from "./internal/pipeline.js"
import { discriminated, PositiveDuration } from "./internal/schema.js"
import * as RateLimiter from "./RateLimiter.js"
import * as Recovery from "./Recovery.js"
import * as RetryBudget from "./RetryBudget.js"
import * as RetryPolicy from "./RetryPolicy.js"
import type * as Strategy from "./Strategy.js"

/** A strategy's name in a policy: the operation's when absent. */
const name = Schema.optional(Schema.NonEmptyString)

const BreakerConfig = Schema.Struct({ ...CircuitBreaker.Config.fields, name })
const RateLimitConfig = Schema.Struct({ ...RateLimiter.Config.fields, name })
const AdaptiveThrottleConfig = Schema.Struct({ ...AdaptiveThrottle.Config.fields, name })
const AdaptiveConcurrencyConfig = Schema.Struct({ ...AdaptiveConcurrency.Config.fields, name })
const BulkheadConfig = Schema.Struct({ ...Bulkhead.Config.fields, name })
const RetryBudgetConfig = discriminated(
  "mode",
  Schema.Union(
    Schema.Struct({ ...RetryBudget.TokenBucketConfig.fields, name }),
    Schema.Struct({ ...RetryBudget.RatioConfig.fields, name })
  )
)

const off = { default: () => false as const }

/**
 * A pipeline's policy as data (a config file can hold it). Defaults: the retry policy of
 * `RetryPolicy.Config` (5 attempts, 100 ms, x2, 30 s cap, full jitter), a consecutive-failure
 * breaker named after the operation, an attempt timeout of 10 s, no deadline, no retry budget
 * (`retryBudget: {}` adds `RetryBudget`'s token bucket, named after the operation), no rate limit, no adaptive throttle or concurrency, no bulkhead, no hedging. `false` turns a
 * strategy off. Durations are `Duration.DurationInput`s: a number of milliseconds or a string
 * such as `"2 seconds"`.
 *
 * Strategies shared by name (a breaker, a retry budget) come from `CircuitBreaker.Registry` and
 * `RetryBudget.Registry`: by default nothing is shared; provide `CircuitBreaker.layerRegistry()`
 * for pipelines to share breakers of the same name.
 *
 * @example
 * ```ts
 * import { Resilience } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const policy = Schema.decodeUnknownSync(Resilience.Policy)({
 *   operation: "get-user",
 *   attemptTimeout: "2 seconds",
 *   deadline: 10000,
 *   retry: { maxAttempts: 3 },
 *   breaker: { policy: { _tag: "CountWindow", size: 50, minimumCalls: 20, failureRateThreshold: 0.5 } },
 *   adaptiveThrottle: { k: 2 },
 *   bulkhead: { maxConcurrent: 16, maxQueue: 64 }
 * })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Policy = Schema.Struct({
  operation: Schema.NonEmptyString,
  attemptTimeout: Schema.optionalWith(Schema.Union(PositiveDuration, Schema.Literal(false)), {
    default: () => Schema.decodeSync(PositiveDuration)("10 seconds")
  }),
  deadline: Schema.optional(PositiveDuration),
  retry: Schema.optionalWith(Schema.Union(RetryPolicy.Config, Schema.Literal(false)), {
    default: () => Schema.decodeSync(RetryPolicy.Config)({})
  }),
  retryBudget: Schema.optional(Schema.Union(RetryBudgetConfig, Schema.Literal(false))),
  breaker: Schema.optionalWith(Schema.Union(BreakerConfig, Schema.Literal(false)), {
    default: () => Schema.decodeSync(BreakerConfig)({})
  }),
  rateLimit: Schema.optionalWith(Schema.Union(RateLimitConfig, Schema.Literal(false)), off),
  adaptiveThrottle: Schema.optionalWith(Schema.Union(AdaptiveThrottleConfig, Schema.Literal(false)), off),
  adaptiveConcurrency: Schema.optionalWith(Schema.Union(AdaptiveConcurrencyConfig, Schema.Literal(false)), off),
  bulkhead: Schema.optionalWith(Schema.Union(BulkheadConfig, Schema.Literal(false)), off),
  hedging: Schema.optional(
    Schema.Struct({
      delay: PositiveDuration,
      maxHedges: Schema.Int.pipe(Schema.between(1, 10))
    })
  )
})

/**
 * A decoded policy.
 *
 * @since 0.1.0
 * @category config
 */
export interface Policy extends Schema.Schema.Type<typeof Policy> {}

/**
 * The policy as written in a config file or in code (every field but `operation` optional).
 *
 * @since 0.1.0
 * @category config
 */
export interface PolicyInput extends Schema.Schema.Encoded<typeof Policy> {}

/**
 * What one attempt may fail with besides the operation's own error: a timeout, the deadline, or
 * a refusal by one of the admission strategies.
 *
 * @since 0.1.0
 * @category errors
 */
export type AttemptError = AttemptTimeout | DeadlineExceeded | AdmissionError

/**
 * What the built-in admission strategies refuse with.
 *
 * @since 0.2.0
 * @category errors
 */
export type AdmissionError =
  | CircuitOpen
  | RateLimited
  | Strategy.Error<AdaptiveThrottle.AdaptiveThrottle>
  | Strategy.Error<AdaptiveConcurrency.AdaptiveConcurrency>
  | BulkheadRejected

/**
 * What retrying may fail with besides the attempt's errors.
 *
 * @since 0.1.0
 * @category errors
 */
export type RetryError = RetriesExhausted | RetryBudgetExhausted

/**
 * Everything a pipeline may add to an operation's error channel.
 *
 * @since 0.1.0
 * @category errors
 */
export type PipelineError = AttemptError | RetryError

/**
 * A pipeline for one operation. `X` is what strategies of your own (see {@link Options}) refuse
 * with.
 *
 * @since 0.1.0
 * @category models
 */
export interface Pipeline<X = never> {
  readonly operation: string
  readonly policy: Policy
  /** The admission strategies, in the order each attempt walks them. */
  readonly strategies: ReadonlyArray<Strategy.Strategy<AdmissionError | X>>
  /** The breaker in use, if any (for snapshots, manual control, transitions). */
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  /** The bulkhead in use, if any. */
  readonly bulkhead: Bulkhead.Bulkhead | undefined
  /**
   * Runs an Effect through the pipeline. With an attempt timeout or deadline, each attempt runs
   * in a fiber of its own (so it can be interrupted); use {@link Pipeline.tryPromise} for
   * Promise operations, which needs none.
   */
  readonly protect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PipelineError | X, R>
  /**
   * Runs a Promise operation through the pipeline. The operation gets an `AbortSignal` that is
   * aborted on timeout or interruption. Rejections become `UnknownException`, or what `catch`
   * returns.
   */
  readonly tryPromise: {
    <A>(evaluate: (signal: AbortSignal) => PromiseLike<A>): Effect.Effect<A, Cause.UnknownException | PipelineError | X>
    <A, E>(options: {
      readonly try: (signal: AbortSignal) => PromiseLike<A>
      readonly catch: (error: unknown) => E
    }): Effect.Effect<A, E | PipelineError | X>
  }
  /**
   * For callers outside Effect: runs a Promise operation through the pipeline and returns a
   * Promise that rejects with the operation's own error or a pipeline error. The first attempt
   * runs without a fiber when it can (no tracer, no hedging, no deadline, every strategy admits
   * at once).
   */
  readonly runPromise: <A>(evaluate: (signal: AbortSignal) => PromiseLike<A>) => Promise<A>
}

/**
 * What `make` takes besides the policy: strategies of your own, walked after the built-in ones
 * (innermost, just outside the attempt timeout).
 *
 * @since 0.2.0
 * @category models
 */
export interface Options<X> {
  readonly strategies?: ReadonlyArray<Strategy.Strategy<X>> | undefined
  /**
   * Recovery actions run between a failed attempt and the next (see `Recovery`): a `Recovery`
   * made with `Recovery.make` (its budget shared by every pipeline given it), or a list of
   * actions under the default budget. Needs retry: without it no attempt follows a failure.
   */
  readonly recovery?: Recovery.Recovery | ReadonlyArray<Recovery.Action> | undefined
}

/**
 * Builds a pipeline for a policy (as written: it is decoded here, and a bad field fails with a
 * `ParseError` naming its path). Needs the `Classifier`; its strategies live as long as the Scope.
 * Breakers and retry budgets shared by name come from the registries (`CircuitBreaker.Registry`,
 * `RetryBudget.Registry`), which share nothing unless a registry layer is provided; events go to
 * the `Events.ResilienceEvents` hub when one is provided.
 *
 * @example
 * ```ts
 * import { Classifier, Resilience } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const users = yield* Resilience.make({ operation: "get-user", attemptTimeout: "2 seconds" })
 *   const user = yield* users.tryPromise((signal) => fetch("http://127.0.0.1:8080/users/1", { signal }))
 *   return user.status
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <X = never>(
  policy: PolicyInput,
  options?: Options<X>
): Effect.Effect<Pipeline<X>, ParseResult.ParseError, Classifier | Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Policy)(policy), (decoded) => {
    const recovery = options?.recovery
    if (recovery === undefined || "forCall" in recovery) {
      return internal.make(decoded, options?.strategies ?? [], recovery)
    }
    return Effect.flatMap(Recovery.make(recovery), (made) => internal.make(decoded, options?.strategies ?? [], made))
  })

/**
 * Decodes a policy, failing with a `ParseError` that names the bad field (use it to validate a
 * config file at start-up).
 *
 * @example
 * ```ts
 * import { Resilience } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const checked = Resilience.decodePolicy({ operation: "get-user", attemptTimeout: "soon" }).pipe(
 *   Effect.catchTag("ParseError", (error) => Effect.succeed(error.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const decodePolicy = Schema.decodeUnknown(Policy)

/**
 * Runs an effect through a pipeline (dual).
 *
 * @example
 * ```ts
 * import { Resilience } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = (pipeline: Resilience.Pipeline) => Effect.succeed(42).pipe(Resilience.protect(pipeline))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: {
  <X>(pipeline: Pipeline<X>): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PipelineError | X, R>
  <A, E, R, X>(self: Effect.Effect<A, E, R>, pipeline: Pipeline<X>): Effect.Effect<A, E | PipelineError | X, R>
} = dual(
  2,
  <A, E, R, X>(self: Effect.Effect<A, E, R>, pipeline: Pipeline<X>): Effect.Effect<A, E | PipelineError | X, R> =>
    pipeline.protect(self)
)
