/**
 * The connection that heals, under TestClock: a dependency whose availability the test switches
 * (a user effect as acquire and health check; the real servers are in the redis and sql packages'
 * tests), so every transition, delay and wait is checked at exact times.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Classifier from "../src/Classifier.js"
import * as Connection from "../src/Connection.js"
import * as Deadline from "../src/Deadline.js"
import { Boom, testClassifier } from "./support/boom.js"

/** A dependency that is up or down; each connection is numbered, and dies when the dependency goes down. */
const dependency = () => {
  let up = true
  let generation = 0
  const released: Array<number> = []
  return {
    setUp: (value: boolean) =>
      Effect.sync(() => {
        up = value
        if (!value) generation++
      }),
    released,
    options: {
      acquire: Effect.suspend(() =>
        up ? Effect.succeed({ id: generation }) : Effect.fail(new Boom({ category: "network" }))
      ),
      release: (c: { readonly id: number }) => Effect.sync(() => void released.push(c.id)),
      healthCheck: (c: { readonly id: number }) =>
        up && c.id === generation ? Effect.void : Effect.fail(new Boom({ category: "unavailable" }))
    }
  }
}

const config: Connection.ConfigInput = {
  name: "dep",
  healthInterval: "1 second",
  healthTimeout: "100 millis",
  reconnect: { initialDelay: "100 millis", factor: 2, maxDelay: "1 second", jitter: "none" }
}

const tick = (millis: number) => TestClock.adjust(`${millis} millis`)

describe("Connection", () => {
  it.scoped("connects, drops on a failed health check, reconnects with backoff, and counts it all", () =>
    Effect.gen(function* () {
      const dep = dependency()
      const conn = yield* Connection.make(dep.options, config)
      const seen: Array<string> = []
      yield* Effect.forkScoped(
        Stream.runForEach(conn.state.changes, (s) =>
          Effect.sync(() =>
            seen.push(
              s._tag === "Disconnected"
                ? `Disconnected@${s.retryingAtMillis}`
                : s._tag === "Connecting"
                  ? `Connecting#${s.attempt}`
                  : s._tag === "Connected"
                    ? `Connected@${s.sinceMillis}`
                    : s._tag
            )
          )
        )
      )
      yield* tick(0)
      expect((yield* conn.get).id).toBe(0)
      yield* tick(2_000)
      yield* dep.setUp(false)
      // the check at 3 s fails: dropped, then tries at 3 000, 3 100, 3 300, 3 700
      yield* tick(1_000)
      yield* tick(100)
      yield* tick(200)
      yield* tick(400)
      yield* dep.setUp(true)
      // the next try is at 3 700 + 800 = 4 500
      yield* tick(799)
      expect((yield* conn.state.get)._tag).toBe("Disconnected")
      yield* tick(1)
      expect(yield* conn.state.get).toStrictEqual(Connection.State.Connected({ sinceMillis: 4_500 }))
      expect(seen).toEqual([
        "Connecting#1",
        "Connected@0",
        "Disconnected@3000",
        "Connecting#1",
        "Disconnected@3100",
        "Connecting#2",
        "Disconnected@3300",
        "Connecting#3",
        "Disconnected@3700",
        "Connecting#4",
        "Disconnected@4500",
        "Connecting#5",
        "Connected@4500"
      ])
      yield* tick(500)
      const stats = yield* conn.stats
      expect(stats).toStrictEqual({
        connects: 2,
        disconnects: 1,
        connectAttempts: 6,
        failedConnects: 4,
        healthChecks: 3,
        failedHealthChecks: 1,
        // 0 to 3 000, then 4 500 to 5 000
        connectedMillis: 3_500,
        lastReason: "connect failed: test failure (network)"
      })
      // the dropped connection was released
      expect(dep.released).toEqual([0])
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("a call during an outage waits and succeeds after the reconnect, within its deadline", () =>
    Effect.gen(function* () {
      const dep = dependency()
      const conn = yield* Connection.make(dep.options, config)
      yield* tick(0)
      yield* dep.setUp(false)
      yield* tick(1_000)
      expect((yield* conn.state.get)._tag).not.toBe("Connected")
      const patient = yield* Effect.fork(conn.use((c) => Effect.succeed(c.id)).pipe(Deadline.propagate("5 seconds")))
      const hasty = yield* Effect.fork(Effect.exit(conn.get.pipe(Deadline.propagate("50 millis"))))
      yield* tick(50)
      const refused = yield* Fiber.join(hasty)
      expect(refused).toStrictEqual(
        Exit.fail(
          new Connection.ConnectionUnavailable({
            connection: "dep",
            state: "Disconnected",
            // the last reason: the reconnects that failed since the health check did
            reason: "connect failed: test failure (network)",
            waitedMillis: 50
          })
        )
      )
      yield* dep.setUp(true)
      yield* tick(2_000)
      expect(yield* Fiber.join(patient)).toBe(1)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("without a deadline a call waits up to maxWait", () =>
    Effect.gen(function* () {
      const dep = dependency()
      yield* dep.setUp(false)
      const conn = yield* Connection.make(dep.options, { ...config, maxWait: "300 millis" })
      const call = yield* Effect.fork(Effect.exit(conn.get))
      yield* tick(299)
      expect(call.unsafePoll()).toBeNull()
      yield* tick(1)
      const exit = yield* Fiber.join(call)
      expect(Exit.isFailure(exit) && Exit.causeOption(exit)._tag === "Some").toBe(true)
    })
  )

  it.effect("closing the scope releases the connection and ends in Closed; calls then fail at once", () =>
    Effect.gen(function* () {
      const dep = dependency()
      const scope = yield* Scope.make()
      const conn = yield* Connection.make(dep.options, config).pipe(Scope.extend(scope))
      yield* tick(0)
      expect((yield* conn.state.get)._tag).toBe("Connected")
      yield* Scope.close(scope, Exit.void)
      expect(yield* conn.state.get).toStrictEqual(Connection.State.Closed())
      expect(dep.released).toEqual([0])
      const exit = yield* Effect.exit(conn.get)
      expect(exit).toStrictEqual(
        Exit.fail(new Connection.ConnectionUnavailable({ connection: "dep", state: "Closed", waitedMillis: 0 }))
      )
    })
  )

  it.scoped("checkNow runs a health check at once; failuresToDisconnect tolerates isolated failures", () =>
    Effect.gen(function* () {
      let healthy = true
      let checks = 0
      const conn = yield* Connection.make(
        {
          acquire: Effect.succeed("c"),
          healthCheck: () =>
            Effect.suspend(() => {
              checks++
              return healthy ? Effect.void : Effect.fail("sick")
            })
        },
        { ...config, failuresToDisconnect: 2 }
      )
      yield* tick(0)
      healthy = false
      yield* conn.checkNow
      yield* tick(0)
      expect(checks).toBe(1)
      expect((yield* conn.state.get)._tag).toBe("Connected")
      yield* tick(1_000)
      expect(checks).toBe(2)
      // dropped, and connected again at once (acquire succeeds)
      expect(yield* conn.state.get).toStrictEqual(Connection.State.Connected({ sinceMillis: 1_000 }))
      expect(yield* conn.stats).toMatchObject({
        connects: 2,
        disconnects: 1,
        lastReason: "health check failed (string)"
      })
    })
  )

  it.effect("a bad config fails with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.scoped(
          // as a config file would say it
          Connection.make(
            { acquire: Effect.succeed(1), healthCheck: () => Effect.void },
            JSON.parse('{ "name": "x", "healthInterval": "soon" }')
          )
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) expect(String(Exit.causeOption(exit))).toContain("healthInterval")
    })
  )
})

describe("Connection.classificationRule", () => {
  it.effect("classifies ConnectionUnavailable as unavailable (retryable) for retry and breakers", () =>
    Effect.gen(function* () {
      const classifier = yield* Classifier.Classifier
      const c = classifier.classify(
        new Connection.ConnectionUnavailable({ connection: "dep", state: "Disconnected", waitedMillis: 5 })
      )
      expect(c).toMatchObject({ category: "unavailable", retryable: true, code: "resilience.ConnectionUnavailable" })
    }).pipe(Effect.provide(Classifier.layerWith({ rules: [Connection.classificationRule] })))
  )
})

describe("Connection.use", () => {
  it.scoped("a call failing as if the connection broke checks health at once; another failure does not", () =>
    Effect.gen(function* () {
      let checks = 0
      const conn = yield* Connection.make(
        {
          acquire: Effect.succeed("c"),
          healthCheck: () => Effect.sync(() => void checks++)
        },
        config
      )
      yield* tick(0)
      yield* Effect.exit(conn.use(() => Effect.fail(new Boom({ category: "validation" }))))
      yield* tick(0)
      expect(checks).toBe(0)
      yield* Effect.exit(conn.use(() => Effect.fail(new Boom({ category: "network" }))))
      yield* tick(0)
      expect(checks).toBe(1)
    }).pipe(Effect.provide(testClassifier))
  )
})
