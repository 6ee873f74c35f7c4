/**
 * Fallback: what a call returns when it failed and another answer is better than the failure
 * (a cached value, a default, a degraded response, another replica).
 *
 * The choice reads the same {@link Classification} as every other strategy: `orElse` classifies
 * the failure with the `Classifier` in context and runs the fallback when `when` says so. Only
 * typed failures (the error channel) are handled: defects and interruptions pass through.
 *
 * `onCircuitOpen` handles the most common case, "the breaker is open, serve something else",
 * without a Classifier: it matches `CircuitOpen` and the retry policy's `RetriesExhausted` whose
 * `reason` is `"breaker-open"`.
 *
 * When the call succeeds, the cost is one `catchAll` frame.
 *
 * @since 0.1.0
 */
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type { Category, Classification } from "./Classification.js"
import type { Classifier } from "./Classifier.js"
import type { CircuitOpen, RetriesExhausted } from "./Errors.js"
import * as internal from "./internal/fallback.js"

/**
 * When a fallback applies:
 *
 * - `"any"` (the default): every failure;
 * - `"circuit-open"`: the breaker was open (`CircuitOpen`, a `RetriesExhausted` with reason
 *   `"breaker-open"`, or any failure classified with code {@link Classification.circuitOpenCode});
 * - a list of categories: failures classified in one of them;
 * - a predicate over the classification (and the error).
 *
 * @since 0.1.0
 * @category models
 */
export type When<E> =
  | "any"
  | "circuit-open"
  | ReadonlyArray<Category>
  | ((classification: Classification, error: E) => boolean)

/**
 * Runs `fallback` instead of failing, when `when` matches the failure's classification.
 *
 * Without `when`, every failure falls back, so the error type is the fallback's alone; with
 * `when`, failures it does not match keep their type.
 *
 * @example
 * ```ts
 * import { Fallback } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * declare const fetchPrice: Effect.Effect<number, Error>
 * declare const cachedPrice: Effect.Effect<number>
 *
 * // Serve the cached price when the dependency is down or slow, not on a bad request.
 * const price = fetchPrice.pipe(
 *   Fallback.orElse({
 *     when: ["unavailable", "timeout", "network"],
 *     fallback: () => cachedPrice
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const orElse: {
  <E, A2, E2, R2>(options: {
    readonly when?: "any" | undefined
    readonly fallback: (error: E, classification: Classification) => Effect.Effect<A2, E2, R2>
  }): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E2, R | R2 | Classifier>
  <E, A2, E2, R2>(options: {
    readonly when: When<NoInfer<E>>
    readonly fallback: (error: E, classification: Classification) => Effect.Effect<A2, E2, R2>
  }): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, E | E2, R | R2 | Classifier>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options: {
      readonly when?: "any" | undefined
      readonly fallback: (error: E, classification: Classification) => Effect.Effect<A2, E2, R2>
    }
  ): Effect.Effect<A | A2, E2, R | R2 | Classifier>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options: {
      readonly when: When<NoInfer<E>>
      readonly fallback: (error: E, classification: Classification) => Effect.Effect<A2, E2, R2>
    }
  ): Effect.Effect<A | A2, E | E2, R | R2 | Classifier>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    options: {
      readonly when?: When<E> | undefined
      readonly fallback: (error: E, classification: Classification) => Effect.Effect<A2, E2, R2>
    }
  ): Effect.Effect<A | A2, E | E2, R | R2 | Classifier> =>
    internal.orElse(self, options.when ?? "any", options.fallback)
)

/**
 * The failures {@link onCircuitOpen} lets through: everything but `CircuitOpen`, and
 * `RetriesExhausted` (only the ones whose reason is `"breaker-open"` are handled).
 *
 * @since 0.1.0
 * @category models
 */
export type CircuitOpenRest<E> = Exclude<E, Extract<E, CircuitOpen | RetriesExhausted>> | Extract<E, RetriesExhausted>

/**
 * Runs `fallback` when the call failed because a circuit breaker is open: on `CircuitOpen`, and on
 * a `RetriesExhausted` whose `reason` is `"breaker-open"` (the retry policy gave up waiting for
 * the breaker). Needs no Classifier. Other failures pass through.
 *
 * @example
 * ```ts
 * import { Fallback } from "@effect-resilience/core"
 * import type { Errors } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * declare const recommend: Effect.Effect<ReadonlyArray<string>, Errors.CircuitOpen | Error>
 *
 * // While the breaker is open, show the best sellers instead of personal recommendations.
 * const items = recommend.pipe(Fallback.onCircuitOpen(() => Effect.succeed(["best", "sellers"])))
 * // items: Effect<ReadonlyArray<string>, Error>: CircuitOpen is handled
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const onCircuitOpen: {
  <E, A2, E2, R2>(
    fallback: (error: Extract<E, CircuitOpen | RetriesExhausted>) => Effect.Effect<A2, E2, R2>
  ): <A, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A | A2, CircuitOpenRest<E> | E2, R | R2>
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    fallback: (error: Extract<E, CircuitOpen | RetriesExhausted>) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, CircuitOpenRest<E> | E2, R | R2>
} = dual(
  2,
  <A, E, R, A2, E2, R2>(
    self: Effect.Effect<A, E, R>,
    fallback: (error: Extract<E, CircuitOpen | RetriesExhausted>) => Effect.Effect<A2, E2, R2>
  ): Effect.Effect<A | A2, CircuitOpenRest<E> | E2, R | R2> => Effect.catchIf(self, isBreakerFailure<E>, fallback)
)

const isBreakerFailure = <E>(error: E): error is Extract<E, CircuitOpen | RetriesExhausted> =>
  internal.isCircuitOpenFailure(error)
