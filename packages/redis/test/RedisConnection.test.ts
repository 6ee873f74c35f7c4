/**
 * The connection that heals, on a real Redis server of the test's own, killed (SIGKILL) and
 * restarted on the same port: the state goes Connected -> Disconnected -> Connected, the
 * statistics count it, a call made during the outage waits and succeeds after the restart within
 * its deadline, and a call with a short deadline fails with ConnectionUnavailable. Waits for a
 * state are liveness bounds (they return as soon as it holds, with a generous cap); no assertion
 * is made on elapsed wall time.
 */
import * as Connection from "@effect-resilience/core/Connection"
import * as Deadline from "@effect-resilience/core/Deadline"
import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Stream from "effect/Stream"
import * as RedisConnection from "../src/RedisConnection.js"
import { startRedis } from "./support/redisServer.js"

const server = Effect.acquireRelease(
  Effect.promise(() => startRedis()),
  (s) => Effect.promise(() => s.stop())
)

/** Waits until `conn` is in state `tag` (a liveness bound of 10 s: returns as soon as it holds). */
const until = <C>(conn: Connection.Connection<C>, tag: Connection.State["_tag"]) =>
  conn.state.changes.pipe(
    Stream.filter((s) => s._tag === tag),
    Stream.runHead,
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error(`not ${tag} within 10 s`) })
  )

describe("RedisConnection", () => {
  it.live(
    "a Redis killed and restarted: Connected -> Disconnected -> Connected; calls wait within their deadline",
    () =>
      Effect.gen(function* () {
        const redis = yield* server
        const conn = yield* RedisConnection.make(redis.url, {
          name: "cache",
          healthInterval: "100 millis",
          healthTimeout: "1 second",
          reconnect: { initialDelay: "50 millis", maxDelay: "300 millis" }
        })
        const seen: Array<Connection.State["_tag"]> = []
        yield* Effect.forkScoped(
          Stream.runForEach(conn.state.changes, (s) => Effect.sync(() => void seen.push(s._tag)))
        )
        yield* until(conn, "Connected")
        yield* conn.use((c) => Effect.promise(() => c.set("k", "before")))

        yield* Effect.promise(() => redis.kill())
        yield* until(conn, "Disconnected")

        // during the outage: a patient call waits, a hasty one fails with ConnectionUnavailable
        const patient = yield* Effect.fork(
          conn.use((c) => Effect.promise(() => c.ping())).pipe(Deadline.propagate("30 seconds"))
        )
        const hasty = yield* Effect.exit(conn.get.pipe(Deadline.propagate("100 millis")))
        expect(Exit.isFailure(hasty)).toBe(true)
        if (Exit.isFailure(hasty)) {
          const failure = Cause.failureOption(hasty.cause)
          expect(failure._tag === "Some" && failure.value instanceof Connection.ConnectionUnavailable).toBe(true)
        }
        expect(patient.unsafePoll()).toBeNull()

        yield* Effect.promise(() => redis.start())
        expect(yield* Fiber.join(patient)).toBe("PONG")
        expect((yield* conn.state.get)._tag).toBe("Connected")
        // the data went with the killed server (nothing persisted): this is a new server's connection
        expect(yield* conn.use((c) => Effect.promise(() => c.get("k")))).toBeNull()

        const firstConnected = seen.indexOf("Connected")
        const disconnected = seen.indexOf("Disconnected", firstConnected)
        expect(firstConnected).toBeGreaterThanOrEqual(0)
        expect(disconnected).toBeGreaterThan(firstConnected)
        expect(seen.indexOf("Connected", disconnected)).toBeGreaterThan(disconnected)
        const stats = yield* conn.stats
        expect(stats.connects).toBe(2)
        expect(stats.disconnects).toBe(1)
        expect(stats.failedHealthChecks).toBeGreaterThanOrEqual(1)
        expect(stats.connectAttempts).toBe(stats.connects + stats.failedConnects)
        expect(stats.connectedMillis).toBeGreaterThan(0)
        // a reason fit for a user: no host, no port
        expect(stats.lastReason).toBeDefined()
        expect(stats.lastReason).not.toContain(String(redis.port))
        expect(stats.lastReason).not.toContain("127.0.0.1")
      }).pipe(Effect.scoped),
    60_000
  )

  it.live("a PING answers on a server that is up; acquire fails on a port with no server", () =>
    Effect.gen(function* () {
      const redis = yield* server
      yield* Effect.scoped(Effect.flatMap(RedisConnection.acquire(redis.url), RedisConnection.ping))
      const port = redis.port
      yield* Effect.promise(() => redis.stop())
      const exit = yield* Effect.exit(Effect.scoped(RedisConnection.acquire(`redis://127.0.0.1:${port}`)))
      expect(exit._tag).toBe("Failure")
      // ioredis without its own reconnecting reports a refused connection as a closed one
      if (Exit.isFailure(exit)) expect(Cause.failureOption(exit.cause)).toMatchObject({ value: { _tag: "RedisError" } })
    }).pipe(Effect.scoped)
  )
})
