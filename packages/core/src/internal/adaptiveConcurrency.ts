import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import type * as Option from "effect/Option"
import type { AdaptiveConcurrencyConfig, AdaptiveConcurrencyService } from "../AdaptiveConcurrency.js"
import type { Classifier } from "../Classifier.js"
import { BulkheadRejected } from "../Errors.js"
import * as Events from "../Events.js"
import { backendRejected } from "./adaptiveThrottle.js"

/** Netflix concurrency-limits' AIMD step, bounded by [min, max]. */
export const aimd = (
  config: Pick<AdaptiveConcurrencyConfig, "minLimit" | "maxLimit" | "backoffRatio" | "latencyThresholdMillis">,
  limit: number,
  inflight: number,
  latencyMillis: number,
  dropped: boolean
): number => {
  if (dropped || latencyMillis > config.latencyThresholdMillis) {
    return Math.max(config.minLimit, Math.min(config.maxLimit, Math.floor(limit * config.backoffRatio)))
  }
  // grow only when the limit is in use: an idle client must not grow without evidence
  if (inflight * 2 >= limit) return Math.min(config.maxLimit, limit + 1)
  return limit
}

export const make = (
  config: AdaptiveConcurrencyConfig,
  clock: Clock.Clock,
  classifier: Option.Option<Classifier["Type"]>
): AdaptiveConcurrencyService => {
  const name = config.name
  let limit = Math.max(config.minLimit, Math.min(config.maxLimit, config.initialLimit))
  let inflight = 0
  const isDrop = backendRejected(classifier, config.dropCategories)

  const tryAcquire = (): boolean => {
    if (inflight < limit) {
      inflight++
      return true
    }
    return false
  }

  const complete = (latencyMillis: number, dropped: boolean): void => {
    limit = aimd(config, limit, inflight, latencyMillis, dropped)
    if (inflight > 0) inflight--
  }

  const cancel = (): void => {
    if (inflight > 0) inflight--
  }

  const reject = Effect.zipRight(
    Events.publish(
      Events.ResilienceEvent.Rejected({ component: "adaptive-concurrency", name, reason: "adaptive-limit" })
    ),
    Effect.fail(new BulkheadRejected({ bulkhead: name, reason: "adaptive-limit" }))
  )

  const withLimit = <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E | BulkheadRejected, R> =>
    Effect.uninterruptibleMask((restore) =>
      Effect.suspend((): Effect.Effect<A, E | BulkheadRejected, R> => {
        if (!tryAcquire()) return reject
        const start = clock.unsafeCurrentTimeMillis()
        // `exit` + `flatMap` outside `restore` runs on success, failure and interruption
        return Effect.flatMap(Effect.exit(restore(self)), (exit) => {
          if (Exit.isSuccess(exit)) complete(clock.unsafeCurrentTimeMillis() - start, false)
          else if (Exit.isInterrupted(exit)) cancel()
          else complete(clock.unsafeCurrentTimeMillis() - start, isDrop(exit.cause))
          return exit
        })
      })
    )

  return {
    name,
    limit: () => limit,
    inflight: () => inflight,
    tryAcquire,
    complete,
    cancel,
    withLimit
  }
}
