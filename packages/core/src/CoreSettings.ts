/**
 * Decoded configs as the settings of the plain decision cores (`@effect-resilience/core/Cores`),
 * for bindings other than Effect's: the Promise facade, a later Effect 4 binding, simulations.
 * These are the mappings the Effect modules use themselves, so every binding reads a config alike.
 * Unlike `Cores`, this module imports `effect` (durations are `Duration`s): use it where a config
 * is decoded, not on a call path.
 *
 * @since 0.2.0
 */
import type * as AdaptiveConcurrency from "./AdaptiveConcurrency.js"
import type * as AdaptiveThrottle from "./AdaptiveThrottle.js"
import type * as Bulkhead from "./Bulkhead.js"
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as breakerBinding from "./internal/circuitBreaker/binding.js"
import type * as breakerCore from "./internal/circuitBreaker/core.js"
import type * as budgetCore from "./internal/retryBudget/core.js"
import * as budgetService from "./internal/retryBudget/service.js"
import type * as RateLimiter from "./RateLimiter.js"
import type * as Resilience from "./Resilience.js"
import type * as RetryBudget from "./RetryBudget.js"

/**
 * A breaker's core settings: its trip policy in numbers and its open duration per re-opening.
 *
 * @example
 * ```ts
 * import { CircuitBreaker, CoreSettings } from "@effect-resilience/core"
 * import * as Cores from "@effect-resilience/core/Cores"
 * import { Schema } from "effect"
 *
 * const settings = CoreSettings.circuitBreaker(Schema.decodeSync(CircuitBreaker.Config)({ name: "db" }))
 * const breaker = new Cores.CircuitBreaker.Breaker(settings, Cores.CircuitBreaker.makeWindow(settings.policy), () => {}, 0)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const circuitBreaker = (config: CircuitBreaker.Config): breakerCore.Settings =>
  breakerBinding.settingsOf(config, breakerBinding.openDurationFor(config))

/**
 * A retry budget's core (token bucket or ratio), fresh and in memory.
 *
 * @example
 * ```ts
 * import { CoreSettings, RetryBudget } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const budget = CoreSettings.retryBudget(Schema.decodeSync(RetryBudget.Config)({}))
 * budget.available(0) // 500
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const retryBudget = (config: RetryBudget.Config): budgetCore.BudgetCore => budgetService.coreOf(config)

/**
 * One admission strategy a policy turns on: its kind (the strategy's `component`) and its config,
 * named (the operation's name unless the policy names it).
 *
 * @example
 * ```ts
 * import type { CoreSettings } from "@effect-resilience/core"
 *
 * const label = (entry: CoreSettings.Admission) => `${entry.component} ${entry.config.name}`
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export type Admission =
  | { readonly component: "breaker"; readonly config: CircuitBreaker.Config }
  | { readonly component: "rate-limit"; readonly config: RateLimiter.Config }
  | { readonly component: "adaptive-throttle"; readonly config: AdaptiveThrottle.Config }
  | { readonly component: "adaptive-concurrency"; readonly config: AdaptiveConcurrency.Config }
  | { readonly component: "bulkhead"; readonly config: Bulkhead.Config }

/**
 * The admission strategies a decoded policy turns on, in the order an attempt walks them: breaker,
 * rate limit, adaptive throttle, adaptive concurrency, bulkhead. A strategy the policy does not
 * name takes the operation's name. The Effect pipeline builds its strategies from this list, and
 * so does the Promise facade, so both read a policy alike.
 *
 * @example
 * ```ts
 * import { CoreSettings, Resilience } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const policy = Schema.decodeSync(Resilience.Policy)({ operation: "search", rateLimit: { limit: 10 }, breaker: false })
 * const entries = CoreSettings.admission(policy)
 * // [{ component: "rate-limit", config: { name: "search", limit: 10, ... } }]
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const admission = (policy: Resilience.Policy): ReadonlyArray<Admission> => {
  const { operation, breaker, rateLimit, adaptiveThrottle, adaptiveConcurrency, bulkhead } = policy
  const entries: Array<Admission> = []
  if (breaker !== false) entries.push({ component: "breaker", config: { ...breaker, name: breaker.name ?? operation } })
  if (rateLimit !== false) {
    entries.push({ component: "rate-limit", config: { ...rateLimit, name: rateLimit.name ?? operation } })
  }
  if (adaptiveThrottle !== false) {
    entries.push({
      component: "adaptive-throttle",
      config: { ...adaptiveThrottle, name: adaptiveThrottle.name ?? operation }
    })
  }
  if (adaptiveConcurrency !== false) {
    entries.push({
      component: "adaptive-concurrency",
      config: { ...adaptiveConcurrency, name: adaptiveConcurrency.name ?? operation }
    })
  }
  if (bulkhead !== false)
    entries.push({ component: "bulkhead", config: { ...bulkhead, name: bulkhead.name ?? operation } })
  return entries
}
