/**
 * The schema of the batch stores (`SqlCheckpoint` and `SqlIdempotency`):
 * `@effect/sql`'s Migrator with its own migrations table, `resilience_batch_migrations`, so it
 * never mixes with an application's migrations or with the dead letter queue's.
 *
 * Both stores run every migration when their Layer is built (the Migrator skips those already
 * applied), so either can be used alone, and both on one database.
 *
 * @since 0.1.0
 */
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"

/**
 * The Migrator's table for the batch stores.
 *
 * @example
 * ```ts
 * import { SqlBatchMigrations } from "@effect-resilience/sql"
 * SqlBatchMigrations.migrationsTable // "resilience_batch_migrations"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const migrationsTable = "resilience_batch_migrations"

/**
 * The table of checkpoint entries.
 *
 * @example
 * ```ts
 * import { SqlBatchMigrations } from "@effect-resilience/sql"
 * SqlBatchMigrations.checkpointsTable // "resilience_checkpoints"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const checkpointsTable = "resilience_checkpoints"

/**
 * The table of idempotency keys.
 *
 * @example
 * ```ts
 * import { SqlBatchMigrations } from "@effect-resilience/sql"
 * SqlBatchMigrations.idempotencyTable // "resilience_idempotency"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const idempotencyTable = "resilience_idempotency"

/**
 * The migrations, for `Migrator.fromRecord` (SQLite and PostgreSQL).
 *
 * - checkpoints: one row per (batch, item key); `seq` keeps the order entries were first recorded.
 * - idempotency keys: one row per key with its status, lease (owner, expiry in epoch ms), attempt
 *   count and the result's JSON.
 *
 * @example
 * ```ts
 * import { SqlBatchMigrations } from "@effect-resilience/sql"
 * import * as Migrator from "@effect/sql/Migrator"
 *
 * const loader = Migrator.fromRecord(SqlBatchMigrations.migrations)
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_create_checkpoints": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const seq = sql.onDialectOrElse({
      pg: () => "seq BIGSERIAL PRIMARY KEY",
      orElse: () => "seq INTEGER PRIMARY KEY AUTOINCREMENT"
    })
    const millis = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
    yield* sql.unsafe(`CREATE TABLE ${checkpointsTable} (
  ${seq},
  batch_id TEXT NOT NULL,
  item_key TEXT NOT NULL,
  outcome TEXT NOT NULL,
  recorded_at ${millis} NOT NULL,
  UNIQUE (batch_id, item_key)
)`)
  }),
  "0002_create_idempotency": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const millis = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
    yield* sql.unsafe(`CREATE TABLE ${idempotencyTable} (
  idempotency_key TEXT PRIMARY KEY NOT NULL,
  status TEXT NOT NULL,
  owner TEXT NOT NULL,
  expires_at ${millis} NOT NULL,
  attempts INTEGER NOT NULL,
  result TEXT,
  updated_at ${millis} NOT NULL
)`)
  })
}

const run = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: migrationsTable })

/**
 * Applies the migrations not yet applied. Two stores migrating one PostgreSQL database at once
 * may race to create the migrations table; the loser tries again.
 *
 * @example
 * ```ts
 * import { SqlBatchMigrations } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const program = SqlBatchMigrations.migrate.pipe(Effect.provide(SqliteClient.layer({ filename: "batch.db" })))
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const migrate: Effect.Effect<void, unknown, SqlClient.SqlClient> = run.pipe(
  Effect.catchAllDefect(Effect.fail),
  Effect.retry({ times: 2 }),
  Effect.asVoid
)
