/**
 * An overall deadline for a call, seen by every layer below it: a retry never sleeps past it, an
 * attempt timeout never outlives it, a breaker wait is only considered when it fits.
 * (Why it sits where it does in a call: docs/ARCHITECTURE.md.)
 *
 * @since 0.1.0
 */
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import { dual } from "effect/Function"
import * as Option from "effect/Option"
import { DeadlineExceeded } from "./Errors.js"
import { unsafeConstruct } from "./internal/construct.js"

/**
 * The current deadline, if any, in epoch milliseconds.
 *
 * @since 0.1.0
 * @category utils
 */
export const currentDeadline: FiberRef.FiberRef<Option.Option<number>> = FiberRef.unsafeMake<Option.Option<number>>(
  Option.none()
)

/**
 * Milliseconds left before the current deadline (`Option.none()` when there is no deadline).
 * Never negative.
 *
 * @example
 * ```ts
 * import { Deadline } from "@effect-resilience/core"
 * import { Effect, Option } from "effect"
 *
 * const left = Deadline.remaining.pipe(
 *   Effect.map(Option.getOrElse(() => Infinity)),
 *   Deadline.within("5 seconds")
 * )
 * ```
 *
 * @since 0.1.0
 * @category getters
 */
export const remaining: Effect.Effect<Option.Option<number>> = Effect.flatMap(
  FiberRef.get(currentDeadline),
  (deadline) =>
    Option.isNone(deadline)
      ? Effect.succeed(Option.none())
      : Effect.map(Clock.currentTimeMillis, (now) => Option.some(Math.max(0, deadline.value - now)))
)

/**
 * Runs `self` with an overall deadline `duration` from now. A deadline already in force that is
 * sooner wins. When the deadline passes, `self` is interrupted and the call fails with
 * `DeadlineExceeded`.
 *
 * @example
 * ```ts
 * import { Deadline } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const call = Effect.never.pipe(Deadline.within("2 seconds", { operation: "get-user" }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const within: {
  (
    duration: Duration.DurationInput,
    options?: { readonly operation?: string }
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | DeadlineExceeded, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.DurationInput,
    options?: { readonly operation?: string }
  ): Effect.Effect<A, E | DeadlineExceeded, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    duration: Duration.DurationInput,
    options?: { readonly operation?: string }
  ): Effect.Effect<A, E | DeadlineExceeded, R> => {
    const millis = Duration.toMillis(Duration.decode(duration))
    return Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.flatMap(FiberRef.get(currentDeadline), (existing) => {
        const deadline = Option.isSome(existing) ? Math.min(existing.value, now + millis) : now + millis
        const left = Math.max(0, deadline - now)
        return self.pipe(
          Effect.locally(currentDeadline, Option.some(deadline)),
          Effect.timeoutFail({
            duration: Duration.millis(left),
            onTimeout: () =>
              unsafeConstruct(DeadlineExceeded, { operation: options?.operation ?? "call", deadlineMillis: millis })
          })
        )
      })
    )
  }
)

/**
 * Sets the deadline that the layers below see, `duration` from now (a sooner deadline already in
 * force wins), without a timer of its own: the layers below enforce it (the pipeline's attempt
 * timer fails with `DeadlineExceeded`, the retry policy never sleeps past it). Costs a FiberRef
 * update, no fiber. Use {@link within} to enforce a deadline around any effect.
 *
 * @example
 * ```ts
 * import { Deadline } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const call = Effect.succeed(1).pipe(Deadline.propagate("2 seconds"))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const propagate: {
  (duration: Duration.DurationInput): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.DurationInput): Effect.Effect<A, E, R>
} = dual(2, <A, E, R>(self: Effect.Effect<A, E, R>, duration: Duration.DurationInput): Effect.Effect<A, E, R> => {
  const millis = Duration.toMillis(Duration.decode(duration))
  return Effect.withFiberRuntime((fiber) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) => {
      const existing = fiber.getFiberRef(currentDeadline)
      const deadline = Option.isSome(existing) ? Math.min(existing.value, now + millis) : now + millis
      return Effect.locally(self, currentDeadline, Option.some(deadline))
    })
  )
})
