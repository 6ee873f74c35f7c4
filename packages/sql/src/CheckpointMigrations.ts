/**
 * The schema of the batch stores ({@link SqlCheckpointStore} and {@link SqlIdempotencyStore}):
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
 * @since 0.1.0
 */
export const migrationsTable = "resilience_batch_migrations"

/**
 * The table of checkpoint entries.
 *
 * @since 0.1.0
 */
export const checkpointsTable = "resilience_checkpoints"

/**
 * The table of idempotency keys.
 *
 * @since 0.1.0
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
 * import { SqlBatchMigrations } from "@effect-resilience/sql"
 * import * as Migrator from "@effect/sql/Migrator"
 *
 * const loader = Migrator.fromRecord(SqlBatchMigrations.migrations)
 *
 * @since 0.1.0
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
 * import { SqlBatchMigrations } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const program = SqlBatchMigrations.migrate.pipe(Effect.provide(SqliteClient.layer({ filename: "batch.db" })))
 *
 * @since 0.1.0
 */
export const migrate: Effect.Effect<void, unknown, SqlClient.SqlClient> = run.pipe(
  Effect.catchAllDefect(Effect.fail),
  Effect.retry({ times: 2 }),
  Effect.asVoid
)

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/**
 * The driver's error code (PostgreSQL SQLSTATE, SQLite `SQLITE_*`, Node `E*`), looked up through
 * causes, for messages that name the problem without the SQL, host or values.
 *
 * @internal
 */
export const codeOf = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && isRecord(current); depth++) {
    if (typeof current.code === "string") return current.code
    current = current.cause
  }
  return undefined
}

/**
 * A message for a failed store operation: what we tried and the driver's code, nothing else.
 *
 * @internal
 */
export const failedMessage = (store: string, operation: string, error: unknown): string => {
  const code = codeOf(error)
  return `The ${store} could not ${operation}${code === undefined ? "" : ` (${code})`}`
}
