import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import type { CountRow, DeadLetterQueueStore, Entry, Status } from "../../DeadLetterQueue.js"
import { DeadLetterStoreError } from "./errors.js"
import { compare, matches } from "./filter.js"

/**
 * How many leading characters of an id choose its shard: the service's ids start with `dl_` and
 * their millisecond in 9 base36 digits, so the entries made in the same millisecond share a shard.
 * Any other id works too (a shorter one is its own key); only the spread over shards changes.
 */
const shardPrefix = 12

/**
 * The in-memory store. Its entries are owned by this store value only; every operation runs
 * synchronously, so each is atomic with respect to other fibers.
 *
 * The entries are kept by id in shards, one map per id prefix (see {@link shardPrefix}), not in one
 * map of every entry: the entries of one `addAll` land in one small map whose table stays in the
 * processor's cache, where an insert into one large map missed it (measured 2026-12-05 on 2 shared
 * cores at load about 2: 800,000 inserts cost 0.8-1.4 us each into one map, 0.2-0.3 us into maps of
 * 1,000, and the inserts were most of what an `addAll` cost). The price: entries added one at a
 * time, each in a millisecond of its own, have a map each (a few hundred bytes), and reads by id
 * look the shard up first. Lists, claims, purges and counts walk every shard.
 *
 * @internal
 */
export const make: Effect.Effect<DeadLetterQueueStore["Type"]> = Effect.sync((): DeadLetterQueueStore["Type"] => {
  const shards = new Map<string, Map<string, Entry>>()
  const shardOf = (id: string) => shards.get(id.slice(0, shardPrefix))
  const find = (id: string): Entry | undefined => shardOf(id)?.get(id)
  /** Replaces a stored entry (its shard exists: callers found the entry first). */
  const replace = (entry: Entry) => shardOf(entry.id)?.set(entry.id, entry)
  /** Compare-and-set: replaces the entry when the stored one has `expectedVersion`. */
  const swap = (entry: Entry, expectedVersion: number): boolean => {
    const shard = shardOf(entry.id)
    const current = shard?.get(entry.id)
    if (shard === undefined || current === undefined || current.version !== expectedVersion) return false
    shard.set(entry.id, entry)
    return true
  }
  const remove = (id: string) => {
    const key = id.slice(0, shardPrefix)
    const shard = shards.get(key)
    if (shard === undefined) return
    shard.delete(id)
    if (shard.size === 0) shards.delete(key)
  }
  // the matching entries only, walked in place: a copy of every entry at each claim was most of
  // the garbage a replay made on a large store
  const sorted = (f: (e: Entry) => boolean) => {
    const matching: Array<Entry> = []
    for (const shard of shards.values()) for (const e of shard.values()) if (f(e)) matching.push(e)
    return matching.sort(compare)
  }
  // All or nothing, as a database transaction: an id already stored (or twice in the list) fails
  // the call, and what the call had set is taken back, before it returns. Consecutive entries
  // mostly share a shard: its key is made again only when an id does not start with it.
  const insertAll = (batch: ReadonlyArray<Entry>) =>
    Effect.suspend(() => {
      let key = ""
      let shard: Map<string, Entry> | undefined
      for (let i = 0; i < batch.length; i++) {
        const entry = batch[i]!
        const id = entry.id
        if (shard === undefined || key.length < shardPrefix || !id.startsWith(key)) {
          key = id.slice(0, shardPrefix)
          shard = shards.get(key)
          if (shard === undefined) {
            shard = new Map()
            shards.set(key, shard)
          }
        }
        if (shard.has(id)) {
          for (let j = 0; j < i; j++) remove(batch[j]!.id)
          return Effect.fail(
            new DeadLetterStoreError({ reason: "conflict", message: `A dead letter with the id "${id}" exists` })
          )
        }
        shard.set(id, entry)
      }
      return Effect.void
    })
  return {
    insert: (entry) => insertAll([entry]),
    insertAll,
    get: (id) => Effect.sync(() => Option.fromNullable(find(id))),
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
            replace(claimed)
            return claimed
          })
      ),
    update: (entry, expectedVersion) => Effect.sync(() => swap(entry, expectedVersion)),
    updateAll: (updates) =>
      Effect.sync(() => updates.map(({ entry, expectedVersion }) => swap(entry, expectedVersion))),
    purge: (beforeMillis, statuses) =>
      Effect.sync(() => {
        let removed = 0
        for (const [key, shard] of shards) {
          for (const e of shard.values()) {
            if (e.updatedAtMillis < beforeMillis && statuses.includes(e.status)) {
              shard.delete(e.id)
              removed++
            }
          }
          if (shard.size === 0) shards.delete(key)
        }
        return removed
      }),
    counts: Effect.sync(() => {
      const rows = new Map<string, { queue: string; category: string; status: Status; count: number }>()
      for (const shard of shards.values())
        for (const e of shard.values()) {
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
