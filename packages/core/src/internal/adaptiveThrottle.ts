import * as Cause from "effect/Cause"
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type { AdaptiveThrottleConfig, AdaptiveThrottleService } from "../AdaptiveThrottle.js"
import type { Category } from "../Classification.js"
import type { Classifier } from "../Classifier.js"
import { BulkheadRejected } from "../Errors.js"
import * as Events from "../Events.js"
import { SlidingCounts } from "./adaptiveThrottleWindow.js"

/**
 * Whether a failed call tells us the backend refused it under load: with a Classifier, its
 * category is one of `categories`; without one, every failure counts (we cannot tell).
 */
export const backendRejected = (
  classifier: Option.Option<Classifier["Type"]>,
  categories: ReadonlyArray<Category>
): ((cause: Cause.Cause<unknown>) => boolean) => {
  const set = new Set<Category>(categories)
  return (cause) => {
    if (Cause.isInterruptedOnly(cause)) return false
    const failure = Cause.failureOption(cause)
    if (Option.isNone(failure)) return true
    return Option.isNone(classifier) || set.has(classifier.value.classify(failure.value).category)
  }
}

export const make = (
  config: AdaptiveThrottleConfig,
  clock: Clock.Clock,
  classifier: Option.Option<Classifier["Type"]>
): AdaptiveThrottleService => {
  const { name, k } = config
  // counter A: requests, counter B: accepts
  const window = new SlidingCounts(config.windowMillis, config.buckets)
  const isRejection = backendRejected(classifier, config.rejectionCategories)

  const probability = (): number => {
    window.advance(clock.unsafeCurrentTimeMillis())
    const requests = window.sumA
    return Math.max(0, (requests - k * window.sumB) / (requests + 1))
  }

  const admit = (u: number): boolean => {
    const p = probability()
    window.addA(1)
    return u >= p
  }

  // Counts made when a call ends go to the newest bucket the window has seen (at or after the
  // call's admission) without reading the clock again: a clock read is the dearest part of the
  // hot path (about 450 ns on our VMs), and the error is less than the call's own duration.
  const onAccepted = (): void => {
    window.addB(1)
  }

  const error = new BulkheadRejected({ bulkhead: name, reason: "throttled" })
  const reject = Effect.zipRight(
    Events.publish(Events.ResilienceEvent.Rejected({ component: "adaptive-throttle", name, reason: "throttled" })),
    Effect.fail(error)
  )

  // An admitted call is counted when it ends, accepted or not; an interrupted one is not counted
  // at all (the handler of an unmasked `exit` does not run on interruption, which is what we want
  // and saves the cost of a mask on the success path).
  const record = <A, E>(exit: Exit.Exit<A, E>): Exit.Exit<A, E> => {
    window.addA(1)
    if (Exit.isSuccess(exit) || !isRejection(exit.cause)) window.addB(1)
    return exit
  }

  const rejectLocally = <A, E, R>(): Effect.Effect<A, E | BulkheadRejected, R> => {
    window.addA(1)
    return reject
  }

  const withThrottle = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejected, R> =>
    Effect.suspend((): Effect.Effect<A, E | BulkheadRejected, R> => {
      const p = probability()
      // healthy: no random draw, no rejection possible
      if (p === 0) return Effect.flatMap(Effect.exit(self), record)
      return Effect.flatMap(
        Random.next,
        (u): Effect.Effect<A, E | BulkheadRejected, R> =>
          // `probability()` again: the window may have moved while drawing
          u >= probability() ? Effect.flatMap(Effect.exit(self), record) : rejectLocally()
      )
    })

  return {
    name,
    k,
    probability,
    admit,
    onAccepted,
    withThrottle,
    requests: () => {
      window.advance(clock.unsafeCurrentTimeMillis())
      return window.sumA
    },
    accepts: () => {
      window.advance(clock.unsafeCurrentTimeMillis())
      return window.sumB
    },
    reset: () => window.reset()
  }
}
