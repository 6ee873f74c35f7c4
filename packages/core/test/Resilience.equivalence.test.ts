/**
 * A pipeline built from a policy behaves as the explicit composition of the strategies it names:
 *
 * ```
 * Deadline.within(RetryPolicy.retry(breaker.protect(limiter.protect(bulkhead.protect(Timeout.protect(op))))))
 * ```
 *
 * on random policies and random operation scripts, under TestClock: the same outcome for every
 * call, the same number of operation runs, the same breaker state at the end.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fc from "fast-check"
import * as Bulkhead from "../src/Bulkhead.js"
import * as CircuitBreaker from "../src/CircuitBreaker.js"
import * as Deadline from "../src/Deadline.js"
import * as RateLimiter from "../src/RateLimiter.js"
import * as Resilience from "../src/Resilience.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import * as Strategy from "../src/Strategy.js"
import * as Timeout from "../src/Timeout.js"
import * as Classifier from "../src/Classifier.js"
import * as Layer from "effect/Layer"
import { Boom, classifyBoom } from "./support/boom.js"

type Step = { readonly delay: number; readonly result: "ok" | "unavailable" | "validation" | "timeout" }

interface Scenario {
  readonly retry:
    | false
    | { readonly maxAttempts: number; readonly initialDelay: number; readonly jitter: "none" | "full" }
  readonly breaker: false | { readonly threshold: number; readonly openDuration: number }
  readonly rateLimit: false | { readonly limit: number; readonly maxDelay: number }
  readonly bulkhead: boolean
  readonly attemptTimeout: false | number
  readonly deadline: number | undefined
  readonly steps: ReadonlyArray<Step>
  readonly gaps: ReadonlyArray<number>
  readonly seed: number
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  retry: fc.oneof(
    fc.constant(false as const),
    fc.record({
      maxAttempts: fc.integer({ min: 1, max: 4 }),
      initialDelay: fc.integer({ min: 0, max: 300 }),
      jitter: fc.constantFrom("none" as const, "full" as const)
    })
  ),
  breaker: fc.oneof(
    fc.constant(false as const),
    fc.record({ threshold: fc.integer({ min: 1, max: 3 }), openDuration: fc.integer({ min: 100, max: 1500 }) })
  ),
  rateLimit: fc.oneof(
    fc.constant(false as const),
    fc.record({ limit: fc.integer({ min: 1, max: 5 }), maxDelay: fc.integer({ min: 0, max: 800 }) })
  ),
  bulkhead: fc.boolean(),
  attemptTimeout: fc.oneof(fc.constant(false as const), fc.integer({ min: 50, max: 600 })),
  deadline: fc.option(fc.integer({ min: 200, max: 3000 }), { nil: undefined }),
  steps: fc.array(
    fc.record({
      delay: fc.integer({ min: 0, max: 700 }),
      result: fc.constantFrom("ok" as const, "unavailable" as const, "validation" as const, "timeout" as const)
    }),
    { minLength: 1, maxLength: 12 }
  ),
  gaps: fc.array(fc.integer({ min: 0, max: 1200 }), { minLength: 1, maxLength: 10 }),
  seed: fc.integer()
})

/** What a call ended with, as compared: the value, or the failure's tag (and reason when it has one). */
const summary = (exit: Exit.Exit<unknown, unknown>): string => {
  if (Exit.isSuccess(exit)) return `ok:${String(exit.value)}`
  const failure = exit.cause._tag === "Fail" ? exit.cause.error : undefined
  if (failure instanceof Boom) return `boom:${failure.category}`
  if (typeof failure === "object" && failure !== null && "_tag" in failure) {
    const reason = "reason" in failure ? `:${String(failure.reason)}` : ""
    return `${String(failure._tag)}${reason}`
  }
  return `cause:${exit.cause._tag}`
}

/** The operation: each run takes the next step of the script (cyclically), sleeping on the clock. */
const scripted = (steps: ReadonlyArray<Step>) => {
  let runs = 0
  const op = Effect.suspend(() => {
    const step = steps[runs % steps.length] as Step
    runs += 1
    return Effect.zipRight(
      Effect.sleep(Duration.millis(step.delay)),
      step.result === "ok" ? Effect.succeed(runs) : Effect.fail(new Boom({ category: step.result }))
    )
  })
  return { op, runs: () => runs }
}

/** Runs the calls one after another, with the scenario's gaps, moving the TestClock until each ends. */
const drive = <A, E, R>(s: Scenario, call: (n: number) => Effect.Effect<A, E, R>) =>
  Effect.gen(function* () {
    const outcomes: Array<string> = []
    for (let n = 0; n < s.gaps.length; n++) {
      const fiber = yield* Effect.fork(call(n).pipe(Effect.withRandom(Random.make(`${s.seed}:${n}`))))
      let exit = yield* Fiber.poll(fiber)
      for (let guard = 0; Option.isNone(exit) && guard < 10_000; guard++) {
        yield* TestClock.adjust("50 millis")
        exit = yield* Fiber.poll(fiber)
      }
      if (Option.isNone(exit)) return yield* Effect.dieMessage("a call did not end")
      outcomes.push(summary(exit.value))
      yield* TestClock.adjust(Duration.millis(s.gaps[n] as number))
    }
    return outcomes
  })

const breakerConfig = (b: Exclude<Scenario["breaker"], false>, name: string) => ({
  name,
  policy: { _tag: "ConsecutiveFailures", threshold: b.threshold } as const,
  openDuration: b.openDuration
})

const retryConfig = (r: Exclude<Scenario["retry"], false>) => ({
  maxAttempts: r.maxAttempts,
  initialDelay: r.initialDelay,
  throttledInitialDelay: r.initialDelay,
  jitter: r.jitter
})

const limitConfig = (l: Exclude<Scenario["rateLimit"], false>, name: string): RateLimiter.ConfigInput => ({
  name,
  algorithm: "token-bucket",
  limit: l.limit,
  window: "1 second",
  maxDelay: l.maxDelay
})

const viaPipeline = (s: Scenario) =>
  Effect.gen(function* () {
    const { op, runs } = scripted(s.steps)
    const pipeline = yield* Resilience.make({
      operation: "equivalence",
      retry: s.retry === false ? false : retryConfig(s.retry),
      breaker: s.breaker === false ? false : breakerConfig(s.breaker, "equivalence"),
      rateLimit: s.rateLimit === false ? false : limitConfig(s.rateLimit, "equivalence"),
      bulkhead: s.bulkhead ? { maxConcurrent: 1, maxQueue: 1, queueTimeout: 400 } : false,
      attemptTimeout: s.attemptTimeout,
      ...(s.deadline === undefined ? {} : { deadline: s.deadline })
    })
    const outcomes = yield* drive(s, () => pipeline.protect(op))
    const state = pipeline.breaker === undefined ? "none" : (yield* pipeline.breaker.snapshot).state
    return { outcomes, runs: runs(), state }
  })

const viaComposition = (s: Scenario) =>
  Effect.gen(function* () {
    const { op, runs } = scripted(s.steps)
    const operation = "equivalence"
    const breaker = s.breaker === false ? undefined : yield* CircuitBreaker.make(breakerConfig(s.breaker, operation))
    const limiter = s.rateLimit === false ? undefined : yield* RateLimiter.make(limitConfig(s.rateLimit, operation))
    const bulkhead = s.bulkhead
      ? yield* Bulkhead.make({ name: operation, maxConcurrent: 1, maxQueue: 1, queueTimeout: 400 })
      : undefined
    const retryPolicy = s.retry === false ? undefined : yield* RetryPolicy.fromConfig(operation, retryConfig(s.retry))

    const timed = s.attemptTimeout === false ? op : op.pipe(Timeout.protect(s.attemptTimeout, { operation }))
    const inBulkhead = bulkhead === undefined ? timed : timed.pipe(Strategy.protect(bulkhead))
    const limited = limiter === undefined ? inBulkhead : inBulkhead.pipe(Strategy.protect(limiter))
    const guarded = breaker === undefined ? limited : limited.pipe(breaker.protect)
    const retried = retryPolicy === undefined ? guarded : guarded.pipe(RetryPolicy.retry(retryPolicy))
    const call = s.deadline === undefined ? retried : retried.pipe(Deadline.within(s.deadline, { operation }))

    const outcomes = yield* drive(s, () => call)
    const state = breaker === undefined ? "none" : (yield* breaker.snapshot).state
    return { outcomes, runs: runs(), state }
  })

/** Test failures as they say, the runtime's own (DeadlineExceeded, CircuitOpen, ...) as the default classifier says. */
const classifier = Layer.effect(
  Classifier.Classifier,
  Effect.map(Classifier.make(), (fallback) => ({
    classify: (failure: unknown) => (failure instanceof Boom ? classifyBoom(failure) : fallback.classify(failure))
  }))
)

/** Each side on a fresh TestClock, from time zero. */
const fresh = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  effect.pipe(Effect.scoped, Effect.provide(classifier), Effect.provide(TestContext.TestContext))

describe("Resilience pipeline = explicit composition of its strategies", () => {
  it.effect(
    "on random policies and operation scripts (fast-check, TestClock)",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(scenario, async (s) => {
            const [pipeline, composition] = await Effect.runPromise(
              Effect.all([fresh(viaPipeline(s)), fresh(viaComposition(s))])
            )
            expect(pipeline).toEqual(composition)
          }),
          { numRuns: 40, seed: 20261205 }
        )
      ).pipe(Effect.map(identity)),
    120_000
  )
})
