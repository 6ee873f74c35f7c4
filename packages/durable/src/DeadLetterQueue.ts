/**
 * The dead letter queue: where items that failed for good are kept, with their payload (encoded with
 * the item's Schema), the failure (tag, classification, message, attempt history), the queue name,
 * timestamps, a status and operator notes. Operators list, inspect, replay, discard and purge them.
 *
 * Replays claim entries atomically (pending -> replaying), so two processes sharing a store never
 * handle one entry twice; a claim whose process crashed is returned to pending after a lease (see
 * {@link Config} and `recoverStale`).
 *
 * Stores implement {@link DeadLetterQueueStore}; this module has the in-memory one
 * ({@link layerStoreMemory}); `@effect-resilience/sql` has SQLite and PostgreSQL.
 *
 * @since 0.1.0
 */
import { type Category, Classification } from "@effect-resilience/core/Classification"
import type { Classifier } from "@effect-resilience/core/Classifier"
import { AttemptRecord } from "@effect-resilience/core/Errors"
import * as Context from "effect/Context"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as errors from "./internal/deadLetter/errors.js"
import * as memory from "./internal/deadLetter/memory.js"
import * as internal from "./internal/deadLetter/service.js"
import * as DurationInput from "@effect-resilience/core/DurationInput"

/**
 * Where an entry is in its life: `pending` (waiting for an operator or a replay), `replaying`
 * (claimed by a replay), `resolved` (a replay succeeded) or `discarded` (an operator gave up on it).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Schema } from "effect"
 *
 * const isStatus = Schema.is(DeadLetterQueue.Status)
 * isStatus("pending") // true
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Status: typeof errors.Status = errors.Status

/**
 * @since 0.1.0
 * @category models
 */
export type Status = typeof Status.Type

/**
 * Every status, in a stable order.
 *
 * @since 0.1.0
 * @category utils
 */
export const statuses: ReadonlyArray<Status> = Status.literals

/**
 * Categories whose failures a person must look at: they form the manual review queue.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 *
 * DeadLetterQueue.manualReviewCategories.includes("validation") // true
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const manualReviewCategories: ReadonlyArray<Category> = errors.manualReviewCategories

/**
 * The stored failure: the tag and a user-safe message of the last failure, its classification and
 * the attempt history (oldest first; replays append to it).
 *
 * @since 0.1.0
 * @category schemas
 */
export const Failure = Schema.Struct({
  tag: Schema.String,
  message: Schema.String,
  classification: Classification,
  history: Schema.Array(AttemptRecord)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Failure extends Schema.Schema.Type<typeof Failure> {}

/**
 * An operator note or an audit record: who did what, when.
 *
 * @since 0.1.0
 * @category schemas
 */
export const Note = Schema.Struct({
  atMillis: Schema.Number,
  operator: Schema.optional(Schema.String),
  action: Schema.String,
  text: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Note extends Schema.Schema.Type<typeof Note> {}

/**
 * One dead letter. `payload` is the item encoded with its Schema (JSON-compatible); `version`
 * grows with every change (stores use it for compare-and-set).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Schema } from "effect"
 *
 * // entries are plain data: print them, or encode them to JSON
 * const toJson = Schema.encodeSync(DeadLetterQueue.Entry)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Entry = Schema.Struct({
  id: Schema.String,
  queue: Schema.String,
  idempotencyKey: Schema.String,
  payload: Schema.Unknown,
  failure: Failure,
  status: Status,
  createdAtMillis: Schema.Number,
  updatedAtMillis: Schema.Number,
  claimedAtMillis: Schema.optional(Schema.Number),
  replayRun: Schema.optional(Schema.String),
  replays: Schema.Int,
  version: Schema.Int,
  notes: Schema.Array(Note)
})

/**
 * @since 0.1.0
 * @category models
 */
export interface Entry extends Schema.Schema.Type<typeof Entry> {}

/**
 * What `add` needs. `idempotencyKey` defaults to the entry's id.
 *
 * @example
 * ```ts
 * import { Classification } from "@effect-resilience/core"
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const classification = Classification.make({ category: "validation", code: "http.422", message: "Rejected" })
 * const input: DeadLetterQueue.EntryInput = {
 *   queue: "orders",
 *   payload: { id: "o-1" }, // already encoded: `deadLetter` encodes it with a Schema for you
 *   failure: DeadLetterQueue.failureOf(new Error("422"), classification, []),
 *   idempotencyKey: "order:o-1"
 * }
 * const added = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.add(input))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EntryInput {
  readonly queue: string
  readonly payload: unknown
  readonly failure: Failure
  readonly idempotencyKey?: string | undefined
  readonly note?: string | undefined
}

/**
 * Which entries to list or replay. Every field narrows; an array means "any of". The time range is
 * on the creation time, `[fromMillis, toMillis)`.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 *
 * const failedToday: DeadLetterQueue.Filter = {
 *   queue: "orders",
 *   status: "pending",
 *   category: ["network", "timeout"],
 *   fromMillis: Date.parse("2024-06-01T00:00:00Z")
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Filter {
  readonly ids?: ReadonlyArray<string> | undefined
  readonly queue?: string | undefined
  readonly category?: Category | ReadonlyArray<Category> | undefined
  readonly status?: Status | ReadonlyArray<Status> | undefined
  readonly fromMillis?: number | undefined
  readonly toMillis?: number | undefined
}

/**
 * A page: entries are ordered oldest first (then by id).
 *
 * @since 0.1.0
 * @category models
 */
export interface Page {
  readonly limit: number
  readonly offset: number
}

/**
 * One page of entries and the number of entries matching the filter.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * // the second page of 50 pending entries
 * const page = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
 *   dlq.list({ status: "pending" }, { limit: 50, offset: 50 })
 * )
 * const summary = Effect.map(page, (r) => `${r.entries.length} of ${r.total}`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ListResult {
  readonly entries: ReadonlyArray<Entry>
  readonly total: number
}

/**
 * Counts by status, queue and category (a missing key is zero, every status is present).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const pendingOrders = Effect.map(
 *   Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.stats),
 *   (stats) => stats.byQueue["orders"]?.pending ?? 0
 * )
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Stats {
  readonly total: number
  readonly byStatus: Readonly<Record<Status, number>>
  readonly byQueue: Readonly<Record<string, Readonly<Record<Status, number>>>>
  readonly byCategory: Readonly<Record<string, number>>
  /** Pending entries whose category needs a person (see {@link manualReviewCategories}). */
  readonly manualReview: number
}

/**
 * One row of grouped counts, what a store returns for {@link Stats}.
 *
 * @since 0.1.0
 * @category models
 */
export interface CountRow {
  readonly queue: string
  readonly category: string
  readonly status: Status
  readonly count: number
}

/**
 * What one replay did: the ids resolved, those whose handler failed again (back to pending with the
 * attempt appended), those whose payload no longer decodes (left pending, with the problem's path),
 * and those that were asked for by id but not pending.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const summary = (report: DeadLetterQueue.ReplayReport) =>
 *   `${report.resolved.length} resolved, ${report.failed.length} failed again, ${report.invalid.length} invalid`
 * const replayOrders = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
 *   dlq.replay({ queue: "orders" }, () => Effect.void)
 * ).pipe(Effect.map(summary))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplayReport {
  readonly resolved: ReadonlyArray<string>
  readonly failed: ReadonlyArray<{ readonly id: string; readonly classification: Classification }>
  readonly invalid: ReadonlyArray<{ readonly id: string; readonly issues: ReadonlyArray<Issue> }>
  readonly skipped: ReadonlyArray<{ readonly id: string; readonly status: Status }>
}

/**
 * One problem found while decoding a payload: the path inside the payload and what is wrong.
 *
 * @since 0.1.0
 * @category models
 */
export interface Issue {
  readonly path: ReadonlyArray<PropertyKey>
  readonly message: string
}

/**
 * The store failed: unreachable, corrupt, not ours. `message` is fit for an operator (no host,
 * credential, payload or stack trace); `cause` keeps the original for logs.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const stats = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.stats).pipe(
 *   Effect.catchTag("DeadLetterStoreError", (e) => Effect.logError(`${e.reason}: ${e.message}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const DeadLetterStoreError: typeof errors.DeadLetterStoreError = errors.DeadLetterStoreError

/**
 * @since 0.1.0
 * @category errors
 */
export type DeadLetterStoreError = errors.DeadLetterStoreError

/**
 * No entry has this id.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const note = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
 *   dlq.annotate("dl_123", "alice", "customer called")
 * ).pipe(Effect.catchTag("EntryNotFound", (e) => Effect.logWarning(`no dead letter ${e.id}`)))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const EntryNotFound: typeof errors.EntryNotFound = errors.EntryNotFound

/**
 * @since 0.1.0
 * @category errors
 */
export type EntryNotFound = errors.EntryNotFound

/**
 * The entry is not in a status that allows the operation (only pending entries can be discarded).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const discard = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
 *   dlq.discard("dl_123", "alice", "duplicate order")
 * ).pipe(Effect.catchTag("InvalidStatus", (e) => Effect.logWarning(`${e.id} is ${e.status}, not pending`)))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidStatus: typeof errors.InvalidStatus = errors.InvalidStatus

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidStatus = errors.InvalidStatus

/**
 * A payload no longer decodes with the item's Schema. `issues` carry the paths; `message` is the
 * tree of problems (paths and expectations, no values).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.String })
 * const report = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
 *   dlq.replay("dl_...", DeadLetterQueue.handler(Order, () => Effect.void))
 * )
 * // report.invalid: [{ id, issues: [{ path: ["id"], message: "is missing" }] }] when it no longer decodes
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export const InvalidPayload: typeof errors.InvalidPayload = errors.InvalidPayload

/**
 * @since 0.1.0
 * @category errors
 */
export type InvalidPayload = errors.InvalidPayload

/**
 * A replay handler: receives the entry (payload still encoded) and succeeds when the item was
 * processed. Build a typed one with {@link handler}.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * // an untyped handler: sees the encoded payload and the entry's idempotency key
 * const log: DeadLetterQueue.Handler<never, never> = (entry) =>
 *   Effect.log(`replaying ${entry.idempotencyKey}`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<E, R> = (entry: Entry) => Effect.Effect<unknown, E, R>

/**
 * Options of a replay: `operator` is recorded in the notes; `limit` caps the entries handled;
 * `chunk` is how many entries one claim takes (default 256). The outcomes of a claim are written
 * together once its entries were handled: a replay whose process dies part-way leaves that claim's
 * entries `replaying` until the lease returns them to pending, and the next replay handles them
 * again (handlers must be idempotent, as for any delivery that may repeat).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 *
 * // at most 100 entries, 10 per claim, recorded as alice's
 * const options: DeadLetterQueue.ReplayOptions = { operator: "alice", limit: 100, chunk: 10 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ReplayOptions {
  readonly operator?: string | undefined
  readonly limit?: number | undefined
  readonly chunk?: number | undefined
}

/**
 * The storage a dead letter queue runs on. Stores are dumb: the state machine (claims, notes,
 * history, leases) lives in {@link make}, and every change goes through the compare-and-set
 * `update`, so one implementation of the rules serves memory, SQLite and PostgreSQL. New entries
 * arrive through `insertAll` (one write for many, group commit included); `insert` is one entry.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect, Layer } from "effect"
 *
 * // a store that logs its writes, around the in-memory one
 * const LoggingStore = Layer.effect(
 *   DeadLetterQueue.DeadLetterQueueStore,
 *   Effect.map(DeadLetterQueue.makeStoreMemory, (store) => ({
 *     ...store,
 *     insertAll: (entries: ReadonlyArray<DeadLetterQueue.Entry>) =>
 *       Effect.zipRight(Effect.log(`${entries.length} dead letters`), store.insertAll(entries))
 *   }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class DeadLetterQueueStore extends Context.Tag("@effect-resilience/durable/DeadLetterQueueStore")<
  DeadLetterQueueStore,
  {
    readonly insert: (entry: Entry) => Effect.Effect<void, DeadLetterStoreError>
    /**
     * Inserts every entry, all or nothing: when it fails, none of them is stored. An empty list
     * does nothing. The ids are new and distinct (made by {@link make}).
     */
    readonly insertAll: (entries: ReadonlyArray<Entry>) => Effect.Effect<void, DeadLetterStoreError>
    readonly get: (id: string) => Effect.Effect<Option.Option<Entry>, DeadLetterStoreError>
    readonly list: (filter: Filter, page: Page) => Effect.Effect<ListResult, DeadLetterStoreError>
    /**
     * Atomically moves up to `limit` pending entries matching `filter` whose `replayRun` differs from
     * `run` to `replaying` (setting `replayRun`, `claimedAtMillis`, `updatedAtMillis`, `version + 1`)
     * and returns them as updated. Concurrent claims never return the same entry.
     */
    readonly claim: (
      filter: Filter,
      run: string,
      limit: number,
      nowMillis: number
    ) => Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError>
    /** Replaces the entry when its stored version is `expectedVersion`; false when it is not. */
    readonly update: (entry: Entry, expectedVersion: number) => Effect.Effect<boolean, DeadLetterStoreError>
    /**
     * `update` of each entry, in one write (one transaction); the result says, for each in order,
     * whether it was replaced. An empty list does nothing.
     */
    readonly updateAll: (
      updates: ReadonlyArray<{ readonly entry: Entry; readonly expectedVersion: number }>
    ) => Effect.Effect<ReadonlyArray<boolean>, DeadLetterStoreError>
    /** Deletes entries with one of `statuses` last updated before `beforeMillis`; returns how many. */
    readonly purge: (
      beforeMillis: number,
      statuses: ReadonlyArray<Status>
    ) => Effect.Effect<number, DeadLetterStoreError>
    readonly counts: Effect.Effect<ReadonlyArray<CountRow>, DeadLetterStoreError>
  }
>() {}

/**
 * The configuration of a dead letter queue. `lease` is how long a replay claim may last before a
 * later replay considers its process dead and returns the entry to pending (default 5 minutes).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(DeadLetterQueue.Config)({ lease: "1 minute" })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Config = Schema.Struct({
  lease: Schema.optionalWith(DurationInput.Positive, { default: () => Duration.minutes(5) })
})

/**
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * What a caller or a config file writes: `lease` in milliseconds or as a string ("5 minutes").
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * A dead letter queue.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect, Layer } from "effect"
 *
 * // an operator's round: what needs a person, then clear out what was handled a week ago
 * const round = Effect.gen(function* () {
 *   const dlq = yield* DeadLetterQueue.DeadLetterQueue
 *   const review = yield* dlq.reviewQueue({ limit: 20 })
 *   const purged = yield* dlq.purge("7 days")
 *   return { toReview: review.total, purged }
 * }).pipe(Effect.provide(DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory))))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface DeadLetterQueue {
  readonly config: Config
  /**
   * Stores a new pending entry; returns once it is durable. Concurrent adds share one write of the
   * store (group commit): an add that arrives while a write is under way joins the next one.
   */
  readonly add: (input: EntryInput) => Effect.Effect<Entry, DeadLetterStoreError>
  /**
   * Stores new pending entries in one write of the store, all or nothing; returns them in the
   * order of `inputs` once they are durable.
   */
  readonly addAll: (inputs: ReadonlyArray<EntryInput>) => Effect.Effect<ReadonlyArray<Entry>, DeadLetterStoreError>
  readonly list: (filter?: Filter, page?: Partial<Page>) => Effect.Effect<ListResult, DeadLetterStoreError>
  readonly get: (id: string) => Effect.Effect<Option.Option<Entry>, DeadLetterStoreError>
  /**
   * Replays one entry (by id) or every pending entry matching a filter through `handler`. Success
   * resolves the entry; failure returns it to pending with the attempt appended (classified by the
   * `Classifier` the replay is given); an {@link InvalidPayload} failure leaves it pending with a note.
   */
  readonly replay: <E, R>(
    selector: string | Filter,
    handler: Handler<E, R>,
    options?: ReplayOptions
  ) => Effect.Effect<ReplayReport, DeadLetterStoreError | EntryNotFound, R | Classifier>
  /** Marks a pending entry discarded, recording the operator and the note. */
  readonly discard: (
    id: string,
    operator: string,
    note?: string
  ) => Effect.Effect<Entry, DeadLetterStoreError | EntryNotFound | InvalidStatus>
  /** Adds an operator note without changing the status. */
  readonly annotate: (
    id: string,
    operator: string,
    note: string
  ) => Effect.Effect<Entry, DeadLetterStoreError | EntryNotFound>
  /** Deletes resolved and discarded entries (or `statuses`) not updated for `olderThan`. */
  readonly purge: (
    olderThan: Duration.DurationInput,
    options?: { readonly statuses?: ReadonlyArray<Status> | undefined }
  ) => Effect.Effect<number, DeadLetterStoreError>
  readonly stats: Effect.Effect<Stats, DeadLetterStoreError>
  /** Pending entries whose category needs a person. */
  readonly reviewQueue: (page?: Partial<Page>) => Effect.Effect<ListResult, DeadLetterStoreError>
  /**
   * Returns `replaying` entries claimed longer ago than the lease (or `olderThan`) to pending, with
   * a note. `replay` does this first, so a crashed replay's entries come back on the next one.
   */
  readonly recoverStale: (olderThan?: Duration.DurationInput) => Effect.Effect<number, DeadLetterStoreError>
}

/**
 * The dead letter queue service tag.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect, Layer } from "effect"
 *
 * const pending = Effect.gen(function* () {
 *   const dlq = yield* DeadLetterQueue.DeadLetterQueue
 *   return yield* dlq.list({ status: "pending" }, { limit: 20 })
 * }).pipe(Effect.provide(DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory))))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const DeadLetterQueue: Context.Tag<DeadLetterQueue, DeadLetterQueue> = Context.GenericTag<DeadLetterQueue>(
  "@effect-resilience/durable/DeadLetterQueue"
)

/**
 * Builds a dead letter queue on the {@link DeadLetterQueueStore} in context. A bad config fails
 * with the `ParseError` (which names the path).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * // two queues on one store behave like two processes sharing a database
 * const pair = Effect.flatMap(DeadLetterQueue.makeStoreMemory, (store) =>
 *   Effect.all([DeadLetterQueue.make({ lease: "1 minute" }), DeadLetterQueue.make()]).pipe(
 *     Effect.provideService(DeadLetterQueue.DeadLetterQueueStore, store)
 *   )
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (
  config: ConfigInput = {}
): Effect.Effect<DeadLetterQueue, ParseResult.ParseError, DeadLetterQueueStore> =>
  Effect.flatMap(Schema.decodeUnknown(Config)(config), (decoded) =>
    Effect.flatMap(DeadLetterQueueStore, (store) => internal.make(store, decoded))
  )

/**
 * The dead letter queue as a Layer, on the {@link DeadLetterQueueStore} in context.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Layer } from "effect"
 *
 * const TestDlq = DeadLetterQueue.layer({ lease: 1000 }).pipe(Layer.provide(DeadLetterQueue.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer = (
  config: ConfigInput = {}
): Layer.Layer<DeadLetterQueue, ParseResult.ParseError, DeadLetterQueueStore> =>
  Layer.effect(DeadLetterQueue, make(config))

/**
 * Makes an in-memory store (for tests and single-process experiments: nothing survives the
 * process). Its state is owned by the returned store.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(DeadLetterQueue.makeStoreMemory, (store) => store.counts)
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeStoreMemory: Effect.Effect<DeadLetterQueueStore["Type"]> = memory.make

/**
 * The in-memory store as a Layer (a fresh, empty store each time the Layer is built).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Layer } from "effect"
 *
 * const InMemory = DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<DeadLetterQueueStore> = Layer.effect(DeadLetterQueueStore, makeStoreMemory)

/**
 * Builds the stored failure from the error, its classification and the attempt history. The
 * message is the error's own when it is a tagged error (its message is meant for users), else the
 * classification's.
 *
 * @example
 * ```ts
 * import { Classification } from "@effect-resilience/core"
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 *
 * const failure = DeadLetterQueue.failureOf(
 *   new Error("socket hang up"),
 *   Classification.make({ category: "network", code: "ECONNRESET", message: "Connection reset" }),
 *   []
 * )
 * // failure.message === "Connection reset"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const failureOf: (
  error: unknown,
  classification: Classification,
  history: ReadonlyArray<AttemptRecord>
) => Failure = internal.failureOf

/**
 * Dead-letters an item: encodes `payload` with `schema` and adds the entry to the queue.
 *
 * @example
 * ```ts
 * import { Classification } from "@effect-resilience/core"
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect, Layer, Schema } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.String, placedAt: Schema.DateFromString })
 *
 * const program = DeadLetterQueue.deadLetter(Order, {
 *   queue: "orders",
 *   payload: { id: "o-1", placedAt: new Date(0) },
 *   failure: new Error("upstream said 422"),
 *   classification: Classification.make({ category: "validation", code: "http.422", message: "Rejected" }),
 *   history: [],
 *   idempotencyKey: "order:o-1"
 * }).pipe(Effect.provide(DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory))))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const deadLetter = <A, I, R>(
  schema: Schema.Schema<A, I, R>,
  input: {
    readonly queue: string
    readonly payload: A
    readonly failure: unknown
    readonly classification: Classification
    readonly history: ReadonlyArray<AttemptRecord>
    readonly idempotencyKey?: string | undefined
    readonly note?: string | undefined
  }
): Effect.Effect<Entry, ParseResult.ParseError | DeadLetterStoreError, DeadLetterQueue | R> =>
  Effect.gen(function* () {
    const encoded = yield* Schema.encode(schema)(input.payload)
    const dlq = yield* DeadLetterQueue
    return yield* dlq.add({
      queue: input.queue,
      payload: encoded,
      failure: failureOf(input.failure, input.classification, input.history),
      idempotencyKey: input.idempotencyKey,
      note: input.note
    })
  })

/**
 * A typed replay handler: decodes the payload with `schema` and calls `f`. A payload that no longer
 * decodes fails with {@link InvalidPayload} (path and problem), which `replay` reports and which
 * leaves the entry pending.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * const Order = Schema.Struct({ id: Schema.String })
 * const resend = DeadLetterQueue.handler(Order, (order) => Effect.log(`re-sending ${order.id}`))
 * const replayAll = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
 *   dlq.replay({ queue: "orders" }, resend, { operator: "alice" })
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const handler: <A, I, R, B, E, R2>(
  schema: Schema.Schema<A, I, R>,
  f: (payload: A, entry: Entry) => Effect.Effect<B, E, R2>
) => Handler<E | InvalidPayload, R | R2> = internal.handler

/**
 * The problems of a ParseError as paths and messages (what {@link InvalidPayload} carries).
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { Either, Schema } from "effect"
 *
 * const result = Schema.decodeUnknownEither(Schema.Struct({ n: Schema.Number }))({ n: "1" })
 * if (Either.isLeft(result)) DeadLetterQueue.issuesOf(result.left) // [{ path: ["n"], message: ... }]
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const issuesOf: (error: ParseResult.ParseError) => ReadonlyArray<Issue> = internal.issuesOf
