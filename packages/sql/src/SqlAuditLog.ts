/**
 * The audit trail on `@effect/sql`: SQLite or PostgreSQL, in the same database as the dead letters
 * (`SqlDeadLetterQueue`), so that a change to a dead letter and its audit entry live and are backed
 * up together. Entries live in `resilience_audit_log`; the schema is made by `@effect/sql`'s
 * Migrator with its own migrations table, `resilience_audit_migrations`.
 *
 * @example
 * ```ts
 * import { AuditLog } from "@effect-resilience/durable"
 * import { SqlAuditLog } from "@effect-resilience/sql"
 * import { Effect, Layer } from "effect"
 *
 * const Audit = AuditLog.layer.pipe(
 *   Layer.provide(SqlAuditLog.layerStoreConfig({ dialect: "sqlite", filename: "data/dlq.db" }))
 * )
 * const latest = Effect.flatMap(AuditLog.AuditLog, (audit) => audit.list({ limit: 20 })).pipe(Effect.provide(Audit))
 * ```
 *
 * @since 0.3.0
 */
import * as AuditLog from "@effect-resilience/durable/AuditLog"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SqlConnection from "./SqlConnection.js"
import { failedMessage } from "./internal/storeError.js"

/**
 * The table holding the entries.
 *
 * @example
 * ```ts
 * import { SqlAuditLog } from "@effect-resilience/sql"
 * SqlAuditLog.table // "resilience_audit_log"
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const table = "resilience_audit_log"

/**
 * The Migrator's table for this store (apart from other stores' migrations).
 *
 * @example
 * ```ts
 * import { SqlAuditLog } from "@effect-resilience/sql"
 * SqlAuditLog.migrationsTable // "resilience_audit_migrations"
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const migrationsTable = "resilience_audit_migrations"

const columns = ["seq", "id", "at_millis", "actor", "action", "target", "before_json", "after_json"] as const

/**
 * The migrations, for `Migrator.fromRecord`. `seq` orders entries appended in the same
 * millisecond; `before_json` and `after_json` are JSON text, NULL when absent.
 *
 * @example
 * ```ts
 * import { SqlAuditLog } from "@effect-resilience/sql"
 * import * as Migrator from "@effect/sql/Migrator"
 *
 * const loader = Migrator.fromRecord(SqlAuditLog.migrations)
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_create_audit_log": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const seq = sql.onDialectOrElse({
      pg: () => "seq BIGSERIAL PRIMARY KEY",
      orElse: () => "seq INTEGER PRIMARY KEY AUTOINCREMENT"
    })
    const millis = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
    yield* sql.unsafe(`CREATE TABLE ${table} (
  ${seq},
  id TEXT NOT NULL UNIQUE,
  at_millis ${millis} NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  before_json TEXT,
  after_json TEXT
)`)
    yield* sql.unsafe(`CREATE INDEX ${table}_at ON ${table} (at_millis, seq)`)
    yield* sql.unsafe(`CREATE INDEX ${table}_actor_at ON ${table} (actor, at_millis, seq)`)
    yield* sql.unsafe(`CREATE INDEX ${table}_action_at ON ${table} (action, at_millis, seq)`)
  })
}

const runMigrations = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: migrationsTable })

const failed = (what: string) => (cause: unknown) =>
  new AuditLog.AuditLogError({ message: failedMessage("audit store", what, cause), cause })

/**
 * Runs the migrations. A table of the same name made by someone else (other columns) fails with
 * an `AuditLogError` saying so.
 *
 * @example
 * ```ts
 * import { SqlAuditLog } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const prepare = SqlAuditLog.migrate.pipe(Effect.provide(SqliteClient.layer({ filename: "dlq.db" })))
 * ```
 *
 * @since 0.3.0
 * @category utils
 */
export const migrate: Effect.Effect<void, AuditLog.AuditLogError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* runMigrations.pipe(
    // processes starting at once on an empty PostgreSQL database race to create the migrations table
    Effect.catchAllDefect(Effect.fail),
    Effect.retry({ times: 3 }),
    Effect.mapError(failed("prepare its tables"))
  )
  yield* sql.unsafe(`SELECT ${columns.join(", ")} FROM ${table} WHERE 1 = 0`).pipe(
    Effect.mapError(
      (cause) =>
        new AuditLog.AuditLogError({
          message: `This database was not made by effect-resilience's audit log: its table "${table}" has other columns. Use a new file or database.`,
          cause
        })
    )
  )
})

/** PostgreSQL returns BIGINT as a string. */
const Millis = Schema.Union(Schema.Number, Schema.NumberFromString)

const Row = Schema.Struct({
  id: Schema.String,
  at_millis: Millis,
  actor: Schema.String,
  action: Schema.String,
  target: Schema.String,
  // SQL NULL is an absent state; the JSON text "null" is a state that is null
  before_json: Schema.NullOr(Schema.String),
  after_json: Schema.NullOr(Schema.String)
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))
const Count = Schema.Array(Schema.Struct({ n: Millis }))
const decodeCount = Schema.decodeUnknown(Count)

const parseState = (text: string): unknown => JSON.parse(text)

const toEntry = (row: typeof Row.Type): AuditLog.Entry => ({
  id: row.id,
  atMillis: row.at_millis,
  actor: row.actor,
  action: row.action,
  target: row.target,
  ...(row.before_json === null ? {} : { before: parseState(row.before_json) }),
  ...(row.after_json === null ? {} : { after: parseState(row.after_json) })
})

/** JSON text of a before/after value: NULL when absent; a value JSON cannot carry is refused. */
const jsonOf = (value: unknown): string | null | AuditLog.AuditLogError => {
  if (value === undefined) return null
  try {
    const text = JSON.stringify(value)
    return text === undefined ? new AuditLog.AuditLogError({ message: "An audit state is not JSON" }) : text
  } catch (cause) {
    return new AuditLog.AuditLogError({ message: "An audit state is not JSON", cause })
  }
}

/**
 * Makes the store on the `SqlClient` in context (SQLite or PostgreSQL), running the migrations
 * first.
 *
 * @example
 * ```ts
 * import { SqlAuditLog } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(SqlAuditLog.makeStore, (store) => store.list({ limit: 10, offset: 0 })).pipe(
 *   Effect.provide(SqliteClient.layer({ filename: "dlq.db" }))
 * )
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const makeStore: Effect.Effect<AuditLog.AuditLogStore["Type"], AuditLog.AuditLogError, SqlClient.SqlClient> =
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate
    const t = sql(table)

    const where = (filter: AuditLog.Filter) => {
      const clauses = []
      if (filter.actor !== undefined) clauses.push(sql`actor = ${filter.actor}`)
      if (filter.action !== undefined) clauses.push(sql`action = ${filter.action}`)
      if (filter.target !== undefined) clauses.push(sql`target = ${filter.target}`)
      if (filter.sinceMillis !== undefined) clauses.push(sql`at_millis >= ${filter.sinceMillis}`)
      return sql.and(clauses)
    }

    const append: AuditLog.AuditLogStore["Type"]["append"] = (entry) =>
      Effect.suspend(() => {
        const before = jsonOf(entry.before)
        if (before instanceof AuditLog.AuditLogError) return Effect.fail(before)
        const after = jsonOf(entry.after)
        if (after instanceof AuditLog.AuditLogError) return Effect.fail(after)
        return sql`INSERT INTO ${t} ${sql.insert({
          id: entry.id,
          at_millis: entry.atMillis,
          actor: entry.actor,
          action: entry.action,
          target: entry.target,
          before_json: before,
          after_json: after
        })}`.pipe(Effect.asVoid, Effect.mapError(failed("write an audit entry")))
      })

    const list: AuditLog.AuditLogStore["Type"]["list"] = (query) =>
      Effect.all({
        rows: sql`SELECT id, at_millis, actor, action, target, before_json, after_json FROM ${t} WHERE ${where(
          query
        )} ORDER BY at_millis DESC, seq DESC LIMIT ${query.limit} OFFSET ${query.offset}`.pipe(
          Effect.flatMap(decodeRows)
        ),
        count: sql`SELECT COUNT(*) AS n FROM ${t} WHERE ${where(query)}`.pipe(Effect.flatMap(decodeCount))
      }).pipe(
        Effect.flatMap(({ count, rows }) =>
          Effect.try({
            try: () => ({ entries: rows.map(toEntry), total: count[0]?.n ?? 0 }),
            catch: (cause) => new AuditLog.AuditLogError({ message: "A stored audit state is not JSON", cause })
          })
        ),
        Effect.mapError((error) => (error._tag === "AuditLogError" ? error : failed("read the audit trail")(error)))
      )

    return { append, list }
  })

/**
 * The store as a Layer on the `SqlClient` in context (SQLite or PostgreSQL): share one client
 * with `SqlDeadLetterQueue.layerStore` to keep both in one database.
 *
 * @example
 * ```ts
 * import { AuditLog, DeadLetterQueue } from "@effect-resilience/durable"
 * import { SqlAuditLog, SqlConnection, SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Layer } from "effect"
 *
 * const Operated = Layer.mergeAll(
 *   DeadLetterQueue.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStore)),
 *   AuditLog.layer.pipe(Layer.provide(SqlAuditLog.layerStore))
 * ).pipe(Layer.provide(SqlConnection.layerClient({ dialect: "sqlite", filename: "data/dlq.db" })))
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerStore: Layer.Layer<AuditLog.AuditLogStore, AuditLog.AuditLogError, SqlClient.SqlClient> =
  Layer.effect(AuditLog.AuditLogStore, makeStore)

/**
 * The store in the database a {@link SqlConnection.Config} names (a SQLite file, created when
 * missing, or PostgreSQL). A bad config fails with the `ParseError` (which names the path); a
 * database that cannot be opened with an `AuditLogError` whose message never shows the URL.
 *
 * @example
 * ```ts
 * import { SqlAuditLog } from "@effect-resilience/sql"
 *
 * const Store = SqlAuditLog.layerStoreConfig({ dialect: "pg", url: "postgres://app@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.3.0
 * @category layers
 */
export const layerStoreConfig = (
  config: SqlConnection.ConfigInput
): Layer.Layer<AuditLog.AuditLogStore, ParseResult.ParseError | AuditLog.AuditLogError> =>
  layerStore.pipe(
    Layer.provide(
      SqlConnection.layerClient(config).pipe(
        Layer.mapError((error) =>
          error._tag === "ConnectionError"
            ? new AuditLog.AuditLogError({ message: error.message, cause: error.cause })
            : error
        )
      )
    )
  )
