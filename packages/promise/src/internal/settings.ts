/**
 * A policy (`Resilience.PolicyInput`, the same data the Effect pipeline takes) decoded once, at
 * construction, into the numbers and strategies the engine reads. This is the only place the
 * facade uses `effect` (its Schema and Duration, and the Effect modules' own constructors of the
 * rate limiter and the adaptive strategies, run once here); nothing here runs per call.
 *
 * @internal
 */
import * as AdaptiveConcurrency from "@effect-resilience/core/AdaptiveConcurrency"
import * as AdaptiveThrottle from "@effect-resilience/core/AdaptiveThrottle"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as CoreSettings from "@effect-resilience/core/CoreSettings"
import * as Cores from "@effect-resilience/core/Cores"
import * as CoreErrors from "@effect-resilience/core/Errors"
import * as RateLimiter from "@effect-resilience/core/RateLimiter"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import { BulkheadRejectedError, RateLimitedError } from "../Errors.js"

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

/**
 * A breaker as the engine drives it: the synchronous face of the breaker core. The facade's own
 * breaker is one; so is an Effect-side `CircuitBreaker` (a `Strategy` on the same core), which is
 * how the two sides share a breaker's state.
 */
export interface BreakerHandle {
  readonly name: string
  readonly admit: (nowMillis: number, random: () => number) => Cores.Strategy.Admitted | Cores.Strategy.Rejected
  readonly stateAt: (nowMillis: number) => string
}

/**
 * An admission strategy between the breaker and the bulkhead (rate limit, adaptive throttle,
 * adaptive concurrency), with the facade's error for its refusals.
 */
export interface Admission {
  readonly strategy: Cores.Strategy.AdmissionStrategy
  readonly refuse: (operation: string, rejected: Cores.Strategy.Rejected) => Error
}

/** Everything the engine needs. */
export interface Settings {
  readonly operation: string
  readonly attemptTimeoutMillis: number | undefined
  readonly deadlineMillis: number | undefined
  readonly retry: RetrySettings | undefined
  readonly budget: Cores.RetryBudget.BudgetCore | undefined
  readonly breaker: BreakerHandle | undefined
  readonly bulkhead: { readonly name: string; readonly core: Cores.Bulkhead.Core } | undefined
  /** Rate limit, adaptive throttle, adaptive concurrency: those the policy turns on, in this order. */
  readonly admission: ReadonlyArray<Admission>
  /** How a `RateLimitedError` is classified (as the Effect side's Classifier reads `RateLimited`). */
  readonly rateLimited: Cores.Classify.PlainClassification | undefined
}

const millis = (d: Duration.Duration): number => Duration.toMillis(d)

const decode = Schema.decodeUnknownSync(Resilience.Policy)

type BreakerConfig = Exclude<Resilience.Policy["breaker"], false>

/** The breaker's core, from the mapping the Effect side uses too (its name: the operation's by default). */
const makeBreaker = (operation: string, config: BreakerConfig, nowMillis: number): BreakerHandle => {
  const settings = CoreSettings.circuitBreaker({ ...config, name: config.name ?? operation })
  const breaker = new Cores.CircuitBreaker.Breaker(
    settings,
    Cores.CircuitBreaker.makeWindow(settings.policy),
    () => {},
    nowMillis
  )
  return {
    name: settings.name,
    admit: (now) => breaker.admit(now),
    stateAt: (now) => breaker.stateAt(now)
  }
}

/**
 * Builds a strategy with its Effect module's own constructor (the module's config mapping and
 * decision core), once: the engine keeps its synchronous face (`admit`, and the refusal's data),
 * which runs no Effect. Its scope is never closed: the strategy lives as long as the executor
 * (closing would only clear an in-memory limiter's keys). A bad config throws its `ParseError`.
 */
const built = <S>(make: Effect.Effect<S, ParseResult.ParseError, Scope.Scope>): S => {
  const result = Effect.runSync(Effect.either(Effect.flatMap(Scope.make(), (scope) => Scope.extend(make, scope))))
  if (Either.isLeft(result)) throw result.left
  return result.right
}

/** The rate limiter, refusing with `RateLimitedError`. */
const rateLimiter = (config: RateLimiter.Config): Admission => {
  const limiter = built(RateLimiter.make(config))
  return {
    strategy: limiter,
    refuse: (operation, rejected) => {
      const refusal = limiter.reject(rejected)
      return new RateLimitedError(operation, refusal.limiter, refusal.retryAfterMillis)
    }
  }
}

/** An adaptive strategy, refusing with `BulkheadRejectedError` and the Effect side's reason. */
const adaptive = (
  strategy: AdaptiveThrottle.AdaptiveThrottle | AdaptiveConcurrency.AdaptiveConcurrency
): Admission => ({
  strategy,
  refuse: (operation, rejected) => {
    const refusal = strategy.reject(rejected)
    return new BulkheadRejectedError(operation, refusal.bulkhead, refusal.reason)
  }
})

/** The Effect side's default classification of its `RateLimited`, without a Retry-After. */
const rateLimitedClassification = (): Cores.Classify.PlainClassification => {
  const classifier = Effect.runSync(Classifier.make())
  const c = classifier.classify(new CoreErrors.RateLimited({ limiter: "rate-limit", retryAfterMillis: 0 }))
  return {
    category: c.category,
    severity: c.severity,
    retryable: c.retryable,
    countsForBreaker: c.countsForBreaker,
    code: c.code,
    message: c.message,
    retryAfterMillis: undefined
  }
}

/**
 * Decodes a policy and builds its strategies. Throws the `ParseError` of a bad policy (it names the
 * path), and a `TypeError` for hedging, which the facade does not drive yet. A `breaker` given is
 * used instead of the one the policy describes. Which strategies, in which order and under which
 * names: `CoreSettings.admission`, as for the Effect pipeline.
 */
export const settingsOf = (
  input: Resilience.PolicyInput,
  nowMillis: number,
  breaker?: BreakerHandle | undefined
): Settings => {
  const policy = decode(input)
  if (policy.hedging !== undefined) {
    throw new TypeError(`${policy.operation}: the Promise facade does not support hedging yet`)
  }
  const admission: Array<Admission> = []
  for (const entry of CoreSettings.admission(policy)) {
    switch (entry.component) {
      case "rate-limit":
        admission.push(rateLimiter(entry.config))
        break
      case "adaptive-throttle":
        admission.push(adaptive(built(AdaptiveThrottle.make(entry.config))))
        break
      case "adaptive-concurrency":
        admission.push(adaptive(built(AdaptiveConcurrency.make(entry.config))))
        break
    }
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
    budget:
      policy.retryBudget === undefined || policy.retryBudget === false
        ? undefined
        : CoreSettings.retryBudget({ ...policy.retryBudget, name: policy.retryBudget.name ?? policy.operation }),
    breaker:
      breaker !== undefined
        ? breaker
        : policy.breaker === false
          ? undefined
          : makeBreaker(policy.operation, policy.breaker, nowMillis),
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
          },
    admission,
    rateLimited: policy.rateLimit === false ? undefined : rateLimitedClassification()
  }
}
