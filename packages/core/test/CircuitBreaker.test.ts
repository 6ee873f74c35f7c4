import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Deferred from "effect/Deferred"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as ParseResult from "effect/ParseResult"
import * as Ref from "effect/Ref"
import * as Schedule from "effect/Schedule"
import * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Events from "../src/Events.js"
import * as Strategy from "../src/internal/strategy/core.js"
import * as StrategyModule from "../src/Strategy.js"

const serverError = Classification.make({ category: "server", code: "http.503", message: "Service unavailable" })
const badRequest = Classification.make({ category: "client", code: "http.400", message: "Bad request" })

/** "bad-request" is a 400 (does not count for the breaker); anything else is a 503. */
const TestClassifier = Classifier.layerFrom((failure) => (failure === "bad-request" ? badRequest : serverError))

const boom = Effect.fail("boom")
const bad = Effect.fail("bad-request")
const ok = Effect.succeed("ok")

const call = <A, E>(breaker: CircuitBreaker.CircuitBreaker, effect: Effect.Effect<A, E>) =>
  Effect.exit(breaker.protect(effect))

const repeat = <A, E>(n: number, breaker: CircuitBreaker.CircuitBreaker, effect: Effect.Effect<A, E>) =>
  Effect.forEach(Array.from({ length: n }), () => call(breaker, effect), { discard: true })

const state = (breaker: CircuitBreaker.CircuitBreaker) => breaker.currentState

const openError = <A, E>(exit: Exit.Exit<A, E>) => {
  if (Exit.isFailure(exit)) {
    const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
    if (typeof failure === "object" && failure !== null && "_tag" in failure && failure._tag === "CircuitOpen") {
      return failure
    }
  }
  return undefined
}

const test = <A, E>(name: string, body: () => Effect.Effect<A, E, Scope.Scope | Classifier.Classifier>) =>
  it.scoped(name, () => Effect.provide(body(), TestClassifier))

describe("CircuitBreaker: consecutive failures (the default)", () => {
  test("opens after exactly 5 consecutive failures and rejects with the time left", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ name: "db" })
      yield* repeat(4, breaker, boom)
      expect(yield* state(breaker)).toBe("closed")
      yield* call(breaker, boom)
      expect(yield* state(breaker)).toBe("open")
      const rejected = openError(yield* call(breaker, ok))
      expect(rejected?.breaker).toBe("db")
      expect(rejected?.retryAfterMillis).toBe(30_000)
      expect(rejected?.message).toBe('Circuit "db" is open; next probe in 30000 ms')
      yield* TestClock.adjust("12 seconds")
      expect(openError(yield* call(breaker, ok))?.retryAfterMillis).toBe(18_000)
    }))

  test("a success resets the count", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* repeat(4, breaker, boom)
      yield* call(breaker, ok)
      yield* repeat(4, breaker, boom)
      expect(yield* state(breaker)).toBe("closed")
      expect((yield* breaker.snapshot).consecutiveFailures).toBe(4)
      yield* call(breaker, boom)
      expect(yield* state(breaker)).toBe("open")
    }))

  test("a 400 (countsForBreaker false) never trips it and is not counted", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ policy: { _tag: "ConsecutiveFailures", threshold: 1 } })
      yield* repeat(100, breaker, bad)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("closed")
      expect(snapshot.calls).toBe(0)
      yield* call(breaker, boom)
      expect(yield* state(breaker)).toBe("open")
    }))

  test("a defect counts as a failure (classified), an interruption does not", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ policy: { _tag: "ConsecutiveFailures", threshold: 2 } })
      yield* call(breaker, Effect.die(new Error("bug")))
      yield* call(breaker, Effect.interrupt)
      expect((yield* breaker.snapshot).consecutiveFailures).toBe(1)
      yield* call(breaker, Effect.die(new Error("bug")))
      expect(yield* state(breaker)).toBe("open")
    }))
})

describe("CircuitBreaker: half-open", () => {
  test("half-open lazily after 30 s, closes after 3 probe successes", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("29999 millis")
      expect(yield* state(breaker)).toBe("open")
      yield* TestClock.adjust("1 millis")
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("half-open")
      expect(snapshot.lastTransitionAtMillis).toBe(30_000)
      yield* repeat(2, breaker, ok)
      expect(yield* state(breaker)).toBe("half-open")
      expect((yield* breaker.snapshot).probeSuccesses).toBe(2)
      yield* call(breaker, ok)
      const closed = yield* breaker.snapshot
      expect(closed.state).toBe("closed")
      expect(closed.calls).toBe(0)
    }))

  test("a probe failure opens it again; a 400 in half-open only releases the slot", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("30 seconds")
      yield* call(breaker, ok)
      yield* call(breaker, bad)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("half-open")
      expect(snapshot.probesInFlight).toBe(0)
      expect(snapshot.probeSuccesses).toBe(1)
      yield* call(breaker, boom)
      expect(yield* state(breaker)).toBe("open")
      expect(openError(yield* call(breaker, ok))?.retryAfterMillis).toBe(30_000)
    }))

  test("one probe at a time by default: a second call while the probe runs is rejected with 0 ms", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("30 seconds")
      const gate = yield* Deferred.make<void>()
      const probe = yield* Effect.fork(call(breaker, Deferred.await(gate)))
      yield* Effect.yieldNow()
      expect((yield* breaker.snapshot).probesInFlight).toBe(1)
      const rejected = openError(yield* call(breaker, ok))
      expect(rejected?.retryAfterMillis).toBe(0)
      yield* Deferred.succeed(gate, undefined)
      expect(Exit.isSuccess(yield* Fiber.join(probe))).toBe(true)
      expect((yield* breaker.snapshot).probeSuccesses).toBe(1)
    }))

  test("many concurrent calls into a half-open breaker: exactly maxProbes get through", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ halfOpen: { maxProbes: 3, successThreshold: 3 } })
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("30 seconds")
      const admitted = yield* Ref.make(0)
      const gate = yield* Deferred.make<void>()
      const body = Effect.zipRight(
        Ref.update(admitted, (n) => n + 1),
        Deferred.await(gate)
      )
      const fibers = yield* Effect.forEach(Array.from({ length: 200 }), () => Effect.fork(call(breaker, body)))
      // Let every fiber run up to its admission decision.
      yield* Effect.repeatN(Effect.yieldNow(), 10)
      expect(yield* Ref.get(admitted)).toBe(3)
      expect((yield* breaker.snapshot).probesInFlight).toBe(3)
      yield* Deferred.succeed(gate, undefined)
      const exits = yield* Effect.forEach(fibers, Fiber.join)
      expect(exits.filter(Exit.isSuccess).length).toBe(3)
      expect(exits.filter((e) => openError(e) !== undefined).length).toBe(197)
      expect(yield* state(breaker)).toBe("closed")
    }))

  test("interrupting a probe releases its slot (no stuck half-open)", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("30 seconds")
      const probe = yield* Effect.fork(call(breaker, Effect.never))
      yield* Effect.yieldNow()
      expect((yield* breaker.snapshot).probesInFlight).toBe(1)
      yield* Fiber.interrupt(probe)
      const snapshot = yield* breaker.snapshot
      expect(snapshot.probesInFlight).toBe(0)
      expect(snapshot.state).toBe("half-open")
      expect(Exit.isSuccess(yield* call(breaker, ok))).toBe(true)
    }))

  test("a timeout interrupting a probe releases its slot too", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("30 seconds")
      const timed = yield* Effect.fork(Effect.exit(Effect.timeout(breaker.protect(Effect.never), "1 second")))
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(timed)
      expect((yield* breaker.snapshot).probesInFlight).toBe(0)
    }))
})

describe("CircuitBreaker: open-duration backoff", () => {
  test("openBackoff multiplies the open duration on consecutive re-openings, capped, reset on close", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        policy: { _tag: "ConsecutiveFailures", threshold: 1 },
        openDuration: 10_000,
        openBackoff: { multiplier: 2, max: "35 seconds" },
        halfOpen: { successThreshold: 1 }
      })
      yield* call(breaker, boom)
      const seen: Array<number | undefined> = []
      for (let i = 0; i < 4; i++) {
        const retryAfter = openError(yield* call(breaker, ok))?.retryAfterMillis
        seen.push(retryAfter)
        yield* TestClock.adjust(Duration.millis(retryAfter ?? 0))
        yield* call(breaker, boom) // the probe fails
      }
      expect(seen).toEqual([10_000, 20_000, 35_000, 35_000])
      yield* TestClock.adjust("35 seconds")
      yield* call(breaker, ok)
      expect(yield* state(breaker)).toBe("closed")
      yield* call(breaker, boom)
      expect(openError(yield* call(breaker, ok))?.retryAfterMillis).toBe(10_000)
    }))

  test("openSchedule gives the n-th open duration", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make(
        { policy: { _tag: "ConsecutiveFailures", threshold: 1 }, halfOpen: { successThreshold: 1 } },
        { openSchedule: Schedule.fibonacci("1 second").pipe(Schedule.upTo("4 seconds")) }
      )
      yield* call(breaker, boom)
      const seen: Array<number | undefined> = []
      for (let i = 0; i < 6; i++) {
        const retryAfter = openError(yield* call(breaker, ok))?.retryAfterMillis
        seen.push(retryAfter)
        yield* TestClock.adjust(Duration.millis(retryAfter ?? 0))
        yield* call(breaker, boom)
      }
      // 1, 1, 2, then 4 s have elapsed in the schedule: it ends and its last delay repeats
      expect(seen).toEqual([1000, 1000, 2000, 2000, 2000, 2000])
    }))
})

describe("CircuitBreaker: sliding windows", () => {
  test("count window: opens at exactly the failure rate once minimumCalls are in", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        policy: { _tag: "CountWindow", size: 10, minimumCalls: 6, failureRateThreshold: 0.5 }
      })
      yield* repeat(4, breaker, boom) // 4 of 4 failed, but fewer than 6 calls
      yield* call(breaker, ok) // 5 calls
      expect(yield* state(breaker)).toBe("closed")
      yield* call(breaker, ok) // 4 of 6 failed
      expect(yield* state(breaker)).toBe("open")
      yield* repeat(2, breaker, ok) // rejected: not recorded
      const snapshot = yield* breaker.snapshot
      expect(snapshot.calls).toBe(6)
      expect(snapshot.failures).toBe(4)
      expect(snapshot.failureRate).toBeCloseTo(4 / 6)
    }))

  test("count window: the oldest outcomes slide out", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        policy: { _tag: "CountWindow", size: 4, minimumCalls: 4, failureRateThreshold: 0.75 }
      })
      yield* repeat(2, breaker, boom)
      yield* repeat(4, breaker, ok) // window: ok ok ok ok
      yield* repeat(2, breaker, boom) // window: ok ok F F -> 0.5
      let snapshot = yield* breaker.snapshot
      expect([snapshot.state, snapshot.calls, snapshot.failures]).toEqual(["closed", 4, 2])
      yield* call(breaker, boom) // ok F F F -> 0.75
      snapshot = yield* breaker.snapshot
      expect([snapshot.state, snapshot.failures]).toEqual(["open", 3])
    }))

  test("time window: counts only the last buckets, opens at the threshold", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        policy: { _tag: "TimeWindow", window: "10 seconds", buckets: 10, minimumCalls: 4, failureRateThreshold: 0.5 }
      })
      yield* repeat(3, breaker, boom) // bucket 0
      yield* TestClock.adjust("10 seconds") // bucket 10: bucket 0 has left the window
      expect((yield* breaker.snapshot).calls).toBe(0)
      yield* repeat(2, breaker, boom)
      yield* TestClock.adjust("9 seconds") // bucket 19: buckets 10..19 in the window
      yield* repeat(1, breaker, ok)
      expect(yield* state(breaker)).toBe("closed")
      yield* call(breaker, ok) // 2 of 4 -> 0.5
      const snapshot = yield* breaker.snapshot
      expect([snapshot.state, snapshot.calls, snapshot.failures]).toEqual(["open", 4, 2])
    }))

  test("slow calls: opens on the slow-call rate; a call of exactly the threshold is slow", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        policy: {
          _tag: "CountWindow",
          size: 4,
          minimumCalls: 4,
          failureRateThreshold: 1,
          slowCall: { duration: "1 second", rateThreshold: 0.5 }
        }
      })
      const timed = (d: Duration.DurationInput) =>
        Effect.gen(function* () {
          const fiber = yield* Effect.fork(call(breaker, Effect.sleep(d)))
          yield* TestClock.adjust(d)
          yield* Fiber.join(fiber)
        })
      yield* timed("999 millis")
      yield* timed("1 second")
      yield* repeat(1, breaker, ok)
      expect((yield* breaker.snapshot).slowCalls).toBe(1)
      yield* timed("2 seconds")
      const snapshot = yield* breaker.snapshot
      expect(snapshot.state).toBe("open")
      expect(snapshot.slowCallRate).toBe(0.5)
    }))
})

describe("CircuitBreaker: manual control", () => {
  test("forced-open rejects with an unbounded wait; forceClosed resumes", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* breaker.forceOpen
      expect(yield* state(breaker)).toBe("forced-open")
      yield* TestClock.adjust("1 hour")
      const rejected = openError(yield* call(breaker, ok))
      expect(rejected?.retryAfterMillis).toBe(Number.POSITIVE_INFINITY)
      expect(rejected?.message).toBe('Circuit "circuit-breaker" is held open by an operator')
      yield* breaker.forceClosed
      expect(Exit.isSuccess(yield* call(breaker, ok))).toBe(true)
    }))

  test("disabled admits everything and records nothing", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ mode: "disabled" })
      yield* repeat(20, breaker, boom)
      const snapshot = yield* breaker.snapshot
      expect([snapshot.state, snapshot.calls]).toEqual(["disabled", 0])
      expect(Exit.isSuccess(yield* call(breaker, ok))).toBe(true)
    }))

  test("metrics-only records outcomes and never opens", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      yield* breaker.metricsOnly
      yield* repeat(20, breaker, boom)
      yield* call(breaker, ok)
      const snapshot = yield* breaker.snapshot
      expect([snapshot.state, snapshot.calls, snapshot.failures]).toEqual(["metrics-only", 21, 20])
      yield* breaker.reset
      expect((yield* breaker.snapshot).calls).toBe(0)
      yield* repeat(5, breaker, boom)
      expect(yield* state(breaker)).toBe("open")
    }))

  test("reset closes an open breaker and forgets the backoff", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ openBackoff: { multiplier: 3 } })
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("30 seconds")
      yield* call(breaker, boom)
      expect((yield* breaker.snapshot).reopenings).toBe(1)
      yield* breaker.reset
      const snapshot = yield* breaker.snapshot
      expect([snapshot.state, snapshot.reopenings, snapshot.calls]).toEqual(["closed", 0, 0])
      yield* repeat(5, breaker, boom)
      expect(openError(yield* call(breaker, ok))?.retryAfterMillis).toBe(30_000)
    }))
})

describe("CircuitBreaker: transitions and events", () => {
  test("the transition stream sees every move with Clock time and reason", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ name: "api", halfOpen: { successThreshold: 1 } })
      const transitions = yield* breaker.subscribe
      yield* TestClock.adjust("1 second")
      yield* repeat(5, breaker, boom)
      yield* TestClock.adjust("30 seconds")
      yield* call(breaker, ok)
      yield* breaker.forceOpen
      const seen = yield* Stream.runCollect(Stream.take(transitions, 4))
      expect(Chunk.toReadonlyArray(seen)).toEqual([
        { breaker: "api", from: "closed", to: "open", atMillis: 1000, reason: "consecutive-failures" },
        { breaker: "api", from: "open", to: "half-open", atMillis: 31_000, reason: "open-duration-elapsed" },
        { breaker: "api", from: "half-open", to: "closed", atMillis: 31_000, reason: "success-threshold" },
        { breaker: "api", from: "closed", to: "forced-open", atMillis: 31_000, reason: "manual" }
      ])
    }))

  test("the `transitions` stream and the ResilienceEvents hub both receive transitions", () =>
    Effect.gen(function* () {
      const hub = yield* Events.ResilienceEvents
      const events = yield* hub.subscribe
      const breaker = yield* CircuitBreaker.make({ name: "hubbed" })
      const fromStream = yield* Effect.fork(Stream.runCollect(Stream.take(breaker.transitions, 1)))
      yield* Effect.repeatN(Effect.yieldNow(), 5)
      yield* repeat(5, breaker, boom)
      const [event] = Chunk.toReadonlyArray(yield* Stream.runCollect(Stream.take(events, 1)))
      expect(event).toEqual(
        Events.ResilienceEvent.BreakerTransition({ breaker: "hubbed", from: "closed", to: "open", atMillis: 0 })
      )
      const [transition] = Chunk.toReadonlyArray(yield* Fiber.join(fromStream))
      expect(transition?.to).toBe("open")
    }).pipe(Effect.provide(Events.layer())))

  test("the snapshot reports state, counts, failure rate and the last transition", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        name: "snap",
        policy: { _tag: "CountWindow", size: 10, minimumCalls: 10 }
      })
      yield* TestClock.adjust("5 seconds")
      yield* repeat(3, breaker, boom)
      yield* repeat(1, breaker, ok)
      const snapshot = yield* breaker.snapshot
      expect(snapshot).toEqual({
        name: "snap",
        state: "closed",
        policy: "CountWindow",
        calls: 4,
        failures: 3,
        slowCalls: 0,
        consecutiveFailures: 0,
        failureRate: 0.75,
        slowCallRate: 0,
        probesInFlight: 0,
        probeSuccesses: 0,
        reopenings: 0,
        lastTransitionAtMillis: 0
      })
    }))
})

describe("CircuitBreaker: the Strategy face", () => {
  test("admit hands out one shared ticket while closed; settle records; reject builds CircuitOpen", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({
        name: "face",
        policy: { _tag: "ConsecutiveFailures", threshold: 1 }
      })
      expect([breaker.component, breaker.name, CircuitBreaker.isCircuitBreaker(breaker)]).toEqual([
        "breaker",
        "face",
        true
      ])
      const a = breaker.admit(0, Math.random)
      const b = breaker.admit(0, Math.random)
      expect(a).toBe(b)
      if (a._tag !== "Admitted") return expect.unreachable("closed: admitted")
      a.settle(Strategy.failure(badRequest), 5, 1) // does not count
      expect(breaker.stateAt(1)).toBe("closed")
      a.settle(Strategy.failure(serverError), 5, 1)
      const rejected = breaker.admit(2, Math.random)
      expect(rejected).toEqual({ _tag: "Rejected", reason: "open", retryAfterMillis: 29_999 })
      if (rejected._tag !== "Rejected") return expect.unreachable("open: rejected")
      const error = breaker.reject(rejected)
      expect([error._tag, error.breaker, error.retryAfterMillis]).toEqual(["CircuitOpen", "face", 29_999])
      expect(breaker.stateAt(30_001)).toBe("half-open")
      const probe = breaker.admit(30_001, Math.random)
      if (probe._tag !== "Admitted") return expect.unreachable("half-open: a probe")
      expect(breaker.admit(30_001, Math.random)).toEqual({ _tag: "Rejected", reason: "half-open", retryAfterMillis: 0 })
      probe.settle(Strategy.neutral, 0, 30_001)
      expect(breaker.snapshotAt(30_001).probesInFlight).toBe(0)
    }))

  test("Strategy.protect runs an effect through a breaker as through any strategy", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ policy: { _tag: "ConsecutiveFailures", threshold: 1 } })
      yield* Effect.exit(boom.pipe(StrategyModule.protect(breaker)))
      expect(openError(yield* Effect.exit(ok.pipe(StrategyModule.protect(breaker))))?.breaker).toBe("circuit-breaker")
    }))

  test("protect opens at the Clock's time", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make({ policy: { _tag: "ConsecutiveFailures", threshold: 2 } })
      yield* TestClock.adjust("7 seconds")
      yield* call(breaker, ok)
      yield* repeat(2, breaker, boom)
      const snapshot = yield* breaker.snapshot
      expect([snapshot.state, snapshot.lastTransitionAtMillis, snapshot.openUntilMillis]).toEqual([
        "open",
        7000,
        37_000
      ])
    }))
})

const decodeConfig = Schema.decodeUnknown(CircuitBreaker.Config)

describe("CircuitBreaker: config", () => {
  it.effect("defaults are the brief's", () =>
    Effect.gen(function* () {
      const config = yield* decodeConfig({})
      expect(config.policy).toEqual({ _tag: "ConsecutiveFailures", threshold: 5 })
      expect(Duration.toMillis(config.openDuration)).toBe(30_000)
      expect(config.halfOpen).toEqual({ maxProbes: 1, successThreshold: 3 })
      expect(config.mode).toBe("normal")
    })
  )

  it.effect("durations as millis, Duration or strings", () =>
    Effect.gen(function* () {
      const a = yield* decodeConfig({ openDuration: 1500 })
      const b = yield* decodeConfig({ openDuration: "1500 millis" })
      const c = yield* decodeConfig({ openDuration: Duration.millis(1500) })
      expect([a, b, c].map((x) => Duration.toMillis(x.openDuration))).toEqual([1500, 1500, 1500])
    })
  )

  it.effect("a bad config names the path", () =>
    Effect.gen(function* () {
      const probes = yield* Effect.either(decodeConfig({ halfOpen: { maxProbes: 0 } }))
      expect(Either.isLeft(probes) && probes.left.message).toMatch(/halfOpen[\s\S]*maxProbes/)
      const minimum = yield* Effect.either(
        decodeConfig({ policy: { _tag: "CountWindow", size: 10, minimumCalls: 20 } })
      )
      expect(Either.isLeft(minimum) && minimum.left.message).toMatch(/minimumCalls[\s\S]*cannot exceed/)
      const duration = yield* Effect.either(decodeConfig({ openDuration: "soon" }))
      expect(Either.isLeft(duration) && duration.left.message).toMatch(/openDuration/)
      const negative = yield* Effect.either(decodeConfig({ openDuration: -5 }))
      expect(Either.isLeft(negative)).toBe(true)
    })
  )

  it.effect("make fails with a ParseError naming the path (no defect, no clamp)", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.scoped(CircuitBreaker.make({ halfOpen: { successThreshold: 0 } })))
      expect(Exit.isFailure(exit) && exit.cause._tag === "Fail").toBe(true)
      const error = yield* Effect.flip(Effect.scoped(CircuitBreaker.make({ openDuration: -5 })))
      expect(ParseResult.isParseError(error)).toBe(true)
      expect(error.message).toMatch(/openDuration/)
      const layered = yield* Effect.exit(
        Layer.build(CircuitBreaker.layer({ policy: { _tag: "CountWindow", size: 0 } })).pipe(Effect.scoped)
      )
      expect(Exit.isFailure(layered)).toBe(true)
    })
  )
})

describe("CircuitBreaker: services", () => {
  it.effect("layer gives one breaker under the CircuitBreaker tag", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.CircuitBreaker
      expect(breaker.name).toBe("payments")
      expect(yield* breaker.protect(ok)).toBe("ok")
    }).pipe(Effect.provide(Layer.merge(CircuitBreaker.layer({ name: "payments" }), TestClassifier)))
  )

  it.scoped("the default registry shares nothing and holds nothing", () =>
    Effect.gen(function* () {
      const registry = yield* CircuitBreaker.Registry
      expect(registry.shared).toBe(false)
      const a = yield* registry.get("payments", { policy: { _tag: "ConsecutiveFailures", threshold: 2 } })
      const b = yield* registry.get("payments")
      expect(a).not.toBe(b)
      expect([a.name, a.config.policy]).toEqual(["payments", { _tag: "ConsecutiveFailures", threshold: 2 }])
      expect(yield* registry.all).toEqual([])
    })
  )

  it.effect("layerRegistry returns the same breaker for a name; config applies on first get", () =>
    Effect.gen(function* () {
      const registry = yield* CircuitBreaker.Registry
      expect(registry.shared).toBe(true)
      const [a, b] = yield* Effect.all(
        [registry.get("payments", { policy: { _tag: "ConsecutiveFailures", threshold: 2 } }), registry.get("payments")],
        { concurrency: "unbounded" }
      )
      expect(a).toBe(b)
      expect(a?.name).toBe("payments")
      expect(a?.config.policy).toEqual({ _tag: "ConsecutiveFailures", threshold: 2 })
      const other = yield* registry.get("search")
      expect(other).not.toBe(a)
      expect(Duration.toMillis(other.config.openDuration)).toBe(60_000)
      const snapshots = yield* registry.snapshots
      expect(snapshots.map((s) => s.name)).toEqual(["payments", "search"])
      const bad = yield* Effect.flip(registry.get("bad", { openDuration: -1 }))
      expect(bad.message).toMatch(/openDuration/)
      expect((yield* registry.all).length).toBe(2)
    }).pipe(Effect.scoped, Effect.provide(CircuitBreaker.layerRegistry({ defaults: { openDuration: "1 minute" } })))
  )

  it.effect("breakers use the store in context", () =>
    Effect.gen(function* () {
      const attached: Array<string> = []
      const decisions: Array<string> = []
      const store = Layer.succeed(CircuitBreaker.CircuitBreakerStore, {
        attach: (name, policy) =>
          CircuitBreaker.CircuitBreakerStore.pipe(
            Effect.flatMap((memory) => memory.attach(name, policy)),
            Effect.map((handle): CircuitBreaker.StoreHandle => {
              attached.push(name)
              return {
                record: (outcome, at) => handle.record(outcome, at),
                evidence: (at) => handle.evidence(at),
                clear: (at) => handle.clear(at),
                decide: (d) => {
                  decisions.push(d.transition.to)
                }
              }
            }),
            Effect.provide(CircuitBreaker.layerStoreMemory)
          )
      })
      yield* Effect.gen(function* () {
        const registry = yield* CircuitBreaker.Registry
        const breaker = yield* registry.get("stored", { policy: { _tag: "ConsecutiveFailures", threshold: 1 } })
        yield* call(breaker, boom)
      }).pipe(
        Effect.scoped,
        Effect.provide(CircuitBreaker.layerRegistry().pipe(Layer.provide(store))),
        Effect.provide(TestClassifier)
      )
      expect(attached).toEqual(["stored"])
      expect(decisions).toEqual(["open"])
    })
  )

  it.effect("protect is dual", () =>
    Effect.gen(function* () {
      const breaker = yield* CircuitBreaker.make()
      const a = yield* ok.pipe(CircuitBreaker.protect(breaker))
      const b = yield* CircuitBreaker.protect(ok, breaker)
      expect([a, b]).toEqual(["ok", "ok"])
    }).pipe(Effect.scoped, Effect.provide(TestClassifier))
  )
})
