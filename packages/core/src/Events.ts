/**
 * Everything the runtime decides is published as a `ResilienceEvent`: retries scheduled, retries
 * exhausted, breaker transitions, rejections, hedges. Telemetry, dashboards and tests subscribe to
 * the `ResilienceEvents` hub.
 *
 * Publishing costs nothing when no hub is provided: the `ResilienceEvents` reference then holds
 * its default, which publishes nowhere.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as PubSub from "effect/PubSub"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import type { Classification } from "./Classification.js"
import type { AttemptRecord } from "./Errors.js"

/**
 * A breaker state as seen by events and snapshots.
 *
 * @since 0.1.0
 * @category models
 */
export type BreakerState = "closed" | "open" | "half-open" | "forced-open" | "disabled" | "metrics-only"

/**
 * One decision of the runtime.
 *
 * @since 0.1.0
 * @category models
 */
export type ResilienceEvent = Data.TaggedEnum<{
  /** A failure was classified retryable and a retry was scheduled after `delayMillis`. */
  RetryScheduled: {
    readonly operation: string
    readonly attempt: number
    readonly delayMillis: number
    readonly classification: Classification
  }
  /** No retry will follow: `reason` says why. */
  RetryStopped: {
    readonly operation: string
    readonly attempt: number
    readonly reason: "not-retryable" | "exhausted" | "deadline" | "budget" | "breaker-open"
    readonly classification: Classification
    readonly attempts: ReadonlyArray<AttemptRecord>
  }
  /** A breaker moved from one state to another. */
  BreakerTransition: {
    readonly breaker: string
    readonly from: BreakerState
    readonly to: BreakerState
    readonly atMillis: number
  }
  /** A call was refused before it ran (breaker open, bulkhead full, rate limit, budget). */
  Rejected: {
    readonly component: string
    readonly name: string
    readonly reason: string
  }
  /** A hedged attempt was started. */
  HedgeStarted: {
    readonly operation: string
    readonly hedge: number
  }
  /**
   * A recovery action (see `Recovery`) ran after a failed attempt, or was refused by the recovery
   * budget (`outcome: "refused"`, `reason` says which bound). `limitations` of a partial recovery.
   */
  RecoveryAction: {
    readonly operation: string
    readonly action: string
    readonly attempt: number
    readonly category: string
    readonly outcome: "recovered" | "partial" | "failed" | "not-applicable" | "refused"
    readonly reason: string | undefined
    readonly limitations: ReadonlyArray<string>
    readonly durationMillis: number
  }
}>

/**
 * Constructors for {@link ResilienceEvent}.
 *
 * @example
 * ```ts
 * import { Events } from "@effect-resilience/core"
 * const e = Events.ResilienceEvent.Rejected({ component: "bulkhead", name: "db", reason: "full" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const ResilienceEvent = Data.taggedEnum<ResilienceEvent>()

/**
 * The event hub. A `Context.Reference`: without {@link layer} in context, events go nowhere and
 * subscribers see none (publishing then costs nothing), so no requirements type has to name it.
 *
 * @since 0.1.0
 * @category services
 */
export class ResilienceEvents extends Context.Reference<ResilienceEvents>()(
  "@effect-resilience/core/ResilienceEvents",
  {
    defaultValue: (): ResilienceEventsService => nowhere
  }
) {}

/**
 * What the hub offers.
 *
 * @since 0.2.0
 * @category models
 */
export interface ResilienceEventsService {
  readonly publish: (event: ResilienceEvent) => Effect.Effect<void>
  /** Subscribe for the lifetime of the scope. Only events published after subscribing are seen. */
  readonly subscribe: Effect.Effect<Stream.Stream<ResilienceEvent>, never, Scope.Scope>
}

const nowhere: ResilienceEventsService = {
  publish: () => Effect.void,
  subscribe: Effect.succeed(Stream.empty)
}

/**
 * An in-process hub. Slow subscribers lose the oldest events (a sliding buffer of `capacity`)
 * rather than slowing the calls that publish.
 *
 * @example
 * ```ts
 * import { Events } from "@effect-resilience/core"
 * import { Effect, Stream } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const hub = yield* Events.ResilienceEvents
 *     const events = yield* hub.subscribe
 *     // ... run protected calls, then read `events`
 *   })
 * ).pipe(Effect.provide(Events.layer()))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options?: { readonly capacity?: number }): Layer.Layer<ResilienceEvents> =>
  Layer.scoped(
    ResilienceEvents,
    Effect.gen(function* () {
      const hub = yield* Effect.acquireRelease(
        PubSub.sliding<ResilienceEvent>(options?.capacity ?? 4096),
        PubSub.shutdown
      )
      return {
        publish: (event) => Effect.asVoid(PubSub.publish(hub, event)),
        subscribe: Effect.map(PubSub.subscribe(hub), Stream.fromQueue)
      }
    })
  )

/**
 * Publishes an event to the hub in context, if there is one.
 *
 * @example
 * ```ts
 * import { Events } from "@effect-resilience/core"
 *
 * const note = Events.publish(Events.ResilienceEvent.BreakerTransition({ breaker: "db", from: "closed", to: "open", atMillis: 0 }))
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const publish = (event: ResilienceEvent): Effect.Effect<void> =>
  Effect.flatMap(ResilienceEvents, (hub) => hub.publish(event))
