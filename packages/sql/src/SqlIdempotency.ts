/**
 * An `Idempotency.IdempotencyStore` on `@effect/sql`: a SQLite file (the embedded default)
 * or PostgreSQL (several processes), in the table `resilience_idempotency`. Of several processes
 * racing for a key exactly one takes it; lease times are the caller's `Clock` in epoch
 * milliseconds, so the hosts' clocks must agree (see {@link Idempotency}).
 *
 * @example
 * ```ts
 * import { Idempotency } from "@effect-resilience/durable"
 * import { SqlIdempotency } from "@effect-resilience/sql"
 * import { Effect, Schema } from "effect"
 *
 * const once = Idempotency.once("invoice:42", Effect.succeed("sent"), { schema: Schema.String }).pipe(
 *   Effect.provide(SqlIdempotency.layerStoreConfig({ dialect: "sqlite", filename: "data/batch.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Idempotency from "@effect-resilience/durable/Idempotency"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SqlConnection from "./SqlConnection.js"
import { failedMessage, firstWithNul, hasNul } from "./internal/storeError.js"
import { idempotencyTable, migrate } from "./SqlBatchMigrations.js"

/** PostgreSQL returns BIGINT as a string. */
const Millis = Schema.Union(Schema.Number, Schema.NumberFromString)

const Row = Schema.Struct({
  idempotency_key: Schema.String,
  status: Idempotency.Status,
  owner: Schema.String,
  expires_at: Millis,
  attempts: Millis,
  result: Schema.NullOr(Schema.String),
  updated_at: Millis
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))
const decodeAttempts = Schema.decodeUnknown(Schema.Array(Schema.Struct({ attempts: Millis })))

type Operation = "migrate" | "acquire" | "complete" | "release" | "get" | "remove" | "purge"

const failed = (operation: Operation, what: string) => (cause: unknown) =>
  new Idempotency.IdempotencyError({ operation, message: failedMessage("idempotency store", what, cause), cause })

/**
 * On PostgreSQL, whose text holds no NUL character: fails naming the first key (or the owner)
 * holding one, before any statement; `undefined` when there is none.
 */
const refusedNul = (
  operation: Operation,
  what: string,
  keys: ReadonlyArray<string>,
  owner: string | undefined
): Effect.Effect<never, Idempotency.IdempotencyError> | undefined => {
  const at = firstWithNul(keys)
  const which =
    at >= 0
      ? keys.length === 1
        ? "the key"
        : `key ${at + 1} of ${keys.length}`
      : owner !== undefined && hasNul(owner)
        ? "the owner"
        : undefined
  return which === undefined
    ? undefined
    : Effect.fail(
        new Idempotency.IdempotencyError({
          operation,
          message: `The idempotency store could not ${what}: ${which} holds a NUL character (U+0000), which PostgreSQL cannot store; nothing was written`
        })
      )
}

const toRecord = (row: typeof Row.Type): Idempotency.IdempotencyRecord => {
  const base = {
    key: row.idempotency_key,
    status: row.status,
    owner: row.owner,
    expiresAtMillis: row.expires_at,
    attempts: row.attempts,
    updatedAtMillis: row.updated_at
  }
  return row.result === null ? base : { ...base, result: row.result }
}

/**
 * Makes the store on the `SqlClient` in context, running the migrations first.
 *
 * @example
 * ```ts
 * import { SqlIdempotency } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(SqlIdempotency.makeStore, (store) => store.get("batch-1/o-7")).pipe(
 *   Effect.provide(SqliteClient.layer({ filename: "batch.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeStore: Effect.Effect<
  Idempotency.IdempotencyStore["Type"],
  Idempotency.IdempotencyError,
  SqlClient.SqlClient
> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* migrate.pipe(Effect.mapError(failed("migrate", "prepare its tables")))
  const t = sql(idempotencyTable)

  const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  // A list of keys as one parameter: a PostgreSQL text array, or a JSON array that SQLite's
  // json_each turns into rows (one statement for any number of keys, one prepared text).
  // Parameters are numbered for PostgreSQL; SQLite's driver binds `?` in the order of the text.
  const keyList = (keys: ReadonlyArray<string>) => (isPg ? [...keys] : JSON.stringify(keys))
  const keyRows = isPg ? "unnest($1::text[]) AS k(value)" : "json_each(?) AS k"
  const mark = (n: number) => (isPg ? `$${n}` : "?")
  const acquireAllText = `INSERT INTO ${idempotencyTable} (idempotency_key, status, owner, expires_at, attempts, result, updated_at)
SELECT k.value, 'in-progress', ${mark(2)}, ${mark(3)}, 1, NULL, ${mark(4)} FROM ${keyRows} WHERE true
ON CONFLICT (idempotency_key) DO UPDATE SET
  owner = excluded.owner,
  expires_at = excluded.expires_at,
  attempts = ${idempotencyTable}.attempts + 1,
  updated_at = excluded.updated_at
WHERE ${idempotencyTable}.status = 'in-progress' AND (${idempotencyTable}.expires_at <= ${mark(4)} OR ${idempotencyTable}.owner = excluded.owner)
RETURNING idempotency_key, attempts`
  const acquireAllParams = (keys: ReadonlyArray<string>, owner: string, expires: number, now: number) =>
    isPg ? [keyList(keys), owner, expires, now] : [owner, expires, now, keyList(keys), now]
  // PostgreSQL: `= ANY(array)` finds the keys through the primary key (an `IN (SELECT unnest ...)`
  // was planned as a scan of the whole table)
  const keyIn = isPg
    ? "idempotency_key = ANY($1::text[])"
    : "idempotency_key IN (SELECT k.value FROM json_each(?) AS k)"
  const readAllText = `SELECT idempotency_key, status, owner, expires_at, attempts, result, updated_at FROM ${idempotencyTable} WHERE ${keyIn}`
  const releaseAllText = `UPDATE ${idempotencyTable} SET expires_at = 0 WHERE ${keyIn} AND owner = ${mark(2)} AND status = 'in-progress'`
  // Entries as two lists of one length: a key and its result at each index
  const entryRows = isPg
    ? "unnest($1::text[], $2::text[]) AS e(k, r)"
    : "(SELECT k.value AS k, r.value AS r FROM json_each(?) AS k JOIN json_each(?) AS r ON r.key = k.key) AS e"
  const completeAllText = `INSERT INTO ${idempotencyTable} (idempotency_key, status, owner, expires_at, attempts, result, updated_at)
SELECT e.k, 'completed', ${mark(3)}, ${mark(4)}, 1, e.r, ${mark(4)} FROM ${entryRows} WHERE true
ON CONFLICT (idempotency_key) DO UPDATE SET
  status = 'completed',
  owner = excluded.owner,
  expires_at = excluded.expires_at,
  result = excluded.result,
  updated_at = excluded.updated_at
WHERE ${idempotencyTable}.status <> 'completed'`
  const completeAllParams = (
    keys: ReadonlyArray<string>,
    results: ReadonlyArray<string>,
    owner: string,
    now: number
  ) => (isPg ? [keyList(keys), keyList(results), owner, now] : [owner, now, now, keyList(keys), keyList(results)])
  const decodeTaken = Schema.decodeUnknown(
    Schema.Array(Schema.Struct({ idempotency_key: Schema.String, attempts: Millis }))
  )

  const read = (key: string) =>
    sql`SELECT idempotency_key, status, owner, expires_at, attempts, result, updated_at FROM ${t} WHERE idempotency_key = ${key}`.pipe(
      Effect.flatMap(decodeRows),
      Effect.map((rows) => Option.map(Option.fromNullable(rows[0]), toRecord))
    )

  // `complete` is this with one entry: one statement text for both
  const completeAll = (
    entries: ReadonlyArray<{ readonly key: string; readonly result: string }>,
    owner: string
  ): Effect.Effect<void, Idempotency.IdempotencyError> =>
    Effect.suspend((): Effect.Effect<void, Idempotency.IdempotencyError> => {
      if (entries.length === 0) return Effect.void
      const refused = isPg
        ? refusedNul(
            "complete",
            "complete keys",
            entries.map((e) => e.key),
            owner
          )
        : undefined
      if (refused !== undefined) return refused
      // one row per key (PostgreSQL refuses to update a row twice in one statement); the first
      // result of a key given twice is kept, as a key completed earlier keeps its first
      const resultOf = new Map<string, string>()
      for (const entry of entries) if (!resultOf.has(entry.key)) resultOf.set(entry.key, entry.result)
      return Effect.flatMap(Clock.currentTimeMillis, (now) =>
        sql.unsafe(completeAllText, completeAllParams([...resultOf.keys()], [...resultOf.values()], owner, now))
      ).pipe(Effect.asVoid, Effect.mapError(failed("complete", "complete keys")))
    })

  return {
    acquireAll: (keys, { leaseMillis, owner }) =>
      (isPg ? refusedNul("acquire", "acquire keys", keys, owner) : undefined) ??
      Effect.gen(function* () {
        if (keys.length === 0) return []
        const unique = Array.from(new Set(keys))
        const now = yield* Clock.currentTimeMillis
        const taken = yield* sql
          .unsafe(acquireAllText, acquireAllParams(unique, owner, now + leaseMillis, now))
          .pipe(Effect.flatMap(decodeTaken))
        const acquired = new Map<string, Idempotency.Acquisition>(
          taken.map((row) => [row.idempotency_key, Idempotency.Acquisition.Acquired({ attempt: row.attempts })])
        )
        const others = unique.filter((key) => !acquired.has(key))
        const current =
          others.length === 0 ? [] : yield* sql.unsafe(readAllText, [keyList(others)]).pipe(Effect.flatMap(decodeRows))
        const byKey = new Map(current.map((row) => [row.idempotency_key, toRecord(row)]))
        return keys.map((key) => {
          const done = acquired.get(key)
          if (done !== undefined) return done
          const record = byKey.get(key)
          // Removed between the two statements: busy until now, so the caller asks again
          if (record === undefined) return Idempotency.Acquisition.Busy({ owner: "", expiresAtMillis: now })
          return record.status === "completed"
            ? Idempotency.Acquisition.Completed({ result: record.result ?? "null" })
            : Idempotency.Acquisition.Busy({ owner: record.owner, expiresAtMillis: record.expiresAtMillis })
        })
      }).pipe(Effect.mapError(failed("acquire", "acquire keys"))),
    completeAll,
    releaseAll: (keys, owner) =>
      keys.length === 0
        ? Effect.void
        : ((isPg ? refusedNul("release", "release keys", keys, owner) : undefined) ??
          sql
            .unsafe(releaseAllText, [keyList(Array.from(new Set(keys))), owner])
            .pipe(Effect.asVoid, Effect.mapError(failed("release", "release keys")))),
    acquire: (key, { leaseMillis, owner }) =>
      (isPg ? refusedNul("acquire", "acquire a key", [key], owner) : undefined) ??
      Effect.gen(function* () {
        const now = yield* Clock.currentTimeMillis
        const taken =
          yield* sql`INSERT INTO ${t} (idempotency_key, status, owner, expires_at, attempts, result, updated_at)
VALUES (${key}, 'in-progress', ${owner}, ${now + leaseMillis}, 1, NULL, ${now})
ON CONFLICT (idempotency_key) DO UPDATE SET
  owner = excluded.owner,
  expires_at = excluded.expires_at,
  attempts = ${t}.attempts + 1,
  updated_at = excluded.updated_at
WHERE ${t}.status = 'in-progress' AND (${t}.expires_at <= ${now} OR ${t}.owner = excluded.owner)
RETURNING attempts`.pipe(Effect.flatMap(decodeAttempts))
        const row = taken[0]
        if (row !== undefined) return Idempotency.Acquisition.Acquired({ attempt: row.attempts })
        const current = yield* read(key)
        if (Option.isNone(current)) {
          // Removed between the two statements: report it busy until now, so the caller asks again.
          return Idempotency.Acquisition.Busy({ owner: "", expiresAtMillis: now })
        }
        const record = current.value
        return record.status === "completed"
          ? Idempotency.Acquisition.Completed({ result: record.result ?? "null" })
          : Idempotency.Acquisition.Busy({ owner: record.owner, expiresAtMillis: record.expiresAtMillis })
      }).pipe(Effect.mapError(failed("acquire", "acquire a key"))),
    complete: (key, owner, result) => completeAll([{ key, result }], owner),
    release: (key, owner) =>
      (isPg ? refusedNul("release", "release a key", [key], owner) : undefined) ??
      sql`UPDATE ${t} SET expires_at = 0 WHERE idempotency_key = ${key} AND owner = ${owner} AND status = 'in-progress'`.pipe(
        Effect.asVoid,
        Effect.mapError(failed("release", "release a key"))
      ),
    get: (key) => read(key).pipe(Effect.mapError(failed("get", "read a key"))),
    remove: (key) =>
      sql`DELETE FROM ${t} WHERE idempotency_key = ${key}`.pipe(
        Effect.asVoid,
        Effect.mapError(failed("remove", "remove a key"))
      ),
    purge: (beforeMillis) =>
      sql`DELETE FROM ${t}
WHERE (status = 'completed' AND updated_at < ${beforeMillis}) OR (status = 'in-progress' AND expires_at < ${beforeMillis})
RETURNING idempotency_key`.pipe(
        Effect.map((rows) => rows.length),
        Effect.mapError(failed("purge", "purge old keys"))
      )
  }
})

/**
 * The store as a Layer on the `SqlClient` in context (SQLite or PostgreSQL). Runs the migrations
 * first.
 *
 * @example
 * ```ts
 * import { SqlIdempotency } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Layer } from "effect"
 *
 * const Store = SqlIdempotency.layerStore.pipe(Layer.provide(SqliteClient.layer({ filename: "batch.db" })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStore: Layer.Layer<Idempotency.IdempotencyStore, Idempotency.IdempotencyError, SqlClient.SqlClient> =
  Layer.effect(Idempotency.IdempotencyStore, makeStore)

/**
 * The store in the database a {@link SqlConnection.Config} names (a SQLite file, created when
 * missing, or PostgreSQL). A bad config fails with the `ParseError` (which names the path); a
 * database that cannot be opened with a `IdempotencyError` whose operation is `connect` (its message never
 * shows the URL).
 *
 * @example
 * ```ts
 * import { SqlIdempotency } from "@effect-resilience/sql"
 *
 * const Store = SqlIdempotency.layerStoreConfig({ dialect: "pg", url: "postgres://app@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreConfig = (
  config: SqlConnection.ConfigInput
): Layer.Layer<Idempotency.IdempotencyStore, ParseResult.ParseError | Idempotency.IdempotencyError> =>
  layerStore.pipe(
    Layer.provide(
      SqlConnection.layerClient(config).pipe(
        Layer.mapError((error) =>
          error._tag === "ConnectionError"
            ? new Idempotency.IdempotencyError({ operation: "connect", message: error.message, cause: error.cause })
            : error
        )
      )
    )
  )
