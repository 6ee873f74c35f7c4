import * as SqlClient from "@effect/sql/SqlClient"
import { expect, layer } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as PgTest from "./support/postgres.js"

layer(PgTest.layer)("test/support/postgres", (it) => {
  it.effect("creates a fresh database and connects to it", () =>
    Effect.gen(function* () {
      const sql = yield* SqlClient.SqlClient
      const db = yield* PgTest.TestDatabase
      const rows = yield* sql<{ name: string }>`SELECT current_database() AS name`
      expect(rows[0]?.name).toBe(db.name)
      expect(db.name).toMatch(/^resilience_test_[0-9a-f]{12}$/)
    })
  )
})
