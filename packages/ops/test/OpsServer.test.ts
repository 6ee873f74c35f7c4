import { CircuitBreaker, Classification, Classifier } from "@effect-resilience/core"
import { DeadLetterQueue } from "@effect-resilience/durable"
import { AuditLog, OpsApi, OpsServer } from "@effect-resilience/ops"
import { describe, expect, it } from "@effect/vitest"
import { Data, Effect, Layer, ParseResult, Schema } from "effect"

const operatorToken = "operator-token-for-the-tests"
const readOnlyToken = "read-only-token-for-the-tests"

const config: OpsServer.ConfigInput = {
  tokens: [
    { name: "alice", role: "operator", sha256: OpsServer.hashToken(operatorToken) },
    { name: "dashboard", role: "read-only", sha256: OpsServer.hashToken(readOnlyToken) }
  ],
  readiness: { criticalBreakers: ["payments"], deadLetterBacklog: 2 }
}

class UpstreamDown extends Data.TaggedError("UpstreamDown")<{ readonly message: string }> {}

/** The replay target: fails for payloads that say so, succeeds for the others. */
const Replay = OpsServer.layerReplayHandler((entry) => {
  const payload = entry.payload
  return typeof payload === "object" && payload !== null && "fail" in payload && payload.fail === true
    ? Effect.fail(new UpstreamDown({ message: "still down" }))
    : Effect.void
})

const Live = OpsServer.layer(config).pipe(
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

interface Reply {
  readonly status: number
  readonly body: unknown
  readonly text: string
  readonly headers: Headers
}

const call = (
  method: "GET" | "POST",
  path: string,
  options: { readonly token?: string; readonly body?: unknown } = {}
): Effect.Effect<Reply, never, OpsServer.OpsServer> =>
  Effect.flatMap(OpsServer.OpsServer, (server) =>
    Effect.promise(async () => {
      const headers: Record<string, string> = {}
      if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
      if (options.body !== undefined) headers["content-type"] = "application/json"
      const response = await fetch(new URL(path, server.url), {
        method,
        headers,
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) })
      })
      const text = await response.text()
      return {
        status: response.status,
        body: text === "" ? undefined : JSON.parse(text),
        text,
        headers: response.headers
      }
    })
  )

const ErrorBody = Schema.Struct({
  _tag: Schema.String,
  message: Schema.optional(Schema.String),
  issues: Schema.optional(
    Schema.Array(
      Schema.Struct({ path: Schema.Array(Schema.Union(Schema.String, Schema.Number)), message: Schema.String })
    )
  ),
  checks: Schema.optional(Schema.Array(OpsApi.Check))
})

const Snapshots = Schema.Array(CircuitBreaker.Snapshot)

/** A reply's body, decoded with the schema the API promises for it. */
const body = <A, I>(schema: Schema.Schema<A, I>, reply: Reply): A => Schema.decodeUnknownSync(schema)(reply.body)

const failure = (message: string): DeadLetterQueue.Failure => ({
  tag: "UpstreamDown",
  message,
  classification: Classification.make({ category: "unavailable", code: "http.503", message: "Service unavailable" }),
  history: []
})

const addDeadLetters = Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
  dlq.addAll([
    { queue: "orders", payload: { order: 1 }, failure: failure("order 1 failed") },
    { queue: "orders", payload: { order: 2, fail: true }, failure: failure("order 2 failed") },
    { queue: "invoices", payload: { invoice: 7 }, failure: failure("invoice 7 failed") }
  ])
)

const payments = Effect.flatMap(CircuitBreaker.Registry, (registry) => registry.get("payments"))

const auditTrail = Effect.flatMap(AuditLog.AuditLog, (audit) => audit.list({ limit: 100 }))

/** No stack trace, host, or credential in a body; no cookie. */
const clean = (reply: Reply) => {
  expect(reply.text).not.toMatch(/\n\s+at |node:internal|127\.0\.0\.1|localhost/)
  expect(reply.text).not.toContain(operatorToken)
  expect(reply.text).not.toContain(readOnlyToken)
  expect(reply.headers.get("set-cookie")).toBeNull()
  expect(reply.headers.get("cache-control")).toBe("no-store")
}

describe("OpsServer", () => {
  it.scopedLive("binds 127.0.0.1 on a free port by default", () =>
    Effect.gen(function* () {
      const server = yield* OpsServer.OpsServer
      expect(server.host).toBe("127.0.0.1")
      expect(server.port).toBeGreaterThan(0)
      expect(server.url).toBe(`http://127.0.0.1:${server.port}/`)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("health answers without a token; readiness flips while a critical breaker is forced open", () =>
    Effect.gen(function* () {
      yield* payments
      const health = yield* call("GET", "/health")
      expect(health.status).toBe(200)
      expect(body(OpsApi.Status, health)).toEqual({ status: "ok", checks: [] })

      const ready = yield* call("GET", "/ready")
      expect(ready.status).toBe(200)
      expect(body(OpsApi.Status, ready).status).toBe("ready")
      expect(body(OpsApi.Status, ready).checks.map((c: { name: string }) => c.name)).toEqual([
        "payments",
        "dead-letters",
        "backlog",
        "audit"
      ])

      const opened = yield* call("POST", "/api/breakers/payments/force-open", { token: operatorToken })
      expect(opened.status).toBe(200)
      expect(body(CircuitBreaker.Snapshot, opened).state).toBe("forced-open")

      const notReady = yield* call("GET", "/ready")
      expect(notReady.status).toBe(503)
      expect(body(ErrorBody, notReady)._tag).toBe("NotReady")
      expect(body(ErrorBody, notReady).checks).toContainEqual({
        kind: "breaker",
        name: "payments",
        ok: false,
        reason: "critical breaker is forced-open"
      })
      clean(notReady)

      yield* call("POST", "/api/breakers/payments/force-closed", { token: operatorToken })
      expect((yield* call("GET", "/ready")).status).toBe(200)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("readiness fails while the dead letter backlog is over its threshold", () =>
    Effect.gen(function* () {
      yield* addDeadLetters
      const reply = yield* call("GET", "/ready")
      expect(reply.status).toBe(503)
      expect(body(ErrorBody, reply).checks).toContainEqual({
        kind: "dead-letters",
        name: "backlog",
        ok: false,
        reason: "3 pending dead letters, at most 2 allowed"
      })
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a change without an operator token answers 401 or 403 and changes nothing", () =>
    Effect.gen(function* () {
      const breaker = yield* payments
      const [entry] = yield* addDeadLetters
      const attempts = [
        { token: undefined, status: 401 },
        { token: "not-a-known-token", status: 401 },
        { token: readOnlyToken, status: 403 }
      ]
      const changes = [
        "/api/breakers/payments/force-open",
        "/api/breakers/payments/disable",
        `/api/dead-letters/${entry!.id}/replay`,
        `/api/dead-letters/${entry!.id}/discard`,
        `/api/dead-letters/${entry!.id}/notes`
      ]
      for (const path of changes) {
        for (const attempt of attempts) {
          const reply = yield* call("POST", path, {
            ...(attempt.token === undefined ? {} : { token: attempt.token }),
            body: path.endsWith("notes") ? { text: "nope" } : {}
          })
          expect(reply.status, `${path} with ${attempt.token}`).toBe(attempt.status)
          expect(body(ErrorBody, reply)._tag).toBe(attempt.status === 401 ? "Unauthorized" : "Forbidden")
          clean(reply)
        }
      }
      // refused before its body is read: no token and a bad body is still a 401
      const badBody = yield* call("POST", `/api/dead-letters/${entry!.id}/notes`, { body: { text: "" } })
      expect(badBody.status).toBe(401)
      expect(badBody.headers.get("www-authenticate")).toBe("Bearer")
      expect((yield* breaker.snapshot).state).toBe("closed")
      const after = yield* Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) => dlq.get(entry!.id))
      expect(after._tag === "Some" && after.value).toEqual(entry)
      expect((yield* auditTrail).total).toBe(0)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("reads accept a read-only or an operator token, and nothing else", () =>
    Effect.gen(function* () {
      yield* payments
      for (const path of ["/api/breakers", "/api/dead-letters", "/api/audit"]) {
        expect((yield* call("GET", path)).status).toBe(401)
        expect((yield* call("GET", path, { token: "wrong" })).status).toBe(401)
        expect((yield* call("GET", path, { token: readOnlyToken })).status).toBe(200)
        expect((yield* call("GET", path, { token: operatorToken })).status).toBe(200)
      }
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("breakers: snapshots, force-open, force-closed, disable, reset, each audited", () =>
    Effect.gen(function* () {
      yield* payments
      const list = yield* call("GET", "/api/breakers", { token: readOnlyToken })
      expect(body(Snapshots, list)).toHaveLength(1)
      expect(body(Snapshots, list)[0]).toMatchObject({ name: "payments", state: "closed", calls: 0, failureRate: 0 })
      expect(typeof body(Snapshots, list)[0]?.lastTransitionAtMillis).toBe("number")

      const steps = [
        ["force-open", "forced-open"],
        ["force-closed", "closed"],
        ["disable", "disabled"],
        ["reset", "closed"]
      ] as const
      for (const [action, state] of steps) {
        const reply = yield* call("POST", `/api/breakers/payments/${action}`, { token: operatorToken })
        expect(reply.status).toBe(200)
        expect(body(CircuitBreaker.Snapshot, reply).state).toBe(state)
      }
      const missing = yield* call("POST", "/api/breakers/nope/force-open", { token: operatorToken })
      expect(missing.status).toBe(404)
      expect(body(ErrorBody, missing)).toEqual({ _tag: "NotFound", message: "no breaker is called nope" })

      const audit = yield* call("GET", "/api/audit", { token: readOnlyToken })
      expect(body(OpsApi.AuditPage, audit).total).toBe(4)
      const entries = [...body(OpsApi.AuditPage, audit).entries].reverse()
      expect(entries.map((e: { action: string }) => e.action)).toEqual([
        "breaker.force-open",
        "breaker.force-closed",
        "breaker.disable",
        "breaker.reset"
      ])
      expect(entries[0]).toMatchObject({
        actor: "alice",
        target: "payments",
        before: { state: "closed" },
        after: { state: "forced-open" }
      })
      expect(typeof entries[0]?.atMillis).toBe("number")
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("dead letters: filters, pagination and its limits", () =>
    Effect.gen(function* () {
      yield* addDeadLetters
      const all = yield* call("GET", "/api/dead-letters", { token: readOnlyToken })
      expect(all.status).toBe(200)
      expect(body(OpsApi.DeadLetterPage, all)).toMatchObject({ total: 3, limit: 50, offset: 0 })

      const orders = yield* call("GET", "/api/dead-letters?queue=orders&status=pending&category=unavailable", {
        token: readOnlyToken
      })
      expect(body(OpsApi.DeadLetterPage, orders).total).toBe(2)
      expect(body(OpsApi.DeadLetterPage, orders).entries.every((e: { queue: string }) => e.queue === "orders")).toBe(
        true
      )

      const page = yield* call("GET", "/api/dead-letters?limit=1&offset=1", { token: readOnlyToken })
      expect(body(OpsApi.DeadLetterPage, page)).toMatchObject({ total: 3, limit: 1, offset: 1 })
      expect(body(OpsApi.DeadLetterPage, page).entries).toHaveLength(1)

      const resolved = yield* call("GET", "/api/dead-letters?status=resolved", { token: readOnlyToken })
      expect(body(OpsApi.DeadLetterPage, resolved).total).toBe(0)

      for (const [query, path] of [
        ["limit=1000", "limit"],
        ["limit=0", "limit"],
        ["limit=abc", "limit"],
        ["offset=-1", "offset"],
        ["status=lost", "status"],
        ["category=weird", "category"]
      ] as const) {
        const bad = yield* call("GET", `/api/dead-letters?${query}`, { token: readOnlyToken })
        expect(bad.status, query).toBe(400)
        expect(body(ErrorBody, bad)._tag).toBe("HttpApiDecodeError")
        expect(body(ErrorBody, bad).issues?.map((i) => i.path)).toContainEqual([path])
        clean(bad)
      }
      const tooLarge = yield* call("GET", "/api/dead-letters?limit=1000", { token: readOnlyToken })
      expect(body(ErrorBody, tooLarge).issues?.[0]?.message).toBe("limit must be from 1 to 200")
      expect((yield* call("GET", "/api/audit?limit=201", { token: readOnlyToken })).status).toBe(400)
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("dead letters: inspect, note, discard, replay, each audited", () =>
    Effect.gen(function* () {
      const [first, second, third] = yield* addDeadLetters

      const inspected = yield* call("GET", `/api/dead-letters/${first!.id}`, { token: readOnlyToken })
      expect(inspected.status).toBe(200)
      expect(body(DeadLetterQueue.Entry, inspected)).toMatchObject({
        id: first!.id,
        queue: "orders",
        payload: { order: 1 },
        status: "pending",
        failure: {
          tag: "UpstreamDown",
          message: "order 1 failed",
          classification: { category: "unavailable" },
          history: []
        },
        notes: []
      })
      const unknown = yield* call("GET", "/api/dead-letters/nope", { token: readOnlyToken })
      expect(unknown.status).toBe(404)
      expect(body(ErrorBody, unknown)._tag).toBe("NotFound")

      const noted = yield* call("POST", `/api/dead-letters/${first!.id}/notes`, {
        token: operatorToken,
        body: { text: "customer contacted" }
      })
      expect(noted.status).toBe(200)
      expect(body(DeadLetterQueue.Entry, noted).notes.at(-1)).toMatchObject({
        operator: "alice",
        text: "customer contacted"
      })
      const emptyNote = yield* call("POST", `/api/dead-letters/${first!.id}/notes`, {
        token: operatorToken,
        body: { text: "" }
      })
      expect(emptyNote.status).toBe(400)
      expect(body(ErrorBody, emptyNote).issues?.map((i) => i.path)).toContainEqual(["text"])

      const replayed = yield* call("POST", `/api/dead-letters/${first!.id}/replay`, { token: operatorToken })
      expect(replayed.status).toBe(200)
      expect(body(OpsApi.ReplayReport, replayed)).toEqual({
        resolved: [first!.id],
        failed: [],
        invalid: [],
        skipped: []
      })
      const again = yield* call("POST", `/api/dead-letters/${first!.id}/replay`, { token: operatorToken })
      expect(body(OpsApi.ReplayReport, again).skipped).toEqual([{ id: first!.id, status: "resolved" }])

      const stillDown = yield* call("POST", `/api/dead-letters/${second!.id}/replay`, { token: operatorToken })
      expect(body(OpsApi.ReplayReport, stillDown).failed).toHaveLength(1)
      const history = yield* call("GET", `/api/dead-letters/${second!.id}`, { token: readOnlyToken })
      expect(body(DeadLetterQueue.Entry, history).status).toBe("pending")
      expect(body(DeadLetterQueue.Entry, history).failure.history.length).toBeGreaterThan(0)

      const discarded = yield* call("POST", `/api/dead-letters/${third!.id}/discard`, {
        token: operatorToken,
        body: { note: "duplicate" }
      })
      expect(discarded.status).toBe(200)
      expect(body(DeadLetterQueue.Entry, discarded).status).toBe("discarded")
      const twice = yield* call("POST", `/api/dead-letters/${third!.id}/discard`, { token: operatorToken, body: {} })
      expect(twice.status).toBe(409)
      expect(body(ErrorBody, twice)._tag).toBe("Conflict")
      expect((yield* call("POST", "/api/dead-letters/nope/replay", { token: operatorToken })).status).toBe(404)

      const trail = yield* auditTrail
      const actions = trail.entries.map((e) => `${e.action} ${e.target}`).reverse()
      expect(actions).toEqual([
        `dead-letter.note ${first!.id}`,
        `dead-letter.replay ${first!.id}`,
        `dead-letter.replay ${first!.id}`,
        `dead-letter.replay ${second!.id}`,
        `dead-letter.discard ${third!.id}`
      ])
      const discard = trail.entries[0]!
      expect(discard).toMatchObject({ actor: "alice", before: { status: "pending" }, after: { status: "discarded" } })
      const audit = yield* call("GET", "/api/audit?limit=2&offset=1", { token: readOnlyToken })
      expect(body(OpsApi.AuditPage, audit)).toMatchObject({ total: 5, limit: 2, offset: 1 })
      expect(body(OpsApi.AuditPage, audit).entries.map((e: { action: string }) => e.action)).toEqual([
        "dead-letter.replay",
        "dead-letter.replay"
      ])
    }).pipe(Effect.provide(Live))
  )

  it.scopedLive("a bad config fails with the path of the bad field", () =>
    Effect.gen(function* () {
      const error = yield* Layer.launch(
        OpsServer.layer({ tokens: [{ name: "x", role: "operator", sha256: "abc" }] })
      ).pipe(
        Effect.provide(
          Layer.mergeAll(
            DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
            AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory)),
            Replay,
            Classifier.layer
          )
        ),
        Effect.flip
      )
      expect(error._tag).toBe("ParseError")
      const issues = error._tag === "ParseError" ? ParseResult.ArrayFormatter.formatErrorSync(error) : []
      expect(issues).toEqual([
        { _tag: "Refinement", path: ["tokens", 0, "sha256"], message: "sha256 must be 64 lowercase hexadecimal digits" }
      ])
    })
  )
})

describe("OpsServer when something breaks", () => {
  const storeDown = Layer.effect(
    DeadLetterQueue.DeadLetterQueueStore,
    Effect.map(DeadLetterQueue.makeStoreMemory, (store) => {
      const down = new DeadLetterQueue.DeadLetterStoreError({
        reason: "unavailable",
        message: "connect ECONNREFUSED db.internal.example:5432 as admin:hunter2"
      })
      return { ...store, counts: Effect.fail(down), list: () => Effect.fail(down) }
    })
  )

  const serverWith = (store: Layer.Layer<DeadLetterQueue.DeadLetterQueueStore>, replay: typeof Replay) =>
    OpsServer.layer(config).pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          CircuitBreaker.layerRegistry(),
          DeadLetterQueue.layer().pipe(Layer.provide(store)),
          AuditLog.layer.pipe(Layer.provide(AuditLog.layerStoreMemory)),
          replay,
          Classifier.layer
        )
      )
    )

  const Broken = serverWith(storeDown, Replay)
  const Dying = serverWith(
    DeadLetterQueue.layerStoreMemory,
    OpsServer.layerReplayHandler(() => Effect.die(new Error("boom at db.internal.example:5432 with hunter2")))
  )

  it.scopedLive("readiness says which store did not answer; a store failure is a 503 without its details", () =>
    Effect.gen(function* () {
      const ready = yield* call("GET", "/ready")
      expect(ready.status).toBe(503)
      expect(body(ErrorBody, ready).checks).toContainEqual({
        kind: "store",
        name: "dead-letters",
        ok: false,
        reason: "the dead letter store did not answer"
      })
      const list = yield* call("GET", "/api/dead-letters", { token: readOnlyToken })
      expect(list.status).toBe(503)
      expect(body(ErrorBody, list)).toEqual({ _tag: "Unavailable", message: "the dead letter store is unavailable" })
      for (const reply of [ready, list]) {
        clean(reply)
        expect(reply.text).not.toMatch(/db\.internal|hunter2|ECONNREFUSED/)
      }
    }).pipe(Effect.provide(Broken))
  )

  it.scopedLive("a replay handler's defect is a failed replay whose body says nothing of it", () =>
    Effect.gen(function* () {
      const [entry] = yield* Effect.flatMap(DeadLetterQueue.DeadLetterQueue, (dlq) =>
        dlq.addAll([{ queue: "orders", payload: { order: 1 }, failure: failure("order 1 failed") }])
      )
      const reply = yield* call("POST", `/api/dead-letters/${entry!.id}/replay`, { token: operatorToken })
      expect(reply.status).toBe(200)
      expect(body(OpsApi.ReplayReport, reply).failed).toHaveLength(1)
      clean(reply)
      expect(reply.text).not.toMatch(/boom|db\.internal|hunter2/)
    }).pipe(Effect.provide(Dying))
  )

  it.scopedLive("a defect answers 500 with no stack trace, host or secret", () => {
    const auditDies = Layer.succeed(AuditLog.AuditLogStore, {
      append: () => Effect.die(new Error("boom at db.internal.example:5432 with hunter2")),
      list: () => Effect.succeed({ entries: [], total: 0 })
    })
    const Live = OpsServer.layer(config).pipe(
      Layer.provideMerge(
        Layer.mergeAll(
          CircuitBreaker.layerRegistry(),
          DeadLetterQueue.layer().pipe(Layer.provide(DeadLetterQueue.layerStoreMemory)),
          AuditLog.layer.pipe(Layer.provide(auditDies)),
          Replay,
          Classifier.layer
        )
      )
    )
    return Effect.gen(function* () {
      yield* payments
      const reply = yield* call("POST", "/api/breakers/payments/force-open", { token: operatorToken })
      expect(reply.status).toBe(500)
      clean(reply)
      expect(reply.text).not.toMatch(/boom|db\.internal|hunter2|Error/)
    }).pipe(Effect.provide(Live))
  })
})
