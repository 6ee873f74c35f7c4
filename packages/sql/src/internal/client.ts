import type * as SqlClient from "@effect/sql/SqlClient"
import { closeSync, existsSync, openSync, readSync, statSync } from "node:fs"
import * as Cause from "effect/Cause"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import type { Config, Synchronous } from "../SqlConnection.js"
import { pgUnavailable, type Unavailable } from "./storeError.js"

const sqliteHeader = "SQLite format 3\u0000"

/**
 * The drivers are optional peers (a user installs the one they use): each is loaded when a config
 * names it, and a missing one fails as `unavailable`, naming the package to install.
 */
const loadDriver = <A>(name: string, load: () => Promise<A>): Effect.Effect<A, Unavailable> =>
  Effect.tryPromise({
    try: load,
    catch: (cause): Unavailable => ({
      reason: "unavailable",
      message: `The driver ${name} is not installed (add it next to @effect-resilience/sql)`,
      cause
    })
  })

const isUnavailable = (u: unknown): u is Unavailable =>
  typeof u === "object" && u !== null && "reason" in u && (u.reason === "unavailable" || u.reason === "foreign")

/** An existing file must start with SQLite's header; a missing or empty file is created. */
const checkSqliteFile = (filename: string): Effect.Effect<void, Unavailable> =>
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
    catch: (cause): Unavailable => ({
      reason: "unavailable",
      message: `Cannot read "${filename}": ${cause instanceof Error ? cause.message : String(cause)}`,
      cause
    })
  }).pipe(
    Effect.filterOrFail(
      (ok) => ok,
      (): Unavailable => ({
        reason: "foreign",
        message: `"${filename}" is not a SQLite database (is it the right file?)`
      })
    ),
    Effect.asVoid
  )

/**
 * SQLite in WAL mode (the driver's default) with the configured `synchronous` level, set on the
 * client's one connection before any store uses it.
 */
const layerSqlite = (filename: string, synchronous: Synchronous): Layer.Layer<SqlClient.SqlClient, Unavailable> =>
  Layer.unwrapEffect(
    Effect.zipRight(
      checkSqliteFile(filename),
      Effect.map(
        loadDriver("@effect/sql-sqlite-node", () => import("@effect/sql-sqlite-node/SqliteClient")),
        (SqliteClient) =>
          Layer.tap(SqliteClient.layer({ filename }), (context) =>
            Effect.asVoid(
              Context.get(context, SqliteClient.SqliteClient).unsafe(
                `PRAGMA synchronous = ${synchronous === "full" ? "FULL" : "NORMAL"}`
              )
            )
          )
      )
    )
  ).pipe(
    Layer.catchAllCause((cause) => {
      const failure = Cause.failureOption(cause)
      if (Option.isSome(failure) && isUnavailable(failure.value)) return Layer.fail(failure.value)
      const error = Option.orElse(failure, () => Cause.dieOption(cause)).pipe(Option.getOrUndefined)
      return Layer.fail<Unavailable>({
        reason: "unavailable",
        message: `Cannot open the SQLite database "${filename}": ${
          error instanceof Error ? error.message : "unknown error"
        }`,
        cause: error
      })
    })
  )

/**
 * The client a decoded connection config names: SQLite (the file checked first) or PostgreSQL (an
 * unreachable server said without its URL).
 *
 * @internal
 */
export const layer = (config: Config): Layer.Layer<SqlClient.SqlClient, Unavailable> =>
  config.dialect === "sqlite"
    ? layerSqlite(config.filename, config.synchronous)
    : Layer.unwrapEffect(
        Effect.map(
          loadDriver("@effect/sql-pg", () => import("@effect/sql-pg/PgClient")),
          (PgClient) =>
            PgClient.layer({
              url: config.url,
              maxConnections: config.maxConnections,
              connectTimeout: config.connectTimeout,
              applicationName: "effect-resilience"
            }).pipe(Layer.mapError(pgUnavailable))
        )
      )
