/**
 * A bulkhead: at most `maxConcurrent` calls run at once; up to `maxQueue` more wait in a queue
 * ordered by priority (higher first, FIFO within a priority) for at most `queueTimeoutMillis`.
 * A call that finds the queue full fails with `BulkheadRejected("full")`; one whose wait times out
 * with `BulkheadRejected("queue-timeout")`. The wait also ends at the call's `Deadline` when that is
 * sooner. Both rejections publish a `Rejected` event.
 *
 * The fast path is synchronous (`tryAcquire` / `release`, no allocation). Only a call that must
 * queue pays for a fiber-suspending wait. A released slot is handed directly to the head waiter, so
 * a newcomer never overtakes the queue. A queued call that is interrupted leaves the queue, and a
 * slot is released when its call succeeds, fails or is interrupted.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import { dual } from "effect/Function"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type { BulkheadRejected } from "./Errors.js"
import * as internal from "./internal/bulkhead.js"

/**
 * Defaults: `maxConcurrent` 25 and `maxQueue` 0 (resilience4j's `maxConcurrentCalls` and its
 * no-wait default; Polly's `QueueLimit` is also 0), `queueTimeoutMillis` 1000 (used once a queue
 * is configured; `Infinity` waits without limit).
 *
 * @example
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeSync(Bulkhead.Config)({ name: "db", maxConcurrent: 10, maxQueue: 50 })
 *
 * @since 0.1.0
 */
export const Config = Schema.Struct({
  name: Schema.optionalWith(Schema.String, { default: () => "default" }),
  maxConcurrent: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 25 }),
  maxQueue: Schema.optionalWith(Schema.Int.pipe(Schema.nonNegative()), { default: () => 0 }),
  queueTimeoutMillis: Schema.optionalWith(Schema.Number.pipe(Schema.nonNegative()), { default: () => 1000 })
})

/** @since 0.1.0 */
export interface BulkheadConfig extends Schema.Schema.Type<typeof Config> {}

/**
 * What `make` and `layer` accept (every field optional).
 *
 * @example
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * const config: Bulkhead.ConfigInput = { maxConcurrent: 8, maxQueue: 32, queueTimeoutMillis: 500 }
 *
 * @since 0.1.0
 */
export type ConfigInput = Schema.Schema.Encoded<typeof Config>

/**
 * Options of one protected call.
 *
 * @example
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * const interactive: Bulkhead.PermitOptions = { priority: 10 }
 *
 * @since 0.1.0
 */
export interface PermitOptions {
  /** Higher waits less; FIFO among equals. Default 0. */
  readonly priority?: number | undefined
}

/**
 * A bulkhead.
 *
 * @example
 * import type { Bulkhead } from "@effect-resilience/core"
 *
 * // the synchronous core, for code that manages the slot itself
 * const tryRun = (bulkhead: Bulkhead.BulkheadService, work: () => void): boolean => {
 *   if (!bulkhead.tryAcquire()) return false
 *   try {
 *     work()
 *   } finally {
 *     bulkhead.release()
 *   }
 *   return true
 * }
 *
 * @since 0.1.0
 */
export interface BulkheadService {
  readonly name: string
  readonly maxConcurrent: number
  readonly maxQueue: number
  /**
   * Takes a slot if one is free and nobody is queued. Synchronous; pair every `true` with exactly
   * one `release()`.
   */
  readonly tryAcquire: () => boolean
  /** Gives a slot back (to the head waiter, if any). */
  readonly release: () => void
  /** Runs `self` holding a slot, waiting in the queue when all are taken. */
  readonly withPermit: <A, E, R>(
    self: Effect.Effect<A, E, R>,
    priority?: number
  ) => Effect.Effect<A, E | BulkheadRejected, R>
  /** Slots in use. */
  readonly active: () => number
  /** Calls waiting. */
  readonly queued: () => number
}

/**
 * The bulkhead in context.
 *
 * @example
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const busy = Effect.map(Bulkhead.Bulkhead, (b) => b.active())
 *
 * @since 0.1.0
 */
export class Bulkhead extends Context.Tag("@effect-resilience/core/Bulkhead")<Bulkhead, BulkheadService>() {}

/**
 * Creates a bulkhead. Closing the scope interrupts the calls still queued.
 *
 * @example
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const db = yield* Bulkhead.make({ name: "db", maxConcurrent: 4, maxQueue: 16 })
 *     return yield* Effect.succeed("row").pipe(Bulkhead.protect(db, { priority: 1 }))
 *   })
 * )
 *
 * @since 0.1.0
 */
export const make = (config: ConfigInput = {}): Effect.Effect<BulkheadService, never, Scope.Scope> =>
  Effect.flatMap(Effect.orDie(Schema.decode(Config)(config)), (decoded) =>
    Effect.acquireRelease(
      Effect.sync(() => internal.make(decoded)),
      (bulkhead) => Effect.sync(bulkhead.close)
    )
  )

/**
 * Provides one bulkhead to everything under the Layer.
 *
 * @example
 * import { Bulkhead } from "@effect-resilience/core"
 *
 * const DbBulkhead = Bulkhead.layer({ name: "db", maxConcurrent: 10, maxQueue: 100, queueTimeoutMillis: 250 })
 *
 * @since 0.1.0
 */
export const layer = (config: ConfigInput = {}): Layer.Layer<Bulkhead> => Layer.scoped(Bulkhead, make(config))

/**
 * Runs an effect holding a slot of `bulkhead`. Data-first or data-last.
 *
 * @example
 * import { Bulkhead } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const bulkhead = yield* Bulkhead.Bulkhead
 *   const urgent = yield* Effect.succeed(1).pipe(Bulkhead.protect(bulkhead, { priority: 10 }))
 *   const normal = yield* Bulkhead.protect(Effect.succeed(2), bulkhead)
 *   return urgent + normal
 * })
 *
 * @since 0.1.0
 */
export const protect: {
  (
    bulkhead: BulkheadService,
    options?: PermitOptions
  ): <A, E, R>(self: Effect.Effect<A, E, R>) => Effect.Effect<A, E | BulkheadRejected, R>
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    bulkhead: BulkheadService,
    options?: PermitOptions
  ): Effect.Effect<A, E | BulkheadRejected, R>
} = dual(
  (args) => Effect.isEffect(args[0]),
  <A, E, R>(
    self: Effect.Effect<A, E, R>,
    bulkhead: BulkheadService,
    options?: PermitOptions
  ): Effect.Effect<A, E | BulkheadRejected, R> => bulkhead.withPermit(self, options?.priority ?? 0)
)
