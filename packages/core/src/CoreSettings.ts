/**
 * Decoded configs as the settings of the plain decision cores (`@effect-resilience/core/Cores`),
 * for bindings other than Effect's: the Promise facade, a later Effect 4 binding, simulations.
 * These are the mappings the Effect modules use themselves, so every binding reads a config alike.
 * Unlike `Cores`, this module imports `effect` (durations are `Duration`s): use it where a config
 * is decoded, not on a call path.
 *
 * @since 0.2.0
 */
import type * as CircuitBreaker from "./CircuitBreaker.js"
import * as breakerBinding from "./internal/circuitBreaker/binding.js"
import type * as breakerCore from "./internal/circuitBreaker/core.js"
import type * as budgetCore from "./internal/retryBudget/core.js"
import * as budgetService from "./internal/retryBudget/service.js"
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
