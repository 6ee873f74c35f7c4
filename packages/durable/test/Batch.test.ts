import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Batch from "../src/Batch.js"
import * as Checkpoint from "../src/Checkpoint.js"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as DeadLetterQueue from "../src/DeadLetterQueue.js"
import * as Errors from "@effect-resilience/core/Errors"
import * as Idempotency from "../src/Idempotency.js"
import * as RetryPolicy from "@effect-resilience/core/RetryPolicy"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", { reason: Schema.String }) {}
class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {}) {}

/** The test classifier: Rejected is permanent, Unavailable transient, anything else unknown. */
const TestClassifier = Classifier.layerFrom((failure) =>
  failure instanceof Rejected
    ? Classification.make({ category: "validation", code: "test.rejected", message: "The upstream rejected the item" })
    : failure instanceof Unavailable
      ? Classification.make({ category: "unavailable", code: "test.503", message: "The upstream is unavailable" })
      : Classification.unknown
)

const Stores = Layer.mergeAll(
  Checkpoint.layerStoreMemory,
  Idempotency.layerStoreMemory,
  DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
  TestClassifier
)

const Order = Schema.Struct({ id: Schema.String, amount: Schema.Number })
type Order = typeof Order.Type
const orders = (n: number): Array<Order> => Array.from({ length: n }, (_, i) => ({ id: `o-${i + 1}`, amount: i + 1 }))

const keysOf = (outcomes: ReadonlyArray<{ readonly key: string }>) => outcomes.map((o) => o.key)

const pendingDeadLetters = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
  Effect.map(dlq.list({ status: "pending" }, { limit: 1000 }), (page) => page.entries)
)

describe("Batch", () => {
  it.effect("successes complete, permanent failures and exhausted retries are dead-lettered", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(new Map<string, number>())
      const count = (id: string) => Ref.update(calls, (m) => new Map(m).set(id, (m.get(id) ?? 0) + 1))
      const process = (order: Order, ctx: Batch.ItemContext): Effect.Effect<string, Rejected | Unavailable> =>
        Effect.gen(function* () {
          yield* count(order.id)
          if (order.id === "o-2") return yield* new Rejected({ reason: "bad amount" })
          if (order.id === "o-4") return yield* new Unavailable()
          return `receipt:${ctx.idempotencyKey}`
        })
      // A retry wrapper in the place of the retry pipeline: two retries, then RetriesExhausted.
      const policy = <A>(effect: Effect.Effect<A, Rejected | Unavailable>) =>
        effect.pipe(
          Effect.retry({ times: 2, while: (e) => e._tag === "Unavailable" }),
          Effect.catchTag("Unavailable", (e) =>
            Effect.fail(
              new Errors.RetriesExhausted({
                operation: "send",
                reason: "exhausted",
                attempts: [1, 2, 3].map((attempt) => ({
                  attempt,
                  failure: { tag: e._tag, message: "unavailable" },
                  classification: Classification.make({ category: "unavailable", code: "test.503", message: "x" }),
                  atMillis: attempt
                }))
              })
            )
          )
        )
      const result = yield* Batch.run({
        batchId: "b1",
        items: orders(5),
        key: (o) => o.id,
        process,
        policy,
        itemSchema: Order,
        resultSchema: Schema.String,
        concurrency: 2
      })
      expect(result.status).toBe("completed")
      expect(keysOf(result.succeeded)).toEqual(["o-1", "o-3", "o-5"])
      expect(result.succeeded[0]).toMatchObject({ result: "receipt:b1/o-1", replayed: false })
      expect(keysOf(result.deadLettered)).toEqual(["o-2", "o-4"])
      expect(result.deadLettered.map((d) => d.classification.code)).toEqual(["test.rejected", "test.503"])
      expect(result.failed).toEqual([])
      expect(result.skipped).toEqual([])
      expect(result.outcomes.map((o) => o._tag)).toEqual([
        "Succeeded",
        "DeadLettered",
        "Succeeded",
        "DeadLettered",
        "Succeeded"
      ])
      // The permanent failure ran once; the transient one three times (the policy's retries).
      const seen = yield* Ref.get(calls)
      expect(seen.get("o-2")).toBe(1)
      expect(seen.get("o-4")).toBe(3)

      const letters = yield* pendingDeadLetters
      const byKey = new Map(letters.map((e) => [e.idempotencyKey, e]))
      const rejected = byKey.get("b1/o-2")!
      expect(rejected.queue).toBe("b1")
      expect(rejected.payload).toEqual({ id: "o-2", amount: 2 })
      expect(rejected.failure.tag).toBe("Rejected")
      expect(rejected.failure.classification.retryable).toBe(false)
      const exhausted = byKey.get("b1/o-4")!
      expect(exhausted.failure.tag).toBe("RetriesExhausted")
      expect(exhausted.failure.history.map((a) => a.attempt)).toEqual([1, 2, 3])
      expect(exhausted.failure.classification.code).toBe("test.503")

      const checkpoint = yield* Effect.flatMap(Checkpoint.CheckpointStore, (s) => s.load("b1"))
      expect(new Map(checkpoint.map((e) => [e.key, e.outcome]))).toEqual(
        new Map([
          ["o-1", "succeeded"],
          ["o-2", "dead-lettered"],
          ["o-3", "succeeded"],
          ["o-4", "dead-lettered"],
          ["o-5", "succeeded"]
        ])
      )
    }).pipe(Effect.provide(Stores))
  )

  it.effect("the retry pipeline plugs in as the per-item policy; its attempt history reaches the dead letter", () =>
    Effect.gen(function* () {
      const attempts = yield* Ref.make(new Map<string, number>())
      const process = (order: Order) =>
        Effect.flatMap(
          Ref.modify(attempts, (m) => {
            const n = (m.get(order.id) ?? 0) + 1
            return [n, new Map(m).set(order.id, n)] as const
          }),
          (n): Effect.Effect<number, Unavailable> =>
            order.id === "o-2" || n < 3 ? Effect.fail(new Unavailable()) : Effect.succeed(n)
        )
      const policy = yield* RetryPolicy.make<Unavailable>({
        operation: "send",
        maxAttempts: 3,
        schedule: Schedule.spaced("100 millis")
      })
      const fiber = yield* Effect.fork(
        Batch.run({
          batchId: "retry",
          items: orders(3),
          key: (o) => o.id,
          process,
          policy: RetryPolicy.retry(policy),
          itemSchema: Order,
          resultSchema: Schema.Number,
          concurrency: 3
        })
      )
      yield* TestClock.adjust(Duration.seconds(1))
      const result = yield* Fiber.join(fiber)
      expect(result.succeeded.map((s) => [s.key, s.result])).toEqual([
        ["o-1", 3],
        ["o-3", 3]
      ])
      expect(keysOf(result.deadLettered)).toEqual(["o-2"])
      const [letter] = yield* pendingDeadLetters
      expect(letter?.failure.tag).toBe("RetriesExhausted")
      expect(letter?.failure.classification.code).toBe("test.503")
      expect(letter?.failure.history.map((a) => a.attempt)).toEqual([1, 2, 3])
    }).pipe(Effect.provide(Stores))
  )

  it.effect("a defect in one item dead-letters that item and leaves the others alone", () =>
    Effect.gen(function* () {
      const result = yield* Batch.run({
        batchId: "defects",
        items: [1, 2, 3],
        key: String,
        process: (n) => (n === 2 ? Effect.die(new Error("bug")) : Effect.succeed(n)),
        itemSchema: Schema.Number,
        resultSchema: Schema.Number
      })
      expect(keysOf(result.succeeded)).toEqual(["1", "3"])
      expect(keysOf(result.deadLettered)).toEqual(["2"])
      expect(result.deadLettered[0]?.classification).toEqual(Classification.unknown)
    }).pipe(Effect.provide(Stores))
  )

  it.effect("never runs more than `concurrency` items at once, and reaches that limit", () =>
    Effect.gen(function* () {
      const running = yield* Ref.make(0)
      const max = yield* Ref.make(0)
      const process = (n: number) =>
        Effect.acquireUseRelease(
          Effect.flatMap(
            Ref.updateAndGet(running, (r) => r + 1),
            (r) => Ref.update(max, (m) => Math.max(m, r))
          ),
          () => Effect.sleep(Duration.millis(10 + (n % 3) * 5)),
          () => Ref.update(running, (r) => r - 1)
        )
      const fiber = yield* Effect.fork(
        Batch.run({
          batchId: "bounded",
          items: Array.from({ length: 40 }, (_, i) => i),
          key: String,
          process,
          itemSchema: Schema.Number,
          resultSchema: Schema.Void,
          concurrency: 4
        })
      )
      yield* TestClock.adjust(Duration.seconds(10))
      const result = yield* Fiber.join(fiber)
      expect(result.succeeded.length).toBe(40)
      expect(yield* Ref.get(max)).toBe(4)
      expect(yield* Ref.get(running)).toBe(0)
    }).pipe(Effect.provide(Stores))
  )

  it.effect("a batch interrupted mid-way resumes from its checkpoint: each item's effect happens once", () =>
    Effect.gen(function* () {
      const effects = yield* Ref.make<Array<string>>([])
      const tenDone = yield* Deferred.make<void>()
      const process = (order: Order) =>
        Effect.sleep(Duration.millis(100)).pipe(
          Effect.zipRight(Ref.updateAndGet(effects, (e) => [...e, order.id])),
          Effect.tap((e) => (e.length === 10 ? Deferred.succeed(tenDone, undefined) : Effect.void)),
          Effect.as(order.amount * 100)
        )
      const options = {
        batchId: "resume",
        items: orders(30),
        key: (o: Order) => o.id,
        process,
        itemSchema: Order,
        resultSchema: Schema.Number,
        concurrency: 3
      }
      const first = yield* Effect.fork(Batch.run(options))
      yield* TestClock.adjust(Duration.millis(400)) // 4 rounds of 3 items: 12 done
      yield* Deferred.await(tenDone)
      yield* Fiber.interrupt(first) // the "crash"
      const doneBefore = (yield* Ref.get(effects)).length

      const second = yield* Effect.fork(Batch.run(options))
      yield* TestClock.adjust(Duration.seconds(10))
      const result = yield* Fiber.join(second)

      const all = yield* Ref.get(effects)
      expect(all.length).toBe(30)
      expect(new Set(all).size).toBe(30)
      // Items completed before the crash are skipped (checkpoint) or replayed from the
      // idempotency store (completed but checkpoint entry not yet written): none runs again.
      const notRunAgain = result.skipped.length + result.succeeded.filter((s) => s.replayed).length
      expect(notRunAgain).toBe(doneBefore)
      expect(result.skipped.length).toBeGreaterThan(0)
      expect(result.skipped.every((s) => s.previous === "succeeded")).toBe(true)
      expect(result.succeeded.length + result.skipped.length).toBe(30)
      // Replayed results are the stored ones, decoded.
      for (const s of result.succeeded) expect(s.result).toBe(s.item.amount * 100)
    }).pipe(Effect.provide(Stores))
  )

  it.effect("a rerun after the checkpoint was lost replays results from the idempotency store without calling", () =>
    Effect.gen(function* () {
      const calls = yield* Ref.make(0)
      const options = {
        batchId: "repeat",
        items: orders(5),
        key: (o: Order) => o.id,
        process: (o: Order) =>
          Effect.as(
            Ref.update(calls, (n) => n + 1),
            { total: o.amount * 2 }
          ),
        itemSchema: Order,
        resultSchema: Schema.Struct({ total: Schema.Number })
      }
      const first = yield* Batch.run(options)
      yield* Effect.flatMap(Checkpoint.CheckpointStore, (s) => s.clear("repeat"))
      const second = yield* Batch.run(options)
      expect(yield* Ref.get(calls)).toBe(5)
      expect(second.succeeded.every((s) => s.replayed)).toBe(true)
      expect(second.succeeded.map((s) => s.result)).toEqual(first.succeeded.map((s) => s.result))
      // With the checkpoint intact, a third run skips everything.
      const third = yield* Batch.run(options)
      expect(third.skipped.length).toBe(5)
      expect(yield* Ref.get(calls)).toBe(5)
    }).pipe(Effect.provide(Stores))
  )

  it.effect("an item whose key is leased by a crashed owner waits for the lease, then runs as attempt 2", () =>
    Effect.gen(function* () {
      const store = yield* Idempotency.IdempotencyStore
      yield* store.acquire(Batch.idempotencyKey("lease", "a"), { owner: "crashed-process", leaseMillis: 3000 })
      const attempts = yield* Ref.make<Array<[string, number]>>([])
      const fiber = yield* Effect.fork(
        Batch.run({
          batchId: "lease",
          items: ["a", "b"],
          key: (s) => s,
          process: (s, ctx) => Ref.update(attempts, (a) => [...a, [s, ctx.attempt] as [string, number]]),
          itemSchema: Schema.String,
          resultSchema: Schema.Void,
          concurrency: 2
        })
      )
      yield* TestClock.adjust(Duration.millis(2999))
      expect(yield* Ref.get(attempts)).toEqual([["b", 1]])
      yield* TestClock.adjust(Duration.millis(1))
      yield* Fiber.join(fiber)
      expect(yield* Ref.get(attempts)).toEqual([
        ["b", 1],
        ["a", 2]
      ])
    }).pipe(Effect.provide(Stores))
  )

  it.effect("an item already in the dead letter queue (crash before its checkpoint) is not run again", () =>
    Effect.gen(function* () {
      yield* DeadLetterQueue.deadLetter(Order, {
        queue: "dlq-dedupe",
        payload: { id: "o-2", amount: 2 },
        failure: new Rejected({ reason: "x" }),
        classification: Classification.make({ category: "validation", code: "test.rejected", message: "rejected" }),
        history: [],
        idempotencyKey: Batch.idempotencyKey("dlq-dedupe", "o-2")
      })
      const ran = yield* Ref.make<Array<string>>([])
      const result = yield* Batch.run({
        batchId: "dlq-dedupe",
        items: orders(3),
        key: (o) => o.id,
        process: (o) => Ref.update(ran, (r) => [...r, o.id]),
        itemSchema: Order,
        resultSchema: Schema.Void
      })
      expect(yield* Ref.get(ran)).toEqual(["o-1", "o-3"])
      expect(result.skipped).toMatchObject([{ key: "o-2", previous: "dead-lettered" }])
      expect((yield* pendingDeadLetters).length).toBe(1)
      const checkpoint = yield* Effect.flatMap(Checkpoint.CheckpointStore, (s) => s.load("dlq-dedupe"))
      expect(checkpoint).toContainEqual({ key: "o-2", outcome: "dead-lettered" })
    }).pipe(Effect.provide(Stores))
  )

  it.effect("all-or-nothing: a failure compensates the completed items in reverse order", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<Array<string>>([])
      const say = (line: string) => Ref.update(log, (l) => [...l, line])
      const result = yield* Batch.run({
        batchId: "saga",
        items: orders(5),
        key: (o) => o.id,
        process: (o) =>
          o.id === "o-4" ? Effect.fail(new Rejected({ reason: "no" })) : Effect.as(say(`do ${o.id}`), `tx-${o.id}`),
        compensate: (o, tx) => say(`undo ${o.id} (${tx})`),
        itemSchema: Order,
        resultSchema: Schema.String,
        mode: "all-or-nothing"
      })
      expect(yield* Ref.get(log)).toEqual([
        "do o-1",
        "do o-2",
        "do o-3",
        "undo o-3 (tx-o-3)",
        "undo o-2 (tx-o-2)",
        "undo o-1 (tx-o-1)"
      ])
      expect(result.status).toBe("rolled-back")
      expect(result.outcomes.map((o) => o._tag)).toEqual([
        "Compensated",
        "Compensated",
        "Compensated",
        "Failed",
        "Cancelled"
      ])
      expect(result.failed[0]?.classification.code).toBe("test.rejected")
      expect(yield* pendingDeadLetters).toEqual([])
      const checkpoint = yield* Effect.flatMap(Checkpoint.CheckpointStore, (s) => s.load("saga"))
      expect(checkpoint).toEqual([
        { key: "o-1", outcome: "compensated" },
        { key: "o-2", outcome: "compensated" },
        { key: "o-3", outcome: "compensated" }
      ])
    }).pipe(Effect.provide(Stores))
  )

  it.effect("all-or-nothing after a restart also compensates items completed by the earlier run", () =>
    Effect.gen(function* () {
      const log = yield* Ref.make<Array<string>>([])
      const say = (line: string) => Ref.update(log, (l) => [...l, line])
      const options = (items: ReadonlyArray<Order>) => ({
        batchId: "saga-restart",
        items,
        key: (o: Order) => o.id,
        process: (o: Order) =>
          o.id === "o-5" ? Effect.fail(new Rejected({ reason: "no" })) : Effect.as(say(`do ${o.id}`), o.amount * 10),
        compensate: (o: Order, amount: number) => say(`undo ${o.id} (${amount})`),
        itemSchema: Order,
        resultSchema: Schema.Number,
        mode: "all-or-nothing" as const
      })
      // The earlier run got through o-1..o-3 (then "crashed": here it simply ended).
      yield* Batch.run(options(orders(3)))
      const result = yield* Batch.run(options(orders(5)))
      expect(yield* Ref.get(log)).toEqual([
        "do o-1",
        "do o-2",
        "do o-3",
        "do o-4",
        "undo o-4 (40)",
        "undo o-3 (30)",
        "undo o-2 (20)",
        "undo o-1 (10)"
      ])
      expect(result.status).toBe("rolled-back")
      expect(keysOf(result.compensated)).toEqual(["o-1", "o-2", "o-3", "o-4"])
    }).pipe(Effect.provide(Stores))
  )

  it.effect("all-or-nothing: a compensation that fails is reported and dead-lettered for a person", () =>
    Effect.gen(function* () {
      const result = yield* Batch.run({
        batchId: "saga-bad",
        items: orders(3),
        key: (o) => o.id,
        process: (o) => (o.id === "o-3" ? Effect.fail(new Rejected({ reason: "no" })) : Effect.void),
        compensate: (o) => (o.id === "o-1" ? Effect.fail(new Unavailable()) : Effect.void),
        itemSchema: Order,
        resultSchema: Schema.Void,
        mode: "all-or-nothing"
      })
      expect(result.status).toBe("stopped")
      expect(keysOf(result.compensated)).toEqual(["o-2"])
      expect(keysOf(result.compensationFailed)).toEqual(["o-1"])
      const letters = yield* pendingDeadLetters
      expect(letters.map((e) => [e.queue, e.idempotencyKey])).toEqual([["saga-bad.compensation", "saga-bad/o-1"]])
      expect(Option.isSome(result.compensationFailed[0]!.deadLetterId)).toBe(true)
    }).pipe(Effect.provide(Stores))
  )

  it.effect("all-or-nothing without compensate stops at the first failure", () =>
    Effect.gen(function* () {
      const result = yield* Batch.run({
        batchId: "stop",
        items: [1, 2, 3, 4],
        key: String,
        process: (n) => (n === 2 ? Effect.fail(new Rejected({ reason: "no" })) : Effect.succeed(n)),
        itemSchema: Schema.Number,
        resultSchema: Schema.Number,
        mode: "all-or-nothing"
      })
      expect(result.status).toBe("stopped")
      expect(result.outcomes.map((o) => o._tag)).toEqual(["Succeeded", "Failed", "Cancelled", "Cancelled"])
    }).pipe(Effect.provide(Stores))
  )

  it.effect("progress reports done, rate and time left from the Clock, and ends when the batch ends", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(
        Effect.scoped(
          Effect.gen(function* () {
            const handle = yield* Batch.start({
              batchId: "progress",
              items: [1, 2, 3, 4],
              key: String,
              process: (n) => (n === 3 ? Effect.fail(new Rejected({ reason: "no" })) : Effect.sleep("1 second")),
              itemSchema: Schema.Number,
              resultSchema: Schema.Void,
              progressInterval: Duration.zero
            })
            const values = yield* Effect.fork(
              Stream.runCollect(
                Stream.changesWith(handle.progress, (a, b) => a.done === b.done && a.finished === b.finished)
              )
            )
            const result = yield* handle.result
            return { result, values: Chunk.toReadonlyArray(yield* Fiber.join(values)) }
          })
        )
      )
      yield* TestClock.adjust(Duration.seconds(10))
      const { result, values } = yield* Fiber.join(fiber)
      expect(result.deadLettered.length).toBe(1)
      expect(
        values.map((p) => ({
          done: p.done,
          succeeded: p.succeeded,
          failed: p.failed,
          elapsed: p.elapsedMillis,
          rate: p.rate,
          eta: Option.getOrNull(p.etaMillis),
          finished: p.finished
        }))
      ).toEqual([
        { done: 0, succeeded: 0, failed: 0, elapsed: 0, rate: 0, eta: null, finished: false },
        { done: 1, succeeded: 1, failed: 0, elapsed: 1000, rate: 1, eta: 3000, finished: false },
        { done: 2, succeeded: 2, failed: 0, elapsed: 2000, rate: 1, eta: 2000, finished: false },
        // item 3 fails at once (no sleep): 3 done in 2 s
        { done: 3, succeeded: 2, failed: 1, elapsed: 2000, rate: 1.5, eta: 667, finished: false },
        { done: 4, succeeded: 3, failed: 1, elapsed: 3000, rate: 4 / 3, eta: 0, finished: false },
        { done: 4, succeeded: 3, failed: 1, elapsed: 3000, rate: 4 / 3, eta: 0, finished: true }
      ])
    }).pipe(Effect.provide(Stores))
  )

  it.effect(
    "progress is published at most once per progressInterval (100 ms by default), and its final value always",
    () =>
      Effect.gen(function* () {
        const fiber = yield* Effect.fork(
          Effect.scoped(
            Effect.gen(function* () {
              const handle = yield* Batch.start({
                batchId: "progress-sampled",
                items: [10, 20, 30, 250, 50],
                key: String,
                process: (ms) => Effect.sleep(Duration.millis(ms)),
                itemSchema: Schema.Number,
                resultSchema: Schema.Void
              })
              const values = yield* Effect.fork(Stream.runCollect(handle.progress))
              yield* handle.result
              return Chunk.toReadonlyArray(yield* Fiber.join(values))
            })
          )
        )
        yield* TestClock.adjust(Duration.seconds(1))
        const values = yield* Fiber.join(fiber)
        // one item after the other, ending at 10, 30, 60, 310 and 360 ms: 0 ms is the first value;
        // 10, 30 and 60 ms are within 100 ms of it, not published; 310 ms is published; 360 ms is
        // within 100 ms of that, but the final value follows at once
        expect(values.map((p) => [p.done, p.elapsedMillis, p.finished])).toEqual([
          [0, 0, false],
          [4, 310, false],
          [5, 360, true]
        ])
      }).pipe(Effect.provide(Stores))
  )

  it.effect("two items with one key fail the batch before anything runs", () =>
    Effect.gen(function* () {
      const ran = yield* Ref.make(0)
      const error = yield* Effect.flip(
        Batch.run({
          batchId: "dup",
          items: ["a", "b", "a"],
          key: (s) => s,
          process: () => Ref.update(ran, (n) => n + 1),
          itemSchema: Schema.String,
          resultSchema: Schema.Void
        })
      )
      expect(error).toEqual(new Batch.DuplicateItemKey({ batchId: "dup", key: "a" }))
      expect(yield* Ref.get(ran)).toBe(0)
    }).pipe(Effect.provide(Stores))
  )

  it.effect("a failing batch at concurrency 1 leases in growing windows, releases in groups, and frees every key", () =>
    Effect.gen(function* () {
      const memory = yield* Idempotency.IdempotencyStore
      const calls = { acquire: 0, acquireAll: 0, acquiredKeys: 0, release: 0, releaseAll: 0, releasedKeys: 0 }
      const counted = Layer.succeed(Idempotency.IdempotencyStore, {
        ...memory,
        acquire: (key, lease) => {
          calls.acquire++
          return memory.acquire(key, lease)
        },
        acquireAll: (keys, lease) => {
          calls.acquireAll++
          calls.acquiredKeys += keys.length
          return memory.acquireAll(keys, lease)
        },
        release: (key, owner) => {
          calls.release++
          return memory.release(key, owner)
        },
        releaseAll: (keys, owner) => {
          calls.releaseAll++
          calls.releasedKeys += keys.length
          return memory.releaseAll(keys, owner)
        }
      })
      const items = orders(1000)
      const result = yield* Batch.run({
        batchId: "failing-fast",
        items,
        key: (o) => o.id,
        process: () => Effect.fail(new Rejected({ reason: "no" })),
        itemSchema: Order,
        resultSchema: Schema.Void,
        concurrency: 1
      }).pipe(Effect.provide(counted))
      expect(result.deadLettered).toHaveLength(1000)
      // the Clock stands still, so every window is used up "fast": 1, 2, 4, ... 256, 256, 233
      expect(calls.acquiredKeys).toBe(1000)
      expect(calls.acquireAll).toBe(11)
      expect(calls.acquire).toBe(0)
      // every failed item's key released, in shared statements, none on its own
      expect(calls.releasedKeys).toBe(1000)
      expect(calls.release).toBe(0)
      expect(calls.releaseAll).toBeLessThan(1000)
      // released, not left to expire: another owner takes each key at once (the Clock never moved)
      const again = yield* memory.acquireAll(
        items.map((o) => Batch.idempotencyKey("failing-fast", o.id)),
        { owner: "next-owner", leaseMillis: 1000 }
      )
      expect(again.filter((a) => a._tag === "Acquired")).toHaveLength(1000)
    }).pipe(Effect.provide(Stores))
  )

  it.effect("a checkpoint store that fails stops the batch with its error", () =>
    Effect.gen(function* () {
      const failing = Layer.succeed(Checkpoint.CheckpointStore, {
        load: () => Effect.succeed([]),
        record: () => Effect.fail(new Checkpoint.CheckpointError({ operation: "record", message: "disk full" })),
        clear: () => Effect.void
      })
      const error = yield* Effect.flip(
        Batch.run({
          batchId: "broken",
          items: [1, 2, 3],
          key: String,
          process: () => Effect.void,
          itemSchema: Schema.Number,
          resultSchema: Schema.Void
        }).pipe(Effect.provide(failing))
      )
      expect(error).toMatchObject({ _tag: "CheckpointError", operation: "record" })
    }).pipe(Effect.provide(Stores))
  )
})
