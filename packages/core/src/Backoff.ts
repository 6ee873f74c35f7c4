/**
 * Retry backoffs as plain `Schedule`s.
 *
 * Every constructor here returns an ordinary `Schedule<Duration, unknown>` whose output is the delay
 * before the next attempt, and every combinator takes and returns an ordinary `Schedule`, so they
 * compose with Effect's own combinators (`Schedule.union`, `Schedule.intersect`, `Schedule.andThen`,
 * `Schedule.recurUntil`, `Schedule.whileInput`, ...) and run with `Effect.retry` / `Effect.repeat`.
 *
 * Randomness (jitter, decorrelated backoff) comes from Effect's `Random` service, so a test seeds it
 * with `Effect.withRandom(Random.make(seed))`.
 *
 * The combinators (`capped`, `jitter`, `withRetryAfter`, ...) change the delay and keep the output
 * of the schedule they wrap. To output the delay actually slept, pipe the result into
 * `Schedule.delays` (the presets here do).
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Effect, Schedule } from "effect"
 *
 * const schedule = Backoff.exponential("100 millis").pipe(
 *   Backoff.capped("10 seconds"),
 *   Backoff.jitter("full"),
 *   Backoff.maxAttempts(5),
 *   Backoff.withinDeadline,
 *   Schedule.delays
 * )
 * const program = Effect.fail("boom").pipe(Effect.retry(schedule))
 * ```
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import type * as Schedule from "effect/Schedule"
import type * as Classification from "./Classification.js"
import * as internal from "./internal/backoff/schedule.js"

/**
 * What the retry driver feeds a schedule after each failed attempt: the error, its classification
 * and the number of the attempt that failed (1 for the first).
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Schedule } from "effect"
 *
 * // stop retrying once a failure is not retryable
 * const schedule = Backoff.exponential("50 millis").pipe(
 *   Schedule.whileInput((input: Backoff.RetryInput) => input.classification.retryable)
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RetryInput<E = unknown> {
  readonly error: E
  readonly classification: Classification.Classification
  readonly attempt: number
}

/**
 * How delays are randomised:
 *
 * - `"none"`: the delay as is.
 * - `"full"`: uniform in `[0, d]`.
 * - `"equal"`: uniform in `[d / 2, d]`.
 * - `{ proportional: x }`: uniform in `[d * (1 - x), d * (1 + x)]` (never below 0).
 *
 * Decorrelated jitter depends on the previous delay, not on the delay of an underlying schedule, so
 * it is a constructor of its own: {@link decorrelated}.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * const modes: ReadonlyArray<Backoff.Jitter> = ["none", "full", "equal", { proportional: 0.2 }]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Jitter = internal.Jitter

/**
 * Delays `base`, `base * factor`, `base * factor^2`, ... (factor 2 unless given), forever.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * // 100 ms, 200 ms, 400 ms, 800 ms, ...
 * const schedule = Backoff.exponential("100 millis")
 * // 1 s, 1.6 s, 2.56 s, ...
 * const grpcLike = Backoff.exponential("1 second", 1.6)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const exponential: (base: Duration.DurationInput, factor?: number) => Schedule.Schedule<Duration.Duration> =
  internal.exponential

/**
 * Delays `one`, `one`, `2 * one`, `3 * one`, `5 * one`, `8 * one`, ... forever.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * // 10 ms, 10 ms, 20 ms, 30 ms, 50 ms, ...
 * const schedule = Backoff.fibonacci("10 millis")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const fibonacci: (one: Duration.DurationInput) => Schedule.Schedule<Duration.Duration> = internal.fibonacci

/**
 * Delays `base`, `2 * base`, `3 * base`, ... forever.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * // 100 ms, 200 ms, 300 ms, ...
 * const schedule = Backoff.linear("100 millis")
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const linear: (base: Duration.DurationInput) => Schedule.Schedule<Duration.Duration> = internal.linear

/**
 * The same delay every time, forever. `constant(0)` retries at once (no backoff).
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * const schedule = Backoff.constant("250 millis").pipe(Backoff.maxAttempts(4))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const constant: (delay: Duration.DurationInput) => Schedule.Schedule<Duration.Duration> = internal.constant

/**
 * Decorrelated jitter (Brooker, "Exponential Backoff And Jitter", 2015): each delay is
 * `min(cap, random(base, previous * 3))`, starting from `previous = base`. The random number comes
 * from Effect's `Random` service.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Effect, Random } from "effect"
 *
 * const schedule = Backoff.decorrelated({ base: "5 millis", cap: "2 seconds" })
 * const program = Effect.fail("conflict").pipe(
 *   Effect.retry(schedule.pipe(Backoff.maxAttempts(10))),
 *   Effect.withRandom(Random.make(42))
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const decorrelated: (options: {
  readonly base: Duration.DurationInput
  readonly cap: Duration.DurationInput
}) => Schedule.Schedule<Duration.Duration> = internal.decorrelated

/**
 * Never waits longer than `max` between attempts (the output is unchanged).
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * // 100 ms, 200 ms, 400 ms, 500 ms, 500 ms, ...
 * const schedule = Backoff.exponential("100 millis").pipe(Backoff.capped("500 millis"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const capped: {
  (max: Duration.DurationInput): <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, max: Duration.DurationInput): Schedule.Schedule<Out, In, R>
} = internal.capped

/**
 * Randomises the delays of any schedule with one of the {@link Jitter} modes, using Effect's
 * `Random` service. Apply it after `capped` to get the classic "full jitter" of
 * `random(0, min(cap, base * 2^n))`.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Schedule } from "effect"
 *
 * const full = Backoff.exponential("100 millis").pipe(Backoff.capped("20 seconds"), Backoff.jitter("full"))
 * const equal = Backoff.linear("1 second").pipe(Backoff.jitter("equal"))
 * const spread = Schedule.spaced("5 seconds").pipe(Backoff.jitter({ proportional: 0.1 }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const jitter: {
  (mode: Jitter): <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, mode: Jitter): Schedule.Schedule<Out, In, R>
} = internal.jitter

/**
 * Allows `attempts` attempts in all, the first included: the schedule recurs `attempts - 1` times.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * // the effect runs at most 3 times
 * const program = Effect.fail("boom").pipe(Effect.retry(Backoff.constant("10 millis").pipe(Backoff.maxAttempts(3))))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const maxAttempts: {
  (attempts: number): <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, attempts: number): Schedule.Schedule<Out, In, R>
} = internal.maxAttempts

/**
 * Stops recurring when the next attempt would start more than `max` after the schedule's first step
 * (for a retry: the first failure). Unlike `Schedule.upTo`, it never sleeps past the limit.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * const schedule = Backoff.exponential("100 millis").pipe(Backoff.maxElapsed("10 seconds"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const maxElapsed: {
  (max: Duration.DurationInput): <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R>
  <Out, In, R>(self: Schedule.Schedule<Out, In, R>, max: Duration.DurationInput): Schedule.Schedule<Out, In, R>
} = internal.maxElapsed

/**
 * Stops recurring, without sleeping, when the next attempt would start at or after the caller's
 * deadline (`Deadline.currentDeadline`). Without a deadline the schedule is unchanged.
 *
 * @example
 * ```ts
 * import { Backoff, Deadline } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const schedule = Backoff.exponential("200 millis").pipe(Backoff.withinDeadline)
 * // gives up with the last error instead of sleeping into the deadline
 * const program = Effect.fail("boom").pipe(Effect.retry(schedule), Deadline.within("1 second"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withinDeadline: <Out, In, R>(self: Schedule.Schedule<Out, In, R>) => Schedule.Schedule<Out, In, R> =
  internal.withinDeadline

/**
 * How much longer than the backoff a Retry-After may make us wait, unless told: 5 seconds (as the
 * AWS SDKs do).
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Duration } from "effect"
 *
 * Duration.toMillis(Backoff.retryAfterExtraDefault) // 5000
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const retryAfterExtraDefault: Duration.Duration = internal.retryAfterExtraDefault

/**
 * Honours the Retry-After of the failure's classification: the delay becomes
 * `max(backoff, min(retryAfter, backoff + extra))`, so it is never shorter than Retry-After unless
 * that would mean waiting more than `extra` beyond the backoff. Accepts any schedule whose input
 * carries a `classification` (such as {@link RetryInput}).
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 *
 * const schedule = Backoff.exponential("100 millis").pipe(
 *   Backoff.jitter("full"),
 *   Backoff.withRetryAfter({ extra: "10 seconds" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetryAfter: {
  (options?: {
    readonly extra?: Duration.DurationInput | undefined
  }): <Out, In extends { readonly classification: Classification.Classification }, R>(
    self: Schedule.Schedule<Out, In, R>
  ) => Schedule.Schedule<Out, In, R>
  <Out, In extends { readonly classification: Classification.Classification }, R>(
    self: Schedule.Schedule<Out, In, R>,
    options?: { readonly extra?: Duration.DurationInput | undefined }
  ): Schedule.Schedule<Out, In, R>
} = internal.withRetryAfter

/**
 * The project's default retry schedule: exponential from 100 ms with factor 2, capped at 30 s, full
 * jitter, 5 attempts in all (4 retries). Outputs the delay slept.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.fail("boom").pipe(Effect.retry(Backoff.defaultSchedule))
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const defaultSchedule: Schedule.Schedule<Duration.Duration> = internal.preset({
  base: "100 millis",
  factor: 2,
  cap: "30 seconds",
  jitter: "full",
  attempts: 5
})

/**
 * The AWS SDKs' standard retry mode: full jitter on an exponential from 100 ms, capped at 20 s,
 * 3 attempts in all. Outputs the delay slept.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.fail("throttled").pipe(Effect.retry(Backoff.aws))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const aws: Schedule.Schedule<Duration.Duration> = internal.preset({
  base: "100 millis",
  factor: 2,
  cap: "20 seconds",
  jitter: "full",
  attempts: 3
})

/**
 * gRPC's connection backoff (initial 1 s, multiplier 1.6, jitter plus or minus 20 %, max 120 s),
 * with the 5 attempts that gRPC's retry policy allows at most. Outputs the delay slept.
 *
 * @example
 * ```ts
 * import { Backoff } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.fail("unavailable").pipe(Effect.retry(Backoff.grpc))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const grpc: Schedule.Schedule<Duration.Duration> = internal.preset({
  base: "1 second",
  factor: 1.6,
  cap: "120 seconds",
  jitter: { proportional: 0.2 },
  attempts: 5
})
