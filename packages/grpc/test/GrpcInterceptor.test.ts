import * as Classifier from "@effect-resilience/core/Classifier"
import * as Events from "@effect-resilience/core/Events"
import { describe, expect, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import * as Stream from "effect/Stream"
import { GrpcClient, GrpcInterceptor, type GrpcPipeline } from "../src/index.js"
import { connect, Item, items, ok, serve, slow, status, Tail, type TestServer } from "./server.js"

const TestLayer = Layer.mergeAll(Classifier.layer, Events.layer())

const policy = (overrides: Partial<GrpcPipeline.PolicyInput> = {}): GrpcPipeline.PolicyInput => ({
  operation: "test.Echo",
  attemptTimeout: "2 seconds",
  breaker: false,
  retry: { maxAttempts: 4, initialDelay: 5, throttledInitialDelay: 5, jitter: "none" },
  ...overrides
})

const isItem = Schema.is(Item)
const isTail = Schema.is(Tail)

/** The request for what follows the last item delivered. */
const resumeCount: GrpcInterceptor.Resume = (last, request) => {
  const first = isTail(request) ? request : { from: 0, to: 0 }
  return Option.match(Option.filter(last, isItem), {
    onNone: () => first,
    onSome: (item) => ({ from: item.n + 1, to: first.to })
  })
}

/** A plain grpc-js client with the interceptor: no pipeline on the caller's side. */
const intercepted = (
  server: TestServer,
  overrides?: Partial<GrpcPipeline.PolicyInput>,
  options?: GrpcInterceptor.Options
) =>
  Effect.gen(function* () {
    const interceptor = yield* GrpcInterceptor.fromPolicy(policy(overrides), options)
    return yield* connect(server, { interceptors: [interceptor] })
  })

/** Waits until `condition` holds, checking every 10 ms, for at most 10 s (then fails the test). */
const until = (condition: () => boolean) =>
  Effect.suspend(() => (condition() ? Effect.void : Effect.fail("not yet"))).pipe(
    Effect.retry({ schedule: Schedule.spaced("10 millis") }),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "condition never held" }),
    Effect.orDie
  )

/** The status a plain callback sees. */
const statusOf = (error: unknown) =>
  error instanceof Error && "code" in error && "details" in error ? { code: error.code, details: error.details } : error

describe("GrpcInterceptor, unary", () => {
  it.live("retries inside the interceptor: the caller's callback sees one answer", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.UNAVAILABLE), status(grpc.status.UNAVAILABLE), ok] })
      const { say } = yield* intercepted(server)
      const answer = yield* GrpcClient.unary(say)({ name: "ka" })
      expect(answer.text).toBe("hello ka")
      expect(server.sayCalls()).toHaveLength(3)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("honours the pushback: the retry is scheduled after it", () =>
    Effect.gen(function* () {
      const server = yield* serve({
        say: [status(grpc.status.RESOURCE_EXHAUSTED, { "grpc-retry-pushback-ms": "90" }), ok]
      })
      const hub = yield* Events.ResilienceEvents
      const events = yield* hub.subscribe
      const seen: Array<number> = []
      yield* Effect.forkScoped(
        Stream.runForEach(events, (e) => Effect.sync(() => e._tag === "RetryScheduled" && seen.push(e.delayMillis)))
      )
      const { say } = yield* intercepted(server)
      yield* GrpcClient.unary(say)({ name: "lu" })
      yield* until(() => seen.length > 0)
      expect(seen).toEqual([90])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a code that is not retried reaches the caller at once, with the server's status", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.INVALID_ARGUMENT), ok] })
      const { say } = yield* intercepted(server)
      const error = yield* Effect.flip(
        Effect.async<unknown, unknown>((resume) => {
          say({ name: "mo" }, new grpc.Metadata(), {}, (e, v) =>
            resume(e === null ? Effect.succeed(v) : Effect.fail(e))
          )
        })
      )
      expect(statusOf(error)).toEqual({ code: grpc.status.INVALID_ARGUMENT, details: "scripted INVALID_ARGUMENT" })
      expect(server.sayCalls()).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("when retries run out the caller sees the last status the server sent", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.UNAVAILABLE)] })
      const { say } = yield* intercepted(server, { retry: { maxAttempts: 3, initialDelay: 1, jitter: "none" } })
      const error = yield* Effect.flip(GrpcClient.unary(say)({ name: "ni" }))
      expect(error._tag === "GrpcError" && [error.code, error.details]).toEqual([
        grpc.status.UNAVAILABLE,
        "scripted UNAVAILABLE"
      ])
      expect(server.sayCalls()).toHaveLength(3)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("each attempt carries what is left of the call's deadline", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.UNAVAILABLE), ok] })
      const { say } = yield* intercepted(server, { retry: { maxAttempts: 2, initialDelay: 150, jitter: "none" } })
      const deadline = new Date(Date.now() + 1_000)
      const answer = yield* GrpcClient.unary(say)({ name: "op" }, { callOptions: { deadline } })
      const [first, second] = server.sayCalls().map((c) => c.deadlineLeftMillis ?? Infinity)
      expect(first).toBeLessThanOrEqual(1_000)
      // 150 ms later, with the same deadline
      expect(second).toBeLessThan(first ?? 0)
      expect(answer.deadlineLeftMillis).toBeLessThanOrEqual(second ?? Infinity)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("the attempt timeout cuts a slow attempt; the caller sees DEADLINE_EXCEEDED", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [slow(2_000)] })
      const { say } = yield* intercepted(server, {
        attemptTimeout: "100 millis",
        retry: { maxAttempts: 2, initialDelay: 1, jitter: "none" }
      })
      const error = yield* Effect.flip(GrpcClient.unary(say)({ name: "pa" }))
      expect(error._tag === "GrpcError" && error.code).toBe(grpc.status.DEADLINE_EXCEEDED)
      expect(server.sayCalls()).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("the caller's cancel cancels the attempt in flight", () =>
    Effect.gen(function* () {
      let cancelled = 0
      const server = yield* serve({
        say: [
          (call) => {
            call.on("cancelled", () => {
              cancelled++
            })
          }
        ]
      })
      const { say } = yield* intercepted(server)
      let cancel = () => {}
      const answer = yield* Effect.fork(
        Effect.async<unknown>((resume) => {
          const call = say({ name: "qu" }, new grpc.Metadata(), {}, (e) => resume(Effect.succeed(e)))
          cancel = () => call.cancel()
        })
      )
      // once the server has the call (a liveness bound: it returns as soon as it holds)
      yield* until(() => server.sayCalls().length === 1)
      cancel()
      const error = yield* Fiber.join(answer)
      expect(statusOf(error)).toEqual({ code: grpc.status.CANCELLED, details: "Cancelled on client" })
      yield* until(() => cancelled === 1)
      expect(server.sayCalls()).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )
})

describe("GrpcInterceptor, server streams", () => {
  it.live("a listed method resumes after the last item delivered: no gaps, no duplicates", () =>
    Effect.gen(function* () {
      const server = yield* serve({
        count: [items({ breakAfter: 4, code: grpc.status.UNAVAILABLE }), items({ breakAfter: 9, drop: true }), items()]
      })
      const { count } = yield* intercepted(
        server,
        { retry: { maxAttempts: 10, initialDelay: 20, jitter: "none" } },
        { resume: { "/test.Echo/Count": resumeCount } }
      )
      const got = yield* GrpcClient.serverStream(count)({ from: 0, to: 24 }).pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(got).map((i) => i.n)).toEqual(Array.from({ length: 25 }, (_, i) => i))
      // a status follows the items before it; a reset may lose items in flight, never skip them
      const [first, second, third] = server.countRequests().map((r) => r.from)
      expect([first, second]).toEqual([0, 4])
      expect(third).toBeGreaterThanOrEqual(4)
      expect(third).toBeLessThanOrEqual(13)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a method not listed is not opened again once an item was delivered", () =>
    Effect.gen(function* () {
      const server = yield* serve({ count: [items({ breakAfter: 3 }), items()] })
      const { count } = yield* intercepted(server)
      const seen: Array<number> = []
      const error = yield* GrpcClient.serverStream(count)({ from: 0, to: 9 }).pipe(
        Stream.runForEach((i) => Effect.sync(() => seen.push(i.n))),
        Effect.flip
      )
      expect(seen).toEqual([0, 1, 2])
      expect(error._tag === "GrpcError" && error.code).toBe(grpc.status.UNAVAILABLE)
      expect(server.countRequests()).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a stream that ends OK ends OK for the caller", () =>
    Effect.gen(function* () {
      const server = yield* serve({ count: [items()] })
      const { count } = yield* intercepted(server, {}, { resume: { "/test.Echo/Count": resumeCount } })
      const got = yield* GrpcClient.serverStream(count)({ from: 3, to: 7 }).pipe(Stream.runCollect)
      expect(Chunk.toReadonlyArray(got).map((i) => i.n)).toEqual([3, 4, 5, 6, 7])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )
})
