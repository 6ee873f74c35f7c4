/**
 * The audit trail of operator actions: who (the name of the token), what (the action and its
 * target), when, and the state before and after. The ops server writes one entry for every change
 * it makes; `GET /api/audit` reads them back, newest first.
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
 * import { AuditLog } from "@effect-resilience/ops"
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
 * import type { AuditLog } from "@effect-resilience/ops"
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
 * A page of the trail: entries newest first, and how many there are in all.
 *
 * @example
 * ```ts
 * import type { AuditLog } from "@effect-resilience/ops"
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
 * The audit store could not be read or written. The message is fit to show: no host or credential.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/ops"
 *
 * const error = new AuditLog.AuditLogError({ message: "the audit store is unavailable" })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class AuditLogError extends Schema.TaggedError<AuditLogError>()("AuditLogError", {
  message: Schema.String
}) {}

/**
 * Where audit entries are kept. `list` returns entries newest first.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/ops"
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
export class AuditLogStore extends Context.Tag("@effect-resilience/ops/AuditLogStore")<
  AuditLogStore,
  {
    readonly append: (entry: Entry) => Effect.Effect<void, AuditLogError>
    readonly list: (page: { readonly limit: number; readonly offset: number }) => Effect.Effect<Page, AuditLogError>
  }
>() {}

/**
 * An in-memory store (a fresh, empty one each time the Layer is built): for tests and a single
 * process; nothing survives the process.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/ops"
 * import { Layer } from "effect"
 *
 * const Audit = AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<AuditLogStore> = Layer.effect(
  AuditLogStore,
  Effect.map(Ref.make<ReadonlyArray<Entry>>([]), (ref) => ({
    append: (entry: Entry) => Ref.update(ref, (entries) => [...entries, entry]),
    list: (page: { readonly limit: number; readonly offset: number }) =>
      Effect.map(Ref.get(ref), (entries) => ({
        entries: entries
          .slice()
          .reverse()
          .slice(page.offset, page.offset + page.limit),
        total: entries.length
      }))
  }))
)

/**
 * The audit log.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/ops"
 * import { Effect } from "effect"
 *
 * const recordAndRead = Effect.gen(function* () {
 *   const audit = yield* AuditLog.AuditLog
 *   yield* audit.record({ actor: "alice", action: "breaker.reset", target: "payments" })
 *   return yield* audit.list({ limit: 10 })
 * })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface AuditLog {
  /** Writes an entry (with a new id and the current time of Effect's `Clock`) and returns it. */
  readonly record: (input: EntryInput) => Effect.Effect<Entry, AuditLogError>
  /** Entries newest first; `limit` defaults to 50, `offset` to 0. */
  readonly list: (page?: {
    readonly limit?: number | undefined
    readonly offset?: number | undefined
  }) => Effect.Effect<Page, AuditLogError>
}

/**
 * The audit log service tag.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/ops"
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
export const AuditLog: Context.Tag<AuditLog, AuditLog> = Context.GenericTag<AuditLog>("@effect-resilience/ops/AuditLog")

/**
 * Builds the audit log on the {@link AuditLogStore} in context.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/ops"
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
    list: (page) => store.list({ limit: page?.limit ?? 50, offset: page?.offset ?? 0 })
  }
})

/**
 * The audit log as a Layer, on the {@link AuditLogStore} in context.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/ops"
 * import { Layer } from "effect"
 *
 * const Audit = AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layer: Layer.Layer<AuditLog, never, AuditLogStore> = Layer.effect(AuditLog, make)
