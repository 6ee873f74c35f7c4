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
import * as Scope from "effect/Scope"
import { RetryBudgetExhausted } from "../../Errors.js"
import * as Events from "../../Events.js"
import type { Config, ConfigInput, RegistryService, RetryBudget, RetryBudgetStoreService } from "../../RetryBudget.js"
import * as core from "./core.js"
import * as RetryBudgetSchema from "./schema.js"
import { unsafeConstruct } from "../construct.js"

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
          : Effect.zipRight(rejected, Effect.fail(unsafeConstruct(RetryBudgetExhausted, { budget: name, operation })))
      )
  }
}

/** A fresh in-memory decision core for a decoded config. */
export const coreOf = (config: Config): core.BudgetCore =>
  config.mode === "ratio"
    ? new core.RatioBudget({
        ratio: config.ratio,
        windowMillis: RetryBudgetSchema.millis(config.window),
        buckets: config.buckets,
        minRetriesPerSecond: config.minRetriesPerSecond
      })
    : new core.TokenBucket(config)

/** The in-memory store: every budget gets its own core. Holds nothing itself. */
export const memoryStore: RetryBudgetStoreService = {
  attach: (config) => Effect.sync(() => coreOf(config))
}

/** A budget for a decoded config, its state in `store`; the ratio budget (and a remote store) read the clock. */
export const makeWith = (
  config: Config,
  store: RetryBudgetStoreService
): Effect.Effect<RetryBudget, never, Scope.Scope> =>
  Effect.flatMap(store.attach(config), (handle) =>
    Effect.clockWith((clock) =>
      Effect.succeed(bind(config.name, handle, store === memoryStore && config.mode !== "ratio" ? undefined : clock))
    )
  )

/** Decodes a config (the ParseError names the path) and builds the budget in `store`, on the Clock in context. */
export const make = (
  input: ConfigInput,
  store: RetryBudgetStoreService
): Effect.Effect<RetryBudget, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(RetryBudgetSchema.Config)(input), (config) => makeWith(config, store))

/** The default registry: shares nothing, holds nothing; every `get` makes a new budget. */
export const unshared = (
  makeBudget: (input: ConfigInput) => Effect.Effect<RetryBudget, ParseResult.ParseError, Scope.Scope>
): RegistryService => ({
  get: (name, config) => makeBudget({ ...config, name })
})

/** A registry that shares one budget per name, held in the current scope; the first config given for a name wins. */
export const makeShared = (store: RetryBudgetStoreService): Effect.Effect<RegistryService, never, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Effect.scope
    const lock = yield* Effect.makeSemaphore(1)
    const budgets = new Map<string, RetryBudget>()
    return {
      get: (name, config) =>
        Effect.flatMap(Schema.decodeUnknown(RetryBudgetSchema.Config)({ ...config, name }), (decoded) =>
          Effect.suspend(() => {
            const existing = budgets.get(name)
            if (existing !== undefined) return Effect.succeed(existing)
            return lock.withPermits(1)(
              Effect.suspend(() => {
                const again = budgets.get(name)
                if (again !== undefined) return Effect.succeed(again)
                return makeWith(decoded, store).pipe(
                  Scope.extend(scope),
                  Effect.tap((budget) => Effect.sync(() => budgets.set(name, budget)))
                )
              })
            )
          })
        )
    }
  })

export const unlimited: RetryBudget = bind("unlimited", core.unlimited, undefined)
