/**
 * The dead letter queue on `@effect/sql`: a SQLite file (the embedded default, no server) or
 * PostgreSQL (several processes sharing one queue).
 *
 * Claims are atomic, so concurrent replays in several processes never handle one entry twice and
 * never wait on each other. The schema is created by `@effect/sql`'s Migrator with its own
 * migrations table, `resilience_dlq_migrations`; entries live in `resilience_dead_letters`.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Effect, Layer } from "effect"
 *
 * const Dlq = DeadLetterQueue.layer().pipe(
 *   Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: "data/dlq.db" }))
 * )
 * const pending = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.list({ status: "pending" })).pipe(
 *   Effect.provide(Dlq)
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as Migrator from "@effect/sql/Migrator"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SqlConnection from "./SqlConnection.js"
import { toArray } from "./internal/filter.js"
import * as json from "./internal/json.js"
import { hasNul, statementFailed } from "./internal/storeError.js"

/**
 * The table holding the entries.
 *
 * @since 0.1.0
 * @category utils
 */
export const table = "resilience_dead_letters"

/**
 * The Migrator's table for this store (apart from other stores' migrations).
 *
 * @since 0.1.0
 * @category utils
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
 * ```ts
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import * as Migrator from "@effect/sql/Migrator"
 *
 * // run them with your own Migrator set-up
 * const loader = Migrator.fromRecord(SqlDeadLetterQueue.migrations)
 * ```
 *
 * @since 0.1.0
 * @category utils
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
  }),
  // A claim of one queue reads its pending entries in order from this index, instead of walking
  // every pending entry of every queue in creation order.
  "0002_queue_claim_order": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`CREATE INDEX ${table}_queue_status_created_id ON ${table} (queue, status, created_at, id)`)
    yield* sql.unsafe(`DROP INDEX ${table}_queue_status`)
  }),
  // Every index holding `status` is rewritten at each change of status (two per replay: claimed,
  // then resolved or back to pending), and that maintenance was most of a replay's database time.
  // Claims of one queue now read a partial index of pending entries only (an entry leaves it once,
  // when claimed); (status, created_at, id) stays for claims of every queue, lists by status and
  // purges. Nothing queried by category alone or by idempotency key: those two indexes go.
  "0003_pending_claim_index": Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(
      `CREATE INDEX ${table}_queue_pending ON ${table} (queue, created_at, id) WHERE status = 'pending'`
    )
    yield* sql.unsafe(`DROP INDEX ${table}_queue_status_created_id`)
    yield* sql.unsafe(`DROP INDEX ${table}_category_status`)
    yield* sql.unsafe(`DROP INDEX ${table}_idempotency_key`)
  })
}

const runMigrations = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table: migrationsTable })

/**
 * Runs the migrations. A database that holds tables of the same names made by someone else fails
 * with a `DeadLetterStoreError` whose reason is `foreign`.
 *
 * @example
 * ```ts
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const prepare = SqlDeadLetterQueue.migrate.pipe(Effect.provide(SqliteClient.layer({ filename: "dlq.db" })))
 * ```
 *
 * @since 0.1.0
 * @category utils
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

/**
 * The JSON text each decoded failure was read from, by the decoded object: an entry written back
 * with the failure it was read with (a replay that resolves it, a note, a discard) reuses the text
 * instead of encoding the failure again. Weak, so it holds nothing an entry does not.
 */
type FailureTexts = WeakMap<DLQ.Failure, string>

/** What one store keeps to write JSON: the texts failures were read from, and its encoder. */
interface Codec {
  readonly texts: FailureTexts
  readonly encoder: json.Encoder
}

const decodeRowEither = Schema.decodeUnknownEither(Row)

const corrupt = (error: ParseResult.ParseError) =>
  new DLQ.DeadLetterStoreError({
    reason: "corrupt",
    message: `A stored dead letter could not be read: ${ParseResult.ArrayFormatter.formatErrorSync(error)
      .map((i) => `${i.path.join(".") || "(row)"}: ${i.message.split("\n")[0]}`)
      .join("; ")}`,
    cause: error
  })

/** One row as an entry, decoded synchronously (a claim decodes hundreds: no Effect per row). */
const rowToEntry = (row: unknown, codec: Codec): Either.Either<DLQ.Entry, DLQ.DeadLetterStoreError> => {
  const decoded = decodeRowEither(row)
  if (Either.isLeft(decoded)) return Either.left(corrupt(decoded.left))
  const r = decoded.right
  const text: unknown = Reflect.get(Object(row), "failure")
  if (typeof text === "string") codec.texts.set(r.failure, text)
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
  return Either.right(r.replay_run === null ? claimed : { ...claimed, replayRun: r.replay_run })
}

const toEntry = (row: unknown, codec: Codec): Effect.Effect<DLQ.Entry, DLQ.DeadLetterStoreError> =>
  Effect.suspend(() => rowToEntry(row, codec))

const toEntries = (
  rows: ReadonlyArray<unknown>,
  codec: Codec
): Effect.Effect<ReadonlyArray<DLQ.Entry>, DLQ.DeadLetterStoreError> =>
  Effect.suspend(() => {
    const entries: Array<DLQ.Entry> = []
    for (const row of rows) {
      const entry = rowToEntry(row, codec)
      if (Either.isLeft(entry)) return Effect.fail(entry.left)
      entries.push(entry.right)
    }
    return Effect.succeed(entries)
  })

/** The failure's and the notes' JSON of an entry written back (an update). */
const encodeMutable = (
  entry: DLQ.Entry,
  codec: Codec
): Either.Either<{ readonly failure: string; readonly notes: string }, DLQ.DeadLetterStoreError> => {
  const failure = failureText(entry, codec)
  if (Either.isLeft(failure)) return Either.left(failure.left)
  const notes = codec.encoder.notesJson(entry.notes)
  if (Either.isLeft(notes)) return Either.left(notEncodable(entry, notes.left))
  return Either.right({ failure: failure.right, notes: notes.right })
}

/** PostgreSQL's type of each column, for the arrays of an `unnest` insert. */
const pgTypes: Record<(typeof columns)[number], string> = {
  id: "text",
  queue: "text",
  idempotency_key: "text",
  category: "text",
  status: "text",
  payload: "text",
  failure: "text",
  notes: "text",
  created_at: "bigint",
  updated_at: "bigint",
  claimed_at: "bigint",
  replay_run: "text",
  replays: "int",
  version: "int"
}

/** The positions of the JSON columns (payload, failure, notes) in {@link columns}. */
const jsonColumns: ReadonlyArray<number> = [
  columns.indexOf("payload"),
  columns.indexOf("failure"),
  columns.indexOf("notes")
]

/** What PostgreSQL inserts split the JSON columns' texts at: a character JSON text never holds raw. */
const separator = "\u001e"

/** The most rows one INSERT statement carries; bigger lists are split into sizes of powers of two. */
const maxRowsPerStatement = 256

/** Sizes of the INSERT statements for `n` rows: as many of the largest as fit, then powers of two. */
const chunkSizes = (n: number): ReadonlyArray<number> => {
  const sizes: Array<number> = []
  let left = n
  for (let size = maxRowsPerStatement; left > 0; size >>= 1) {
    while (left >= size) {
      sizes.push(size)
      left -= size
    }
  }
  return sizes
}

/**
 * Pushes one row's values, in the order of {@link columns}, onto `values`; the payload, failure and
 * notes encoded once. A failure here names the entry and fails the whole list before anything is
 * written.
 */
const pushRow = (
  values: Array<string | number | null>,
  entry: DLQ.Entry,
  codec: Codec
): DLQ.DeadLetterStoreError | undefined => {
  const encoded = encodeMutable(entry, codec)
  if (Either.isLeft(encoded)) return encoded.left
  let payload: string | undefined
  try {
    payload = JSON.stringify(entry.payload)
  } catch (cause) {
    return payloadNotJson(cause)
  }
  if (payload === undefined) return payloadNotJson(undefined)
  values.push(
    entry.id,
    entry.queue,
    entry.idempotencyKey,
    entry.failure.classification.category,
    entry.status,
    payload,
    encoded.right.failure,
    encoded.right.notes,
    entry.createdAtMillis,
    entry.updatedAtMillis,
    entry.claimedAtMillis ?? null,
    entry.replayRun ?? null,
    entry.replays,
    entry.version
  )
  return undefined
}

/** The failure's JSON: the text it was read from when it was, else encoded (and validated) now. */
const failureText = (entry: DLQ.Entry, codec: Codec): Either.Either<string, DLQ.DeadLetterStoreError> => {
  const known = codec.texts.get(entry.failure)
  if (known !== undefined) return Either.right(known)
  const encoded = codec.encoder.failureJson(entry.failure)
  return Either.isLeft(encoded) ? Either.left(notEncodable(entry, encoded.left)) : Either.right(encoded.right)
}

const notEncodable = (entry: DLQ.Entry, error: ParseResult.ParseError) =>
  new DLQ.DeadLetterStoreError({
    reason: "failed",
    message: `Dead letter "${entry.id}" could not be encoded: ${ParseResult.TreeFormatter.formatErrorSync(error)}`,
    cause: error
  })

const payloadNotJson = (cause: unknown) =>
  new DLQ.DeadLetterStoreError({
    reason: "failed",
    message: "The payload is not JSON: encode it with its Schema first (DeadLetterQueue.deadLetter does)",
    cause
  })

/**
 * A store on the `SqlClient` in context (SQLite or PostgreSQL). Runs the migrations first.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Effect } from "effect"
 *
 * const service = Effect.flatMap(SqlDeadLetterQueue.makeStore, (store) =>
 *   DeadLetterQueue.make({ lease: "1 minute" }).pipe(Effect.provideService(DeadLetterQueue.DeadLetterQueueStore, store))
 * )
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeStore: Effect.Effect<DLQ.DeadLetterQueueStore["Type"], DLQ.DeadLetterStoreError, SqlClient.SqlClient> =
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate
    const t = sql(table)
    const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
    const codec: Codec = { texts: new WeakMap(), encoder: json.makeEncoder() }

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

    // The text of an INSERT of `rows` rows, made once per size (so the driver's statement cache
    // keeps a handful of prepared statements).
    const insertTexts = new Map<number, string>()
    const insertText = (rows: number): string => {
      let text = insertTexts.get(rows)
      if (text === undefined) {
        let n = 0
        const tuples: Array<string> = []
        for (let r = 0; r < rows; r++) {
          const marks: Array<string> = []
          for (let c = 0; c < columns.length; c++) marks.push(isPg ? `$${++n}` : "?")
          tuples.push(`(${marks.join(", ")})`)
        }
        text = `INSERT INTO ${table} (${columns.join(", ")}) VALUES ${tuples.join(", ")}`
        insertTexts.set(rows, text)
      }
      return text
    }

    // PostgreSQL: one statement of 14 array parameters for any number of rows (a multi-row VALUES
    // of thousands of parameters costs the server a parse and a plan each time). The JSON columns
    // go as one text each, the rows' texts joined by U+001E and split by the server: the driver
    // escapes every quote of an array's elements, which cost more CPU than the server's insert.
    // JSON text never holds a raw U+001E (JSON escapes control characters); should one ever turn
    // up, that call sends arrays.
    const pgInsertText = (split: boolean) =>
      `INSERT INTO ${table} (${columns.join(", ")}) SELECT * FROM unnest(${columns
        .map((c, i) =>
          split && jsonColumns.includes(i) ? `string_to_array($${i + 1}::text, E'\\x1e')` : `$${i + 1}::${pgTypes[c]}[]`
        )
        .join(", ")})`
    const pgInsertSplit = pgInsertText(true)
    const pgInsertArrays = pgInsertText(false)

    const insertAll: DLQ.DeadLetterQueueStore["Type"]["insertAll"] = (entries) =>
      Effect.suspend(() => {
        if (entries.length === 0) return Effect.void
        const width = columns.length
        const values: Array<string | number | null> = []
        for (const entry of entries) {
          const error = pushRow(values, entry, codec)
          if (error !== undefined) return Effect.fail(error)
        }
        if (isPg) {
          // PostgreSQL's text holds no NUL character (the JSON columns escape theirs): say which
          // entry's queue name or idempotency key had one, before the statement
          for (let n = 0; n < entries.length; n++) {
            const entry = entries[n]!
            const field = hasNul(entry.queue)
              ? "queue name"
              : hasNul(entry.idempotencyKey)
                ? "idempotency key"
                : undefined
            if (field !== undefined) {
              return Effect.fail(
                new DLQ.DeadLetterStoreError({
                  reason: "failed",
                  message: `The dead letter store could not add dead letters: the ${field} of entry ${n + 1} of ${entries.length} (${entry.id}) holds a NUL character (U+0000), which PostgreSQL cannot store; nothing was written.`
                })
              )
            }
          }
          const arrays: Array<Array<string | number | null>> = []
          let split = true
          for (let c = 0; c < width; c++) {
            const column = new Array<string | number | null>(entries.length)
            const json = jsonColumns.includes(c)
            for (let r = 0; r < entries.length; r++) {
              const value = values[r * width + c]!
              if (json && typeof value === "string" && value.includes(separator)) split = false
              column[r] = value
            }
            arrays.push(column)
          }
          const [text, bound] = split
            ? [pgInsertSplit, arrays.map((column, c) => (jsonColumns.includes(c) ? column.join(separator) : column))]
            : [pgInsertArrays, arrays]
          return sql.unsafe(text, bound).pipe(Effect.asVoid, Effect.mapError(statementFailed("add dead letters")))
        }
        const sizes = chunkSizes(entries.length)
        let offset = 0
        const statements = sizes.map((size) => {
          const params = sizes.length === 1 ? values : values.slice(offset * width, (offset + size) * width)
          offset += size
          return sql.unsafe(insertText(size), params)
        })
        const write =
          statements.length === 1
            ? statements[0]!
            : sql.withTransaction(Effect.forEach(statements, (statement) => statement, { discard: true }))
        return write.pipe(Effect.asVoid, Effect.mapError(statementFailed("add dead letters")))
      })

    const insert: DLQ.DeadLetterQueueStore["Type"]["insert"] = (entry) => insertAll([entry])

    const get: DLQ.DeadLetterQueueStore["Type"]["get"] = (id) =>
      sql`SELECT * FROM ${t} WHERE id = ${id}`.pipe(
        Effect.mapError(statementFailed("read a dead letter")),
        Effect.flatMap((rows) => (rows[0] === undefined ? Effect.succeedNone : Effect.asSome(toEntry(rows[0], codec))))
      )

    const list: DLQ.DeadLetterQueueStore["Type"]["list"] = (filter, page) =>
      Effect.all({
        rows: sql`SELECT * FROM ${t} WHERE ${where(filter)} ORDER BY created_at, id LIMIT ${page.limit} OFFSET ${page.offset}`,
        count: sql<{ readonly n: number | string }>`SELECT COUNT(*) AS n FROM ${t} WHERE ${where(filter)}`
      }).pipe(
        Effect.mapError(statementFailed("list dead letters")),
        Effect.flatMap(({ count, rows }) =>
          Effect.map(toEntries(rows, codec), (entries) => ({ entries, total: Number(count[0]?.n ?? 0) }))
        )
      )

    const claim: DLQ.DeadLetterQueueStore["Type"]["claim"] = (filter, run, limit, now) => {
      const candidates = sql`SELECT id FROM ${t} WHERE status = 'pending' AND (replay_run IS NULL OR replay_run <> ${run}) AND ${where(
        filter
      )} ORDER BY created_at, id LIMIT ${limit}`
      // PostgreSQL: the locking CTE runs once (an `IN (SELECT ... LIMIT)` may be re-run by the planner
      // and take more rows than asked); SKIP LOCKED lets concurrent replays take different rows.
      const statement = isPg
        ? sql`WITH claimed AS (${candidates} FOR UPDATE SKIP LOCKED) UPDATE ${t} SET status = 'replaying', replay_run = ${run}, claimed_at = ${now}, updated_at = ${now}, version = ${t}.version + 1 FROM claimed WHERE ${t}.id = claimed.id AND ${t}.status = 'pending' RETURNING ${t}.*`
        : // `+status`: the rows are found by id; an index on status would walk every pending entry
          sql`UPDATE ${t} SET status = 'replaying', replay_run = ${run}, claimed_at = ${now}, updated_at = ${now}, version = version + 1 WHERE id IN (${candidates}) AND +status = 'pending' RETURNING *`
      // one statement, atomic on its own: no transaction around it
      return statement.pipe(
        Effect.mapError(statementFailed("claim dead letters for replay")),
        Effect.flatMap((rows) => toEntries(rows, codec)),
        Effect.map((entries) =>
          [...entries].sort((a, b) => a.createdAtMillis - b.createdAtMillis || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
        )
      )
    }

    const update: DLQ.DeadLetterQueueStore["Type"]["update"] = (entry, expectedVersion) =>
      Effect.gen(function* () {
        const { failure, notes } = yield* encodeMutable(entry, codec)
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

    // One prepared UPDATE, run for each entry inside one transaction.
    const mark = (n: number) => (isPg ? `$${n}` : "?")
    const updateText = `UPDATE ${table} SET status = ${mark(1)}, category = ${mark(2)}, failure = ${mark(3)}, notes = ${mark(
      4
    )}, updated_at = ${mark(5)}, claimed_at = ${mark(6)}, replay_run = ${mark(7)}, replays = ${mark(8)}, version = ${mark(
      9
    )} WHERE id = ${mark(10)} AND version = ${mark(11)} RETURNING id`

    // PostgreSQL: every update in one statement (one round trip), joined on id; used when the ids
    // are distinct (a replay's always are), else the updates run one after the other.
    const pgUpdateText = `UPDATE ${table} AS t SET status = u.status, category = u.category, failure = u.failure, notes = u.notes, updated_at = u.updated_at, claimed_at = u.claimed_at, replay_run = u.replay_run, replays = u.replays, version = u.version FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::text[], $8::int[], $9::int[], $10::text[], $11::int[]) AS u(status, category, failure, notes, updated_at, claimed_at, replay_run, replays, version, id, expected) WHERE t.id = u.id AND t.version = u.expected RETURNING t.id`

    const sqliteUpdateTexts = new Map<number, string>()
    const sqliteUpdateText = (rows: number): string => {
      let text = sqliteUpdateTexts.get(rows)
      if (text === undefined) {
        const tuple = `(${Array.from({ length: 11 }, () => "?").join(", ")})`
        text = `WITH u(status, category, failure, notes, updated_at, claimed_at, replay_run, replays, version, id, expected) AS (VALUES ${Array.from(
          { length: rows },
          () => tuple
        ).join(
          ", "
        )}) UPDATE ${table} SET status = u.status, category = u.category, failure = u.failure, notes = u.notes, updated_at = u.updated_at, claimed_at = u.claimed_at, replay_run = u.replay_run, replays = u.replays, version = u.version FROM u WHERE ${table}.id = u.id AND ${table}.version = u.expected RETURNING ${table}.id`
        sqliteUpdateTexts.set(rows, text)
      }
      return text
    }

    const updateAll: DLQ.DeadLetterQueueStore["Type"]["updateAll"] = (updates) =>
      Effect.suspend(() => {
        if (updates.length === 0) return Effect.succeed([])
        const params: Array<ReadonlyArray<string | number | null>> = []
        for (const { entry, expectedVersion } of updates) {
          const encoded = encodeMutable(entry, codec)
          if (Either.isLeft(encoded)) return Effect.fail(encoded.left)
          params.push([
            entry.status,
            entry.failure.classification.category,
            encoded.right.failure,
            encoded.right.notes,
            entry.updatedAtMillis,
            entry.claimedAtMillis ?? null,
            entry.replayRun ?? null,
            entry.replays,
            entry.version,
            entry.id,
            expectedVersion
          ])
        }
        const ids = new Set(updates.map((u) => u.entry.id))
        if (isPg && params.length > 1 && ids.size === params.length) {
          const arrays = params[0]!.map((_, c) => params.map((p) => p[c]!))
          return sql.unsafe<{ readonly id: string }>(pgUpdateText, arrays).pipe(
            Effect.map((rows) => {
              const done = new Set(rows.map((r) => r.id))
              return updates.map((u) => done.has(u.entry.id))
            }),
            Effect.mapError(statementFailed("update dead letters"))
          )
        }
        if (!isPg && params.length > 1 && ids.size === params.length) {
          // SQLite: statements of up to 256 updates joined on id (UPDATE ... FROM a VALUES list),
          // in one transaction, instead of one statement per entry
          const statements: Array<Effect.Effect<ReadonlyArray<{ readonly id: string }>, unknown>> = []
          let offset = 0
          for (const size of chunkSizes(params.length)) {
            const values: Array<string | number | null> = []
            for (const p of params.slice(offset, offset + size)) for (const v of p) values.push(v)
            statements.push(sql.unsafe<{ readonly id: string }>(sqliteUpdateText(size), values))
            offset += size
          }
          const all = Effect.map(Effect.all(statements), (chunks) => {
            const done = new Set<string>()
            for (const rows of chunks) for (const row of rows) done.add(row.id)
            return updates.map((u) => done.has(u.entry.id))
          })
          return (statements.length === 1 ? all : sql.withTransaction(all)).pipe(
            Effect.mapError(statementFailed("update dead letters"))
          )
        }
        const run = Effect.forEach(params, (p) => Effect.map(sql.unsafe(updateText, p), (rows) => rows.length > 0))
        return (params.length === 1 ? run : sql.withTransaction(run)).pipe(
          Effect.mapError(statementFailed("update dead letters"))
        )
      })

    const purge: DLQ.DeadLetterQueueStore["Type"]["purge"] = (before, statuses) =>
      statuses.length === 0
        ? Effect.succeed(0)
        : sql`DELETE FROM ${t} WHERE updated_at < ${before} AND ${sql.in("status", statuses)} RETURNING id`.pipe(
            Effect.map((rows) => rows.length),
            Effect.mapError(statementFailed("purge dead letters"))
          )

    const CountRow = Schema.Struct({ queue: Schema.String, category: Schema.String, status: DLQ.Status, n: Millis })
    const counts: DLQ.DeadLetterQueueStore["Type"]["counts"] =
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

    return { insert, insertAll, get, list, claim, update, updateAll, purge, counts }
  })

/**
 * The store as a Layer on the `SqlClient` in context (SQLite or PostgreSQL). Runs the migrations
 * first.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Layer } from "effect"
 *
 * const Dlq = DeadLetterQueue.layer().pipe(
 *   Layer.provide(SqlDeadLetterQueue.layerStore),
 *   Layer.provide(SqliteClient.layer({ filename: "dlq.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStore: Layer.Layer<DLQ.DeadLetterQueueStore, DLQ.DeadLetterStoreError, SqlClient.SqlClient> =
  Layer.effect(DLQ.DeadLetterQueueStore, makeStore)

/**
 * The store in the database a {@link SqlConnection.Config} names (a SQLite file, created when
 * missing, or PostgreSQL). A bad config fails with the `ParseError` (which names the path); a
 * database that cannot be opened, or a file that is not a SQLite database, with a
 * `DeadLetterStoreError` (`unavailable` or `foreign`) that never shows the URL.
 *
 * @example
 * ```ts
 * import { DeadLetterQueue } from "@effect-resilience/durable"
 * import { SqlDeadLetterQueue } from "@effect-resilience/sql"
 * import { Effect, Layer } from "effect"
 *
 * const Dlq = DeadLetterQueue.layer({ lease: "1 minute" }).pipe(
 *   Layer.provide(SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: "data/dlq.db" }))
 * )
 * const stats = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.stats).pipe(Effect.provide(Dlq))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreConfig = (
  config: SqlConnection.ConfigInput
): Layer.Layer<DLQ.DeadLetterQueueStore, ParseResult.ParseError | DLQ.DeadLetterStoreError> =>
  layerStore.pipe(
    Layer.provide(
      SqlConnection.layerClient(config).pipe(
        Layer.mapError((error) =>
          error._tag === "ConnectionError"
            ? new DLQ.DeadLetterStoreError({ reason: error.reason, message: error.message, cause: error.cause })
            : error
        )
      )
    )
  )
