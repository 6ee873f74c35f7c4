/**
 * A database connection that heals (`Connection` of `@effect-resilience/core`) on `@effect/sql`:
 * the client of a {@link SqlConnection} config, checked with `SELECT 1`, opened again with backoff
 * when the check fails, while calls wait for it within their deadline.
 *
 * @since 0.3.0
 */
import * as Connection from "@effect-resilience/core/Connection"
import type * as SqlError from "@effect/sql/SqlError"
import * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as SqlConnection from "./SqlConnection.js"

/**
 * The health check: `SELECT 1` on the client.
 *
 * @example
 * ```ts
 * import { SqlHealth } from "@effect-resilience/sql"
 * import { SqlClient } from "@effect/sql"
 * import { Effect } from "effect"
 *
 * const check = Effect.flatMap(SqlClient.SqlClient, SqlHealth.selectOne)
 * ```
 *
 * @since 0.3.0
 * @category combinators
 */
export const selectOne = (sql: SqlClient.SqlClient): Effect.Effect<void, SqlError.SqlError> =>
  Effect.asVoid(sql`SELECT 1`)

/**
 * A connection that heals to the database of `config` (SQLite or PostgreSQL, as
 * `SqlConnection.layerClient` opens it): the client is opened in the connection's scope and
 * closed with it when a `SELECT 1` fails, then opened again with backoff. A bad config fails at
 * once with a `ParseError` naming the path.
 *
 * @example
 * ```ts
 * import { Deadline } from "@effect-resilience/core"
 * import { SqlHealth } from "@effect-resilience/sql"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const db = yield* SqlHealth.make(
 *     { dialect: "pg", url: "postgres://postgres@127.0.0.1:5432/orders" },
 *     { name: "orders-db", healthInterval: "2 seconds" }
 *   )
 *   return yield* db.use((sql) => sql`SELECT count(*) FROM orders`).pipe(Deadline.propagate("3 seconds"))
 * }).pipe(Effect.scoped)
 * ```
 *
 * @since 0.3.0
 * @category constructors
 */
export const make = (
  config: SqlConnection.ConfigInput,
  connection: Connection.ConfigInput
): Effect.Effect<Connection.Connection<SqlClient.SqlClient>, ParseResult.ParseError, Scope.Scope> =>
  Effect.zipRight(
    Schema.decodeUnknown(SqlConnection.Config)(config),
    Connection.make(
      {
        acquire: Effect.map(Layer.build(SqlConnection.layerClient(config)), Context.get(SqlClient.SqlClient)),
        healthCheck: selectOne
      },
      connection
    )
  )
