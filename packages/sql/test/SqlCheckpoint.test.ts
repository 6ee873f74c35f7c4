import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
import * as SqlCheckpoint from "../src/SqlCheckpoint.js"
import * as PgTest from "./support/postgres.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "checkpoint-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A fresh SQLite file per test, deleted afterwards. */
const sqliteLayer = Layer.unwrapScoped(
  Effect.map(tempDir, (dir) =>
    SqlCheckpoint.layerStore.pipe(Layer.provide(SqliteClient.layer({ filename: join(dir, "batch.db") })))
  )
)

/** A fresh PostgreSQL database per test, dropped afterwards. */
const pgLayer = Layer.unwrapScoped(
  Effect.map(PgTest.makeDatabase, (db) =>
    SqlCheckpoint.layerStore.pipe(Layer.provide(PgTest.clientLayer(db.url, { maxConnections: 4 })))
  )
)

StoreSuites.checkpointStore("SQLite", sqliteLayer)
StoreSuites.checkpointStore("PostgreSQL", pgLayer)

describe("SqlCheckpoint on a SQLite file", () => {
  it.scoped("entries survive closing and reopening the file (what a restart after a crash sees)", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      // Each provide opens and closes its own connection to the file.
      const client = SqliteClient.layer({ filename: join(dir, "batch.db") })
      yield* Effect.flatMap(SqlCheckpoint.makeStore, (s) =>
        s.record("b", [
          { key: "a", outcome: "succeeded" },
          { key: "b", outcome: "dead-lettered" }
        ])
      ).pipe(Effect.provide(client))
      const loaded = yield* Effect.flatMap(SqlCheckpoint.makeStore, (s) => s.load("b")).pipe(Effect.provide(client))
      expect(loaded).toEqual([
        { key: "a", outcome: "succeeded" },
        { key: "b", outcome: "dead-lettered" }
      ])
    })
  )

  it.scoped("a table of another shape is refused with a CheckpointError, not a defect", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const client = SqliteClient.layer({ filename: join(dir, "batch.db") })
      const error = yield* Effect.gen(function* () {
        const sql = yield* SqliteClient.SqliteClient
        yield* sql.unsafe("CREATE TABLE resilience_checkpoints (something_else TEXT)")
        return yield* Effect.flip(SqlCheckpoint.makeStore)
      }).pipe(Effect.provide(client))
      expect(error._tag).toBe("CheckpointError")
      expect(error.operation).toBe("migrate")
      expect(error.message).not.toMatch(/\n\s+at /)
    })
  )
})
