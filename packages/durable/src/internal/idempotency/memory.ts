import * as Clock from "effect/Clock"
import * as Data from "effect/Data"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import type * as Idempotency from "../../Idempotency.js"

/** @internal */
export const Acquisition = Data.taggedEnum<Idempotency.Acquisition>()

type Store = Idempotency.IdempotencyStore["Type"]

/**
 * The state is owned by the service made here: key -> record. Each operation reads the clock and
 * then updates the map synchronously, so it is atomic with respect to other fibers.
 *
 * @internal
 */
export const makeMemory: Effect.Effect<Store> = Effect.sync((): Store => {
  const records = new Map<string, Idempotency.IdempotencyRecord>()
  const acquireAt = (key: string, owner: string, leaseMillis: number, now: number): Idempotency.Acquisition => {
    const current = records.get(key)
    if (current !== undefined) {
      if (current.status === "completed") return Acquisition.Completed({ result: current.result ?? "null" })
      if (current.owner !== owner && current.expiresAtMillis > now) {
        return Acquisition.Busy({ owner: current.owner, expiresAtMillis: current.expiresAtMillis })
      }
    }
    const attempt = (current?.attempts ?? 0) + 1
    records.set(key, {
      key,
      status: "in-progress",
      owner,
      expiresAtMillis: now + leaseMillis,
      attempts: attempt,
      updatedAtMillis: now
    })
    return Acquisition.Acquired({ attempt })
  }
  const releaseOne = (key: string, owner: string) => {
    const current = records.get(key)
    // Keep the record (its attempt count) but let anyone take it at once.
    if (current !== undefined && current.status === "in-progress" && current.owner === owner) {
      records.set(key, { ...current, expiresAtMillis: 0 })
    }
  }
  const completeAt = (key: string, owner: string, result: string, now: number) => {
    const current = records.get(key)
    if (current?.status === "completed") return
    records.set(key, {
      key,
      status: "completed",
      owner,
      expiresAtMillis: now,
      attempts: current?.attempts ?? 1,
      result,
      updatedAtMillis: now
    })
  }
  return {
    acquireAll: (keys, { leaseMillis, owner }) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        const once = new Map<string, Idempotency.Acquisition>()
        return keys.map((key) => {
          const known = once.get(key)
          if (known !== undefined) return known
          const acquired = acquireAt(key, owner, leaseMillis, now)
          once.set(key, acquired)
          return acquired
        })
      }),
    releaseAll: (keys, owner) =>
      Effect.sync(() => {
        for (const key of keys) releaseOne(key, owner)
      }),
    acquire: (key, { leaseMillis, owner }) =>
      Effect.map(Clock.currentTimeMillis, (now) => acquireAt(key, owner, leaseMillis, now)),
    completeAll: (entries, owner) =>
      Effect.map(Clock.currentTimeMillis, (now) => {
        for (const entry of entries) completeAt(entry.key, owner, entry.result, now)
      }),
    complete: (key, owner, result) => Effect.map(Clock.currentTimeMillis, (now) => completeAt(key, owner, result, now)),
    release: (key, owner) => Effect.sync(() => releaseOne(key, owner)),
    get: (key) => Effect.sync(() => Option.fromNullable(records.get(key))),
    remove: (key) =>
      Effect.sync(() => {
        records.delete(key)
      }),
    purge: (beforeMillis) =>
      Effect.sync(() => {
        let purged = 0
        for (const [key, record] of records) {
          const old =
            record.status === "completed"
              ? record.updatedAtMillis < beforeMillis
              : record.expiresAtMillis < beforeMillis
          if (old) {
            records.delete(key)
            purged++
          }
        }
        return purged
      })
  }
})

/**
 * A random owner token (16 hex digits) from the `Random` service.
 *
 * @internal
 */
export const randomOwner: Effect.Effect<string> = Effect.map(
  Effect.all([Random.nextIntBetween(0, 0x1_0000_0000), Random.nextIntBetween(0, 0x1_0000_0000)]),
  ([a, b]) => a.toString(16).padStart(8, "0") + b.toString(16).padStart(8, "0")
)
