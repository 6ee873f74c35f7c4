import { describe, expect, it } from "@effect/vitest"
import * as Config from "effect/Config"
import * as ConfigProvider from "effect/ConfigProvider"
import * as Effect from "effect/Effect"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as Chaos from "../src/Chaos.js"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Errors from "../src/Errors.js"

/** Runs `effect` `n` times and counts the outcomes. */
const tally = <A, E, R>(effect: Effect.Effect<A, E, R>, n: number) =>
  Effect.reduce(
    Array.from({ length: n }, (_, i) => i),
    { ok: 0, failed: 0, faults: [] as E[] },
    (acc) =>
      Effect.map(Effect.either(effect), (result) =>
        Either.isRight(result)
          ? { ...acc, ok: acc.ok + 1 }
          : {
              ok: acc.ok,
              failed: acc.failed + 1,
              faults: acc.faults.length < 3 ? [...acc.faults, result.left] : acc.faults
            }
      )
  )

/** Four standard deviations around the mean of Binomial(n, p): a correct injector stays inside. */
const binomialBounds = (n: number, p: number): readonly [number, number] => {
  const sd = Math.sqrt(n * p * (1 - p))
  return [n * p - 4 * sd, n * p + 4 * sd]
}

describe("Chaos.inject", () => {
  for (const [seed, rate] of [
    [1, 0.05],
    [2, 0.2],
    [3, 0.5],
    [4, 0.9]
  ] as const) {
    it.effect(`injects failures at rate ${rate} within a binomial bound (seed ${seed})`, () =>
      Effect.gen(function* () {
        const n = 2000
        const result = yield* tally(Effect.succeed("ok").pipe(Chaos.inject("get-user")), n)
        const [low, high] = binomialBounds(n, rate)
        expect(result.failed).toBeGreaterThanOrEqual(low)
        expect(result.failed).toBeLessThanOrEqual(high)
        expect(result.ok + result.failed).toBe(n)
        const fault = result.faults[0]
        expect(fault).toBeInstanceOf(Chaos.ChaosFault)
        expect(fault?.operation).toBe("get-user")
        expect(fault?.classification).toEqual(
          Classification.make({
            category: "unavailable",
            code: "chaos.unavailable",
            message: "Injected unavailable failure"
          })
        )
      }).pipe(
        Effect.withRandom(Random.make(seed)),
        Effect.provide(Chaos.layer({ default: { failure: { rate, category: "unavailable" } } }))
      )
    )
  }

  it.effect("the same seed replays the same faults", () =>
    Effect.gen(function* () {
      const run = Effect.forEach(Array.from({ length: 50 }), () =>
        Effect.either(Effect.succeed(1).pipe(Chaos.inject("op")))
      ).pipe(Effect.map((rs) => rs.map(Either.isLeft)))
      const a = yield* Effect.withRandom(run, Random.make("seed"))
      const b = yield* Effect.withRandom(run, Random.make("seed"))
      expect(a).toEqual(b)
      expect(a.filter((x) => x).length).toBeGreaterThan(0)
    }).pipe(Effect.provide(Chaos.layer({ default: { failure: { rate: 0.3, category: "server" } } })))
  )

  it.effect("applies latency exactly under TestClock", () =>
    Effect.gen(function* () {
      const fiber = yield* Effect.fork(Effect.succeed("ok").pipe(Chaos.inject("slow")))
      yield* TestClock.adjust("199 millis")
      expect(yield* Fiber.poll(fiber)).toEqual(Option.none())
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(fiber)).toBe("ok")
    }).pipe(Effect.provide(Chaos.layer({ default: { latency: { rate: 1, millis: 200 } } })))
  )

  it.effect("delays a share of calls by the rate, each by exactly the configured delay", () =>
    Effect.gen(function* () {
      const n = 400
      const fiber = yield* Effect.fork(
        Effect.forEach(Array.from({ length: n }), () =>
          Effect.timed(Effect.succeed(1).pipe(Chaos.inject("op"))).pipe(Effect.map(([d]) => Duration.toMillis(d)))
        )
      )
      yield* TestClock.adjust(Duration.millis(n * 100))
      const delays = yield* Fiber.join(fiber)
      expect(delays.every((d) => d === 0 || d === 100)).toBe(true)
      const [low, high] = binomialBounds(n, 0.25)
      const k = delays.filter((d) => d === 100).length
      expect(k).toBeGreaterThanOrEqual(low)
      expect(k).toBeLessThanOrEqual(high)
    }).pipe(
      Effect.withRandom(Random.make(7)),
      Effect.provide(Chaos.layer({ default: { latency: { rate: 0.25, millis: 100 } } }))
    )
  )

  it.effect("a hang never completes but is interruptible, and the operation never ran", () =>
    Effect.gen(function* () {
      const upstream = yield* Chaos.misbehaving([Chaos.Step.succeed("ok")])
      const fiber = yield* Effect.fork(upstream.effect.pipe(Chaos.inject("stuck")))
      yield* TestClock.adjust("1 hour")
      expect(yield* Fiber.poll(fiber)).toEqual(Option.none())
      const exit = yield* Fiber.interrupt(fiber)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect((yield* upstream.stats).calls).toBe(0)
    }).pipe(Effect.provide(Chaos.layer({ default: { hang: { rate: 1 } } })))
  )

  it.effect("disabled chaos changes nothing", () =>
    Effect.gen(function* () {
      const upstream = yield* Chaos.misbehaving([Chaos.Step.succeed("ok", "10 millis")])
      const fiber = yield* Effect.fork(
        Effect.replicateEffect(upstream.effect.pipe(Chaos.inject("op")), 20).pipe(Effect.withRandom(Random.make(1)))
      )
      yield* TestClock.adjust("200 millis")
      expect(yield* Fiber.join(fiber)).toEqual(Array.from({ length: 20 }, () => "ok"))
      expect(yield* upstream.stats).toEqual({ calls: 20, active: 0, completed: 20, interrupted: 0 })
      // Turning it on at run time makes the same call slow, then hang, without running it.
      yield* Chaos.setEnabled(true)
      const chaotic = yield* Effect.fork(upstream.effect.pipe(Chaos.inject("op")))
      yield* TestClock.adjust("1 hour")
      expect(yield* Fiber.poll(chaotic)).toEqual(Option.none())
      yield* Fiber.interrupt(chaotic)
      expect((yield* upstream.stats).calls).toBe(20)
    }).pipe(
      Effect.provide(
        Chaos.layer({
          enabled: false,
          default: { failure: { rate: 1, category: "server" }, latency: { rate: 1, millis: 1000 }, hang: { rate: 1 } }
        })
      )
    )
  )

  it.effect("without the layer the effect runs unchanged", () =>
    Effect.gen(function* () {
      expect(yield* Effect.succeed(42).pipe(Chaos.inject("op"))).toBe(42)
      expect(yield* Effect.exit(Effect.fail("own").pipe(Chaos.inject("op")))).toEqual(Exit.fail("own"))
    })
  )

  it.effect("per-operation config replaces the default", () =>
    Effect.gen(function* () {
      const outcome = (op: string) => Effect.either(Effect.succeed(op).pipe(Chaos.inject(op)))
      const a = yield* outcome("payments")
      const b = yield* outcome("health")
      const c = yield* outcome("constructor")
      expect(Either.isLeft(a) && a.left.classification.code).toBe("pay.503")
      expect(b).toEqual(Either.right("health"))
      expect(Either.isLeft(c) && c.left.classification.category).toBe("timeout")
    }).pipe(
      Effect.provide(
        Chaos.layer({
          default: { failure: { rate: 1, category: "timeout" } },
          operations: {
            payments: { failure: { rate: 1, category: "unavailable", code: "pay.503", retryAfterMillis: 2000 } },
            health: {}
          }
        })
      )
    )
  )

  it.effect("maps injected failures to the user's own error type", () =>
    Effect.gen(function* () {
      class Upstream {
        readonly _tag = "Upstream"
        constructor(readonly code: string) {}
      }
      const call: Effect.Effect<string, Upstream> = Effect.succeed("ok").pipe(
        Chaos.inject("op", { failure: (fault) => new Upstream(fault.classification.code) })
      )
      expect(yield* Effect.exit(call)).toEqual(Exit.fail(new Upstream("chaos.throttled")))
    }).pipe(Effect.provide(Chaos.layer({ default: { failure: { rate: 1, category: "throttled" } } })))
  )

  it.effect("the classification of a fault honours retryable and Retry-After, and classifyFaults reads it", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(Effect.void.pipe(Chaos.inject("op")))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        const classify = Chaos.classifyFaults(() => Classification.unknown)
        const c = classify(result.left)
        expect(c.retryable).toBe(false)
        expect(c.category).toBe("server")
        expect(c.retryAfter).toEqual(
          Classification.make({ category: "server", code: "x", message: "x", retryAfter: 1500 }).retryAfter
        )
        expect(classify(new Error("other"))).toEqual(Classification.unknown)
      }
    }).pipe(
      Effect.provide(
        Chaos.layer({ default: { failure: { rate: 1, category: "server", retryable: false, retryAfterMillis: 1500 } } })
      )
    )
  )

  it.effect("reads a JSON config through Effect's Config", () =>
    Effect.gen(function* () {
      const chaos = yield* Chaos.Chaos
      const config = yield* chaos.config
      expect(config.enabled).toBe(true)
      expect(config.default).toEqual({ failure: { rate: 0.1, category: "unavailable" } })
      expect(yield* chaos.faults("health")).toEqual({})
    }).pipe(
      Effect.provide(Chaos.layerConfig(Config.string("CHAOS"))),
      Effect.withConfigProvider(
        ConfigProvider.fromMap(
          new Map([
            ["CHAOS", '{"default":{"failure":{"rate":0.1,"category":"unavailable"}},"operations":{"health":{}}}']
          ])
        )
      )
    )
  )

  it.effect("layerClassifier reads faults and defers the rest to the Classifier below", () =>
    Effect.gen(function* () {
      const result = yield* Effect.either(Effect.void.pipe(Chaos.inject("op")))
      expect(Either.isLeft(result)).toBe(true)
      if (Either.isLeft(result)) {
        const c = yield* Classifier.classify(result.left)
        expect(c.code).toBe("chaos.throttled")
        expect(c.category).toBe("throttled")
      }
      const open = yield* Classifier.classify(new Errors.CircuitOpen({ breaker: "db", retryAfterMillis: 5 }))
      expect(open.code).toBe(Classification.circuitOpenCode)
    }).pipe(
      Effect.provide(
        Layer.merge(
          Chaos.layer({ default: { failure: { rate: 1, category: "throttled" } } }),
          Chaos.layerClassifier.pipe(Layer.provide(Classifier.layer))
        )
      )
    )
  )

  it.effect("rejects an invalid config at start-up", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        Effect.provide(
          Effect.flatMap(Chaos.Chaos, (chaos) => chaos.config),
          Chaos.layer({ default: { failure: { rate: 1.5, category: "server" } } })
        )
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const message = Exit.isFailure(exit) ? String(exit.cause) : ""
      expect(message).toContain("rate")
    })
  )
})

describe("Chaos.withFaults and Chaos.misbehaving", () => {
  it.effect("withFaults injects without a service", () =>
    Effect.gen(function* () {
      const result = yield* tally(
        Effect.succeed(1).pipe(Chaos.withFaults({ failure: { rate: 0.5, category: "network" } })),
        1000
      )
      const [low, high] = binomialBounds(1000, 0.5)
      expect(result.failed).toBeGreaterThanOrEqual(low)
      expect(result.failed).toBeLessThanOrEqual(high)
    }).pipe(Effect.withRandom(Random.make(11)))
  )

  it.effect("misbehaving follows its script and counts interruptions", () =>
    Effect.gen(function* () {
      const upstream = yield* Chaos.misbehaving([
        Chaos.Step.fail("boom", "10 millis"),
        Chaos.Step.hang,
        Chaos.Step.succeed("ok", "5 millis")
      ])
      const first = yield* Effect.fork(Effect.exit(upstream.effect))
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.join(first)).toEqual(Exit.fail("boom"))
      const second = yield* Effect.fork(upstream.effect)
      yield* TestClock.adjust("1 hour")
      expect((yield* upstream.stats).active).toBe(1)
      yield* Fiber.interrupt(second)
      const third = yield* Effect.fork(upstream.effect)
      yield* TestClock.adjust("5 millis")
      expect(yield* Fiber.join(third)).toBe("ok")
      const fourth = yield* Effect.fork(upstream.effect)
      yield* TestClock.adjust("5 millis")
      expect(yield* Fiber.join(fourth)).toBe("ok")
      expect(yield* upstream.stats).toEqual({ calls: 4, active: 0, completed: 3, interrupted: 1 })
    })
  )
})
