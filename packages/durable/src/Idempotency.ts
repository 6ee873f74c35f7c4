/**
 * Idempotency keys make a side effect happen at most once per key *on our side*, across retries,
 * replays and restarts: the `IdempotencyStore` records `key -> completed` together with the
 * encoded result, so running the same key again ({@link once}) returns the stored result without
 * calling again.
 *
 * The guarantee is **at-least-once delivery + an idempotent receiver = effectively once**:
 *
 * - a key is taken with a lease (`lease`, default 30 s); while it runs, other owners wait;
 * - when the owner completes, the result is stored and every later run of the key replays it;
 * - when the owner fails, the lease is released at once and the next attempt may run;
 * - when the owner crashes, its lease expires and the next owner runs the effect *again*: send the
 *   key to the upstream (an `Idempotency-Key` header, a unique constraint, a conditional write) so
 *   that it dedupes that second delivery.
 *
 * Choose a lease longer than the effect's worst case, retries included. Leases are measured with
 * the `Clock` of the process taking them: with several hosts, their clocks must agree to well
 * within a lease. The reasoning behind this contract is in the repository's docs/ARCHITECTURE.md
 * ("Durable recovery").
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * declare const chargeCard: (orderId: string, idempotencyKey: string) => Effect.Effect<string, Error>
 *
 * // the second run replays the stored receipt instead of charging again
 * const charge = (orderId: string) =>
 *   Idempotency.once(`charge:${orderId}`, chargeCard(orderId, `charge:${orderId}`), { schema: Schema.String })
 * const twice = Effect.zip(charge("o-1"), charge("o-1")).pipe(Effect.provide(Idempotency.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 */
import * as Context from "effect/Context"
import type * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as internal from "./internal/idempotency/memory.js"
import * as Once from "./internal/idempotency/once.js"

/**
 * The state of a key.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * const s: Idempotency.Status = "completed"
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Status = Schema.Literal("in-progress", "completed")

/**
 * @since 0.1.0
 * @category models
 */
export type Status = typeof Status.Type

/**
 * What the store holds for a key. `result` is the JSON of the encoded result, present once
 * completed; `attempts` counts the leases granted for the key.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Schema } from "effect"
 *
 * const record = Schema.decodeUnknownSync(Idempotency.IdempotencyRecord)({
 *   key: "batch-1:order-7",
 *   status: "completed",
 *   owner: "a1b2",
 *   expiresAtMillis: 0,
 *   attempts: 1,
 *   result: "{\"id\":7}",
 *   updatedAtMillis: 1700000000000
 * })
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const IdempotencyRecord = Schema.Struct({
  key: Schema.String,
  status: Status,
  owner: Schema.String,
  expiresAtMillis: Schema.Number,
  attempts: Schema.Number,
  result: Schema.optional(Schema.String),
  updatedAtMillis: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export interface IdempotencyRecord extends Schema.Schema.Type<typeof IdempotencyRecord> {}

/**
 * The answer to `acquire`:
 *
 * - `Acquired`: the caller owns the key and must run the effect (`attempt` counts leases granted
 *   for the key, 1 for the first; more than 1 means an earlier owner failed or crashed).
 * - `Completed`: the key completed earlier; `result` is the stored JSON.
 * - `Busy`: another owner holds an unexpired lease until `expiresAtMillis`.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 *
 * const describe = Idempotency.Acquisition.$match({
 *   Acquired: ({ attempt }) => `run (attempt ${attempt})`,
 *   Completed: () => "replay the stored result",
 *   Busy: ({ expiresAtMillis }) => `wait until ${expiresAtMillis}`
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Acquisition = Data.TaggedEnum<{
  Acquired: { readonly attempt: number }
  Completed: { readonly result: string }
  Busy: { readonly owner: string; readonly expiresAtMillis: number }
}>

/**
 * Constructors and matchers for {@link Acquisition}.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 *
 * const busy = Idempotency.Acquisition.Busy({ owner: "worker-2", expiresAtMillis: 1_700_000_030_000 })
 * Idempotency.Acquisition.$is("Busy")(busy) // true
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const Acquisition = internal.Acquisition

/**
 * The idempotency store could not be prepared, read or written, or a stored result could not be
 * encoded or decoded with the result's Schema. `message` names the operation, never the store's
 * address, credentials or the result; `cause` keeps the driver's error for logs.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * const e = new Idempotency.IdempotencyError({ operation: "acquire", message: "The idempotency store is unavailable" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class IdempotencyError extends Schema.TaggedError<IdempotencyError>()("IdempotencyError", {
  operation: Schema.Literal(
    "connect",
    "migrate",
    "acquire",
    "complete",
    "release",
    "get",
    "remove",
    "purge",
    "encode",
    "decode"
  ),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * The store. Every operation is atomic per key.
 *
 * - `acquire(key, { owner, leaseMillis })`: takes the key when it is new, when its lease expired,
 *   or when `owner` already holds it; otherwise answers `Completed` or `Busy`.
 * - `complete(key, owner, result)`: marks the key completed with the result's JSON. A key already
 *   completed keeps its first result.
 * - `release(key, owner)`: drops an in-progress lease held by `owner` (after a failure), so the
 *   next attempt need not wait for it to expire.
 * - `acquireAll`, `completeAll`, `releaseAll`: the same for many keys of one owner in one write
 *   (what `Batch` uses: the items in flight share a statement instead of taking one each).
 * - `get(key)` / `remove(key)`: inspect or forget a key.
 * - `purge(beforeMillis)`: forgets completed keys last updated before `beforeMillis` and leases
 *   that expired before it; returns how many. A purged key that runs again calls the upstream
 *   again, so keep keys at least as long as items may be replayed or batches restarted (and as
 *   long as the upstream remembers its own keys).
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const store = yield* Idempotency.IdempotencyStore
 *   const first = yield* store.acquire("k", { owner: "me", leaseMillis: 30_000 }) // Acquired
 *   yield* store.complete("k", "me", "42")
 *   const again = yield* store.acquire("k", { owner: "you", leaseMillis: 30_000 }) // Completed { result: "42" }
 *   return [first, again]
 * }).pipe(Effect.provide(Idempotency.layerStoreMemory))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class IdempotencyStore extends Context.Tag("@effect-resilience/durable/IdempotencyStore")<
  IdempotencyStore,
  {
    readonly acquire: (
      key: string,
      options: { readonly owner: string; readonly leaseMillis: number }
    ) => Effect.Effect<Acquisition, IdempotencyError>
    readonly complete: (key: string, owner: string, result: string) => Effect.Effect<void, IdempotencyError>
    readonly release: (key: string, owner: string) => Effect.Effect<void, IdempotencyError>
    /**
     * `acquire` of every key for one owner, in one write of the store: the acquisitions in the
     * order of `keys` (a key given twice is acquired once, and both places get that acquisition).
     */
    readonly acquireAll: (
      keys: ReadonlyArray<string>,
      options: { readonly owner: string; readonly leaseMillis: number }
    ) => Effect.Effect<ReadonlyArray<Acquisition>, IdempotencyError>
    /**
     * `complete` of every key for one owner, in one write of the store. A key given twice keeps
     * its first result, as a key completed earlier does.
     */
    readonly completeAll: (
      entries: ReadonlyArray<{ readonly key: string; readonly result: string }>,
      owner: string
    ) => Effect.Effect<void, IdempotencyError>
    /** `release` of every key by one owner, in one write of the store. */
    readonly releaseAll: (keys: ReadonlyArray<string>, owner: string) => Effect.Effect<void, IdempotencyError>
    readonly get: (key: string) => Effect.Effect<Option.Option<IdempotencyRecord>, IdempotencyError>
    readonly remove: (key: string) => Effect.Effect<void, IdempotencyError>
    readonly purge: (beforeMillis: number) => Effect.Effect<number, IdempotencyError>
  }
>() {}

/**
 * Makes an in-memory store. Leases are measured with the `Clock` (so `TestClock` in tests).
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(Idempotency.makeStoreMemory, (store) => store.get("k"))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeStoreMemory: Effect.Effect<IdempotencyStore["Type"]> = internal.makeMemory

/**
 * An in-memory store as a Layer (fresh and empty each time the Layer is built).
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * const program = Idempotency.once("k", Effect.succeed(1), { schema: Schema.Number }).pipe(
 *   Effect.provide(Idempotency.layerStoreMemory)
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreMemory: Layer.Layer<IdempotencyStore> = Layer.effect(IdempotencyStore, makeStoreMemory)

/**
 * Options of {@link once}.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Schema } from "effect"
 *
 * const options: Idempotency.OnceOptions<number, number> = { schema: Schema.Number, lease: "2 minutes" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface OnceOptions<A, I> {
  /** Encodes the result for the store and decodes it on a replay. */
  readonly schema: Schema.Schema<A, I>
  /** Who takes the lease. Default: a random token per call. */
  readonly owner?: string | undefined
  /** How long a lease lasts before another owner may take the key over. Default 30 s. */
  readonly lease?: Duration.DurationInput | undefined
  /** How often a key leased by another owner is asked about again. Default 100 ms. */
  readonly pollInterval?: Duration.DurationInput | undefined
}

/**
 * Runs `effect` at most once per `key` on our side (see the module's contract). `effect` may be a
 * function of the lease attempt (1 for the first owner; more means an earlier owner failed or
 * crashed, so the upstream may already have seen the key):
 *
 * - a key completed earlier returns its stored result, decoded, with `replayed: true`, without
 *   running `effect`;
 * - a key leased by another owner is waited for, asking again every `pollInterval`, until its
 *   owner completes (replayed), fails (taken over) or its lease expires (taken over);
 * - otherwise `effect` runs; its success is stored, its failure releases the lease and is
 *   returned unchanged.
 *
 * Only `effect` and the wait for a busy key can be interrupted: an interruption while the lease is
 * taken or the result stored waits for that statement, so the key is never left leased to no one.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * const charge = (orderId: string) =>
 *   Idempotency.once(`charge:${orderId}`, Effect.succeed({ receipt: "r-1" }), {
 *     schema: Schema.Struct({ receipt: Schema.String })
 *   })
 * // run twice: the second returns { value: { receipt: "r-1" }, replayed: true }
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const once = <A, I, E, R>(
  key: string,
  effect: Effect.Effect<A, E, R> | ((attempt: number) => Effect.Effect<A, E, R>),
  options: OnceOptions<A, I>
): Effect.Effect<{ readonly value: A; readonly replayed: boolean }, E | IdempotencyError, R | IdempotencyStore> =>
  Effect.gen(function* () {
    const store = yield* IdempotencyStore
    const owner = options.owner ?? (yield* internal.randomOwner)
    const leaseMillis = Duration.toMillis(options.lease ?? defaultLease)
    const acquire = () => store.acquire(key, { owner, leaseMillis })
    return yield* Once.run(
      {
        first: acquire(),
        again: acquire,
        release: () => store.release(key, owner),
        complete: (json) => store.complete(key, owner, json),
        encode: (value) => encodeResult(options.schema, value),
        decode: (json) => decodeResult(options.schema, json),
        pollMillis: Math.max(1, Duration.toMillis(options.pollInterval ?? defaultPollInterval))
      },
      Effect.isEffect(effect) ? () => effect : effect
    )
  })

/**
 * Encodes a result with its Schema to the JSON text a store keeps (`undefined` is kept as `null`,
 * so `Schema.Void` works for effects whose result does not matter).
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * const json = Effect.runSync(Idempotency.encodeResult(Schema.Number, 42)) // "42"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const encodeResult = <A, I>(schema: Schema.Schema<A, I>, value: A): Effect.Effect<string, IdempotencyError> =>
  Schema.encode(schema)(value).pipe(
    Effect.map((encoded) => JSON.stringify(encoded) ?? "null"),
    Effect.mapError(
      () => new IdempotencyError({ operation: "encode", message: "A result could not be encoded by its schema" })
    )
  )

/**
 * Decodes the JSON text of a stored result with its Schema.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Effect, Schema } from "effect"
 *
 * const n = Effect.runSync(Idempotency.decodeResult(Schema.Number, "42")) // 42
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const decodeResult = <A, I>(schema: Schema.Schema<A, I>, json: string): Effect.Effect<A, IdempotencyError> =>
  Effect.try((): unknown => JSON.parse(json)).pipe(
    Effect.flatMap(Schema.decodeUnknown(schema)),
    Effect.mapError(
      () => new IdempotencyError({ operation: "decode", message: "A stored result does not match its schema" })
    )
  )

/**
 * How often `once` asks again about a key another owner holds: 100 ms.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Duration } from "effect"
 *
 * Duration.toMillis(Idempotency.defaultPollInterval) // 100
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const defaultPollInterval: Duration.Duration = Duration.millis(100)

/**
 * The default lease: 30 seconds.
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { Duration } from "effect"
 *
 * Duration.toMillis(Idempotency.defaultLease) // 30000
 * ```
 *
 * @since 0.1.0
 * @category config
 */
export const defaultLease: Duration.Duration = Duration.seconds(30)
