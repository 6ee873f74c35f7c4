/**
 * A database connection that heals, against the PostgreSQL on 127.0.0.1:5432 (a database of the
 * test's own, dropped afterwards) and against a port where nothing listens. Waits are liveness
 * bounds (they return as soon as the state holds); no assertion is made on elapsed wall time.
 */
import { createServer } from "node:net"
import * as Connection from "@effect-resilience/core/Connection"
import * as Deadline from "@effect-resilience/core/Deadline"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import * as SqlHealth from "../src/SqlHealth.js"
import * as PgTest from "./support/postgres.js"

const freePort = Effect.promise(
  () =>
    new Promise<number>((resolve, reject) => {
      const server = createServer()
      server.once("error", reject)
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        server.close(() => resolve(port))
      })
    })
)

const until = <C>(conn: Connection.Connection<C>, holds: (s: Connection.State) => boolean, what: string) =>
  conn.state.changes.pipe(
    Stream.filter(holds),
    Stream.runHead,
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`not ${what} within 10 s`) })
  )

describe("SqlHealth on PostgreSQL", () => {
  it.live("connects, answers SELECT 1 on every check, and serves calls", () =>
    Effect.gen(function* () {
      const db = yield* PgTest.makeDatabase
      const conn = yield* SqlHealth.make(
        { dialect: "pg", url: db.url, maxConnections: 2 },
        { name: "pg", healthInterval: "50 millis" }
      )
      const rows = yield* conn
        .use((sql) => sql<{ one: number }>`SELECT 1 AS one`)
        .pipe(Deadline.propagate("10 seconds"))
      expect(rows[0]?.one).toBe(1)
      // liveness: a few checks pass (10 s cap; returns as soon as they have)
      yield* Effect.repeat(conn.stats, {
        until: (s) => s.healthChecks >= 3,
        schedule: Schedule.spaced("10 millis")
      }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("no checks") }))
      const stats = yield* conn.stats
      expect(stats).toMatchObject({ connects: 1, disconnects: 0, failedHealthChecks: 0, failedConnects: 0 })
      expect((yield* conn.state.get)._tag).toBe("Connected")
    }).pipe(Effect.scoped)
  )

  it.live(
    "with no server at the address: Disconnected with a reason that names no host, and calls fail after maxWait",
    () =>
      Effect.gen(function* () {
        const port = yield* freePort
        const conn = yield* SqlHealth.make(
          { dialect: "pg", url: `postgres://postgres@127.0.0.1:${port}/nothing`, connectTimeout: "1 second" },
          { name: "pg", maxWait: "200 millis", reconnect: { initialDelay: "50 millis", maxDelay: "200 millis" } }
        )
        yield* until(conn, (s) => s._tag === "Disconnected", "disconnected")
        const exit = yield* Effect.exit(conn.get)
        expect(Exit.isFailure(exit)).toBe(true)
        if (Exit.isFailure(exit)) {
          const failure = Cause.failureOption(exit.cause)
          expect(failure._tag === "Some" && failure.value instanceof Connection.ConnectionUnavailable).toBe(true)
          if (failure._tag === "Some") {
            expect(failure.value.message).not.toContain(String(port))
            expect(failure.value.reason ?? "").not.toContain(String(port))
            expect(failure.value.reason ?? "").not.toContain("127.0.0.1")
          }
        }
      }).pipe(Effect.scoped)
  )

  it.effect("a bad database config fails with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.scoped(SqlHealth.make(JSON.parse('{ "dialect": "pg", "url": "" }'), { name: "pg" }))
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(Cause.squash(exit.cause))).toContain("url")
    })
  )
})
