import * as Classifier from "@effect-resilience/core/Classifier"
import * as Deadline from "@effect-resilience/core/Deadline"
import * as Events from "@effect-resilience/core/Events"
import { describe, expect, it } from "@effect/vitest"
import * as grpc from "@grpc/grpc-js"
import * as fc from "fast-check"
import * as Cause from "effect/Cause"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as FiberRef from "effect/FiberRef"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Schedule from "effect/Schedule"
import * as Stream from "effect/Stream"
import { GrpcClient, GrpcError, GrpcPipeline } from "../src/index.js"
import { type Answer, type Ask, connect, deadlineLeft, items, ok, serve, slow, status } from "./server.js"

const TestLayer = Layer.mergeAll(Classifier.layer, Events.layer())

/**
 * The delays of the retries scheduled from now on: `retryDelays(n)` waits (at most 10 s, returning
 * as soon as they are there) for `n` of them to reach the subscriber.
 */
const recordRetries = Effect.gen(function* () {
  const hub = yield* Events.ResilienceEvents
  const events = yield* hub.subscribe
  const delays: Array<number> = []
  yield* Effect.forkScoped(
    Stream.runForEach(events, (event) =>
      Effect.sync(() => {
        if (event._tag === "RetryScheduled") delays.push(event.delayMillis)
      })
    )
  )
  return (n: number) =>
    Effect.suspend(() => (delays.length >= n ? Effect.succeed([...delays]) : Effect.fail("not yet"))).pipe(
      Effect.retry({ schedule: Schedule.spaced("10 millis") }),
      Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => `fewer than ${n} retries: ${delays.join(", ")}` }),
      Effect.orDie
    )
})

const pipeline = (overrides: Partial<GrpcPipeline.PolicyInput> = {}) =>
  GrpcPipeline.make({
    operation: "test.Say",
    attemptTimeout: "2 seconds",
    breaker: false,
    retry: { maxAttempts: 4, initialDelay: 5, throttledInitialDelay: 5, jitter: "none" },
    ...overrides
  })

describe("GrpcClient.unary", () => {
  it.live("retries UNAVAILABLE, a new call each time, and returns the answer that follows", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.UNAVAILABLE), status(grpc.status.UNAVAILABLE), ok] })
      const { say } = yield* connect(server)
      const retryDelays = yield* recordRetries
      const answer = yield* GrpcClient.unary(say)({ name: "ada" }, { pipeline: yield* pipeline() })
      expect(answer.text).toBe("hello ada")
      expect(server.sayCalls()).toHaveLength(3)
      expect(yield* retryDelays(2)).toEqual([5, 10])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("waits the server's grpc-retry-pushback-ms before retrying RESOURCE_EXHAUSTED", () =>
    Effect.gen(function* () {
      const server = yield* serve({
        say: [status(grpc.status.RESOURCE_EXHAUSTED, { "grpc-retry-pushback-ms": "120" }), ok]
      })
      const { say } = yield* connect(server)
      const retryDelays = yield* recordRetries
      const answer = yield* GrpcClient.unary(say)({ name: "bo" }, { pipeline: yield* pipeline() })
      expect(answer.text).toBe("hello bo")
      // the backoff alone would have waited 5 ms
      expect(yield* retryDelays(1)).toEqual([120])
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("does not retry when the pushback is negative (gRFC A6: the server asks not to be retried)", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.UNAVAILABLE, { "grpc-retry-pushback-ms": "-1" }), ok] })
      const { say } = yield* connect(server)
      const error = yield* Effect.flip(GrpcClient.unary(say)({ name: "cy" }, { pipeline: yield* pipeline() }))
      expect(server.sayCalls()).toHaveLength(1)
      expect(error).toBeInstanceOf(GrpcError.GrpcError)
      expect(error._tag === "GrpcError" && error.retryPushbackRefused).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("retries a server's DEADLINE_EXCEEDED", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.DEADLINE_EXCEEDED), ok] })
      const { say } = yield* connect(server)
      const answer = yield* GrpcClient.unary(say)({ name: "di" }, { pipeline: yield* pipeline() })
      expect(answer.text).toBe("hello di")
      expect(server.sayCalls()).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("an attempt that outlives its timeout is cut by its grpc deadline and retried; every attempt timed out", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [slow(2_000)] })
      const { say } = yield* connect(server)
      const error = yield* Effect.flip(
        GrpcClient.unary(say)(
          { name: "ed" },
          { pipeline: yield* pipeline({ attemptTimeout: "150 millis", retry: { maxAttempts: 2, initialDelay: 1 } }) }
        )
      )
      expect(error._tag).toBe("RetriesExhausted")
      if (error._tag !== "RetriesExhausted") return
      expect(error.attempts.map((a) => a.classification.category)).toEqual(["timeout", "timeout"])
      expect(server.sayCalls()).toHaveLength(2)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("does not retry INVALID_ARGUMENT: the GrpcError comes back after one call", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.INVALID_ARGUMENT), ok] })
      const { say } = yield* connect(server)
      const error = yield* Effect.flip(GrpcClient.unary(say)({ name: "fa" }, { pipeline: yield* pipeline() }))
      expect(server.sayCalls()).toHaveLength(1)
      expect(error._tag).toBe("GrpcError")
      if (error._tag !== "GrpcError") return
      expect(error.code).toBe(grpc.status.INVALID_ARGUMENT)
      expect(error.details).toBe("scripted INVALID_ARGUMENT")
      expect(error.message).toBe("gRPC INVALID_ARGUMENT (3)")
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("retries only the codes the policy lists", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.INTERNAL), status(grpc.status.NOT_FOUND), ok] })
      const { say } = yield* connect(server)
      const call = GrpcClient.unary(say)
      // INTERNAL is retried by default; not with a list without it
      const narrow = yield* pipeline({ retryableCodes: ["UNAVAILABLE"] })
      const internal = yield* Effect.flip(call({ name: "gi" }, { pipeline: narrow }))
      expect(internal._tag === "GrpcError" && internal.code).toBe(grpc.status.INTERNAL)
      expect(server.sayCalls()).toHaveLength(1)
      // NOT_FOUND is not retried by default; it is with a list that has it
      const wide = yield* pipeline({ retryableCodes: ["NOT_FOUND"] })
      const answer = yield* call({ name: "gi" }, { pipeline: wide })
      expect(answer.text).toBe("hello gi")
      expect(server.sayCalls()).toHaveLength(3)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("sends the remaining deadline: the server sees no more time than the caller had left", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.UNAVAILABLE), ok] })
      const { say } = yield* connect(server)
      // what each attempt asked grpc-js for, and when
      const sent: Array<{ readonly at: number; readonly deadline: number }> = []
      const recorded: GrpcClient.UnaryMethod<Ask, Answer> = (request, metadata, options, callback) => {
        const deadline = options.deadline
        sent.push({ at: Date.now(), deadline: deadline instanceof Date ? deadline.getTime() : (deadline ?? Infinity) })
        return say(request, metadata, options, callback)
      }
      const p = yield* pipeline({ attemptTimeout: "5 seconds", retry: { maxAttempts: 2, initialDelay: 200 } })
      const [callerDeadline] = yield* Effect.zip(
        FiberRef.get(Deadline.currentDeadline),
        GrpcClient.unary(recorded)({ name: "hu" }, { pipeline: p })
      ).pipe(Deadline.within("1 second"))
      const observed = server.sayCalls().map((c) => c.deadlineLeftMillis)
      expect(sent).toHaveLength(2)
      expect(observed).toHaveLength(2)
      sent.forEach(({ at, deadline }, i) => {
        // no attempt asks for more than the caller's deadline ...
        expect(deadline).toBeLessThanOrEqual(Option.getOrThrow(callerDeadline))
        // ... and the server sees no more than what was left when the attempt was sent
        expect(observed[i]).not.toBeNull()
        expect(observed[i]).toBeLessThanOrEqual(deadline - at)
      })
      // the retry was sent later with the same deadline: less left
      const [first, second] = sent
      expect(
        second !== undefined && first !== undefined && second.deadline - second.at < first.deadline - first.at
      ).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("sends the attempt timeout when it is shorter than the deadline; nothing without either", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [ok] })
      const { say } = yield* connect(server)
      const call = GrpcClient.unary(say)
      const bounded = yield* pipeline({ attemptTimeout: "2 seconds", deadline: "10 seconds", retry: false })
      yield* call({ name: "bounded" }, { pipeline: bounded })
      yield* call({ name: "unbounded" })
      const left = (name: string) => server.sayCalls().find((c) => c.name === name)?.deadlineLeftMillis
      expect(left("bounded")).toBeLessThanOrEqual(2_000)
      expect(left("unbounded")).toBeNull()
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("the call's own grpc deadline bounds the call as a whole, retries included", () =>
    Effect.gen(function* () {
      const server = yield* serve({ say: [status(grpc.status.UNAVAILABLE)] })
      const { say } = yield* connect(server)
      const p = yield* pipeline({ retry: { maxAttempts: 50, initialDelay: 100, jitter: "none", factor: 1 } })
      const deadline = new Date(Date.now() + 300)
      const error = yield* Effect.flip(
        GrpcClient.unary(say)({ name: "ki" }, { pipeline: p, callOptions: { deadline } })
      )
      // stopped by the deadline, not after the 50 attempts the policy allows
      const stoppedBy = error._tag === "RetriesExhausted" ? error.reason : error._tag
      expect(["deadline", "DeadlineExceeded"]).toContain(stoppedBy)
      expect(server.sayCalls().length).toBeLessThan(50)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("interrupting the Effect cancels the call", () =>
    Effect.gen(function* () {
      let cancelled = false
      const server = yield* serve({
        say: [
          (call) => {
            call.on("cancelled", () => {
              cancelled = true
            })
          }
        ]
      })
      const { say } = yield* connect(server)
      const exit = yield* GrpcClient.unary(say)({ name: "ju" }).pipe(Effect.timeout("200 millis"), Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      yield* Effect.sleep("100 millis")
      expect(cancelled).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )
})

describe("GrpcClient.serverStream", () => {
  it.live("a consumer that stops early cancels the call", () =>
    Effect.gen(function* () {
      let cancelled = false
      const server = yield* serve({
        count: [
          (call) => {
            let n = call.request.from
            const timer = setInterval(() => call.write({ n: n++ }), 5)
            call.on("cancelled", () => {
              cancelled = true
              clearInterval(timer)
            })
          }
        ]
      })
      const { count } = yield* connect(server)
      const got = yield* GrpcClient.serverStream(count)({ from: 0, to: 0 }).pipe(Stream.take(3), Stream.runCollect)
      expect(Chunk.toReadonlyArray(got).map((i) => i.n)).toEqual([0, 1, 2])
      yield* Effect.suspend(() => (cancelled ? Effect.void : Effect.fail("not yet"))).pipe(
        Effect.retry({ schedule: Schedule.spaced("10 millis") }),
        Effect.timeout("10 seconds")
      )
      expect(cancelled).toBe(true)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  const resume = (last: Option.Option<{ readonly n: number }>) => ({
    from: Option.match(last, { onNone: () => 0, onSome: (item) => item.n + 1 }),
    to: 29
  })

  it.live(
    "a stream that breaks midway (UNAVAILABLE, then INTERNAL) resumes from the last pulled item: no gaps, no duplicates",
    () =>
      Effect.gen(function* () {
        const server = yield* serve({
          count: [
            items({ breakAfter: 7, code: grpc.status.UNAVAILABLE }),
            items({ breakAfter: 11, code: grpc.status.INTERNAL }),
            items()
          ]
        })
        const { count } = yield* connect(server)
        const retryDelays = yield* recordRetries
        const p = yield* pipeline({ operation: "test.Count" })
        const got = yield* GrpcClient.serverStream(count)({ from: 0, to: 29 }, { pipeline: p, resume }).pipe(
          Stream.runCollect
        )
        expect(Chunk.toReadonlyArray(got).map((i) => i.n)).toEqual(Array.from({ length: 30 }, (_, i) => i))
        expect(server.countRequests()).toEqual([
          { from: 0, to: 29 },
          { from: 7, to: 29 },
          { from: 18, to: 29 }
        ])
        expect(yield* retryDelays(2)).toEqual([5, 5])
      }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a slow consumer: what it has not pulled is asked for again, never skipped", () =>
    Effect.gen(function* () {
      const server = yield* serve({ count: [items({ breakAfter: 25, code: grpc.status.UNAVAILABLE }), items()] })
      const { count } = yield* connect(server)
      const p = yield* pipeline({ operation: "test.Count" })
      const got = yield* GrpcClient.serverStream(count)({ from: 0, to: 29 }, { pipeline: p, resume }).pipe(
        Stream.tap(() => Effect.sleep("2 millis")),
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(got).map((i) => i.n)).toEqual(Array.from({ length: 30 }, (_, i) => i))
      const [, second] = server.countRequests()
      // the consumer had pulled at most the 25 items sent before the break
      expect(second?.from).toBeLessThanOrEqual(25)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("the server drops the connection midway: the stream reconnects and resumes", () =>
    Effect.gen(function* () {
      const server = yield* serve({ count: [items({ breakAfter: 10, drop: true }), items()] })
      const { count } = yield* connect(server)
      const p = yield* pipeline({
        operation: "test.Count",
        retry: { maxAttempts: 10, initialDelay: 20, jitter: "none" }
      })
      const got = yield* GrpcClient.serverStream(count)({ from: 0, to: 29 }, { pipeline: p, resume }).pipe(
        Stream.runCollect
      )
      expect(Chunk.toReadonlyArray(got).map((i) => i.n)).toEqual(Array.from({ length: 30 }, (_, i) => i))
      // the reset may lose items in flight: the reconnection asks for what follows the last one pulled
      const froms = server.countRequests().map((r) => r.from)
      expect(froms).toHaveLength(2)
      expect(froms[1]).toBeLessThanOrEqual(10)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("without resume, a stream that broke after its first item fails rather than start over", () =>
    Effect.gen(function* () {
      const server = yield* serve({ count: [items({ breakAfter: 3 }), items()] })
      const { count } = yield* connect(server)
      const p = yield* pipeline({ operation: "test.Count" })
      const seen: Array<number> = []
      const error = yield* GrpcClient.serverStream(count)({ from: 0, to: 9 }, { pipeline: p }).pipe(
        Stream.runForEach((i) => Effect.sync(() => seen.push(i.n))),
        Effect.flip
      )
      expect(seen).toEqual([0, 1, 2])
      expect(error._tag === "GrpcError" && error.code).toBe(grpc.status.UNAVAILABLE)
      expect(server.countRequests()).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a code the policy does not retry ends the stream with its GrpcError", () =>
    Effect.gen(function* () {
      const server = yield* serve({ count: [items({ breakAfter: 2, code: grpc.status.PERMISSION_DENIED }), items()] })
      const { count } = yield* connect(server)
      const p = yield* pipeline({ operation: "test.Count" })
      const error = yield* GrpcClient.serverStream(count)({ from: 0, to: 9 }, { pipeline: p, resume }).pipe(
        Stream.runDrain,
        Effect.flip
      )
      expect(error._tag === "GrpcError" && error.code).toBe(grpc.status.PERMISSION_DENIED)
      expect(server.countRequests()).toHaveLength(1)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("a hedging pipeline is refused at once, before any call", () =>
    Effect.gen(function* () {
      const server = yield* serve({ count: [items()] })
      const { count } = yield* connect(server)
      const p = yield* pipeline({ operation: "test.Count", hedging: { delay: 10, maxHedges: 1 } })
      const exit = yield* GrpcClient.serverStream(count)({ from: 0, to: 3 }, { pipeline: p }).pipe(
        Stream.runDrain,
        Effect.exit
      )
      expect(Exit.isFailure(exit) && Cause.isDie(exit.cause)).toBe(true)
      expect(server.countRequests()).toHaveLength(0)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )

  it.live("each (re)connection carries the caller's remaining deadline", () =>
    Effect.gen(function* () {
      let seen: Array<number | null> = []
      const server = yield* serve({
        count: [
          (call, hit, s) => {
            seen = [...seen, deadlineLeft(call)]
            items(hit === 1 ? { breakAfter: 2 } : {})(call, hit, s)
          }
        ]
      })
      const { count } = yield* connect(server)
      const p = yield* pipeline({
        operation: "test.Count",
        retry: { maxAttempts: 3, initialDelay: 100, jitter: "none" }
      })
      const resumeTo4 = (last: Option.Option<{ readonly n: number }>) => ({ ...resume(last), to: 4 })
      const got = yield* GrpcClient.serverStream(count)({ from: 0, to: 4 }, { pipeline: p, resume: resumeTo4 }).pipe(
        Stream.runCollect,
        Deadline.within("2 seconds")
      )
      expect(Chunk.size(got)).toBe(5)
      expect(seen).toHaveLength(2)
      expect(seen[0]).toBeLessThanOrEqual(2_000)
      // reconnected after a 100 ms backoff, with what was left then
      expect(seen[1]).toBeLessThan(seen[0] ?? 0)
    }).pipe(Effect.scoped, Effect.provide(TestLayer))
  )
})

describe("GrpcClient.serverStream, property", () => {
  const Break = fc.record({
    after: fc.integer({ min: 0, max: 8 }),
    kind: fc.constantFrom("UNAVAILABLE", "INTERNAL", "drop")
  })

  it.live("whatever the breaks and however slowly it is consumed, every item arrives once, in order", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(Break, { minLength: 1, maxLength: 3 }),
          fc.integer({ min: 1, max: 30 }),
          fc.integer({ min: 0, max: 4 }),
          async (breaks, size, slowEvery) => {
            const program = Effect.gen(function* () {
              const server = yield* serve({
                count: [
                  ...breaks.map((b) =>
                    b.kind === "drop"
                      ? items({ breakAfter: b.after, drop: true })
                      : items({ breakAfter: b.after, code: grpc.status[b.kind] })
                  ),
                  items()
                ]
              })
              const { count } = yield* connect(server)
              const p = yield* pipeline({
                operation: "test.Count",
                retry: { maxAttempts: 10, initialDelay: 5, jitter: "none" }
              })
              const to = size - 1
              let pulled = 0
              const got = yield* GrpcClient.serverStream(count)(
                { from: 0, to },
                {
                  pipeline: p,
                  resume: (last) => ({ from: Option.match(last, { onNone: () => 0, onSome: (i) => i.n + 1 }), to })
                }
              ).pipe(
                // a consumer that is sometimes slower than the server
                Stream.tap(() =>
                  slowEvery > 0 && ++pulled % slowEvery === 0 ? Effect.sleep("1 millis") : Effect.void
                ),
                Stream.runCollect
              )
              expect(Chunk.toReadonlyArray(got).map((i) => i.n)).toEqual(Array.from({ length: size }, (_, i) => i))
              // every reconnection asked for what followed the last item pulled before it
              const froms = server.countRequests().map((r) => r.from)
              expect(froms).toEqual([...froms].sort((a, b) => a - b))
            })
            await Effect.runPromise(program.pipe(Effect.scoped, Effect.provide(TestLayer)))
          }
        ),
        { numRuns: 12 }
      )
    )
  )
})
