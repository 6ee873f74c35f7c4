/**
 * PostgreSQL's `text` holds no NUL character (U+0000). A key, owner, batch id or queue name with
 * one is refused before any statement, with an error that says which value it was; nothing is
 * written, and the store goes on working. A SQLite file stores such texts as they are.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Classification from "@effect-resilience/core/Classification"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as Idempotency from "@effect-resilience/durable/Idempotency"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlCheckpoint from "../src/SqlCheckpoint.js"
import * as SqlDeadLetterQueue from "../src/SqlDeadLetterQueue.js"
import * as SqlIdempotency from "../src/SqlIdempotency.js"
import * as PgTest from "./support/postgres.js"

const stores = Layer.mergeAll(
  DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStore)),
  SqlCheckpoint.layerStore,
  SqlIdempotency.layerStore,
  Classifier.layer
)

const pgStores = Layer.unwrapScoped(
  Effect.map(PgTest.makeDatabase, (db) => stores.pipe(Layer.provide(PgTest.clientLayer(db.url, { maxConnections: 2 }))))
)

const sqliteStores = Layer.unwrapScoped(
  Effect.map(
    Effect.acquireRelease(
      Effect.sync(() => mkdtempSync(join(tmpdir(), "nul-test-"))),
      (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
    ),
    (dir) => stores.pipe(Layer.provide(SqliteClient.layer({ filename: join(dir, "stores.db") })))
  )
)

const failure = DLQ.failureOf(
  new Error("boom"),
  Classification.make({ category: "validation", code: "test", message: "Rejected" }),
  []
)

const lease = { owner: "runner", leaseMillis: 60_000 }

describe("a NUL character in a stored text", () => {
  it.scoped("PostgreSQL: a dead letter's queue name or key is named, and nothing of the list is written", () =>
    Effect.gen(function* () {
      const dlq = yield* DLQ.DeadLetterQueue
      const byQueue = yield* Effect.flip(
        dlq.addAll([
          { queue: "orders", payload: { n: 1 }, failure },
          { queue: "ord\u0000ers", payload: { n: 2 }, failure }
        ])
      )
      expect(byQueue._tag).toBe("DeadLetterStoreError")
      expect(byQueue.message).toContain("the queue name of entry 2 of 2")
      expect(byQueue.message).toContain("NUL character")
      const byKey = yield* Effect.flip(
        dlq.add({ queue: "orders", payload: { n: 3 }, failure, idempotencyKey: "order/\u0000/3" })
      )
      expect(byKey.message).toContain("the idempotency key of entry 1 of 1")
      // a NUL inside the payload is JSON's to escape: stored and read back as it was
      const kept = yield* dlq.add({ queue: "orders", payload: { note: "a\u0000b" }, failure })
      expect((yield* dlq.stats).byStatus.pending).toBe(1)
      expect(kept.payload).toEqual({ note: "a\u0000b" })
      // a read whose filter holds one says so too (the statement's own error, 22021)
      const listed = yield* Effect.flip(dlq.list({ queue: "ord\u0000ers" }))
      expect(listed._tag).toBe("DeadLetterStoreError")
      expect(listed.message).toContain("NUL character")
      expect(listed.message).not.toContain("ord")
    }).pipe(Effect.provide(pgStores))
  )

  it.scoped("PostgreSQL: an idempotency key or owner is named, and no key of the call is taken", () =>
    Effect.gen(function* () {
      const store = yield* Idempotency.IdempotencyStore
      const many = yield* Effect.flip(store.acquireAll(["a", "b\u0000", "c"], lease))
      expect(many.message).toContain("key 2 of 3 holds a NUL character")
      expect(many.operation).toBe("acquire")
      const owner = yield* Effect.flip(store.acquire("a", { owner: "run\u0000ner", leaseMillis: 1000 }))
      expect(owner.message).toContain("the owner holds a NUL character")
      const completing = yield* Effect.flip(store.completeAll([{ key: "x\u0000", result: "1" }], "runner"))
      expect(completing.message).toContain("the key holds a NUL character")
      const releasing = yield* Effect.flip(store.release("y\u0000", "runner"))
      expect(releasing.operation).toBe("release")
      // none of the first call's keys was taken: another owner gets each at once
      const after = yield* store.acquireAll(["a", "c"], { owner: "other", leaseMillis: 1000 })
      expect(after.map((a) => a._tag)).toEqual(["Acquired", "Acquired"])
    }).pipe(Effect.provide(pgStores))
  )

  it.scoped("PostgreSQL: a checkpoint's batch id or item key is named, and nothing is recorded", () =>
    Effect.gen(function* () {
      const store = yield* Checkpoint.CheckpointStore
      const byKey = yield* Effect.flip(
        store.record("batch", [
          { key: "a", outcome: "succeeded" },
          { key: "b\u0000", outcome: "succeeded" }
        ])
      )
      expect(byKey.message).toContain("the key of entry 2 of 2 holds a NUL character")
      const byBatch = yield* Effect.flip(store.record("bat\u0000ch", [{ key: "a", outcome: "succeeded" }]))
      expect(byBatch.message).toContain("the batch id holds a NUL character")
      expect(yield* store.load("batch")).toEqual([])
    }).pipe(Effect.provide(pgStores))
  )

  it.scoped("SQLite stores such texts as they are", () =>
    Effect.gen(function* () {
      const dlq = yield* DLQ.DeadLetterQueue
      const entry = yield* dlq.add({ queue: "ord\u0000ers", payload: { n: 1 }, failure, idempotencyKey: "k\u0000" })
      const page = yield* dlq.list({ queue: "ord\u0000ers" })
      expect(page.entries.map((e) => [e.id, e.idempotencyKey])).toEqual([[entry.id, "k\u0000"]])
      const idempotency = yield* Idempotency.IdempotencyStore
      const taken = yield* idempotency.acquireAll(["a\u0000b", "a\u0000c"], lease)
      expect(taken.map((a) => a._tag)).toEqual(["Acquired", "Acquired"])
      const checkpoints = yield* Checkpoint.CheckpointStore
      yield* checkpoints.record("b\u0000", [{ key: "k\u0000", outcome: "succeeded" }])
      expect(yield* checkpoints.load("b\u0000")).toEqual([{ key: "k\u0000", outcome: "succeeded" }])
    }).pipe(Effect.provide(sqliteStores))
  )
})
