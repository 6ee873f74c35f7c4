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
import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Runtime from "effect/Runtime"

/** The Clock of Effect's default services: `setTimeout` agrees with it. */
const liveClock: Clock.Clock = Effect.runSync(Effect.clock)

/** Arms a timer on `clock`; returns its cancel function. */
const arm = (clock: Clock.Clock, millis: number, onFire: () => void): (() => void) => {
  if (clock === liveClock) {
    const handle = setTimeout(onFire, millis)
    return () => clearTimeout(handle)
  }
  const timer = Effect.runFork(Effect.zipRight(clock.sleep(Duration.millis(millis)), Effect.sync(onFire)))
  return () => {
    timer.unsafeInterruptAsFork(timer.id())
  }
}

/**
 * Runs an Effect with a timer: when it fires first, the Effect is interrupted (its finalizers run
 * in the background) and the attempt fails with `onTimeout()` at once.
 *
 * @internal
 */
export const effectWithTimer = <A, E, R, E2>(
  self: Effect.Effect<A, E, R>,
  clock: Clock.Clock,
  millis: number,
  onTimeout: () => E2
): Effect.Effect<A, E | E2, R> =>
  Effect.flatMap(Effect.runtime<R>(), (runtime) =>
    Effect.async<A, E | E2>((resume) => {
      const child = Runtime.runFork(runtime)(self)
      let done = false
      const cancel = arm(clock, millis, () => {
        if (done) return
        done = true
        child.unsafeInterruptAsFork(child.id())
        resume(Effect.fail(onTimeout()))
      })
      child.addObserver((exit) => {
        if (done) return
        done = true
        cancel()
        resume(exit)
      })
      return Effect.suspend(() => {
        done = true
        cancel()
        return Effect.asVoid(Fiber.interrupt(child))
      })
    })
  )

/**
 * Runs a Promise-returning operation with an optional timer, in one `Effect.async`.
 * `settle` is called exactly once with the outcome before the fiber resumes (or with an
 * interruption), so the caller can record it synchronously.
 *
 * @internal
 */
export const promiseWithTimer = <A, E, E2>(options: {
  readonly evaluate: (signal: AbortSignal) => PromiseLike<A>
  readonly wantsSignal: boolean
  readonly onError: (error: unknown) => E
  readonly clock: Clock.Clock
  readonly millis: number | undefined
  readonly onTimeout: () => E2
  readonly settle: (exit: Exit.Exit<A, E | E2> | undefined) => void
}): Effect.Effect<A, E | E2> =>
  Effect.async<A, E | E2>((resume) => {
    const controller = options.wantsSignal ? new AbortController() : undefined
    let done = false
    const cancel =
      options.millis === undefined
        ? undefined
        : arm(options.clock, options.millis, () => {
            if (done) return
            done = true
            const error = options.onTimeout()
            controller?.abort(error)
            const exit = Exit.fail(error)
            options.settle(exit)
            resume(exit)
          })
    const finish = (exit: Exit.Exit<A, E | E2>) => {
      if (done) return
      done = true
      if (cancel !== undefined) cancel()
      options.settle(exit)
      resume(exit)
    }
    let promise: PromiseLike<A>
    try {
      promise = options.evaluate(controller === undefined ? neverAborted : controller.signal)
    } catch (error) {
      finish(Exit.fail(options.onError(error)))
      return
    }
    promise.then(
      (a) => finish(Exit.succeed(a)),
      (error) => finish(Exit.fail(options.onError(error)))
    )
    return Effect.sync(() => {
      if (done) return
      done = true
      if (cancel !== undefined) cancel()
      controller?.abort()
      options.settle(undefined)
    })
  })

/** A signal for operations that declared no parameter (they cannot read it anyway). */
const neverAborted: AbortSignal = new AbortController().signal
