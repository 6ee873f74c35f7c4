/**
 * The deadline of one underlying gRPC call: what is left of the caller's `Deadline` (the pipeline's
 * `deadline` is one) and of the attempt timeout, whichever is less. It is sent as the call's grpc
 * deadline, so the server sees it as `grpc-timeout` and can give up when the caller has.
 *
 * Our deadlines are measured on Effect's `Clock`; grpc-js wants a wall-clock `Date`. Only the
 * amount left crosses over (now + left), so a `TestClock` in tests still gives the server a
 * deadline no later than what the caller had left.
 *
 * @internal
 */
import * as Deadline from "@effect-resilience/core/Deadline"
import type { DeadlineExceeded } from "@effect-resilience/core/Errors"
import type * as Resilience from "@effect-resilience/core/Resilience"
import type * as grpc from "@grpc/grpc-js"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as FiberRef from "effect/FiberRef"
import * as Option from "effect/Option"

const minimum = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b)

/** The attempt timeout of a pipeline, in milliseconds, if it has one. */
export const attemptTimeoutMillis = (pipeline: Resilience.Pipeline<unknown> | undefined): number | undefined => {
  const timeout = pipeline?.policy.attemptTimeout
  return timeout === undefined || timeout === false ? undefined : Duration.toMillis(timeout)
}

/**
 * The wall-clock time (epoch milliseconds) by which a call made now must end: `deadline` (epoch
 * milliseconds on Effect's `Clock`) and `millis` from now, whichever comes first. The wall clock
 * is read before Effect's, so with the live Clock the answer is never later than `deadline`.
 */
export const wallDeadline = (
  deadline: Option.Option<number>,
  millis: number | undefined
): Effect.Effect<number | undefined> =>
  Effect.suspend(() => {
    const wallNow = Date.now()
    return Effect.map(Clock.currentTimeMillis, (now) =>
      minimum(
        Option.isSome(deadline) ? wallNow + Math.max(0, deadline.value - now) : undefined,
        millis === undefined ? undefined : wallNow + millis
      )
    )
  })

/** When the attempt being made now must end: the caller's deadline or the attempt timeout. */
export const attemptDeadline = (
  pipeline: Resilience.Pipeline<unknown> | undefined
): Effect.Effect<number | undefined> =>
  Effect.flatMap(FiberRef.get(Deadline.currentDeadline), (deadline) =>
    wallDeadline(deadline, attemptTimeoutMillis(pipeline))
  )

/** Call options with our deadline (wall-clock epoch milliseconds), the caller's kept when earlier. */
export const withDeadline = (options: grpc.CallOptions, ours: number | undefined): grpc.CallOptions => {
  if (ours === undefined) return options
  const theirs = options.deadline
  const theirsMillis = theirs === undefined ? undefined : theirs instanceof Date ? theirs.getTime() : theirs
  return { ...options, deadline: new Date(minimum(ours, theirsMillis) ?? ours) }
}

/** The caller's grpc `deadline` option, when finite, as the `Deadline` of the whole call. */
export const withCallerDeadline = <A, E>(
  deadline: grpc.Deadline | undefined,
  self: Effect.Effect<A, E>
): Effect.Effect<A, E | DeadlineExceeded> => {
  if (deadline === undefined) return self
  const at = deadline instanceof Date ? deadline.getTime() : deadline
  if (!Number.isFinite(at)) return self
  return Deadline.within(self, Math.max(0, at - Date.now()))
}
