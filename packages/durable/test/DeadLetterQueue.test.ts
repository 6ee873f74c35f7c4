import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Ref from "effect/Ref"
import * as TestClock from "effect/TestClock"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as DeadLetterQueue from "../src/DeadLetterQueue.js"
import * as StoreSuites from "../src/StoreSuites.js"

StoreSuites.deadLetterQueueStore("memory", DeadLetterQueue.layerStoreMemory)

describe("DeadLetterQueue (memory)", () => {
  it.effect("two services on one store never replay an entry twice", () =>
    Effect.gen(function* () {
      const store = yield* DeadLetterQueue.makeStoreMemory
      const [a, b] = yield* Effect.all([DeadLetterQueue.make(), DeadLetterQueue.make()]).pipe(
        Effect.provideService(DeadLetterQueue.DeadLetterQueueStore, store)
      )
      const failure = DeadLetterQueue.failureOf(
        new Error("x"),
        Classification.make({ category: "network", code: "t", message: "t" }),
        []
      )
      yield* Effect.forEach(Array.from({ length: 50 }), (_, i) => a.add({ queue: "q", payload: { i }, failure }))
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const handler: DeadLetterQueue.Handler<never, never> = (e) =>
        Effect.zipRight(
          Effect.yieldNow(),
          Ref.update(seen, (s) => [...s, e.id])
        )
      const [ra, rb] = yield* Effect.all([a.replay({}, handler, { chunk: 3 }), b.replay({}, handler, { chunk: 3 })], {
        concurrency: 2
      })
      const ids = yield* Ref.get(seen)
      expect(ids.length).toBe(50)
      expect(new Set(ids).size).toBe(50)
      expect(ra.resolved.length + rb.resolved.length).toBe(50)
      expect(ra.resolved.length).toBeGreaterThan(0)
      expect(rb.resolved.length).toBeGreaterThan(0)
    }).pipe(Effect.provide(Classifier.layer))
  )
})

describe("DeadLetterQueue group commit", () => {
  it.effect("adds arriving while a write is under way share the next write; each returns once durable", () =>
    Effect.gen(function* () {
      const store = yield* DeadLetterQueue.makeStoreMemory
      const writes = yield* Ref.make<ReadonlyArray<number>>([])
      const slow: DeadLetterQueue.DeadLetterQueueStore["Type"] = {
        ...store,
        insertAll: (entries) =>
          Effect.zipRight(
            Effect.zipRight(
              Ref.update(writes, (w) => [...w, entries.length]),
              Effect.sleep(Duration.millis(10))
            ),
            store.insertAll(entries)
          )
      }
      const dlq = yield* DeadLetterQueue.make().pipe(Effect.provideService(DeadLetterQueue.DeadLetterQueueStore, slow))
      const failure = DeadLetterQueue.failureOf(
        new Error("x"),
        Classification.make({ category: "network", code: "t", message: "t" }),
        []
      )
      const fiber = yield* Effect.fork(
        Effect.forEach(
          Array.from({ length: 30 }, (_, i) => i),
          (i) =>
            Effect.flatMap(dlq.add({ queue: "q", payload: { i }, failure }), (entry) =>
              // returned only once stored
              Effect.map(store.get(entry.id), (read) => read._tag === "Some")
            ),
          { concurrency: "unbounded" }
        )
      )
      yield* TestClock.adjust(Duration.millis(10))
      yield* TestClock.adjust(Duration.millis(10))
      const stored = yield* Fiber.join(fiber)
      expect(stored.every((s) => s)).toBe(true)
      // at most two writes: the adds ready with the first share its write, the rest share the next
      const sizes = yield* Ref.get(writes)
      expect(sizes.length).toBeLessThanOrEqual(2)
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(30)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.effect("a waiting add that is interrupted does not stall the adds behind it", () =>
    Effect.gen(function* () {
      const store = yield* DeadLetterQueue.makeStoreMemory
      const slow: DeadLetterQueue.DeadLetterQueueStore["Type"] = {
        ...store,
        insertAll: (entries) => Effect.zipRight(Effect.sleep(Duration.millis(10)), store.insertAll(entries))
      }
      const dlq = yield* DeadLetterQueue.make().pipe(Effect.provideService(DeadLetterQueue.DeadLetterQueueStore, slow))
      const failure = DeadLetterQueue.failureOf(
        new Error("x"),
        Classification.make({ category: "network", code: "t", message: "t" }),
        []
      )
      const add = (queue: string) => dlq.add({ queue, payload: {}, failure })
      const first = yield* Effect.fork(add("first"))
      yield* Effect.yieldNow()
      const dropped = yield* Effect.fork(add("dropped"))
      const last = yield* Effect.fork(add("last"))
      yield* Effect.yieldNow()
      yield* Fiber.interrupt(dropped)
      for (let i = 0; i < 3; i++) yield* TestClock.adjust(Duration.millis(10))
      expect((yield* Fiber.join(first)).queue).toBe("first")
      expect((yield* Fiber.join(last)).queue).toBe("last")
      const rows = yield* store.counts
      expect(rows.map((r) => r.queue).sort()).toEqual(["first", "last"])
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.effect("one caller's failing entries do not fail the others sharing its write", () =>
    Effect.gen(function* () {
      const store = yield* DeadLetterQueue.makeStoreMemory
      const picky: DeadLetterQueue.DeadLetterQueueStore["Type"] = {
        ...store,
        insertAll: (entries) =>
          Effect.zipRight(
            Effect.sleep(Duration.millis(10)),
            entries.some((e) => e.queue === "bad")
              ? Effect.fail(new DeadLetterQueue.DeadLetterStoreError({ reason: "failed", message: "refused" }))
              : store.insertAll(entries)
          )
      }
      const dlq = yield* DeadLetterQueue.make().pipe(Effect.provideService(DeadLetterQueue.DeadLetterQueueStore, picky))
      const failure = DeadLetterQueue.failureOf(
        new Error("x"),
        Classification.make({ category: "network", code: "t", message: "t" }),
        []
      )
      const fiber = yield* Effect.fork(
        Effect.forEach(
          ["first", "good", "bad", "good"],
          (queue) => Effect.either(dlq.add({ queue, payload: {}, failure })),
          { concurrency: "unbounded" }
        )
      )
      for (let i = 0; i < 5; i++) yield* TestClock.adjust(Duration.millis(10))
      const results = yield* Fiber.join(fiber)
      expect(results.map((r) => r._tag)).toEqual(["Right", "Right", "Left", "Right"])
      expect((yield* store.counts).reduce((n, row) => n + row.count, 0)).toBe(3)
    }).pipe(Effect.provide(Classifier.layer))
  )
})

describe("DeadLetterQueue config", () => {
  it.effect("a bad lease fails make with a ParseError naming the path", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        DeadLetterQueue.make({ lease: -5 }).pipe(Effect.provide(DeadLetterQueue.layerStoreMemory))
      )
      expect(error._tag).toBe("ParseError")
      expect(error.message).toContain("lease")
      const zero = yield* Effect.flip(
        DeadLetterQueue.make({ lease: 0 }).pipe(Effect.provide(DeadLetterQueue.layerStoreMemory))
      )
      expect(zero.message).toContain("lease")
    })
  )

  it.effect("lease accepts milliseconds or a duration string", () =>
    Effect.gen(function* () {
      const a = yield* DeadLetterQueue.make({ lease: 1500 }).pipe(Effect.provide(DeadLetterQueue.layerStoreMemory))
      const b = yield* DeadLetterQueue.make({ lease: "2 minutes" }).pipe(
        Effect.provide(DeadLetterQueue.layerStoreMemory)
      )
      expect(Duration.toMillis(a.config.lease)).toBe(1500)
      expect(Duration.toMillis(b.config.lease)).toBe(120_000)
    })
  )
})
