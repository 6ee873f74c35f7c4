/**
 * The dead letter queue on `@effect/sql`: a SQLite file (the embedded default, no server) or
 * PostgreSQL (several processes sharing one queue).
 *
 * Claims are atomic: SQLite moves entries pending -> replaying with one `UPDATE ... RETURNING` in a
 * transaction; PostgreSQL selects them `FOR UPDATE SKIP LOCKED` in the same statement, so concurrent
 * replays in several processes never handle one entry twice and never wait on each other.
 *
 * The schema is created by `@effect/sql`'s Migrator with its own migrations table,
 * `resilience_dlq_migrations`; entries live in `resilience_dead_letters`.
 *
 * @since 0.1.0
 */
import * as DLQ from "@effect-resilience/core/DeadLetterQueue"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as PgClient from "@effect/sql-pg/PgClient"
import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Redacted from "effect/Redacted"
import * as Schema from "effect/Schema"
import { toArray } from "./internal/filter.js"
import { pgUnavailable, statementFailed } from "./internal/storeError.js"

/**
 * The table holding the entries.
 *
 * @since 0.1.0
 */
export const table = "resilience_dead_letters"

/**
 * The Migrator's table for this store (apart from other stores' migrations).
 *
 * @since 0.1.0
 */
export const migrationsTable = "resilience_dlq_migrations"

const columns = [
  "id",
  "queue",
  "idempotency_key",
  "category",
  "status",
  "payload",
  "failure",
  "notes",
  "created_at",
  "updated_at",
  "claimed_at",
  "replay_run",
  "replays",
  "version"
] as const

/**
 * The migrations, for `Migrator.fromRecord`.
 *
 * @example
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import * as Migrator from "@effect/sql/Migrator"
 *
 * // run them with your own Migrator set-up
 * const loader = Migrator.fromRecord(SqlDeadLetterQueue.migrations)
 *
 * @since 0.1.0
 */
export const migrations: Record<string, Effect.Effect<void, unknown, SqlClient.SqlClient>> = {
  "0001_create_dead_letters": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    const millis = sql.onDialectOrElse({ pg: () => "BIGINT", orElse: () => "INTEGER" })
    yield* sql.unsafe(`CREATE TABLE ${table} (
  id TEXT PRIMARY KEY NOT NULL,
  queue TEXT NOT NULL,
  idempotency_key TEXT NOT NULL,
  category TEXT NOT NULL,
  status TEXT NOT NULL,
  payload TEXT NOT NULL,
  failure TEXT NOT NULL,
  notes TEXT NOT NULL,
  created_at ${millis} NOT NULL,
  updated_at ${millis} NOT NULL,
  claimed_at ${millis},
  replay_run TEXT,
  replays INTEGER NOT NULL,
  version INTEGER NOT NULL
)`)
    yield* sql.unsafe(`CREATE INDEX ${table}_status_created ON ${table} (status, created_at, id)`)
    yield* sql.unsafe(`CREATE INDEX ${table}_queue_status ON ${table} (queue, status, created_at)`)
    yield* sql.unsafe(`CREATE INDEX ${table}_category_status ON ${table} (category, status)`)
    yield* sql.unsafe(`CREATE INDEX ${table}_idempotency_key ON ${table} (idempotency_key)`)
  })
}

const runMigrations = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: migrationsTable })

/**
 * Runs the migrations. A database that holds tables of the same names made by someone else fails
 * with a `DeadLetterStoreError` whose reason is `foreign`.
 *
 * @example
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const prepare = SqlDeadLetterQueue.migrate.pipe(Effect.provide(SqliteClient.layer({ filename: "dlq.db" })))
 *
 * @since 0.1.0
 */
export const migrate: Effect.Effect<void, DLQ.DeadLetterStoreError, SqlClient.SqlClient> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  const foreign = (detail: string, cause: unknown) =>
    new DLQ.DeadLetterStoreError({
      reason: "foreign",
      message: `This database was not made by effect-resilience's dead letter queue: ${detail}. Use a new file or database.`,
      cause
    })
  yield* runMigrations.pipe(
    // Processes starting at once on an empty PostgreSQL database race to create the migrations
    // table (42P07 / 23505 for all but one); the losers find it there on the next try.
    Effect.retry({ times: 3, while: (error) => error._tag === "SqlError" }),
    Effect.catchAllDefect((defect) => Effect.fail(foreign(`its table "${table}" conflicts`, defect))),
    Effect.catchAll((error) =>
      error._tag === "DeadLetterStoreError"
        ? Effect.fail(error)
        : error._tag === "MigrationError"
          ? Effect.fail(foreign(`the migrations table "${migrationsTable}" is not ours (${error.reason})`, error))
          : Effect.fail(statementFailed("prepare its tables")(error))
    )
  )
  // A table of ours with other columns (made by someone else, or an incompatible version)
  yield* sql
    .unsafe(`SELECT ${columns.join(", ")} FROM ${table} WHERE 1 = 0`)
    .pipe(Effect.mapError((e) => foreign(`its table "${table}" has other columns`, e)))
})

const Millis = Schema.Union(Schema.Number, Schema.NumberFromString)

const Row = Schema.Struct({
  id: Schema.String,
  queue: Schema.String,
  idempotency_key: Schema.String,
  status: DLQ.Status,
  payload: Schema.parseJson(),
  failure: Schema.parseJson(DLQ.Failure),
  notes: Schema.parseJson(Schema.Array(DLQ.Note)),
  created_at: Millis,
  updated_at: Millis,
  claimed_at: Schema.NullOr(Millis),
  replay_run: Schema.NullOr(Schema.String),
  replays: Millis,
  version: Millis
})

const decodeRow = Schema.decodeUnknown(Row)
const encodeFailure = Schema.encode(Schema.parseJson(DLQ.Failure))
const encodeNotes = Schema.encode(Schema.parseJson(Schema.Array(DLQ.Note)))

const toEntry = (row: unknown): Effect.Effect<DLQ.Entry, DLQ.DeadLetterStoreError> =>
  decodeRow(row).pipe(
    Effect.map((r): DLQ.Entry => {
      const base = {
        id: r.id,
        queue: r.queue,
        idempotencyKey: r.idempotency_key,
        payload: r.payload,
        failure: r.failure,
        status: r.status,
        createdAtMillis: r.created_at,
        updatedAtMillis: r.updated_at,
        replays: r.replays,
        version: r.version,
        notes: r.notes
      }
      const claimed = r.claimed_at === null ? base : { ...base, claimedAtMillis: r.claimed_at }
      return r.replay_run === null ? claimed : { ...claimed, replayRun: r.replay_run }
    }),
    Effect.mapError(
      (error) =>
        new DLQ.DeadLetterStoreError({
          reason: "corrupt",
          message: `A stored dead letter could not be read: ${ParseResult.ArrayFormatter.formatErrorSync(error)
            .map((i) => `${i.path.join(".") || "(row)"}: ${i.message.split("\n")[0]}`)
            .join("; ")}`,
          cause: error
        })
    )
  )

const toEntries = (rows: ReadonlyArray<unknown>) => Effect.forEach(rows, toEntry)

const encodeMutable = (entry: DLQ.Entry) =>
  Effect.all({ failure: encodeFailure(entry.failure), notes: encodeNotes(entry.notes) }).pipe(
    Effect.mapError(
      (error) =>
        new DLQ.DeadLetterStoreError({
          reason: "failed",
          message: `Dead letter "${entry.id}" could not be encoded: ${ParseResult.TreeFormatter.formatErrorSync(error)}`,
          cause: error
        })
    )
  )

const encodePayload = (entry: DLQ.Entry): Effect.Effect<string, DLQ.DeadLetterStoreError> =>
  Effect.try({
    try: () => {
      const json = JSON.stringify(entry.payload)
      if (json === undefined) throw new Error("not JSON")
      return json
    },
    catch: (cause) =>
      new DLQ.DeadLetterStoreError({
        reason: "failed",
        message: "The payload is not JSON: encode it with its Schema first (DeadLetterQueue.deadLetter does)",
        cause
      })
  })

/**
 * A store on the `SqlClient` in context (SQLite or PostgreSQL). Runs the migrations first.
 *
 * @example
 * import { DeadLetterQueue } from "@effect-resilience/core"
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Effect } from "effect"
 *
 * const service = Effect.flatMap(SqlDeadLetterQueue.makeStore, (store) => DeadLetterQueue.make(store, { leaseMillis: 60_000 }))
 *
 * @since 0.1.0
 */
export const makeStore: Effect.Effect<DLQ.Store, DLQ.DeadLetterStoreError, SqlClient.SqlClient> = Effect.gen(
  function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate
    const t = sql(table)
    const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })

    const where = (filter: DLQ.Filter) => {
      const clauses = []
      if (filter.ids !== undefined)
        clauses.push(filter.ids.length === 0 ? sql.literal("1 = 0") : sql.in("id", filter.ids))
      if (filter.queue !== undefined) clauses.push(sql`queue = ${filter.queue}`)
      const categories = toArray(filter.category)
      if (categories !== undefined)
        clauses.push(categories.length === 0 ? sql.literal("1 = 0") : sql.in("category", categories))
      const statuses = toArray(filter.status)
      if (statuses !== undefined)
        clauses.push(statuses.length === 0 ? sql.literal("1 = 0") : sql.in("status", statuses))
      if (filter.fromMillis !== undefined) clauses.push(sql`created_at >= ${filter.fromMillis}`)
      if (filter.toMillis !== undefined) clauses.push(sql`created_at < ${filter.toMillis}`)
      return sql.and(clauses)
    }

    const insert: DLQ.Store["insert"] = (entry) =>
      Effect.gen(function* () {
        const { failure, notes } = yield* encodeMutable(entry)
        const payload = yield* encodePayload(entry)
        yield* sql`INSERT INTO ${t} ${sql.insert({
          id: entry.id,
          queue: entry.queue,
          idempotency_key: entry.idempotencyKey,
          category: entry.failure.classification.category,
          status: entry.status,
          payload,
          failure,
          notes,
          created_at: entry.createdAtMillis,
          updated_at: entry.updatedAtMillis,
          claimed_at: entry.claimedAtMillis ?? null,
          replay_run: entry.replayRun ?? null,
          replays: entry.replays,
          version: entry.version
        })}`.pipe(Effect.mapError(statementFailed("add a dead letter")))
      })

    const get: DLQ.Store["get"] = (id) =>
      sql`SELECT * FROM ${t} WHERE id = ${id}`.pipe(
        Effect.mapError(statementFailed("read a dead letter")),
        Effect.flatMap((rows) => (rows[0] === undefined ? Effect.succeedNone : Effect.asSome(toEntry(rows[0]))))
      )

    const list: DLQ.Store["list"] = (filter, page) =>
      Effect.all({
        rows: sql`SELECT * FROM ${t} WHERE ${where(filter)} ORDER BY created_at, id LIMIT ${page.limit} OFFSET ${page.offset}`,
        count: sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM ${t} WHERE ${where(filter)}`
      }).pipe(
        Effect.mapError(statementFailed("list dead letters")),
        Effect.flatMap(({ count, rows }) =>
          Effect.map(toEntries(rows), (entries) => ({ entries, total: Number(count[0]?.n ?? 0) }))
        )
      )

    const claim: DLQ.Store["claim"] = (filter, run, limit, now) => {
      const candidates = sql`SELECT id FROM ${t} WHERE status = 'pending' AND (replay_run IS NULL OR replay_run <> ${run}) AND ${where(
        filter
      )} ORDER BY created_at, id LIMIT ${limit}`
      // PostgreSQL: the locking CTE runs once (an `IN (SELECT ... LIMIT)` may be re-run by the planner
      // and take more rows than asked); SKIP LOCKED lets concurrent replays take different rows.
      const statement = isPg
        ? sql`WITH claimed AS (${candidates} FOR UPDATE SKIP LOCKED) UPDATE ${t} SET status = 'replaying', replay_run = ${run}, claimed_at = ${now}, updated_at = ${now}, version = ${t}.version + 1 FROM claimed WHERE ${t}.id = claimed.id AND ${t}.status = 'pending' RETURNING ${t}.*`
        : sql`UPDATE ${t} SET status = 'replaying', replay_run = ${run}, claimed_at = ${now}, updated_at = ${now}, version = version + 1 WHERE id IN (${candidates}) AND status = 'pending' RETURNING *`
      return sql.withTransaction(statement).pipe(
        Effect.mapError(statementFailed("claim dead letters for replay")),
        Effect.flatMap(toEntries),
        Effect.map((entries) =>
          [...entries].sort((a, b) => a.createdAtMillis - b.createdAtMillis || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        )
      )
    }

    const update: DLQ.Store["update"] = (entry, expectedVersion) =>
      Effect.gen(function* () {
        const { failure, notes } = yield* encodeMutable(entry)
        const rows = yield* sql`UPDATE ${t} SET ${sql.update({
          status: entry.status,
          category: entry.failure.classification.category,
          failure,
          notes,
          updated_at: entry.updatedAtMillis,
          claimed_at: entry.claimedAtMillis ?? null,
          replay_run: entry.replayRun ?? null,
          replays: entry.replays,
          version: entry.version
        })} WHERE id = ${entry.id} AND version = ${expectedVersion} RETURNING id`.pipe(
          Effect.mapError(statementFailed("update a dead letter"))
        )
        return rows.length > 0
      })

    const purge: DLQ.Store["purge"] = (before, statuses) =>
      statuses.length === 0
        ? Effect.succeed(0)
        : sql`DELETE FROM ${t} WHERE updated_at < ${before} AND ${sql.in("status", statuses)} RETURNING id`.pipe(
            Effect.map((rows) => rows.length),
            Effect.mapError(statementFailed("purge dead letters"))
          )

    const CountRow = Schema.Struct({ queue: Schema.String, category: Schema.String, status: DLQ.Status, n: Millis })
    const counts: DLQ.Store["counts"] =
      sql`SELECT queue, category, status, COUNT(*) AS n FROM ${t} GROUP BY queue, category, status`.pipe(
        Effect.mapError(statementFailed("count dead letters")),
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(CountRow))),
        Effect.map((rows) => rows.map((r) => ({ queue: r.queue, category: r.category, status: r.status, count: r.n }))),
        Effect.catchTag("ParseError", (error) =>
          Effect.fail(
            new DLQ.DeadLetterStoreError({ reason: "corrupt", message: "Stored statuses are not valid", cause: error })
          )
        )
      )

    return { insert, get, list, claim, update, purge, counts }
  }
)

/**
 * The dead letter queue on the `SqlClient` in context.
 *
 * @example
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Layer } from "effect"
 *
 * const Dlq = SqlDeadLetterQueue.layer().pipe(Layer.provide(SqliteClient.layer({ filename: "dlq.db" })))
 *
 * @since 0.1.0
 */
export const layer = (
  options?: DLQ.Options
): Layer.Layer<DLQ.DeadLetterQueue, DLQ.DeadLetterStoreError, SqlClient.SqlClient> => DLQ.layerStore(makeStore, options)

const sqliteHeader = "SQLite format 3\u0000"

const checkSqliteFile = (filename: string): Effect.Effect<void, DLQ.DeadLetterStoreError> =>
  Effect.try({
    try: () => {
      if (filename === ":memory:" || !existsSync(filename)) return true
      const stat = statSync(filename)
      if (stat.isDirectory()) return false
      if (stat.size === 0) return true
      const fd = openSync(filename, "r")
      try {
        const buffer = Buffer.alloc(16)
        const read = readSync(fd, buffer, 0, 16, 0)
        return read === 16 && buffer.toString("latin1") === sqliteHeader
      } finally {
        closeSync(fd)
      }
    },
    catch: (cause) =>
      new DLQ.DeadLetterStoreError({
        reason: "unavailable",
        message: `Cannot read "${filename}": ${cause instanceof Error ? cause.message : String(cause)}`,
        cause
      })
  }).pipe(
    Effect.filterOrFail(
      (ok) => ok,
      () =>
        new DLQ.DeadLetterStoreError({
          reason: "foreign",
          message: `"${filename}" is not a SQLite database (is it the right file?)`
        })
    ),
    Effect.asVoid
  )

/**
 * A SQLite client for a dead letter file, checking first that an existing file is a SQLite
 * database: a text file or a directory gives a clear `DeadLetterStoreError`, not a stack trace.
 * A file that does not exist is created.
 *
 * @example
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Layer } from "effect"
 *
 * const Dlq = SqlDeadLetterQueue.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerSqliteClient({ filename: "dlq.db" })))
 *
 * @since 0.1.0
 */
export const layerSqliteClient = (options: {
  readonly filename: string
}): Layer.Layer<SqliteClient.SqliteClient | SqlClient.SqlClient, DLQ.DeadLetterStoreError> =>
  Layer.unwrapEffect(
    Effect.as(checkSqliteFile(options.filename), SqliteClient.layer({ filename: options.filename }))
  ).pipe(
    Layer.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && failure.value instanceof DLQ.DeadLetterStoreError) {
        return Layer.fail(failure.value)
      }
      const error = Option.orElse(failure, () => Cause.dieOption(cause)).pipe(Option.getOrUndefined)
      return Layer.fail(
        new DLQ.DeadLetterStoreError({
          reason: "unavailable",
          message: `Cannot open the SQLite database "${options.filename}": ${
            error instanceof Error ? error.message : "unknown error"
          }`,
          cause: error
        })
      )
    })
  )

/**
 * A PostgreSQL client; an unreachable server gives a `DeadLetterStoreError` that says so without
 * the URL (which may carry a password).
 *
 * @example
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Layer } from "effect"
 *
 * const Client = SqlDeadLetterQueue.layerPgClient({ url: "postgres://postgres@127.0.0.1:5432/app", maxConnections: 5 })
 *
 * @since 0.1.0
 */
export const layerPgClient = (options: {
  readonly url: string | Redacted.Redacted
  readonly maxConnections?: number | undefined
  readonly connectTimeoutMillis?: number | undefined
}): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, DLQ.DeadLetterStoreError> =>
  PgClient.layer({
    url: typeof options.url === "string" ? Redacted.make(options.url) : options.url,
    maxConnections: options.maxConnections ?? 10,
    connectTimeout: options.connectTimeoutMillis ?? 5000,
    applicationName: "effect-resilience"
  }).pipe(Layer.mapError(pgUnavailable))

/**
 * The dead letter queue in a SQLite file (created when missing).
 *
 * @example
 * import { DeadLetterQueue } from "@effect-resilience/core"
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Effect } from "effect"
 *
 * const stats = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.stats).pipe(
 *   Effect.provide(SqlDeadLetterQueue.layerSqlite({ filename: "data/dlq.db" }))
 * )
 *
 * @since 0.1.0
 */
export const layerSqlite = (
  options: { readonly filename: string } & DLQ.Options
): Layer.Layer<DLQ.DeadLetterQueue, DLQ.DeadLetterStoreError> =>
  layer(options).pipe(Layer.provide(layerSqliteClient(options)))

/**
 * The dead letter queue in PostgreSQL (several processes may share it).
 *
 * @example
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 *
 * const Dlq = SqlDeadLetterQueue.layerPg({ url: "postgres://postgres@127.0.0.1:5432/app" })
 *
 * @since 0.1.0
 */
export const layerPg = (
  options: {
    readonly url: string | Redacted.Redacted
    readonly maxConnections?: number | undefined
    readonly connectTimeoutMillis?: number | undefined
  } & DLQ.Options
): Layer.Layer<DLQ.DeadLetterQueue, DLQ.DeadLetterStoreError> =>
  layer(options).pipe(Layer.provide(layerPgClient(options)))
