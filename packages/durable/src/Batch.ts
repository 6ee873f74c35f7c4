/**
 * Run a batch of items through a per-item policy with bounded concurrency, and recover from
 * partial failure:
 *
 * - items that fail for good (not retryable, or retries exhausted) go to the
 *   {@link DeadLetterQueue} with their payload, classification, message and attempt history; the
 *   others complete;
 * - a {@link Checkpoint} records every item that reached a final outcome, so a batch restarted
 *   after a crash (same `batchId`) skips them;
 * - each item runs under an {@link Idempotency} key derived from the batch id and the item key, so
 *   a restart or replay of an item that already succeeded returns its stored result without
 *   calling again, and the key (in `ctx.idempotencyKey`) lets the upstream dedupe the rare second
 *   delivery after a crash (see the contract in {@link Idempotency});
 * - in `all-or-nothing` mode the first item failure stops the batch and the `compensate` handler
 *   undoes the completed items in reverse order of completion (a saga);
 * - progress is a `Stream` of {@link Progress} values.
 *
 * Item failures never fail the batch: they become outcomes. The batch itself fails only when a
 * store fails (checkpoint, idempotency, dead letter queue) or when two items share a key; a batch
 * stopped that way can be run again under the same `batchId` and resumes where it stopped.
 *
 * The stores are written in groups: the leases of the next items in one statement (a window of
 * `concurrency` leases, doubling up to 256 while items go fast), the results of the items that
 * finish within 5 ms of each other (real time, not the `Clock`; an item waits for its own), the
 * releases of failed items and their dead letters as they queue up (an item waits for neither),
 * and checkpoint entries every 20 ms (by the `Clock`; a flush at the end). A batch on a SQLite
 * file so costs a fraction of a commit per item instead of three.
 *
 * Run one runner per `batchId` at a time when every dead letter must be unique: two runners of
 * one batch share successes safely, but both may dead-letter the same failing item. How
 * checkpoints are written, and what they cost, is in the repository's docs/ARCHITECTURE.md
 * ("Durable recovery").
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { Batch, Checkpoint, DeadLetterQueue, Idempotency } from "@effect-resilience/durable"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const InMemory = Layer.mergeAll(
 *   Checkpoint.layerStoreMemory,
 *   Idempotency.layerStoreMemory,
 *   DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
 *   Classifier.layer
 * )
 *
 * const result = Batch.run({
 *   batchId: "squares",
 *   items: [1, 2, 3],
 *   key: String,
 *   process: (n) => Effect.succeed(n * n),
 *   itemSchema: Schema.Number,
 *   resultSchema: Schema.Number
 * }).pipe(Effect.provide(InMemory))
 * ```
 *
 * @since 0.1.0
 */
import type { Classification } from "@effect-resilience/core/Classification"
import type { Classifier } from "@effect-resilience/core/Classifier"
import type * as Cause from "effect/Cause"
import type * as Duration from "effect/Duration"
import type * as Effect from "effect/Effect"
import type * as Option from "effect/Option"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import type * as Stream from "effect/Stream"
import type * as Checkpoint from "./Checkpoint.js"
import type { DeadLetterQueue, DeadLetterStoreError } from "./DeadLetterQueue.js"
import type * as Idempotency from "./Idempotency.js"
import * as key from "./internal/batch/key.js"
import * as internal from "./internal/batch/run.js"

/**
 * `best-effort`: every item runs; failures are dead-lettered. `all-or-nothing`: the first failure
 * stops the batch and completed items are compensated in reverse order.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const mode: Batch.Mode = "all-or-nothing"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Mode = "best-effort" | "all-or-nothing"

/**
 * What `process` is told about the item it runs.
 *
 * - `idempotencyKey`: stable across retries, replays and restarts (`<batchId>/<key>`): send it to
 *   the upstream (e.g. as an `Idempotency-Key` header) so it can dedupe.
 * - `attempt`: the lease attempt for this key, 1 for the first; more means an earlier run failed
 *   or crashed while holding it, so the upstream may already have seen the key.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const process = (order: { readonly id: string }, ctx: Batch.ItemContext) =>
 *   Effect.log(`POST /orders ${order.id} Idempotency-Key: ${ctx.idempotencyKey} (attempt ${ctx.attempt})`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ItemContext {
  readonly batchId: string
  readonly key: string
  readonly idempotencyKey: string
  readonly attempt: number
}

/**
 * The options of {@link run} and {@link start}.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * const options: Batch.Options<number, number, number, number, never, never, never, never, never> = {
 *   batchId: "squares",
 *   items: [1, 2, 3],
 *   key: String,
 *   process: (n) => Effect.succeed(n * n),
 *   itemSchema: Schema.Number,
 *   resultSchema: Schema.Number,
 *   concurrency: 2
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<Item, I, A, AI, E, R, R2, EC, RC> {
  /** Identifies the batch in the checkpoint store and in idempotency keys: reuse it to resume. */
  readonly batchId: string
  readonly items: Iterable<Item>
  /** A key unique within the batch and stable across runs. */
  readonly key: (item: Item) => string
  readonly process: (item: Item, ctx: ItemContext) => Effect.Effect<A, E, R>
  /** Encodes an item's payload for the dead letter queue. */
  readonly itemSchema: Schema.Schema<Item, I>
  /** Encodes an item's result for the idempotency store (`Schema.Void` when it does not matter). */
  readonly resultSchema: Schema.Schema<A, AI>
  /** At most this many items run at once. Default 1. */
  readonly concurrency?: number | undefined
  /** Default `best-effort`. */
  readonly mode?: Mode | undefined
  /** Undoes a completed item (all-or-nothing mode). Without it, all-or-nothing only stops early. */
  readonly compensate?: ((item: Item, result: A) => Effect.Effect<unknown, EC, RC>) | undefined
  /** Wraps each item's effect: the retry pipeline (`RetryPolicy.retry(policy)`) plugs in here. */
  readonly policy?: ((effect: Effect.Effect<A, E, R>) => Effect.Effect<A, unknown, R2>) | undefined
  /** The dead letter queue's queue name. Default: the batch id. */
  readonly queue?: string | undefined
  /** The idempotency lease of an item (see {@link Idempotency}). Default 30 s. */
  readonly lease?: Duration.DurationInput | undefined
  /** The most checkpoint entries written at once. Default 256. */
  readonly checkpointBatchSize?: number | undefined
  /**
   * How often, at most, an item's end publishes a new {@link Progress} (by the `Clock`); the
   * first and the final values are always published. Default 100 ms; `Duration.zero` publishes
   * one per item (a subscriber's work per value can then cost more than the item: 0.35 ms of CPU
   * per record in the demo's ingest).
   */
  readonly progressInterval?: Duration.DurationInput | undefined
}

/**
 * The item completed (`replayed`: its result came from the idempotency store, the effect did not
 * run again).
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const ok = (o: Batch.ItemOutcome<string, number>) => (o._tag === "Succeeded" ? o.result : undefined)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Succeeded<Item, A> {
  readonly _tag: "Succeeded"
  readonly key: string
  readonly item: Item
  readonly result: A
  readonly replayed: boolean
}

/**
 * The item failed for good and was added to the dead letter queue as `deadLetterId`.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const ids = (r: Batch.BatchResult<string, void>) => r.deadLettered.map((d) => d.deadLetterId)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DeadLettered<Item> {
  readonly _tag: "DeadLettered"
  readonly key: string
  readonly item: Item
  readonly classification: Classification
  readonly message: string
  readonly deadLetterId: string
}

/**
 * The item failed and was not dead-lettered: it stopped an all-or-nothing batch, or its payload
 * could not be encoded for the dead letter queue. It is not checkpointed, so a rerun tries it again.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const reasons = (r: Batch.BatchResult<string, void>) => r.failed.map((f) => `${f.key}: ${f.message}`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Failed<Item> {
  readonly _tag: "Failed"
  readonly key: string
  readonly item: Item
  readonly classification: Classification
  readonly message: string
  readonly cause: Cause.Cause<unknown>
}

/**
 * The item had reached a final outcome in an earlier run (`previous`), or already sits in the dead
 * letter queue, so it was not run.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const resumed = (r: Batch.BatchResult<string, void>) => r.skipped.length > 0
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Skipped<Item> {
  readonly _tag: "Skipped"
  readonly key: string
  readonly item: Item
  readonly previous: Checkpoint.Outcome
}

/**
 * The item had succeeded and was undone by `compensate` when its all-or-nothing batch failed.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const undone = (r: Batch.BatchResult<string, number>) => r.compensated.map((c) => c.result)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Compensated<Item, A> {
  readonly _tag: "Compensated"
  readonly key: string
  readonly item: Item
  readonly result: A
}

/**
 * The item had succeeded, its batch failed, and `compensate` failed too (the item was
 * dead-lettered to the queue `<queue>.compensation` for a person to look at, as `deadLetterId`
 * when that worked).
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const needsAPerson = (r: Batch.BatchResult<string, void>) => r.compensationFailed.length > 0
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface CompensationFailed<Item> {
  readonly _tag: "CompensationFailed"
  readonly key: string
  readonly item: Item
  readonly classification: Classification
  readonly message: string
  readonly deadLetterId: Option.Option<string>
}

/**
 * The item did not run because its all-or-nothing batch had already failed.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const notRun = (r: Batch.BatchResult<string, void>) => r.cancelled.map((c) => c.key)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Cancelled<Item> {
  readonly _tag: "Cancelled"
  readonly key: string
  readonly item: Item
}

/**
 * What happened to one item.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const describe = (o: Batch.ItemOutcome<string, number>) => `${o.key}: ${o._tag}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ItemOutcome<Item, A> =
  | Succeeded<Item, A>
  | DeadLettered<Item>
  | Failed<Item>
  | Skipped<Item>
  | Compensated<Item, A>
  | CompensationFailed<Item>
  | Cancelled<Item>

/**
 * The result of a batch. `outcomes` holds every item's outcome in input order; the arrays below
 * it group them by kind. `status` is `completed` (every item ran), `rolled-back` (all-or-nothing,
 * an item failed and the completed ones were compensated) or `stopped` (all-or-nothing without
 * `compensate`, or a compensation failed).
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const line = (r: Batch.BatchResult<string, void>) =>
 *   `${r.succeeded.length} ok, ${r.deadLettered.length} dead-lettered, ${r.skipped.length} skipped`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchResult<Item, A> {
  readonly batchId: string
  readonly mode: Mode
  readonly status: "completed" | "rolled-back" | "stopped"
  readonly outcomes: ReadonlyArray<ItemOutcome<Item, A>>
  readonly succeeded: ReadonlyArray<Succeeded<Item, A>>
  readonly failed: ReadonlyArray<Failed<Item>>
  readonly deadLettered: ReadonlyArray<DeadLettered<Item>>
  readonly skipped: ReadonlyArray<Skipped<Item>>
  readonly compensated: ReadonlyArray<Compensated<Item, A>>
  readonly compensationFailed: ReadonlyArray<CompensationFailed<Item>>
  readonly cancelled: ReadonlyArray<Cancelled<Item>>
}

/**
 * Where a batch is. `done` counts items with an outcome (skipped ones included); `failed` counts
 * items that failed (dead-lettered ones included). `rate` is items per second run by this process
 * (skipped ones excluded) since it started, and `etaMillis` the time left at that rate (none
 * before the first item completes). Time comes from the `Clock`.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * import { Option } from "effect"
 *
 * const line = (p: Batch.Progress) =>
 *   `${p.done}/${p.total} at ${p.rate.toFixed(1)}/s, ${Option.match(p.etaMillis, {
 *     onNone: () => "?",
 *     onSome: (ms) => `${Math.ceil(ms / 1000)} s`
 *   })} left`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Progress {
  readonly batchId: string
  readonly total: number
  readonly done: number
  readonly succeeded: number
  readonly failed: number
  readonly deadLettered: number
  readonly skipped: number
  readonly elapsedMillis: number
  readonly rate: number
  readonly etaMillis: Option.Option<number>
  readonly finished: boolean
}

/**
 * A running batch: its progress (at most one value per `progressInterval`, then the final
 * value, `finished: true`, after which the stream ends) and its result.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * import { Effect, Stream } from "effect"
 *
 * const watch = <A>(handle: Batch.BatchHandle<string, A>) =>
 *   Effect.zipRight(Effect.fork(Stream.runDrain(handle.progress)), handle.result)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface BatchHandle<Item, A> {
  readonly progress: Stream.Stream<Progress>
  readonly result: Effect.Effect<BatchResult<Item, A>, BatchError>
}

/**
 * Two items of one batch have the same key.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const e = new Batch.DuplicateItemKey({ batchId: "b", key: "k" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const DuplicateItemKey: typeof key.DuplicateItemKey = key.DuplicateItemKey

/**
 * @since 0.1.0
 * @category errors
 */
export type DuplicateItemKey = key.DuplicateItemKey

/**
 * Why a batch as a whole failed (item failures never fail it).
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * const retryable = (e: Batch.BatchError) => e._tag !== "DuplicateItemKey"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type BatchError =
  | Checkpoint.CheckpointError
  | Idempotency.IdempotencyError
  | DeadLetterStoreError
  | DuplicateItemKey

/**
 * The services a batch uses.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { Batch, Checkpoint, DeadLetterQueue, Idempotency } from "@effect-resilience/durable"
 * import { Layer, type ParseResult } from "effect"
 *
 * // DeadLetterQueue.layer decodes its config, hence the ParseError
 * const InMemory: Layer.Layer<Batch.Services, ParseResult.ParseError> = Layer.mergeAll(
 *   Checkpoint.layerStoreMemory,
 *   Idempotency.layerStoreMemory,
 *   DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
 *   Classifier.layer
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Services = Classifier | Checkpoint.CheckpointStore | Idempotency.IdempotencyStore | DeadLetterQueue

/**
 * Runs a batch and returns every item's outcome.
 *
 * `resultSchema` encodes each item's result for the idempotency store, so that a replay or a
 * restart of a completed item returns it without running the item again (`Schema.Void` when the
 * result does not matter).
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { Batch, Checkpoint, DeadLetterQueue, Idempotency } from "@effect-resilience/durable"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
 * declare const send: (order: typeof Order.Type, idempotencyKey: string) => Effect.Effect<string, Error>
 *
 * const program = Batch.run({
 *   batchId: "orders-2024-06-01",
 *   items: [{ id: "o-1", amount: 10 }, { id: "o-2", amount: 20 }],
 *   key: (order) => order.id,
 *   process: (order, ctx) => send(order, ctx.idempotencyKey),
 *   itemSchema: Order,
 *   resultSchema: Schema.String,
 *   concurrency: 8
 * }).pipe(
 *   Effect.provide(
 *     Layer.mergeAll(
 *       Checkpoint.layerStoreMemory,
 *       Idempotency.layerStoreMemory,
 *       DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
 *       Classifier.layer
 *     )
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const run: <Item, I, A, AI, E, R, R2 = never, EC = never, RC = never>(
  options: Options<Item, I, A, AI, E, R, R2, EC, RC>
) => Effect.Effect<BatchResult<Item, A>, BatchError, R | R2 | RC | Services> = internal.run

/**
 * Starts a batch in the current scope and returns its progress stream and its result (closing the
 * scope interrupts a batch still running; it can be resumed later under the same `batchId`).
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * import { Effect, Schema, Stream } from "effect"
 *
 * const program = Effect.scoped(
 *   Effect.gen(function* () {
 *     const handle = yield* Batch.start({
 *       batchId: "b-1",
 *       items: [1, 2, 3],
 *       key: String,
 *       process: (n) => Effect.succeed(n * 2),
 *       itemSchema: Schema.Number,
 *       resultSchema: Schema.Number
 *     })
 *     yield* Effect.fork(Stream.runForEach(handle.progress, (p) => Effect.log(`${p.done}/${p.total}`)))
 *     return yield* handle.result
 *   })
 * )
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const start: <Item, I, A, AI, E, R, R2 = never, EC = never, RC = never>(
  options: Options<Item, I, A, AI, E, R, R2, EC, RC>
) => Effect.Effect<BatchHandle<Item, A>, never, R | R2 | RC | Services | Scope.Scope> = internal.start

/**
 * The idempotency key of an item of a batch: `<batchId>/<key>`.
 *
 * @example
 * ```ts
 * import { Batch } from "@effect-resilience/durable"
 * Batch.idempotencyKey("orders-1", "o-7") // "orders-1/o-7"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const idempotencyKey: (batchId: string, key: string) => string = key.idempotencyKey
