/**
 * A policy (`Resilience.PolicyInput`, the same data the Effect pipeline takes) decoded once, at
 * construction, into the numbers the engine reads. This is the only place the facade uses
 * `effect` (its Schema and Duration); nothing here runs per call.
 *
 * @internal
 */
import * as CoreSettings from "@effect-resilience/core/CoreSettings"
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

/** Everything the engine needs. */
export interface Settings {
  readonly operation: string
  readonly attemptTimeoutMillis: number | undefined
  readonly deadlineMillis: number | undefined
  readonly retry: RetrySettings | undefined
  readonly budget: Cores.RetryBudget.BudgetCore | undefined
  readonly breaker: BreakerHandle | undefined
  readonly bulkhead: { readonly name: string; readonly core: Cores.Bulkhead.Core } | undefined
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
 * Decodes a policy and builds its strategies. Throws the `ParseError` of a bad policy (it names the
 * path), and a `TypeError` for strategies the facade does not drive yet. A `breaker` given is used
 * instead of the one the policy describes.
 */
export const settingsOf = (
  input: Resilience.PolicyInput,
  nowMillis: number,
  breaker?: BreakerHandle | undefined
): Settings => {
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
          }
  }
}
