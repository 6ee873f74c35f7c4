/**
 * The Effect binding of the retry budget: its decision core on Effect's Clock, the `withdraw`
 * Effect (publishes `Rejected`, fails with `RetryBudgetExhausted`), and the registries.
 *
 * @internal
 */
import type * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import { RetryBudgetExhausted } from "../../Errors.js"
import * as Events from "../../Events.js"
import type { Config, ConfigInput, RegistryService, RetryBudget } from "../../RetryBudget.js"
import * as core from "./core.js"
import * as RetryBudgetSchema from "./schema.js"

/** Binds a decision core to a clock and a name. */
export const bind = (name: string, budget: core.BudgetCore, clock: Clock.Clock | undefined): RetryBudget => {
  const now = clock === undefined ? () => 0 : () => clock.unsafeCurrentTimeMillis()
  const rejected = Events.publish(
    Events.ResilienceEvent.Rejected({ component: "retry-budget", name, reason: "exhausted" })
  )
  const tryWithdraw: RetryBudget["tryWithdraw"] = (classification) => budget.tryWithdraw(classification, now())
  return {
    name,
    onRequest: () => budget.onRequest(now()),
    costOf: budget.costOf,
    tryWithdraw,
    onSuccess: (firstTry, lastRetry) => budget.onSuccess(firstTry, lastRetry),
    available: () => budget.available(now()),
    reset: budget.reset,
    withdraw: (classification, operation) =>
      Effect.suspend(() =>
        tryWithdraw(classification)
          ? Effect.void
          : Effect.zipRight(rejected, Effect.fail(new RetryBudgetExhausted({ budget: name, operation })))
      )
  }
}

/** A budget from a decoded config; the ratio budget reads `clock`. */
export const fromConfig = (config: Config, clock: Clock.Clock): RetryBudget =>
  config.mode === "ratio"
    ? bind(
        config.name,
        new core.RatioBudget({
          ratio: config.ratio,
          windowMillis: RetryBudgetSchema.millis(config.window),
          buckets: config.buckets,
          minRetriesPerSecond: config.minRetriesPerSecond
        }),
        clock
      )
    : bind(config.name, new core.TokenBucket(config), undefined)

/** Decodes a config (the ParseError names the path) and builds the budget on the Clock in context. */
export const make = (input: ConfigInput): Effect.Effect<RetryBudget, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(RetryBudgetSchema.Config)(input), (config) =>
    Effect.clockWith((clock) => Effect.succeed(fromConfig(config, clock)))
  )

/** The default registry: shares nothing, holds nothing; every `get` makes a new budget. */
export const unshared: RegistryService = {
  get: (name, config) => make({ ...config, name })
}

/** A registry that shares one budget per name; the first config given for a name wins. */
export const makeShared: Effect.Effect<RegistryService> = Effect.sync(() => {
  const budgets = new Map<string, RetryBudget>()
  return {
    get: (name, config) =>
      Effect.flatMap(Schema.decodeUnknown(RetryBudgetSchema.Config)({ ...config, name }), (decoded) =>
        Effect.clockWith((clock) =>
          Effect.sync(() => {
            const existing = budgets.get(name)
            if (existing !== undefined) return existing
            const budget = fromConfig(decoded, clock)
            budgets.set(name, budget)
            return budget
          })
        )
      )
  }
})

export const unlimited: RetryBudget = bind("unlimited", core.unlimited, undefined)
