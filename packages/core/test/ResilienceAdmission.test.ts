/**
 * Adaptive throttling and adaptive concurrency as pipeline strategies: named in a policy, walked
 * by the pipeline, shedding load before the operation runs.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Random from "effect/Random"
import * as AdaptiveConcurrency from "../src/AdaptiveConcurrency.js"
import * as AdaptiveThrottle from "../src/AdaptiveThrottle.js"
import * as Errors from "../src/Errors.js"
import * as Resilience from "../src/Resilience.js"
import * as Strategy from "../src/Strategy.js"
import { Boom, testClassifier } from "./support/boom.js"

const throttled = new Boom({ category: "throttled" })

describe("Resilience pipeline: adaptive strategies", () => {
  it.scoped("adaptiveThrottle: a backend that refuses most calls sees fewer of them (SRE client-side throttling)", () =>
    Effect.gen(function* () {
      const pipeline = yield* Resilience.make({
        operation: "throttled-backend",
        retry: false,
        breaker: false,
        adaptiveThrottle: { k: 1.1, window: "1 minute" }
      }).pipe(Effect.withRandom(Random.make("throttle-seed")))
      const throttle = pipeline.strategies.find(AdaptiveThrottle.isAdaptiveThrottle)
      if (throttle === undefined) return expect.unreachable()
      let reached = 0
      let shed = 0
      const op = Effect.suspend(() => {
        reached += 1
        // accepts one call in ten
        return reached % 10 === 0 ? Effect.succeed("ok") : Effect.fail(throttled)
      })
      for (let i = 0; i < 400; i++) {
        const exit = yield* Effect.exit(pipeline.protect(op))
        if (Exit.isFailure(exit)) {
          const error = exit.cause._tag === "Fail" ? exit.cause.error : undefined
          if (error instanceof Errors.BulkheadRejected) {
            expect(error.reason).toBe("throttled")
            shed += 1
          }
        }
      }
      // requests = 400, the backend accepted about a tenth of what reached it: the throttle's
      // rejection probability max(0, (requests - K * accepts) / (requests + 1)) is well above zero
      expect(shed + reached).toBe(400)
      expect(shed).toBeGreaterThan(100)
      expect(throttle.probability()).toBeGreaterThan(0.3)
    }).pipe(Effect.provide(testClassifier))
  )

  it.scoped(
    "adaptiveConcurrency: the limit falls as calls time out, and calls over it are refused without running",
    () =>
      Effect.gen(function* () {
        const pipeline = yield* Resilience.make({
          operation: "slow-backend",
          retry: false,
          breaker: false,
          adaptiveConcurrency: { algorithm: "aimd", initialLimit: 8, minLimit: 1, maxLimit: 8, backoffRatio: 0.5 }
        })
        const limiter = pipeline.strategies.find(AdaptiveConcurrency.isAdaptiveConcurrency)
        if (limiter === undefined) return expect.unreachable()
        // two drops (failures of category timeout) halve the limit twice: 8 -> 4 -> 2
        yield* Effect.exit(pipeline.protect(Effect.fail(new Boom({ category: "timeout" }))))
        yield* Effect.exit(pipeline.protect(Effect.fail(new Boom({ category: "timeout" }))))
        expect(limiter.limit()).toBe(2)

        // now six calls at once against a backend that hangs: two run, four are shed at once
        const gate = yield* Deferred.make<void>()
        let started = 0
        const op = Effect.zipRight(
          Effect.sync(() => {
            started += 1
          }),
          Deferred.await(gate)
        )
        const fibers = yield* Effect.forEach(Array.from({ length: 6 }), () =>
          Effect.fork(Effect.exit(pipeline.protect(op)))
        )
        yield* Effect.yieldNow()
        expect(started).toBe(2)
        expect(limiter.inflight()).toBe(2)
        yield* Deferred.succeed(gate, undefined)
        const exits = yield* Effect.forEach(fibers, Fiber.join)
        const refused = exits.filter(
          (exit) =>
            Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error instanceof Errors.BulkheadRejected
        )
        expect(refused.length).toBe(4)
        expect(limiter.inflight()).toBe(0)
      }).pipe(Effect.provide(testClassifier))
  )

  it.scoped("a strategy of one's own joins the pipeline after the built-in ones, with its own error type", () =>
    Effect.gen(function* () {
      class Maintenance extends Errors.BulkheadRejected {}
      let open = true
      const settled: Array<string> = []
      const gate: Strategy.Strategy<Maintenance> = {
        component: "maintenance",
        name: "gate",
        admit: () =>
          open
            ? { _tag: "Admitted", settle: (outcome) => void settled.push(outcome._tag) }
            : Strategy.rejected("closed"),
        reject: () => new Maintenance({ bulkhead: "gate", reason: "full" })
      }
      const pipeline = yield* Resilience.make({ operation: "gated", retry: false }, { strategies: [gate] })
      expect(pipeline.strategies.map((s) => s.component)).toEqual(["breaker", "maintenance"])
      expect(yield* pipeline.protect(Effect.succeed(1))).toBe(1)
      open = false
      const exit = yield* Effect.exit(pipeline.protect(Effect.succeed(2)))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail" && exit.cause.error instanceof Maintenance).toBe(true)
      expect(settled).toEqual(["Success"])
    }).pipe(Effect.provide(testClassifier))
  )
})
