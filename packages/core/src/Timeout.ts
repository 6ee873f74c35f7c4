/**
 * A timeout for one attempt: the effect is interrupted when it takes longer than the timeout, and
 * fails with `AttemptTimeout`. It never runs past the call's `Deadline`: when the deadline comes
 * first, the effect is interrupted then and fails with `DeadlineExceeded`. Time is Effect's
 * `Clock` in context (a `TestClock` in tests).
 *
 * This is the same timer a pipeline (`Resilience.make` with `attemptTimeout`) puts around each
 * attempt: `Timeout.protect` composes it by hand, inside `RetryPolicy.retry` for a timeout per
 * attempt, outside it for one per call.
 *
 * @since 0.2.0
 */
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import { currentDeadline } from "./Deadline.js"
import { AttemptTimeout, DeadlineExceeded } from "./Errors.js"
import { effectWithTimer } from "./internal/attempt.js"
import { timersFor } from "./internal/strategy/binding.js"
import { FinitePositiveDuration } from "./internal/schema.js"
import * as core from "./internal/timeout/core.js"
import { unsafeConstruct } from "./internal/construct.js"

/**
 * A timeout's configuration: `timeout` (a `Duration.DurationInput`: a number of milliseconds or a
 * string such as `"2 seconds"`), and the `operation` named in its errors (default `"call"`).
 *
 * @example
 * ```ts
 * import { Timeout } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(Timeout.Config)({ timeout: "2 seconds", operation: "get-user" })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Config = Schema.Struct({
  timeout: FinitePositiveDuration,
  operation: Schema.optionalWith(Schema.String, { default: () => "call" })
})

/**
 * A decoded config.
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * A config as written.
 *
 * @example
 * ```ts
 * import type { Timeout } from "@effect-resilience/core"
 *
 * const config: Timeout.ConfigInput = { timeout: 500 }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * Options of one protected run: the `operation` and `attempt` named in `AttemptTimeout` and
 * `DeadlineExceeded`.
 *
 * @example
 * ```ts
 * import type { Timeout } from "@effect-resilience/core"
 *
 * const options: Timeout.Options = { operation: "get-user", attempt: 2 }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly operation?: string | undefined
  readonly attempt?: number | undefined
}

/**
 * A timeout built from its config.
 *
 * @example
 * ```ts
 * import { Timeout } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const timeout: Timeout.Timeout = yield* Timeout.make({ timeout: "1 second" })
 *   return yield* timeout.protect(Effect.succeed("fast"))
 * })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Timeout {
  readonly timeout: Duration.Duration
  readonly operation: string
  readonly protect: <A, E, R>(
    self: Effect.Effect<A, E, R>,
    options?: { readonly attempt?: number | undefined }
  ) => Effect.Effect<A, E | AttemptTimeout | DeadlineExceeded, R>
}

const noSettle = (): void => {}

const protectMillis = <A, E, R>(
  self: Effect.Effect<A, E, R>,
  timeoutMillis: number,
  operation: string,
  attempt: number
): Effect.Effect<A, E | AttemptTimeout | DeadlineExceeded, R> =>
  Effect.clockWith((clock) =>
    Effect.flatMap(FiberRef.get(currentDeadline), (deadline) => {
      const timer = core.timerFor(clock.unsafeCurrentTimeMillis(), Option.getOrUndefined(deadline), timeoutMillis)
      if (timer === undefined) return self
      const onTimeout =
        timer.kind === "deadline"
          ? () => unsafeConstruct(DeadlineExceeded, { operation, deadlineMillis: timer.millis })
          : () => unsafeConstruct(AttemptTimeout, { operation, attempt, timeoutMillis })
      return effectWithTimer<A, E, R, AttemptTimeout | DeadlineExceeded>(
        self,
        timersFor(clock),
        timer.millis,
        onTimeout,
        noSettle
      )
    })
  )

/**
 * Builds a timeout from its config; a config that does not decode fails with the `ParseError`
 * (which names the path).
 *
 * @example
 * ```ts
 * import { Timeout } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const timeout = yield* Timeout.make({ timeout: 500, operation: "get-user" })
 *   return yield* Effect.sleep("1 second").pipe(timeout.protect)
 * })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (config: ConfigInput): Effect.Effect<Timeout, ParseResult.ParseError> =>
  Effect.map(Schema.decodeUnknown(Config)(config), (decoded): Timeout => {
    const millis = Duration.toMillis(decoded.timeout)
    return {
      timeout: decoded.timeout,
      operation: decoded.operation,
      protect: (self, options) => protectMillis(self, millis, decoded.operation, options?.attempt ?? 1)
    }
  })

/**
 * Runs `self` under a timeout: interrupted and failed with `AttemptTimeout` when it takes longer
 * than `duration`, or with `DeadlineExceeded` when the current `Deadline` comes first.
 *
 * @example
 * ```ts
 * import { Deadline, Timeout } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * // AttemptTimeout after 500 ms
 * const slow = Effect.sleep("1 second").pipe(Timeout.protect("500 millis", { operation: "get-user" }))
 * // DeadlineExceeded after 200 ms: the deadline comes first
 * const bounded = Effect.sleep("1 second").pipe(Timeout.protect("500 millis"), Deadline.within("200 millis"))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const protect: {
  (
    duration: Duration.DurationInput,
    options?: Options
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | AttemptTimeout | DeadlineExceeded, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.DurationInput,
    options?: Options
  ): Effect.Effect<A, E | AttemptTimeout | DeadlineExceeded, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.DurationInput,
    options?: Options
  ): Effect.Effect<A, E | AttemptTimeout | DeadlineExceeded, R> =>
    protectMillis(
      self,
      Duration.toMillis(Duration.decode(duration)),
      options?.operation ?? "call",
      options?.attempt ?? 1
    )
)
