/**
 * A policy (`Resilience.PolicyInput`, the same data the Effect pipeline takes) decoded once, at
 * construction, into the numbers the engine reads. This is the only place the facade uses
 * `effect` (its Schema and Duration); nothing here runs per call.
 *
 * @internal
 */
import * as Cores from "@effect-resilience/core/Cores"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"

/** The retry policy in numbers (undefined: no retry). */
export interface RetrySettings {
  readonly maxAttempts: number
  readonly backoff: "exponential" | "fibonacci" | "linear" | "constant" | "decorrelated"
  readonly initialMillis: number
  readonly throttledInitialMillis: number
  readonly factor: number
  readonly maxDelayMillis: number
  readonly jitter: "none" | "full" | "equal"
  readonly retryAfterExtraMillis: number
  readonly maxElapsedMillis: number | undefined
}

/** Everything the engine needs. */
export interface Settings {
  readonly operation: string
  readonly attemptTimeoutMillis: number | undefined
  readonly deadlineMillis: number | undefined
  readonly retry: RetrySettings | undefined
  readonly budget: Cores.RetryBudget.BudgetCore | undefined
  readonly breaker: Cores.CircuitBreaker.Breaker | undefined
  readonly bulkhead: { readonly name: string; readonly core: Cores.Bulkhead.Core } | undefined
}

const millis = (d: Duration.Duration): number => Duration.toMillis(d)

const decode = Schema.decodeUnknownSync(Resilience.Policy)

type BreakerConfig = Exclude<Resilience.Policy["breaker"], false>

const tripPolicy = (policy: BreakerConfig["policy"]): Cores.CircuitBreaker.Policy => {
  switch (policy._tag) {
    case "ConsecutiveFailures":
      return { _tag: "ConsecutiveFailures", threshold: policy.threshold }
    case "CountWindow":
      return {
        _tag: "CountWindow",
        size: policy.size,
        minimumCalls: policy.minimumCalls,
        failureRateThreshold: policy.failureRateThreshold,
        slowCallMillis: policy.slowCall === undefined ? Number.POSITIVE_INFINITY : millis(policy.slowCall.duration),
        slowCallRateThreshold: policy.slowCall === undefined ? Number.POSITIVE_INFINITY : policy.slowCall.rateThreshold
      }
    case "TimeWindow":
      return {
        _tag: "TimeWindow",
        windowMillis: millis(policy.window),
        buckets: policy.buckets,
        minimumCalls: policy.minimumCalls,
        failureRateThreshold: policy.failureRateThreshold,
        slowCallMillis: policy.slowCall === undefined ? Number.POSITIVE_INFINITY : millis(policy.slowCall.duration),
        slowCallRateThreshold: policy.slowCall === undefined ? Number.POSITIVE_INFINITY : policy.slowCall.rateThreshold
      }
  }
}

const makeBreaker = (operation: string, config: BreakerConfig, nowMillis: number): Cores.CircuitBreaker.Breaker => {
  const policy = tripPolicy(config.policy)
  const backoff = config.openBackoff
  return new Cores.CircuitBreaker.Breaker(
    {
      name: config.name ?? operation,
      policy,
      openDurationFor: Cores.CircuitBreaker.openBackoff(
        millis(config.openDuration),
        backoff === undefined ? undefined : { multiplier: backoff.multiplier, maxMillis: millis(backoff.max) }
      ),
      maxProbes: config.halfOpen.maxProbes,
      successThreshold: config.halfOpen.successThreshold,
      mode: config.mode
    },
    Cores.CircuitBreaker.makeWindow(policy),
    () => {},
    nowMillis
  )
}

const makeBudget = (config: NonNullable<Resilience.Policy["retryBudget"]>): Cores.RetryBudget.BudgetCore =>
  config.mode === "ratio"
    ? new Cores.RetryBudget.RatioBudget({
        ratio: config.ratio,
        windowMillis: millis(config.window),
        buckets: config.buckets,
        minRetriesPerSecond: config.minRetriesPerSecond
      })
    : new Cores.RetryBudget.TokenBucket({
        capacity: config.capacity,
        retryCost: config.retryCost,
        timeoutRetryCost: config.timeoutRetryCost,
        successRefund: config.successRefund,
        refundRetryCostOnSuccess: config.refundRetryCostOnSuccess
      })

/**
 * Decodes a policy and builds its strategies. Throws the `ParseError` of a bad policy (it names the
 * path), and a `TypeError` for strategies the facade does not drive yet.
 */
export const settingsOf = (input: Resilience.PolicyInput, nowMillis: number): Settings => {
  const policy = decode(input)
  const unsupported = [
    policy.rateLimit !== false ? "rateLimit" : undefined,
    policy.adaptiveThrottle !== false ? "adaptiveThrottle" : undefined,
    policy.adaptiveConcurrency !== false ? "adaptiveConcurrency" : undefined,
    policy.hedging !== undefined ? "hedging" : undefined
  ].filter((s) => s !== undefined)
  if (unsupported.length > 0) {
    throw new TypeError(`${policy.operation}: the Promise facade does not support ${unsupported.join(", ")} yet`)
  }
  const retry = policy.retry
  const timeout = policy.attemptTimeout === false ? undefined : millis(policy.attemptTimeout)
  return {
    operation: policy.operation,
    attemptTimeoutMillis: timeout !== undefined && Number.isFinite(timeout) ? timeout : undefined,
    deadlineMillis: policy.deadline === undefined ? undefined : millis(policy.deadline),
    retry:
      retry === false
        ? undefined
        : {
            maxAttempts: retry.maxAttempts,
            backoff: retry.backoff,
            initialMillis: millis(retry.initialDelay),
            throttledInitialMillis: millis(retry.throttledInitialDelay),
            factor: retry.factor,
            maxDelayMillis: millis(retry.maxDelay),
            jitter: retry.jitter,
            retryAfterExtraMillis: millis(retry.retryAfterExtra),
            maxElapsedMillis: retry.maxElapsed === undefined ? undefined : millis(retry.maxElapsed)
          },
    budget: policy.retryBudget === undefined ? undefined : makeBudget(policy.retryBudget),
    breaker: policy.breaker === false ? undefined : makeBreaker(policy.operation, policy.breaker, nowMillis),
    bulkhead:
      policy.bulkhead === false
        ? undefined
        : {
            name: policy.bulkhead.name ?? policy.operation,
            core: Cores.Bulkhead.make({
              maxConcurrent: policy.bulkhead.maxConcurrent,
              maxQueue: policy.bulkhead.maxQueue,
              queueTimeoutMillis: millis(policy.bulkhead.queueTimeout)
            })
          }
  }
}
