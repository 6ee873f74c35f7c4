/**
 * Hedging for idempotent operations: when an attempt is slow, start another one and take whichever
 * succeeds first.
 *
 * `hedge` starts the first attempt at once. If no attempt has succeeded `delay` later, it starts a
 * hedge (another run of the same effect), and another after each further `delay`, up to
 * `maxHedges` extra attempts. The first *success* wins: every other attempt still running is
 * interrupted and awaited, so its finalizers (released connections, cancelled requests) have run
 * before `hedge` returns.
 *
 * A failure is a reason to hedge too, as in Polly and gRPC: by default, when an attempt fails with
 * a retryable failure (as the default classifier says, see `Classifier.layer`), the next hedge
 * starts at once instead of waiting for the timer; when it fails with a failure that is not
 * retryable, the race ends with that failure (another attempt would fail the same way) and the
 * others are interrupted. An attempt that dies (a defect) is classified like a failure. When no
 * hedge is left, a failed attempt does not end the race while another is still running; when every
 * attempt started has failed, the call fails with the failure of the **last** attempt to end.
 *
 * - `hedgeOnFailure: true` classifies with the {@link Classifier} in context instead of the
 *   default one (the hedged effect then requires it).
 * - `hedgeOnFailure: false` hedges on latency only: a failure starts nothing, the race goes on
 *   while other attempts run. `Resilience` pipelines hedge this way, since their retry (with its
 *   backoff and budget) is what answers a failure.
 *
 * Only hedge operations that are safe to run more than once (idempotent reads, writes with an
 * idempotency key).
 *
 * Cost: with `maxHedges: 0` the effect is returned unchanged. Otherwise the first attempt runs in
 * a forked fiber and the hedge timer in another, coordinated by the calling fiber through a small
 * mailbox. When the first attempt completes before `delay`, a call costs one timer (set, then
 * cancelled), two fibers and five scheduler tasks: exactly what `Effect.timeout` costs (counted
 * with a counting `Scheduler` and `Supervisor`).
 *
 * Each hedge started is published as a `HedgeStarted` event (`hedge` is 1 for the first extra
 * attempt) to the `ResilienceEvents` hub when one is provided, and passed to `onHedge`.
 *
 * @since 0.1.0
 */
import type * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import { Classifier } from "./Classifier.js"
import * as internal from "./internal/hedging.js"

/**
 * Options of {@link hedge} when the default classifier decides which failures start the next
 * hedge at once (or, with `hedgeOnFailure: false`, when only latency does).
 *
 * - `delay`: how long an attempt may run before the next hedge starts (and between hedges).
 * - `maxHedges`: extra attempts at most, a whole number (0 turns hedging off; fractions are
 *   rounded down; negative, NaN and infinite values count as 0).
 * - `operation`: name used in events (default `"hedged"`).
 * - `onHedge`: run as each hedge starts, with its number (1 for the first extra attempt).
 * - `hedgeOnFailure`: `false` for latency only (see the module documentation).
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly delay: Duration.DurationInput
  readonly maxHedges: number
  readonly operation?: string | undefined
  readonly onHedge?: ((hedge: number) => Effect.Effect<void>) | undefined
  readonly hedgeOnFailure?: false | undefined
}

/**
 * Options of {@link hedge} when the `Classifier` in context decides which failures start the next
 * hedge at once (retryable ones) and which end the race: the hedged effect requires it.
 *
 * @since 0.1.0
 * @category models
 */
export interface OnFailureOptions extends Omit<Options, "hedgeOnFailure"> {
  readonly hedgeOnFailure: true
}

/**
 * Runs `self` with hedged attempts. See the module documentation for the exact rules.
 *
 * @example
 * ```ts
 * import { Hedging } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * declare const getUser: Effect.Effect<{ readonly name: string }, Error>
 *
 * // After 50 ms without an answer, ask again (twice at most); the first answer wins. An attempt
 * // failing with a retryable failure starts the next hedge at once.
 * const fast = getUser.pipe(Hedging.hedge({ delay: "50 millis", maxHedges: 2, operation: "get-user" }))
 *
 * // The same, with the failures classified by the Classifier in context.
 * const classified = Hedging.hedge(getUser, { delay: "50 millis", maxHedges: 2, hedgeOnFailure: true })
 *
 * // Latency only: a failure starts no hedge.
 * const latencyOnly = Hedging.hedge(getUser, { delay: "50 millis", maxHedges: 2, hedgeOnFailure: false })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const hedge: {
  (options: OnFailureOptions): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R | Classifier>
  (options: Options): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  <A, E, R>(self: Effect.Effect<A, E, R>, options: OnFailureOptions): Effect.Effect<A, E, R | Classifier>
  <A, E, R>(self: Effect.Effect<A, E, R>, options: Options): Effect.Effect<A, E, R>
} = dual(
  2,
  <A, E, R>(self: Effect.Effect<A, E, R>, options: Options | OnFailureOptions): Effect.Effect<A, E, R | Classifier> => {
    const resolved = internal.resolve(options)
    if (resolved.maxHedges === 0) return self
    return options.hedgeOnFailure === true
      ? Effect.flatMap(Classifier, (classifier) => internal.hedge(self, resolved, classifier.classify))
      : internal.hedge(self, resolved, options.hedgeOnFailure === false ? undefined : internal.defaultClassify())
  }
)

/**
 * Like {@link hedge}, but each attempt is made by `attempt(n)` (0 for the first, 1 for the first
 * hedge, ...): send hedges to another replica, or tag them so the server can tell them apart.
 *
 * @example
 * ```ts
 * import { Hedging } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * declare const getFrom: (replica: string) => Effect.Effect<string, Error>
 * const replicas = ["eu-1", "eu-2", "us-1"] as const
 *
 * const read = Hedging.hedgeWith((n) => getFrom(replicas[n % replicas.length]!), {
 *   delay: "30 millis",
 *   maxHedges: 2
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const hedgeWith: {
  <A, E, R>(
    attempt: (n: number) => Effect.Effect<A, E, R>,
    options: OnFailureOptions
  ): Effect.Effect<A, E, R | Classifier>
  <A, E, R>(attempt: (n: number) => Effect.Effect<A, E, R>, options: Options): Effect.Effect<A, E, R>
} = <A, E, R>(
  attempt: (n: number) => Effect.Effect<A, E, R>,
  options: Options | OnFailureOptions
): Effect.Effect<A, E, R | Classifier> => {
  const resolved = internal.resolve(options)
  return options.hedgeOnFailure === true
    ? Effect.flatMap(Classifier, (classifier) => internal.hedge(attempt, resolved, classifier.classify))
    : internal.hedge(attempt, resolved, options.hedgeOnFailure === false ? undefined : internal.defaultClassify())
}
