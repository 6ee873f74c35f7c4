/**
 * The pipeline retries a Promise operation outside the Effect run loop when it can (`runPromise`
 * from a Promise, `tryPromise` from its fiber's `Effect.async`): the same retry decisions made
 * synchronously, handing over to the Effect loop for whatever needs an Effect (a delay, an
 * observer, a wait, a refusal, a stop). Here the three ways in (`runPromise`, `tryPromise`, and
 * `protect` of the same operation, which retries in the Effect loop only) run the same random
 * scenarios on identical pipelines under TestClock, and must agree on everything observable: each
 * call's outcome (with the attempt history of `RetriesExhausted`), the operation's runs, the
 * events, the log lines, the metrics and the breaker's state.
 *
 * Also: the steppers of `Backoff`'s unjittered schedules give the same delays as the schedules.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import { identity } from "effect/Function"
import * as HashMap from "effect/HashMap"
import * as Layer from "effect/Layer"
import * as Logger from "effect/Logger"
import * as LogLevel from "effect/LogLevel"
import * as Metric from "effect/Metric"
import * as MetricState from "effect/MetricState"
import * as Option from "effect/Option"
import * as Runtime from "effect/Runtime"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as ScheduleIntervals from "effect/ScheduleIntervals"
import type * as Scope from "effect/Scope"
import * as Stream from "effect/Stream"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import * as fc from "fast-check"
import * as Backoff from "../src/Backoff.js"
import * as Classification from "../src/Classification.js"
import type * as Classifier from "../src/Classifier.js"
import * as Errors from "../src/Errors.js"
import * as Events from "../src/Events.js"
import { stepperOf } from "../src/internal/backoff/schedule.js"
import * as Resilience from "../src/Resilience.js"
import * as RetryBudget from "../src/RetryBudget.js"
import * as RetryPolicy from "../src/RetryPolicy.js"
import { Boom, testClassifier } from "./support/boom.js"

type Result = "ok" | "unavailable" | "throttled" | "validation" | "hang"

interface Step {
  readonly result: Result
  /** Milliseconds the operation takes (on the TestClock). */
  readonly delay: number
  /** A Retry-After on a failure, in milliseconds. */
  readonly retryAfter: number | undefined
}

interface Scenario {
  readonly retry: {
    readonly maxAttempts: number
    readonly backoff: "exponential" | "fibonacci" | "linear" | "constant"
    readonly initialDelay: number
    readonly throttledInitialDelay: number
    readonly maxDelay: number | undefined
    readonly maxElapsed: number | undefined
  }
  readonly breaker: false | { readonly threshold: number; readonly openDuration: number }
  readonly budget: false | { readonly capacity: number }
  readonly attemptTimeout: false | number
  /** The pipeline's own deadline per call. */
  readonly deadline: number | undefined
  /** An event hub and a Debug log level (the loop outside hands every retry over), or neither. */
  readonly observed: boolean
  readonly steps: ReadonlyArray<Step>
  readonly gaps: ReadonlyArray<number>
}

/** Mostly no delay (the loop outside runs whole), sometimes some (it hands over to the Effect loop). */
const someDelay = fc.oneof(
  { weight: 3, arbitrary: fc.constant(0) },
  { weight: 1, arbitrary: fc.integer({ min: 1, max: 300 }) }
)

const anyScenario: fc.Arbitrary<Scenario> = fc.record({
  retry: fc.record({
    maxAttempts: fc.oneof(
      { weight: 1, arbitrary: fc.constant(1) },
      { weight: 4, arbitrary: fc.integer({ min: 2, max: 5 }) }
    ),
    backoff: fc.constantFrom("exponential" as const, "fibonacci" as const, "linear" as const, "constant" as const),
    initialDelay: someDelay,
    throttledInitialDelay: someDelay,
    maxDelay: fc.option(fc.integer({ min: 0, max: 500 }), { nil: undefined }),
    maxElapsed: fc.option(fc.integer({ min: 0, max: 1000 }), { nil: undefined })
  }),
  breaker: fc.oneof(
    fc.constant(false as const),
    fc.record({ threshold: fc.integer({ min: 1, max: 6 }), openDuration: fc.integer({ min: 100, max: 1500 }) })
  ),
  budget: fc.oneof(fc.constant(false as const), fc.record({ capacity: fc.integer({ min: 5, max: 40 }) })),
  attemptTimeout: fc.oneof(fc.constant(false as const), fc.integer({ min: 50, max: 400 })),
  deadline: fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.integer({ min: 100, max: 2000 }) }
  ),
  observed: fc.boolean(),
  steps: fc.array(
    fc.record({
      result: fc.oneof(
        { weight: 4, arbitrary: fc.constant<Result>("ok") },
        { weight: 5, arbitrary: fc.constant<Result>("unavailable") },
        { weight: 2, arbitrary: fc.constant<Result>("throttled") },
        { weight: 1, arbitrary: fc.constant<Result>("validation") },
        { weight: 1, arbitrary: fc.constant<Result>("hang") }
      ),
      delay: fc.oneof(
        { weight: 3, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }) }
      ),
      retryAfter: fc.oneof(
        { weight: 3, arbitrary: fc.constant(undefined) },
        { weight: 1, arbitrary: fc.integer({ min: 0, max: 400 }) }
      )
    }),
    { minLength: 1, maxLength: 12 }
  ),
  gaps: fc.array(fc.integer({ min: 0, max: 1200 }), { minLength: 1, maxLength: 6 })
})

/** An operation hangs only under an attempt timeout or a deadline (else the call would never end). */
const scenario: fc.Arbitrary<Scenario> = anyScenario.map((s) =>
  s.attemptTimeout === false && s.deadline === undefined
    ? {
        ...s,
        steps: s.steps.map((step) => (step.result === "hang" ? { ...step, result: "unavailable" as const } : step))
      }
    : s
)

/** A token bucket shared by name within one path's run (so that the test can read it at the end). */
const budgetConfig = (capacity: number) => ({ name: "loops", capacity, retryCost: 5, timeoutRetryCost: 5 })

interface Line {
  readonly level: string
  readonly message: unknown
  readonly annotations: Record<string, unknown>
}

type Path = "runPromise" | "tryPromise" | "protect"

/** The operation name of one path of one scenario (metrics are global: each run has its own names). */
let runs = 0

/** What a call ended with, the operation's name taken out. */
const summary = (exit: Exit.Exit<unknown, unknown>, operation: string): unknown => {
  if (Exit.isSuccess(exit)) return { ok: exit.value }
  if (exit.cause._tag !== "Fail") return { cause: exit.cause._tag }
  const failure = exit.cause.error
  if (failure instanceof Boom) return { boom: failure.category, retryAfter: failure.retryAfterMillis }
  if (failure instanceof Errors.RetriesExhausted) {
    return { exhausted: failure.reason, attempts: failure.attempts, operation: failure.operation === operation }
  }
  if (typeof failure === "object" && failure !== null && "_tag" in failure) return { error: failure._tag }
  return { failure: String(failure) }
}

/** A counter's value by name and labels, from Effect's registry. */
const counters = (operation: string) =>
  Effect.map(Metric.snapshot, (pairs) => {
    const out: Record<string, number> = {}
    for (const pair of pairs) {
      if (!pair.metricKey.name.startsWith("resilience_")) continue
      const labels = Object.fromEntries(pair.metricKey.tags.map((t) => [t.key, t.value]))
      if (labels.operation !== operation || !MetricState.isCounterState(pair.metricState)) continue
      const rest = pair.metricKey.tags
        .filter((t) => t.key !== "operation")
        .map((t) => `${t.key}=${t.value}`)
        .join(",")
      out[`${pair.metricKey.name}{${rest}}`] = Number(pair.metricState.count)
    }
    return out
  })

/** Replaces the operation's name in events and log lines, so that paths compare. */
const anonymous = (value: unknown, operation: string): unknown =>
  JSON.parse(JSON.stringify(value, (_, v: unknown) => (v === operation ? "op" : v)).replaceAll(operation, "op"))

const run = (s: Scenario, path: Path) =>
  Effect.gen(function* () {
    runs += 1
    const operation = `loops-${runs}-${path}`
    const events: Array<Events.ResilienceEvent> = []
    const lines: Array<Line> = []
    const hub: Layer.Layer<Events.ResilienceEvents> = Layer.succeed(Events.ResilienceEvents, {
      publish: (event) => Effect.sync(() => void events.push(event)),
      subscribe: Effect.succeed(Stream.empty)
    })
    const logger = Logger.replace(
      Logger.defaultLogger,
      Logger.make(({ logLevel, message, annotations }) => {
        // the runtime's own lines (a fiber that failed: runPromise's fiber is one more) carry no annotations
        if (HashMap.size(annotations) > 0) {
          lines.push({ level: logLevel.label, message, annotations: Object.fromEntries(annotations) })
        }
      })
    )
    const observers = s.observed
      ? Layer.mergeAll(hub, logger, Logger.minimumLogLevel(LogLevel.Debug))
      : Layer.mergeAll(logger, Logger.minimumLogLevel(LogLevel.Info))
    return yield* Effect.gen(function* () {
      const runtime = yield* Effect.runtime<never>()
      const sleep = (millis: number) => Runtime.runPromise(runtime)(Effect.sleep(Duration.millis(millis)))
      let calls = 0
      // each run takes the next step of the script (cyclically); a `hang` waits for its timer
      const evaluate = async (): Promise<number> => {
        const step = s.steps[calls % s.steps.length] as Step
        calls += 1
        if (step.result === "hang") return new Promise<number>(() => {})
        if (step.delay > 0) await sleep(step.delay)
        if (step.result === "ok") return calls
        throw new Boom({ category: step.result, retryAfterMillis: step.retryAfter })
      }
      const pipeline = yield* Resilience.make({
        operation,
        retry: {
          maxAttempts: s.retry.maxAttempts,
          backoff: s.retry.backoff,
          initialDelay: s.retry.initialDelay,
          throttledInitialDelay: s.retry.throttledInitialDelay,
          jitter: "none",
          ...(s.retry.maxDelay === undefined ? {} : { maxDelay: s.retry.maxDelay }),
          ...(s.retry.maxElapsed === undefined ? {} : { maxElapsed: s.retry.maxElapsed })
        },
        breaker:
          s.breaker === false
            ? false
            : {
                name: "loops",
                policy: { _tag: "ConsecutiveFailures", threshold: s.breaker.threshold },
                openDuration: s.breaker.openDuration
              },
        retryBudget: s.budget === false ? false : budgetConfig(s.budget.capacity),
        attemptTimeout: s.attemptTimeout,
        ...(s.deadline === undefined ? {} : { deadline: s.deadline })
      })
      const call: Effect.Effect<number, unknown> =
        path === "runPromise"
          ? Effect.tryPromise({ try: () => pipeline.runPromise(evaluate), catch: identity })
          : path === "tryPromise"
            ? pipeline.tryPromise({ try: evaluate, catch: identity })
            : pipeline.protect(Effect.tryPromise({ try: evaluate, catch: identity }))
      const outcomes: Array<unknown> = []
      for (const gap of s.gaps) {
        const fiber = yield* Effect.fork(call)
        // Promise callbacks run between the clock's moves
        const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
        yield* turn
        let exit = yield* Fiber.poll(fiber)
        for (let guard = 0; Option.isNone(exit) && guard < 600; guard++) {
          yield* TestClock.adjust("10 millis")
          yield* turn
          exit = yield* Fiber.poll(fiber)
        }
        if (Option.isNone(exit)) {
          yield* Fiber.interrupt(fiber)
          outcomes.push("did not end")
        } else outcomes.push(summary(exit.value, operation))
        yield* TestClock.adjust(Duration.millis(gap))
        yield* turn
      }
      const breaker = pipeline.breaker === undefined ? "none" : (yield* pipeline.breaker.snapshot).state
      const registry = yield* RetryBudget.Registry
      const budget =
        s.budget === false ? "none" : (yield* registry.get("loops", budgetConfig(s.budget.capacity))).available()
      // a breaker publishes and logs its transitions from a fiber of its own: in order among
      // themselves, but not with the call's lines
      const fromBreaker = (line: Line) => "breaker" in line.annotations
      return anonymous(
        {
          outcomes,
          calls,
          breaker,
          budget,
          events: events.filter((e) => e._tag !== "BreakerTransition"),
          transitions: events.filter((e) => e._tag === "BreakerTransition"),
          lines: lines.filter((l) => !fromBreaker(l)),
          breakerLines: lines.filter(fromBreaker),
          metrics: yield* counters(operation)
        },
        operation
      )
    }).pipe(Effect.provide(Layer.merge(observers, RetryBudget.layerRegistry)))
  })

/** Each path on a fresh TestClock, from time zero. */
const fresh = <A, E>(effect: Effect.Effect<A, E, Scope.Scope | Classifier.Classifier>) =>
  effect.pipe(Effect.scoped, Effect.provide(testClassifier), Effect.provide(TestContext.TestContext))

describe("retry loops outside the Effect runtime = the Effect loop", () => {
  it.effect(
    "runPromise, tryPromise and protect agree on random policies and scripts (fast-check, TestClock)",
    () =>
      Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(scenario, async (s) => {
            const [viaRunPromise, viaTryPromise, viaProtect] = await Effect.runPromise(
              Effect.all([fresh(run(s, "runPromise")), fresh(run(s, "tryPromise")), fresh(run(s, "protect"))])
            )
            expect(viaRunPromise).toEqual(viaProtect)
            expect(viaTryPromise).toEqual(viaProtect)
          }),
          { numRuns: 40, seed: 20261205 }
        )
      ),
    120_000
  )
})

describe("steppers of Backoff's schedules", () => {
  const config = fc.record({
    backoff: fc.constantFrom("exponential" as const, "fibonacci" as const, "linear" as const, "constant" as const),
    initialDelay: fc.double({ min: 0, max: 5000, noNaN: true }),
    factor: fc.double({ min: 1, max: 4, noNaN: true }),
    maxDelay: fc.option(fc.double({ min: 0, max: 20_000, noNaN: true }), { nil: undefined }),
    maxElapsed: fc.option(fc.double({ min: 0, max: 60_000, noNaN: true }), { nil: undefined })
  })
  const times = fc.tuple(
    fc.double({ min: 0, max: 2e12, noNaN: true }),
    fc.array(fc.double({ min: 0, max: 10_000, noNaN: true }), { minLength: 1, maxLength: 30 })
  )

  it("give the schedules' own next start, to the bit, until the schedule is done", () =>
    fc.assert(
      fc.property(config, times, (c, [start, gaps]) => {
        const policy = RetryPolicy.fromDecoded("stepper", {
          ...RetryPolicy.defaultConfig,
          backoff: c.backoff,
          initialDelay: Duration.millis(c.initialDelay),
          factor: c.factor,
          maxDelay: c.maxDelay === undefined ? Duration.infinity : Duration.millis(c.maxDelay),
          jitter: "none",
          ...(c.maxElapsed === undefined ? {} : { maxElapsed: Duration.millis(c.maxElapsed) })
        })
        const schedule = policy.schedule
        const stepper = stepperOf(schedule)
        if (stepper === undefined) return expect.unreachable("an unjittered schedule has a stepper")
        const cursor = stepper.start()
        const input = { error: "x", classification: Classification.unknown, attempt: 1 }
        let state: unknown = schedule.initial
        let now = start
        for (const gap of gaps) {
          now += gap
          const [next, , decision] = Effect.runSync(schedule.step(now, input, state))
          const expected = ScheduleDecision.isDone(decision) ? undefined : ScheduleIntervals.start(decision.intervals)
          expect(cursor.next(now)).toBe(expected)
          if (expected === undefined) break
          state = next
        }
      }),
      { numRuns: 500, seed: 20261205 }
    ))

  it("only unjittered ones have one: a jittered, decorrelated or other schedule is stepped as an Effect", () => {
    expect(stepperOf(Backoff.exponential("10 millis"))).toBeDefined()
    expect(stepperOf(Backoff.exponential("10 millis").pipe(Backoff.jitter("none")))).toBeDefined()
    expect(stepperOf(Backoff.exponential("10 millis").pipe(Backoff.jitter("full")))).toBeUndefined()
    expect(stepperOf(Backoff.decorrelated({ base: "10 millis", cap: "1 second" }))).toBeUndefined()
    expect(stepperOf(Backoff.defaultSchedule)).toBeUndefined()
    expect(stepperOf(RetryPolicy.fromDecoded("default").schedule)).toBeUndefined()
  })
})

describe("tryPromise's retries outside the run loop, interrupted", () => {
  const turn = Effect.promise(() => new Promise<void>((resolve) => setImmediate(resolve)))
  const fastRetry = { maxAttempts: 4, initialDelay: 0, throttledInitialDelay: 0, jitter: "none" } as const

  /** A second attempt held open until the test fails it; the first fails at once. */
  const held = (takesSignal: boolean) => {
    let calls = 0
    let fail: (error: unknown) => void = () => {}
    let aborted = false
    const run = (signal: AbortSignal | undefined): Promise<number> => {
      calls += 1
      if (calls === 1) return Promise.reject(new Boom({ category: "unavailable" }))
      signal?.addEventListener("abort", () => {
        aborted = true
      })
      return new Promise<number>((_, reject) => {
        fail = reject
      })
    }
    const evaluate = takesSignal ? (signal: AbortSignal) => run(signal) : () => run(undefined)
    return { evaluate, calls: () => calls, fail: (e: unknown) => fail(e), aborted: () => aborted }
  }

  for (const path of ["tryPromise", "protect"] as const) {
    it.scoped(`${path}: no attempt starts after the interruption; one that takes the signal is aborted`, () =>
      Effect.gen(function* () {
        for (const takesSignal of [false, true]) {
          const pipeline = yield* Resilience.make({ operation: `interrupted-${path}-${takesSignal}`, retry: fastRetry })
          const op = held(takesSignal)
          const call =
            path === "tryPromise"
              ? pipeline.tryPromise({ try: op.evaluate, catch: identity })
              : pipeline.protect(Effect.tryPromise({ try: op.evaluate, catch: identity }))
          const fiber = yield* Effect.fork(call)
          for (let i = 0; i < 10 && op.calls() < 2; i++) yield* turn
          expect(op.calls()).toBe(2)
          const exit = yield* Fiber.interrupt(fiber)
          expect(Exit.isInterrupted(exit)).toBe(true)
          expect(op.aborted()).toBe(takesSignal)
          // the held attempt fails after the interruption: nothing retries it
          op.fail(new Boom({ category: "unavailable" }))
          for (let i = 0; i < 5; i++) yield* turn
          expect(op.calls()).toBe(2)
        }
      }).pipe(Effect.provide(testClassifier))
    )
  }
})

describe("the retry loop with and without steppers", () => {
  /** The same schedule, without its stepper (stepped as an Effect, as a user's own schedule is). */
  const withoutStepper = <Out, In, R>(schedule: Schedule.Schedule<Out, In, R>): Schedule.Schedule<Out, In, R> =>
    Schedule.makeWithState(schedule.initial, schedule.step)

  it.effect("gives the same delays and attempt history, each category's schedule keeping its own state", () =>
    Effect.gen(function* () {
      const categories = [
        "unavailable",
        "throttled",
        "unavailable",
        "unavailable",
        "throttled",
        "throttled",
        "unavailable"
      ] as const
      const policy = RetryPolicy.fromDecoded("steppers", {
        ...RetryPolicy.defaultConfig,
        maxAttempts: categories.length,
        backoff: "fibonacci",
        initialDelay: Duration.millis(10),
        throttledInitialDelay: Duration.millis(70),
        maxDelay: Duration.millis(400),
        jitter: "none"
      })
      const throttled = policy.byCategory.throttled
      if (throttled === undefined) return expect.unreachable("a throttled schedule")
      const stripped: RetryPolicy.RetryPolicy = {
        ...policy,
        schedule: withoutStepper(policy.schedule),
        byCategory: { throttled: withoutStepper(throttled) }
      }
      expect(stepperOf(policy.schedule)).toBeDefined()
      expect(stepperOf(stripped.schedule)).toBeUndefined()
      const history = (p: RetryPolicy.RetryPolicy) =>
        Effect.gen(function* () {
          let n = 0
          const op = Effect.suspend(() =>
            Effect.fail(new Boom({ category: categories[n++ % categories.length] ?? "unavailable" }))
          )
          const fiber = yield* Effect.fork(Effect.flip(RetryPolicy.retry(op, p)))
          let exit = yield* Fiber.poll(fiber)
          for (let i = 0; Option.isNone(exit) && i < 1000; i++) {
            yield* TestClock.adjust("10 millis")
            exit = yield* Fiber.poll(fiber)
          }
          const error = Option.isSome(exit) && Exit.isSuccess(exit.value) ? exit.value.value : undefined
          if (!(error instanceof Errors.RetriesExhausted)) return expect.unreachable(String(error))
          return error.attempts.map((a) => [a.attempt, a.classification.category, a.delayMillis, a.atMillis])
        }).pipe(Effect.provide(TestContext.TestContext))
      const stepped = yield* history(policy)
      expect(stepped).toEqual(yield* history(stripped))
      // fibonacci from 10 ms for unavailable, from 70 ms for throttled, each at its own step
      expect(stepped.map(([, , delay]) => delay)).toEqual([10, 70, 10, 20, 70, 140, undefined])
    }).pipe(Effect.provide(testClassifier))
  )
})
