/**
 * A retry budget: one pool of retry allowance shared by every call in its scope, so that a
 * struggling dependency sees at most a bounded fraction of extra load from retries. When the
 * budget is empty the retry layer stops with `RetryBudgetExhausted` instead of retrying.
 *
 * Two semantics:
 *
 * - `"token-bucket"` (default), the AWS SDK v3 retry quota: the bucket holds 500 tokens; a retry
 *   takes 5, or 10 when the failure's classification is of category `timeout` or `network`; a call
 *   that succeeds on its first try puts 1 back, and (as AWS does) a call that succeeds after
 *   retries puts back the cost of its last retry. Never above capacity.
 * - `"ratio"`: retries are allowed while `retries < ratio * requests + reserve` over a sliding
 *   window (Google SRE: ratio 0.1). The reserve is Finagle's minimum allowance,
 *   `minRetriesPerSecond * window` (Finagle: 10 retries/s, 10 s window), so that a quiet client
 *   can still retry. (Envoy's minimum is instead 3 concurrent retries; we follow Finagle because a
 *   rate needs no tracking of in-flight retries.) Ratio mode counts requests through `onRequest`,
 *   which the caller makes once per call (first attempt).
 *
 * The admission core is synchronous and allocates nothing: `tryWithdraw` before each retry,
 * `onSuccess` after a success. `withdraw` is the Effect form that publishes a `Rejected` event and
 * fails with `RetryBudgetExhausted`.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Classification } from "./Classification.js"
import type { RetryBudgetExhausted } from "./Errors.js"
import * as internal from "./internal/retryBudget.js"

/**
 * AWS semantics. Defaults are the AWS SDK v3 standard retry quota: `capacity` 500 (initial and
 * maximum tokens), `retryCost` 5, `timeoutRetryCost` 10 (categories `timeout` and `network`),
 * `successRefund` 1 (a first-try success), `refundRetryCostOnSuccess` true (a success after
 * retries refunds the cost of its last retry).
 *
 * @example
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(RetryBudget.TokenBucketConfig)({ name: "s3", capacity: 100 })
 *
 * @since 0.1.0
 */
export const TokenBucketConfig = Schema.Struct({
  mode: Schema.optionalWith(Schema.Literal("token-bucket"), { default: () => "token-bucket" as const }),
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  capacity: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 500 }),
  retryCost: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 5 }),
  timeoutRetryCost: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 10 }),
  successRefund: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1 }),
  refundRetryCostOnSuccess: Schema.optionalWith(Schema.Boolean, { default: () => true })
})

/** @since 0.1.0 */
export interface TokenBucketConfig extends Schema.Schema.Type<typeof TokenBucketConfig> {}

/**
 * Ratio semantics. Defaults: `ratio` 0.1 (Google SRE), `windowMillis` 10 000 and
 * `minRetriesPerSecond` 10 (Finagle's `RetryBudget` ttl and minimum), `buckets` 10 (the window's
 * resolution: an event leaves the window within one bucket, here 1 s, of its age reaching it).
 *
 * @example
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(RetryBudget.RatioConfig)({ mode: "ratio", ratio: 0.2 })
 *
 * @since 0.1.0
 */
export const RatioConfig = Schema.Struct({
  mode: Schema.Literal("ratio"),
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  ratio: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 0.1 }),
  windowMillis: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 10_000 }),
  buckets: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 10 }),
  minRetriesPerSecond: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 10 })
})

/** @since 0.1.0 */
export interface RatioConfig extends Schema.Schema.Type<typeof RatioConfig> {}

/**
 * Either semantics; without `mode`, the AWS token bucket.
 *
 * @since 0.1.0
 */
export const Config = Schema.Union(TokenBucketConfig, RatioConfig)

/** @since 0.1.0 */
export type Config = TokenBucketConfig | RatioConfig

/**
 * What `make` and `layer` accept: the encoded config, every field but `mode: "ratio"` optional.
 *
 * @example
 * import type { RetryBudget } from "@effect-resilience/core"
 *
 * const envoyLike: RetryBudget.ConfigInput = { mode: "ratio", ratio: 0.2, minRetriesPerSecond: 0 }
 *
 * @since 0.1.0
 */
export type ConfigInput = Schema.Schema.Encoded<typeof Config>

/**
 * A retry budget.
 *
 * @example
 * import { Classification, RetryBudget } from "@effect-resilience/core"
 *
 * const shouldRetry = (budget: RetryBudget.RetryBudgetService, failure: Classification.Classification) =>
 *   failure.retryable && budget.tryWithdraw(failure)
 *
 * @since 0.1.0
 */
export interface RetryBudgetService {
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
 * The retry budget in context.
 *
 * @example
 * import { RetryBudget } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const left = Effect.map(RetryBudget.RetryBudget, (budget) => budget.available())
 *
 * @since 0.1.0
 */
export class RetryBudget extends Context.Tag("@effect-resilience/core/RetryBudget")<
  RetryBudget,
  RetryBudgetService
>() {}

/**
 * Creates a budget. Its state lives as long as the scope. A config that does not decode is a
 * defect at start-up (the ParseError names the field and the reason).
 *
 * @example
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
 *
 * @since 0.1.0
 */
export const make = (config: ConfigInput = {}): Effect.Effect<RetryBudgetService, never, Scope.Scope> =>
  Effect.flatMap(Effect.orDie(Schema.decode(Config)(config)), (decoded) =>
    Effect.map(Effect.clock, (clock) => internal.makeFromConfig(decoded, clock))
  )

/**
 * Provides a budget shared by everything under the Layer.
 *
 * @example
 * import { RetryBudget } from "@effect-resilience/core"
 *
 * const BudgetLive = RetryBudget.layer({ mode: "ratio", ratio: 0.1 })
 *
 * @since 0.1.0
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<RetryBudget> => Layer.scoped(RetryBudget, make(config))

/**
 * A budget that always pays: for policies that opt out of budgeting.
 *
 * @example
 * import { RetryBudget } from "@effect-resilience/core"
 *
 * RetryBudget.unlimited.tryWithdraw // always true
 *
 * @since 0.1.0
 */
export const unlimited: RetryBudgetService = internal.unlimited
