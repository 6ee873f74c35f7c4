/**
 * Where the SQL stores live, as config: a SQLite file (the embedded default, no server) or a
 * PostgreSQL server (several processes sharing the stores). Every store module of this package
 * has a `layerStoreConfig(config)` that decodes this config and opens the client; `layerClient`
 * opens one client to share between several stores (`layerStore` each).
 *
 * @since 0.2.0
 */
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as client from "./internal/client.js"
import * as DurationInput from "@effect-resilience/core/DurationInput"

/**
 * How hard SQLite waits for the disk at each commit (the file is always in WAL mode):
 *
 * - `normal` (the default): a commit is written to the write-ahead log but not synced; the log is
 *   synced at each checkpoint. A crash of the process loses nothing; a power loss or an OS crash
 *   may lose the last transactions committed before it, but never corrupts the file.
 * - `full`: every commit is synced before it returns, so it survives a power loss too, at the
 *   cost of one disk sync per transaction.
 *
 * @example
 * ```ts
 * import { SqlConnection } from "@effect-resilience/sql"
 *
 * const config: SqlConnection.ConfigInput = { dialect: "sqlite", filename: "data/dlq.db", synchronous: "full" }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Synchronous = Schema.Literal("normal", "full")

/**
 * @since 0.2.0
 * @category config
 */
export type Synchronous = typeof Synchronous.Type

/**
 * A SQLite file (created when missing; an existing file must be a SQLite database), opened in WAL
 * mode with `synchronous` (see {@link Synchronous}; default `normal`).
 *
 * @example
 * ```ts
 * import { SqlConnection } from "@effect-resilience/sql"
 *
 * const config: SqlConnection.ConfigInput = { dialect: "sqlite", filename: "data/dlq.db" }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Sqlite = Schema.Struct({
  dialect: Schema.Literal("sqlite"),
  filename: Schema.NonEmptyTrimmedString,
  synchronous: Schema.optionalWith(Synchronous, { default: () => "normal" as const })
})

/**
 * A PostgreSQL server. `url` is kept `Redacted` once decoded (it may carry a password);
 * `maxConnections` defaults to 10 and `connectTimeout` to 5 seconds.
 *
 * @example
 * ```ts
 * import { SqlConnection } from "@effect-resilience/sql"
 *
 * const config: SqlConnection.ConfigInput = {
 *   dialect: "pg",
 *   url: "postgres://app@127.0.0.1:5432/app",
 *   connectTimeout: "2 seconds"
 * }
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Pg = Schema.Struct({
  dialect: Schema.Literal("pg"),
  url: Schema.Redacted(Schema.NonEmptyTrimmedString),
  maxConnections: Schema.optionalWith(Schema.Int.pipe(Schema.greaterThanOrEqualTo(1)), { default: () => 10 }),
  connectTimeout: Schema.optionalWith(DurationInput.Positive, { default: () => Duration.seconds(5) })
})

/**
 * The configuration of a connection: {@link Sqlite} or {@link Pg}, told apart by `dialect`.
 *
 * @example
 * ```ts
 * import { SqlConnection } from "@effect-resilience/sql"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(SqlConnection.Config)({ dialect: "sqlite", filename: "dlq.db" })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Config: Schema.Schema<typeof Sqlite.Type | typeof Pg.Type, typeof Sqlite.Encoded | typeof Pg.Encoded> =
  Schema.declare([Schema.Union(Sqlite, Pg)], {
    // Effect's union parser (3.22) makes a string of `dialect` to pick a member, which throws on
    // a value no string can be made of (an object without a prototype): refuse it first, at its path
    decode: (members) => (input, options) => {
      const dialect: unknown = typeof input === "object" && input !== null ? Reflect.get(input, "dialect") : undefined
      return typeof dialect === "object" && dialect !== null && !printable(dialect)
        ? ParseResult.fail(new ParseResult.Pointer("dialect", input, new ParseResult.Type(members.ast, dialect)))
        : ParseResult.decodeUnknown(members)(input, options)
    },
    encode: (members) => (input, options) => ParseResult.encodeUnknown(members)(input, options)
  })

const printable = (value: object): boolean => {
  try {
    String(value)
    return true
  } catch {
    return false
  }
}

/**
 * @since 0.2.0
 * @category config
 */
export type Config = typeof Config.Type

/**
 * What a caller or a config file writes.
 *
 * @since 0.2.0
 * @category config
 */
export type ConfigInput = typeof Config.Encoded

/**
 * The database could not be opened or reached: `unavailable` (no server, a file that cannot be
 * read) or `foreign` (the file is not a SQLite database). `message` is fit for an operator (no
 * URL, credential or stack trace); `cause` keeps the driver's error for logs.
 *
 * @example
 * ```ts
 * import { SqlConnection } from "@effect-resilience/sql"
 *
 * const e = new SqlConnection.ConnectionError({ reason: "unavailable", message: "Cannot reach PostgreSQL." })
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class ConnectionError extends Schema.TaggedError<ConnectionError>()("ConnectionError", {
  reason: Schema.Literal("unavailable", "foreign"),
  message: Schema.String,
  cause: Schema.optional(Schema.Defect)
}) {}

/**
 * Decodes the config and opens the client. A bad config fails with the `ParseError` (which names
 * the path); a database that cannot be opened fails with a {@link ConnectionError}.
 *
 * @example
 * ```ts
 * import { SqlCheckpoint, SqlConnection, SqlIdempotency } from "@effect-resilience/sql"
 * import { Layer } from "effect"
 *
 * // one SQLite file for both batch stores
 * const Stores = Layer.mergeAll(SqlCheckpoint.layerStore, SqlIdempotency.layerStore).pipe(
 *   Layer.provide(SqlConnection.layerClient({ dialect: "sqlite", filename: "batch.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerClient = (
  config: ConfigInput
): Layer.Layer<SqlClient.SqlClient, ParseResult.ParseError | ConnectionError> =>
  Layer.unwrapEffect(
    Effect.map(Schema.decodeUnknown(Config)(config), (decoded) =>
      client.layer(decoded).pipe(Layer.mapError((e) => new ConnectionError(e)))
    )
  )
