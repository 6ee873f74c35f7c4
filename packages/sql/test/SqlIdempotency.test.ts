import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
import * as SqlIdempotency from "../src/SqlIdempotency.js"
import * as PgTest from "./support/postgres.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "idempotency-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A fresh SQLite file per test, deleted afterwards. */
const sqliteLayer = Layer.unwrapScoped(
  Effect.map(tempDir, (dir) =>
    SqlIdempotency.layerStore.pipe(Layer.provide(SqliteClient.layer({ filename: join(dir, "batch.db") })))
  )
)

/** A fresh PostgreSQL database per test, dropped afterwards; a pool so that races are real. */
const pgLayer = Layer.unwrapScoped(
  Effect.map(PgTest.makeDatabase, (db) =>
    SqlIdempotency.layerStore.pipe(Layer.provide(PgTest.clientLayer(db.url, { maxConnections: 8 })))
  )
)

StoreSuites.idempotencyStore("SQLite", sqliteLayer)
StoreSuites.idempotencyStore("PostgreSQL", pgLayer)
