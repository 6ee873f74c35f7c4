/**
 * Running one attempt under a timer, as cheaply as Effect allows.
 *
 * - A Promise-returning operation runs inside a single `Effect.async`: one timer, one
 *   AbortController (only if the operation takes the signal), no fiber. On timeout the signal is
 *   aborted, so the operation really stops (fetch, undici, pg all honour it).
 * - An Effect operation needs its own fiber to be interrupted on timeout: it is started
 *   synchronously with `Runtime.runFork` inside `Effect.async` (cheaper than `Effect.timeout`,
 *   which forks twice), and awaited through an observer.
 *
 * With the live Clock the timer is a plain `setTimeout`. With any other Clock (a `TestClock` in
 * tests) the timer is a fiber sleeping on that Clock, so tests control it.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"
import type { Timers } from "./strategy/core.js"

/**
 * Runs an Effect with a timer: when it fires first, the Effect is interrupted (its finalizers run
 * in the background) and the attempt fails with `onTimeout()` at once. `settle` is called exactly
 * once, synchronously, with the outcome (`undefined` when the attempt was interrupted from outside).
 *
 * @internal
 */
export const effectWithTimer = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  timers: Timers,
  millis: number,
  onTimeout: () => E2,
  settle: (exit: Exit.Exit<A, E | E2> | undefined) => void
): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(Effect.runtime<R>(), (runtime) =>
    Effect.async<A, E | E2>((resume) => {
      const child = Runtime.runFork(runtime)(self)
      let done = false
      const cancel = timers.arm(millis, () => {
        if (done) return
        done = true
        child.unsafeInterruptAsFork(child.id())
        const exit = Exit.fail(onTimeout())
        settle(exit)
        resume(exit)
      })
      child.addObserver((exit) => {
        if (done) return
        done = true
        cancel()
        settle(exit)
        resume(exit)
      })
      return Effect.suspend(() => {
        if (!done) {
          done = true
          cancel()
          settle(undefined)
        }
        return Effect.asVoid(Fiber.interrupt(child))
      })
    })
  )

/** @internal */
export interface PromiseAttempt<A, E, E2> {
  readonly evaluate: (signal: AbortSignal) => PromiseLike<A>
  readonly wantsSignal: boolean
  readonly onError: (error: unknown) => E
  readonly timers: Timers
  readonly millis: number | undefined
  /** When the attempt starts on the timers' clock, if the caller read it (spares a clock read). */
  readonly startMillis?: number | undefined
  readonly onTimeout: () => E2
  readonly settle: (exit: Exit.Exit<A, E | E2> | undefined) => void
}

/**
 * Starts a Promise-returning operation with an optional timer, outside any fiber. `settle` then
 * `done` are called exactly once with the outcome. Returns a canceller when the operation takes
 * the `AbortSignal` (it aborts the operation and settles it as cancelled), else `undefined`.
 *
 * @internal
 */
export const startPromise = <A, E, E2>(
  options: PromiseAttempt<A, E, E2>,
  done: (exit: Exit.Exit<A, E | E2>) => void
): (() => void) | undefined => {
  const controller = options.wantsSignal ? new AbortController() : undefined
  let finished = false
  const cancelTimer =
    options.millis === undefined
      ? undefined
      : options.timers.arm(
          options.millis,
          () => {
            if (finished) return
            finished = true
            const error = options.onTimeout()
            controller?.abort(error)
            const exit = Exit.fail(error)
            options.settle(exit)
            done(exit)
          },
          options.startMillis
        )
  const finish = (exit: Exit.Exit<A, E | E2>) => {
    if (finished) return
    finished = true
    if (cancelTimer !== undefined) cancelTimer()
    options.settle(exit)
    done(exit)
  }
  try {
    options.evaluate(controller === undefined ? neverAborted : controller.signal).then(
      (a) => finish(Exit.succeed(a)),
      (error) => finish(Exit.fail(options.onError(error)))
    )
  } catch (error) {
    finish(Exit.fail(options.onError(error)))
  }
  return controller === undefined
    ? undefined
    : () => {
        if (finished) return
        finished = true
        if (cancelTimer !== undefined) cancelTimer()
        controller.abort()
        options.settle(undefined)
      }
}

/**
 * Runs a Promise-returning operation with an optional timer, in one `Effect.async`.
 *
 * Interruption: an operation that takes the `AbortSignal` is aborted at once and settled as
 * cancelled. An operation that takes no signal cannot be stopped, so no canceller is registered
 * (a canceller costs Effect an `onInterrupt` region per call, about as much as the call itself):
 * the fiber moves on, and the attempt settles when the Promise does or the timer fires, which is
 * also when its bulkhead slot is given back, as the work really runs until then.
 *
 * @internal
 */
export const promiseWithTimer = <A, E, E2>(options: PromiseAttempt<A, E, E2>): Effect.Effect<A, E | E2> =>
  Effect.async<A, E | E2>((resume) => {
    const cancel = startPromise(options, resume)
    return cancel === undefined ? undefined : Effect.sync(cancel)
  })

/** A signal for operations that declared no parameter (they cannot read it anyway). */
const neverAborted: AbortSignal = new AbortController().signal
