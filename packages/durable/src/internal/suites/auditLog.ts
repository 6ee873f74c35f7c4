/**
 * The behavioural suite every audit log store must pass (memory here, SQLite and PostgreSQL in
 * `@effect-resilience/sql`). Each test provides `layer` afresh, so a store Layer must build an
 * empty store each time. Time is the `TestClock`'s.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as AuditLog from "../../AuditLog.js"

const all = { limit: 1000, offset: 0 }

/** @internal */
export const suite = (name: string, layer: Layer.Layer<AuditLog.AuditLogStore, unknown>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, AuditLog.AuditLog | AuditLog.AuditLogStore>) =>
    Effect.scoped(Effect.provide(Effect.provide(effect, AuditLog.layer), layer))

  const record = (input: AuditLog.EntryInput) => Effect.flatMap(AuditLog.AuditLog, (audit) => audit.record(input))
  const list = (query: AuditLog.Query) => Effect.flatMap(AuditLog.AuditLogStore, (store) => store.list(query))
  const targets = (page: AuditLog.Page) => page.entries.map((e) => e.target)

  describe(`AuditLogStore on ${name}`, () => {
    it.effect("an empty trail has no entries", () =>
      run(
        Effect.gen(function* () {
          expect(yield* list(all)).toEqual({ entries: [], total: 0 })
        })
      )
    )

    it.effect("entries come back as recorded, newest first; those of one millisecond latest first", () =>
      run(
        Effect.gen(function* () {
          yield* TestClock.setTime(1_000)
          const first = yield* record({ actor: "alice", action: "breaker.reset", target: "a" })
          yield* TestClock.setTime(2_000)
          const second = yield* record({ actor: "bob", action: "dead-letter.discard", target: "b" })
          const third = yield* record({ actor: "bob", action: "dead-letter.discard", target: "c" })
          const page = yield* list(all)
          expect(page.total).toBe(3)
          expect(page.entries).toEqual([third, second, first])
          expect(first).toEqual({ id: first.id, atMillis: 1_000, actor: "alice", action: "breaker.reset", target: "a" })
          expect(new Set([first.id, second.id, third.id]).size).toBe(3)
        })
      )
    )

    it.effect("before and after keep their JSON (nested, null, absent) as written", () =>
      run(
        Effect.gen(function* () {
          const before = { status: "pending", replays: 0, nested: { list: [1, "two", null, true] } }
          const after = { status: "discarded", replays: 0, text: 'quote " and unicode \u00e9 \u{1F600}' }
          const both = yield* record({ actor: "a", action: "x", target: "both", before, after })
          yield* record({ actor: "a", action: "x", target: "nulls", before: null, after: 0 })
          yield* record({ actor: "a", action: "x", target: "none" })
          const page = yield* list(all)
          const byTarget = new Map(page.entries.map((e) => [e.target, e]))
          expect(byTarget.get("both")).toEqual(both)
          expect(byTarget.get("both")?.before).toEqual(before)
          expect(byTarget.get("nulls")).toMatchObject({ before: null, after: 0 })
          const none = byTarget.get("none")
          expect(none !== undefined && "before" in none).toBe(false)
          expect(none !== undefined && "after" in none).toBe(false)
        })
      )
    )

    it.effect("pages: limit and offset walk the trail without gaps or repeats; total counts all", () =>
      run(
        Effect.gen(function* () {
          for (let i = 0; i < 7; i++) {
            yield* TestClock.setTime(10_000 + i)
            yield* record({ actor: "a", action: "x", target: `t${i}` })
          }
          const pages = []
          for (let offset = 0; offset < 8; offset += 3) pages.push(yield* list({ limit: 3, offset }))
          expect(pages.map(targets)).toEqual([["t6", "t5", "t4"], ["t3", "t2", "t1"], ["t0"]])
          expect(pages.map((p) => p.total)).toEqual([7, 7, 7])
          expect(yield* list({ limit: 3, offset: 50 })).toEqual({ entries: [], total: 7 })
        })
      )
    )

    it.effect("filters on actor, action, target and time narrow both the entries and the total", () =>
      run(
        Effect.gen(function* () {
          yield* TestClock.setTime(100)
          yield* record({ actor: "alice", action: "dead-letter.replay", target: "d1" })
          yield* TestClock.setTime(200)
          yield* record({ actor: "bob", action: "dead-letter.discard", target: "d2" })
          yield* TestClock.setTime(300)
          yield* record({ actor: "alice", action: "dead-letter.discard", target: "d3" })
          yield* record({ actor: "alice", action: "dead-letter.discard", target: "d1" })
          const of = (filter: AuditLog.Filter) => list({ ...filter, limit: 2, offset: 0 })

          const alice = yield* of({ actor: "alice" })
          expect(targets(alice)).toEqual(["d1", "d3"])
          expect(alice.total).toBe(3)
          expect((yield* of({ action: "dead-letter.discard" })).total).toBe(3)
          expect(targets(yield* of({ actor: "alice", action: "dead-letter.discard" }))).toEqual(["d1", "d3"])
          expect(targets(yield* of({ target: "d1" }))).toEqual(["d1", "d1"])
          const since = yield* of({ sinceMillis: 200 })
          expect(targets(since)).toEqual(["d1", "d3"])
          expect(since.total).toBe(3)
          expect(yield* of({ sinceMillis: 301 })).toEqual({ entries: [], total: 0 })
          expect(yield* of({ actor: "carol" })).toEqual({ entries: [], total: 0 })
          // exact matches only: no prefix or pattern
          expect((yield* of({ actor: "ali" })).total).toBe(0)
          expect((yield* of({ actor: "%" })).total).toBe(0)
        })
      )
    )

    it.effect("concurrent records are all kept", () =>
      run(
        Effect.gen(function* () {
          yield* Effect.forEach(
            Array.from({ length: 50 }, (_, i) => i),
            (i) => record({ actor: `a${i % 3}`, action: "x", target: `t${i}` }),
            { concurrency: 10, discard: true }
          )
          const page = yield* list(all)
          expect(page.total).toBe(50)
          expect(new Set(targets(page)).size).toBe(50)
          expect((yield* list({ actor: "a0", ...all })).total).toBe(17)
        })
      )
    )
  })
}
