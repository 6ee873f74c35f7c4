/**
 * The configurations the overload experiment compares, each built from the decision cores with our
 * modules' default settings unless the name says otherwise (the numbers are those of the `Config`
 * schemas of `RetryPolicy`, `RetryBudget`, `CircuitBreaker`, `AdaptiveThrottle`,
 * `AdaptiveConcurrency`). Every retrying configuration makes at most 3 attempts (the issue's naive
 * retries), except `pipeline-defaults`, which is what `Resilience.make` does when told nothing but
 * the attempt timeout: 5 attempts and the default breaker, no budget.
 */
import { breaker, budget, concurrency, makeWindow, type strategy, throttle } from "./cores.js"
import type { ClientSetup, Configuration } from "./sim.js"

/** `RetryPolicy.Config` defaults, with `maxAttempts` set. */
const retries = (maxAttempts: number) => ({
  maxAttempts,
  initialDelayMillis: 100,
  factor: 2,
  maxDelayMillis: 30_000,
  jitter: "full" as const
})

const noStrategies: ReadonlyArray<strategy.AdmissionStrategy> = []

/** `RetryBudget.TokenBucketConfig` defaults (the AWS SDK v3 retry quota). */
export const tokenBucket = (): budget.BudgetCore =>
  new budget.TokenBucket({
    capacity: 500,
    retryCost: 5,
    timeoutRetryCost: 10,
    successRefund: 1,
    refundRetryCostOnSuccess: true
  })

/** `RetryBudget.RatioConfig` defaults (SRE ratio 0.1, Finagle's 10 s window and 10 retries/s). */
export const ratioBudget = (minRetriesPerSecond = 10): budget.BudgetCore =>
  new budget.RatioBudget({ ratio: 0.1, windowMillis: 10_000, buckets: 10, minRetriesPerSecond })

/** `CircuitBreaker.Config` defaults: 5 consecutive failures, open 30 s, 1 probe, 3 successes to close. */
const defaultBreaker = (nowMillis: number): strategy.AdmissionStrategy => {
  const policy: breaker.Policy = { _tag: "ConsecutiveFailures", threshold: 5 }
  const b = new breaker.Breaker(
    {
      name: "server",
      policy,
      openDurationFor: breaker.openBackoff(30_000, undefined),
      maxProbes: 1,
      successThreshold: 3,
      mode: "normal"
    },
    makeWindow(policy),
    () => {},
    nowMillis
  )
  return { component: "breaker", name: "server", admit: (now) => b.admit(now), stateAt: (now) => b.stateAt(now) }
}

/** `AdaptiveThrottle.Config` defaults (K = 2, a 2 minute window in 120 buckets). */
const adaptiveThrottle = (rejectionCategories: ReadonlyArray<string>): strategy.AdmissionStrategy => {
  const t = throttle.make({ k: 2, windowMillis: 120_000, buckets: 120, rejectionCategories })
  return { component: "adaptive-throttle", name: "server", admit: t.admit }
}

/** `AdaptiveConcurrency.Config` defaults. */
const adaptiveConcurrency = (algorithm: "aimd" | "gradient2"): strategy.AdmissionStrategy => {
  const c = concurrency.make({
    algorithm,
    initialLimit: 20,
    minLimit: 1,
    maxLimit: 200,
    backoffRatio: 0.9,
    latencyThresholdMillis: 5000,
    smoothing: 0.2,
    rttTolerance: 1.5,
    longWindow: 600,
    queueSize: 4,
    dropCategories: ["timeout", "throttled", "unavailable", "resource"]
  })
  return { component: "adaptive-concurrency", name: "server", admit: c.admit }
}

const setup = (
  maxAttempts: number,
  b: budget.BudgetCore | undefined,
  strategies: ReadonlyArray<strategy.AdmissionStrategy> = noStrategies
): ClientSetup => ({ ...retries(maxAttempts), budget: b, strategies })

/** The configurations, in the order of the table. */
export const configurations: ReadonlyArray<Configuration> = [
  { name: "no-retries", describe: "one attempt per call", client: () => setup(1, undefined) },
  {
    name: "naive-retries",
    describe: "3 attempts, exponential backoff 100 ms x2 with full jitter, no budget",
    client: () => setup(3, undefined)
  },
  {
    name: "token-bucket",
    describe: "naive retries + RetryBudget defaults (AWS token bucket: 500 tokens, 5 a retry, 10 after a timeout)",
    client: () => setup(3, tokenBucket())
  },
  {
    name: "ratio-10",
    describe: "naive retries + RetryBudget ratio defaults (10 % of requests + 10 retries/s per client)",
    client: () => setup(3, ratioBudget())
  },
  {
    name: "ratio-10-no-reserve",
    describe: "naive retries + a ratio budget of 10 % and no per-second minimum (the SRE book's budget)",
    client: () => setup(3, ratioBudget(0))
  },
  {
    name: "breaker",
    describe: "naive retries + CircuitBreaker defaults (5 consecutive failures, open 30 s, 3 probes to close)",
    client: (now) => setup(3, undefined, [defaultBreaker(now)])
  },
  {
    name: "throttle",
    describe: "naive retries + AdaptiveThrottle defaults (K = 2; refusals: 503s and local refusals, not timeouts)",
    client: () => setup(3, undefined, [adaptiveThrottle(["throttled", "unavailable", "resource"])])
  },
  {
    name: "throttle-timeouts",
    describe: "naive retries + AdaptiveThrottle K = 2 counting timeouts as refusals too",
    client: () => setup(3, undefined, [adaptiveThrottle(["throttled", "unavailable", "resource", "timeout"])])
  },
  {
    name: "aimd",
    describe: "naive retries + AdaptiveConcurrency AIMD defaults (20 initial, 1..200, x0.9 on a drop)",
    client: () => setup(3, undefined, [adaptiveConcurrency("aimd")])
  },
  {
    name: "gradient2",
    describe: "naive retries + AdaptiveConcurrency Gradient2 defaults (queue term only at gradient 1)",
    client: () => setup(3, undefined, [adaptiveConcurrency("gradient2")])
  },
  {
    name: "pipeline-defaults",
    describe: "Resilience.make's defaults with a 1 s attempt timeout: 5 attempts, default breaker, no budget",
    client: (now) => setup(5, undefined, [defaultBreaker(now)])
  },
  {
    name: "token-bucket+breaker",
    describe: "Resilience.make's defaults + the default token bucket",
    client: (now) => setup(5, tokenBucket(), [defaultBreaker(now)])
  }
]
