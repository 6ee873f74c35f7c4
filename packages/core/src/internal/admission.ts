/**
 * The admission strategies a policy names, in the order an attempt walks them: breaker, rate
 * limit, adaptive throttle, adaptive concurrency, bulkhead. A built-in strategy joins pipelines by
 * one case here and one entry in `CoreSettings.admission` (and its field in `Resilience.Policy`);
 * the pipeline itself knows none of them. The Promise facade builds the same list.
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
import * as CoreSettings from "../CoreSettings.js"
import * as RateLimiter from "../RateLimiter.js"
import type * as Resilience from "../Resilience.js"
import type { Strategy } from "./strategy/binding.js"

type Built = Effect.Effect<Strategy<Resilience.AdmissionError>, ParseResult.ParseError, Scope.Scope>

/** Builds one strategy of a policy (which ones, in which order and under which names: `CoreSettings.admission`). */
const build = (entry: CoreSettings.Admission): Built => {
  switch (entry.component) {
    case "breaker":
      return Effect.flatMap(CircuitBreaker.Registry, (registry) => registry.get(entry.config.name, entry.config))
    case "rate-limit":
      return RateLimiter.make(entry.config)
    case "adaptive-throttle":
      return AdaptiveThrottle.make(entry.config)
    case "adaptive-concurrency":
      return AdaptiveConcurrency.make(entry.config)
    case "bulkhead":
      return Bulkhead.make(entry.config)
  }
}

/**
 * The strategies of a policy, in order.
 *
 * @internal
 */
export const fromPolicy = (
  policy: Resilience.Policy
): Effect.Effect<ReadonlyArray<Strategy<Resilience.AdmissionError>>, ParseResult.ParseError, Scope.Scope> =>
  Effect.forEach(CoreSettings.admission(policy), build)
