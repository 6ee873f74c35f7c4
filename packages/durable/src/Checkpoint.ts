/**
 * A `CheckpointStore` remembers, per batch id, which item keys reached a final outcome (succeeded,
 * dead-lettered or compensated), in the order they did. A batch restarted after a crash loads its
 * checkpoint and skips those items. A crash may lose the last entries not yet written: the batch
 * then redoes those items, which their idempotency keys make safe (see the repository's
 * docs/ARCHITECTURE.md, "Durable recovery").
 *
 * The in-memory store here is for tests and single-process runs that need no restart;
 * `@effect-resilience/sql` provides SQLite and PostgreSQL stores.
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as internal from "./internal/checkpoint/memory.js"

/**
 * The final outcome recorded for an item.
 *
 * - `succeeded`: the item's effect completed.
 * - `dead-lettered`: the item failed for good and sits in the dead letter queue.
 * - `compensated`: the item succeeded, then an all-or-nothing batch rolled it back. Run the batch
 *   again under a new batch id to redo it (its idempotency key is spent).
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * const o: Checkpoint.Outcome = "dead-lettered"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Outcome = Schema.Literal("succeeded", "dead-lettered", "compensated")

/**
 * @since 0.1.0
 * @category models
 */
export type Outcome = typeof Outcome.Type

/**
 * One checkpoint entry: an item key and its outcome.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * const entry: Checkpoint.Entry = { key: "order-1", outcome: "succeeded" }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Entry = Schema.Struct({
  key: Schema.String,
  outcome: Outcome
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Entry extends Schema.Schema.Type<typeof Entry> {}

/**
 * The checkpoint store could not be prepared, read or written. `message` names the operation,
 * never the store's address or credentials; `cause` keeps the driver's error for logs.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * const e = new Checkpoint.CheckpointError({ operation: "record", message: "The checkpoint store is unavailable" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CheckpointError extends Schema.TaggedError<CheckpointError>()("CheckpointError", {
  operation: Schema.Literal("connect", "migrate", "load", "record", "clear"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * The store.
 *
 * - `load(batchId)`: the entries of a batch, in the order they were first recorded.
 * - `record(batchId, entries)`: adds entries; an entry for a key already present replaces its
 *   outcome and keeps its position (so `compensated` overrides `succeeded`).
 * - `clear(batchId)`: forgets a batch.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* Checkpoint.CheckpointStore
 *   yield* store.record("batch-1", [{ key: "a", outcome: "succeeded" }])
 *   return yield* store.load("batch-1") // [{ key: "a", outcome: "succeeded" }]
 * }).pipe(Effect.provide(Checkpoint.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class CheckpointStore extends Context.Tag("@effect-resilience/durable/CheckpointStore")<
  CheckpointStore,
  {
    readonly load: (batchId: string) => Effect.Effect<ReadonlyArray<Entry>, CheckpointError>
    readonly record: (batchId: string, entries: ReadonlyArray<Entry>) => Effect.Effect<void, CheckpointError>
    readonly clear: (batchId: string) => Effect.Effect<void, CheckpointError>
  }
>() {}

/**
 * Makes an in-memory store (state lives in a `Ref` owned by the returned service).
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(Checkpoint.makeStoreMemory, (store) => store.load("batch-1"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeStoreMemory: Effect.Effect<CheckpointStore["Type"]> = internal.makeMemory

/**
 * An in-memory store as a Layer (a fresh, empty store each time the Layer is built).
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(Checkpoint.CheckpointStore, (store) => store.load("batch-1")).pipe(
 *   Effect.provide(Checkpoint.layerStoreMemory)
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<CheckpointStore> = Layer.effect(CheckpointStore, makeStoreMemory)
