/**
 * The interface every admission strategy implements: circuit breakers, rate limiters, adaptive
 * throttles, adaptive concurrency limits, bulkheads, and strategies of your own. A pipeline
 * (`Resilience.make`) walks an ordered list of them before each attempt; each also runs on its own
 * with {@link protect}.
 *
 * A strategy decides synchronously (`admit`), without a fiber, and hears how each admitted attempt
 * ended (`settle` on the ticket it handed out) with the failure's `Classification`, computed once
 * per failure for every strategy. The decision types import nothing from `effect`, so the same
 * cores serve the Promise facade.
 *
 * @since 0.2.0
 */
import type * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import type { Classifier } from "./Classifier.js"
import * as binding from "./internal/strategy/binding.js"
import * as core from "./internal/strategy/core.js"

/**
 * How an admitted attempt ended: `Success`, `Failure` with its classification, or `Neutral`
 * (interrupted, cancelled, or never run because a later strategy refused it).
 *
 * @since 0.2.0
 * @category models
 */
export type Outcome = core.Outcome

/**
 * What a strategy reads of a failure's classification (a `Classification` satisfies it).
 *
 * @since 0.2.0
 * @category models
 */
export type ClassificationView = core.ClassificationView

/**
 * Permission to run one attempt; `settle` is called exactly once when the attempt ends.
 *
 * @since 0.2.0
 * @category models
 */
export type Admitted = core.Admitted

/**
 * A refusal, as data: a short stable `reason` and, when known, when to ask again.
 *
 * @since 0.2.0
 * @category models
 */
export type Rejected = core.Rejected

/**
 * Admission after a wait (a reserved token, a place in a queue).
 *
 * @since 0.2.0
 * @category models
 */
export type Wait = core.Wait

/**
 * Timers on the caller's clock, handed to a {@link Wait}.
 *
 * @since 0.2.0
 * @category models
 */
export type Timers = core.Timers

/**
 * A strategy's decision.
 *
 * @since 0.2.0
 * @category models
 */
export type Decision = core.Decision

/**
 * An admission strategy: the synchronous decision core plus the typed error of a refusal.
 *
 * @example
 * ```ts
 * import { Strategy } from "@effect-resilience/core"
 *
 * class Closed {
 *   readonly _tag = "Closed"
 * }
 *
 * // admits while a flag is up: a strategy of your own
 * let open = true
 * const gate: Strategy.Strategy<Closed> = {
 *   component: "gate",
 *   name: "maintenance",
 *   admit: () => (open ? Strategy.admitted : Strategy.rejected("closed")),
 *   reject: () => new Closed()
 * }
 * open = false
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Strategy<E> extends binding.Strategy<E> {}

/**
 * An admission that holds nothing to give back.
 *
 * @since 0.2.0
 * @category constructors
 */
export const admitted: Admitted = core.admittedFree

/**
 * A refusal.
 *
 * @since 0.2.0
 * @category constructors
 */
export const rejected = (reason: string, retryAfterMillis = 0): Rejected => ({
  _tag: "Rejected",
  reason,
  retryAfterMillis
})

/**
 * Runs an effect through one strategy on its own: admit (waiting when the strategy says so,
 * within the current deadline), run, then settle the ticket with the outcome, classified by the
 * `Classifier` in context.
 *
 * @example
 * ```ts
 * import { Bulkhead, Classifier, Strategy } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const bulkhead = yield* Bulkhead.make({ maxConcurrent: 4 })
 *   return yield* Effect.succeed("ok").pipe(Strategy.protect(bulkhead))
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.2.0
 * @category combinators
 */
export const protect: {
  <E2>(strategy: Strategy<E2>): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | E2, R | Classifier>
  <A, E, R, E2>(self: Effect.Effect<A, E, R>, strategy: Strategy<E2>): Effect.Effect<A, E | E2, R | Classifier>
} = dual(
  2,
  <A, E, R, E2>(self: Effect.Effect<A, E, R>, strategy: Strategy<E2>): Effect.Effect<A, E | E2, R | Classifier> =>
    binding.protect(strategy)(self)
)

/**
 * The error a strategy refuses with.
 *
 * @example
 * ```ts
 * import type { CircuitBreaker, Strategy } from "@effect-resilience/core"
 *
 * type Refusal = Strategy.Error<CircuitBreaker.CircuitBreaker> // CircuitOpen
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Error<S> = S extends Strategy<infer E> ? E : never
