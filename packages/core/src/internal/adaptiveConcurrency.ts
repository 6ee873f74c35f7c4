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

/**
 * Netflix concurrency-limits' Gradient2: compares the latest round-trip time with a long-term
 * exponential average and moves the (real-valued) limit towards `limit * gradient + queueSize`,
 * smoothed. A drop is taken as the strongest slow-down the algorithm allows (gradient 0.5).
 */
export class Gradient2 {
  /** the long-term RTT average (ExpAvgMeasurement: a plain mean during the first 10 samples) */
  private longRtt = 0
  private samples = 0
  private readonly factor: number
  estimated: number

  constructor(
    private readonly config: Pick<
      AdaptiveConcurrencyConfig,
      "minLimit" | "maxLimit" | "initialLimit" | "smoothing" | "rttTolerance" | "longWindow" | "queueSize"
    >
  ) {
    this.factor = 2 / (config.longWindow + 1)
    this.estimated = Math.max(config.minLimit, Math.min(config.maxLimit, config.initialLimit))
  }

  update(inflight: number, latencyMillis: number, dropped: boolean): number {
    const { config } = this
    // a call measured at 0 ms (same clock tick) must not divide by zero
    const shortRtt = Math.max(latencyMillis, 0.001)
    this.samples++
    this.longRtt =
      this.samples <= 10
        ? this.longRtt + (shortRtt - this.longRtt) / this.samples
        : this.longRtt * (1 - this.factor) + shortRtt * this.factor
    // after a long overload, pull the long average down faster than the smoothing would
    if (this.longRtt / shortRtt > 2) this.longRtt *= 0.95
    // an application that does not use its limit gives no evidence to grow it
    if (!dropped && inflight < this.estimated / 2) return this.estimated
    const gradient = dropped ? 0.5 : Math.max(0.5, Math.min(1, (config.rttTolerance * this.longRtt) / shortRtt))
    const target = this.estimated * gradient + config.queueSize
    const next = this.estimated * (1 - config.smoothing) + target * config.smoothing
    this.estimated = Math.max(config.minLimit, Math.min(config.maxLimit, next))
    return this.estimated
  }
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

  const gradient2 = config.algorithm === "gradient2" ? new Gradient2(config) : undefined

  const complete = (latencyMillis: number, dropped: boolean): void => {
    limit =
      gradient2 === undefined
        ? aimd(config, limit, inflight, latencyMillis, dropped)
        : Math.floor(gradient2.update(inflight, latencyMillis, dropped))
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
    // the mask's body runs anew on every execution, so it needs no `suspend` of its own
    Effect.uninterruptibleMask((restore): Effect.Effect<A, E | BulkheadRejected, R> => {
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
