import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as Classifier from "../src/Classifier.js"
import * as Failures from "../src/Failures.js"
import * as Presets from "../src/Presets.js"
import * as Resilience from "../src/Resilience.js"

const all = { database: Presets.database, http: Presets.http, objectStore: Presets.objectStore, cache: Presets.cache }

describe("Presets", () => {
  it.effect("each preset decodes with the seeds' values", () =>
    Effect.gen(function* () {
      const db = yield* Resilience.decodePolicy(Presets.database("q"))
      const http = yield* Resilience.decodePolicy(Presets.http("h"))
      const store = yield* Resilience.decodePolicy(Presets.objectStore("s"))
      const cache = yield* Resilience.decodePolicy(Presets.cache("c"))
      const retry = (p: Resilience.Policy) => {
        if (p.retry === false) throw new Error("retry off")
        return [p.retry.maxAttempts, Duration.toMillis(p.retry.initialDelay), p.retry.backoff, p.retry.jitter]
      }
      expect(retry(db)).toEqual([3, 100, "exponential", "none"])
      expect(retry(http)).toEqual([5, 200, "exponential", "full"])
      expect(retry(store)).toEqual([4, 500, "exponential", "full"])
      expect(retry(cache)).toEqual([2, 50, "constant", "none"])
      expect(db.breaker).not.toBe(false)
      expect(http.breaker).not.toBe(false)
      expect(store.breaker).not.toBe(false)
      expect(cache.breaker).toBe(false)
      expect(store.attemptTimeout !== false && Duration.toMillis(store.attemptTimeout)).toBe(30_000)
      expect(db.operation).toBe("q")
    })
  )

  it.effect("overrides apply; retry and breaker objects merge into the preset's", () =>
    Effect.gen(function* () {
      const p = yield* Resilience.decodePolicy(
        Presets.http("get-user", {
          attemptTimeout: "2 seconds",
          retry: { maxAttempts: 2 },
          breaker: { name: "shared" }
        })
      )
      expect(p.attemptTimeout !== false && Duration.toMillis(p.attemptTimeout)).toBe(2000)
      expect(p.retry !== false && [p.retry.maxAttempts, Duration.toMillis(p.retry.initialDelay)]).toEqual([2, 200])
      expect(p.breaker !== false && [p.breaker.name, p.breaker.policy._tag]).toEqual(["shared", "CountWindow"])
      const off = yield* Resilience.decodePolicy(Presets.database("q", { breaker: false, retry: false }))
      expect([off.breaker, off.retry]).toEqual([false, false])
      const on = yield* Resilience.decodePolicy(Presets.cache("c", { breaker: { openDuration: "1 second" } }))
      expect(on.breaker !== false && Duration.toMillis(on.breaker.openDuration)).toBe(1000)
    })
  )

  for (const [kind, preset] of Object.entries(all)) {
    it.effect(`a pipeline from ${kind} retries a 503 and succeeds`, () =>
      Effect.gen(function* () {
        let calls = 0
        const flaky = Effect.suspend(() => {
          calls += 1
          return calls < 2 ? Effect.fail(new Failures.HttpError({ status: 503 })) : Effect.succeed("ok")
        })
        const pipeline = yield* Resilience.make(preset(`op-${kind}`))
        const fiber = yield* Effect.fork(pipeline.protect(flaky))
        yield* TestClock.adjust("1 minute")
        expect(yield* Fiber.join(fiber)).toBe("ok")
        expect(calls).toBe(2)
      }).pipe(Effect.scoped, Effect.provide(Classifier.layer), Effect.withRandom(Random.make(7)))
    )
  }
})
