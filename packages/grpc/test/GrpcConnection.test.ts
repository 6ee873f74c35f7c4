/**
 * The gRPC connection that heals, against a real grpc-js server on 127.0.0.1 (a free port) that
 * serves the standard health protocol with the gRPC team's `HealthImplementation` and one echo
 * method: SERVING -> Connected; NOT_SERVING -> Disconnected, SERVING again -> Connected; the
 * server shut down and started again on the same port -> reconnected, a call made through `use`
 * while it was down waits and succeeds within its deadline. Waits for a state are liveness bounds
 * (they return as soon as it holds, with a generous cap); no assertion is made on elapsed time.
 */
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Connection from "@effect-resilience/core/Connection"
import * as Deadline from "@effect-resilience/core/Deadline"
import { describe, expect, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { HealthImplementation, type ServingStatusMap } from "grpc-health-check"
import { GrpcClient, GrpcConnection } from "../src/index.js"

/** One unary echo method, bytes in and out. */
const echo = {
  say: {
    path: "/test.Echo/Say",
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b
  }
} satisfies grpc.ServiceDefinition

/** Starts a grpc-js server with the health service and the echo method on `port` (0: a free one). */
const start = (port: number, statuses: ServingStatusMap) =>
  Effect.async<{ readonly server: grpc.Server; readonly port: number; readonly health: HealthImplementation }, Error>(
    (resume) => {
      const server = new grpc.Server()
      const health = new HealthImplementation(statuses)
      health.addToServer(server)
      server.addService(echo, {
        say: (call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) =>
          callback(null, Buffer.concat([Buffer.from("hello "), call.request]))
      })
      server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
        resume(error === null ? Effect.succeed({ server, port: bound, health }) : Effect.fail(error))
      )
    }
  )

/** A server for the test's scope (shut down at the end if still up). */
const serve = (port: number, statuses: ServingStatusMap) =>
  Effect.acquireRelease(start(port, statuses), ({ server }) => Effect.sync(() => server.forceShutdown()))

/** Waits until `conn` is in state `tag` (a liveness bound of 20 s: returns as soon as it holds). */
const until = <C>(conn: Connection.Connection<C>, tag: Connection.State["_tag"]) =>
  conn.state.changes.pipe(
    Stream.filter((s) => s._tag === tag),
    Stream.runHead,
    Effect.timeoutFail({ duration: "20 seconds", onTimeout: () => new Error(`not ${tag} within 20 s`) }),
    Effect.flatMap((s) => (s._tag === "None" ? Effect.fail(new Error("state stream ended")) : Effect.succeed(s.value)))
  )

const config = (name: string): Connection.ConfigInput => ({
  name,
  healthInterval: "100 millis",
  healthTimeout: "2 seconds",
  maxWait: "20 seconds",
  reconnect: { initialDelay: "50 millis", maxDelay: "300 millis" }
})

const say = (client: grpc.Client, name: string) =>
  GrpcClient.unary<Buffer, Buffer>((request, metadata, options, callback) =>
    client.makeUnaryRequest(
      echo.say.path,
      (b: Buffer) => b,
      (b: Buffer) => b,
      request,
      metadata,
      options,
      callback
    )
  )(Buffer.from(name)).pipe(Effect.map((b) => b.toString("utf8")))

const classifier = Classifier.layerWith({
  rules: [GrpcConnection.classificationRule, Connection.classificationRule]
})

describe("GrpcConnection", () => {
  it.live("SERVING -> Connected; NOT_SERVING -> Disconnected; SERVING again -> Connected", () =>
    Effect.gen(function* () {
      const { port, health } = yield* serve(0, { "": "SERVING" })
      const conn = yield* GrpcConnection.make(`127.0.0.1:${port}`, config("echo"), { client: grpc.Client })
      yield* until(conn, "Connected")
      expect(yield* conn.use((client) => say(client, "a"))).toBe("hello a")

      health.setStatus("", "NOT_SERVING")
      const down = yield* until(conn, "Disconnected")
      expect(down._tag === "Disconnected" && down.reason).toBe(
        "health check failed: The gRPC server reports it is not serving"
      )

      health.setStatus("", "SERVING")
      yield* until(conn, "Connected")
      expect(yield* conn.use((client) => say(client, "b"))).toBe("hello b")
      const stats = yield* conn.stats
      expect(stats.connects).toBeGreaterThanOrEqual(2)
      expect(stats.failedHealthChecks).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.scoped, Effect.provide(classifier))
  )

  it.live("the server shut down and restarted on the same port: reconnects; a call made while down waits", () =>
    Effect.gen(function* () {
      const first = yield* start(0, { "": "SERVING" })
      let current = first.server
      yield* Effect.addFinalizer(() => Effect.sync(() => current.forceShutdown()))
      const conn = yield* GrpcConnection.make(`127.0.0.1:${first.port}`, config("echo"), { client: grpc.Client })
      yield* until(conn, "Connected")
      expect(yield* conn.use((client) => say(client, "a"))).toBe("hello a")

      first.server.forceShutdown()
      yield* until(conn, "Disconnected")
      // a call made while the server is down waits for the connection (within its deadline)
      const late = yield* Effect.fork(conn.use((client) => say(client, "late")).pipe(Deadline.propagate("20 seconds")))
      // and one with a short deadline gives up with ConnectionUnavailable
      const short = yield* Effect.exit(
        conn.use((client) => say(client, "short")).pipe(Deadline.propagate("100 millis"))
      )
      expect(
        Exit.isFailure(short) && Cause.failureOption(short.cause).pipe((o) => o._tag === "Some" && o.value._tag)
      ).toBe("ConnectionUnavailable")
      expect((yield* Fiber.poll(late))._tag).toBe("None")

      const second = yield* start(first.port, { "": "SERVING" }).pipe(
        Effect.retry({ times: 100, schedule: Schedule.spaced("50 millis") })
      )
      current = second.server
      expect(second.port).toBe(first.port)
      expect(yield* Fiber.join(late)).toBe("hello late")
      yield* until(conn, "Connected")
      const stats = yield* conn.stats
      expect(stats.connects).toBeGreaterThanOrEqual(2)
      expect(stats.disconnects).toBeGreaterThanOrEqual(1)
    }).pipe(Effect.scoped, Effect.provide(classifier))
  )

  it.live("asks about the service it is given: NOT_FOUND for one the server does not know", () =>
    Effect.gen(function* () {
      const { port, health } = yield* serve(0, { "": "SERVING", "test.Echo": "NOT_SERVING" })
      const address = `127.0.0.1:${port}`
      const echoConn = yield* GrpcConnection.make(address, config("echo"), {
        client: grpc.Client,
        service: "test.Echo"
      })
      const missing = yield* GrpcConnection.make(address, config("missing"), { client: grpc.Client, service: "nope" })
      // the server as a whole serves, test.Echo does not: not connected
      yield* until(echoConn, "Disconnected")
      health.setStatus("test.Echo", "SERVING")
      yield* until(echoConn, "Connected")
      const down = yield* until(missing, "Disconnected")
      expect(down._tag === "Disconnected" && down.reason).toBe("connect failed: Not found (gRPC NOT_FOUND)")
      // the check itself, on a client of ours
      const client = new grpc.Client(address, grpc.credentials.createInsecure())
      yield* Effect.addFinalizer(() => Effect.sync(() => client.close()))
      yield* GrpcConnection.check(client)
      health.setStatus("", "UNKNOWN")
      const unknown = yield* Effect.flip(GrpcConnection.check(client))
      expect(unknown).toMatchObject({ _tag: "GrpcNotServing", service: "", status: "UNKNOWN" })
      const notFound = yield* Effect.flip(GrpcConnection.check(client, "nope"))
      expect(notFound).toMatchObject({ _tag: "GrpcError", code: grpc.status.NOT_FOUND })
    }).pipe(Effect.scoped, Effect.provide(classifier))
  )
})
