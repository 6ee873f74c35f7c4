import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CountRow, DeadLetterQueueStore, Entry, Status } from "../../DeadLetterQueue.js"
import { DeadLetterStoreError } from "./errors.js"
import { compare, matches } from "./filter.js"

/**
 * The in-memory store. Its map is owned by this store value only; every operation runs
 * synchronously inside one `Effect.sync`, so each is atomic with respect to other fibers.
 *
 * @internal
 */
export const make: Effect.Effect<DeadLetterQueueStore["Type"]> = Effect.sync((): DeadLetterQueueStore["Type"] => {
  const entries = new Map<string, Entry>()
  // the matching entries only, walked in place: a copy of every entry at each claim was most of
  // the garbage a replay made on a large store
  const sorted = (f: (e: Entry) => boolean) => {
    const matching: Array<Entry> = []
    for (const e of entries.values()) if (f(e)) matching.push(e)
    return matching.sort(compare)
  }
  // All or nothing, as a database transaction: an id already stored (or twice in the list) fails
  // the call, and what the call had set is taken back, before it returns.
  const insertAll = (batch: ReadonlyArray<Entry>) =>
    Effect.suspend(() => {
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i]!
        if (entries.has(entry.id)) {
          for (let j = 0; j < i; j++) entries.delete(batch[j]!.id)
          return Effect.fail(
            new DeadLetterStoreError({ reason: "conflict", message: `A dead letter with the id "${entry.id}" exists` })
          )
        }
        entries.set(entry.id, entry)
      }
      return Effect.void
    })
  return {
    insert: (entry) => insertAll([entry]),
    insertAll,
    get: (id) => Effect.sync(() => Option.fromNullable(entries.get(id))),
    list: (filter, page) =>
      Effect.sync(() => {
        const all = sorted((e) => matches(filter, e))
        return { entries: all.slice(page.offset, page.offset + page.limit), total: all.length }
      }),
    claim: (filter, run, limit, nowMillis) =>
      Effect.sync(() =>
        sorted((e) => e.status === "pending" && e.replayRun !== run && matches(filter, e))
          .slice(0, limit)
          .map((e) => {
            const claimed: Entry = {
              ...e,
              status: "replaying",
              replayRun: run,
              claimedAtMillis: nowMillis,
              updatedAtMillis: nowMillis,
              version: e.version + 1
            }
            entries.set(e.id, claimed)
            return claimed
          })
      ),
    update: (entry, expectedVersion) =>
      Effect.sync(() => {
        const current = entries.get(entry.id)
        if (current === undefined || current.version !== expectedVersion) return false
        entries.set(entry.id, entry)
        return true
      }),
    updateAll: (updates) =>
      Effect.sync(() =>
        updates.map(({ entry, expectedVersion }) => {
          const current = entries.get(entry.id)
          if (current === undefined || current.version !== expectedVersion) return false
          entries.set(entry.id, entry)
          return true
        })
      ),
    purge: (beforeMillis, statuses) =>
      Effect.sync(() => {
        let removed = 0
        for (const e of Array.from(entries.values())) {
          if (e.updatedAtMillis < beforeMillis && statuses.includes(e.status)) {
            entries.delete(e.id)
            removed++
          }
        }
        return removed
      }),
    counts: Effect.sync(() => {
      const rows = new Map<string, { queue: string; category: string; status: Status; count: number }>()
      for (const e of entries.values()) {
        const category = e.failure.classification.category
        const key = JSON.stringify([e.queue, category, e.status])
        const row = rows.get(key)
        if (row === undefined) rows.set(key, { queue: e.queue, category, status: e.status, count: 1 })
        else row.count++
      }
      return Array.from(rows.values()) satisfies ReadonlyArray<CountRow>
    })
  }
})
