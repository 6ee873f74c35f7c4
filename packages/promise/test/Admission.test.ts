import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as CoreErrors from "@effect-resilience/core/Errors"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Layer from "effect/Layer"
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest"
import {
  AttemptTimeoutError,
  BulkheadRejectedError,
  CircuitOpenError,
  HttpStatusError,
  RateLimitedError,
  RetriesExhaustedError,
  Resilient,
  resilientFetch
} from "../src/index.js"

/** A scripted server on 127.0.0.1: each request to a path takes the next answer of its script (the last repeats). */
type Answer = number | "hang"

let server: http.Server
let base = ""
const scripts = new Map<string, ReadonlyArray<Answer>>()
const hits = new Map<string, number>()

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? "/"
    const n = hits.get(url) ?? 0
    hits.set(url, n + 1)
    const script = scripts.get(url) ?? [200]
    const answer = script[Math.min(n, script.length - 1)] as Answer
    if (answer === "hang") return
    res.writeHead(answer, { "content-type": "text/plain" })
    res.end(`answer ${n + 1}`)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

beforeEach(() => {
  scripts.clear()
  hits.clear()
})

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A call that runs until its signal aborts (its rejection is the abort's reason). */
const untilAborted = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason), { once: true }))

/** Whether a Promise has settled by the next turn of the event loop. */
const settledSoon = async (promise: Promise<unknown>): Promise<boolean> => {
  let settled = false
  promise.then(
    () => {
      settled = true
    },
    () => {
      settled = true
    }
  )
  await new Promise((resolve) => setImmediate(resolve))
  return settled
}

const plain = { retry: false, breaker: false } as const

describe("rate limit", () => {
  it("refuses the N+1th call with RateLimitedError, and admits again once a token is due", async () => {
    // 3 tokens per 3 s: one back every second
    const get = resilientFetch({ operation: "rl", ...plain, rateLimit: { limit: 3, window: "3 seconds" } })
    for (let i = 0; i < 3; i++) expect((await get(`${base}/rl`)).status).toBe(200)
    const refused = await get(`${base}/rl`).catch((e: unknown) => e)
    if (!(refused instanceof RateLimitedError)) return expect.unreachable()
    expect(refused.limiter).toBe("rl")
    expect(refused.operation).toBe("rl")
    expect(refused.retryAfterMillis).toBeGreaterThan(0)
    expect(refused.retryAfterMillis).toBeLessThanOrEqual(1000)
    expect(hits.get("/rl")).toBe(3)

    await sleep(refused.retryAfterMillis + 20)
    expect((await get(`${base}/rl`)).status).toBe(200)
    expect(hits.get("/rl")).toBe(4)
    await expect(get(`${base}/rl`)).rejects.toBeInstanceOf(RateLimitedError)
    expect(hits.get("/rl")).toBe(4)
  })

  it("under onExceeded: delay, waits for its token with a timer instead of refusing", async () => {
    const get = resilientFetch({
      operation: "rl-delay",
      ...plain,
      rateLimit: { limit: 1, window: "300 millis", onExceeded: "delay", maxDelay: "5 seconds" }
    })
    expect((await get(`${base}/delay`)).status).toBe(200)
    const second = get(`${base}/delay`)
    // waiting for its token: not sent yet
    expect(await settledSoon(second)).toBe(false)
    expect(hits.get("/delay")).toBe(1)
    expect((await second).status).toBe(200)
    expect(hits.get("/delay")).toBe(2)
  })

  it("refuses at once a wait longer than the call's deadline leaves", async () => {
    const get = resilientFetch({
      operation: "rl-deadline",
      ...plain,
      deadline: "200 millis",
      rateLimit: { limit: 1, window: "1 minute", onExceeded: "delay", maxDelay: "5 minutes" }
    })
    expect((await get(`${base}/deadline`)).status).toBe(200)
    const refused = await get(`${base}/deadline`).catch((e: unknown) => e)
    if (!(refused instanceof RateLimitedError)) return expect.unreachable()
    expect(refused.retryAfterMillis).toBeGreaterThan(200)
    expect(hits.get("/deadline")).toBe(1)
  })

  it("gives a waiting call's reservation back when its caller aborts", async () => {
    const limits = Resilient.make({
      operation: "rl-abort",
      ...plain,
      attemptTimeout: false,
      // one token per 400 ms, a wait of at most 500 ms: two waiting reservations would not fit
      rateLimit: { limit: 1, window: "400 millis", onExceeded: "delay", maxDelay: "500 millis" }
    })
    let ran = 0
    const run = (signal?: AbortSignal) =>
      limits.execute(async () => {
        ran += 1
        return ran
      }, signal)
    expect(await run()).toBe(1)
    const controller = new AbortController()
    const waiting = run(controller.signal)
    expect(await settledSoon(waiting)).toBe(false)
    controller.abort(new Error("caller gave up"))
    await expect(waiting).rejects.toThrow("caller gave up")
    expect(ran).toBe(1)
    // the token it had reserved is free again: this call waits one token's time, not two
    expect(await run()).toBe(2)
  })
})

describe("adaptive throttle", () => {
  it("refuses locally once requests exceed K = 2 times the accepts, with BulkheadRejectedError(throttled)", async () => {
    scripts.set("/shed", [200, 200, 503])
    // a draw of 0 refuses whenever the probability max(0, (requests - 2 * accepts) / (requests + 1)) is above 0
    const get = resilientFetch({ operation: "shed", ...plain, adaptiveThrottle: {} }, { random: () => 0 })
    expect((await get(`${base}/shed`)).status).toBe(200)
    expect((await get(`${base}/shed`)).status).toBe(200)
    // 2 accepts: the backend's refusals pass until requests exceed 4
    for (let i = 0; i < 3; i++) await expect(get(`${base}/shed`)).rejects.toBeInstanceOf(HttpStatusError)
    expect(hits.get("/shed")).toBe(5)
    const refused = await get(`${base}/shed`).catch((e: unknown) => e)
    if (!(refused instanceof BulkheadRejectedError)) return expect.unreachable()
    expect(refused.reason).toBe("throttled")
    expect(refused.bulkhead).toBe("shed")
    expect(hits.get("/shed")).toBe(5)
  })

  it("admits by the draw: above the probability passes, below is refused", async () => {
    scripts.set("/draw", [503])
    let draw = 0.6
    const get = resilientFetch({ operation: "draw", ...plain, adaptiveThrottle: {} }, { random: () => draw })
    // requests 1, accepts 0: p = 1/2 < 0.6, admitted; requests 2: p = 2/3 > 0.6, refused
    await expect(get(`${base}/draw`)).rejects.toBeInstanceOf(HttpStatusError)
    await expect(get(`${base}/draw`)).rejects.toBeInstanceOf(HttpStatusError)
    await expect(get(`${base}/draw`)).rejects.toBeInstanceOf(BulkheadRejectedError)
    expect(hits.get("/draw")).toBe(2)
    // requests 3: p = 3/4
    draw = 0.8
    await expect(get(`${base}/draw`)).rejects.toBeInstanceOf(HttpStatusError)
    expect(hits.get("/draw")).toBe(3)
  })

  it("does not count a call its caller aborted (settled neutral), only what the backend answered", async () => {
    scripts.set("/hung", ["hang"])
    scripts.set("/refuses", [503])
    const get = resilientFetch({ operation: "neutral", ...plain, adaptiveThrottle: {} }, { random: () => 0 })
    const controller = new AbortController()
    const aborted = get(`${base}/hung`, { signal: controller.signal })
    await expect.poll(() => hits.get("/hung")).toBe(1)
    controller.abort(new Error("caller gave up"))
    await expect(aborted).rejects.toThrow("caller gave up")
    // counted as an accept it would keep the probability at 0 after one refusal; not counted, one
    // refusal makes it 1/2 and the draw of 0 refuses the next call locally
    await expect(get(`${base}/refuses`)).rejects.toBeInstanceOf(HttpStatusError)
    await expect(get(`${base}/refuses`)).rejects.toBeInstanceOf(BulkheadRejectedError)
    expect(hits.get("/refuses")).toBe(1)
  })
})

describe("adaptive concurrency", () => {
  const policy = {
    operation: "ac",
    ...plain,
    attemptTimeout: false,
    adaptiveConcurrency: { initialLimit: 2, maxLimit: 2 }
  } as const

  it("admits at most the limit at once and refuses the rest with BulkheadRejectedError(adaptive-limit)", async () => {
    const ac = Resilient.make(policy)
    const releases: Array<() => void> = []
    const hold = () => ac.execute(() => new Promise<string>((resolve) => releases.push(() => resolve("done"))))
    const first = hold()
    const second = hold()
    const refused = await hold().catch((e: unknown) => e)
    if (!(refused instanceof BulkheadRejectedError)) return expect.unreachable()
    expect(refused.reason).toBe("adaptive-limit")
    expect(refused.bulkhead).toBe("ac")
    expect(releases).toHaveLength(2)
    releases[0]?.()
    expect(await first).toBe("done")
    // a slot is free again
    const third = hold()
    expect(await settledSoon(third)).toBe(false)
    expect(releases).toHaveLength(3)
    await expect(hold()).rejects.toBeInstanceOf(BulkheadRejectedError)
    releases[1]?.()
    releases[2]?.()
    expect(await second).toBe("done")
    expect(await third).toBe("done")
  })

  it("settles a timed-out attempt as a drop (the limit falls) and an aborted one as neutral (it stays)", async () => {
    const timed = Resilient.make({ ...policy, attemptTimeout: "30 millis" })
    await expect(timed.execute((signal) => untilAborted(signal))).rejects.toBeInstanceOf(AttemptTimeoutError)
    // the timeout freed its slot and, a drop, lowered the limit from 2 to 1
    const held = timed.execute((signal) => untilAborted(signal))
    const over = await timed.execute(async () => "ran").catch((e: unknown) => e)
    if (!(over instanceof BulkheadRejectedError)) return expect.unreachable()
    expect(over.reason).toBe("adaptive-limit")
    await expect(held).rejects.toBeInstanceOf(AttemptTimeoutError)

    const aborted = Resilient.make(policy)
    const controller = new AbortController()
    const call = aborted.execute((signal) => untilAborted(signal), controller.signal)
    controller.abort(new Error("caller gave up"))
    await expect(call).rejects.toThrow("caller gave up")
    // neutral: the slot is back and the limit is still 2
    const stop = new AbortController()
    const a = aborted.execute((signal) => untilAborted(signal), stop.signal)
    const b = aborted.execute((signal) => untilAborted(signal), stop.signal)
    await expect(aborted.execute(async () => "ran")).rejects.toBeInstanceOf(BulkheadRejectedError)
    stop.abort(new Error("done"))
    await expect(a).rejects.toThrow("done")
    await expect(b).rejects.toThrow("done")
    expect(await aborted.execute(async () => "ran")).toBe("ran")
  })
})

describe("retrying refusals", () => {
  it("counts an adaptive or rate-limit refusal against maxAttempts, as the Effect pipeline does", async () => {
    const ac = Resilient.make({
      operation: "ac-retry",
      breaker: false,
      attemptTimeout: false,
      retry: { maxAttempts: 3, initialDelay: "1 millis", jitter: "none" },
      adaptiveConcurrency: { initialLimit: 1, maxLimit: 1 }
    })
    const stop = new AbortController()
    const held = ac.execute((signal) => untilAborted(signal), stop.signal)
    const error = await ac.execute(async () => "ran").catch((e: unknown) => e)
    if (!(error instanceof RetriesExhaustedError)) return expect.unreachable()
    expect(error.attempts).toBe(3)
    expect(error.reason).toBe("exhausted")
    expect(error.lastCategory).toBe("resource")
    if (!(error.cause instanceof BulkheadRejectedError)) return expect.unreachable()
    expect(error.cause.reason).toBe("adaptive-limit")
    stop.abort(new Error("done"))
    await expect(held).rejects.toThrow("done")
  })
})

describe("every admission strategy of a policy", () => {
  const all = {
    breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 3 }, openDuration: "1 hour" },
    rateLimit: { limit: 4, window: "1 hour" },
    adaptiveThrottle: {},
    adaptiveConcurrency: { initialLimit: 4 },
    bulkhead: { maxConcurrent: 4, maxQueue: 4 }
  } as const

  it("retries through all of them end to end, and the rate limit's refusal ends the call within its deadline", async () => {
    scripts.set("/all", [503, 200])
    const get = resilientFetch(
      {
        operation: "all",
        ...all,
        deadline: "2 seconds",
        retry: { maxAttempts: 3, initialDelay: "5 millis", jitter: "none" }
      },
      // after the 503 the throttle's probability is 1/2: a draw above it admits the retry (a
      // local refusal would be retried too, and spend a token each time)
      { random: () => 0.99 }
    )
    const response = await get(`${base}/all`)
    expect(response.status).toBe(200)
    expect(await response.text()).toBe("answer 2")
    expect((await get(`${base}/all`)).status).toBe(200)
    expect((await get(`${base}/all`)).status).toBe(200)
    expect(hits.get("/all")).toBe(4)
    // no token left for an hour's quarter: the retry would outlast the deadline
    const error = await get(`${base}/all`).catch((e: unknown) => e)
    if (!(error instanceof RetriesExhaustedError)) return expect.unreachable()
    expect(error.reason).toBe("deadline")
    expect(error.lastCategory).toBe("throttled")
    expect(error.cause).toBeInstanceOf(RateLimitedError)
    expect(hits.get("/all")).toBe(4)
  })

  it("asks them in the Effect pipeline's order: breaker, rate limit, adaptive strategies, bulkhead", async () => {
    scripts.set("/order", [500])
    const get = resilientFetch({
      operation: "order",
      retry: false,
      ...all,
      breaker: { policy: { _tag: "ConsecutiveFailures", threshold: 1 }, openDuration: "1 hour" },
      rateLimit: { limit: 1, window: "1 hour" }
    })
    await expect(get(`${base}/order`)).rejects.toBeInstanceOf(HttpStatusError)
    // the breaker (open) refuses before the rate limit (empty) is asked
    await expect(get(`${base}/order`)).rejects.toBeInstanceOf(CircuitOpenError)

    const limited = Resilient.make({
      operation: "order-2",
      retry: false,
      attemptTimeout: false,
      ...all,
      rateLimit: { limit: 1, window: "1 hour" },
      adaptiveConcurrency: { initialLimit: 1, maxLimit: 1 },
      bulkhead: { maxConcurrent: 1, maxQueue: 0 }
    })
    const stop = new AbortController()
    const held = limited.execute((signal) => untilAborted(signal), stop.signal)
    // the rate limit (no token) refuses before the full concurrency limit and bulkhead are asked
    await expect(limited.execute(async () => "ran")).rejects.toBeInstanceOf(RateLimitedError)
    stop.abort(new Error("done"))
    await expect(held).rejects.toThrow("done")
  })

  it("still refuses hedging with a clear error, and nothing else", () => {
    expect(() => Resilient.make({ operation: "h", ...all })).not.toThrow()
    expect(() => Resilient.make({ operation: "h", hedging: { delay: 10, maxHedges: 1 } })).toThrow(
      "h: the Promise facade does not support hedging yet"
    )
    expect(() => Resilient.make({ operation: "h", adaptiveConcurrency: { minLimit: 5, maxLimit: 2 } })).toThrow(
      /minLimit/
    )
  })
})

describe("the same decisions as an Effect pipeline with the same policy", () => {
  it("refuses the same calls, by the same strategy, name and reason", async () => {
    const policy = {
      operation: "same",
      retry: false,
      breaker: false,
      attemptTimeout: false,
      rateLimit: { limit: 3, window: "1 hour" },
      adaptiveConcurrency: { initialLimit: 2, maxLimit: 2 }
    } as const
    /** Two calls held, a third over the concurrency limit, then (held ones done) a fourth without a token. */
    const script = async (run: (evaluate: () => Promise<string>) => Promise<string>) => {
      const releases: Array<() => void> = []
      const hold = () => run(() => new Promise<string>((resolve) => releases.push(() => resolve("held"))))
      const held = [hold(), hold()]
      await expect.poll(() => releases.length).toBe(2)
      const third = await run(async () => "ran").catch((e: unknown) => e)
      for (const release of releases) release()
      await Promise.all(held)
      const fourth = await run(async () => "ran").catch((e: unknown) => e)
      return [third, fourth].map(describeRefusal)
    }
    const facade = Resilient.make(policy)
    const fromFacade = await script((evaluate) => facade.execute(evaluate))
    const fromEffect = await Effect.runPromise(
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make(policy)
        // each call through the Effect runtime (tryPromise), the way an Effect program calls
        const run = (evaluate: () => Promise<string>) =>
          Effect.runPromise(Effect.either(pipeline.tryPromise(evaluate))).then((result) =>
            Either.isRight(result) ? result.right : Promise.reject(result.left)
          )
        return yield* Effect.promise(() => script(run))
      }).pipe(Effect.scoped, Effect.provide(Layer.merge(CircuitBreaker.layerRegistry(), Classifier.layer)))
    )
    expect(fromFacade).toEqual([
      { refusal: "bulkhead", name: "same", reason: "adaptive-limit" },
      { refusal: "rate-limit", name: "same", reason: "" }
    ])
    expect(fromEffect).toEqual(fromFacade)
  })
})

/** A refusal of either side, as data. */
const describeRefusal = (error: unknown) => {
  if (error instanceof BulkheadRejectedError) return { refusal: "bulkhead", name: error.bulkhead, reason: error.reason }
  if (error instanceof RateLimitedError) return { refusal: "rate-limit", name: error.limiter, reason: "" }
  if (error instanceof CoreErrors.BulkheadRejected)
    return { refusal: "bulkhead", name: error.bulkhead, reason: error.reason }
  if (error instanceof CoreErrors.RateLimited) return { refusal: "rate-limit", name: error.limiter, reason: "" }
  return { refusal: "none", name: String(error), reason: "" }
}

describe("the caller's signal", () => {
  it("ends a backoff at once: no retry follows an abort", async () => {
    scripts.set("/backoff", [503])
    let scheduled = 0
    const get = resilientFetch(
      { operation: "backoff", breaker: false, retry: { maxAttempts: 5, initialDelay: "1 minute", jitter: "none" } },
      { onRetry: () => scheduled++ }
    )
    const controller = new AbortController()
    const call = get(`${base}/backoff`, { signal: controller.signal })
    // the first attempt failed and its retry waits a minute
    await expect.poll(() => scheduled).toBe(1)
    controller.abort(new Error("caller gave up"))
    await expect(call).rejects.toThrow("caller gave up")
    expect(hits.get("/backoff")).toBe(1)
  })
})
