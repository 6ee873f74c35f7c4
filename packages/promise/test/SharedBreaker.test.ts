import * as http from "node:http"
import type { AddressInfo } from "node:net"
import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import * as Classifier from "@effect-resilience/core/Classifier"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Stream from "effect/Stream"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { CircuitOpenError, HttpStatusError, Resilient, resilientFetch } from "../src/index.js"

/** A real server on 127.0.0.1: 503 while `down`, 200 otherwise; counts the requests that reach it. */
let server: http.Server
let base = ""
let down = true
let reached = 0

beforeAll(async () => {
  server = http.createServer((req, res) => {
    reached += 1
    req.resume()
    res.writeHead(down ? 503 : 200, { "content-type": "text/plain" })
    res.end(down ? "unavailable" : "ok")
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
})

afterAll(async () => {
  server.closeAllConnections()
  await new Promise<void>((resolve) => server.close(() => resolve()))
})

const breakerConfig = {
  policy: { _tag: "ConsecutiveFailures", threshold: 3 },
  openDuration: "1 hour"
} as const satisfies CircuitBreaker.ConfigInput

const live = Layer.merge(CircuitBreaker.layerRegistry(), Classifier.layer)

/** The Effect side's call: the same upstream through a pipeline; a 503 is a failure. */
const viaPipeline = (pipeline: Resilience.Pipeline) =>
  pipeline.tryPromise(async (signal) => {
    const response = await fetch(`${base}/effect`, { signal })
    await response.text()
    if (response.status >= 500) throw Object.assign(new Error("unavailable"), { status: response.status })
    return response.status
  })

describe("a breaker shared by the Promise facade and Effect pipelines", () => {
  it("failures through the facade open the breaker that an Effect pipeline then sees open", async () => {
    down = true
    reached = 0
    const program = Effect.gen(function* () {
      const registry = yield* CircuitBreaker.Registry
      const breaker = yield* registry.get("payments", breakerConfig)
      const transitions = yield* breaker.subscribe
      const get = resilientFetch({ operation: "payments", retry: false }, { breaker })

      for (let i = 0; i < 3; i++) {
        const failed = yield* Effect.promise(() => get(`${base}/promise`).catch((e: unknown) => e))
        expect(failed).toBeInstanceOf(HttpStatusError)
      }
      expect(reached).toBe(3)
      expect(yield* breaker.currentState).toBe("open")
      const opened = yield* Stream.runHead(transitions)
      expect(Option.map(opened, (t) => [t.from, t.to])).toEqual(Option.some(["closed", "open"]))

      // an Effect pipeline naming the breaker gets the same one, open: the upstream is not called
      const pipeline = yield* Resilience.make({ operation: "payments", retry: false, breaker: breakerConfig })
      expect(pipeline.breaker).toBe(breaker)
      const refused = yield* Effect.flip(viaPipeline(pipeline))
      expect(refused._tag).toBe("CircuitOpen")
      expect(reached).toBe(3)

      // and the facade refuses too
      const again = yield* Effect.promise(() => get(`${base}/promise`).catch((e: unknown) => e))
      expect(again).toBeInstanceOf(CircuitOpenError)
      expect(reached).toBe(3)
    }).pipe(Effect.scoped, Effect.provide(live))
    await Effect.runPromise(program)
  })

  it("failures through an Effect pipeline open the breaker for the facade; a reset there closes it here", async () => {
    down = true
    reached = 0
    const program = Effect.gen(function* () {
      const pipeline = yield* Resilience.make({ operation: "orders", retry: false, breaker: breakerConfig })
      const breaker = pipeline.breaker
      if (breaker === undefined) throw new Error("the policy has a breaker")
      const orders = Resilient.make({ operation: "orders", retry: false }, { breaker })
      expect(orders.breakerState()).toBe("closed")

      for (let i = 0; i < 3; i++) yield* Effect.flip(viaPipeline(pipeline))
      expect(reached).toBe(3)
      expect(orders.breakerState()).toBe("open")
      let ran = false
      const refused = yield* Effect.promise(() =>
        orders
          .execute(async () => {
            ran = true
          })
          .catch((e: unknown) => e)
      )
      expect(refused).toBeInstanceOf(CircuitOpenError)
      expect(ran).toBe(false)

      // an operator's reset on the Effect side closes it for the facade's next call
      yield* breaker.reset
      down = false
      const answer = yield* Effect.promise(() => orders.execute(() => fetch(`${base}/promise`).then((r) => r.text())))
      expect(answer).toBe("ok")
      expect(orders.breakerState()).toBe("closed")
    }).pipe(Effect.scoped, Effect.provide(live))
    await Effect.runPromise(program)
  })

  it("without a breaker given, the facade's breaker is its own", () => {
    const own = Resilient.make({ operation: "own", breaker: breakerConfig })
    expect(own.breakerState()).toBe("closed")
    const none = Resilient.make({ operation: "none", breaker: false })
    expect(none.breakerState()).toBeUndefined()
  })
})
