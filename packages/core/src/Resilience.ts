/**
 * `Resilience` composes the strategies into one pipeline per operation, in this order:
 *
 * ```
 * deadline          one budget of time for the whole call, seen by every layer below
 * retry             schedule from the classification; asks the retry budget before each retry
 * hedging           extra attempts for idempotent calls after a delay (optional)
 * circuit breaker   rejects fast while open; records outcomes the classification says count
 * rate limit        admission: wait for a token (up to a maximum) or reject (optional)
 * bulkhead          admission: wait in a bounded queue or reject (optional)
 * attempt timeout   per attempt (and never past the deadline)
 * operation
 * ```
 *
 * Every layer reads the same Classification of a failure (computed once per failure by the
 * `Classifier` in context). Fallback wraps the pipeline from outside: see `Fallback`. Chaos goes
 * inside, on the operation (`operation.pipe(Chaos.inject("name"), pipeline.protect)`), so that its
 * `ChaosFault` shows in the operation's error type and the attempt timer sees injected latency.
 *
 * A policy is data ({@link Policy}, decoded by a Schema so a config file can hold it); the
 * services it names come from context: breakers from a `CircuitBreakerRegistry` when one is
 * provided (shared by name), a `RetryBudget` when one is provided (shared by every call in its
 * scope).
 *
 * Telemetry: a span per protected call and one per extra attempt, but only when a tracer other
 * than Effect's default is installed (nobody reads the default's spans, and a span costs more than
 * the call); `resilience_*` metrics through Effect's `Metric`, with hooks resolved once.
 *
 * @since 0.1.0
 */
import type * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import { dual } from "effect/Function"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
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
import * as RateLimiter from "./RateLimiter.js"
import * as RetryPolicy from "./RetryPolicy.js"

const PositiveMillis = Schema.Number.pipe(Schema.positive())

const BreakerConfig = Schema.Struct({ ...CircuitBreaker.Config.fields, name: Schema.optional(Schema.NonEmptyString) })

/**
 * A pipeline's policy as data. Defaults: the retry policy of our brief (5 attempts, 100 ms, x2,
 * 30 s cap, full jitter), a consecutive-failure breaker named after the operation (5 failures
 * open it, 30 s open, 3 probe successes close it), an attempt timeout of 10 s, no deadline, no
 * rate limit, no bulkhead, no hedging. `false` turns a layer off.
 *
 * @example
 * import { Resilience } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const policy = Schema.decodeUnknownSync(Resilience.Policy)({
 *   operation: "get-user",
 *   attemptTimeoutMillis: 2000,
 *   deadlineMillis: 10000,
 *   retry: { maxAttempts: 3 },
 *   breaker: { policy: { _tag: "CountWindow", size: 50, minimumCalls: 20, failureRateThreshold: 0.5 } },
 *   bulkhead: { maxConcurrent: 16, maxQueue: 64 }
 * })
 *
 * @since 0.1.0
 */
export const Policy = Schema.Struct({
  operation: Schema.NonEmptyString,
  attemptTimeoutMillis: Schema.optionalWith(Schema.Union(PositiveMillis, Schema.Literal(false)), {
    default: () => 10_000
  }),
  deadlineMillis: Schema.optional(PositiveMillis),
  retry: Schema.optionalWith(Schema.Union(RetryPolicy.Config, Schema.Literal(false)), {
    default: () => RetryPolicy.defaultConfig
  }),
  breaker: Schema.optionalWith(Schema.Union(BreakerConfig, Schema.Literal(false)), {
    default: () => Schema.decodeSync(BreakerConfig)({})
  }),
  bulkhead: Schema.optionalWith(
    Schema.Union(
      Schema.Struct({ ...Bulkhead.Config.fields, name: Schema.optional(Schema.NonEmptyString) }),
      Schema.Literal(false)
    ),
    { default: () => false as const }
  ),
  rateLimit: Schema.optionalWith(
    Schema.Union(
      Schema.Struct({ ...RateLimiter.Config.fields, name: Schema.optional(Schema.NonEmptyString) }),
      Schema.Literal(false)
    ),
    { default: () => false as const }
  ),
  hedging: Schema.optional(
    Schema.Struct({
      delayMillis: PositiveMillis,
      maxHedges: Schema.Int.pipe(Schema.between(1, 10))
    })
  )
})

/** @since 0.1.0 */
export interface Policy extends Schema.Schema.Type<typeof Policy> {}

/** The policy as written in a config file (every field but `operation` optional). @since 0.1.0 */
export interface PolicyInput extends Schema.Schema.Encoded<typeof Policy> {}

/**
 * What one attempt may fail with besides the operation's own error.
 *
 * @since 0.1.0
 */
export type AttemptError = AttemptTimeout | DeadlineExceeded | CircuitOpen | BulkheadRejected | RateLimited

/**
 * What retrying may fail with besides the attempt's errors.
 *
 * @since 0.1.0
 */
export type RetryError = RetriesExhausted | RetryBudgetExhausted

/**
 * Everything a pipeline may add to an operation's error channel.
 *
 * @since 0.1.0
 */
export type PipelineError = AttemptError | RetryError

/**
 * A pipeline for one operation.
 *
 * @since 0.1.0
 */
export interface Pipeline {
  readonly operation: string
  readonly policy: Policy
  /** The breaker in use, if any (for snapshots, manual control, transitions). */
  readonly breaker: CircuitBreaker.CircuitBreaker | undefined
  /** The bulkhead in use, if any. */
  readonly bulkhead: Bulkhead.BulkheadService | undefined
  /**
   * Runs an Effect through the pipeline. With an attempt timeout or deadline, each attempt runs
   * in a fiber of its own (so it can be interrupted); use {@link Pipeline.tryPromise} for
   * Promise operations, which needs none.
   */
  readonly protect: <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PipelineError, R>
  /**
   * Runs a Promise operation through the pipeline. The operation gets an `AbortSignal` that is
   * aborted on timeout or interruption. Rejections become `UnknownException`, or what `catch`
   * returns.
   */
  readonly tryPromise: {
    <A>(evaluate: (signal: AbortSignal) => PromiseLike<A>): Effect.Effect<A, Cause.UnknownException | PipelineError>
    <A, E>(options: {
      readonly try: (signal: AbortSignal) => PromiseLike<A>
      readonly catch: (error: unknown) => E
    }): Effect.Effect<A, E | PipelineError>
  }
  /**
   * For callers outside Effect: runs a Promise operation through the pipeline and returns a
   * Promise that rejects with the operation's own error or a pipeline error. The first attempt
   * runs without a fiber when it can (no tracer, no hedging, no deadline, free admission).
   */
  readonly runPromise: <A>(evaluate: (signal: AbortSignal) => PromiseLike<A>) => Promise<A>
}

/**
 * Builds a pipeline for a policy (decoded, or as written: it is decoded here and a bad field
 * fails with its path). Needs the `Classifier`; uses a `CircuitBreakerRegistry`, a `RetryBudget`,
 * and the `ResilienceEvents` hub when they are in context. Its breaker and
 * bulkhead live as long as the Scope.
 *
 * @example
 * import { Classifier, Resilience } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const users = yield* Resilience.make({ operation: "get-user", attemptTimeoutMillis: 2000 })
 *   const user = yield* users.tryPromise((signal) => fetch("http://127.0.0.1:8080/users/1", { signal }))
 *   return user.status
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 *
 * @since 0.1.0
 */
export const make = (policy: PolicyInput): Effect.Effect<Pipeline, ParseResult.ParseError, Classifier | Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Policy)(policy), internal.make)

/**
 * Decodes a policy, failing with a `ParseError` that names the bad field (use it to validate a
 * config file at start-up).
 *
 * @since 0.1.0
 */
export const decodePolicy = Schema.decodeUnknown(Policy)

/**
 * Runs an effect through a pipeline (dual).
 *
 * @example
 * import { Resilience } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = (pipeline: Resilience.Pipeline) =>
 *   Effect.succeed(42).pipe(Resilience.protect(pipeline))
 *
 * @since 0.1.0
 */
export const protect: {
  (pipeline: Pipeline): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | PipelineError, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, pipeline: Pipeline): Effect.Effect<A, E | PipelineError, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, pipeline: Pipeline): Effect.Effect<A, E | PipelineError, R> =>
    pipeline.protect(self)
)
