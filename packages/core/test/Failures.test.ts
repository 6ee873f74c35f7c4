import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import * as http from "node:http"
import * as net from "node:net"
import { setTimeout as sleep } from "node:timers/promises"
import * as Classifier from "../src/Classifier.js"
import * as Failures from "../src/Failures.js"

const classifier = Effect.runSync(Classifier.make())

/** A port on 127.0.0.1 that nothing listens on: bind one, then close it. */
const closedPort = async (): Promise<number> => {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  if (address === null || typeof address === "string") throw new Error("no port")
  return address.port
}

/** Runs a TCP server for the duration of `f`. */
const withServer = async <A>(
  onConnection: (socket: net.Socket) => void,
  f: (port: number) => Promise<A>
): Promise<A> => {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    onConnection(socket)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const address = server.address()
  if (address === null || typeof address === "string") throw new Error("no port")
  try {
    return await f(address.port)
  } finally {
    for (const socket of sockets) socket.destroy()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

const rejection = async (promise: Promise<unknown>): Promise<unknown> => {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error("expected a rejection")
}

const connect = (port: number) =>
  new Promise<void>((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1")
    socket.once("connect", () => {
      socket.destroy()
      resolve()
    })
    socket.once("error", reject)
  })

describe("Failures.fromUnknown on real Node errors", () => {
  it("ECONNREFUSED from connecting to a closed port", async () => {
    const port = await closedPort()
    const error = await rejection(connect(port))
    expect(error).toBeInstanceOf(Error)
    const failure = Failures.fromUnknown(error)
    expect(failure).toBeInstanceOf(Failures.NetworkError)
    expect(failure).toMatchObject({ _tag: "NetworkError", code: "ECONNREFUSED", syscall: "connect" })
    // Node's message names the host and port; ours does not.
    expect(String(Reflect.get(Object(error), "message"))).toContain("127.0.0.1")
    expect(failure.message).toBe("Connection refused (ECONNREFUSED)")
    expect(classifier.classify(error).code).toBe("node.ECONNREFUSED")
    expect(classifier.classify(failure).code).toBe("node.ECONNREFUSED")
  })

  it("ECONNRESET from a server that resets the connection", async () => {
    const error = await withServer(
      (socket) => socket.resetAndDestroy(),
      (port) =>
        rejection(
          new Promise<void>((_, reject) => {
            const socket = net.connect(port, "127.0.0.1")
            socket.on("error", reject)
            socket.on("close", () => reject(new Error("closed without error")))
          })
        )
    )
    expect(Failures.fromUnknown(error)).toMatchObject({ _tag: "NetworkError", code: "ECONNRESET" })
    expect(classifier.classify(error)).toMatchObject({ category: "network", retryable: true, countsForBreaker: true })
  })

  it("fetch to a closed port: TypeError fetch failed, classified by its cause", async () => {
    const port = await closedPort()
    const error = await rejection(fetch(`http://127.0.0.1:${port}/secret-path?token=abc`))
    expect(error).toBeInstanceOf(TypeError)
    const failure = Failures.fromUnknown(error)
    expect(failure).toMatchObject({ _tag: "NetworkError", code: "ECONNREFUSED" })
    expect(Failures.fromFetchError(error).pipe(Option.map((f) => f._tag))).toEqual(Option.some("NetworkError"))
    expect(failure.message).not.toMatch(/127\.0\.0\.1|secret|token/)
    expect(classifier.classify(error).code).toBe("node.ECONNREFUSED")
  })

  it("AbortError from an AbortController (DOMException from fetch, Node's from timers)", async () => {
    const controller = new AbortController()
    controller.abort()
    const port = await closedPort()
    const fromFetch = await rejection(fetch(`http://127.0.0.1:${port}/`, { signal: controller.signal }))
    expect(fromFetch).toBeInstanceOf(DOMException)
    expect(Failures.fromUnknown(fromFetch)).toBeInstanceOf(Failures.AbortError)

    const fromTimers = await rejection(sleep(10_000, undefined, { signal: controller.signal }))
    expect(Reflect.get(Object(fromTimers), "code")).toBe("ABORT_ERR")
    expect(Failures.fromUnknown(fromTimers)).toBeInstanceOf(Failures.AbortError)
    expect(classifier.classify(fromTimers)).toMatchObject({ code: "abort", retryable: false, countsForBreaker: false })
  })

  it("TimeoutError from AbortSignal.timeout on a server that never answers", async () => {
    const error = await withServer(
      () => undefined,
      (port) => rejection(fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(50) }))
    )
    expect(Reflect.get(Object(error), "name")).toBe("TimeoutError")
    expect(Failures.fromUnknown(error)).toBeInstanceOf(Failures.TimeoutError)
    expect(classifier.classify(error)).toMatchObject({ category: "timeout", retryable: true })
  })

  it("an HTTP response: status and only the safe headers", async () => {
    const server = http.createServer((_, res) => {
      res.writeHead(503, { "Retry-After": "5", "Set-Cookie": "session=s3cr3t", "X-Request-Id": "r-1" })
      res.end("payload that must not leak")
    })
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
    try {
      const address = server.address()
      if (address === null || typeof address === "string") throw new Error("no port")
      const response = await fetch(`http://127.0.0.1:${address.port}/`)
      const failure = Failures.fromHttpResponse(response)
      await response.body?.cancel()
      expect(failure.status).toBe(503)
      expect(failure.headers).toMatchObject({ "retry-after": "5", "x-request-id": "r-1" })
      // Node adds a Date header (kept); the cookie and the other transport headers are dropped.
      expect(Object.keys(failure.headers ?? {}).sort()).toEqual(["date", "retry-after", "x-request-id"])
      expect(JSON.stringify(Schema.encodeSync(Failures.Failure)(failure))).not.toMatch(/s3cr3t|payload/)
      expect(classifier.classify(failure).retryAfter).toBeDefined()
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()))
    }
  })
})

class ReplyError extends Error {
  override name = "ReplyError"
}

describe("Failures adapters on library-shaped errors", () => {
  it("pg error with a SQLSTATE code keeps code, constraint and table, not the detail", () => {
    const pg = {
      name: "error",
      severity: "ERROR",
      code: "23505",
      detail: "Key (email)=(alice@example.com) already exists.",
      constraint: "users_email_key",
      table: "users"
    }
    const failure = Failures.fromPgError(pg)
    expect(Option.getOrThrow(failure)).toMatchObject({ code: "23505", constraint: "users_email_key", table: "users" })
    expect(JSON.stringify(Schema.encodeSync(Failures.Failure)(Option.getOrThrow(failure)))).not.toContain("alice")
    // EPIPE is five characters too, but a Node code, not a SQLSTATE.
    expect(Failures.fromPgError({ code: "EPIPE", syscall: "write" })).toEqual(Option.none())
    expect(Failures.fromUnknown({ code: "EPIPE", syscall: "write" })).toMatchObject({ _tag: "NetworkError" })
  })

  it("ioredis ReplyError messages become RedisError codes", () => {
    const cases: ReadonlyArray<readonly [string, string]> = [
      ["READONLY You can't write against a read only replica.", "READONLY"],
      ["LOADING Redis is loading the dataset in memory", "LOADING"],
      ["BUSY Redis is busy running a script.", "BUSY"],
      ["OOM command not allowed when used memory > 'maxmemory'.", "OOM"],
      ["NOAUTH Authentication required.", "NOAUTH"],
      ["MOVED 3999 10.0.0.7:6381", "MOVED"],
      ["ASK 3999 10.0.0.7:6381", "ASK"],
      ["CLUSTERDOWN The cluster is down", "CLUSTERDOWN"],
      ["TRYAGAIN Multiple keys request during rehashing of slot", "TRYAGAIN"],
      ["ERR max number of clients reached", "MAXCLIENTS"],
      ["ERR unknown command 'FOO'", "ERR"]
    ]
    for (const [message, code] of cases) {
      const failure = Option.getOrThrow(Failures.fromRedisError(new ReplyError(message)))
      expect(failure.code).toBe(code)
      expect(failure.message).not.toContain("10.0.0.7")
    }
    // A plain Error with the same text is not taken for a Redis reply.
    expect(Failures.fromRedisError(new Error("READONLY x"))).toEqual(Option.none())
  })

  it("gRPC service errors, with pushback from metadata", () => {
    const failure = Option.getOrThrow(
      Failures.fromGrpcError({ code: 8, details: "quota for user 42", metadata: { "grpc-retry-pushback-ms": "250" } })
    )
    expect(failure).toMatchObject({ code: 8, retryPushbackMillis: 250, statusName: "RESOURCE_EXHAUSTED" })
    expect(failure.message).toBe("Resource exhausted (gRPC RESOURCE_EXHAUSTED)")
    expect(Failures.fromGrpcError({ code: 14, details: "x" }).pipe(Option.map((f) => f.code))).toEqual(Option.some(14))
  })

  it("undici errors", () => {
    const error = Object.assign(new Error("Headers Timeout Error"), { code: "UND_ERR_HEADERS_TIMEOUT" })
    expect(Failures.fromUnknown(error)).toMatchObject({ _tag: "FetchError", code: "UND_ERR_HEADERS_TIMEOUT" })
    expect(Failures.fromUnknown(new TypeError("fetch failed"))).toMatchObject({
      _tag: "FetchError",
      code: "FETCH_FAILED"
    })
  })

  it("anything else is an UnknownFailure with the error's name only; failures pass through", () => {
    class GatewayError extends Error {
      override name = "GatewayError"
    }
    const failure = Failures.fromUnknown(new GatewayError("card 4111-1111 rejected"))
    expect(failure).toBeInstanceOf(Failures.UnknownFailure)
    expect(failure).toMatchObject({ errorName: "GatewayError" })
    expect(failure.message).not.toContain("4111")
    expect(Failures.fromUnknown("boom")).toEqual(new Failures.UnknownFailure())
    const known = new Failures.NetworkError({ code: "EPIPE" })
    expect(Failures.fromUnknown(known)).toBe(known)
    expect(Failures.recognise(failure)).toEqual(Option.none())
  })

  it.effect("as the catch of Effect.tryPromise", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.tryPromise({
        try: () => Promise.reject(Object.assign(new Error("x"), { code: "EAI_AGAIN", syscall: "getaddrinfo" })),
        catch: Failures.fromUnknown
      }).pipe(Effect.exit)
      expect(exit).toEqual(Exit.fail(new Failures.NetworkError({ code: "EAI_AGAIN", syscall: "getaddrinfo" })))
    })
  )
})

describe("Failures built at the boundary", () => {
  it("are what the constructor builds: equal, encoded alike, real Errors with the class's prototype", () => {
    const raw = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), {
      code: "ECONNREFUSED",
      syscall: "connect"
    })
    const built = Failures.fromUnknown(raw)
    const constructed = new Failures.NetworkError({ code: "ECONNREFUSED", syscall: "connect" })
    expect(built).toBeInstanceOf(Failures.NetworkError)
    expect(built).toBeInstanceOf(Error)
    expect(Equal.equals(built, constructed)).toBe(true)
    expect(Schema.encodeSync(Failures.Failure)(built)).toEqual(Schema.encodeSync(Failures.Failure)(constructed))
    expect(JSON.parse(JSON.stringify(built))).toEqual(JSON.parse(JSON.stringify(constructed)))
    expect(built.message).toBe(constructed.message)
    expect(Failures.isFailure(built)).toBe(true)
    expect(String(built)).toBe("NetworkError: Connection refused (ECONNREFUSED)")
  })

  it("leave stack traces on for everything else", () => {
    const limit = Error.stackTraceLimit
    Failures.fromUnknown(new Error("x"))
    Failures.fromUnknown({ status: 503 })
    expect(Error.stackTraceLimit).toBe(limit)
  })

  it("an invalid status is still refused by the schema", () => {
    expect(() => Failures.fromHttpResponse({ status: Number.NaN })).toThrow()
  })
})

describe("Failures with Schema", () => {
  const samples: ReadonlyArray<Failures.Failure> = [
    new Failures.HttpError({ status: 429, headers: { "retry-after": "3" } }),
    new Failures.HttpError({ status: 500 }),
    new Failures.NetworkError({ code: "ECONNRESET", syscall: "read" }),
    new Failures.FetchError({ code: "UND_ERR_SOCKET" }),
    new Failures.GrpcError({ code: 14, retryPushbackMillis: 100 }),
    new Failures.PgError({ code: "40001", table: "orders" }),
    new Failures.RedisError({ code: "READONLY" }),
    new Failures.AbortError(),
    new Failures.TimeoutError(),
    new Failures.UnknownFailure({ errorName: "RangeError" })
  ]

  it("encodes to JSON and decodes back to an equal failure, classified the same", () => {
    for (const failure of samples) {
      const json = JSON.parse(JSON.stringify(Schema.encodeSync(Failures.Failure)(failure)))
      expect(json._tag).toBe(failure._tag)
      const back = Schema.decodeUnknownSync(Failures.Failure)(json)
      expect(back).toBeInstanceOf(failure.constructor)
      expect(back).toEqual(failure)
      expect(back.message).toBe(failure.message)
      expect(classifier.classify(back)).toEqual(classifier.classify(failure))
    }
  })

  it("rejects a malformed failure", () => {
    expect(() => Schema.decodeUnknownSync(Failures.Failure)({ _tag: "HttpError", status: "503" })).toThrow()
  })

  it("messages name the failure, never its payload", () => {
    expect(samples.map((f) => f.message)).toEqual([
      "Too many requests (HTTP 429)",
      "Internal server error (HTTP 500)",
      "Connection reset by peer (ECONNRESET)",
      "Socket error (UND_ERR_SOCKET)",
      "Unavailable (gRPC UNAVAILABLE)",
      "Serialization failure (SQLSTATE 40001)",
      "Redis replica is read-only (READONLY)",
      "The operation was aborted",
      "The operation timed out",
      "The operation failed for an unknown reason (RangeError)"
    ])
  })
})
