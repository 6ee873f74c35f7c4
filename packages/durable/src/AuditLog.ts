/**
 * The audit trail of operator actions: who (the operator or the name of the token), what (the
 * action and its target), when, and the state before and after. The ops server and the CLI write
 * one entry for every change they make; both read them back, newest first.
 *
 * Stores implement {@link AuditLogStore}; this module has the in-memory one
 * ({@link layerStoreMemory}); `@effect-resilience/sql` has SQLite and PostgreSQL (`SqlAuditLog`),
 * in the same database as the dead letters.
 *
 * @since 0.2.0
 */
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Random from "effect/Random"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"

/**
 * One audit entry. `before` and `after` are JSON data (a breaker snapshot, the state of a dead
 * letter); they are absent where there is nothing to show.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Schema } from "effect"
 *
 * const toJson = Schema.encodeSync(AuditLog.Entry)
 * ```
 *
 * @since 0.2.0
 * @category schemas
 */
export const Entry = Schema.Struct({
  id: Schema.String,
  atMillis: Schema.Number,
  actor: Schema.String,
  action: Schema.String,
  target: Schema.String,
  before: Schema.optional(Schema.Unknown),
  after: Schema.optional(Schema.Unknown)
})

/**
 * @since 0.2.0
 * @category models
 */
export interface Entry extends Schema.Schema.Type<typeof Entry> {}

/**
 * What a caller records: the log adds the id and the time.
 *
 * @example
 * ```ts
 * import type { AuditLog } from "@effect-resilience/durable"
 *
 * const input: AuditLog.EntryInput = { actor: "alice", action: "breaker.force-open", target: "payments" }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface EntryInput {
  readonly actor: string
  readonly action: string
  readonly target: string
  readonly before?: unknown
  readonly after?: unknown
}

/**
 * Which entries to read. Every field narrows: `actor`, `action` and `target` are exact matches,
 * `sinceMillis` keeps entries at or after that time.
 *
 * @example
 * ```ts
 * import type { AuditLog } from "@effect-resilience/durable"
 *
 * const alicesDiscards: AuditLog.Filter = { actor: "alice", action: "dead-letter.discard" }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Filter {
  readonly actor?: string | undefined
  readonly action?: string | undefined
  readonly target?: string | undefined
  readonly sinceMillis?: number | undefined
}

/**
 * What a store is asked for: a filter and a page.
 *
 * @example
 * ```ts
 * import type { AuditLog } from "@effect-resilience/durable"
 *
 * const query: AuditLog.Query = { actor: "alice", limit: 20, offset: 40 }
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Query extends Filter {
  readonly limit: number
  readonly offset: number
}

/**
 * A page of the trail: entries newest first, and how many match the filter in all.
 *
 * @example
 * ```ts
 * import type { AuditLog } from "@effect-resilience/durable"
 *
 * const actors = (page: AuditLog.Page) => page.entries.map((entry) => entry.actor)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Page {
  readonly entries: ReadonlyArray<Entry>
  readonly total: number
}

/**
 * The audit store could not be read or written. The message is fit to show: no host or credential;
 * `cause` keeps the driver's error for logs.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 *
 * const error = new AuditLog.AuditLogError({ message: "the audit store is unavailable" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class AuditLogError extends Schema.TaggedError<AuditLogError>()("AuditLogError", {
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * Where audit entries are kept. `list` returns the entries matching the query's filter, newest
 * first (by time, then the later of two entries appended in the same millisecond first), and how
 * many match in all.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const total = Effect.flatMap(AuditLog.AuditLogStore, (store) =>
 *   Effect.map(store.list({ limit: 1, offset: 0 }), (page) => page.total)
 * )
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export class AuditLogStore extends Context.Tag("@effect-resilience/durable/AuditLogStore")<
  AuditLogStore,
  {
    readonly append: (entry: Entry) => Effect.Effect<void, AuditLogError>
    readonly list: (query: Query) => Effect.Effect<Page, AuditLogError>
  }
>() {}

/**
 * Whether an entry passes a filter (what every store applies).
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 *
 * const entry = { id: "1", atMillis: 5, actor: "alice", action: "breaker.reset", target: "payments" }
 * AuditLog.matches({ actor: "alice", sinceMillis: 5 }, entry) // true
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const matches = (filter: Filter, entry: Entry): boolean =>
  (filter.actor === undefined || entry.actor === filter.actor) &&
  (filter.action === undefined || entry.action === filter.action) &&
  (filter.target === undefined || entry.target === filter.target) &&
  (filter.sinceMillis === undefined || entry.atMillis >= filter.sinceMillis)

/**
 * Makes an in-memory store (for tests and a single process: nothing survives the process).
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(AuditLog.makeStoreMemory, (store) => store.list({ limit: 10, offset: 0 }))
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeStoreMemory: Effect.Effect<AuditLogStore["Type"]> = Effect.map(
  Ref.make<ReadonlyArray<Entry>>([]),
  (ref) => ({
    append: (entry: Entry) => Ref.update(ref, (entries) => [...entries, entry]),
    list: (query: Query) =>
      Effect.map(Ref.get(ref), (entries) => {
        // appended order, reversed, then stably by time: newest first, later appends first
        const all = entries
          .filter((entry) => matches(query, entry))
          .reverse()
          .sort((a, b) => b.atMillis - a.atMillis)
        return { entries: all.slice(query.offset, query.offset + query.limit), total: all.length }
      })
  })
)

/**
 * An in-memory store (a fresh, empty one each time the Layer is built): for tests and a single
 * process; nothing survives the process.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Layer } from "effect"
 *
 * const Audit = AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<AuditLogStore> = Layer.effect(AuditLogStore, makeStoreMemory)

/**
 * The audit log.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const recordAndRead = Effect.gen(function* () {
 *   const audit = yield* AuditLog.AuditLog
 *   yield* audit.record({ actor: "alice", action: "breaker.reset", target: "payments" })
 *   return yield* audit.list({ limit: 10, actor: "alice" })
 * })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface AuditLog {
  /** Writes an entry (with a new id and the current time of Effect's `Clock`) and returns it. */
  readonly record: (input: EntryInput) => Effect.Effect<Entry, AuditLogError>
  /** Entries matching the filter, newest first; `limit` defaults to 50, `offset` to 0. */
  readonly list: (
    query?: Filter & {
      readonly limit?: number | undefined
      readonly offset?: number | undefined
    }
  ) => Effect.Effect<Page, AuditLogError>
}

/**
 * The audit log service tag.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Effect, Layer } from "effect"
 *
 * const latest = Effect.flatMap(AuditLog.AuditLog, (audit) => audit.list({ limit: 5 })).pipe(
 *   Effect.provide(AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory)))
 * )
 * ```
 *
 * @since 0.2.0
 * @category services
 */
export const AuditLog: Context.Tag<AuditLog, AuditLog> = Context.GenericTag<AuditLog>(
  "@effect-resilience/durable/AuditLog"
)

/**
 * Builds the audit log on the {@link AuditLogStore} in context.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(AuditLog.make, (audit) =>
 *   audit.record({ actor: "alice", action: "dead-letter.discard", target: "dl-1" })
 * ).pipe(Effect.provide(AuditLog.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make: Effect.Effect<AuditLog, never, AuditLogStore> = Effect.map(AuditLogStore, (store) => {
  // this service's sequence, so ids made in one millisecond differ; owned by the service made here
  let sequence = 0
  return {
    record: (input) =>
      Effect.flatMap(
        Effect.all([Effect.clockWith((clock) => clock.currentTimeMillis), Random.nextInt]),
        ([atMillis, salt]) => {
          sequence += 1
          const entry: Entry = {
            id: `${atMillis.toString(36)}-${sequence.toString(36)}-${(salt >>> 0).toString(36)}`,
            atMillis,
            actor: input.actor,
            action: input.action,
            target: input.target,
            ...(input.before === undefined ? {} : { before: input.before }),
            ...(input.after === undefined ? {} : { after: input.after })
          }
          return Effect.as(store.append(entry), entry)
        }
      ),
    list: (query) =>
      store.list({
        actor: query?.actor,
        action: query?.action,
        target: query?.target,
        sinceMillis: query?.sinceMillis,
        limit: query?.limit ?? 50,
        offset: query?.offset ?? 0
      })
  }
})

/**
 * The audit log as a Layer, on the {@link AuditLogStore} in context.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { Layer } from "effect"
 *
 * const Audit = AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<AuditLog, never, AuditLogStore> = Layer.effect(AuditLog, make)
