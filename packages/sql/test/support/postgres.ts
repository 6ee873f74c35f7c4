/**
 * Test support for PostgreSQL: makes sure a server answers on 127.0.0.1:5432 (starting the local
 * cluster when it is installed but stopped), creates a fresh database with a random name for a test
 * file, drops it afterwards, and provides a `PgClient` / `SqlClient` for it.
 *
 * Never skips: when PostgreSQL is not installed the layer fails with a message that says so, so a
 * CI run (CI=true) cannot pass by silently leaving the PostgreSQL tests out.
 *
 * @example
 * import { describe, expect, layer } from "@effect/vitest"
 * import * as SqlClient from "@effect/sql/SqlClient"
 * import * as Effect from "effect/Effect"
 * import * as PgTest from "./support/postgres.js"
 *
 * layer(PgTest.layer)("my store on PostgreSQL", (it) => {
 *   it.effect("answers", () =>
 *     Effect.gen(function* () {
 *       const sql = yield* SqlClient.SqlClient
 *       const rows = yield* sql<{ one: number }>`SELECT 1 AS one`
 *       expect(rows[0]?.one).toBe(1)
 *     }))
 * })
 */
import { execFile } from "node:child_process"
import { randomBytes } from "node:crypto"
import { existsSync, readdirSync } from "node:fs"
import { Socket } from "node:net"
import * as PgClient from "@effect/sql-pg/PgClient"
import type * as SqlClient from "@effect/sql/SqlClient"
import * as Context from "effect/Context"
import * as Data from "effect/Data"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Redacted from "effect/Redacted"
import * as Schedule from "effect/Schedule"
import type * as Scope from "effect/Scope"

/** Host and port the tests use (trust auth, user `postgres`). */
export const host = "127.0.0.1"
export const port = 5432
export const user = "postgres"

/** The URL of a database on the test server. */
export const urlFor = (database: string): string => `postgres://${user}@${host}:${port}/${database}`

/** PostgreSQL could not be reached, started or prepared for the tests. */
export class PostgresUnavailable extends Data.TaggedError("PostgresUnavailable")<{ readonly message: string }> {}

/** The database created for the current test file. */
export class TestDatabase extends Context.Tag("@effect-resilience/sql/test/TestDatabase")<
  TestDatabase,
  { readonly name: string; readonly url: string }
>() {}

const probe = Effect.async<boolean>((resume) => {
  const socket = new Socket()
  const done = (ok: boolean) => {
    socket.destroy()
    resume(Effect.succeed(ok))
  }
  socket.setTimeout(1000)
  socket.once("connect", () => done(true))
  socket.once("timeout", () => done(false))
  socket.once("error", () => done(false))
  socket.connect(port, host)
  return Effect.sync(() => socket.destroy())
})

const run = (file: string, args: ReadonlyArray<string>) =>
  Effect.async<string, PostgresUnavailable>((resume) => {
    const child = execFile(file, [...args], { timeout: 60_000 }, (error, stdout, stderr) => {
      if (error) {
        resume(
          Effect.fail(
            new PostgresUnavailable({
              message: `"${file} ${args.join(" ")}" failed: ${String(stderr).trim() || error.message}`
            })
          )
        )
      } else {
        resume(Effect.succeed(String(stdout)))
      }
    })
    return Effect.sync(() => child.kill())
  })

const start = Effect.gen(function* () {
  if (!existsSync("/etc/postgresql")) {
    return yield* new PostgresUnavailable({
      message:
        "PostgreSQL is not running on 127.0.0.1:5432 and is not installed (no /etc/postgresql). " +
        "Install it (apt-get install -y postgresql) or start a server there with trust auth for user postgres."
    })
  }
  const versions = readdirSync("/etc/postgresql")
  const version = versions.sort().at(-1)
  if (version === undefined) {
    return yield* new PostgresUnavailable({ message: "PostgreSQL is installed but /etc/postgresql holds no cluster" })
  }
  yield* run("pg_ctlcluster", ["--skip-systemctl-redirect", version, "main", "start"])
  yield* probe.pipe(
    Effect.filterOrFail(
      (ok) => ok,
      () => new PostgresUnavailable({ message: "PostgreSQL was started but does not answer on 127.0.0.1:5432" })
    ),
    Effect.retry(Schedule.spaced(Duration.millis(250)).pipe(Schedule.intersect(Schedule.recurs(120))))
  )
})

/**
 * Succeeds when PostgreSQL answers on 127.0.0.1:5432, starting the local cluster when needed.
 */
export const ensureRunning: Effect.Effect<void, PostgresUnavailable> = Effect.flatMap(probe, (ok) =>
  ok ? Effect.void : start
)

const admin = <A>(f: (sql: PgClient.PgClient) => Effect.Effect<A, unknown>) =>
  Effect.scoped(
    Effect.flatMap(Layer.build(PgClient.layer({ url: Redacted.make(urlFor("postgres")), maxConnections: 1 })), (ctx) =>
      f(Context.get(ctx, PgClient.PgClient))
    )
  ).pipe(
    Effect.mapError(
      (e) => new PostgresUnavailable({ message: `PostgreSQL admin statement failed: ${errorMessage(e)}` })
    )
  )

const errorMessage = (e: unknown): string =>
  typeof e === "object" && e !== null && "message" in e && typeof e.message === "string" ? e.message : String(e)

/**
 * Creates a database with a random name (`resilience_test_<hex>`) and drops it when the scope
 * closes (with FORCE, so connections left open do not keep it alive).
 */
export const makeDatabase: Effect.Effect<
  { readonly name: string; readonly url: string },
  PostgresUnavailable,
  Scope.Scope
> = Effect.acquireRelease(
  Effect.gen(function* () {
    yield* ensureRunning
    const name = `resilience_test_${randomBytes(6).toString("hex")}`
    yield* admin((sql) => sql.unsafe(`CREATE DATABASE ${name}`))
    return { name, url: urlFor(name) }
  }),
  ({ name }) => admin((sql) => sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).pipe(Effect.orDie)
)

/**
 * A `PgClient` (and `SqlClient`) for a database URL.
 */
export const clientLayer = (
  url: string,
  options?: { readonly maxConnections?: number }
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, PostgresUnavailable> =>
  PgClient.layer({ url: Redacted.make(url), maxConnections: options?.maxConnections ?? 5 }).pipe(
    Layer.mapError((e) => new PostgresUnavailable({ message: `Cannot connect to the test database: ${e.message}` }))
  )

/**
 * The test database for one test file: `TestDatabase` (name and URL, to open more pools on it)
 * plus a `PgClient` / `SqlClient` connected to it. The database is dropped when the layer is
 * released.
 */
export const layer: Layer.Layer<TestDatabase | PgClient.PgClient | SqlClient.SqlClient, PostgresUnavailable> =
  Layer.unwrapScoped(
    Effect.map(makeDatabase, (db) => Layer.merge(Layer.succeed(TestDatabase, db), clientLayer(db.url)))
  )

/** Only the `TestDatabase` (creating and dropping it), without a client. */
export const layerDatabase: Layer.Layer<TestDatabase, PostgresUnavailable> = Layer.scoped(TestDatabase, makeDatabase)
