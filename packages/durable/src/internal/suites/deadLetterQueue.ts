/**
 * The behavioural suite every dead letter store must pass. Each test provides `layer` afresh, so a
 * store Layer must build an empty store (a new temp file, a new database) each time.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as DeadLetterQueue from "../../DeadLetterQueue.js"
import type { AttemptRecord } from "@effect-resilience/core/Errors"

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number, placedAt: Schema.DateFromString })

const classification = (category: Classification.Category) =>
  Classification.make({ category, code: `test.${category}`, message: `A ${category} failure` })

const attempt = (n: number, category: Classification.Category): AttemptRecord => ({
  attempt: n,
  failure: { tag: "UpstreamError", message: `attempt ${n} failed` },
  classification: classification(category),
  delayMillis: 100,
  atMillis: n * 1000
})

class UpstreamError extends Schema.TaggedError<UpstreamError>()("UpstreamError", { status: Schema.Number }) {
  override get message(): string {
    return `Upstream answered ${this.status}`
  }
}

const add = (queue: string, category: Classification.Category, id = "o-1") =>
  DeadLetterQueue.deadLetter(Order, {
    queue,
    payload: { id, amount: 10, placedAt: new Date(Date.UTC(2024, 0, 1)) },
    failure: new UpstreamError({ status: 503 }),
    classification: classification(category),
    history: [attempt(1, category), attempt(2, category)],
    idempotencyKey: `${queue}:${id}`
  })

const dlq = DeadLetterQueue.DeadLetterQueue

/** @internal */
export const suite = (name: string, store: Layer.Layer<DeadLetterQueue.DeadLetterQueueStore, unknown>) => {
  const layer = DeadLetterQueue.layer().pipe(Layer.provideMerge(store), Layer.merge(Classifier.layer))
  const run = <A, E>(
    effect: Effect.Effect<
      A,
      E,
      DeadLetterQueue.DeadLetterQueue | DeadLetterQueue.DeadLetterQueueStore | Classifier.Classifier
    >
  ) => Effect.scoped(Effect.provide(effect, layer))

  describe(`DeadLetterQueue on ${name}`, () => {
    it.effect("an empty store has zero counts", () =>
      run(
        Effect.gen(function* () {
          const stats = yield* (yield* dlq).stats
          expect(stats).toEqual({
            total: 0,
            byStatus: { pending: 0, replaying: 0, resolved: 0, discarded: 0 },
            byQueue: {},
            byCategory: {},
            manualReview: 0
          })
          expect(yield* (yield* dlq).list()).toEqual({ entries: [], total: 0 })
        })
      )
    )

    it.effect("stores the encoded payload, the failure with its history, and reads it back", () =>
      run(
        Effect.gen(function* () {
          yield* TestClock.adjust(Duration.millis(1234))
          const retryAfter = Classification.make({
            category: "throttled",
            code: "http.429",
            message: "Too many requests",
            retryAfter: Duration.seconds(3)
          })
          const added = yield* DeadLetterQueue.deadLetter(Order, {
            queue: "orders",
            payload: { id: "o-9", amount: 12.5, placedAt: new Date(Date.UTC(2024, 4, 2)) },
            failure: new UpstreamError({ status: 429 }),
            classification: retryAfter,
            history: [attempt(1, "throttled")],
            note: "from the nightly batch"
          })
          const service = yield* dlq
          const read = Option.getOrThrow(yield* service.get(added.id))
          expect(read).toEqual(added)
          expect(read.payload).toEqual({ id: "o-9", amount: 12.5, placedAt: "2024-05-02T00:00:00.000Z" })
          expect(read.status).toBe("pending")
          expect(read.createdAtMillis).toBe(1234)
          expect(read.idempotencyKey).toBe(added.id)
          expect(read.failure.tag).toBe("UpstreamError")
          expect(read.failure.message).toBe("Upstream answered 429")
          expect(Duration.toMillis(read.failure.classification.retryAfter ?? Duration.zero)).toBe(3000)
          expect(read.failure.history).toEqual([attempt(1, "throttled")])
          expect(read.notes).toEqual([{ atMillis: 1234, action: "note", text: "from the nightly batch" }])
          expect(yield* service.get("dl_does_not_exist")).toEqual(Option.none())
        })
      )
    )

    it.effect("lists with filters (queue, category, status, time range) and pagination, oldest first", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const a = yield* add("orders", "network", "a")
          yield* TestClock.adjust(Duration.seconds(10))
          const b = yield* add("orders", "validation", "b")
          yield* TestClock.adjust(Duration.seconds(10))
          const c = yield* add("invoices", "network", "c")
          yield* TestClock.adjust(Duration.seconds(10))
          const d = yield* add("orders", "business", "d")
          yield* service.discard(d.id, "alice", "duplicate order")
          const ids = (r: DeadLetterQueue.ListResult) => r.entries.map((e) => e.id)

          expect(ids(yield* service.list())).toEqual([a.id, b.id, c.id, d.id])
          expect(ids(yield* service.list({ queue: "orders" }))).toEqual([a.id, b.id, d.id])
          expect(ids(yield* service.list({ category: "network" }))).toEqual([a.id, c.id])
          expect(ids(yield* service.list({ category: ["validation", "business"] }))).toEqual([b.id, d.id])
          expect(ids(yield* service.list({ status: "discarded" }))).toEqual([d.id])
          expect(ids(yield* service.list({ status: ["pending"], queue: "orders" }))).toEqual([a.id, b.id])
          expect(ids(yield* service.list({ fromMillis: 10_000, toMillis: 30_000 }))).toEqual([b.id, c.id])
          expect(ids(yield* service.list({ ids: [c.id, a.id] }))).toEqual([a.id, c.id])

          const page1 = yield* service.list({}, { limit: 3 })
          const page2 = yield* service.list({}, { limit: 3, offset: 3 })
          expect(page1.total).toBe(4)
          expect(page2.total).toBe(4)
          expect([...ids(page1), ...ids(page2)]).toEqual([a.id, b.id, c.id, d.id])
        })
      )
    )

    it.effect("replay success resolves the entry and records the operator", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const entry = yield* add("orders", "network")
          const seen = yield* Ref.make<ReadonlyArray<string>>([])
          const report = yield* service.replay(
            entry.id,
            DeadLetterQueue.handler(Order, (order, e) =>
              Ref.update(seen, (s) => [...s, `${order.id}:${e.idempotencyKey}`])
            ),
            { operator: "alice" }
          )
          expect(report).toEqual({ resolved: [entry.id], failed: [], invalid: [], skipped: [] })
          expect(yield* Ref.get(seen)).toEqual(["o-1:orders:o-1"])
          const read = Option.getOrThrow(yield* service.get(entry.id))
          expect(read.status).toBe("resolved")
          expect(read.replays).toBe(1)
          expect(read.notes.at(-1)).toMatchObject({ action: "replayed", operator: "alice" })

          const again = yield* service.replay(entry.id, () => Effect.void)
          expect(again.skipped).toEqual([{ id: entry.id, status: "resolved" }])
          const missing = yield* Effect.either(service.replay("dl_missing", () => Effect.void))
          expect(Either.getLeft(missing).pipe(Option.map((e) => e._tag))).toEqual(Option.some("EntryNotFound"))
        })
      )
    )

    it.effect("replay failure returns the entry to pending with the new attempt appended", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const entry = yield* add("orders", "network")
          yield* TestClock.adjust(Duration.seconds(5))
          const report = yield* service
            .replay(entry.id, () => Effect.fail(new UpstreamError({ status: 422 })), { operator: "bob" })
            .pipe(Effect.provide(Classifier.layerFrom(() => classification("validation"))))
          expect(report.resolved).toEqual([])
          expect(report.failed).toEqual([{ id: entry.id, classification: classification("validation") }])
          const read = Option.getOrThrow(yield* service.get(entry.id))
          expect(read.status).toBe("pending")
          expect(read.replays).toBe(1)
          expect(read.failure.classification.category).toBe("validation")
          expect(read.failure.message).toBe("Upstream answered 422")
          expect(read.failure.history.length).toBe(3)
          expect(read.failure.history[2]).toEqual({
            attempt: 3,
            failure: { tag: "UpstreamError", message: "Upstream answered 422" },
            classification: classification("validation"),
            atMillis: 5000
          })
          expect(read.notes.at(-1)).toMatchObject({ action: "replay-failed", operator: "bob" })
          // the new classification moves it to the manual review queue
          expect((yield* service.reviewQueue()).entries.map((e) => e.id)).toEqual([entry.id])
        })
      )
    )

    it.effect("bulk replay handles each matching pending entry once, failures are not retried in the same run", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const entries = yield* Effect.forEach(["a", "b", "c", "d", "e"], (id) => add("orders", "network", id))
          const other = yield* add("invoices", "network", "x")
          const calls = yield* Ref.make<ReadonlyArray<string>>([])
          const report = yield* service.replay(
            { queue: "orders" },
            (e) =>
              Ref.update(calls, (c) => [...c, e.id]).pipe(
                Effect.zipRight(e.id === entries[1]?.id ? Effect.fail("still broken") : Effect.void)
              ),
            { chunk: 2 }
          )
          const handled = yield* Ref.get(calls)
          expect([...handled].sort()).toEqual(entries.map((e) => e.id).sort())
          expect(report.resolved.length).toBe(4)
          expect(report.failed.map((f) => f.id)).toEqual([entries[1]?.id])
          expect(report.failed[0]?.classification.category).toBe("unknown")
          expect(Option.getOrThrow(yield* service.get(other.id)).status).toBe("pending")
          const limited = yield* service.replay({}, () => Effect.void, { limit: 1 })
          expect(limited.resolved.length).toBe(1)
        })
      )
    )

    it.effect("a payload that no longer decodes is reported with its path and stays pending", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const entry = yield* service.add({
            queue: "orders",
            payload: { id: "o-1", amount: "ten", placedAt: "2024-01-01T00:00:00.000Z" },
            failure: DeadLetterQueue.failureOf(new Error("x"), classification("server"), [])
          })
          const calls = yield* Ref.make(0)
          const report = yield* service.replay(
            entry.id,
            DeadLetterQueue.handler(Order, () => Ref.update(calls, (n) => n + 1))
          )
          expect(yield* Ref.get(calls)).toBe(0)
          expect(report.resolved).toEqual([])
          expect(report.invalid.length).toBe(1)
          expect(report.invalid[0]?.issues.map((i) => i.path)).toEqual([["amount"]])
          const read = Option.getOrThrow(yield* service.get(entry.id))
          expect(read.status).toBe("pending")
          expect(read.failure.history).toEqual([])
          expect(read.notes.at(-1)?.action).toBe("replay-rejected")
          expect(read.notes.at(-1)?.text).toContain("amount")
        })
      )
    )

    it.effect("discard needs a pending entry and records the operator and the note", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const entry = yield* add("orders", "business")
          yield* TestClock.adjust(Duration.seconds(1))
          const discarded = yield* service.discard(entry.id, "carol", "customer cancelled")
          expect(discarded.status).toBe("discarded")
          expect(discarded.notes.at(-1)).toEqual({
            atMillis: 1000,
            operator: "carol",
            action: "discarded",
            text: "customer cancelled"
          })
          expect(Option.getOrThrow(yield* service.get(entry.id))).toEqual(discarded)
          const twice = yield* Effect.flip(service.discard(entry.id, "carol"))
          expect(twice._tag).toBe("InvalidStatus")
          const missing = yield* Effect.flip(service.discard("dl_missing", "carol"))
          expect(missing._tag).toBe("EntryNotFound")
          const annotated = yield* service.annotate(entry.id, "dave", "checked with sales")
          expect(annotated.notes.length).toBe(2)
          expect(annotated.status).toBe("discarded")
        })
      )
    )

    it.effect("purge removes resolved and discarded entries older than the given age", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const old = yield* add("orders", "network", "old")
          const oldPending = yield* add("orders", "network", "old-pending")
          yield* service.discard(old.id, "erin")
          yield* TestClock.adjust(Duration.days(8))
          const recent = yield* add("orders", "network", "recent")
          yield* service.discard(recent.id, "erin")
          expect(yield* service.purge(Duration.days(7))).toBe(1)
          const left = (yield* service.list()).entries.map((e) => e.id)
          expect(left.sort()).toEqual([oldPending.id, recent.id].sort())
          expect(yield* service.purge("7 days", { statuses: ["pending"] })).toBe(1)
          expect((yield* service.list()).total).toBe(1)
        })
      )
    )

    it.effect("statistics by queue, category and status; the review queue holds what needs a person", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          yield* add("orders", "network", "a")
          const v = yield* add("orders", "validation", "b")
          const auth = yield* add("invoices", "authentication", "c")
          const biz = yield* add("invoices", "business", "d")
          yield* service.discard(biz.id, "frank")
          const stats = yield* service.stats
          expect(stats.total).toBe(4)
          expect(stats.byStatus).toEqual({ pending: 3, replaying: 0, resolved: 0, discarded: 1 })
          expect(stats.byQueue).toEqual({
            orders: { pending: 2, replaying: 0, resolved: 0, discarded: 0 },
            invoices: { pending: 1, replaying: 0, resolved: 0, discarded: 1 }
          })
          expect(stats.byCategory).toEqual({ network: 1, validation: 1, authentication: 1, business: 1 })
          expect(stats.manualReview).toBe(2)
          const review = yield* service.reviewQueue()
          expect(review.entries.map((e) => e.id)).toEqual([v.id, auth.id])
        })
      )
    )

    it.effect("a claim whose process stopped returns to pending after the lease; the late worker loses", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const entry = yield* add("orders", "network")
          const started = yield* Deferred.make<void>()
          const release = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(
            service.replay(entry.id, () =>
              Deferred.succeed(started, undefined).pipe(Effect.zipRight(Deferred.await(release)))
            )
          )
          yield* Deferred.await(started)
          expect(Option.getOrThrow(yield* service.get(entry.id)).status).toBe("replaying")
          expect(yield* service.recoverStale()).toBe(0)
          yield* TestClock.adjust(Duration.minutes(6))
          expect(yield* service.recoverStale()).toBe(1)
          const recovered = Option.getOrThrow(yield* service.get(entry.id))
          expect(recovered.status).toBe("pending")
          expect(recovered.notes.at(-1)?.action).toBe("lease-expired")
          yield* Deferred.succeed(release, undefined)
          const report = yield* Fiber.join(fiber)
          expect(report.resolved).toEqual([])
          expect(report.skipped).toEqual([{ id: entry.id, status: "replaying" }])
          expect(Option.getOrThrow(yield* service.get(entry.id)).status).toBe("pending")
        })
      )
    )

    it.effect("an interrupted replay puts the entry back to pending", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const entry = yield* add("orders", "network")
          const started = yield* Deferred.make<void>()
          const fiber = yield* Effect.fork(
            service.replay(entry.id, () => Deferred.succeed(started, undefined).pipe(Effect.zipRight(Effect.never)))
          )
          yield* Deferred.await(started)
          yield* Fiber.interrupt(fiber)
          const read = Option.getOrThrow(yield* service.get(entry.id))
          expect(read.status).toBe("pending")
          expect(read.notes.at(-1)?.action).toBe("replay-interrupted")
        })
      )
    )

    it.effect("addAll of nothing stores nothing", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          expect(yield* service.addAll([])).toEqual([])
          expect((yield* service.stats).total).toBe(0)
        })
      )
    )

    it.effect("addAll stores every entry in order, distinct ids, shared idempotency keys allowed", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const failure = DeadLetterQueue.failureOf(new UpstreamError({ status: 422 }), classification("validation"), [
            attempt(1, "validation")
          ])
          // 600 crosses the store's statement sizes (several statements in one transaction)
          const inputs = Array.from(
            { length: 600 },
            (_, i): DeadLetterQueue.EntryInput => ({
              queue: i % 2 === 0 ? "orders" : "invoices",
              payload: { id: `o-${i}`, amount: i },
              failure,
              idempotencyKey: `key-${Math.floor(i / 2)}`,
              note: i === 7 ? "seventh" : undefined
            })
          )
          const added = yield* service.addAll(inputs)
          expect(added.map((e) => e.payload)).toEqual(inputs.map((i) => i.payload))
          expect(new Set(added.map((e) => e.id)).size).toBe(600)
          const listed = yield* service.list({}, { limit: 1000 })
          expect(listed.total).toBe(600)
          expect(listed.entries).toEqual(added)
          expect(Option.getOrThrow(yield* service.get(added[7]!.id)).notes.map((n) => n.text)).toEqual(["seventh"])
          const stats = yield* service.stats
          expect(stats.byQueue.orders?.pending).toBe(300)
          expect(stats.manualReview).toBe(600)
          // and they replay like any entry
          const report = yield* service.replay({ queue: "invoices" }, () => Effect.void, { chunk: 64 })
          expect(report.resolved.length).toBe(300)
        })
      )
    )

    it.effect("a write that fails part-way through a list stores none of it", () =>
      run(
        Effect.gen(function* () {
          const store = yield* DeadLetterQueue.DeadLetterQueueStore
          const service = yield* dlq
          const [first] = yield* service.addAll([
            {
              queue: "orders",
              payload: { id: "o-0" },
              failure: DeadLetterQueue.failureOf("x", classification("network"), [])
            }
          ])
          const fresh = Array.from(
            { length: 300 },
            (_, i): DeadLetterQueue.Entry => ({ ...first!, id: `${first!.id}-${i}`, payload: { id: `o-${i + 1}` } })
          )
          // the 290th entry reuses an id: the write fails after its first statements ran
          const broken = fresh.map((e, i) => (i === 290 ? { ...e, id: fresh[3]!.id } : e))
          const error = yield* Effect.flip(store.insertAll(broken))
          expect(error._tag).toBe("DeadLetterStoreError")
          const again = yield* Effect.flip(store.insertAll([fresh[0]!, first!]))
          expect(again._tag).toBe("DeadLetterStoreError")
          expect((yield* service.list()).entries.map((e) => e.id)).toEqual([first!.id])
          // the same list without the collision goes in whole
          yield* store.insertAll(fresh)
          expect((yield* service.stats).total).toBe(301)
        })
      )
    )

    it.effect("updateAll replaces each entry whose version matches, and only those", () =>
      run(
        Effect.gen(function* () {
          const store = yield* DeadLetterQueue.DeadLetterQueueStore
          const service = yield* dlq
          expect(yield* store.updateAll([])).toEqual([])
          const [a, b, c] = yield* Effect.forEach(["a", "b", "c"], (id) => add("orders", "network", id))
          const written = yield* store.updateAll([
            { entry: { ...a!, status: "discarded", version: 1 }, expectedVersion: 0 },
            { entry: { ...b!, status: "discarded", version: 1 }, expectedVersion: 5 },
            { entry: { ...c!, status: "resolved", version: 1 }, expectedVersion: 0 },
            { entry: { ...c!, id: "dl_missing", version: 1 }, expectedVersion: 0 }
          ])
          expect(written).toEqual([true, false, true, false])
          const statuses = (yield* service.list()).entries.map((e) => [e.id, e.status, e.version])
          expect(statuses).toEqual([
            [a!.id, "discarded", 1],
            [b!.id, "pending", 0],
            [c!.id, "resolved", 1]
          ])
        })
      )
    )

    it.effect("concurrent adds share writes and each returns its own stored entry", () =>
      run(
        Effect.gen(function* () {
          const service = yield* dlq
          const added = yield* Effect.forEach(
            Array.from({ length: 200 }, (_, i) => i),
            (i) => add("orders", "network", `o-${i}`),
            { concurrency: 50 }
          )
          expect(new Set(added.map((e) => e.id)).size).toBe(200)
          expect(added.map((e) => e.idempotencyKey)).toEqual(added.map((_, i) => `orders:o-${i}`))
          for (const entry of added.filter((_, i) => i % 37 === 0)) {
            expect(Option.getOrThrow(yield* service.get(entry.id))).toEqual(entry)
          }
          expect((yield* service.stats).total).toBe(200)
        })
      )
    )
  })
}
