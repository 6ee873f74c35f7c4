/**
 * The classification core on its own: categories and defaults, the tables, the structural
 * recogniser and the Retry-After parser. No Effect runtime is involved.
 */
import { describe, expect, it } from "vitest"
import * as categories from "../../src/internal/classifier/categories.js"
import {
  headerValue,
  recognise,
  retryAfterMillis,
  retryAfterOf,
  safeSyscall,
  statusOf,
  type Visitor
} from "../../src/internal/classifier/recognise.js"
import * as T from "../../src/internal/classifier/tables.js"

/** A visitor that answers what it was called with, as a string. */
const describeVisitor: Visitor<string> = {
  http: (status) => `http ${status}`,
  node: (code, syscall) => `node ${code}${syscall === undefined ? "" : ` ${syscall}`}`,
  undici: (code) => `undici ${code}`,
  grpc: (code, pushback, reason) =>
    `grpc ${code}${pushback === undefined ? "" : ` ${pushback}`}${reason === undefined ? "" : ` ${reason}`}`,
  pg: (code) => `pg ${code}`,
  redis: (code) => `redis ${code}`,
  sqlite: (code, reason) => `sqlite ${code}${reason === undefined ? "" : ` ${reason}`}`,
  abort: () => "abort",
  timeout: () => "timeout",
  decode: (format) => `decode ${format}`,
  defect: (name, code) => `defect ${name}${code === undefined ? "" : ` ${code}`}`
}

describe("categories", () => {
  it("every category has defaults, and a verdict fills them in unless overridden", () => {
    for (const category of categories.categories) {
      const v = categories.verdict(category, "c", "m")
      expect(v).toEqual({ category, ...categories.defaults[category], code: "c", message: "m" })
    }
    expect(categories.verdict("server", "c", "m", { retryable: false }).retryable).toBe(false)
    expect(categories.verdict("server", "c", "m", { severity: "info" }).severity).toBe("info")
    expect(categories.isCategory("throttled")).toBe(true)
    expect(categories.isCategory("toString")).toBe(false)
  })

  it("every verdict has the same keys in the same order (one hidden class)", () => {
    const keys = Object.keys(categories.unknown)
    expect(Object.keys(T.http(503))).toEqual(keys)
    expect(Object.keys(T.pg("40001"))).toEqual(keys)
    expect(Object.keys(categories.verdict("client", "c", "m", { countsForBreaker: true }))).toEqual(keys)
  })
})

describe("tables", () => {
  it("HTTP statuses: known, fallbacks by class, constant objects", () => {
    expect(T.http(503)).toMatchObject({
      category: "unavailable",
      retryable: true,
      countsForBreaker: true,
      code: "http.503"
    })
    expect(T.http(429)).toMatchObject({ category: "throttled", retryable: true, countsForBreaker: false })
    expect(T.http(409)).toMatchObject({ category: "concurrency", retryable: false })
    expect(T.http(599)).toMatchObject({ category: "server", message: "Server error (HTTP 599)" })
    expect(T.http(460)).toMatchObject({ category: "client", retryable: false })
    expect(T.http(302)).toMatchObject({ category: "unknown", retryable: false })
    expect(T.http(503)).toBe(T.http(503))
    expect(T.http(1000).code).toBe("http.1000")
    expect(T.httpText(504)).toBe("Gateway timeout")
  })

  it("Node codes: known, and unknown ones as system errors", () => {
    expect(T.node("ECONNRESET")).toMatchObject({ category: "network", retryable: true, code: "node.ECONNRESET" })
    expect(T.node("EMFILE")).toMatchObject({ category: "resource", countsForBreaker: false })
    expect(T.node("ENOSPC")).toMatchObject({ retryable: false })
    expect(T.node("EWHATEVER")).toMatchObject({ category: "system", code: "node.EWHATEVER" })
    expect(T.isKnownNodeCode("ETIMEDOUT")).toBe(true)
    expect(T.isKnownNodeCode("hasOwnProperty")).toBe(false)
  })

  it("gRPC, undici, Redis", () => {
    expect(T.grpc(14)).toMatchObject({ category: "unavailable", code: "grpc.UNAVAILABLE" })
    expect(T.grpc(1)).toMatchObject({ retryable: false, countsForBreaker: false })
    expect(T.grpc(15)).toMatchObject({ severity: "critical", countsForBreaker: true })
    expect(T.grpc(42)).toMatchObject({ category: "unknown", code: "grpc.42" })
    expect(T.undici("UND_ERR_CONNECT_TIMEOUT")).toMatchObject({ category: "timeout" })
    expect(T.undici("UND_ERR_NEW")).toMatchObject({ category: "unknown", retryable: false })
    expect(T.redis("LOADING")).toMatchObject({ category: "unavailable", retryable: true })
    expect(T.redis("MOVED")).toMatchObject({ countsForBreaker: false })
    expect(T.redis("NOPE")).toMatchObject({ category: "unknown", code: "redis.NOPE" })
  })

  it("PostgreSQL: exact SQLSTATEs, then their class", () => {
    expect(T.pg("40001")).toMatchObject({ category: "concurrency", retryable: true })
    expect(T.pg("40000")).toMatchObject({ category: "concurrency", retryable: false })
    expect(T.pg("23505")).toMatchObject({ category: "data-integrity", message: "Unique violation (SQLSTATE 23505)" })
    expect(T.pg("08006")).toMatchObject({ category: "network" })
    expect(T.pg("ZZ999")).toMatchObject({ category: "unknown" })
    expect(T.isPgSqlState("57P01")).toBe(true)
    expect(T.isPgSqlState("ZZ999")).toBe(false)
    expect(T.isPgSqlState("5701")).toBe(false)
  })

  it("the runtime's own failures", () => {
    expect(T.deadlineExceeded).toMatchObject({ retryable: false, countsForBreaker: false })
    expect(T.circuitOpen).toMatchObject({ category: "unavailable", retryable: true, countsForBreaker: false })
    expect(T.attemptTimeout).toMatchObject({ category: "timeout", retryable: true, countsForBreaker: true })
    expect(T.retryBudgetExhausted.retryable).toBe(false)
    expect(T.unknown).toBe(categories.unknown)
  })
})

describe("recognise", () => {
  const r = (u: unknown) => recognise(u, describeVisitor)

  it("aborts and timeouts by name", () => {
    expect(r({ name: "AbortError" })).toBe("abort")
    expect(r({ name: "TimeoutError" })).toBe("timeout")
    expect(r({ code: "ABORT_ERR" })).toBe("abort")
  })

  it("codes: Node (known or with a syscall), undici, pg, gRPC with details or metadata", () => {
    expect(r({ code: "ECONNREFUSED", syscall: "connect" })).toBe("node ECONNREFUSED connect")
    expect(r({ code: "EFOO", errno: -1 })).toBe("node EFOO")
    expect(r({ code: "EFOO" })).toBeUndefined()
    expect(r({ code: "UND_ERR_SOCKET" })).toBe("undici UND_ERR_SOCKET")
    expect(r({ code: "40P01", severity: "ERROR" })).toBe("pg 40P01")
    expect(r({ code: 14, details: "down" })).toBe("grpc 14")
    expect(r({ code: 8, metadata: { "grpc-retry-pushback-ms": "250" } })).toBe("grpc 8 250")
    expect(r({ code: 8, metadata: { get: () => ["100"] } })).toBe("grpc 8 100")
    expect(r({ code: 14 })).toBeUndefined()
  })

  it("HTTP statuses on the value or its response; undici's status-code error falls through to it", () => {
    expect(r({ status: 503 })).toBe("http 503")
    expect(r({ statusCode: 429 })).toBe("http 429")
    expect(r({ response: { status: 502 } })).toBe("http 502")
    expect(r({ code: "UND_ERR_RESPONSE_STATUS_CODE", statusCode: 500 })).toBe("http 500")
    expect(r({ code: "UND_ERR_RESPONSE_STATUS_CODE" })).toBe("undici UND_ERR_RESPONSE_STATUS_CODE")
    expect(statusOf({ status: 99 })).toBeUndefined()
  })

  it("Redis replies by name and prefix, ioredis' own errors", () => {
    expect(r({ name: "ReplyError", message: "READONLY You can't write" })).toBe("redis READONLY")
    expect(r({ name: "ReplyError", message: "ERR max number of clients reached" })).toBe("redis MAXCLIENTS")
    expect(r({ name: "MaxRetriesPerRequestError" })).toBe("redis MAXRETRIES")
    class ErrorReply extends Error {}
    expect(r(new ErrorReply("LOADING dataset"))).toBe("redis LOADING")
  })

  it("follows causes (bounded), and fetch's TypeError", () => {
    expect(r({ message: "x", cause: { cause: { code: "ECONNRESET" } } })).toBe("node ECONNRESET")
    const deep = { cause: { cause: { cause: { cause: { cause: { status: 503 } } } } } }
    expect(r(deep)).toBeUndefined()
    const self: { cause?: unknown } = {}
    self.cause = self
    expect(r(self)).toBeUndefined()
    expect(r(new TypeError("fetch failed"))).toBe("undici FETCH_FAILED")
    expect(r("ECONNRESET")).toBeUndefined()
    expect(r(null)).toBeUndefined()
  })
})

describe("headers and Retry-After", () => {
  it("reads a header from a record in any case, an array, or a Headers-like object", () => {
    expect(headerValue({ "Retry-After": "3" }, "retry-after")).toBe("3")
    expect(headerValue({ "retry-after": ["4", "5"] }, "retry-after")).toBe("4")
    expect(headerValue(new Headers({ "Retry-After": "6" }), "retry-after")).toBe("6")
    expect(headerValue(undefined, "retry-after")).toBeUndefined()
  })

  it("parses delay-seconds and HTTP dates against the given clock", () => {
    const now = () => Date.parse("Wed, 21 Oct 2015 07:28:00 GMT")
    expect(retryAfterMillis("2", now)).toBe(2000)
    expect(retryAfterMillis(" 2 ", now)).toBe(2000)
    expect(retryAfterMillis("0", now)).toBeUndefined()
    expect(retryAfterMillis("-1", now)).toBeUndefined()
    expect(retryAfterMillis("Wed, 21 Oct 2015 07:28:30 GMT", now)).toBe(30_000)
    expect(retryAfterMillis("Wed, 21 Oct 2015 07:27:00 GMT", now)).toBeUndefined()
    expect(retryAfterMillis("soon", now)).toBeUndefined()
    let calls = 0
    retryAfterMillis("5", () => ++calls)
    expect(calls).toBe(0)
  })
})

describe("recognise: families named by structure, class name or fixed message", () => {
  const r = (u: unknown) => recognise(u, describeVisitor)

  it("SQLite codes, and SQLITE_ERROR's reason from its message", () => {
    expect(r({ name: "SqliteError", code: "SQLITE_BUSY" })).toBe("sqlite SQLITE_BUSY")
    expect(r({ code: "SQLITE_CONSTRAINT_UNIQUE" })).toBe("sqlite SQLITE_CONSTRAINT_UNIQUE")
    expect(r({ code: "SQLITE_ERROR", message: 'near "SELEC": syntax error' })).toBe("sqlite SQLITE_ERROR syntax")
    expect(r({ code: "SQLITE_ERROR", message: "incomplete input" })).toBe("sqlite SQLITE_ERROR syntax")
    expect(r({ code: "SQLITE_ERROR", message: "no such table: t" })).toBe("sqlite SQLITE_ERROR schema")
    expect(r({ code: "SQLITE_ERROR", message: "table t has no column named c" })).toBe("sqlite SQLITE_ERROR schema")
    expect(r({ code: "SQLITE_ERROR", message: "table t already exists" })).toBe("sqlite SQLITE_ERROR schema")
    expect(r({ code: "SQLITE_ERROR", message: "something else" })).toBe("sqlite SQLITE_ERROR")
  })

  it("pg's and ioredis' code-less errors by their exact message, only on a plain Error", () => {
    const error = (message: string) => ({ name: "Error", message })
    expect(r(error("Connection terminated unexpectedly"))).toBe("pg CONNECTION_TERMINATED")
    expect(r(error("timeout expired"))).toBe("pg CONNECT_TIMEOUT")
    expect(r(error("timeout exceeded when trying to connect"))).toBe("pg POOL_TIMEOUT")
    expect(r(error("Connection is closed."))).toBe("redis CONNECTION_CLOSED")
    expect(r(error("Socket timeout. Expecting data, but didn't receive any in 50ms."))).toBe("redis SOCKET_TIMEOUT")
    expect(r(error("a timeout expired"))).toBeUndefined()
    expect(r({ name: "GatewayError", message: "timeout expired" })).toBeUndefined()
  })

  it("undici errors with a status are classified by it", () => {
    expect(r({ code: "UND_ERR_RESPONSE", statusCode: 503 })).toBe("http 503")
    expect(r({ code: "UND_ERR_REQ_RETRY", statusCode: 429 })).toBe("http 429")
    expect(r({ code: "UND_ERR_REQ_RETRY" })).toBe("undici UND_ERR_REQ_RETRY")
  })

  it("an abort caused by a TimeoutError is a timeout; a redis-errors AbortError is not a caller's abort", () => {
    const timeout = { name: "TimeoutError" }
    expect(r({ name: "AbortError", cause: timeout })).toBe("timeout")
    expect(r({ code: "ABORT_ERR", cause: { cause: timeout } })).toBe("timeout")
    expect(r({ name: "AbortError", cause: { name: "AbortError" } })).toBe("abort")
    class RedisError extends Error {}
    class AbortError extends RedisError {
      override name = "AbortError"
    }
    expect(r(new AbortError("Command aborted due to connection close"))).toBe("redis CONNECTION_CLOSED")
    expect(r(new AbortError("anything else"))).toBe("abort")
  })

  it("defects: by class name last (a wrapper's cause wins), by Node code; JSON's SyntaxError is data", () => {
    expect(r(new TypeError("x is not a function"))).toBe("defect TypeError")
    expect(r({ name: "TypeError", code: "ERR_INVALID_ARG_TYPE" })).toBe("defect TypeError ERR_INVALID_ARG_TYPE")
    expect(r({ name: "Error", code: "ERR_INVALID_STATE" })).toBe("defect Error ERR_INVALID_STATE")
    expect(r(new TypeError("wrapped", { cause: { code: "ECONNRESET" } }))).toBe("node ECONNRESET")
    expect(r(new SyntaxError("Unexpected end of JSON input"))).toBe("decode json")
    expect(r(new SyntaxError("Unexpected identifier"))).toBe("defect SyntaxError")
    expect(r({ name: "Error", code: "ERR_SOMETHING_NEW" })).toBeUndefined()
  })

  it("gRPC: pushback, and grpc-js' local message-size limit", () => {
    expect(r({ code: 8, details: "Received message larger than max (10 vs 5)" })).toBe("grpc 8 message-too-large")
    expect(r({ code: 8, details: "Sent message larger than max (10 vs. 5)" })).toBe("grpc 8 message-too-large")
    expect(r({ code: 8, details: "quota exceeded" })).toBe("grpc 8")
  })

  it("AggregateError members, and a child process killed by its timeout", () => {
    expect(r(new AggregateError([{ message: "x" }, { code: "ECONNREFUSED", syscall: "connect" }]))).toBe(
      "node ECONNREFUSED connect"
    )
    expect(r({ killed: true, code: null, signal: "SIGTERM", cmd: "x" })).toBe("timeout")
    expect(r({ killed: false, code: 3, signal: null })).toBeUndefined()
  })

  it("the syscall is passed as the error has it; safeSyscall keeps its name only", () => {
    expect(r({ code: "ENOENT", syscall: "spawn /tmp/x.sh" })).toBe("node ENOENT spawn /tmp/x.sh")
    expect(safeSyscall("spawn /tmp/x.sh")).toBe("spawn")
    expect(safeSyscall("connect")).toBe("connect")
    expect(safeSyscall("/etc/passwd")).toBeUndefined()
    expect(safeSyscall(undefined)).toBeUndefined()
  })
})

describe("tables: the new families", () => {
  it("SQLite by primary code, extended codes included", () => {
    expect(T.sqlite("SQLITE_BUSY_SNAPSHOT", undefined)).toMatchObject({ category: "concurrency", retryable: true })
    expect(T.sqlite("SQLITE_IOERR_WRITE", undefined)).toMatchObject({
      category: "system",
      code: "sqlite.SQLITE_IOERR_WRITE"
    })
    expect(T.sqlite("SQLITE_ERROR", "schema")).toBe(T.sqlite("SQLITE_ERROR", "schema"))
    expect(T.sqlite("SQLITE_WHATEVER", undefined)).toMatchObject({ category: "unknown" })
  })

  it("codes from the wild never hit Object.prototype", () => {
    for (const key of ["constructor", "toString", "hasOwnProperty", "__proto__"]) {
      expect(T.redis(key).category).toBe("unknown")
      expect(T.undici(key).category).toBe("unknown")
      expect(T.node(key).category).toBe("system")
      expect(T.pg(key).category).toBe("unknown")
      expect(T.sqlite(`SQLITE_${key}`, undefined).category).toBe("unknown")
      expect(T.isKnownNodeCode(key)).toBe(false)
    }
  })

  it("defects are unknown, not retried, not counted", () => {
    expect(T.defect("TypeError", undefined)).toMatchObject({
      category: "unknown",
      retryable: false,
      countsForBreaker: false
    })
    expect(T.defect("TypeError", "ERR_INVALID_ARG_TYPE").code).toBe("defect.ERR_INVALID_ARG_TYPE")
    expect(T.isDefectCode("ERR_INVALID_URL")).toBe(true)
    expect(T.isDefectCode("ERR_STREAM_PREMATURE_CLOSE")).toBe(false)
  })

  it("pg's own codes say so in their message", () => {
    expect(T.pg("CONNECTION_TERMINATED").message).toBe("Connection terminated unexpectedly (pg CONNECTION_TERMINATED)")
    expect(T.pg("40001").message).toBe("Serialization failure (SQLSTATE 40001)")
    expect(T.pgMessageCode("Query read timeout")).toBe("QUERY_READ_TIMEOUT")
    expect(T.pgMessageCode("toString")).toBeUndefined()
  })
})

describe("retryAfterOf", () => {
  const now = () => 0
  it("milliseconds headers first, then Retry-After, in one pass whatever the case", () => {
    expect(retryAfterOf({ "Retry-After": "2" }, now)).toBe(2000)
    expect(retryAfterOf({ "retry-after": "2", "Retry-After-Ms": "1500" }, now)).toBe(1500)
    expect(retryAfterOf({ "x-ms-retry-after-ms": "750" }, now)).toBe(750)
    expect(retryAfterOf(new Headers({ "x-ms-retry-after-ms": "5", "retry-after": "1" }), now)).toBe(5)
    expect(retryAfterOf({ "retry-after-ms": "soon", "retry-after": "1" }, now)).toBe(1000)
    expect(retryAfterOf({ "retry-after-ms": "0" }, now)).toBeUndefined()
    expect(retryAfterOf({ "content-type": "x" }, now)).toBeUndefined()
    expect(retryAfterOf(undefined, now)).toBeUndefined()
  })
})
