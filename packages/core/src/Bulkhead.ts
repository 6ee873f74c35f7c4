/**
 * A bulkhead: at most `maxConcurrent` calls run at once; up to `maxQueue` more wait in a queue
 * ordered by priority (higher first, FIFO within a priority) for at most `queueTimeout`. A call
 * that finds the queue full fails with `BulkheadRejected("full")`; one whose wait times out with
 * `BulkheadRejected("queue-timeout")`. The wait also ends at the call's `Deadline` when that is
 * sooner.
 *
 * A bulkhead is a {@link Strategy.Strategy}: a pipeline walks it with the other admission
 * strategies, and {@link protect} runs it on its own. A released slot is handed directly to the
 * head waiter, so a newcomer never overtakes the queue; a queued call that is interrupted leaves
 * the queue, and a slot is released when its call succeeds, fails or is interrupted.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Predicate from "effect/Predicate"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { Classifier } from "./Classifier.js"
import { BulkheadRejected } from "./Errors.js"
import * as core from "./internal/bulkhead/core.js"
import { NonNegativeDuration } from "./internal/schema.js"
import * as binding from "./internal/strategy/binding.js"
import type * as Strategy from "./Strategy.js"

/**
 * Defaults: `maxConcurrent` 25 and `maxQueue` 0 (resilience4j's `maxConcurrentCalls` and its
 * no-wait default; Polly's `QueueLimit` is also 0), `queueTimeout` 1 second (used once a queue is
 * configured; `Infinity` waits without limit).
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(Bulkhead.Config)({ name: "db", maxConcurrent: 10, maxQueue: 50 })
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  maxConcurrent: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 25 }),
  maxQueue: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
  queueTimeout: Schema.optionalWith(NonNegativeDuration, { default: () => Duration.seconds(1) })
})

/**
 * A decoded configuration.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * const describe = (config: Bulkhead.Config) => `${config.name}: ${config.maxConcurrent} + ${config.maxQueue}`
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layer` accept (every field optional; `queueTimeout` as a `DurationInput`).
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * const config: Bulkhead.ConfigInput = { maxConcurrent: 8, maxQueue: 32, queueTimeout: "500 millis" }
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * Options of one protected call.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * const interactive: Bulkhead.PermitOptions = { priority: 10 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface PermitOptions {
  /** Higher waits less; FIFO among equals. Default 0. */
  readonly priority?: number | undefined
}

/**
 * A bulkhead: an admission strategy (component `"bulkhead"`) whose refusals are
 * `BulkheadRejected`, with read-only views of its state.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * const load = (bulkhead: Bulkhead.Bulkhead) => `${bulkhead.active()}/${bulkhead.maxConcurrent}, ${bulkhead.queued()} queued`
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Bulkhead extends Strategy.Strategy<BulkheadRejected> {
  readonly [TypeId]: TypeId
  readonly maxConcurrent: number
  readonly maxQueue: number
  /** Slots in use. */
  readonly active: () => number
  /** Calls waiting. */
  readonly queued: () => number
  /** The same bulkhead, for calls that queue at `priority` (the bulkhead itself queues at 0). */
  readonly withPriority: (priority: number) => Strategy.Strategy<BulkheadRejected>
}

/**
 * Marks a bulkhead.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * const key: symbol = Bulkhead.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export const TypeId: unique symbol = Symbol.for("@effect-resilience/core/Bulkhead")

/**
 * The type of {@link TypeId}.
 *
 * @example
 * ```ts
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * type Key = Bulkhead.TypeId
 * ```
 *
 * @since 0.2.0
 * @category symbols
 */
export type TypeId = typeof TypeId

/**
 * Whether a value (a strategy of a pipeline, say) is a bulkhead.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import type { Strategy } from "@effect-resilience/core"
 *
 * const find = (strategies: ReadonlyArray<Strategy.Strategy<unknown>>) => strategies.find(Bulkhead.isBulkhead)
 * ```
 *
 * @since 0.2.0
 * @category getters
 */
export const isBulkhead = (u: unknown): u is Bulkhead => Predicate.hasProperty(u, TypeId)

/**
 * The bulkhead in context.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const busy = Effect.map(Bulkhead.Bulkhead, (bulkhead) => bulkhead.active())
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Bulkhead: Context.Tag<Bulkhead, Bulkhead> = Context.GenericTag<Bulkhead>(
  "@effect-resilience/core/Bulkhead"
)

/**
 * Creates a bulkhead. A bad config fails with the `ParseError` naming the field. Closing the scope
 * refuses the calls still queued (`BulkheadRejected("full")`).
 *
 * @example
 * ```ts
 * import { Bulkhead, Classifier } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* Bulkhead.make({ name: "db", maxConcurrent: 4, maxQueue: 16, queueTimeout: "250 millis" })
 *   return yield* Effect.succeed("row").pipe(Bulkhead.protect(db, { priority: 1 }))
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (config: ConfigInput = {}): Effect.Effect<Bulkhead, ParseResult.ParseError, Scope.Scope> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config), (decoded) =>
    Effect.acquireRelease(
      Effect.sync(() => fromConfig(decoded)),
      (bulkhead) => Effect.sync(bulkhead.close)
    )
  )

const fromConfig = (config: Config): Bulkhead & { readonly close: () => void } => {
  const name = config.name
  const state = core.make({
    maxConcurrent: config.maxConcurrent,
    maxQueue: config.maxQueue,
    queueTimeoutMillis: Duration.toMillis(config.queueTimeout)
  })
  const full = new BulkheadRejected({ bulkhead: name, reason: "full" })
  const timedOut = new BulkheadRejected({ bulkhead: name, reason: "queue-timeout" })
  const reject = (rejected: Strategy.Rejected): BulkheadRejected =>
    rejected.reason === core.queueTimeout.reason ? timedOut : full
  const atPriority = (priority: number): Strategy.Strategy<BulkheadRejected> => ({
    component: "bulkhead",
    name,
    admit: () => state.admit(priority),
    reject
  })
  const byDefault = atPriority(0)
  return {
    ...byDefault,
    [TypeId]: TypeId,
    maxConcurrent: config.maxConcurrent,
    maxQueue: config.maxQueue,
    active: state.active,
    queued: state.queued,
    withPriority: (priority) => (priority === 0 ? byDefault : atPriority(priority)),
    close: state.close
  }
}

/**
 * Provides one bulkhead to everything under the Layer.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * const DbBulkhead = Bulkhead.layer({ name: "db", maxConcurrent: 10, maxQueue: 100, queueTimeout: "250 millis" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<Bulkhead, ParseResult.ParseError> =>
  Layer.scoped(Bulkhead, make(config))

/**
 * Runs an effect holding a slot of `bulkhead` (the generic `Strategy.protect`, at a priority).
 * Data-first or data-last.
 *
 * @example
 * ```ts
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const bulkhead = yield* Bulkhead.Bulkhead
 *   const urgent = yield* Effect.succeed(1).pipe(Bulkhead.protect(bulkhead, { priority: 10 }))
 *   const normal = yield* Bulkhead.protect(Effect.succeed(2), bulkhead)
 *   return urgent + normal
 * })
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const protect: {
  (
    bulkhead: Bulkhead,
    options?: PermitOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R | Classifier>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    bulkhead: Bulkhead,
    options?: PermitOptions
  ): Effect.Effect<A, E | BulkheadRejected, R | Classifier>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    bulkhead: Bulkhead,
    options?: PermitOptions
  ): Effect.Effect<A, E | BulkheadRejected, R | Classifier> =>
    binding.protect(bulkhead.withPriority(options?.priority ?? 0))(self)
)
