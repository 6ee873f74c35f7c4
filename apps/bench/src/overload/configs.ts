/**
 * The configurations the overload experiment compares, each built from the decision cores with our
 * modules' default settings unless the name says otherwise. The defaults are not restated here:
 * each comes from decoding the module's public `Config` schema (`RetryPolicy`, `RetryBudget`,
 * `CircuitBreaker`, `AdaptiveThrottle`, `AdaptiveConcurrency`) and is turned into the core's
 * settings by core's own mapping, so a changed default changes the experiment. Every retrying
 * configuration makes at most 3 attempts (the issue's naive retries), except `pipeline-defaults`,
 * which is what `Resilience.make` does when told nothing but the attempt timeout: 5 attempts and
 * the default breaker, no budget.
 */
import {
  AdaptiveConcurrency,
  AdaptiveThrottle,
  CircuitBreaker,
  CoreSettings,
  RetryBudget,
  RetryPolicy
} from "@effect-resilience/core"
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { breaker, type budget, concurrency, makeWindow, type strategy, throttle } from "./cores.js"
import type { ClientSetup, Configuration } from "./sim.js"

const millis = Duration.toMillis

/** `RetryPolicy.Config` defaults, with `maxAttempts` set. */
const retries = (maxAttempts: number) => {
  const c = Schema.decodeSync(RetryPolicy.Config)({ maxAttempts })
  return {
    maxAttempts,
    initialDelayMillis: millis(c.initialDelay),
    factor: c.factor,
    maxDelayMillis: millis(c.maxDelay),
    jitter: c.jitter
  }
}

const noStrategies: ReadonlyArray<strategy.AdmissionStrategy> = []

/** `RetryBudget` token bucket defaults (the AWS SDK v3 retry quota's costs), or another capacity. */
export const tokenBucket = (capacity?: number): budget.BudgetCore =>
  CoreSettings.retryBudget(Schema.decodeSync(RetryBudget.Config)(capacity === undefined ? {} : { capacity }))

/** `RetryBudget` ratio defaults, or another per-second minimum. */
export const ratioBudget = (minRetriesPerSecond?: number): budget.BudgetCore =>
  CoreSettings.retryBudget(
    Schema.decodeSync(RetryBudget.Config)(
      minRetriesPerSecond === undefined ? { mode: "ratio" } : { mode: "ratio", minRetriesPerSecond }
    )
  )

/** `CircuitBreaker.Config` defaults. */
const defaultBreaker = (nowMillis: number): strategy.AdmissionStrategy => {
  const settings = CoreSettings.circuitBreaker(Schema.decodeSync(CircuitBreaker.Config)({ name: "server" }))
  const b = new breaker.Breaker(settings, makeWindow(settings.policy), () => {}, nowMillis)
  return { component: "breaker", name: "server", admit: (now) => b.admit(now), stateAt: (now) => b.stateAt(now) }
}

/** `AdaptiveThrottle.Config` defaults, or other refusal categories. */
const adaptiveThrottle = (
  rejectionCategories?: ReadonlyArray<"throttled" | "unavailable" | "resource" | "timeout">
) => {
  const c = Schema.decodeSync(AdaptiveThrottle.Config)(rejectionCategories === undefined ? {} : { rejectionCategories })
  const t = throttle.make({
    k: c.k,
    windowMillis: millis(c.window),
    buckets: c.buckets,
    rejectionCategories: c.rejectionCategories
  })
  const s: strategy.AdmissionStrategy = { component: "adaptive-throttle", name: "server", admit: t.admit }
  return s
}

/** `AdaptiveConcurrency.Config` defaults, with the algorithm chosen. */
const adaptiveConcurrency = (algorithm: "aimd" | "gradient2"): strategy.AdmissionStrategy => {
  const c = Schema.decodeSync(AdaptiveConcurrency.Config)({ algorithm })
  const limiter = concurrency.make({ ...c, latencyThresholdMillis: millis(c.latencyThreshold) })
  return { component: "adaptive-concurrency", name: "server", admit: limiter.admit }
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
    describe: "naive retries + RetryBudget defaults (token bucket: 100 tokens, 5 a retry, 10 after a timeout)",
    client: () => setup(3, tokenBucket())
  },
  {
    name: "token-bucket-500",
    describe:
      "naive retries + the AWS SDK's retry quota (500 tokens, 5 a retry, 10 after a timeout: our default until this run)",
    client: () => setup(3, tokenBucket(500))
  },
  {
    name: "token-bucket-fleet",
    describe: "naive retries + one default token bucket shared by every client (as RedisRetryBudgetStore shares it)",
    client: () => setup(3, tokenBucket()),
    fleet: () => {
      const shared = tokenBucket()
      return () => setup(3, shared)
    }
  },
  {
    name: "ratio-10",
    describe: "naive retries + RetryBudget ratio defaults (10 % of requests + 1 retry/s per client)",
    client: () => setup(3, ratioBudget())
  },
  {
    name: "ratio-10-finagle",
    describe: "naive retries + a ratio budget of 10 % + Finagle's 10 retries/s per client (our default until this run)",
    client: () => setup(3, ratioBudget(10))
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
    describe: "naive retries + AdaptiveThrottle defaults (K = 2; timeouts count as the backend's refusals)",
    client: () => setup(3, undefined, [adaptiveThrottle()])
  },
  {
    name: "throttle-no-timeouts",
    describe: "naive retries + AdaptiveThrottle K = 2 counting only 503s, 429s and resource refusals (the old default)",
    client: () => setup(3, undefined, [adaptiveThrottle(["throttled", "unavailable", "resource"])])
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
    name: "pipeline-defaults+budget",
    describe: "Resilience.make's defaults + the default token bucket (retryBudget: {})",
    client: (now) => setup(5, tokenBucket(), [defaultBreaker(now)])
  }
]
