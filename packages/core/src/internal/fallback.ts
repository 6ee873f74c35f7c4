import * as Effect from "effect/Effect"
import * as Predicate from "effect/Predicate"
import type { Category, Classification } from "../Classification.js"
import { circuitOpenCode } from "../Classification.js"
import { Classifier } from "../Classifier.js"

/** @internal */
export type When<E> =
  | "any"
  | "circuit-open"
  | ReadonlyArray<Category>
  | ((classification: Classification, error: E) => boolean)

/**
 * A failure that says a breaker is open: `CircuitOpen` itself, or the retry policy's
 * `RetriesExhausted` that stopped because the breaker was open.
 *
 * @internal
 */
export const isCircuitOpenFailure = (error: unknown): boolean =>
  Predicate.isTagged(error, "CircuitOpen") ||
  (Predicate.isTagged(error, "RetriesExhausted") &&
    Predicate.hasProperty(error, "reason") &&
    error.reason === "breaker-open")

/** @internal */
export const matches = <E>(when: When<E>, classification: Classification, error: E): boolean => {
  if (when === "any") return true
  if (when === "circuit-open") return classification.code === circuitOpenCode || isCircuitOpenFailure(error)
  if (typeof when === "function") return when(classification, error)
  return when.includes(classification.category)
}

/** @internal */
export const orElse = <A, E, R, A2, E2, R2>(
  self: Effect.Effect<A, E, R>,
  when: When<E>,
  fallback: (error: E, classification: Classification) => Effect.Effect<A2, E2, R2>
): Effect.Effect<A | A2, E | E2, R | R2 | Classifier> =>
  Effect.catchAll(self, (error) =>
    Effect.flatMap(Classifier, (classifier): Effect.Effect<A2, E | E2, R2> => {
      const classification = classifier.classify(error)
      return matches(when, classification, error) ? fallback(error, classification) : Effect.fail(error)
    })
  )
