/**
 * Property: for any mix of items (succeeding, failing for good, failing a few times then
 * succeeding, dying), any concurrency, and an interruption after any number of completed effects
 * followed by a rerun of the same batch, every item ends either succeeded with its effect applied
 * exactly once or dead-lettered exactly once, never both, never neither; the checkpoint agrees; and
 * no more than `concurrency` items ever run at once.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as fc from "fast-check"
import * as Batch from "../src/Batch.js"
import * as Checkpoint from "../src/Checkpoint.js"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as DeadLetterQueue from "../src/DeadLetterQueue.js"
import * as Idempotency from "../src/Idempotency.js"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {}) {}
class Unavailable extends Schema.TaggedError<Unavailable>()("Unavailable", {}) {}

type Behaviour = "ok" | "rejected" | "dies" | { readonly failures: number }

const behaviourArb: fc.Arbitrary<Behaviour> = fc.oneof(
  fc.constant("ok" as const),
  fc.constant("rejected" as const),
  fc.constant("dies" as const),
  fc.record({ failures: fc.integer({ min: 1, max: 4 }) })
)

const classifier = Classifier.layerFrom((failure) =>
  failure instanceof Unavailable
    ? Classification.make({ category: "unavailable", code: "test.503", message: "Unavailable" })
    : failure instanceof Rejected
      ? Classification.make({ category: "validation", code: "test.400", message: "Rejected" })
      : Classification.unknown
)

const Item = Schema.Struct({ id: Schema.Number })

const coverage = { interrupted: 0, skippedOnRerun: 0, deadLettered: 0, retriedToSuccess: 0 }

const check = (behaviours: ReadonlyArray<Behaviour>, concurrency: number, interruptAfter: number) =>
  Effect.gen(function* () {
    const applied = yield* Ref.make(new Map<number, number>())
    const attempts = yield* Ref.make(new Map<number, number>())
    const running = yield* Ref.make(0)
    const maxRunning = yield* Ref.make(0)
    const enough = yield* Deferred.make<void>()

    const process = (item: { readonly id: number }) =>
      Effect.acquireUseRelease(
        Effect.flatMap(
          Ref.updateAndGet(running, (n) => n + 1),
          (n) => Ref.update(maxRunning, (m) => Math.max(m, n))
        ),
        () =>
          Effect.gen(function* () {
            yield* Effect.yieldNow()
            const attempt = yield* Ref.modify(attempts, (m) => {
              const n = (m.get(item.id) ?? 0) + 1
              return [n, new Map(m).set(item.id, n)] as const
            })
            const behaviour = behaviours[item.id]!
            if (behaviour === "rejected") return yield* new Rejected()
            if (behaviour === "dies") return yield* Effect.die(new Error("bug"))
            if (typeof behaviour === "object" && attempt <= behaviour.failures) return yield* new Unavailable()
            const total = yield* Ref.updateAndGet(applied, (m) => new Map(m).set(item.id, (m.get(item.id) ?? 0) + 1))
            if ([...total.values()].reduce((a, b) => a + b, 0) >= interruptAfter)
              yield* Deferred.succeed(enough, undefined)
            return item.id
          }),
        () => Ref.update(running, (n) => n - 1)
      )

    const options = {
      batchId: "prop",
      items: behaviours.map((_, id) => ({ id })),
      key: (item: { readonly id: number }) => String(item.id),
      process,
      policy: (effect: Effect.Effect<number, Rejected | Unavailable>) =>
        Effect.retry(effect, { times: 2, while: (e) => e._tag === "Unavailable" }),
      itemSchema: Item,
      resultSchema: Schema.Number,
      concurrency
    }

    // First run, interrupted once `interruptAfter` effects were applied (if it gets that far).
    const first = yield* Effect.fork(Batch.run(options))
    const firstDone = yield* Effect.raceFirst(
      Effect.as(Fiber.await(first), true),
      Effect.as(Deferred.await(enough), false)
    )
    if (!firstDone) {
      coverage.interrupted++
      yield* Fiber.interrupt(first)
    }
    const result = yield* Batch.run(options)
    coverage.skippedOnRerun += result.skipped.length

    const effects = yield* Ref.get(applied)
    const letters = (yield* Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (d) => d.list({}, { limit: 1000 }))).entries
    const checkpoint = new Map(
      (yield* Effect.flatMap(Checkpoint.CheckpointStore, (s) => s.load("prop"))).map((e) => [e.key, e.outcome])
    )
    coverage.deadLettered += letters.length
    for (let id = 0; id < behaviours.length; id++) {
      const behaviour = behaviours[id]!
      const done = effects.get(id) ?? 0
      const inDlq = letters.filter((e) => e.idempotencyKey === `prop/${id}`).length
      expect(done + inDlq, `item ${id} (${JSON.stringify(behaviour)})`).toBe(1)
      if (behaviour === "ok") expect(done).toBe(1)
      if (behaviour === "rejected" || behaviour === "dies") expect(inDlq).toBe(1)
      if (typeof behaviour === "object" && done === 1) coverage.retriedToSuccess++
      expect(checkpoint.get(String(id))).toBe(done === 1 ? "succeeded" : "dead-lettered")
    }
    expect(result.failed).toEqual([])
    expect(result.cancelled).toEqual([])
    expect(result.succeeded.length + result.deadLettered.length + result.skipped.length).toBe(behaviours.length)
    expect(yield* Ref.get(maxRunning)).toBeLessThanOrEqual(concurrency)
  }).pipe(
    // One set of stores for both runs, as a restarted process would find them.
    Effect.provide(
      Layer.mergeAll(
        Checkpoint.layerStoreMemory,
        Idempotency.layerStoreMemory,
        DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
        classifier
      )
    )
  )

describe("Batch properties", () => {
  it("every item succeeds once or is dead-lettered once, across an interruption and a rerun", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(behaviourArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 9 }),
        (behaviours, concurrency, tenths) =>
          // Interrupt after some fraction of the items applied their effect.
          // (its dead letters' log lines are not what this property is about)
          Effect.runPromise(
            check(behaviours, concurrency, Math.max(1, Math.floor((behaviours.length * tenths) / 10))).pipe(
              Logger.withMinimumLogLevel(LogLevel.None)
            )
          )
      ),
      { numRuns: 150 }
    )
    // The interesting paths were taken often enough for the property to mean something.
    expect(coverage.interrupted).toBeGreaterThan(30)
    expect(coverage.skippedOnRerun).toBeGreaterThan(100)
    expect(coverage.deadLettered).toBeGreaterThan(100)
    expect(coverage.retriedToSuccess).toBeGreaterThan(50)
  }, 120_000)
})
