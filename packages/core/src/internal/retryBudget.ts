import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type { Classification } from "../Classification.js"
import { RetryBudgetExhausted } from "../Errors.js"
import * as Events from "../Events.js"
import type { Config, RatioConfig, RetryBudgetService, TokenBucketConfig } from "../RetryBudget.js"
import { SlidingCounts } from "./adaptiveThrottleWindow.js"

/** The categories whose retries cost `timeoutRetryCost` (AWS: timeouts and transient network errors). */
const isTimeoutLike = (c: Classification): boolean => c.category === "timeout" || c.category === "network"

const withdrawEffect = (
  self: Omit<RetryBudgetService, "withdraw">
): ((classification: Classification, operation: string) => Effect.Effect<void, RetryBudgetExhausted>) => {
  const rejected = Events.publish(
    Events.ResilienceEvent.Rejected({ component: "retry-budget", name: self.name, reason: "exhausted" })
  )
  return (classification, operation) =>
    Effect.suspend(() =>
      self.tryWithdraw(classification)
        ? Effect.void
        : Effect.zipRight(rejected, Effect.fail(new RetryBudgetExhausted({ budget: self.name, operation })))
    )
}

/** AWS SDK v3 "standard" retry quota. */
export const makeTokenBucket = (config: TokenBucketConfig): RetryBudgetService => {
  let tokens = config.capacity
  const costOf = (c: Classification): number => (isTimeoutLike(c) ? config.timeoutRetryCost : config.retryCost)
  const core: Omit<RetryBudgetService, "withdraw"> = {
    name: config.name,
    onRequest: () => {},
    costOf,
    tryWithdraw: (c) => {
      const cost = costOf(c)
      if (tokens < cost) return false
      tokens -= cost
      return true
    },
    onSuccess: (firstTry, lastRetry) => {
      const refund = firstTry
        ? config.successRefund
        : config.refundRetryCostOnSuccess && lastRetry !== undefined
          ? costOf(lastRetry)
          : 0
      if (refund > 0) tokens = Math.min(config.capacity, tokens + refund)
    },
    available: () => tokens,
    reset: () => {
      tokens = config.capacity
    }
  }
  return { ...core, withdraw: withdrawEffect(core) }
}

/** Retries below `ratio` of requests over a sliding window, plus Finagle's minimum allowance. */
export const makeRatio = (config: RatioConfig, clock: Clock.Clock): RetryBudgetService => {
  const window = new SlidingCounts(config.windowMillis, config.buckets)
  const reserve = (config.minRetriesPerSecond * config.windowMillis) / 1000
  // counter A: requests, counter B: retries
  const allowance = (): number => config.ratio * window.sumA + reserve - window.sumB
  // a retry is allowed while retries < ratio * requests + reserve
  const core: Omit<RetryBudgetService, "withdraw"> = {
    name: config.name,
    onRequest: () => {
      window.advance(clock.unsafeCurrentTimeMillis())
      window.addA(1)
    },
    costOf: () => 1,
    tryWithdraw: () => {
      window.advance(clock.unsafeCurrentTimeMillis())
      if (allowance() <= 0) return false
      window.addB(1)
      return true
    },
    onSuccess: () => {},
    available: () => {
      window.advance(clock.unsafeCurrentTimeMillis())
      return Math.max(0, Math.ceil(allowance()))
    },
    reset: () => window.reset()
  }
  return { ...core, withdraw: withdrawEffect(core) }
}

export const makeFromConfig = (config: Config, clock: Clock.Clock): RetryBudgetService =>
  config.mode === "ratio" ? makeRatio(config, clock) : makeTokenBucket(config)

export const unlimited: RetryBudgetService = {
  name: "unlimited",
  onRequest: () => {},
  costOf: () => 0,
  tryWithdraw: () => true,
  onSuccess: () => {},
  available: () => Number.POSITIVE_INFINITY,
  reset: () => {},
  withdraw: () => Effect.void
}
