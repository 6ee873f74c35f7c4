/**
 * Failures as Effect code meets them: @effect/platform's HttpClient errors, @effect/sql's SqlError
 * (SQLite and PostgreSQL underneath), Effect's own TimeoutException and UnknownException.
 */
import { FetchHttpClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { PgClient } from "@effect/sql-pg"
import { SqliteClient } from "@effect/sql-sqlite-node"
import * as SqlClient from "@effect/sql/SqlClient"
import Database from "better-sqlite3"
import * as Effect from "effect/Effect"
import * as Redacted from "effect/Redacted"
import { join } from "node:path"
import pg from "pg"
import { after, type Case, L } from "../case.js"
import type { Env } from "../env.js"
import { markers } from "../env.js"

/** Runs an effect that must fail and returns its failure (the value in the error channel). */
const failure = <A, E>(effect: Effect.Effect<A, E>): Promise<unknown> =>
  Effect.runPromise(
    Effect.matchEffect(effect, {
      onFailure: (e) => Effect.succeed<unknown>(e),
      onSuccess: () => Effect.die(new Error("expected a failure, got a success"))
    })
  )

const httpFailure = <A, E>(f: (client: HttpClient.HttpClient) => Effect.Effect<A, E>) =>
  failure(Effect.flatMap(HttpClient.HttpClient, f).pipe(Effect.scoped, Effect.provide(FetchHttpClient.layer)))

/** A request carrying a credential and a payload marker: the leak test looks for both. */
const marked = (request: HttpClientRequest.HttpClientRequest) =>
  request.pipe(
    HttpClientRequest.bearerToken(markers.password),
    HttpClientRequest.setUrlParam("marker", markers.payload)
  )

const statusOk = (env: Env, path: string) =>
  httpFailure((client) =>
    HttpClient.filterStatusOk(client).execute(
      marked(HttpClientRequest.post(`${env.httpUrl}${path}`)).pipe(HttpClientRequest.bodyText(markers.payload))
    )
  )

let files = 0

const sqlite = <A, E>(env: Env, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  failure(
    Effect.flatMap(SqlClient.SqlClient, f).pipe(
      Effect.provide(SqliteClient.layer({ filename: join(env.dir, `effect-sql-${++files}.db`) }))
    )
  )

const pgLayer = (env: Env) =>
  PgClient.layer({
    host: env.pg.host,
    port: env.pg.port,
    database: env.pg.database,
    username: env.pg.user,
    maxConnections: 1
  })

const postgres = <A, E>(env: Env, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>) =>
  failure(Effect.flatMap(SqlClient.SqlClient, f).pipe(Effect.provide(pgLayer(env))))

export const platformCases: ReadonlyArray<Case> = [
  {
    name: "RequestError Transport (connection refused)",
    library: "@effect/platform",
    expected: L.network,
    provoke: (env) =>
      httpFailure((client) => client.execute(marked(HttpClientRequest.get(`http://127.0.0.1:${env.closedPort}/`))))
  },
  {
    name: "RequestError Transport (server hangs up)",
    library: "@effect/platform",
    expected: L.network,
    provoke: (env) => httpFailure((client) => client.get(`${env.httpUrl}/hangup`))
  },
  {
    name: "RequestError InvalidUrl",
    library: "@effect/platform",
    expected: L.defect,
    provoke: () => httpFailure((client) => client.get("http://[not-a-host/"))
  },
  {
    name: "ResponseError StatusCode 503 with Retry-After: 5",
    library: "@effect/platform",
    expected: after(L.unavailable, 5000),
    provoke: (env) => statusOk(env, "/status/503?retry-after=5")
  },
  {
    name: "ResponseError StatusCode 429 with Retry-After: 1",
    library: "@effect/platform",
    expected: after(L.throttled, 1000),
    provoke: (env) => statusOk(env, "/status/429?retry-after=1")
  },
  {
    name: "ResponseError StatusCode 500",
    library: "@effect/platform",
    expected: L.server,
    provoke: (env) => statusOk(env, "/status/500")
  },
  {
    name: "ResponseError StatusCode 404",
    library: "@effect/platform",
    expected: L.client,
    provoke: (env) => statusOk(env, "/status/404")
  },
  {
    name: "ResponseError Decode (json of an HTML body)",
    library: "@effect/platform",
    expected: L.validation,
    provoke: (env) => httpFailure((client) => Effect.flatMap(client.get(`${env.httpUrl}/text`), (res) => res.json))
  },
  {
    name: "Effect.timeout over a slow request (TimeoutException)",
    library: "@effect/platform",
    expected: L.timeout,
    provoke: (env) =>
      httpFailure((client) => client.get(`${env.httpUrl}/slow-headers?ms=2000`).pipe(Effect.timeout("50 millis")))
  }
]

export const sqlCases: ReadonlyArray<Case> = [
  {
    name: "SqlError wrapping SQLITE_CONSTRAINT_UNIQUE",
    library: "@effect/sql",
    expected: L.integrity,
    provoke: (env) =>
      sqlite(env, (sql) =>
        Effect.gen(function* () {
          yield* sql`CREATE TABLE t (v text UNIQUE)`
          yield* sql`INSERT INTO t VALUES (${markers.payload})`
          yield* sql`INSERT INTO t VALUES (${markers.payload})`
        })
      )
  },
  {
    name: "SqlError wrapping SQLITE_ERROR syntax error",
    library: "@effect/sql",
    expected: L.client,
    provoke: (env) => sqlite(env, (sql) => sql.unsafe("SELEC 1"))
  },
  {
    name: "SqlError wrapping SQLITE_ERROR no such table",
    library: "@effect/sql",
    expected: L.configuration,
    provoke: (env) => sqlite(env, (sql) => sql`SELECT * FROM no_such_table`)
  },
  {
    name: "SqlError wrapping SQLITE_BUSY",
    library: "@effect/sql",
    expected: L.concurrency,
    provoke: (env) => {
      const filename = join(env.dir, `effect-sql-busy-${++files}.db`)
      const holder = new Database(filename)
      holder.pragma("journal_mode = WAL")
      holder.exec("CREATE TABLE t (v int)")
      holder.exec("BEGIN IMMEDIATE")
      return failure(
        Effect.flatMap(SqlClient.SqlClient, (sql) =>
          Effect.zipRight(sql.unsafe("PRAGMA busy_timeout = 0"), sql`INSERT INTO t VALUES (1)`)
        ).pipe(Effect.provide(SqliteClient.layer({ filename })))
      ).finally(() => holder.close())
    }
  },
  {
    name: "SqlError wrapping pg unique violation (23505)",
    library: "@effect/sql",
    expected: L.integrity,
    provoke: (env) =>
      postgres(env, (sql) =>
        Effect.gen(function* () {
          const t = `${env.pg.schema}.effect_uniq_${++files}`
          yield* sql.unsafe(`CREATE TABLE ${t} (id int PRIMARY KEY)`)
          yield* sql.unsafe(`INSERT INTO ${t} VALUES (1)`)
          yield* sql.unsafe(`INSERT INTO ${t} VALUES (1)`)
        })
      )
  },
  {
    name: "SqlError wrapping pg statement timeout (57014)",
    library: "@effect/sql",
    expected: L.timeout,
    provoke: (env) =>
      postgres(env, (sql) =>
        sql.withTransaction(
          Effect.gen(function* () {
            yield* sql.unsafe("SET LOCAL statement_timeout = '40ms'")
            yield* sql.unsafe("SELECT pg_sleep(2)")
          })
        )
      )
  },
  {
    name: "SqlError wrapping pg undefined table (42P01)",
    library: "@effect/sql",
    expected: L.configuration,
    provoke: (env) => postgres(env, (sql) => sql.unsafe("SELECT * FROM no_such_table_here"))
  },
  {
    name: "SqlError from PgClient connecting to a closed port with a password (ECONNREFUSED)",
    library: "@effect/sql",
    expected: L.network,
    provoke: (env) =>
      failure(
        Effect.flatMap(SqlClient.SqlClient, (sql) => sql`SELECT 1`).pipe(
          Effect.provide(
            PgClient.layer({
              host: "127.0.0.1",
              port: env.closedPort,
              database: "postgres",
              username: "postgres",
              password: Redacted.make(markers.password)
            })
          )
        )
      )
  }
]

export const effectCases: ReadonlyArray<Case> = [
  {
    name: "UnknownException wrapping a pg unique violation (Effect.tryPromise without catch, 23505)",
    library: "effect",
    expected: L.integrity,
    provoke: (env) =>
      failure(
        Effect.tryPromise(async () => {
          const client = new pg.Client({
            host: env.pg.host,
            port: env.pg.port,
            database: env.pg.database,
            user: env.pg.user
          })
          await client.connect()
          try {
            const t = `${env.pg.schema}.unknown_exc_${++files}`
            await client.query(`CREATE TABLE ${t} (id int PRIMARY KEY)`)
            await client.query(`INSERT INTO ${t} VALUES (1)`)
            return await client.query(`INSERT INTO ${t} VALUES (1)`)
          } finally {
            await client.end()
          }
        })
      )
  },
  {
    name: "UnknownException wrapping fetch failed (ECONNREFUSED)",
    library: "effect",
    expected: L.network,
    provoke: (env) => failure(Effect.tryPromise(() => fetch(`http://127.0.0.1:${env.closedPort}/`)))
  },
  {
    name: "Effect.timeout (TimeoutException)",
    library: "effect",
    expected: L.timeout,
    provoke: () => failure(Effect.never.pipe(Effect.timeout("20 millis")))
  }
]
