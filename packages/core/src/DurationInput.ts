/**
 * Durations in config, as every module of effect-resilience reads them: a number of milliseconds,
 * a string such as `"250 millis"` or `"10 seconds"`, or a `Duration`. Decoded, they are
 * `Duration`s; a value that is not a duration, or a negative one, fails with a `ParseError`
 * naming its path (`Duration.decode` alone would turn `-5` into zero).
 *
 * Use these schemas for the duration fields of your own configs, so that they read like ours.
 *
 * @since 0.2.0
 */
import * as internal from "./internal/schema.js"

/**
 * A duration as written, decoded to a `Duration`.
 *
 * @example
 * ```ts
 * import { DurationInput } from "@effect-resilience/core"
 * import { Duration, Schema } from "effect"
 *
 * const Config = Schema.Struct({ pollEvery: DurationInput.DurationInput })
 * const config = Schema.decodeUnknownSync(Config)({ pollEvery: "5 seconds" })
 * Duration.toMillis(config.pollEvery) // 5000
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const DurationInput = internal.DurationInput

/**
 * A duration longer than zero.
 *
 * @example
 * ```ts
 * import { DurationInput } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const Config = Schema.Struct({ timeout: DurationInput.Positive })
 * Schema.decodeUnknownEither(Config)({ timeout: 0 }) // Left: a duration longer than zero
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const Positive = internal.PositiveDuration

/**
 * A duration of zero or more.
 *
 * @example
 * ```ts
 * import { DurationInput } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const Config = Schema.Struct({ delay: DurationInput.NonNegative })
 * Schema.decodeUnknownSync(Config)({ delay: 0 })
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const NonNegative = internal.NonNegativeDuration

/**
 * A finite duration longer than zero (`Duration.infinity` refused).
 *
 * @example
 * ```ts
 * import { DurationInput } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const Config = Schema.Struct({ window: DurationInput.FinitePositive })
 * Schema.decodeUnknownSync(Config)({ window: "1 minute" })
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const FinitePositive = internal.FinitePositiveDuration
