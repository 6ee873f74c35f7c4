/**
 * A {@link Checkpoint.CheckpointStore} on `@effect/sql`: a SQLite file (the embedded default) or
 * PostgreSQL (several processes), in the table `resilience_checkpoints`.
 *
 * One `record` call is one statement per 500 entries (inside one transaction when there are more),
 * an upsert that keeps the first position of a key and replaces its outcome.
 *
 * @since 0.1.0
 */
import * as SqlClient from "@effect/sql/SqlClient"
import * as Checkpoint from "@effect-resilience/core/Checkpoint"
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import { failedMessage } from "./CheckpointInternal.js"
import { checkpointsTable, migrate } from "./CheckpointMigrations.js"

const Row = Schema.Struct({ item_key: Schema.String, outcome: Checkpoint.Outcome })
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))

const chunkSize = 500

const failed = (operation: "migrate" | "load" | "record" | "clear", what: string) => (cause: unknown) =>
  new Checkpoint.CheckpointError({ operation, message: failedMessage("checkpoint store", what, cause), cause })

/**
 * Makes the store on the `SqlClient` in context, running the migrations first.
 *
 * @example
 * import { SqlCheckpointStore } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Effect } from "effect"
 *
 * const program = Effect.flatMap(SqlCheckpointStore.make, (store) => store.load("batch-1")).pipe(
 *   Effect.provide(SqliteClient.layer({ filename: "batch.db" }))
 * )
 *
 * @since 0.1.0
 */
export const make: Effect.Effect<Checkpoint.CheckpointStore["Type"], Checkpoint.CheckpointError, SqlClient.SqlClient> =
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* migrate.pipe(Effect.mapError(failed("migrate", "prepare its tables")))
    const t = sql(checkpointsTable)

    const writeChunk = (batchId: string, entries: ReadonlyArray<Checkpoint.Entry>, now: number) =>
      sql`INSERT INTO ${t} ${sql.insert(
        entries.map((e) => ({ batch_id: batchId, item_key: e.key, outcome: e.outcome, recorded_at: now }))
      )} ON CONFLICT (batch_id, item_key) DO UPDATE SET outcome = excluded.outcome, recorded_at = excluded.recorded_at`

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
        const chunks: Array<ReadonlyArray<Checkpoint.Entry>> = []
        for (let i = 0; i < unique.length; i += chunkSize) chunks.push(unique.slice(i, i + chunkSize))
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
 * The store as a Layer on the `SqlClient` in context (SQLite or PostgreSQL).
 *
 * @example
 * import { SqlCheckpointStore } from "@effect-resilience/sql"
 * import * as SqliteClient from "@effect/sql-sqlite-node/SqliteClient"
 * import { Layer } from "effect"
 *
 * const Checkpoints = SqlCheckpointStore.layer.pipe(Layer.provide(SqliteClient.layer({ filename: "batch.db" })))
 *
 * @since 0.1.0
 */
export const layer: Layer.Layer<Checkpoint.CheckpointStore, Checkpoint.CheckpointError, SqlClient.SqlClient> =
  Layer.effect(Checkpoint.CheckpointStore, make)
