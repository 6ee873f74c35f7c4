/**
 * A retry budget: one pool of retry allowance shared by every call that uses it, so that a
 * struggling dependency sees at most a bounded fraction of extra load from retries. When the
 * budget is empty the retry layer stops with `RetryBudgetExhausted` instead of retrying.
 *
 * Two semantics: `"token-bucket"` (default), the AWS SDK v3 retry quota; `"ratio"`, retries below
 * a ratio of requests over a sliding window plus Finagle's minimum allowance. Budgets are shared by
 * name through the {@link Registry}: by default nothing is shared (each pipeline gets its own);
 * with {@link layerRegistry} every pipeline naming the same budget shares it.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Classification } from "./Classification.js"
import type { RetryBudgetExhausted } from "./Errors.js"
import type * as core from "./internal/retryBudget/core.js"
import * as schema from "./internal/retryBudget/schema.js"
import * as internal from "./internal/retryBudget/service.js"

/**
 * AWS semantics. Defaults are the AWS SDK v3 standard retry quota's costs with a smaller burst:
 * `capacity` 100 (initial and maximum tokens; AWS has 500), `retryCost` 5, `timeoutRetryCost` 10
 * (categories `timeout` and `network`), `successRefund` 1 (a first-try success),
 * `refundRetryCostOnSuccess` true (a success after retries refunds the cost of its last retry).
 * The capacity is each client's burst: in the overload simulation (docs/overload.md) 10 clients
 * with 500 tokens each spent theirs at once and raised the load on a struggling server by 1.49x;
 * with 100, by 1.09x. A fleet that must bound its burst whatever its size shares one budget
 * (`@effect-resilience/redis`).
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(RetryBudget.TokenBucketConfig)({ name: "s3", capacity: 100 })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const TokenBucketConfig = schema.TokenBucketConfig

/**
 * A decoded token-bucket config.
 *
 * @since 0.1.0
 * @category config
 */
export interface TokenBucketConfig extends Schema.Schema.Type<typeof TokenBucketConfig> {}

/**
 * Ratio semantics. Defaults: `ratio` 0.1 (Google SRE), `window` 10 seconds (Finagle's
 * `RetryBudget` ttl), `minRetriesPerSecond` 1 (Finagle has 10; the minimum is per client, so a
 * fleet of 10 clients had 100 retries/s on top of its 10 % and 1.94x the load in the overload
 * simulation), `buckets` 10 (the window's resolution: an event leaves the window within one
 * bucket, here 1 s, of its age reaching it).
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(RetryBudget.RatioConfig)({ mode: "ratio", ratio: 0.2, window: "30 seconds" })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const RatioConfig = schema.RatioConfig

/**
 * A decoded ratio config.
 *
 * @since 0.1.0
 * @category config
 */
export interface RatioConfig extends Schema.Schema.Type<typeof RatioConfig> {}

/**
 * Either semantics; without `mode`, the AWS token bucket.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(RetryBudget.Config)({ mode: "ratio", window: 60000 })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Config = schema.Config

/**
 * A decoded config.
 *
 * @since 0.1.0
 * @category config
 */
export type Config = TokenBucketConfig | RatioConfig

/**
 * What `make`, `layer` and `Registry.get` accept: the encoded config, every field but
 * `mode: "ratio"` optional, durations as `Duration.DurationInput`.
 *
 * @example
 * ```ts
 * import type { RetryBudget } from "@effect-resilience/core"
 *
 * const envoyLike: RetryBudget.ConfigInput = { mode: "ratio", ratio: 0.2, minRetriesPerSecond: 0 }
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export type ConfigInput = Schema.Schema.Encoded<typeof Config>

/**
 * A retry budget. `tryWithdraw` before each retry and `onSuccess` after a success are synchronous;
 * `withdraw` is the Effect form that publishes a `Rejected` event and fails with
 * `RetryBudgetExhausted`.
 *
 * @example
 * ```ts
 * import { Classification, RetryBudget } from "@effect-resilience/core"
 *
 * const shouldRetry = (budget: RetryBudget.RetryBudget, failure: Classification.Classification) =>
 *   failure.retryable && budget.tryWithdraw(failure)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface RetryBudget {
  readonly name: string
  /** Counts one call (make it once, before the first attempt). Used by ratio mode; free otherwise. */
  readonly onRequest: () => void
  /** Tokens one retry of a failure so classified costs (ratio mode: 1 retry). */
  readonly costOf: (classification: Classification) => number
  /** Takes the cost of one retry; `false`, taking nothing, when the budget cannot pay it. */
  readonly tryWithdraw: (classification: Classification) => boolean
  /**
   * Reports a successful call. `firstTry` is true when no retry was needed; `lastRetry`, the
   * classification of the failure that was last retried, lets AWS mode refund that retry's cost.
   */
  readonly onSuccess: (firstTry: boolean, lastRetry?: Classification) => void
  /** Tokens left (token-bucket) or retries left in the window (ratio). */
  readonly available: () => number
  /** Back to a full budget. */
  readonly reset: () => void
  /**
   * `tryWithdraw` as an Effect: on refusal publishes `Rejected` (component `retry-budget`, reason
   * `exhausted`) and fails with `RetryBudgetExhausted` naming `operation`.
   */
  readonly withdraw: (classification: Classification, operation: string) => Effect.Effect<void, RetryBudgetExhausted>
}

/**
 * One retry budget in context (see {@link layer}).
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const left = Effect.map(RetryBudget.RetryBudget, (budget) => budget.available())
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const RetryBudget: Context.Tag<RetryBudget, RetryBudget> = Context.GenericTag<RetryBudget>(
  "@effect-resilience/core/RetryBudget"
)

/**
 * Creates a budget, on the Clock in context, its state in the {@link RetryBudgetStore} in context
 * (memory by default). A config that does not decode fails with the
 * `ParseError` (which names the field and the reason).
 *
 * @example
 * ```ts
 * import { Classification, RetryBudget } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const budget = yield* RetryBudget.make({ name: "payments" })
 *     const timeout = Classification.make({ category: "timeout", code: "t", message: "timed out" })
 *     budget.tryWithdraw(timeout) // true, 490 tokens left
 *     budget.onSuccess(true) // 491
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: ConfigInput = {}): Effect.Effect<RetryBudget, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(RetryBudgetStore, (store) => internal.make(config, store))

/**
 * Provides one budget, shared by everything under the Layer.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 *
 * const BudgetLive = RetryBudget.layer({ mode: "ratio", ratio: 0.1 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<RetryBudget, ParseResult.ParseError> =>
  Layer.scoped(RetryBudget, make(config))

// ---------------------------------------------------------------------------------------------
// Store
// ---------------------------------------------------------------------------------------------

/**
 * One budget's state in a store: the synchronous decisions of a budget (`tryWithdraw` runs before
 * every retry, `onSuccess` after every success; classifications are seen as plain data). A store
 * backed by a remote service answers from a local allowance and settles with the remote side in
 * the background.
 *
 * @example
 * ```ts
 * import type { RetryBudget } from "@effect-resilience/core"
 *
 * // a handle that never pays (to switch retries off)
 * const closed: RetryBudget.StoreHandle = {
 *   onRequest: () => {},
 *   costOf: () => 1,
 *   tryWithdraw: () => false,
 *   onSuccess: () => {},
 *   available: () => 0,
 *   reset: () => {}
 * }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface StoreHandle extends core.BudgetCore {}

/**
 * The service of {@link RetryBudgetStore}: the state of the budget a decoded config describes, for
 * the lifetime of the scope.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect, Schema } from "effect"
 *
 * const handle = Effect.flatMap(RetryBudget.RetryBudgetStore, (store) =>
 *   store.attach(Schema.decodeUnknownSync(RetryBudget.Config)({ name: "s3" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface RetryBudgetStoreService {
  readonly attach: (config: Config) => Effect.Effect<StoreHandle, never, Scope.Scope>
}

/**
 * Where budgets keep their state. A `Context.Reference`: without a store in context, each budget
 * keeps its own in memory.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const inMemory = Effect.map(RetryBudget.RetryBudgetStore, (store) => store === RetryBudget.storeMemory)
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class RetryBudgetStore extends Context.Reference<RetryBudgetStore>()(
  "@effect-resilience/core/RetryBudgetStore",
  { defaultValue: (): RetryBudgetStoreService => internal.memoryStore }
) {}

/**
 * The in-memory store as a value (also the default): every budget gets its own state. A store
 * shared by a fleet keeps its fallback in it.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect, Schema } from "effect"
 *
 * const local = Effect.scoped(RetryBudget.storeMemory.attach(Schema.decodeUnknownSync(RetryBudget.Config)({})))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const storeMemory: RetryBudgetStoreService = internal.memoryStore

/**
 * The in-memory store as a Layer.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Layer } from "effect"
 *
 * const Budget = RetryBudget.layer({ name: "s3" }).pipe(Layer.provide(RetryBudget.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<RetryBudgetStore> = Layer.succeed(RetryBudgetStore, internal.memoryStore)

/**
 * The registry's service: the budget named `name`, built from `config` (whose own `name`, if any,
 * is replaced by `name`). A config that does not decode fails with its `ParseError`, even when the
 * name is already in use.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const budget = Effect.flatMap(RetryBudget.Registry, (registry) => registry.get("s3", { capacity: 100 }))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface RegistryService {
  readonly get: (
    name: string,
    config?: ConfigInput | undefined
  ) => Effect.Effect<RetryBudget, ParseResult.ParseError, Scope.Scope>
}

const unshared: RegistryService = internal.unshared((config) => make(config))

/**
 * Where pipelines get their retry budget by name. A `Context.Reference`: without
 * {@link layerRegistry}, nothing is shared and nothing is held (each `get` makes a new budget);
 * with it, every `get` of one name returns the same budget (the first config given wins).
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const registry = yield* RetryBudget.Registry
 *   const a = yield* registry.get("upstream")
 *   const b = yield* registry.get("upstream")
 *   return a === b // true under RetryBudget.layerRegistry
 * }).pipe(Effect.scoped, Effect.provide(RetryBudget.layerRegistry))
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class Registry extends Context.Reference<Registry>()("@effect-resilience/core/RetryBudget/Registry", {
  defaultValue: (): RegistryService => unshared
}) {}

/**
 * A {@link Registry} that shares one budget per name for as long as the Layer lives, their state in
 * the {@link RetryBudgetStore} in context when the Layer is built.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 *
 * // every pipeline naming `retryBudget: { name: "upstream" }` below shares one budget
 * const BudgetsLive = RetryBudget.layerRegistry
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerRegistry: Layer.Layer<Registry> = Layer.scoped(
  Registry,
  Effect.flatMap(RetryBudgetStore, internal.makeShared)
)

/**
 * A budget that always pays: for policies that opt out of budgeting.
 *
 * @example
 * ```ts
 * import { RetryBudget } from "@effect-resilience/core"
 *
 * RetryBudget.unlimited.available() // Infinity
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const unlimited: RetryBudget = internal.unlimited
