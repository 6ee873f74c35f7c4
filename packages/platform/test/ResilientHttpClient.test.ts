import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http"
import type { AddressInfo } from "node:net"
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Classifier from "@effect-resilience/core/Classifier"
import { ResilientHttpClient } from "@effect-resilience/platform"
import { describe, expect, it } from "@effect/vitest"
import * as FetchHttpClient from "@effect/platform/FetchHttpClient"
import * as HttpClient from "@effect/platform/HttpClient"
import * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"

type Handler = (req: IncomingMessage, res: ServerResponse, hit: number) => void

/** A real server on 127.0.0.1 that answers the n-th request with the n-th handler (the last repeats). */
const serve = (handlers: ReadonlyArray<Handler>) =>
  Effect.acquireRelease(
    Effect.async<{ readonly url: string; readonly hits: () => number; readonly server: Server }>((resume) => {
      let hits = 0
      const server = createServer((req, res) => {
        hits++
        const handler = handlers[Math.min(hits, handlers.length) - 1]
        req.resume()
        req.on("end", () => handler?.(req, res, hits))
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, hits: () => hits, server }))
      })
    }),
    ({ server }) =>
      Effect.async<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const status =
  (code: number, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(code, { "content-type": "text/plain", ...headers })
    res.end(String(code))
  }

const body =
  (text: string, afterMillis = 0): Handler =>
  (_req, res) => {
    setTimeout(() => {
      if (res.destroyed) return
      res.writeHead(200, { "content-type": "text/plain" })
      res.end(text)
    }, afterMillis)
  }

const reset: Handler = (req) => {
  req.socket.destroy()
}

const client = (options?: ResilientHttpClient.Options) =>
  Effect.flatMap(HttpClient.HttpClient, (raw) =>
    ResilientHttpClient.make(raw, {
      policy: { attemptTimeout: "2 seconds", retry: { maxAttempts: 4, initialDelay: 10, jitter: "none" } },
      ...options
    })
  )

const TestLayer = Layer.mergeAll(FetchHttpClient.layer, Classifier.layer)

describe("ResilientHttpClient", () => {
  it.live("retries a 503 and returns the 200 that follows", () =>
    Effect.gen(function* () {
      const server = yield* serve([status(503), status(200)])
      const http = yield* client()
      const response = yield* http.get(`${server.url}/a`)
      expect(response.status).toBe(200)
      expect(server.hits()).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("waits for a 429's Retry-After (seconds) before retrying", () =>
    Effect.gen(function* () {
      const server = yield* serve([status(429, { "retry-after": "1" }), status(200)])
      const http = yield* client()
      const start = Date.now()
      const response = yield* http.get(`${server.url}/a`)
      const elapsed = Date.now() - start
      expect(response.status).toBe(200)
      expect(server.hits()).toBe(2)
      // the backoff alone would have waited 10 ms
      expect(elapsed).toBeGreaterThanOrEqual(950)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("waits for a 429's Retry-After given as an HTTP date", () =>
    Effect.gen(function* () {
      const dated: Handler = (req, res, hit) =>
        status(429, { "retry-after": new Date(Date.now() + 2000).toUTCString() })(req, res, hit)
      const server = yield* serve([dated, status(200)])
      const http = yield* client()
      const start = Date.now()
      const response = yield* http.get(`${server.url}/a`)
      expect(response.status).toBe(200)
      expect(server.hits()).toBe(2)
      // the date has a precision of one second: 2 s ahead leaves at least 1 s to wait
      expect(Date.now() - start).toBeGreaterThanOrEqual(950)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("does not retry a 400 and fails with an HttpError keeping only safe headers", () =>
    Effect.gen(function* () {
      const server = yield* serve([status(400, { "set-cookie": "s=secret", "x-request-id": "r-1" })])
      const http = yield* client()
      const exit = yield* Effect.exit(http.get(`${server.url}/a`))
      expect(server.hits()).toBe(1)
      expect(Exit.isFailure(exit)).toBe(true)
      if (Exit.isFailure(exit)) {
        const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
        expect(error?._tag).toBe("HttpError")
        if (error?._tag === "HttpError") {
          expect(error.status).toBe(400)
          expect(error.headers?.["x-request-id"]).toBe("r-1")
          expect(error.headers?.["set-cookie"]).toBeUndefined()
        }
      }
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("retries a connection reset as a classified transport failure", () =>
    Effect.gen(function* () {
      const server = yield* serve([reset, reset, status(200)])
      const http = yield* client()
      const response = yield* http.get(`${server.url}/a`)
      expect(response.status).toBe(200)
      expect(server.hits()).toBe(3)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("retries a POST only when it carries an Idempotency-Key", () =>
    Effect.gen(function* () {
      const plain = yield* serve([status(503), status(200)])
      const keyed = yield* serve([status(503), status(200)])
      const http = yield* client()
      const exit = yield* Effect.exit(http.execute(HttpClientRequest.post(`${plain.url}/r`)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(plain.hits()).toBe(1)
      const response = yield* http.execute(
        HttpClientRequest.post(`${keyed.url}/r`).pipe(HttpClientRequest.setHeader("Idempotency-Key", "k-1"))
      )
      expect(response.status).toBe(200)
      expect(keyed.hits()).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("gives an attempt that takes too long up and retries it", () =>
    Effect.gen(function* () {
      const server = yield* serve([body("slow", 1500), body("fast")])
      const http = yield* client({ policy: { attemptTimeout: "200 millis", retry: { initialDelay: 1 } } })
      const response = yield* http.get(`${server.url}/a`)
      // the first attempt was given up: the answer is the second one's
      expect(yield* response.text).toBe("fast")
      expect(server.hits()).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("keeps one breaker per host in the registry in context, shared by every method", () =>
    Effect.gen(function* () {
      const down = yield* serve([status(503)])
      const up = yield* serve([status(200)])
      const http = yield* client({
        policy: {
          retry: false,
          breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 3 }, openDuration: 60_000 }
        }
      })
      for (let i = 0; i < 3; i++) yield* Effect.exit(http.get(`${down.url}/a`))
      const exit = yield* Effect.exit(
        http.execute(HttpClientRequest.put(`${down.url}/a`).pipe(HttpClientRequest.setHeader("idempotency-key", "x")))
      )
      expect(down.hits()).toBe(3)
      expect(exit._tag === "Failure" && exit.cause._tag === "Fail" ? exit.cause.error._tag : undefined).toBe(
        "CircuitOpen"
      )
      expect((yield* http.get(`${up.url}/a`)).status).toBe(200)
      const registry = yield* CircuitBreaker.Registry
      const snapshots = yield* registry.snapshots
      const states = Object.fromEntries(snapshots.map((s) => [s.name, s.state]))
      expect(states).toEqual({
        [ResilientHttpClient.breakerName(down.url)]: "open",
        [ResilientHttpClient.breakerName(up.url)]: "closed"
      })
    }).pipe(Effect.scoped, Effect.provide(Layer.mergeAll(TestLayer, CircuitBreaker.layerRegistry())))
  )

  it.live("hedges a slow GET when hedging is on, never a POST", () =>
    Effect.gen(function* () {
      const server = yield* serve([body("slow", 1000), body("fast")])
      const http = yield* client({ hedging: { delay: "50 millis", maxHedges: 1 } })
      // the hedge, sent 50 ms after the first attempt, answered first
      expect(yield* (yield* http.get(`${server.url}/a`)).text).toBe("fast")
      expect(server.hits()).toBe(2)

      const posts = yield* serve([body("slow", 1000), body("fast")])
      const response = yield* http.execute(
        HttpClientRequest.post(`${posts.url}/r`).pipe(HttpClientRequest.setHeader("idempotency-key", "k"))
      )
      expect(yield* response.text).toBe("slow")
      expect(posts.hits()).toBe(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.effect("fails with a ParseError naming the path when a policy field is invalid", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(client({ policy: { attemptTimeout: -1 } }))
      expect(ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.path)).toContainEqual([
        "policy",
        "attemptTimeout"
      ])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.effect("fails with a ParseError naming the path when the hedging delay is not a duration", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(client({ hedging: { delay: -5, maxHedges: 1 } }))
      expect(ParseResult.ArrayFormatter.formatErrorSync(error).map((issue) => issue.path)).toContainEqual([
        "hedging",
        "delay"
      ])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it("knows which requests are safe to repeat", () => {
    expect(ResilientHttpClient.isRetrySafe(HttpClientRequest.get("http://h/"))).toBe(true)
    expect(ResilientHttpClient.isRetrySafe(HttpClientRequest.del("http://h/"))).toBe(true)
    expect(ResilientHttpClient.isRetrySafe(HttpClientRequest.post("http://h/"))).toBe(false)
    expect(ResilientHttpClient.isRetrySafe(HttpClientRequest.patch("http://h/"))).toBe(false)
    expect(
      ResilientHttpClient.isRetrySafe(
        HttpClientRequest.patch("http://h/").pipe(HttpClientRequest.setHeader("Idempotency-Key", "1"))
      )
    ).toBe(true)
  })
})
