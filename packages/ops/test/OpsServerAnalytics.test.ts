import { CircuitBreaker, Classifier, Events } from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { AuditLog, OpsApi, OpsServer } from "@effect-resilience/ops"
import * as Analytics from "@effect-resilience/ops/Analytics"
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, PubSub, Ref, Schedule, Schema, Scope, Stream } from "effect"
import {
  type Block,
  body,
  call,
  clean,
  ErrorBody,
  openEvents,
  operatorToken,
  readOnlyToken,
  tokens
} from "./OpsServerSupport.js"

const services = Layer.mergeAll(
  CircuitBreaker.layerRegistry(),
  DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
  AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory)),
  OpsServer.layerReplayHandler(() => Effect.void),
  Classifier.layer
)

/**
 * Alerts the test raises itself: the `Analytics` service as the server sees it (a stream of
 * alerts, the recent ones, a snapshot), so that the routes' paging and the event stream's
 * reconnection are tested on known alerts. The detectors are tested with the Analytics module.
 */
class Raise extends Context.Tag("test/Raise")<Raise, (alert: Analytics.Alert) => Effect.Effect<void>>() {}

const layerRaised = Layer.scopedContext(
  Effect.gen(function* () {
    const pubsub = yield* Effect.acquireRelease(PubSub.unbounded<Analytics.Alert>(), PubSub.shutdown)
    const recent = yield* Ref.make<ReadonlyArray<Analytics.Alert>>([])
    const analytics: Analytics.Analytics = {
      config: Schema.decodeUnknownSync(Analytics.Config)({}),
      alerts: Stream.fromPubSub(pubsub),
      recent: Ref.get(recent),
      snapshot: Effect.succeed({ atMillis: 0, intervalMillis: 10_000, operations: [], breakers: [] })
    }
    const raise = (alert: Analytics.Alert) =>
      Effect.zipRight(
        Ref.update(recent, (xs) => [...xs, alert]),
        PubSub.publish(pubsub, alert)
      )
    return Context.make(Analytics.Analytics, analytics).pipe(Context.add(Raise, raise))
  })
)

const alert = (n: number): Analytics.Alert => ({
  id: `alert-${n}`,
  kind: "spike",
  severity: n % 2 === 0 ? "critical" : "warning",
  operation: "checkout",
  category: "timeout",
  atMillis: 1_000 * n,
  summary: `timeouts of checkout spiked (${n})`,
  evidence: { rate: 0.5, baseline: 0.01 },
  suggestedAction: "look at the payments dependency"
})

const raise = (n: number) => Effect.flatMap(Raise, (f) => f(alert(n)))

const WithAlerts = OpsServer.layer({ tokens }).pipe(Layer.provideMerge(services), Layer.provideMerge(layerRaised))

const alertOf = (block: Block) => {
  expect(block.event).toBe("alert")
  return Schema.decodeUnknownSync(Schema.parseJson(Analytics.Alert))(block.data)
}

describe("OpsServer analytics and alerts", () => {
  it.scopedLive("without the Analytics service each route answers 404 saying that analytics are not enabled", () =>
    Effect.gen(function* () {
      for (const path of ["/api/analytics", "/api/alerts", "/api/alerts/events"]) {
        const reply = yield* call("GET", path, { token: readOnlyToken })
        expect(reply.status, path).toBe(404)
        expect(body(ErrorBody, reply)).toEqual({
          _tag: "NotFound",
          message: "analytics are not enabled on this server (it has no Analytics service)"
        })
        clean(reply)
      }
    }).pipe(Effect.provide(OpsServer.layer({ tokens }).pipe(Layer.provideMerge(services))))
  )

  it.scopedLive("GET /api/analytics is the Analytics snapshot (here: a breaker forced open through the API)", () =>
    Effect.gen(function* () {
      yield* Effect.flatMap(CircuitBreaker.Registry, (registry) => registry.get("payments"))
      expect((yield* call("GET", "/api/analytics")).status).toBe(401)
      expect((yield* call("GET", "/api/analytics", { token: "wrong" })).status).toBe(401)
      yield* call("POST", "/api/breakers/payments/force-open", { token: operatorToken })
      // the analytics hear the transition through the hub: wait for it (a liveness bound, not a timing)
      const snapshot = yield* Effect.flatMap(call("GET", "/api/analytics", { token: readOnlyToken }), (reply) => {
        expect(reply.status).toBe(200)
        const decoded = body(Analytics.AnalyticsSnapshot, reply)
        return decoded.breakers.some((b) => b.name === "payments" && b.state === "forced-open")
          ? Effect.succeed(decoded)
          : Effect.fail("not yet")
      }).pipe(Effect.retry({ times: 500, schedule: Schedule.spaced("20 millis") }))
      expect(snapshot.intervalMillis).toBe(100)
    }).pipe(
      Effect.provide(
        OpsServer.layer({ tokens }).pipe(
          Layer.provideMerge(Layer.merge(services, Analytics.layer({ interval: "100 millis" }))),
          Layer.provideMerge(Events.layer())
        )
      )
    )
  )

  it.scopedLive("GET /api/alerts pages the recent alerts, newest first, within the page limits", () =>
    Effect.gen(function* () {
      for (let n = 1; n <= 5; n++) yield* raise(n)
      const all = yield* call("GET", "/api/alerts", { token: readOnlyToken })
      expect(all.status).toBe(200)
      expect(body(OpsApi.AlertPage, all)).toMatchObject({ total: 5, limit: 50, offset: 0 })
      expect(body(OpsApi.AlertPage, all).entries.map((a) => a.id)).toEqual([
        "alert-5",
        "alert-4",
        "alert-3",
        "alert-2",
        "alert-1"
      ])
      expect(body(OpsApi.AlertPage, all).entries[0]).toEqual(alert(5))
      const page = yield* call("GET", "/api/alerts?limit=2&offset=1", { token: readOnlyToken })
      expect(body(OpsApi.AlertPage, page).entries.map((a) => a.id)).toEqual(["alert-4", "alert-3"])
      for (const [query, path] of [
        ["limit=201", "limit"],
        ["limit=0", "limit"],
        ["offset=-1", "offset"],
        ["limit=x", "limit"]
      ] as const) {
        const bad = yield* call("GET", `/api/alerts?${query}`, { token: readOnlyToken })
        expect(bad.status, query).toBe(400)
        expect(body(ErrorBody, bad).issues?.map((i) => i.path)).toContainEqual([path])
        clean(bad)
      }
      for (const path of ["/api/analytics", "/api/alerts"]) {
        expect((yield* call("GET", path)).status, path).toBe(401)
        expect((yield* call("GET", path, { token: "wrong" })).status, path).toBe(401)
        expect((yield* call("GET", path, { token: readOnlyToken })).status, path).toBe(200)
        expect((yield* call("GET", path, { token: operatorToken })).status, path).toBe(200)
      }
    }).pipe(Effect.provide(WithAlerts))
  )

  it.scopedLive(
    "alert events: a snapshot of the recent alerts, each new alert once, missed ones after a reconnect",
    () =>
      Effect.gen(function* () {
        yield* raise(1)
        const scope = yield* Scope.make()
        const stream = yield* openEvents("/api/alerts/events", { token: readOnlyToken }).pipe(Scope.extend(scope))
        expect(stream.status).toBe(200)
        expect(stream.headers.get("content-type")).toBe("text/event-stream")
        const first = yield* stream.nextEvent
        expect(first.event).toBe("snapshot")
        expect(Schema.decodeUnknownSync(Schema.parseJson(OpsApi.AlertsSnapshot))(first.data)).toEqual({
          reason: "connected",
          alerts: [alert(1)]
        })
        yield* raise(2)
        const second = yield* stream.nextEvent
        expect(alertOf(second)).toEqual(alert(2))
        yield* Scope.close(scope, Exit.void)

        yield* raise(3)
        yield* raise(4)
        const again = yield* openEvents("/api/alerts/events", { token: readOnlyToken, lastEventId: second.id! })
        yield* raise(5)
        const received: Array<string> = []
        for (let k = 0; k < 3; k++) received.push(alertOf(yield* again.nextEvent).id)
        expect(received).toEqual(["alert-3", "alert-4", "alert-5"])

        const refused = yield* openEvents("/api/alerts/events")
        expect(refused.status).toBe(401)
        const stale = yield* openEvents("/api/alerts/events", { token: readOnlyToken, lastEventId: "other-1" })
        const reset = yield* stale.nextEvent
        expect(Schema.decodeUnknownSync(Schema.parseJson(OpsApi.AlertsSnapshot))(reset.data).reason).toBe("unknown-id")
        expect(Schema.decodeUnknownSync(Schema.parseJson(OpsApi.AlertsSnapshot))(reset.data).alerts).toHaveLength(5)
      }).pipe(Effect.provide(WithAlerts))
  )
})
