import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as AuditLog from "@effect-resilience/durable/AuditLog"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as StoreSuites from "@effect-resilience/durable/StoreSuites"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlAuditLog from "../src/SqlAuditLog.js"
import * as SqlConnection from "../src/SqlConnection.js"
import * as SqlDeadLetterQueue from "../src/SqlDeadLetterQueue.js"
import * as PgTest from "./support/postgres.js"

const tempDir = Effect.acquireRelease(
  Effect.sync(() => mkdtempSync(join(tmpdir(), "audit-test-"))),
  (dir) => Effect.sync(() => rmSync(dir, { recursive: true, force: true }))
)

/** A fresh SQLite file per test, deleted afterwards. */
const sqliteLayer = Layer.unwrapScoped(
  Effect.map(tempDir, (dir) => SqlAuditLog.layerStoreConfig({ dialect: "sqlite", filename: join(dir, "dlq.db") }))
)

/** A fresh PostgreSQL database per test, dropped afterwards. */
const pgLayer = Layer.unwrapScoped(
  Effect.map(PgTest.makeDatabase, (db) =>
    SqlAuditLog.layerStore.pipe(Layer.provide(PgTest.clientLayer(db.url, { maxConnections: 4 })))
  )
)

StoreSuites.auditLogStore("SQLite", sqliteLayer)
StoreSuites.auditLogStore("PostgreSQL", pgLayer)

describe("SqlAuditLog on a SQLite file", () => {
  it.scoped("shares the file with the dead letters, and both survive reopening it", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const filename = join(dir, "dlq.db")
      const both = Layer.mergeAll(
        DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStore)),
        AuditLog.layer.pipe(Layer.provide(SqlAuditLog.layerStore))
      ).pipe(Layer.provide(SqlConnection.layerClient({ dialect: "sqlite", filename })))
      yield* Effect.gen(function* () {
        const audit = yield* AuditLog.AuditLog
        yield* audit.record({ actor: "alice", action: "dead-letter.discard", target: "dl_1", after: { n: 1 } })
      }).pipe(Effect.provide(both))
      const tables = yield* Effect.flatMap(
        SqliteClient.SqliteClient,
        (sql) => sql<{ readonly name: string }>`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
      ).pipe(Effect.provide(SqliteClient.layer({ filename })))
      expect(tables.map((t) => t.name)).toEqual(expect.arrayContaining([SqlAuditLog.table, SqlDeadLetterQueue.table]))
      const page = yield* Effect.flatMap(AuditLog.AuditLog, (audit) => audit.list()).pipe(Effect.provide(both))
      expect(page.entries.map((e) => [e.actor, e.target, e.after])).toEqual([["alice", "dl_1", { n: 1 }]])
    })
  )

  it.scoped("a table of another shape is refused with an AuditLogError, not a defect", () =>
    Effect.gen(function* () {
      const dir = yield* tempDir
      const client = SqliteClient.layer({ filename: join(dir, "dlq.db") })
      const error = yield* Effect.gen(function* () {
        const sql = yield* SqliteClient.SqliteClient
        yield* sql.unsafe(`CREATE TABLE ${SqlAuditLog.table} (something_else TEXT)`)
        return yield* Effect.flip(SqlAuditLog.makeStore)
      }).pipe(Effect.provide(client))
      expect(error._tag).toBe("AuditLogError")
      expect(error.message).not.toMatch(/\n\s+at /)
    })
  )

  it.effect("an unreachable PostgreSQL is an AuditLogError without the password", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(
        Effect.scoped(
          Layer.build(SqlAuditLog.layerStoreConfig({ dialect: "pg", url: "postgres://ops:hunter2@127.0.0.1:1/x" }))
        )
      )
      expect(error._tag).toBe("AuditLogError")
      expect(error.message).toMatch(/^Cannot reach PostgreSQL/)
      expect(error.message).not.toContain("hunter2")
    })
  )
})
