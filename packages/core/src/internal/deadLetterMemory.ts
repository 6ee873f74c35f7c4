import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import type { CountRow, Entry, Status, Store } from "../DeadLetterQueue.js"
import { compare, matches } from "./deadLetterFilter.js"

/** @internal */
export const make: Effect.Effect<Store> = Effect.map(
  Ref.make(new Map<string, Entry>()),
  (ref): Store => ({
    insert: (entry) => Ref.update(ref, (m) => new Map(m).set(entry.id, entry)),
    get: (id) => Effect.map(Ref.get(ref), (m) => Option.fromNullable(m.get(id))),
    list: (filter, page) =>
      Effect.map(Ref.get(ref), (m) => {
        const all = Array.from(m.values())
          .filter((e) => matches(filter, e))
          .sort(compare)
        return { entries: all.slice(page.offset, page.offset + page.limit), total: all.length }
      }),
    claim: (filter, run, limit, nowMillis) =>
      Ref.modify(ref, (m) => {
        const claimed = Array.from(m.values())
          .filter((e) => e.status === "pending" && e.replayRun !== run && matches(filter, e))
          .sort(compare)
          .slice(0, limit)
          .map(
            (e): Entry => ({
              ...e,
              status: "replaying",
              replayRun: run,
              claimedAtMillis: nowMillis,
              updatedAtMillis: nowMillis,
              version: e.version + 1
            })
          )
        if (claimed.length === 0) return [claimed, m]
        const next = new Map(m)
        for (const e of claimed) next.set(e.id, e)
        return [claimed, next]
      }),
    update: (entry, expectedVersion) =>
      Ref.modify(ref, (m) => {
        const current = m.get(entry.id)
        if (current === undefined || current.version !== expectedVersion) return [false, m]
        return [true, new Map(m).set(entry.id, entry)]
      }),
    purge: (beforeMillis, statuses) =>
      Ref.modify(ref, (m) => {
        const next = new Map(m)
        let removed = 0
        for (const e of m.values()) {
          if (e.updatedAtMillis < beforeMillis && statuses.includes(e.status)) {
            next.delete(e.id)
            removed++
          }
        }
        return [removed, next]
      }),
    counts: Effect.map(Ref.get(ref), (m) => {
      const rows = new Map<string, { queue: string; category: string; status: Status; count: number }>()
      for (const e of m.values()) {
        const category = e.failure.classification.category
        const key = JSON.stringify([e.queue, category, e.status])
        const row = rows.get(key)
        if (row === undefined) rows.set(key, { queue: e.queue, category, status: e.status, count: 1 })
        else row.count++
      }
      return Array.from(rows.values()) satisfies ReadonlyArray<CountRow>
    })
  })
)
