/**
 * A `Classification` is the one verdict that every strategy reads about a failure: whether it is
 * retried, whether a breaker counts it, what it costs a retry budget, how long Retry-After asks us to
 * wait, and where a dead letter is routed.
 *
 * @since 0.1.0
 */
import * as Duration from "effect/Duration"
import * as Schema from "effect/Schema"
import * as core from "./internal/classifier/categories.js"

/**
 * What kind of failure this is.
 *
 * @example
 * ```ts
 * import { Category } from "@effect-resilience/core/Classification"
 * const c: Category = "throttled"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Category = Schema.Literal(...core.categories)

/**
 * @since 0.1.0
 * @category models
 */
export type Category = typeof Category.Type

/**
 * Every category, in a stable order (useful for metrics and reports).
 *
 * @since 0.1.0
 * @category utils
 */
export const categories: ReadonlyArray<Category> = Category.literals

/**
 * How bad a failure is.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Severity = Schema.Literal(...core.severities)

/**
 * @since 0.1.0
 * @category models
 */
export type Severity = typeof Severity.Type

/**
 * The Schema of a classification. `retryAfter` encodes as milliseconds so that a dead letter can
 * store it as JSON.
 *
 * @example
 * ```ts
 * import { Classification } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const json = Schema.encodeSync(Classification.Classification)(
 *   Classification.make({ category: "throttled", code: "http.429", message: "Too many requests" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Classification = Schema.Struct({
  category: Category,
  severity: Severity,
  retryable: Schema.Boolean,
  countsForBreaker: Schema.Boolean,
  retryAfter: Schema.optional(Schema.DurationFromMillis),
  code: Schema.String,
  message: Schema.String
})

/**
 * The verdict about one failure.
 *
 * - `retryable`: a retry may succeed.
 * - `countsForBreaker`: the failure is evidence that the dependency is unhealthy.
 * - `retryAfter`: the dependency asked us not to come back sooner than this.
 * - `code`: a stable, machine-readable code such as `http.503` or `pg.40001`.
 * - `message`: a message fit to show a user: never a stack trace, host, credential or payload.
 *
 * @since 0.1.0
 * @category models
 */
export interface Classification extends Schema.Schema.Type<typeof Classification> {}

/**
 * What each category means by default: severity, retryable and counted by a breaker.
 *
 * @since 0.1.0
 * @category config
 */
export const defaults: {
  readonly [C in Category]: Pick<Classification, "severity" | "retryable" | "countsForBreaker">
} = core.defaults

/**
 * Builds a classification, filling severity, retryable and countsForBreaker from the category's
 * defaults unless given. It builds a plain object: cheap enough for the hot path.
 *
 * @example
 * ```ts
 * import { Classification } from "@effect-resilience/core"
 *
 * const c = Classification.make({ category: "unavailable", code: "http.503", message: "Service unavailable" })
 * // c.retryable === true, c.countsForBreaker === true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  input: Pick<Classification, "category" | "code" | "message"> &
    Partial<Pick<Classification, "severity" | "retryable" | "countsForBreaker">> & {
      readonly retryAfter?: Duration.DurationInput | undefined
    }
): Classification => {
  const d = defaults[input.category]
  const base = {
    category: input.category,
    severity: input.severity ?? d.severity,
    retryable: input.retryable ?? d.retryable,
    countsForBreaker: input.countsForBreaker ?? d.countsForBreaker,
    code: input.code,
    message: input.message
  }
  return input.retryAfter === undefined ? base : { ...base, retryAfter: Duration.decode(input.retryAfter) }
}

/**
 * The classification of a failure nothing recognised.
 *
 * @since 0.1.0
 * @category constructors
 */
export const unknown: Classification = core.unknown

/**
 * Returns a copy with a different Retry-After (or none).
 *
 * @example
 * ```ts
 * import { Classification } from "@effect-resilience/core"
 * import { Duration } from "effect"
 *
 * const throttled = Classification.make({ category: "throttled", code: "http.429", message: "Too many requests" })
 * const wait = Classification.withRetryAfter(throttled, Duration.seconds(3))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withRetryAfter = (self: Classification, retryAfter: Duration.Duration | undefined): Classification => {
  if (retryAfter === undefined) {
    const { retryAfter: _, ...rest } = self
    return rest
  }
  return { ...self, retryAfter }
}

/**
 * The stable code of the classification of a `CircuitOpen` failure. The retry policy reads it to
 * wait for a breaker's probe only when the deadline allows.
 *
 * @since 0.1.0
 * @category utils
 */
export const circuitOpenCode = "resilience.CircuitOpen"
