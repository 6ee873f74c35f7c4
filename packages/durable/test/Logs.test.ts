import { describe, expect, it } from "@effect/vitest"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Effect from "effect/Effect"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Schema from "effect/Schema"
import * as Batch from "../src/Batch.js"
import * as Checkpoint from "../src/Checkpoint.js"
import * as DeadLetterQueue from "../src/DeadLetterQueue.js"
import * as Idempotency from "../src/Idempotency.js"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {}) {}

interface Line {
  readonly level: string
  readonly message: string
  readonly annotations: Record<string, unknown>
}

/** A logger that keeps every line, with its annotations. */
const capture = () => {
  const lines: Array<Line> = []
  const logger = Logger.make<unknown, void>(({ annotations, logLevel, message }) => {
    const text = Array.isArray(message) ? message.map(String).join(" ") : String(message)
    lines.push({
      level: logLevel.label,
      message: text,
      annotations: Object.fromEntries(HashMap.toEntries(annotations))
    })
  })
  return {
    lines,
    layer: Layer.merge(Logger.replace(Logger.defaultLogger, logger), Logger.minimumLogLevel(LogLevel.Debug))
  }
}

const Stores = Layer.mergeAll(
  Checkpoint.layerStoreMemory,
  Idempotency.layerStoreMemory,
  DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
  Classifier.layerFrom((failure) =>
    failure instanceof Rejected
      ? Classification.make({ category: "validation", code: "test.rejected", message: "The upstream rejected it" })
      : Classification.unknown
  )
)

describe("durable logs", () => {
  it.effect(
    "a batch's dead letters are one warning per queue and code, with the batch id; replay and discard are info",
    () => {
      const { lines, layer } = capture()
      return Effect.gen(function* () {
        const result = yield* Batch.run({
          batchId: "nightly",
          items: Array.from({ length: 20 }, (_, i) => i),
          key: (i) => `k${i}`,
          process: (i: number) => (i % 2 === 0 ? Effect.fail(new Rejected()) : Effect.succeed(i)),
          itemSchema: Schema.Number,
          resultSchema: Schema.Number,
          concurrency: 4
        })
        expect(result.deadLettered).toHaveLength(10)
        const dead = lines.filter((l) => l.message.startsWith("dead-lettered"))
        // ten items, one code: rate-limited to 5 lines, each with the batch id, queue and code
        expect(dead.length).toBeGreaterThanOrEqual(1)
        expect(dead.length).toBeLessThanOrEqual(5)
        for (const line of dead) {
          expect(line.level).toBe("WARN")
          expect(line.annotations).toMatchObject({ batchId: "nightly", queue: "nightly", code: "test.rejected" })
        }

        const dlq = yield* DeadLetterQueue.DeadLetterQueue
        const [first, second] = result.deadLettered
        if (first === undefined || second === undefined) return expect.unreachable()
        yield* dlq.discard(first.deadLetterId, "alice", "not needed")
        const discarded = lines.filter((l) => l.message.includes("discarded"))
        expect(discarded).toHaveLength(1)
        expect(discarded[0]?.annotations).toMatchObject({ id: first.deadLetterId, operator: "alice", queue: "nightly" })
        yield* dlq.replay(second.deadLetterId, () => Effect.void, { operator: "bob" })
        const replayed = lines.filter((l) => l.message.startsWith("replayed dead letters"))
        expect(replayed).toHaveLength(1)
        expect(replayed[0]?.level).toBe("INFO")
        expect(replayed[0]?.annotations).toMatchObject({ operator: "bob", resolved: 1, failed: 0 })
      }).pipe(Effect.provide(Layer.merge(Stores, layer)))
    }
  )

  it.effect("a wholesale failure added in bulk is one line, not one per entry", () => {
    const { lines, layer } = capture()
    return Effect.gen(function* () {
      const dlq = yield* DeadLetterQueue.DeadLetterQueue
      const failure = {
        tag: "Rejected",
        message: "rejected",
        classification: Classification.make({ category: "validation", code: "test.rejected", message: "rejected" }),
        history: []
      }
      yield* dlq.addAll(Array.from({ length: 1000 }, (_, i) => ({ queue: "bulk", payload: i, failure })))
      const dead = lines.filter((l) => l.message.startsWith("dead-lettered"))
      expect(dead.map((l) => l.message)).toEqual(["dead-lettered 1000 items to bulk: test.rejected"])
      expect(dead[0]?.annotations).toMatchObject({ count: 1000, queue: "bulk", category: "validation" })
    }).pipe(Effect.provide(Layer.merge(Stores, layer)))
  })
})
