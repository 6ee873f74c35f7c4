/**
 * A `Checkpoint.CheckpointStore` on `@effect/sql`: a SQLite file (the embedded default) or
 * PostgreSQL (several processes), in the table `resilience_checkpoints`. Use `layerStore` on a
 * `SqlClient` you already have, or `layerStoreConfig` to open one from a {@link SqlConnection.Config}.
 *
 * @example
 * ```ts
 * import { Checkpoint } from "@effect-resilience/durable"
 * import { SqlCheckpoint } from "@effect-resilience/sql"
 * import { Effect } from "effect"
 *
 * const done = Effect.flatMap(Checkpoint.CheckpointStore, (store) => store.load("orders-2024-06-01")).pipe(
 *   Effect.provide(SqlCheckpoint.layerStoreConfig({ dialect: "sqlite", filename: "data/batch.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as SqlConnection from "./SqlConnection.js"
import { failedMessage, firstWithNul, hasNul } from "./internal/storeError.js"
import { checkpointsTable, migrate } from "./SqlBatchMigrations.js"

const Row = Schema.Struct({ item_key: Schema.String, outcome: Checkpoint.Outcome })
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

/** The most rows one SQLite statement carries (4 parameters each, far under SQLite's limit of 32,766). */
const maxRowsPerStatement = 512

/**
 * Sizes of the SQLite statements for `n` rows: as many of the largest as fit, then powers of two,
 * so that a handful of texts are ever prepared.
 */
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

const failed = (operation: "migrate" | "load" | "record" | "clear", what: string) => (cause: unknown) =>
  new Checkpoint.CheckpointError({ operation, message: failedMessage("checkpoint store", what, cause), cause })

/**
 * Makes the store on the `SqlClient` in context, running the migrations first.
 *
 * @example
 * ```ts
 * import { SqlCheckpoint } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(SqlCheckpoint.makeStore, (store) => store.load("batch-1")).pipe(
 *   Effect.provide(SqliteClient.layer({ filename: "batch.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const makeStore: Effect.Effect<
  Checkpoint.CheckpointStore["Type"],
  Checkpoint.CheckpointError,
  SqlClient.SqlClient
> = Effect.gen(function* () {
  const sql = yield* SqlClient.SqlClient
  yield* migrate.pipe(Effect.mapError(failed("migrate", "prepare its tables")))
  const t = sql(checkpointsTable)
  const isPg = sql.onDialectOrElse({ pg: () => true, orElse: () => false })
  const upsert =
    "ON CONFLICT (batch_id, item_key) DO UPDATE SET outcome = excluded.outcome, recorded_at = excluded.recorded_at"

  // SQLite: one text per number of rows, made once, so the driver's statement cache keeps it
  // prepared (`sql.insert` builds the text and its parameters anew for every call).
  const texts = new Map<number, string>()
  const sqliteText = (rows: number) => {
    let text = texts.get(rows)
    if (text === undefined) {
      text = `INSERT INTO ${checkpointsTable} (batch_id, item_key, outcome, recorded_at) VALUES ${Array.from(
        { length: rows },
        () => "(?, ?, ?, ?)"
      ).join(", ")} ${upsert}`
      texts.set(rows, text)
    }
    return text
  }
  // PostgreSQL: every entry in one statement of two arrays, in their order (`seq` follows it).
  const pgText = `INSERT INTO ${checkpointsTable} (batch_id, item_key, outcome, recorded_at) SELECT $1, u.item_key, u.outcome, $2 FROM unnest($3::text[], $4::text[]) WITH ORDINALITY AS u(item_key, outcome, n) ORDER BY u.n ${upsert}`

  const writeChunk = (batchId: string, entries: ReadonlyArray<Checkpoint.Entry>, now: number) => {
    const params: Array<string | number> = []
    for (const e of entries) params.push(batchId, e.key, e.outcome, now)
    return sql.unsafe(sqliteText(entries.length), params)
  }

  return {
    load: (batchId) =>
      sql`SELECT item_key, outcome FROM ${t} WHERE batch_id = ${batchId} ORDER BY seq`.pipe(
        Effect.flatMap(decodeRows),
        Effect.map((rows) => rows.map((r): Checkpoint.Entry => ({ key: r.item_key, outcome: r.outcome }))),
        Effect.mapError(failed("load", "load a checkpoint"))
      ),
    record: (batchId, entries) => {
      if (entries.length === 0) return Effect.void
      // One row per key within a statement (PostgreSQL refuses to upsert a row twice in one),
      // the last outcome winning and the first position kept.
      const byKey = new Map<string, Checkpoint.Outcome>()
      for (const e of entries) byKey.set(e.key, e.outcome)
      const unique = Array.from(byKey, ([key, outcome]): Checkpoint.Entry => ({ key, outcome }))
      if (isPg) {
        // PostgreSQL's text holds no NUL character: say which value had one, before the statement
        const at = firstWithNul(unique.map((e) => e.key))
        if (at >= 0 || hasNul(batchId)) {
          const which = at >= 0 ? `the key of entry ${at + 1} of ${unique.length}` : "the batch id"
          return Effect.fail(
            new Checkpoint.CheckpointError({
              operation: "record",
              message: `The checkpoint store could not record checkpoint entries: ${which} holds a NUL character (U+0000), which PostgreSQL cannot store; nothing was written`
            })
          )
        }
        return Effect.flatMap(Clock.currentTimeMillis, (now) =>
          sql.unsafe(pgText, [batchId, now, unique.map((e) => e.key), unique.map((e) => e.outcome)])
        ).pipe(Effect.asVoid, Effect.mapError(failed("record", "record checkpoint entries")))
      }
      const chunks: Array<ReadonlyArray<Checkpoint.Entry>> = []
      let offset = 0
      for (const size of chunkSizes(unique.length)) {
        chunks.push(unique.slice(offset, offset + size))
        offset += size
      }
      return Effect.flatMap(Clock.currentTimeMillis, (now) => {
        const writes = Effect.forEach(chunks, (chunk) => writeChunk(batchId, chunk, now), { discard: true })
        return chunks.length === 1 ? writes : sql.withTransaction(writes)
      }).pipe(Effect.mapError(failed("record", "record checkpoint entries")))
    },
    clear: (batchId) =>
      sql`DELETE FROM ${t} WHERE batch_id = ${batchId}`.pipe(
        Effect.asVoid,
        Effect.mapError(failed("clear", "clear a checkpoint"))
      )
  }
})

/**
 * The store as a Layer on the `SqlClient` in context (SQLite or PostgreSQL). Runs the migrations
 * first.
 *
 * @example
 * ```ts
 * import { SqlCheckpoint } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Layer } from "effect"
 *
 * const Store = SqlCheckpoint.layerStore.pipe(Layer.provide(SqliteClient.layer({ filename: "batch.db" })))
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStore: Layer.Layer<Checkpoint.CheckpointStore, Checkpoint.CheckpointError, SqlClient.SqlClient> =
  Layer.effect(Checkpoint.CheckpointStore, makeStore)

/**
 * The store in the database a {@link SqlConnection.Config} names (a SQLite file, created when
 * missing, or PostgreSQL). A bad config fails with the `ParseError` (which names the path); a
 * database that cannot be opened with a `CheckpointError` whose operation is `connect` (its message never
 * shows the URL).
 *
 * @example
 * ```ts
 * import { SqlCheckpoint } from "@effect-resilience/sql"
 *
 * const Store = SqlCheckpoint.layerStoreConfig({ dialect: "pg", url: "postgres://app@127.0.0.1:5432/app" })
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerStoreConfig = (
  config: SqlConnection.ConfigInput
): Layer.Layer<Checkpoint.CheckpointStore, ParseResult.ParseError | Checkpoint.CheckpointError> =>
  layerStore.pipe(
    Layer.provide(
      SqlConnection.layerClient(config).pipe(
        Layer.mapError((error) =>
          error._tag === "ConnectionError"
            ? new Checkpoint.CheckpointError({ operation: "connect", message: error.message, cause: error.cause })
            : error
        )
      )
    )
  )
