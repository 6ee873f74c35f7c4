import { CircuitBreaker, Classification, Classifier } from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { AuditLog, OpsApi, OpsServer } from "@effect-resilience/ops"
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Layer } from "effect"
import { request } from "node:http"
import { body, call, clean, ErrorBody, operatorToken, readOnlyToken, tokens } from "./OpsServerSupport.js"

class UpstreamDown extends Data.TaggedError("UpstreamDown")<{ readonly message: string }> {}

/** The replay target: fails for payloads that say so, succeeds for the others. */
const Replay = OpsServer.layerReplayHandler((entry) => {
  const payload = entry.payload
  return typeof payload === "object" && payload !== null && "fail" in payload && payload.fail === true
    ? Effect.fail(new UpstreamDown({ message: "still down" }))
    : Effect.void
})

const Live = OpsServer.layer({ tokens }).pipe(
  Layer.provideMerge(
    Layer.mergeAll(
      CircuitBreaker.layerRegistry(),
      DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
      AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory)),
      Replay,
      Classifier.layer
    )
  )
)

const failure = (category: "unavailable" | "timeout"): DeadLetterQueue.Failure => ({
  tag: "UpstreamDown",
  message: "failed",
  classification: Classification.make({ category, code: "test", message: "failed" }),
  history: []
})

/** Five dead letters: orders 1..3 (2 fails again), an invoice, and an order that timed out. */
const addDeadLetters = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
  dlq.addAll([
    { queue: "orders", payload: { order: 1 }, failure: failure("unavailable") },
    { queue: "orders", payload: { order: 2, fail: true }, failure: failure("unavailable") },
    { queue: "orders", payload: { order: 3 }, failure: failure("unavailable") },
    { queue: "invoices", payload: { invoice: 7 }, failure: failure("unavailable") },
    { queue: "orders", payload: { order: 4 }, failure: failure("timeout") }
  ])
)

const statuses = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
  Effect.map(dlq.list({}, { limit: 100 }), (page) => page.entries.map((e) => e.status))
)

const auditTrail = Effect.flatMap(AuditLog.AuditLog, (audit) => audit.list({ limit: 100 }))

describe("OpsServer bulk replay", () => {
  it.scopedLive("by ids: replays those pending, reports the others as skipped or not found, one audit entry", () =>
    Effect.gen(function* () {
      const [first, second, third] = yield* addDeadLetters
      yield* call("POST", `/api/dead-letters/${third!.id}/discard`, { token: operatorToken, body: {} })
      const reply = yield* call("POST", "/api/dead-letters/replay", {
        token: operatorToken,
        body: { ids: [first!.id, second!.id, third!.id, "dl_nope"] }
      })
      expect(reply.status).toBe(200)
      const report = body(OpsApi.ReplayManyReport, reply)
      expect(report.resolved).toEqual([first!.id])
      expect(report.failed.map((f) => f.id)).toEqual([second!.id])
      expect(report.invalid).toEqual([])
      expect(report.skipped).toEqual([{ id: third!.id, status: "discarded" }])
      expect(report.notFound).toEqual(["dl_nope"])
      // the others were not touched
      expect(yield* statuses).toEqual(["resolved", "pending", "discarded", "pending", "pending"])

      const trail = yield* auditTrail
      expect(trail.entries.map((e) => e.action)).toEqual(["dead-letter.replay-many", "dead-letter.discard"])
      expect(trail.entries[0]).toMatchObject({
        actor: "alice",
        target: "4 dead letters by id",
        before: { ids: [first!.id, second!.id, third!.id, "dl_nope"], limit: 200 },
        after: {
          resolved: [first!.id],
          // the category of its new failure (the classifier does not know UpstreamDown)
          failed: [{ id: second!.id, category: "unknown" }],
          skipped: [{ id: third!.id, status: "discarded" }],
          notFound: ["dl_nope"]
        }
      })
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("by filter: only pending dead letters matching it, at most limit of them", () =>
    Effect.gen(function* () {
      yield* addDeadLetters
      const reply = yield* call("POST", "/api/dead-letters/replay", {
        token: operatorToken,
        body: { filter: { queue: "orders", category: "unavailable", status: "pending" }, limit: 2 }
      })
      expect(reply.status).toBe(200)
      const report = body(OpsApi.ReplayManyReport, reply)
      expect(report.resolved.length + report.failed.length).toBe(2)
      expect(yield* statuses).toEqual(["resolved", "pending", "pending", "pending", "pending"])

      const rest = yield* call("POST", "/api/dead-letters/replay", {
        token: operatorToken,
        body: { filter: { category: ["unavailable", "timeout"] } }
      })
      const all = body(OpsApi.ReplayManyReport, rest)
      // order 3, the invoice, order 4; order 2 failed again above and is now of category unknown
      expect(all.resolved).toHaveLength(3)
      expect(all.failed).toHaveLength(0)
      expect(yield* statuses).toEqual(["resolved", "pending", "resolved", "resolved", "resolved"])
      const trail = yield* auditTrail
      expect(trail.entries[0]).toMatchObject({
        action: "dead-letter.replay-many",
        target: "dead letters matching a filter",
        before: { filter: { category: ["unavailable", "timeout"] }, limit: 200 }
      })
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("bad bodies are 400s naming the bad field, and change nothing", () =>
    Effect.gen(function* () {
      yield* addDeadLetters
      const cases: ReadonlyArray<readonly [unknown, ReadonlyArray<string | number>, string?]> = [
        [{}, ["ids"], "give ids, a filter, or both (filter {} is every pending dead letter)"],
        [{ ids: [] }, ["ids"], "ids must name at least one dead letter"],
        [{ ids: Array.from({ length: 201 }, (_, k) => `dl_${k}`) }, ["ids"], "ids may name at most 200 dead letters"],
        [{ ids: [""] }, ["ids", 0]],
        [{ ids: "dl_1" }, ["ids"]],
        [{ filter: { status: "resolved" } }, ["filter", "status"], "only pending dead letters are replayed"],
        [{ filter: { category: "weird" } }, ["filter", "category"]],
        [{ filter: { queue: "orders", queu: "typo" } }, ["filter", "queu"]],
        [{ ids: ["dl_1"], everything: true }, ["everything"]],
        [{ filter: {}, limit: 0 }, ["limit"], "limit must be a whole number from 1 to 200"],
        [{ filter: {}, limit: 201 }, ["limit"], "limit must be a whole number from 1 to 200"],
        [{ filter: {}, limit: 1.5 }, ["limit"]],
        [{ filter: { fromMillis: -1 } }, ["filter", "fromMillis"]]
      ]
      for (const [payload, path, message] of cases) {
        const reply = yield* call("POST", "/api/dead-letters/replay", { token: operatorToken, body: payload })
        const label = JSON.stringify(payload).slice(0, 80)
        expect(reply.status, label).toBe(400)
        const error = body(ErrorBody, reply)
        expect(error._tag, label).toBe("HttpApiDecodeError")
        expect(
          error.issues?.map((i) => i.path),
          label
        ).toContainEqual(path)
        if (message !== undefined)
          expect(
            error.issues?.map((i) => i.message),
            label
          ).toContainEqual(message)
        // said once and plainly: no "Expected undefined" beside the real problem, the value sent
        // is not quoted back, and the message is "path: problem" lines, not the schema's tree
        expect(
          error.issues?.some((i) => i.message === "Expected undefined"),
          label
        ).toBe(false)
        expect(reply.text, label).not.toMatch(/actual|readonly|└─/)
        expect(error.message?.split("\n"), label).toContainEqual(expect.stringMatching(`^${path.join("\\.")}: `))
        clean(reply)
      }
      const exact = yield* call("POST", "/api/dead-letters/replay", {
        token: operatorToken,
        body: { filter: {}, limit: 0 }
      })
      expect(exact.body).toEqual({
        _tag: "HttpApiDecodeError",
        issues: [{ _tag: "Refinement", path: ["limit"], message: "limit must be a whole number from 1 to 200" }],
        message: "limit: limit must be a whole number from 1 to 200"
      })
      const notJson = yield* Effect.flatMap(OpsServer.OpsServer, (server) =>
        Effect.promise(() =>
          fetch(new URL("/api/dead-letters/replay", server.url), {
            method: "POST",
            headers: { authorization: `Bearer ${operatorToken}`, "content-type": "application/json" },
            body: "{ not json"
          })
        )
      )
      expect(notJson.status).toBe(400)
      const huge = yield* Effect.flatMap(OpsServer.OpsServer, (server) =>
        Effect.async<{ status: number; text: string }>((resume) => {
          const payload = JSON.stringify({ ids: ["dl_1"], padding: "x".repeat(2_000_000) })
          const req = request(
            {
              host: server.host,
              port: server.port,
              path: "/api/dead-letters/replay",
              method: "POST",
              headers: {
                authorization: `Bearer ${operatorToken}`,
                "content-type": "application/json",
                "content-length": Buffer.byteLength(payload)
              }
            },
            (res) => {
              let text = ""
              res.on("data", (chunk: Buffer) => {
                text += chunk.toString("utf8")
              })
              res.on("end", () => resume(Effect.succeed({ status: res.statusCode ?? 0, text })))
            }
          )
          req.on("error", (error) => resume(Effect.succeed({ status: -1, text: String(error) })))
          req.end(payload)
        })
      )
      expect(huge).toEqual({
        status: 413,
        text: JSON.stringify({ _tag: "PayloadTooLarge", message: "a request body is at most 1000000 bytes" })
      })
      expect(yield* statuses).toEqual(["pending", "pending", "pending", "pending", "pending"])
      expect((yield* auditTrail).total).toBe(0)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a store failure is a 503 without its details, and the trail says that a replay was tried", () => {
    const claimFails = Layer.effect(
      DeadLetterQueue.DeadLetterQueueStore,
      Effect.map(DeadLetterQueue.makeStoreMemory, (store) => ({
        ...store,
        claim: () =>
          Effect.fail(
            new DeadLetterQueue.DeadLetterStoreError({
              reason: "unavailable",
              message: "connect ECONNREFUSED db.internal.example:5432 as admin:hunter2"
            })
          )
      }))
    )
    const Broken = OpsServer.layer({ tokens }).pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          CircuitBreaker.layerRegistry(),
          DeadLetterQueue.layer().pipe(Layer.provide(claimFails)),
          AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory)),
          Replay,
          Classifier.layer
        )
      )
    )
    return Effect.gen(function* () {
      yield* addDeadLetters
      const reply = yield* call("POST", "/api/dead-letters/replay", {
        token: operatorToken,
        body: { filter: { queue: "orders" } }
      })
      expect(reply.status).toBe(503)
      expect(reply.body).toEqual({ _tag: "Unavailable", message: "the dead letter store is unavailable" })
      clean(reply)
      expect(reply.text).not.toMatch(/db\.internal|hunter2|ECONNREFUSED/)
      const trail = yield* auditTrail
      expect(trail.entries).toHaveLength(1)
      expect(trail.entries[0]).toMatchObject({
        actor: "alice",
        action: "dead-letter.replay-many",
        target: "dead letters matching a filter",
        before: { filter: { queue: "orders" }, limit: 200 },
        after: { error: "the dead letter store failed; some may have been replayed" }
      })
    }).pipe(Effect.provide(Broken))
  })

  it.scopedLive("needs the operator role: 401 without or with a bad token, 403 read-only, nothing replayed", () =>
    Effect.gen(function* () {
      yield* addDeadLetters
      for (const [token, status] of [
        [undefined, 401],
        ["wrong", 401],
        [readOnlyToken, 403]
      ] as const) {
        const reply = yield* call("POST", "/api/dead-letters/replay", {
          ...(token === undefined ? {} : { token }),
          body: { filter: {} }
        })
        expect(reply.status).toBe(status)
        expect(body(ErrorBody, reply)._tag).toBe(status === 401 ? "Unauthorized" : "Forbidden")
        clean(reply)
      }
      expect(yield* statuses).toEqual(["pending", "pending", "pending", "pending", "pending"])
      expect((yield* auditTrail).total).toBe(0)
    }).pipe(Effect.provide(Live))
  )
})
