/**
 * Batch on the SQL stores: checkpoint, idempotency keys and dead letters in one SQLite file or one
 * PostgreSQL database (a fresh one per test, dropped afterwards).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Batch from "@effect-resilience/durable/Batch"
import * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as DeadLetterQueue from "@effect-resilience/durable/DeadLetterQueue"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as SqlCheckpoint from "../src/SqlCheckpoint.js"
import * as SqlDeadLetterQueue from "../src/SqlDeadLetterQueue.js"
import * as SqlIdempotency from "../src/SqlIdempotency.js"
import * as PgTest from "./support/postgres.js"

class Rejected extends Schema.TaggedError<Rejected>()("Rejected", {}) {}

const classifier = Classifier.layerFrom((failure) =>
  failure instanceof Rejected
    ? Classification.make({ category: "validation", code: "test.rejected", message: "Rejected" })
    : Classification.unknown
)

const storesOn = <E, R>(client: Layer.Layer<SqlClient.SqlClient, E, R>) =>
  Layer.mergeAll(
    SqlCheckpoint.layerStore,
    SqlIdempotency.layerStore,
    DeadLetterQueue.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStore))
  ).pipe(Layer.provide(client), Layer.merge(classifier))

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "batch-sql-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

const sqlite = Layer.unwrapScoped(
  Effect.map(tempDir, (dir) => storesOn(SqliteClient.layer({ filename: join(dir, "batch.db") })))
)

const pg = Layer.unwrapScoped(
  Effect.map(PgTest.makeDatabase, (db) => storesOn(PgTest.clientLayer(db.url, { maxConnections: 6 })))
)

const Order = Schema.Struct({ id: Schema.Number })
type Order = typeof Order.Type
const orders = (n: number) => Array.from({ length: n }, (_, id): Order => ({ id }))

const stores: ReadonlyArray<readonly [string, Layer.Layer<Batch.Services, unknown>]> = [
  ["SQLite", sqlite],
  ["PostgreSQL", pg]
]

for (const [name, layer] of stores) {
  describe(`Batch on ${name}`, () => {
    it.live("outcomes, dead letters and checkpoint are stored; a rerun skips every item", () =>
      Effect.gen(function* () {
        const effects = yield* Ref.make(0)
        const options = {
          batchId: "sql-batch",
          items: orders(20),
          key: (o: Order) => `order-${o.id}`,
          process: (o: Order) =>
            o.id % 5 === 2
              ? Effect.fail(new Rejected())
              : Effect.as(
                  Ref.update(effects, (n) => n + 1),
                  o.id * 2
                ),
          itemSchema: Order,
          resultSchema: Schema.Number,
          concurrency: 4
        }
        const first = yield* Batch.run(options)
        expect(first.succeeded.length).toBe(16)
        expect(first.deadLettered.map((d) => d.key)).toEqual(["order-2", "order-7", "order-12", "order-17"])
        const letters = yield* Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
          dlq.list({ queue: "sql-batch" })
        )
        expect(letters.entries.map((e) => e.idempotencyKey).sort()).toEqual([
          "sql-batch/order-12",
          "sql-batch/order-17",
          "sql-batch/order-2",
          "sql-batch/order-7"
        ])
        const checkpoint = yield* Effect.flatMap(Checkpoint.CheckpointStore, (s) => s.load("sql-batch"))
        expect(checkpoint.length).toBe(20)

        const second = yield* Batch.run(options)
        expect(second.skipped.length).toBe(20)
        expect(yield* Ref.get(effects)).toBe(16)
        expect((yield* Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.list({}))).total).toBe(4)
      }).pipe(Effect.provide(layer))
    )

    it.live("two runners of one batch at once: every item's effect happens once", () =>
      Effect.gen(function* () {
        const effects = yield* Ref.make(new Map<number, number>())
        const run = Batch.run({
          batchId: "shared",
          items: orders(24),
          key: (o) => `order-${o.id}`,
          process: (o) =>
            Effect.sleep(Duration.millis(15)).pipe(
              Effect.zipRight(Ref.update(effects, (m) => new Map(m).set(o.id, (m.get(o.id) ?? 0) + 1))),
              Effect.as(`receipt-${o.id}`)
            ),
          itemSchema: Order,
          resultSchema: Schema.String,
          concurrency: 4
        })
        const [a, b] = yield* Effect.all([run, run], { concurrency: 2 })
        const counts = yield* Ref.get(effects)
        expect([...counts.values()].every((n) => n === 1)).toBe(true)
        expect(counts.size).toBe(24)
        // Each item: one runner ran it, the other replayed its result or skipped it.
        for (let id = 0; id < 24; id++) {
          const ran = [a, b].filter((r) => {
            const o = r.outcomes[id]
            return o?._tag === "Succeeded" && !o.replayed
          }).length
          expect(ran).toBe(1)
          for (const r of [a, b]) {
            const o = r.outcomes[id]
            if (o?._tag === "Succeeded") expect(o.result).toBe(`receipt-${id}`)
            else expect(o?._tag).toBe("Skipped")
          }
        }
      }).pipe(Effect.provide(layer))
    )
  })
}
