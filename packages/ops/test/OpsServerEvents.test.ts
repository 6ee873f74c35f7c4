import { CircuitBreaker, Classifier, Events } from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { AuditLog, OpsApi, OpsServer } from "@effect-resilience/ops"
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Layer, Schedule, Schema, Scope } from "effect"
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

/** The server and the registry share one event hub: the registry's breakers publish to it. */
const serverWith = (config: Partial<OpsServer.ConfigInput> = {}) =>
  OpsServer.layer({ tokens, ...config }).pipe(Layer.provideMerge(services), Layer.provideMerge(Events.layer()))

const Live = serverWith()

const payments = Effect.flatMap(CircuitBreaker.Registry, (registry) => registry.get("payments"))

const transition = (block: Block) => {
  expect(block.event).toBe("transition")
  return Schema.decodeUnknownSync(Schema.parseJson(OpsApi.Transition))(block.data)
}

const snapshot = (block: Block) => {
  expect(block.event).toBe("snapshot")
  return Schema.decodeUnknownSync(Schema.parseJson(OpsApi.BreakersSnapshot))(block.data)
}

describe("OpsServer breaker events", () => {
  it.scopedLive("a stream opens with a retry hint and a snapshot, then sends each transition with an id", () =>
    Effect.gen(function* () {
      const breaker = yield* payments
      const stream = yield* openEvents("/api/breakers/events", { token: readOnlyToken })
      expect(stream.status).toBe(200)
      expect(stream.headers.get("content-type")).toBe("text/event-stream")
      expect(stream.headers.get("cache-control")).toBe("no-store")
      const hint = yield* stream.next
      expect(hint.retry).toBe(3000)
      const first = yield* stream.nextEvent
      expect(snapshot(first)).toMatchObject({ reason: "connected", breakers: [{ name: "payments", state: "closed" }] })
      expect(first.id).toMatch(/^[0-9a-z]+-0$/)

      yield* breaker.forceOpen
      const opened = yield* stream.nextEvent
      expect(transition(opened)).toMatchObject({ breaker: "payments", from: "closed", to: "forced-open" })
      expect(typeof transition(opened).atMillis).toBe("number")
      const epoch = first.id!.split("-")[0]
      expect(opened.id).toBe(`${epoch}-1`)
      // a change through the API is an event too
      yield* call("POST", "/api/breakers/payments/force-closed", { token: operatorToken })
      const closed = yield* stream.nextEvent
      expect(transition(closed)).toMatchObject({ from: "forced-open", to: "closed" })
      expect(closed.id).toBe(`${epoch}-2`)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a client that reconnects with Last-Event-ID gets the transitions it missed, each once", () =>
    Effect.gen(function* () {
      const breaker = yield* payments
      const scope = yield* Scope.make()
      const first = yield* openEvents("/api/breakers/events", { token: readOnlyToken }).pipe(Scope.extend(scope))
      yield* first.nextEvent // snapshot
      yield* breaker.forceOpen
      const seen = yield* first.nextEvent
      expect(transition(seen).to).toBe("forced-open")
      // disconnect, then the breaker moves three times while nobody listens
      yield* Scope.close(scope, Exit.void)
      yield* breaker.forceClosed
      yield* breaker.disable
      yield* breaker.reset

      const again = yield* openEvents("/api/breakers/events", { token: readOnlyToken, lastEventId: seen.id! })
      expect(again.status).toBe(200)
      yield* breaker.forceOpen // a live one after the missed ones
      const received: Array<Block> = []
      for (let k = 0; k < 4; k++) received.push(yield* again.nextEvent)
      expect(received.map((b) => b.event)).toEqual(["transition", "transition", "transition", "transition"])
      expect(received.map((b) => `${transition(b).from}>${transition(b).to}`)).toEqual([
        "forced-open>closed",
        "closed>disabled",
        "disabled>closed",
        "closed>forced-open"
      ])
      const epoch = seen.id!.split("-")[0]
      expect(received.map((b) => b.id)).toEqual([`${epoch}-2`, `${epoch}-3`, `${epoch}-4`, `${epoch}-5`])
      // nothing more: the next block is a heartbeat or a later event, never a repeat
      yield* breaker.forceClosed
      const after = yield* again.nextEvent
      expect(after.id).toBe(`${epoch}-6`)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a Last-Event-ID older than the buffer, or not one of this server's, gets a snapshot saying so", () =>
    Effect.gen(function* () {
      const breaker = yield* payments
      const scope = yield* Scope.make()
      const first = yield* openEvents("/api/breakers/events", { token: readOnlyToken }).pipe(Scope.extend(scope))
      const start = yield* first.nextEvent
      yield* Scope.close(scope, Exit.void)
      // the buffer holds 2: three transitions push the one after `start` out
      yield* breaker.forceOpen
      yield* breaker.forceClosed
      yield* breaker.forceOpen
      const tooOld = yield* openEvents("/api/breakers/events", { token: readOnlyToken, lastEventId: start.id! })
      const reset = yield* tooOld.nextEvent
      expect(snapshot(reset)).toMatchObject({
        reason: "too-old",
        breakers: [{ name: "payments", state: "forced-open" }]
      })
      const epoch = start.id!.split("-")[0]
      expect(reset.id).toBe(`${epoch}-3`)
      yield* breaker.forceClosed
      expect(transition(yield* tooOld.nextEvent)).toMatchObject({ from: "forced-open", to: "closed" })

      for (const lastEventId of ["zz0-1", "garbage", `${epoch}-99`]) {
        const unknown = yield* openEvents("/api/breakers/events", { token: readOnlyToken, lastEventId })
        expect(snapshot(yield* unknown.nextEvent).reason, lastEventId).toBe("unknown-id")
      }
      // a resume from the newest id gets nothing missed, only what comes next
      const current = yield* openEvents("/api/breakers/events", { token: readOnlyToken, lastEventId: `${epoch}-4` })
      yield* breaker.disable
      const next = yield* current.nextEvent
      expect(next.id).toBe(`${epoch}-5`)
      expect(transition(next).to).toBe("disabled")
    }).pipe(Effect.provide(serverWith({ events: { buffer: 2 } })))
  )

  it.scopedLive("heartbeat comments keep a quiet stream open", () =>
    Effect.gen(function* () {
      const stream = yield* openEvents("/api/breakers/events", { token: readOnlyToken })
      yield* stream.nextEvent
      const quiet = yield* stream.next
      expect(quiet).toEqual({ comment: "heartbeat" })
    }).pipe(Effect.provide(serverWith({ events: { heartbeat: "50 millis" } })))
  )

  it.scopedLive("reading events needs a read token in the Authorization header, not in the query", () =>
    Effect.gen(function* () {
      for (const [token, path] of [
        [undefined, "/api/breakers/events"],
        ["wrong", "/api/breakers/events"],
        [undefined, `/api/breakers/events?token=${readOnlyToken}`],
        [undefined, `/api/breakers/events?access_token=${readOnlyToken}`]
      ] as const) {
        const refused = yield* openEvents(path, token === undefined ? {} : { token })
        expect(refused.status, path).toBe(401)
        expect(refused.headers.get("www-authenticate")).toBe("Bearer")
        expect(Schema.decodeUnknownSync(Schema.parseJson(ErrorBody))(refused.text)._tag).toBe("Unauthorized")
        clean(refused)
      }
      expect((yield* openEvents("/api/breakers/events", { token: operatorToken })).status).toBe(200)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a Last-Event-ID over 100 characters is a 400 naming the header", () =>
    Effect.gen(function* () {
      const reply = yield* call("GET", "/api/breakers/events", {
        token: readOnlyToken,
        headers: { "last-event-id": "x".repeat(101) }
      })
      expect(reply.status).toBe(400)
      expect(body(ErrorBody, reply).issues?.map((i) => i.path)).toContainEqual(["last-event-id"])
      clean(reply)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("more clients than maxClients are refused with 503 until one leaves", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const first = yield* openEvents("/api/breakers/events", { token: readOnlyToken }).pipe(Scope.extend(scope))
      yield* first.nextEvent
      const second = yield* openEvents("/api/breakers/events", { token: readOnlyToken })
      expect(second.status).toBe(503)
      expect(Schema.decodeUnknownSync(Schema.parseJson(ErrorBody))(second.text)).toEqual({
        _tag: "Unavailable",
        message: "too many event streams are open; try again later"
      })
      yield* Scope.close(scope, Exit.void)
      // the server sees the disconnect shortly after: a new client gets in then
      const status = yield* Effect.flatMap(
        openEvents("/api/breakers/events", { token: readOnlyToken }).pipe(Effect.scoped),
        (client) => (client.status === 200 ? Effect.succeed(200) : Effect.fail(client.status))
      ).pipe(Effect.retry({ times: 200, schedule: Schedule.spaced("20 millis") }), Effect.either)
      expect(status._tag).toBe("Right")
    }).pipe(Effect.provide(serverWith({ events: { maxClients: 1 } })))
  )

  it.scopedLive("without an event hub the route says so with a 503", () =>
    Effect.gen(function* () {
      const reply = yield* call("GET", "/api/breakers/events", { token: readOnlyToken })
      expect(reply.status).toBe(503)
      expect(body(ErrorBody, reply)).toEqual({
        _tag: "Unavailable",
        message: "breaker transitions are not published: the server has no ResilienceEvents hub"
      })
    }).pipe(Effect.provide(OpsServer.layer({ tokens }).pipe(Layer.provideMerge(services))))
  )

  it.scopedLive("stopping the server ends the open streams", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const context = yield* Layer.buildWithScope(Live, scope)
      const stream = yield* openEvents("/api/breakers/events", { token: readOnlyToken }).pipe(Effect.provide(context))
      yield* stream.nextEvent
      const closing = yield* Effect.fork(Scope.close(scope, Exit.void))
      expect(yield* stream.ended).toBe(true)
      yield* closing.await
    })
  )
})
