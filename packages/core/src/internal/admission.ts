/**
 * The admission strategies a policy names, in the order an attempt walks them: breaker, rate
 * limit, adaptive throttle, adaptive concurrency, bulkhead. A built-in strategy joins pipelines by
 * one entry here (and its field in `Resilience.Policy`); the pipeline itself knows none of them.
 *
 * @internal
 */
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type * as Scope from "effect/Scope"
import * as AdaptiveConcurrency from "../AdaptiveConcurrency.js"
import * as AdaptiveThrottle from "../AdaptiveThrottle.js"
import * as Bulkhead from "../Bulkhead.js"
import * as CircuitBreaker from "../CircuitBreaker.js"
import * as RateLimiter from "../RateLimiter.js"
import type * as Resilience from "../Resilience.js"
import type { Strategy } from "./strategy/binding.js"

type Built = Effect.Effect<Strategy<Resilience.AdmissionError> | undefined, ParseResult.ParseError, Scope.Scope>

/** One entry: builds the strategy a policy asks for, or nothing when the policy turns it off. */
type Entry = (policy: Resilience.Policy) => Built

const none: Built = Effect.succeed(undefined)

/** @internal */
export const entries: ReadonlyArray<Entry> = [
  ({ breaker, operation }) =>
    breaker === false
      ? none
      : Effect.flatMap(CircuitBreaker.Registry, (registry) => registry.get(breaker.name ?? operation, breaker)),
  ({ rateLimit, operation }) =>
    rateLimit === false ? none : RateLimiter.make({ ...rateLimit, name: rateLimit.name ?? operation }),
  ({ adaptiveThrottle, operation }) =>
    adaptiveThrottle === false
      ? none
      : AdaptiveThrottle.make({ ...adaptiveThrottle, name: adaptiveThrottle.name ?? operation }),
  ({ adaptiveConcurrency, operation }) =>
    adaptiveConcurrency === false
      ? none
      : AdaptiveConcurrency.make({ ...adaptiveConcurrency, name: adaptiveConcurrency.name ?? operation }),
  ({ bulkhead, operation }) =>
    bulkhead === false ? none : Bulkhead.make({ ...bulkhead, name: bulkhead.name ?? operation })
]

/**
 * The strategies of a policy, in order.
 *
 * @internal
 */
export const fromPolicy = (
  policy: Resilience.Policy
): Effect.Effect<ReadonlyArray<Strategy<Resilience.AdmissionError>>, ParseResult.ParseError, Scope.Scope> =>
  Effect.map(
    Effect.forEach(entries, (entry) => entry(policy)),
    (built) => built.filter((s): s is Strategy<Resilience.AdmissionError> => s !== undefined)
  )
