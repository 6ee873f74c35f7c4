import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Errors from "../src/Errors.js"
import * as Failures from "../src/Failures.js"
import * as Rule from "../src/Rule.js"

const classifyWith =
  (layer: Layer.Layer<Classifier.Classifier>) =>
  (failure: unknown): Effect.Effect<Classification.Classification> =>
    Classifier.classify(failure).pipe(Effect.provide(layer))

const defaults = classifyWith(Classifier.layer)

/** The default classifier, built once with the live clock (for the cases that do not read time). */
const service = Effect.runSync(Classifier.make())

class ReplyError extends Error {
  override name = "ReplyError"
}
/** node-redis' reply error keeps Error's `name`. */
class ErrorReply extends Error {}

const nodeError = (code: string, message: string) => Object.assign(new Error(message), { code, syscall: "connect" })

type Row = readonly [
  name: string,
  failure: unknown,
  expected: {
    readonly category: Classification.Category
    readonly retryable: boolean
    readonly countsForBreaker: boolean
    readonly code: string
  }
]

const transient = (category: Classification.Category, code: string) => ({
  category,
  retryable: true,
  countsForBreaker: true,
  code
})
const final = (category: Classification.Category, code: string) => ({
  category,
  retryable: false,
  countsForBreaker: false,
  code
})

const attempt = (classification: Classification.Classification): Errors.AttemptRecord => ({
  attempt: 1,
  failure: { tag: "HttpError", message: classification.message },
  classification,
  atMillis: 0
})

const table: ReadonlyArray<Row> = [
  // Transient: retried and counted by a breaker.
  ["HTTP 502", new Failures.HttpError({ status: 502 }), transient("unavailable", "http.502")],
  ["HTTP 503", new Failures.HttpError({ status: 503 }), transient("unavailable", "http.503")],
  ["HTTP 504", new Failures.HttpError({ status: 504 }), transient("timeout", "http.504")],
  ["ECONNRESET", new Failures.NetworkError({ code: "ECONNRESET" }), transient("network", "node.ECONNRESET")],
  ["ECONNREFUSED", new Failures.NetworkError({ code: "ECONNREFUSED" }), transient("network", "node.ECONNREFUSED")],
  ["ETIMEDOUT", new Failures.NetworkError({ code: "ETIMEDOUT" }), transient("timeout", "node.ETIMEDOUT")],
  ["EPIPE", new Failures.NetworkError({ code: "EPIPE" }), transient("network", "node.EPIPE")],
  ["EAI_AGAIN", new Failures.NetworkError({ code: "EAI_AGAIN" }), transient("network", "node.EAI_AGAIN")],
  ["gRPC UNAVAILABLE", new Failures.GrpcError({ code: 14 }), transient("unavailable", "grpc.UNAVAILABLE")],
  ["gRPC DEADLINE_EXCEEDED", new Failures.GrpcError({ code: 4 }), transient("timeout", "grpc.DEADLINE_EXCEEDED")],
  [
    "gRPC INTERNAL (retried, as the worker seed says)",
    new Failures.GrpcError({ code: 13 }),
    transient("server", "grpc.INTERNAL")
  ],
  [
    "gRPC UNKNOWN (retried, as the worker seed says)",
    new Failures.GrpcError({ code: 2 }),
    transient("server", "grpc.UNKNOWN")
  ],
  ["HTTP 500", new Failures.HttpError({ status: 500 }), transient("server", "http.500")],
  ["HTTP 408", new Failures.HttpError({ status: 408 }), transient("timeout", "http.408")],
  ["pg class 08", new Failures.PgError({ code: "08006" }), transient("network", "pg.08006")],
  ["pg class 53", new Failures.PgError({ code: "53300" }), transient("resource", "pg.53300")],
  ["pg 57P01 admin_shutdown", new Failures.PgError({ code: "57P01" }), transient("unavailable", "pg.57P01")],
  ["pg 57014 query_canceled", new Failures.PgError({ code: "57014" }), transient("timeout", "pg.57014")],
  ["redis READONLY", new Failures.RedisError({ code: "READONLY" }), transient("unavailable", "redis.READONLY")],
  ["redis LOADING", new Failures.RedisError({ code: "LOADING" }), transient("unavailable", "redis.LOADING")],
  ["redis BUSY", new Failures.RedisError({ code: "BUSY" }), transient("unavailable", "redis.BUSY")],
  ["redis OOM", new Failures.RedisError({ code: "OOM" }), transient("resource", "redis.OOM")],
  [
    "redis CLUSTERDOWN",
    new Failures.RedisError({ code: "CLUSTERDOWN" }),
    transient("unavailable", "redis.CLUSTERDOWN")
  ],
  [
    "undici connect timeout",
    new Failures.FetchError({ code: "UND_ERR_CONNECT_TIMEOUT" }),
    transient("timeout", "undici.UND_ERR_CONNECT_TIMEOUT")
  ],
  ["TimeoutError", new Failures.TimeoutError(), transient("timeout", "timeout")],
  // Throttled: retried (after Retry-After), not counted.
  ["HTTP 429", new Failures.HttpError({ status: 429 }), { ...final("throttled", "http.429"), retryable: true }],
  [
    "gRPC RESOURCE_EXHAUSTED",
    new Failures.GrpcError({ code: 8 }),
    { ...final("throttled", "grpc.RESOURCE_EXHAUSTED"), retryable: true }
  ],
  // Concurrency: retried, not counted.
  ["pg 40001", new Failures.PgError({ code: "40001" }), { ...final("concurrency", "pg.40001"), retryable: true }],
  ["pg 40P01", new Failures.PgError({ code: "40P01" }), { ...final("concurrency", "pg.40P01"), retryable: true }],
  ["gRPC ABORTED", new Failures.GrpcError({ code: 10 }), { ...final("concurrency", "grpc.ABORTED"), retryable: true }],
  [
    "redis TRYAGAIN",
    new Failures.RedisError({ code: "TRYAGAIN" }),
    { ...final("concurrency", "redis.TRYAGAIN"), retryable: true }
  ],
  [
    "redis MOVED",
    new Failures.RedisError({ code: "MOVED" }),
    { ...final("unavailable", "redis.MOVED"), retryable: true }
  ],
  ["redis ASK", new Failures.RedisError({ code: "ASK" }), { ...final("unavailable", "redis.ASK"), retryable: true }],
  // Final: neither retried nor counted.
  ["HTTP 400", new Failures.HttpError({ status: 400 }), final("validation", "http.400")],
  ["HTTP 422", new Failures.HttpError({ status: 422 }), final("validation", "http.422")],
  ["gRPC INVALID_ARGUMENT", new Failures.GrpcError({ code: 3 }), final("validation", "grpc.INVALID_ARGUMENT")],
  ["HTTP 401", new Failures.HttpError({ status: 401 }), final("authentication", "http.401")],
  ["HTTP 403", new Failures.HttpError({ status: 403 }), final("authorization", "http.403")],
  ["HTTP 404", new Failures.HttpError({ status: 404 }), final("client", "http.404")],
  ["HTTP 409", new Failures.HttpError({ status: 409 }), final("concurrency", "http.409")],
  ["HTTP 501", new Failures.HttpError({ status: 501 }), final("configuration", "http.501")],
  ["HTTP 460 (an unlisted 4xx)", new Failures.HttpError({ status: 460 }), final("client", "http.460")],
  ["HTTP 599 (an unlisted 5xx)", new Failures.HttpError({ status: 599 }), transient("server", "http.599")],
  ["gRPC UNAUTHENTICATED", new Failures.GrpcError({ code: 16 }), final("authentication", "grpc.UNAUTHENTICATED")],
  ["gRPC PERMISSION_DENIED", new Failures.GrpcError({ code: 7 }), final("authorization", "grpc.PERMISSION_DENIED")],
  ["gRPC NOT_FOUND", new Failures.GrpcError({ code: 5 }), final("client", "grpc.NOT_FOUND")],
  ["gRPC UNIMPLEMENTED", new Failures.GrpcError({ code: 12 }), final("configuration", "grpc.UNIMPLEMENTED")],
  [
    "ENOTFOUND (NXDOMAIN: a wrong host name)",
    new Failures.NetworkError({ code: "ENOTFOUND" }),
    final("configuration", "node.ENOTFOUND")
  ],
  ["pg class 23", new Failures.PgError({ code: "23505" }), final("data-integrity", "pg.23505")],
  ["pg 23503", new Failures.PgError({ code: "23503" }), final("data-integrity", "pg.23503")],
  ["pg 42601 syntax", new Failures.PgError({ code: "42601" }), final("client", "pg.42601")],
  ["pg 42P01 undefined table", new Failures.PgError({ code: "42P01" }), final("configuration", "pg.42P01")],
  ["pg 42501 privilege", new Failures.PgError({ code: "42501" }), final("authorization", "pg.42501")],
  ["pg 28P01 password", new Failures.PgError({ code: "28P01" }), final("authentication", "pg.28P01")],
  ["pg 22P02 (class 22)", new Failures.PgError({ code: "22P02" }), final("validation", "pg.22P02")],
  ["redis NOAUTH", new Failures.RedisError({ code: "NOAUTH" }), final("authentication", "redis.NOAUTH")],
  ["redis WRONGTYPE", new Failures.RedisError({ code: "WRONGTYPE" }), final("client", "redis.WRONGTYPE")],
  ["AbortError", new Failures.AbortError(), final("client", "abort")],
  // The runtime's own errors.
  [
    "AttemptTimeout",
    new Errors.AttemptTimeout({ operation: "op", attempt: 1, timeoutMillis: 10 }),
    transient("timeout", "resilience.AttemptTimeout")
  ],
  [
    "DeadlineExceeded",
    new Errors.DeadlineExceeded({ operation: "op", deadlineMillis: 10 }),
    final("timeout", "resilience.DeadlineExceeded")
  ],
  [
    "CircuitOpen",
    new Errors.CircuitOpen({ breaker: "b", retryAfterMillis: 1500 }),
    { ...final("unavailable", "resilience.CircuitOpen"), retryable: true }
  ],
  [
    "BulkheadRejected",
    new Errors.BulkheadRejected({ bulkhead: "b", reason: "full" }),
    { ...final("resource", "resilience.BulkheadRejected"), retryable: true }
  ],
  [
    "RateLimited",
    new Errors.RateLimited({ limiter: "l", retryAfterMillis: 250 }),
    { ...final("throttled", "resilience.RateLimited"), retryable: true }
  ],
  [
    "RetryBudgetExhausted",
    new Errors.RetryBudgetExhausted({ budget: "b", operation: "op" }),
    final("resource", "resilience.RetryBudgetExhausted")
  ],
  [
    "RetriesExhausted keeps the last classification, not retryable",
    new Errors.RetriesExhausted({
      operation: "op",
      reason: "exhausted",
      attempts: [attempt(service.classify(new Failures.NetworkError({ code: "ECONNRESET" })))]
    }),
    { category: "network", retryable: false, countsForBreaker: true, code: "node.ECONNRESET" }
  ],
  // Raw values from the wild, recognised without a Failures wrapper.
  ["raw Node ECONNRESET", nodeError("ECONNRESET", "read ECONNRESET"), transient("network", "node.ECONNRESET")],
  [
    "raw fetch failed with ECONNREFUSED cause",
    new TypeError("fetch failed", { cause: nodeError("ECONNREFUSED", "connect ECONNREFUSED 10.0.0.1:80") }),
    transient("network", "node.ECONNREFUSED")
  ],
  [
    "raw fetch failed with undici cause",
    new TypeError("fetch failed", { cause: Object.assign(new Error("x"), { code: "UND_ERR_SOCKET" }) }),
    transient("network", "undici.UND_ERR_SOCKET")
  ],
  ["raw fetch failed, no cause", new TypeError("fetch failed"), transient("network", "undici.FETCH_FAILED")],
  ["raw DOMException AbortError", new DOMException("aborted", "AbortError"), final("client", "abort")],
  ["raw DOMException TimeoutError", new DOMException("timed out", "TimeoutError"), transient("timeout", "timeout")],
  [
    "raw pg error",
    { name: "error", severity: "ERROR", code: "40P01", detail: "Process 1 waits" },
    { ...final("concurrency", "pg.40P01"), retryable: true }
  ],
  [
    "raw ioredis ReplyError",
    new ReplyError("READONLY You can't write against a read only replica."),
    transient("unavailable", "redis.READONLY")
  ],
  [
    "raw ioredis MOVED",
    new ReplyError("MOVED 3999 10.0.0.7:6381"),
    { ...final("unavailable", "redis.MOVED"), retryable: true }
  ],
  [
    "raw gRPC error",
    { code: 14, details: "upstream down", metadata: {} },
    transient("unavailable", "grpc.UNAVAILABLE")
  ],
  ["raw response-like", { response: { status: 503, headers: {} } }, transient("unavailable", "http.503")],
  [
    "raw undici ResponseStatusCodeError",
    Object.assign(new Error("Response status code 503"), { code: "UND_ERR_RESPONSE_STATUS_CODE", statusCode: 503 }),
    transient("unavailable", "http.503")
  ],
  [
    "raw axios-like error with a response",
    Object.assign(new Error("Request failed"), { code: "ERR_BAD_RESPONSE", response: { status: 502, headers: {} } }),
    transient("unavailable", "http.502")
  ],
  ["raw node-redis ErrorReply", new ErrorReply("LOADING Redis is loading"), transient("unavailable", "redis.LOADING")],
  ["Effect TimeoutException", new Cause.TimeoutException(), transient("timeout", "timeout")],
  [
    "Effect UnknownException around a Node error",
    new Cause.UnknownException(nodeError("ECONNRESET", "read ECONNRESET")),
    transient("network", "node.ECONNRESET")
  ],
  [
    "plain Error",
    new Error("boom"),
    { category: "unknown", retryable: false, countsForBreaker: true, code: "unknown" }
  ],
  ["a string", "boom", { category: "unknown", retryable: false, countsForBreaker: true, code: "unknown" }]
]

describe("Classifier.layer (defaults)", () => {
  it.effect.each(table)("%s", ([, failure, expected]) =>
    Effect.gen(function* () {
      const c = yield* defaults(failure)
      expect({
        category: c.category,
        retryable: c.retryable,
        countsForBreaker: c.countsForBreaker,
        code: c.code
      }).toEqual(expected)
      // Every classification is valid for the Classification schema (a dead letter stores it).
      expect(Schema.is(Classification.Classification)(c)).toBe(true)
    })
  )

  it.effect("CircuitOpen and RateLimited carry their wait as retryAfter", () =>
    Effect.gen(function* () {
      const open = yield* defaults(new Errors.CircuitOpen({ breaker: "b", retryAfterMillis: 1500 }))
      expect(open.retryAfter).toEqual(Duration.millis(1500))
      const limited = yield* defaults(new Errors.RateLimited({ limiter: "l", retryAfterMillis: 250 }))
      expect(limited.retryAfter).toEqual(Duration.millis(250))
      const closedSoon = yield* defaults(new Errors.CircuitOpen({ breaker: "b", retryAfterMillis: 0 }))
      expect(closedSoon.retryAfter).toBeUndefined()
    })
  )

  it.effect("gRPC pushback becomes retryAfter, from the failure or from raw metadata", () =>
    Effect.gen(function* () {
      const tagged = yield* defaults(new Failures.GrpcError({ code: 8, retryPushbackMillis: 750 }))
      expect(tagged.retryAfter).toEqual(Duration.millis(750))
      const metadata = new Map([["grpc-retry-pushback-ms", ["300"]]])
      const raw = yield* defaults({ code: 8, details: "quota", metadata })
      expect(raw.code).toBe("grpc.RESOURCE_EXHAUSTED")
      expect(raw.retryAfter).toEqual(Duration.millis(300))
    })
  )

  it.effect("messages carry no host, credential or payload", () =>
    Effect.gen(function* () {
      const secrets = ["10.0.0.1", "10.0.0.7", "hunter2", "Process 1 waits", "upstream down"]
      for (const [, failure] of table) {
        const c = yield* defaults(failure)
        for (const secret of secrets) expect(c.message).not.toContain(secret)
      }
      const pg = yield* defaults({
        code: "28P01",
        severity: "FATAL",
        message: 'password authentication failed for user "hunter2"'
      })
      expect(pg.message).toBe("Invalid password (SQLSTATE 28P01)")
    })
  )

  it("never throws and always answers a valid classification, whatever it is given", () => {
    fc.assert(
      fc.property(fc.anything({ withObjectString: true, withNullPrototype: true }), (u) => {
        expect(Schema.is(Classification.Classification)(service.classify(u))).toBe(true)
      })
    )
    fc.assert(
      fc.property(fc.integer({ min: 100, max: 599 }), fc.dictionary(fc.string(), fc.string()), (status, headers) => {
        const c = service.classify(new Failures.HttpError({ status, headers }))
        expect(c.code).toBe(`http.${status}`)
        // Among 4xx statuses, only 408 (the server timed out waiting) is evidence against the server.
        if (status >= 400 && status < 500) expect(c.countsForBreaker).toBe(status === 408)
        if (status >= 500) expect(c.category).not.toBe("client")
      })
    )
  })
})

describe("Retry-After", () => {
  const epoch = Date.parse("2026-03-01T12:00:00Z")

  it.effect("as seconds", () =>
    Effect.gen(function* () {
      const c = yield* defaults(new Failures.HttpError({ status: 429, headers: { "retry-after": "120" } }))
      expect(c.retryAfter).toEqual(Duration.seconds(120))
      // Any header case; Headers-like objects too.
      const upper = yield* defaults(new Failures.HttpError({ status: 503, headers: { "Retry-After": "7" } }))
      expect(upper.retryAfter).toEqual(Duration.seconds(7))
      const fetchLike = yield* defaults({ status: 503, headers: new Headers({ "Retry-After": "3" }) })
      expect(fetchLike.retryAfter).toEqual(Duration.seconds(3))
    })
  )

  it.effect("as an HTTP date, measured against the TestClock when classified", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(epoch)
      const classifier = yield* Classifier.make()
      const failure = new Failures.HttpError({
        status: 503,
        headers: { "retry-after": "Sun, 01 Mar 2026 12:00:30 GMT" }
      })
      expect(classifier.classify(failure).retryAfter).toEqual(Duration.millis(30_000))
      yield* TestClock.adjust("10 seconds")
      expect(classifier.classify(failure).retryAfter).toEqual(Duration.millis(20_000))
      // asctime and RFC 850 forms of an HTTP date.
      const asctime = new Failures.HttpError({ status: 429, headers: { "retry-after": "Sun Mar  1 12:01:10 2026" } })
      expect(classifier.classify(asctime).retryAfter).toEqual(Duration.millis(60_000))
      const rfc850 = new Failures.HttpError({
        status: 429,
        headers: { "retry-after": "Sunday, 01-Mar-26 12:00:20 GMT" }
      })
      expect(classifier.classify(rfc850).retryAfter).toEqual(Duration.millis(10_000))
    })
  )

  it.effect("any HTTP date: the delay is the date minus the TestClock's now, none when not in the future", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(epoch)
      const classifier = yield* Classifier.make()
      fc.assert(
        fc.property(fc.integer({ min: -86_400, max: 86_400 }), (seconds) => {
          const date = new Date(epoch + seconds * 1000).toUTCString()
          const c = classifier.classify(new Failures.HttpError({ status: 503, headers: { "retry-after": date } }))
          expect(c.retryAfter).toEqual(seconds > 0 ? Duration.millis(seconds * 1000) : undefined)
        })
      )
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 9_999_999 }), (seconds) => {
          const c = classifier.classify(
            new Failures.HttpError({ status: 429, headers: { "retry-after": `${seconds}` } })
          )
          expect(c.retryAfter).toEqual(seconds > 0 ? Duration.seconds(seconds) : undefined)
        })
      )
    })
  )

  it.effect("through the Layer, the TestClock is the clock too", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(epoch)
      const c = yield* defaults(
        new Failures.HttpError({ status: 429, headers: { "retry-after": "Sun, 01 Mar 2026 12:02:00 GMT" } })
      )
      expect(c.retryAfter).toEqual(Duration.minutes(2))
    })
  )

  it.effect("in the past, zero or unparsable gives no retryAfter", () =>
    Effect.gen(function* () {
      yield* TestClock.setTime(epoch)
      for (const value of ["Sun, 01 Mar 2026 11:59:00 GMT", "0", "soon", "-5", "1.5", "", "2"]) {
        const c = yield* defaults(new Failures.HttpError({ status: 503, headers: { "retry-after": value } }))
        if (value === "2") expect(c.retryAfter).toEqual(Duration.seconds(2))
        else expect(c.retryAfter, value).toBeUndefined()
        expect(c.code).toBe("http.503")
      }
    })
  )
})

class PaymentDeclined extends Schema.TaggedError<PaymentDeclined>()("PaymentDeclined", { reason: Schema.String }) {}
class InventoryLow extends Schema.TaggedError<InventoryLow>()("InventoryLow", { sku: Schema.String }) {}
type OrderError = PaymentDeclined | InventoryLow

const business = (code: string) => Classification.make({ category: "business", code, message: "Order refused" })

describe("rules", () => {
  const ctx = { base: () => service.classify(undefined) }
  const baseOf = (u: unknown) => ({ base: () => service.classify(u) })

  it("match on tag, status, code, message, category", () => {
    const declined = new PaymentDeclined({ reason: "insufficient funds" })
    expect(Rule.tag("PaymentDeclined").test(declined, ctx)).toBe(true)
    expect(Rule.tag("InventoryLow").test(declined, ctx)).toBe(false)
    expect(Rule.status(418).test(new Failures.HttpError({ status: 418 }), ctx)).toBe(true)
    expect(Rule.status(418).test({ statusCode: 418 }, ctx)).toBe(true)
    expect(Rule.status(418).test(new Failures.HttpError({ status: 419 }), ctx)).toBe(false)
    expect(Rule.statusBetween(500, 599).test({ response: { status: 502 } }, ctx)).toBe(true)
    const unique = new Failures.PgError({ code: "23505" })
    expect(Rule.code("pg.23505").test(unique, baseOf(unique))).toBe(true)
    expect(Rule.code("pg.23503").test(unique, baseOf(unique))).toBe(false)
    expect(Rule.code("E_QUOTA").test({ code: "E_QUOTA" }, baseOf({ code: "E_QUOTA" }))).toBe(true)
    expect(Rule.codeStartsWith("pg.23").test(unique, baseOf(unique))).toBe(true)
    expect(Rule.category("data-integrity").test(unique, baseOf(unique))).toBe(true)
    const quota = /quota/g
    const rule = Rule.messageMatches(quota)
    // A global RegExp does not make the rule stateful.
    expect(rule.test(new Error("quota exceeded"), ctx)).toBe(true)
    expect(rule.test(new Error("quota exceeded"), ctx)).toBe(true)
    expect(Rule.messageMatches("quota").test(new Error("over quota"), ctx)).toBe(true)
    expect(Rule.messageMatches("quota").test({ message: 42 }, ctx)).toBe(false)
    expect(Rule.instanceOf(RangeError).test(new RangeError("x"), ctx)).toBe(true)
    expect(Rule.is((u) => u === 1).test(1, ctx)).toBe(true)
  })

  it("compose with and / or / not", () => {
    const e503 = new Failures.HttpError({ status: 503 })
    const e500 = new Failures.HttpError({ status: 500 })
    const tagHttp = Rule.tag("HttpError")
    const s503 = Rule.status(503)
    expect(Rule.and(tagHttp, s503).test(e503, ctx)).toBe(true)
    expect(Rule.and(tagHttp, s503).test(e500, ctx)).toBe(false)
    expect(Rule.or(Rule.status(500), s503).test(e500, ctx)).toBe(true)
    expect(Rule.or(Rule.status(501), s503).test(e500, ctx)).toBe(false)
    expect(Rule.not(s503).test(e500, ctx)).toBe(true)
    expect(Rule.not(s503).test(e503, ctx)).toBe(false)
    expect(Rule.and(tagHttp, Rule.not(s503), Rule.or(Rule.status(500), Rule.status(502))).test(e500, ctx)).toBe(true)
    expect(Rule.and(tagHttp, s503).label).toBe("and(tag(HttpError), status(503))")
    // Truth tables.
    const t = Rule.is(() => true)
    const f = Rule.is(() => false)
    const pairs: ReadonlyArray<readonly [Rule.Rule, Rule.Rule]> = [
      [t, t],
      [t, f],
      [f, t],
      [f, f]
    ]
    for (const [a, b] of pairs) {
      const av = a.test(0, ctx)
      const bv = b.test(0, ctx)
      expect(Rule.and(a, b).test(0, ctx)).toBe(av && bv)
      expect(Rule.or(a, b).test(0, ctx)).toBe(av || bv)
      expect(Rule.not(a).test(0, ctx)).toBe(!av)
    }
  })

  it.effect("take precedence over the defaults, in order, and receive the failure typed and the base", () =>
    Effect.gen(function* () {
      const classify = classifyWith(
        Classifier.layerWith({
          rules: [
            [Rule.status(503), business("teapot-ish")],
            [
              Rule.instanceOf(PaymentDeclined),
              (e, base) => ({ ...business(`declined.${e.reason}`), severity: base.severity })
            ],
            [Rule.tag("InventoryLow"), (e) => business(`tag.${e._tag}`)],
            [Rule.code("pg.23505"), (_, base) => ({ ...base, category: "business", code: "user.exists" })],
            [
              Rule.messageMatches(/quota/),
              Classification.make({ category: "throttled", code: "quota", message: "Quota" })
            ],
            [Rule.status(503), business("never reached: the first rule wins")]
          ]
        })
      )
      expect((yield* classify(new Failures.HttpError({ status: 503 }))).code).toBe("teapot-ish")
      const declined = yield* classify(new PaymentDeclined({ reason: "funds" }))
      expect(declined.code).toBe("declined.funds")
      expect(declined.severity).toBe("medium") // unknown's severity: the base the function received
      const unique = yield* classify(new Failures.PgError({ code: "23505" }))
      expect(unique).toMatchObject({ category: "business", code: "user.exists", retryable: false })
      expect((yield* classify(new InventoryLow({ sku: "A" }))).code).toBe("tag.InventoryLow")
      expect((yield* classify(new Error("over quota"))).category).toBe("throttled")
      // Everything else is still the defaults.
      expect((yield* classify(new Failures.HttpError({ status: 502 }))).code).toBe("http.502")
    })
  )

  it.effect("Classifier.extend puts rules in front of any Classifier below", () =>
    Effect.gen(function* () {
      const below = Classifier.layerFrom(() => business("below"))
      const classify = classifyWith(
        Classifier.extend({ rules: [[Rule.status(418), business("teapot")]] }).pipe(Layer.provide(below))
      )
      expect((yield* classify({ status: 418 })).code).toBe("teapot")
      expect((yield* classify({ status: 503 })).code).toBe("below")
    })
  )
})

describe("exhaustive mappings", () => {
  const mapping = Classifier.exhaustive<OrderError>()({
    PaymentDeclined: business("order.declined"),
    InventoryLow: (e, base) =>
      Classification.make({
        category: "resource",
        code: `order.inventory.${e.sku}`,
        message: "Out of stock",
        severity: base.category === "unknown" ? "low" : "high"
      })
  })

  it("lists its tags", () => {
    expect([...mapping.tags].sort()).toEqual(["InventoryLow", "PaymentDeclined"])
  })

  it.effect("classify the mapped tags; the defaults classify everything else", () =>
    Effect.gen(function* () {
      const classify = classifyWith(Classifier.layerWith({ mappings: [mapping] }))
      expect((yield* classify(new PaymentDeclined({ reason: "x" }))).code).toBe("order.declined")
      const low = yield* classify(new InventoryLow({ sku: "A1" }))
      expect(low).toMatchObject({ category: "resource", code: "order.inventory.A1", severity: "low", retryable: true })
      expect((yield* classify(new Failures.HttpError({ status: 503 }))).code).toBe("http.503")
      expect((yield* classify(new Errors.AttemptTimeout({ operation: "o", attempt: 1, timeoutMillis: 1 }))).code).toBe(
        "resilience.AttemptTimeout"
      )
      // A plain value with the tag (JSON read back without its Schema) is still dispatched by tag.
      expect((yield* classify({ _tag: "InventoryLow", sku: "B2" })).code).toBe("order.inventory.B2")
    })
  )

  it.effect("take precedence over the defaults for tags the defaults know", () =>
    Effect.gen(function* () {
      const override = Classifier.exhaustive<Errors.CircuitOpen | Failures.HttpError>()({
        CircuitOpen: business("mine.open"),
        HttpError: (e) => business(`mine.${e.status}`)
      })
      const classify = classifyWith(Classifier.layerWith({ mappings: [override, mapping] }))
      expect((yield* classify(new Errors.CircuitOpen({ breaker: "b", retryAfterMillis: 1 }))).code).toBe("mine.open")
      expect((yield* classify(new Failures.HttpError({ status: 503 }))).code).toBe("mine.503")
      expect((yield* classify(new PaymentDeclined({ reason: "x" }))).code).toBe("order.declined")
    })
  )

  it.effect("a function result gets the real base only when it declares it, and pays for it only then", () =>
    Effect.gen(function* () {
      class Upstream extends Schema.TaggedError<Upstream>()("Upstream", { status: Schema.Number }) {}
      let asked = 0
      const below = Classifier.layerFrom((u) => {
        asked++
        return service.classify(u)
      })
      const withBase = Classifier.exhaustive<Upstream>()({ Upstream: (_, base) => business(`base.${base.code}`) })
      const withoutBase = Classifier.exhaustive<Upstream>()({ Upstream: (e) => business(`own.${e.status}`) })
      const failure = new Upstream({ status: 503 })
      const first = yield* classifyWith(Classifier.extend({ mappings: [withBase] }).pipe(Layer.provide(below)))(failure)
      // The defaults recognise the `status` field: the base is what they say about it.
      expect(first.code).toBe("base.http.503")
      expect(asked).toBe(1)
      const second = yield* classifyWith(Classifier.extend({ mappings: [withoutBase] }).pipe(Layer.provide(below)))(
        failure
      )
      expect(second.code).toBe("own.503")
      expect(asked).toBe(1)
    })
  )

  it.effect("rules come before mappings", () =>
    Effect.gen(function* () {
      const classify = classifyWith(
        Classifier.layerWith({
          rules: [[Rule.and(Rule.tag("PaymentDeclined"), Rule.messageMatches("fraud")), business("fraud")]],
          mappings: [mapping]
        })
      )
      const fraud = new PaymentDeclined({ reason: "fraud" })
      // A TaggedError's default message lists its fields, so the rule sees "fraud".
      expect((yield* classify(fraud)).code).toBe("fraud")
      expect((yield* classify(new PaymentDeclined({ reason: "funds" }))).code).toBe("order.declined")
    })
  )
})

describe("swapping the Classifier Layer", () => {
  /** A small consumer: decides whether to retry from whatever Classifier is in context. */
  const decide = (failure: unknown) =>
    Effect.map(Classifier.Classifier, (c) => {
      const verdict = c.classify(failure)
      return verdict.retryable ? `retry:${verdict.code}` : `give-up:${verdict.code}`
    })

  it.effect("changes the behaviour of what reads it", () =>
    Effect.gen(function* () {
      const failure = new Failures.HttpError({ status: 503 })
      expect(yield* decide(failure).pipe(Effect.provide(Classifier.layer))).toBe("retry:http.503")
      const nothingRetryable = Classifier.layerFrom(() => ({ ...Classification.unknown, code: "test.never" }))
      expect(yield* decide(failure).pipe(Effect.provide(nothingRetryable))).toBe("give-up:test.never")
      const withRule = Classifier.layerWith({ rules: [[Rule.status(503), business("test.rule")]] })
      expect(yield* decide(failure).pipe(Effect.provide(withRule))).toBe("give-up:test.rule")
    })
  )
})

/**
 * Failures of the real libraries, in the shapes those libraries build them (class names, `code`,
 * fixed messages, wrappers), copied from their sources; the live corpus (test/corpus) provokes the
 * same failures for real. Each is classified raw and after `Failures.fromUnknown`, with the same
 * answer.
 */
describe("real libraries' failures, raw and tagged", () => {
  /** better-sqlite3's SqliteError: `code` is the extended result code's name. */
  class SqliteError extends Error {
    override name = "SqliteError"
    constructor(
      message: string,
      readonly code: string
    ) {
      super(message)
    }
  }
  /** redis-errors: the class name is the error's name. */
  class RedisErrorsBase extends Error {
    override get name() {
      return this.constructor.name
    }
  }
  class RedisError extends RedisErrorsBase {}
  class AbortError extends RedisError {}
  class MaxRetriesPerRequestError extends AbortError {}
  /** undici 7's ResponseError / RequestRetryError. */
  class UndiciStatusError extends Error {
    constructor(
      override readonly name: string,
      readonly code: string,
      readonly statusCode: number,
      readonly headers: Record<string, string>
    ) {
      super("Request failed")
    }
  }
  const sys = (code: string, syscall: string, extra: object = {}) =>
    Object.assign(new Error(`${syscall} ${code}`), { code, syscall, errno: -1, ...extra })
  const grpcError = (code: number, details: string) =>
    Object.assign(new Error(`${code} X: ${details}`), { code, details, metadata: { get: () => [] } })
  const nodeAbort = (cause: unknown) =>
    Object.assign(new Error("The operation was aborted", { cause }), { name: "AbortError", code: "ABORT_ERR" })
  const defect = (code: string) => ({ category: "unknown" as const, retryable: false, countsForBreaker: false, code })
  const counted = (category: Classification.Category, code: string) => ({
    category,
    retryable: false,
    countsForBreaker: true,
    code
  })
  const notCounted = (category: Classification.Category, code: string) => ({
    category,
    retryable: true,
    countsForBreaker: false,
    code
  })

  const rows: ReadonlyArray<Row> = [
    // better-sqlite3
    [
      "SQLITE_BUSY",
      new SqliteError("database is locked", "SQLITE_BUSY"),
      notCounted("concurrency", "sqlite.SQLITE_BUSY")
    ],
    [
      "SQLITE_LOCKED",
      new SqliteError("database table is locked", "SQLITE_LOCKED"),
      notCounted("concurrency", "sqlite.SQLITE_LOCKED")
    ],
    [
      "SQLITE_CONSTRAINT_UNIQUE",
      new SqliteError("UNIQUE constraint failed: users.email", "SQLITE_CONSTRAINT_UNIQUE"),
      final("data-integrity", "sqlite.SQLITE_CONSTRAINT_UNIQUE")
    ],
    [
      "SQLITE_CONSTRAINT_TRIGGER",
      new SqliteError("no", "SQLITE_CONSTRAINT_TRIGGER"),
      final("data-integrity", "sqlite.SQLITE_CONSTRAINT_TRIGGER")
    ],
    [
      "SQLITE_ERROR syntax",
      new SqliteError('near "SELEC": syntax error', "SQLITE_ERROR"),
      final("client", "sqlite.SQLITE_ERROR.syntax")
    ],
    [
      "SQLITE_ERROR no such table",
      new SqliteError("no such table: missing", "SQLITE_ERROR"),
      final("configuration", "sqlite.SQLITE_ERROR.schema")
    ],
    [
      "SQLITE_CANTOPEN",
      new SqliteError("unable to open database file", "SQLITE_CANTOPEN"),
      final("configuration", "sqlite.SQLITE_CANTOPEN")
    ],
    [
      "SQLITE_READONLY",
      new SqliteError("attempt to write a readonly database", "SQLITE_READONLY"),
      final("configuration", "sqlite.SQLITE_READONLY")
    ],
    [
      "SQLITE_FULL",
      new SqliteError("database or disk is full", "SQLITE_FULL"),
      final("resource", "sqlite.SQLITE_FULL")
    ],
    [
      "SQLITE_CORRUPT (the dependency's fault: counted)",
      new SqliteError("database disk image is malformed", "SQLITE_CORRUPT"),
      counted("data-integrity", "sqlite.SQLITE_CORRUPT")
    ],
    [
      "SQLITE_NOTADB",
      new SqliteError("file is not a database", "SQLITE_NOTADB"),
      final("data-integrity", "sqlite.SQLITE_NOTADB")
    ],
    [
      "better-sqlite3's missing directory (a TypeError by its exact message)",
      new TypeError("Cannot open database because the directory does not exist"),
      final("configuration", "sqlite.SQLITE_CANTOPEN")
    ],
    // pg and pg-pool: code-less, by their fixed messages
    [
      "pg: Connection terminated unexpectedly",
      new Error("Connection terminated unexpectedly"),
      transient("network", "pg.CONNECTION_TERMINATED")
    ],
    ["pg: timeout expired", new Error("timeout expired"), transient("timeout", "pg.CONNECT_TIMEOUT")],
    ["pg: Query read timeout", new Error("Query read timeout"), transient("timeout", "pg.QUERY_READ_TIMEOUT")],
    [
      "pg-pool: timeout exceeded when trying to connect",
      new Error("timeout exceeded when trying to connect"),
      transient("timeout", "pg.POOL_TIMEOUT")
    ],
    [
      "pg-pool: connection timeout, with pg's error as cause",
      new Error("Connection terminated due to connection timeout", {
        cause: new Error("Connection terminated unexpectedly")
      }),
      transient("timeout", "pg.CONNECT_TIMEOUT")
    ],
    [
      "pg: a query on a client the caller ended (a defect)",
      new Error("Client was closed and is not queryable"),
      defect("pg.CLIENT_CLOSED")
    ],
    ["a message pattern is anchored", new Error("Connection terminated unexpectedly!"), counted("unknown", "unknown")],
    // ioredis
    [
      "ioredis: Connection is closed.",
      new Error("Connection is closed."),
      transient("network", "redis.CONNECTION_CLOSED")
    ],
    ["ioredis: Command timed out", new Error("Command timed out"), transient("timeout", "redis.COMMAND_TIMEOUT")],
    [
      "ioredis: offline queue disabled",
      new Error("Stream isn't writeable and enableOfflineQueue options is false"),
      transient("unavailable", "redis.OFFLINE")
    ],
    [
      "ioredis: MaxRetriesPerRequestError",
      new MaxRetriesPerRequestError("Reached the max retries per request limit (which is 0)."),
      transient("unavailable", "redis.MAXRETRIES")
    ],
    [
      "redis-errors' AbortError is a lost connection, not a caller's abort",
      new AbortError("Command aborted due to connection close"),
      transient("network", "redis.CONNECTION_CLOSED")
    ],
    [
      "ReplyError WRONGTYPE",
      new ReplyError("WRONGTYPE Operation against a key holding the wrong kind of value"),
      final("client", "redis.WRONGTYPE")
    ],
    ["ReplyError NOSCRIPT", new ReplyError("NOSCRIPT No matching script."), final("client", "redis.NOSCRIPT")],
    [
      "ReplyError OOM",
      new ReplyError("OOM command not allowed when used memory > 'maxmemory'."),
      transient("resource", "redis.OOM")
    ],
    ["ReplyError LOADING", new ReplyError("LOADING Redis is loading"), transient("unavailable", "redis.LOADING")],
    ["ReplyError BUSY", new ReplyError("BUSY Redis is busy running a script."), transient("unavailable", "redis.BUSY")],
    ["ReplyError MOVED", new ReplyError("MOVED 3999 127.0.0.1:6381"), notCounted("unavailable", "redis.MOVED")],
    ["ReplyError ASK", new ReplyError("ASK 3999 127.0.0.1:6381"), notCounted("unavailable", "redis.ASK")],
    [
      "ReplyError TRYAGAIN",
      new ReplyError("TRYAGAIN Multiple keys request"),
      notCounted("concurrency", "redis.TRYAGAIN")
    ],
    [
      "ReplyError CLUSTERDOWN",
      new ReplyError("CLUSTERDOWN The cluster is down"),
      transient("unavailable", "redis.CLUSTERDOWN")
    ],
    // undici 7: the status before the code
    [
      "undici ResponseError 503",
      new UndiciStatusError("ResponseError", "UND_ERR_RESPONSE", 503, { "retry-after": "4" }),
      transient("unavailable", "http.503")
    ],
    [
      "undici RequestRetryError 429",
      new UndiciStatusError("RequestRetryError", "UND_ERR_REQ_RETRY", 429, { "retry-after-ms": "250" }),
      notCounted("throttled", "http.429")
    ],
    [
      "undici: a request on a closed client (a defect)",
      Object.assign(new Error("The client is closed"), { name: "ClientClosedError", code: "UND_ERR_CLOSED" }),
      defect("undici.UND_ERR_CLOSED")
    ],
    // aborts
    [
      "AbortError caused by AbortSignal.timeout is a timeout",
      nodeAbort(new DOMException("The operation was aborted due to timeout", "TimeoutError")),
      transient("timeout", "timeout")
    ],
    [
      "AbortError caused by the caller's abort",
      nodeAbort(new DOMException("This operation was aborted", "AbortError")),
      { category: "client", retryable: false, countsForBreaker: false, code: "abort" }
    ],
    [
      "execFile killed by its timeout",
      Object.assign(new Error("Command failed: sleep 5"), {
        killed: true,
        code: null,
        signal: "SIGTERM",
        cmd: "sleep 5"
      }),
      transient("timeout", "timeout")
    ],
    // programming defects: not retried, not counted
    ["TypeError", new TypeError("client.query is not a function"), defect("defect.TypeError")],
    ["ReferenceError", new ReferenceError("x is not defined"), defect("defect.ReferenceError")],
    ["RangeError", new RangeError("Invalid array length"), defect("defect.RangeError")],
    ["SyntaxError in code", new SyntaxError("Unexpected token ')'"), defect("defect.SyntaxError")],
    [
      "ERR_INVALID_ARG_TYPE",
      Object.assign(new TypeError('The "path" argument must be of type string'), { code: "ERR_INVALID_ARG_TYPE" }),
      defect("defect.ERR_INVALID_ARG_TYPE")
    ],
    [
      "ERR_ASSERTION",
      Object.assign(new Error("false == true"), { name: "AssertionError", code: "ERR_ASSERTION" }),
      defect("defect.ERR_ASSERTION")
    ],
    [
      "JSON.parse's SyntaxError is bad data, not a defect",
      new SyntaxError("Unexpected end of JSON input"),
      final("validation", "decode.json")
    ],
    // gRPC: the worker seed's retryable set
    ["gRPC INTERNAL", grpcError(13, "boom"), transient("server", "grpc.INTERNAL")],
    ["gRPC UNKNOWN", grpcError(2, "handler threw"), transient("server", "grpc.UNKNOWN")],
    ["gRPC ABORTED", grpcError(10, "aborted"), notCounted("concurrency", "grpc.ABORTED")],
    [
      "gRPC RESOURCE_EXHAUSTED raised locally for a message over the limit",
      grpcError(8, "Received message larger than max (2048 vs 1024)"),
      final("client", "grpc.RESOURCE_EXHAUSTED.message-too-large")
    ],
    // Node: meaning by syscall; paths never kept
    [
      "EADDRNOTAVAIL on listen: a wrong address",
      sys("EADDRNOTAVAIL", "listen"),
      final("configuration", "node.EADDRNOTAVAIL")
    ],
    [
      "EADDRNOTAVAIL on connect: local ports",
      sys("EADDRNOTAVAIL", "connect"),
      notCounted("resource", "node.EADDRNOTAVAIL")
    ],
    ["EAI_AGAIN", sys("EAI_AGAIN", "getaddrinfo"), transient("network", "node.EAI_AGAIN")],
    [
      "spawn ENOENT (the syscall holds the path)",
      sys("ENOENT", "spawn /tmp/secret-dir/script.sh", { path: "/tmp/secret-dir/script.sh" }),
      final("configuration", "node.ENOENT")
    ],
    [
      "brotli's decoder error",
      sys("ERR__ERROR_FORMAT_PADDING_1", "zlib"),
      final("validation", "node.ERR__ERROR_FORMAT_PADDING_1")
    ],
    // wrappers
    [
      "AggregateError of two refused connections (Happy Eyeballs), without a code of its own",
      new AggregateError([sys("ECONNREFUSED", "connect"), sys("ECONNREFUSED", "connect")]),
      transient("network", "node.ECONNREFUSED")
    ],
    [
      "Effect's UnknownException",
      new Cause.UnknownException(sys("ECONNRESET", "read")),
      transient("network", "node.ECONNRESET")
    ],
    [
      "@effect/platform RequestError (Transport) around fetch's TypeError",
      {
        _tag: "RequestError",
        reason: "Transport",
        cause: new TypeError("fetch failed", { cause: sys("ECONNREFUSED", "connect") })
      },
      transient("network", "node.ECONNREFUSED")
    ],
    [
      "@effect/platform ResponseError (Decode) of a 200: the body, not the status",
      {
        _tag: "ResponseError",
        reason: "Decode",
        response: { status: 200 },
        cause: new SyntaxError("Unexpected token '<', \"<html>\" is not valid JSON")
      },
      final("validation", "decode.json")
    ],
    [
      "@effect/platform ResponseError (StatusCode)",
      { _tag: "ResponseError", reason: "StatusCode", response: { status: 502, headers: {} } },
      transient("unavailable", "http.502")
    ],
    [
      "@effect/sql SqlError around SQLITE_BUSY",
      {
        _tag: "SqlError",
        message: "Failed to execute statement",
        cause: new SqliteError("database is locked", "SQLITE_BUSY")
      },
      notCounted("concurrency", "sqlite.SQLITE_BUSY")
    ]
  ]

  const view = (c: Classification.Classification) => ({
    category: c.category,
    retryable: c.retryable,
    countsForBreaker: c.countsForBreaker,
    code: c.code
  })

  it.each(rows)("%s", (_, failure, expected) => {
    const raw = service.classify(failure)
    expect(view(raw)).toEqual(expected)
    const tagged = service.classify(Failures.fromUnknown(failure))
    expect(view(tagged)).toEqual(expected)
    expect(tagged.retryAfter).toEqual(raw.retryAfter)
  })

  it("keeps Retry-After from undici's headers, in seconds or milliseconds", () => {
    const after = (u: unknown) => service.classify(u).retryAfter
    expect(after(new UndiciStatusError("ResponseError", "UND_ERR_RESPONSE", 503, { "retry-after": "4" }))).toEqual(
      Duration.seconds(4)
    )
    expect(
      after(new UndiciStatusError("RequestRetryError", "UND_ERR_REQ_RETRY", 429, { "retry-after-ms": "250" }))
    ).toEqual(Duration.millis(250))
    expect(after(new Failures.HttpError({ status: 429, headers: { "x-ms-retry-after-ms": "750" } }))).toEqual(
      Duration.millis(750)
    )
    expect(
      after(
        Failures.fromHttpResponse({
          status: 429,
          headers: new Headers({ "Retry-After-Ms": "1500", "Retry-After": "9" })
        })
      )
    ).toEqual(Duration.millis(1500))
  })

  it("a tagged failure keeps no path, host or query text", () => {
    const spawn = Failures.fromUnknown(sys("ENOENT", "spawn /tmp/secret-dir/script.sh", { path: "/tmp/secret-dir/x" }))
    expect(spawn).toMatchObject({ _tag: "NetworkError", code: "ENOENT", syscall: "spawn" })
    const json = JSON.stringify(Schema.encodeSync(Failures.Failure)(spawn))
    expect(json).not.toContain("secret-dir")
    const sqlite = Failures.fromUnknown(
      new SqliteError("UNIQUE constraint failed: users.email", "SQLITE_CONSTRAINT_UNIQUE")
    )
    expect(JSON.stringify(Schema.encodeSync(Failures.Failure)(sqlite))).toBe(
      '{"code":"SQLITE_CONSTRAINT_UNIQUE","_tag":"SqliteError"}'
    )
    const pg = Failures.fromUnknown(
      Object.assign(new Error("duplicate"), { code: "23505", constraint: "users_email_key", table: "users; DROP" })
    )
    expect(pg).toMatchObject({ _tag: "PgError", code: "23505", constraint: "users_email_key" })
    expect(pg).not.toHaveProperty("table")
  })
})
