import { Classifier } from "@effect-resilience/core"
import * as Alerts from "@effect-resilience/ops/Alerts"
import * as Analytics from "@effect-resilience/ops/Analytics"
import { FetchHttpClient } from "@effect/platform"
import { describe, expect, it } from "@effect/vitest"
import { Deferred, Effect, Exit, Layer, Queue, Schedule, Schema, Stream } from "effect"
import { createServer, type IncomingHttpHeaders } from "node:http"

interface Received {
  readonly headers: IncomingHttpHeaders
  readonly body: unknown
}

/**
 * A real HTTP receiver on 127.0.0.1: `answer(n)` says what the n-th request (from 0) gets, a
 * status now or a promise of one (a slow receiver).
 */
const receiver = (answer: (n: number) => number | Promise<number>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly received: Array<Received>; readonly close: () => void }>((resume) => {
      const received: Array<Received> = []
      const server = createServer((req, res) => {
        const chunks: Array<Buffer> = []
        req.on("data", (c: Buffer) => chunks.push(c))
        req.on("end", () => {
          const n = received.length
          received.push({ headers: req.headers, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
          void Promise.resolve(answer(n)).then((status) => {
            res.writeHead(status, { "content-type": "application/json" })
            res.end("{}")
          })
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(
          Effect.succeed({
            url: `http://127.0.0.1:${port}/alerts`,
            received,
            close: () => {
              server.closeAllConnections()
              server.close()
            }
          })
        )
      })
    }),
    (r) => Effect.sync(r.close)
  )

const alert = (n: number, severity: Analytics.Alert["severity"] = "critical"): Analytics.Alert => ({
  id: `alert-${n}`,
  kind: "spike",
  severity,
  operation: "checkout",
  category: "timeout",
  atMillis: 1_000 * n,
  summary: `timeouts of checkout spiked (${n})`,
  evidence: { rate: 0.5, z: 9 },
  suggestedAction: "look at the payments dependency"
})

const Live = Layer.mergeAll(FetchHttpClient.layer, Classifier.layer)

/** Waits (polling) until `f` holds: a liveness bound, returns as soon as it does. */
const eventually = <A>(get: Effect.Effect<A>, holds: (a: A) => boolean) =>
  Effect.retry(
    Effect.filterOrFail(get, holds, () => "not yet"),
    Schedule.spaced("10 millis").pipe(Schedule.upTo("10 seconds"))
  )

describe("Alerts.webhook", () => {
  it.scopedLive("POSTs each alert as JSON with its id as the idempotency key", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => 200)
      const sink = yield* Alerts.webhook({ url: server.url, name: "ops", headers: { authorization: "Bearer t" } })
      const delivery = yield* Alerts.deliver(Stream.make(alert(1), alert(2), alert(3, "info")), sink)
      const stats = yield* eventually(delivery.stats, (s) => s.delivered === 3)
      expect(stats).toEqual({ delivered: 3, failed: 0, dropped: 0, pending: 0 })
      expect(server.received.map((r) => r.headers["idempotency-key"])).toEqual(["alert-1", "alert-2", "alert-3"])
      expect(server.received[0]?.headers.authorization).toBe("Bearer t")
      expect(server.received[0]?.headers["content-type"]).toContain("application/json")
      expect(Schema.decodeUnknownSync(Analytics.Alert)(server.received[1]?.body)).toEqual(alert(2))
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("retries a receiver that answers 503, and delivers", () =>
    Effect.gen(function* () {
      const server = yield* receiver((n) => (n < 2 ? 503 : 200))
      const sink = yield* Alerts.webhook({ url: server.url, name: "flaky", maxAttempts: 3 })
      yield* sink.deliver(alert(1))
      expect(server.received).toHaveLength(3)
      expect(server.received.every((r) => r.headers["idempotency-key"] === "alert-1")).toBe(true)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a receiver that refuses (400) fails at once, with a message that names no address", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => 400)
      const sink = yield* Alerts.webhook({ url: server.url, name: "strict" })
      const exit = yield* Effect.exit(sink.deliver(alert(1)))
      expect(server.received).toHaveLength(1)
      expect(Exit.isFailure(exit)).toBe(true)
      const error = yield* Effect.flip(sink.deliver(alert(2)))
      expect(error._tag).toBe("SinkError")
      expect(error.sink).toBe("strict")
      expect(error.message).toContain("strict")
      expect(error.message).not.toContain("127.0.0.1")
      expect(error.message).not.toContain("/alerts")
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a receiver that keeps failing is counted as failed and delivery goes on", () =>
    Effect.gen(function* () {
      const server = yield* receiver((n) => (n < 2 ? 500 : 200))
      const sink = yield* Alerts.webhook({ url: server.url, name: "down", maxAttempts: 2 })
      const delivery = yield* Alerts.deliver(Stream.make(alert(1), alert(2)), sink)
      const stats = yield* eventually(delivery.stats, (s) => s.delivered + s.failed === 2)
      expect(stats).toEqual({ delivered: 1, failed: 1, dropped: 0, pending: 0 })
      expect(server.received.map((r) => r.headers["idempotency-key"])).toEqual(["alert-1", "alert-1", "alert-2"])
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("only alerts at or above minSeverity are sent", () =>
    Effect.gen(function* () {
      const server = yield* receiver(() => 200)
      const sink = yield* Alerts.webhook({ url: server.url, minSeverity: "warning" })
      yield* sink.deliver(alert(1, "info"))
      yield* sink.deliver(alert(2, "warning"))
      expect(server.received.map((r) => r.headers["idempotency-key"])).toEqual(["alert-2"])
    }).pipe(Effect.provide(Live))
  )

  it.effect("a bad url fails with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(Alerts.webhook({ url: "ftp://example.com" })))
      expect(error._tag).toBe("ParseError")
      expect(error.message).toContain("url")
    }).pipe(Effect.provide(Live))
  )
})

describe("Alerts.deliver", () => {
  it.scopedLive("a slow receiver never blocks the stream: the oldest waiting alerts are dropped and counted", () =>
    Effect.gen(function* () {
      const release = yield* Deferred.make<void>()
      const releasePromise = Effect.runPromise(Deferred.await(release))
      const server = yield* receiver(() => releasePromise.then(() => 200))
      const sink = yield* Alerts.webhook({ url: server.url, name: "slow", timeout: "30 seconds" })
      const source = yield* Queue.unbounded<Analytics.Alert>()
      const delivery = yield* Alerts.deliver(Stream.fromQueue(source), sink, { capacity: 2 })
      yield* Queue.offer(source, alert(1))
      // the first alert is with the receiver, which does not answer yet
      yield* eventually(
        Effect.sync(() => server.received.length),
        (n) => n === 1
      )
      // five more while it hangs: the buffer holds two, the three oldest are dropped
      yield* Queue.offerAll(source, [alert(2), alert(3), alert(4), alert(5), alert(6)])
      const waiting = yield* eventually(delivery.stats, (s) => s.dropped === 3)
      expect(waiting).toEqual({ delivered: 0, failed: 0, dropped: 3, pending: 2 })
      yield* Deferred.succeed(release, undefined)
      const done = yield* eventually(delivery.stats, (s) => s.delivered === 3)
      expect(done).toEqual({ delivered: 3, failed: 0, dropped: 3, pending: 0 })
      expect(server.received.map((r) => r.headers["idempotency-key"])).toEqual(["alert-1", "alert-5", "alert-6"])
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("delivers an Analytics service's alerts through Alerts.layer", () =>
    Effect.gen(function* () {
      const delivered = yield* Queue.unbounded<Analytics.Alert>()
      const sink: Alerts.Sink = { name: "memory", deliver: (a) => Queue.offer(delivered, a) }
      // the Analytics service as a subscriber sees it: its alerts stream
      const alerts = yield* Queue.unbounded<Analytics.Alert>()
      const analytics: Analytics.Analytics = {
        config: Schema.decodeUnknownSync(Analytics.Config)({}),
        alerts: Stream.fromQueue(alerts),
        recent: Effect.succeed([]),
        snapshot: Effect.succeed({ atMillis: 0, intervalMillis: 10_000, operations: [], breakers: [] })
      }
      yield* Layer.buildWithScope(
        Alerts.layer(Effect.succeed(sink)).pipe(Layer.provide(Layer.succeed(Analytics.Analytics, analytics))),
        yield* Effect.scope
      )
      yield* Queue.offer(alerts, alert(7))
      expect((yield* Queue.take(delivered)).id).toBe("alert-7")
    })
  )
})
