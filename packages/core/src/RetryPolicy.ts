/**
 * A `RetryPolicy` retries an effect according to the {@link Classification} of each failure:
 *
 * - a failure that is not retryable fails at once, with the original error (one attempt);
 * - each category may have its own schedule (throttled failures wait longer by default);
 * - a delay is never shorter than the failure's Retry-After (up to `retryAfterExtra` more than the
 *   backoff asked for), never sleeps past the caller's {@link Deadline}, and never waits for an open
 *   breaker unless the deadline leaves room for its probe;
 * - a retry budget, when given, is asked before every retry;
 * - when retrying stops, the call fails with `RetriesExhausted`, which carries every attempt
 *   (failure, classification, delay, time).
 *
 * Every decision is published as a `RetryScheduled` / `RetryStopped` event on the
 * `ResilienceEvents` hub (when one is provided) and as an event on the current span.
 *
 * The success path costs one `catchAll` frame: no schedule driver, no fiber, no clock read is made
 * before the first failure.
 *
 * @since 0.1.0
 */
import type * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type * as Schedule from "effect/Schedule"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Backoff from "./Backoff.js"
import type { Category, Classification } from "./Classification.js"
import { Classifier } from "./Classifier.js"
import type { RetriesExhausted, RetryBudgetExhausted } from "./Errors.js"
import * as internal from "./internal/retryPolicy/retry.js"
import * as Log from "./Log.js"
import { NonNegativeDuration } from "./internal/schema.js"

const FiniteNonNegativeDuration = NonNegativeDuration.pipe(
  Schema.filter((d) => Duration.isFinite(d) || "a finite duration")
)

/**
 * What a retry policy asks of a retry budget (the `RetryBudget` service satisfies it): withdraw the
 * cost of one retry of a failure so classified, and be told of successes.
 *
 * @example
 * ```ts
 * import type { RetryPolicy } from "@effect-resilience/core"
 *
 * // a budget of three retries, whatever they are
 * let left = 3
 * const budget: RetryPolicy.Budget = { name: "three", tryWithdraw: () => left-- > 0, onSuccess: () => {} }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Budget {
  readonly name: string
  /** Takes the tokens for one retry; `false` when the budget cannot pay for it. */
  readonly tryWithdraw: (classification: Classification) => boolean
  /**
   * Called once per successful call; `firstTry` is true when no retry was needed, else
   * `lastRetry` is the classification of the failure whose retry succeeded (AWS refunds its cost).
   */
  readonly onSuccess: (firstTry: boolean, lastRetry?: Classification) => void
  /** Called once per call, before its first attempt (ratio budgets count requests). */
  readonly onRequest?: (() => void) | undefined
}

/**
 * A retry policy: plain data plus the schedules and budget it names.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const attempts = Effect.map(RetryPolicy.fromConfig("get-user"), (policy: RetryPolicy.RetryPolicy) => policy.maxAttempts)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryPolicy<E = unknown, R = never> {
  /** Name used in errors, events, spans and metrics. */
  readonly operation: string
  /** Attempts in all, the first included. */
  readonly maxAttempts: number
  /** The backoff for any retryable category without a schedule of its own. */
  readonly schedule: Schedule.Schedule<unknown, Backoff.RetryInput<E>, R>
  /** Schedules by category (e.g. a longer one for `throttled`). */
  readonly byCategory: Partial<Record<Category, Schedule.Schedule<unknown, Backoff.RetryInput<E>, R>>>
  /** How much longer than the backoff a Retry-After may make us wait (AWS: 5 s). */
  readonly retryAfterExtra: Duration.Duration
  /** Asked before every retry, when present. */
  readonly budget: Budget | undefined
  /**
   * Where retries and give-ups are logged, rate-limited across the calls of this policy (`make`
   * and `fromDecoded` give each policy its own); without one, each call logs on its own.
   */
  readonly log?: Log.Emitter | undefined
}

/**
 * The policy as data, decoded by a Schema so that a config file can hold it. Durations are
 * `Duration.DurationInput` (a number of milliseconds or a string such as `"250 millis"`). Defaults:
 * 5 attempts, 100 ms initial delay, factor 2, 30 s cap, full jitter; throttled failures start at
 * 500 ms (as the AWS SDK does); a Retry-After may add up to 5 s to the backoff.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(RetryPolicy.Config)({ maxAttempts: 3, initialDelay: "50 millis" })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Config = Schema.Struct({
  maxAttempts: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 1000)), { default: () => 5 }),
  backoff: Schema.optionalWith(Schema.Literal("exponential", "fibonacci", "linear", "constant", "decorrelated"), {
    default: () => "exponential" as const
  }),
  initialDelay: Schema.optionalWith(FiniteNonNegativeDuration, { default: () => Duration.millis(100) }),
  factor: Schema.optionalWith(Schema.Number.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 2 }),
  maxDelay: Schema.optionalWith(NonNegativeDuration, { default: () => Duration.seconds(30) }),
  jitter: Schema.optionalWith(Schema.Literal("none", "full", "equal"), { default: () => "full" as const }),
  throttledInitialDelay: Schema.optionalWith(FiniteNonNegativeDuration, { default: () => Duration.millis(500) }),
  retryAfterExtra: Schema.optionalWith(NonNegativeDuration, { default: () => Duration.seconds(5) }),
  maxElapsed: Schema.optional(NonNegativeDuration)
})

/**
 * A decoded config.
 *
 * @since 0.1.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * What a caller or a config file writes: every field optional, durations as `DurationInput`.
 *
 * @example
 * ```ts
 * import type { RetryPolicy } from "@effect-resilience/core"
 *
 * const config: RetryPolicy.ConfigInput = { maxAttempts: 4, maxDelay: "5 seconds", jitter: "equal" }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * The default config (every field at its default).
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "@effect-resilience/core"
 *
 * RetryPolicy.defaultConfig.maxAttempts // 5
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const defaultConfig: Config = {
  maxAttempts: 5,
  backoff: "exponential",
  initialDelay: Duration.millis(100),
  factor: 2,
  maxDelay: Duration.seconds(30),
  jitter: "full",
  throttledInitialDelay: Duration.millis(500),
  retryAfterExtra: Duration.seconds(5)
}

const backoffFor = (config: Config, initialDelay: Duration.Duration): Schedule.Schedule<Duration.Duration> => {
  const shape: Schedule.Schedule<Duration.Duration> =
    config.backoff === "exponential"
      ? Backoff.exponential(initialDelay, config.factor)
      : config.backoff === "fibonacci"
        ? Backoff.fibonacci(initialDelay)
        : config.backoff === "linear"
          ? Backoff.linear(initialDelay)
          : config.backoff === "constant"
            ? Backoff.constant(initialDelay)
            : Backoff.decorrelated({ base: initialDelay, cap: config.maxDelay })
  const capped = Duration.isFinite(config.maxDelay) ? Backoff.capped(shape, config.maxDelay) : shape
  const jittered =
    config.backoff === "decorrelated" || config.jitter === "none" ? capped : Backoff.jitter(capped, config.jitter)
  return config.maxElapsed === undefined ? jittered : Backoff.maxElapsed(jittered, config.maxElapsed)
}

/**
 * Builds a policy from a config already decoded (for instance as part of a larger policy schema
 * that embeds {@link Config}), with the backoffs of `Backoff`. Use {@link fromConfig} for a config
 * as written.
 *
 * @example
 * ```ts
 * import { RetryPolicy } from "@effect-resilience/core"
 *
 * const policy = RetryPolicy.fromDecoded("get-user", { ...RetryPolicy.defaultConfig, maxAttempts: 3 })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const fromDecoded = (
  operation: string,
  config: Config = defaultConfig,
  options?: { readonly budget?: Budget | undefined }
): RetryPolicy => ({
  operation,
  maxAttempts: config.maxAttempts,
  schedule: backoffFor(config, config.initialDelay),
  byCategory: { throttled: backoffFor(config, config.throttledInitialDelay) },
  retryAfterExtra: config.retryAfterExtra,
  budget: options?.budget,
  log: Log.unsafeMakeEmitter()
})

/**
 * Builds a policy from its config as written: decodes it, failing with a `ParseError` that names
 * the path of a bad value (`maxAttempts: 0` is an error, never clamped).
 *
 * @example
 * ```ts
 * import { Classifier, RetryPolicy } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const policy = yield* RetryPolicy.fromConfig("get-user", { maxAttempts: 3, initialDelay: "50 millis" })
 *   return yield* Effect.succeed("user").pipe(RetryPolicy.retry(policy))
 * }).pipe(Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromConfig = (
  operation: string,
  config: ConfigInput = {},
  options?: { readonly budget?: Budget | undefined }
): Effect.Effect<RetryPolicy, ParseResult.ParseError> =>
  Effect.map(Schema.decodeUnknown(Config)(config), (decoded) => fromDecoded(operation, decoded, options))

/** The plain-data fields of `make`'s options, checked like a config. */
const MakeData = Schema.Struct({
  maxAttempts: Schema.optional(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1))),
  retryAfterExtra: Schema.optional(NonNegativeDuration)
})

/**
 * Builds a policy. Everything but `operation` has a default (see {@link Config}). A bad
 * `maxAttempts` (below 1, or not a whole number) or `retryAfterExtra` fails with a `ParseError`
 * naming it.
 *
 * @example
 * ```ts
 * import { Backoff, RetryPolicy } from "@effect-resilience/core"
 *
 * const policy = RetryPolicy.make({
 *   operation: "charge-card",
 *   maxAttempts: 4,
 *   schedule: Backoff.exponential("50 millis").pipe(Backoff.jitter("full"))
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <E = unknown, R = never>(options: {
  readonly operation: string
  readonly maxAttempts?: number | undefined
  readonly schedule?: Schedule.Schedule<unknown, Backoff.RetryInput<E>, R> | undefined
  readonly byCategory?: Partial<Record<Category, Schedule.Schedule<unknown, Backoff.RetryInput<E>, R>>> | undefined
  readonly retryAfterExtra?: Duration.DurationInput | undefined
  readonly budget?: Budget | undefined
}): Effect.Effect<RetryPolicy<E, R>, ParseResult.ParseError> =>
  Effect.map(
    Schema.decodeUnknown(MakeData)({ maxAttempts: options.maxAttempts, retryAfterExtra: options.retryAfterExtra }),
    (data): RetryPolicy<E, R> => ({
      operation: options.operation,
      maxAttempts: data.maxAttempts ?? defaultConfig.maxAttempts,
      schedule: options.schedule ?? backoffFor(defaultConfig, defaultConfig.initialDelay),
      byCategory:
        options.byCategory ??
        (options.schedule === undefined
          ? { throttled: backoffFor(defaultConfig, defaultConfig.throttledInitialDelay) }
          : {}),
      retryAfterExtra: data.retryAfterExtra ?? defaultConfig.retryAfterExtra,
      budget: options.budget,
      log: Log.unsafeMakeEmitter()
    })
  )

/**
 * Retries `self` with a policy. Failures are classified by the `Classifier` in context.
 *
 * The error channel gains `RetriesExhausted` (retrying stopped; carries the attempt history) and
 * `RetryBudgetExhausted` (the budget refused a retry). A failure that is not retryable keeps its
 * own error.
 *
 * @example
 * ```ts
 * import { Classifier, RetryPolicy } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const flaky: Effect.Effect<number, Error> = Effect.fail(new Error("flaky"))
 * const program = Effect.gen(function* () {
 *   const policy = yield* RetryPolicy.make({ operation: "flaky", maxAttempts: 3 })
 *   return yield* flaky.pipe(RetryPolicy.retry(policy))
 * }).pipe(Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const retry: {
  <E, R2>(
    policy: RetryPolicy<E, R2>
  ): <A, R>(
    self: Effect.Effect<A, E, R>
  ) => Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2 | Classifier>
  <A, E, R, R2>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicy<E, R2>
  ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2 | Classifier>
} = dual(
  2,
  <A, E, R, R2>(
    self: Effect.Effect<A, E, R>,
    policy: RetryPolicy<E, R2>
  ): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2 | Classifier> =>
    Effect.flatMap(Classifier, (classifier) => retryWith(self, policy, classifier))
)

/**
 * Like {@link retry}, with the Classifier given rather than read from context (the pipeline reads
 * it once when it is built), and hooks for the pipeline: what to run for later attempts, what to
 * do before each retry, and a call when the call fails for good.
 *
 * @example
 * ```ts
 * import { Classifier, RetryPolicy } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const classifier = yield* Classifier.Classifier
 *   const policy = yield* RetryPolicy.make({ operation: "flaky", maxAttempts: 3 })
 *   return yield* RetryPolicy.retryWith(Effect.fail("flaky"), policy, classifier, {
 *     onRetry: (attempt) => Effect.log(`retrying after attempt ${attempt}`)
 *   })
 * }).pipe(Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const retryWith = <A, E, R, R2>(
  self: Effect.Effect<A, E, R>,
  policy: RetryPolicy<E, R2>,
  classifier: Context.Tag.Service<Classifier>,
  hooks?: {
    /** What to run for the second and later attempts (default: `self` again). */
    readonly next?: Effect.Effect<A, E, R> | undefined
    /** Runs when a retry is scheduled after attempt `attempt` failed. */
    readonly onRetry?: ((attempt: number, classification: Classification) => Effect.Effect<void>) | undefined
    /** Called synchronously when the call fails for good (no retry follows), with the last failure's classification. */
    readonly onGiveUp?: ((classification: Classification) => void) | undefined
  }
): Effect.Effect<A, E | RetriesExhausted | RetryBudgetExhausted, R | R2> =>
  internal.retryWith(self, policy, classifier, hooks)
