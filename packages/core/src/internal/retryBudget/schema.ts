/**
 * The retry budget's config schemas (the public module re-exports them with their docs; they live
 * here so that the binding reads them without an import cycle).
 *
 * @internal
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import { discriminated, FinitePositiveDuration } from "../schema.js"

/** @internal */
export const TokenBucketConfig = Schema.Struct({
  mode: Schema.optionalWith(Schema.Literal("token-bucket"), { default: () => "token-bucket" as const }),
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  capacity: Schema.optionalWith(Schema.Number.pipe(Schema.positive()), { default: () => 100 }),
  retryCost: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 5 }),
  timeoutRetryCost: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 10 }),
  successRefund: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1 }),
  refundRetryCostOnSuccess: Schema.optionalWith(Schema.Boolean, { default: () => true })
})

/** @internal */
export const RatioConfig = Schema.Struct({
  mode: Schema.Literal("ratio"),
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  ratio: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 0.1 }),
  window: Schema.optionalWith(FinitePositiveDuration, { default: () => Duration.seconds(10) }),
  buckets: Schema.optionalWith(Schema.Int.pipe(Schema.between(1, 10_000)), { default: () => 10 }),
  minRetriesPerSecond: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1 })
})

/** @internal */
export const Config = discriminated("mode", Schema.Union(TokenBucketConfig, RatioConfig))

/** @internal */
export const millis = (duration: Duration.Duration): number => Duration.toMillis(duration)
