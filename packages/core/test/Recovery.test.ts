/**
 * Recovery actions through a pipeline, against real HTTP servers on 127.0.0.1: a token refresh
 * under 100 concurrent 401s, failover when the primary is closed and fail back when it returns,
 * the recovery budget stopping actions, the rule the retry follows after each outcome, events,
 * spans and audit entries.
 */
import * as http from "node:http"
import type { AddressInfo } from "node:net"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Events from "../src/Events.js"
import * as Failures from "../src/Failures.js"
import * as Recovery from "../src/Recovery.js"
import * as Resilience from "../src/Resilience.js"
import { Boom, testClassifier } from "./support/boom.js"
import { recordingTracer } from "./support/tracer.js"

interface Server {
  readonly url: string
  readonly port: number
  readonly hits: Map<string, number>
  readonly close: () => Promise<void>
  readonly listen: () => Promise<void>
}

/** An HTTP server on 127.0.0.1 (a free port, kept across close and listen) that counts hits by path. */
const serve = async (
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void | Promise<void>
): Promise<Server> => {
  const hits = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0] ?? "/"
    hits.set(path, (hits.get(path) ?? 0) + 1)
    void handler(req, res)
  })
  let port = 0
  const listen = () =>
    new Promise<void>((resolve, reject) => {
      server.once("error", reject)
      server.listen(port, "127.0.0.1", () => {
        port = (server.address() as AddressInfo).port
        resolve()
      })
    })
  await listen()
  return {
    get url() {
      return `http://127.0.0.1:${port}`
    },
    get port() {
      return port
    },
    hits,
    listen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      })
  }
}

const scopedServer = (handler: Parameters<typeof serve>[0]) =>
  Effect.acquireRelease(
    Effect.promise(() => serve(handler)),
    (s) => Effect.promise(() => s.close())
  )

/** GET `url` (with `headers`): the body on a 2xx, else the failure as `Failures` makes it. */
const get = (url: string, headers?: Record<string, string>) =>
  Effect.tryPromise({
    try: async (signal) => {
      const response = await fetch(url, { signal, ...(headers === undefined ? {} : { headers }) })
      if (!response.ok) throw Failures.fromHttpResponse(response)
      return response.text()
    },
    catch: Failures.fromUnknown
  })

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const recoveryEvents = (seen: Array<Events.ResilienceEvent>) =>
  seen.flatMap((e) => (e._tag === "RecoveryAction" ? [e] : []))

/** Subscribes and gathers events into an array for the rest of the scope. */
const gather = Effect.gen(function* () {
  const hub = yield* Events.ResilienceEvents
  const stream = yield* hub.subscribe
  const seen: Array<Events.ResilienceEvent> = []
  yield* Effect.forkScoped(Stream.runForEach(stream, (e) => Effect.sync(() => seen.push(e))))
  return seen
})

describe("Recovery: credentials", () => {
  it.live(
    "100 concurrent calls failing with 401 make one refresh, and all succeed with the new token",
    () =>
      Effect.gen(function* () {
        // the token endpoint answers once the 100 first attempts have reached the API (or after
        // 10 s), so every call fails with the old token before a new one exists
        let unauthorized = 0
        let allFailed: () => void = () => {}
        const firstAttemptsIn = new Promise<void>((resolve) => {
          allFailed = resolve
          setTimeout(resolve, 10_000)
        })
        const tokens = yield* scopedServer(async (_, res) => {
          await firstAttemptsIn
          res.end("fresh-token")
        })
        const api = yield* scopedServer((req, res) => {
          if (req.headers.authorization === "Bearer fresh-token") res.end("ok")
          else {
            if (++unauthorized === 100) allFailed()
            res.statusCode = 401
            res.end()
          }
        })
        const seen = yield* gather
        const token = yield* Ref.make("expired-token")
        const refresh = yield* Recovery.refreshCredentials({
          refresh: get(`${tokens.url}/token`),
          store: token
        })
        const pipeline = yield* Resilience.make(
          { operation: "api", retry: { maxAttempts: 3, initialDelay: "10 millis" }, breaker: false },
          { recovery: [refresh] }
        )
        // the token is read on every attempt, so the retry uses the new one
        const call = pipeline.protect(
          Effect.flatMap(Ref.get(token), (t) => get(`${api.url}/r`, { authorization: `Bearer ${t}` }))
        )
        const results = yield* Effect.all(
          Array.from({ length: 100 }, () => call),
          { concurrency: "unbounded" }
        )
        expect(results.every((body) => body === "ok")).toBe(true)
        expect(tokens.hits.get("/token")).toBe(1)
        expect(yield* refresh.refreshes).toBe(1)
        expect(api.hits.get("/r")).toBe(200)
        expect(yield* Ref.get(token)).toBe("fresh-token")
        yield* Effect.sleep("20 millis")
        const actions = recoveryEvents(seen)
        expect(actions).toHaveLength(100)
        expect(actions.every((e) => e.action === "refresh-credentials" && e.outcome === "recovered")).toBe(true)
        expect(actions.every((e) => e.category === "authentication")).toBe(true)
      }).pipe(Effect.scoped, Effect.provide(Layer.merge(Classifier.layer, Events.layer()))),
    30_000
  )

  it.scoped(
    "a refresh completed after the failed attempt started is reused; a later attempt's failure refreshes again",
    () =>
      Effect.gen(function* () {
        let refreshes = 0
        const token = yield* Ref.make("t0")
        const refresh = yield* Recovery.refreshCredentials({
          refresh: Effect.sync(() => `t${++refreshes}`).pipe(Effect.delay("10 millis")),
          store: token
        })
        const failure = (startedAt: number, failedAt: number): Recovery.ActionContext => ({
          operation: "api",
          attempt: 1,
          classification: Classification.make({ category: "authentication", code: "http.401", message: "x" }),
          error: "401",
          attemptStartedAtMillis: startedAt,
          failedAtMillis: failedAt
        })
        // refreshes from 0 to 10
        const first = yield* Effect.fork(refresh.run(failure(0, 0)))
        yield* TestClock.adjust("10 millis")
        expect(yield* Fiber.join(first)).toStrictEqual(Recovery.Outcome.Recovered())
        expect(yield* Ref.get(token)).toBe("t1")
        // an attempt that started at 5 (before the refresh completed) used the old token: reuse
        expect(yield* refresh.run(failure(5, 20))).toStrictEqual(Recovery.Outcome.Recovered())
        expect(refreshes).toBe(1)
        // one that started at 15 used the new token and still failed: refresh again
        const again = yield* Effect.fork(refresh.run(failure(15, 20)))
        yield* TestClock.adjust("10 millis")
        expect(yield* Fiber.join(again)).toStrictEqual(Recovery.Outcome.Recovered())
        expect(refreshes).toBe(2)
        expect(yield* refresh.refreshes).toBe(2)
        expect(yield* Ref.get(token)).toBe("t2")
      })
  )

  it.live("a refresh that fails is reported, and the 401 is not retried (it is not retryable)", () =>
    Effect.gen(function* () {
      const tokens = yield* scopedServer((_, res) => {
        res.statusCode = 500
        res.end()
      })
      const api = yield* scopedServer((_, res) => {
        res.statusCode = 401
        res.end()
      })
      const seen = yield* gather
      const token = yield* Ref.make("expired")
      const refresh = yield* Recovery.refreshCredentials({ refresh: get(`${tokens.url}/token`), store: token })
      const pipeline = yield* Resilience.make(
        { operation: "api", retry: { maxAttempts: 3, initialDelay: "10 millis" }, breaker: false },
        { recovery: [refresh] }
      )
      const exit = yield* Effect.exit(pipeline.protect(get(`${api.url}/r`)))
      expect(Exit.isFailure(exit)).toBe(true)
      expect(api.hits.get("/r")).toBe(1)
      expect(yield* Ref.get(token)).toBe("expired")
      yield* Effect.sleep("20 millis")
      const actions = recoveryEvents(seen)
      expect(actions.map((e) => [e.outcome, e.reason])).toEqual([["failed", "failed (HttpError)"]])
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Classifier.layer, Events.layer())))
  )
})

describe("Recovery: failover", () => {
  it.live(
    "the primary closed: calls move to the secondary once; the primary back: they fail back",
    () =>
      Effect.gen(function* () {
        const primary = yield* scopedServer((_, res) => void res.end("primary"))
        const secondary = yield* scopedServer((_, res) => void res.end("secondary"))
        const seen = yield* gather
        const endpoints = yield* Recovery.failover({
          endpoints: [primary.url, secondary.url],
          healthCheck: (url) => get(`${url}/health`),
          healthTimeout: "1 second",
          failBackEvery: "50 millis"
        })
        const pipeline = yield* Resilience.make(
          { operation: "api", retry: { maxAttempts: 3, initialDelay: "10 millis" }, breaker: false },
          { recovery: [endpoints] }
        )
        const call = pipeline.protect(Effect.flatMap(endpoints.current, (url) => get(`${url}/r`)))

        expect(yield* call).toBe("primary")
        yield* Effect.promise(() => primary.close())
        const during = yield* Effect.all(
          Array.from({ length: 20 }, () => call),
          { concurrency: "unbounded" }
        )
        expect(during.every((body) => body === "secondary")).toBe(true)
        // one move: the secondary's health was checked once, by the move (fail back checks the primary)
        expect(secondary.hits.get("/health")).toBe(1)
        expect(yield* endpoints.current).toBe(secondary.url)

        yield* Effect.promise(() => primary.listen())
        // liveness: fail back happens within a few checks (a generous cap, returns as soon as it holds)
        yield* Effect.promise(async () => {
          for (let i = 0; i < 1_000; i++) {
            if (Effect.runSync(endpoints.current) === primary.url) return
            await sleep(10)
          }
          throw new Error("no fail back within 10 s")
        })
        expect(yield* call).toBe("primary")
        yield* Effect.sleep("20 millis")
        const actions = recoveryEvents(seen)
        const moves = actions.filter((e) => e.action === "failover")
        expect(moves.length).toBeGreaterThanOrEqual(20)
        expect(moves.every((e) => e.outcome === "recovered" && e.category === "network")).toBe(true)
        expect(actions.filter((e) => e.action === "failover.fail-back")).toHaveLength(1)
      }).pipe(Effect.scoped, Effect.provide(Layer.merge(Classifier.layer, Events.layer()))),
    30_000
  )

  it.live("with no healthy endpoint to move to, the failover fails and the retry goes on as classified", () =>
    Effect.gen(function* () {
      const primary = yield* scopedServer((_, res) => {
        res.statusCode = 503
        res.end()
      })
      const secondary = yield* scopedServer((_, res) => {
        res.statusCode = 503
        res.end()
      })
      const seen = yield* gather
      const endpoints = yield* Recovery.failover({
        endpoints: [primary.url, secondary.url],
        healthCheck: (url) => get(`${url}/health`),
        failBackEvery: "1 hour"
      })
      const pipeline = yield* Resilience.make(
        { operation: "api", retry: { maxAttempts: 3, initialDelay: "1 millis" }, breaker: false },
        { recovery: [endpoints] }
      )
      const exit = yield* Effect.exit(pipeline.protect(Effect.flatMap(endpoints.current, (url) => get(`${url}/r`))))
      expect(Exit.isFailure(exit)).toBe(true)
      // 503 is retryable: three attempts, all on the primary
      expect(primary.hits.get("/r")).toBe(3)
      expect(secondary.hits.get("/r")).toBeUndefined()
      yield* Effect.sleep("20 millis")
      expect(recoveryEvents(seen).map((e) => [e.outcome, e.reason])).toEqual([
        ["failed", "no healthy endpoint"],
        ["failed", "no healthy endpoint"]
      ])
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Classifier.layer, Events.layer())))
  )
})

describe("Recovery: budget", () => {
  it.live("an exhausted budget stops the actions and says which bound refused", () =>
    Effect.gen(function* () {
      const api = yield* scopedServer((_, res) => {
        res.statusCode = 503
        res.end()
      })
      const seen = yield* gather
      let runs = 0
      const nudge: Recovery.Action = {
        name: "nudge",
        priority: 1,
        cost: 2,
        appliesTo: (c) => c.category === "unavailable",
        run: () =>
          Effect.sync(() => {
            runs++
            return Recovery.Outcome.Failed({ reason: "still down" })
          })
      }
      const recovery = yield* Recovery.make([nudge], { maxAttemptsPerCall: 2, maxCostPerWindow: 6, window: "1 hour" })
      const pipeline = yield* Resilience.make(
        { operation: "api", retry: { maxAttempts: 5, initialDelay: "1 millis" }, breaker: false },
        { recovery }
      )
      yield* Effect.exit(pipeline.protect(get(`${api.url}/r`)))
      expect(api.hits.get("/r")).toBe(5)
      expect(runs).toBe(2)
      // a second call: one action fits in the window's cost (2 + 2 + 2 = 6), then the window refuses
      yield* Effect.exit(pipeline.protect(get(`${api.url}/r`)))
      expect(runs).toBe(3)
      yield* Effect.sleep("20 millis")
      expect(recoveryEvents(seen).map((e) => [e.attempt, e.outcome, e.reason])).toEqual([
        [1, "failed", "still down"],
        [2, "failed", "still down"],
        [3, "refused", "budget-attempts"],
        [4, "refused", "budget-attempts"],
        [1, "failed", "still down"],
        [2, "refused", "budget-window"],
        [3, "refused", "budget-window"],
        [4, "refused", "budget-window"]
      ])
    }).pipe(Effect.scoped, Effect.provide(Layer.merge(Classifier.layer, Events.layer())))
  )
})

describe("Recovery: the retry's rule, under TestClock", () => {
  const recoverWith = (outcome: Recovery.Outcome) =>
    Effect.gen(function* () {
      const attempts: Array<number> = []
      let n = 0
      const op = Effect.suspend(() => {
        attempts.push(n++)
        return n === 1 ? Effect.fail(new Boom({ category: "client" })) : Effect.succeed("ok")
      }).pipe(Effect.zipLeft(Effect.void))
      const action: Recovery.Action = {
        name: "fix",
        priority: 1,
        appliesTo: () => true,
        run: () => Effect.succeed(outcome)
      }
      const pipeline = yield* Resilience.make(
        { operation: "op", retry: { maxAttempts: 3, initialDelay: "1 second", jitter: "none" }, breaker: false },
        { recovery: [action] }
      )
      const fiber = yield* Effect.fork(Effect.exit(pipeline.protect(op)))
      return { fiber, attempts }
    }).pipe(Effect.provide(testClassifier))

  it.scoped("Recovered: a failure that is not retryable is retried, at once", () =>
    Effect.gen(function* () {
      const { fiber, attempts } = yield* recoverWith(Recovery.Outcome.Recovered())
      const exit = yield* Fiber.join(fiber)
      expect(exit).toStrictEqual(Exit.succeed("ok"))
      expect(attempts).toEqual([0, 1])
    })
  )

  it.scoped("Partial: retried, after the backoff", () =>
    Effect.gen(function* () {
      const { fiber, attempts } = yield* recoverWith(Recovery.Outcome.Partial({ limitations: ["read-only"] }))
      yield* TestClock.adjust("999 millis")
      expect(attempts).toEqual([0])
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toStrictEqual(Exit.succeed("ok"))
      expect(attempts).toEqual([0, 1])
    })
  )

  it.scoped("Failed or NotApplicable: the classification decides (not retryable: one attempt)", () =>
    Effect.gen(function* () {
      for (const outcome of [Recovery.Outcome.Failed({ reason: "no" }), Recovery.Outcome.NotApplicable()]) {
        const { fiber, attempts } = yield* recoverWith(outcome)
        const exit = yield* Fiber.join(fiber)
        expect(exit).toStrictEqual(Exit.fail(new Boom({ category: "client" })))
        expect(attempts).toEqual([0])
      }
    })
  )

  it.scoped("actions run by priority; a defect or a slow action is Failed; the call's time bounds them", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const action = (name: string, priority: number, outcome: Effect.Effect<Recovery.Outcome, unknown>) => ({
        name,
        priority,
        appliesTo: () => true,
        run: () =>
          Effect.zipRight(
            Effect.sync(() => ran.push(name)),
            outcome
          )
      })
      const recovery = yield* Recovery.make(
        [
          action("low", 1, Effect.succeed(Recovery.Outcome.Recovered())),
          action("defect", 30, Effect.die("boom")),
          action("slow", 20, Effect.as(Effect.sleep("1 hour"), Recovery.Outcome.Recovered())),
          action("fixes", 10, Effect.succeed(Recovery.Outcome.Recovered()))
        ],
        { maxAttemptsPerCall: 5, maxTimePerCall: "5 seconds" }
      )
      const seen = yield* gather
      const pipeline = yield* Resilience.make(
        { operation: "op", retry: { maxAttempts: 2, initialDelay: "1 second" }, breaker: false },
        { recovery }
      )
      let n = 0
      const op = Effect.suspend(() => (n++ === 0 ? Effect.fail(new Boom({ category: "server" })) : Effect.succeed(n)))
      const fiber = yield* Effect.fork(pipeline.protect(op))
      for (let i = 0; i < 6; i++) yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(2)
      // the slow action used the call's recovery time: the next one is refused, and the retry
      // goes on as classified (server: retryable)
      expect(ran).toEqual(["defect", "slow"])
      yield* Effect.yieldNow()
      expect(recoveryEvents(seen).map((e) => [e.action, e.outcome, e.reason])).toEqual([
        ["defect", "failed", "defect"],
        ["slow", "failed", "timeout"],
        ["fixes", "refused", "budget-time"]
      ])
    }).pipe(Effect.provide(Layer.merge(testClassifier, Events.layer())))
  )

  it.scoped("for callers outside Effect too (runPromise): a recovered failure is retried", () =>
    Effect.gen(function* () {
      const action: Recovery.Action = {
        name: "fix",
        priority: 1,
        appliesTo: (c) => c.category === "client",
        run: () => Effect.succeed(Recovery.Outcome.Recovered())
      }
      const pipeline = yield* Resilience.make(
        { operation: "op", retry: { maxAttempts: 2 }, breaker: false },
        { recovery: [action] }
      )
      let n = 0
      const result = yield* Effect.promise(() =>
        pipeline.runPromise(() => (n++ === 0 ? Promise.reject(new Boom({ category: "client" })) : Promise.resolve(n)))
      )
      expect(result).toBe(2)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("the first action that recovers ends them; one that does not apply is passed over", () =>
    Effect.gen(function* () {
      const ran: Array<string> = []
      const action = (name: string, priority: number, applies: boolean, outcome: Recovery.Outcome) => ({
        name,
        priority,
        appliesTo: () => applies,
        run: () =>
          Effect.sync(() => {
            ran.push(name)
            return outcome
          })
      })
      const pipeline = yield* Resilience.make(
        { operation: "op", retry: { maxAttempts: 2, initialDelay: "1 second" }, breaker: false },
        {
          recovery: [
            action("last", 1, true, Recovery.Outcome.Recovered()),
            action("first", 9, true, Recovery.Outcome.NotApplicable()),
            action("elsewhere", 8, false, Recovery.Outcome.Recovered()),
            action("fixes", 5, true, Recovery.Outcome.Recovered())
          ]
        }
      )
      let n = 0
      const op = Effect.suspend(() => (n++ === 0 ? Effect.fail(new Boom({ category: "client" })) : Effect.succeed(n)))
      expect(yield* pipeline.protect(op)).toBe(2)
      expect(ran).toEqual(["first", "fixes"])
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("every action is a span and an audit entry when a sink is provided", () => {
    const audited: Array<Recovery.AuditEntry> = []
    const { tracer, ended } = recordingTracer()
    return Effect.gen(function* () {
      const action: Recovery.Action = {
        name: "fix",
        priority: 1,
        appliesTo: () => true,
        run: () => Effect.succeed(Recovery.Outcome.Partial({ limitations: ["stale cache"] }))
      }
      const pipeline = yield* Resilience.make(
        { operation: "op", retry: { maxAttempts: 2, initialDelay: "1 millis" }, breaker: false },
        { recovery: [action] }
      )
      let n = 0
      const op = Effect.suspend(() => (n++ === 0 ? Effect.fail(new Boom({ category: "server" })) : Effect.succeed(n)))
      const fiber = yield* Effect.fork(pipeline.protect(op))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(2)
      const spans = ended.filter((s) => s.name === "resilience.recovery fix")
      expect(spans).toHaveLength(1)
      expect(spans[0]?.attributes).toMatchObject({
        "resilience.operation": "op",
        "resilience.recovery.outcome": "partial",
        "resilience.category": "server"
      })
      expect(audited).toEqual([
        {
          actor: "recovery",
          action: "recovery.fix",
          target: "op",
          after: { outcome: "partial", attempt: 1, category: "server", durationMillis: 0, limitations: ["stale cache"] }
        }
      ])
    }).pipe(
      Effect.provide(testClassifier),
      Effect.provideService(Recovery.AuditSink, {
        record: (entry) => Effect.sync(() => void audited.push(entry))
      }),
      Effect.withTracer(tracer)
    )
  })
})
