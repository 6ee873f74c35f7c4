import { describe, expect, it } from "@effect/vitest"
import * as Cause from "effect/Cause"
import * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as Schedule from "effect/Schedule"
import * as ScheduleDecision from "effect/ScheduleDecision"
import * as Intervals from "effect/ScheduleIntervals"
import * as TestClock from "effect/TestClock"
import * as fc from "fast-check"
import * as Backoff from "../src/Backoff.js"
import * as Classification from "../src/Classification.js"
import * as Deadline from "../src/Deadline.js"

/**
 * Steps a schedule with a simulated clock that starts at `start` and moves to the end of each delay
 * before the next step. Returns the delays (ms) and the outputs, until the schedule is done or `n`
 * steps were taken.
 */
const stepSchedule = <Out, In, R>(
  schedule: Schedule.Schedule<Out, In, R>,
  n: number,
  input: (attempt: number) => In,
  start = 0
) =>
  Effect.gen(function* () {
    let state = schedule.initial
    let now = start
    const delays: Array<number> = []
    const outputs: Array<Out> = []
    for (let attempt = 1; attempt <= n; attempt++) {
      const [next, out, decision] = yield* schedule.step(now, input(attempt), state)
      if (ScheduleDecision.isDone(decision)) break
      const delay = Intervals.start(decision.intervals) - now
      delays.push(delay)
      outputs.push(out)
      now += delay
      state = next
    }
    return { delays, outputs }
  })

const delaysOf = <Out, R>(schedule: Schedule.Schedule<Out, unknown, R>, n: number) =>
  Effect.map(
    stepSchedule(schedule, n, () => undefined),
    (r) => r.delays
  )

const seeded = <A, E>(seed: number, self: Effect.Effect<A, E>): A =>
  Effect.runSync(self.pipe(Effect.withRandom(Random.make(seed))))

/**
 * Runs `Effect.retry(schedule)` on an effect that always fails with `error(attempt)`, under the
 * TestClock, for `horizon` of simulated time. Returns the time of every attempt (from the start) and, when the retry
 * gave up, the time it did and the error it gave up with.
 */
const retryTimes = <E, Out, R>(
  schedule: Schedule.Schedule<Out, E, R>,
  error: (attempt: number) => E,
  horizon: Duration.DurationInput = "1 hour"
) =>
  Effect.gen(function* () {
    const start = yield* Clock.currentTimeMillis
    const times: Array<number> = []
    let gaveUpAt: number | undefined
    const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => {
      times.push(now - start)
      return Effect.fail(error(times.length))
    })
    const fiber = yield* Effect.fork(
      Effect.retry(attempt, schedule).pipe(
        Effect.tapError(() =>
          Effect.map(Clock.currentTimeMillis, (now) => {
            gaveUpAt = now - start
          })
        )
      )
    )
    yield* TestClock.adjust(horizon)
    const exit = yield* Fiber.interrupt(fiber)
    const failure = Exit.isFailure(exit) ? Cause.failureOption(exit.cause) : Option.none()
    return { times, gaveUpAt, failure: Option.getOrUndefined(failure) }
  })

const conflict = Classification.make({ category: "concurrency", code: "conflict", message: "Conflict" })

const retryInput = (attempt: number, retryAfter?: Duration.DurationInput): Backoff.RetryInput<string> => ({
  error: "boom",
  attempt,
  classification:
    retryAfter === undefined ? conflict : Classification.withRetryAfter(conflict, Duration.decode(retryAfter))
})

describe("Backoff constructors: exact delays", () => {
  it.effect("exponential doubles from base", () =>
    Effect.gen(function* () {
      expect(yield* delaysOf(Backoff.exponential("100 millis"), 6)).toEqual([100, 200, 400, 800, 1600, 3200])
      expect(yield* delaysOf(Backoff.exponential("10 millis", 3), 4)).toEqual([10, 30, 90, 270])
    })
  )

  it.effect("fibonacci, linear and constant", () =>
    Effect.gen(function* () {
      expect(yield* delaysOf(Backoff.fibonacci("10 millis"), 7)).toEqual([10, 10, 20, 30, 50, 80, 130])
      expect(yield* delaysOf(Backoff.linear("100 millis"), 4)).toEqual([100, 200, 300, 400])
      expect(yield* delaysOf(Backoff.constant("250 millis"), 3)).toEqual([250, 250, 250])
      expect(yield* delaysOf(Backoff.constant(0), 3)).toEqual([0, 0, 0])
    })
  )

  it.effect("outputs are the delays", () =>
    Effect.gen(function* () {
      const { outputs } = yield* stepSchedule(Backoff.exponential("100 millis"), 3, () => undefined)
      expect(outputs.map(Duration.toMillis)).toEqual([100, 200, 400])
    })
  )

  it.effect("Effect.retry under the TestClock attempts at the exact times", () =>
    Effect.gen(function* () {
      const exp = yield* retryTimes(Backoff.exponential("100 millis").pipe(Backoff.maxAttempts(5)), () => "boom")
      expect(exp.times).toEqual([0, 100, 300, 700, 1500])
      expect(exp.gaveUpAt).toBe(1500)
      expect(exp.failure).toBe("boom")
      const fib = yield* retryTimes(Backoff.fibonacci("10 millis").pipe(Backoff.maxAttempts(6)), () => "boom")
      expect(fib.times).toEqual([0, 10, 20, 40, 70, 120])
      const lin = yield* retryTimes(Backoff.linear("1 second").pipe(Backoff.maxAttempts(4)), () => "boom")
      expect(lin.times).toEqual([0, 1000, 3000, 6000])
    })
  )

  it.effect("repeat works too (plain Schedules)", () =>
    Effect.gen(function* () {
      const times: Array<number> = []
      const fiber = yield* Effect.fork(
        Effect.repeat(
          Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.sync(() => times.push(now))),
          Backoff.linear("10 millis").pipe(Backoff.maxAttempts(4))
        )
      )
      yield* TestClock.adjust("1 second")
      yield* Fiber.join(fiber)
      expect(times).toEqual([0, 10, 30, 60])
    })
  )
})

describe("Backoff limits", () => {
  it.effect("capped keeps delays at or under the cap", () =>
    Effect.gen(function* () {
      expect(yield* delaysOf(Backoff.exponential("100 millis").pipe(Backoff.capped("500 millis")), 6)).toEqual([
        100, 200, 400, 500, 500, 500
      ])
      expect(yield* delaysOf(Backoff.capped(Backoff.fibonacci("1 second"), "2500 millis"), 6)).toEqual([
        1000, 1000, 2000, 2500, 2500, 2500
      ])
    })
  )

  it.effect("maxAttempts counts the first attempt", () =>
    Effect.gen(function* () {
      const three = yield* retryTimes(Backoff.constant("10 millis").pipe(Backoff.maxAttempts(3)), () => "boom")
      expect(three.times).toEqual([0, 10, 20])
      const one = yield* retryTimes(Backoff.constant("10 millis").pipe(Backoff.maxAttempts(1)), () => "boom")
      expect(one.times).toEqual([0])
      expect(one.gaveUpAt).toBe(0)
    })
  )

  it.effect("maxElapsed never sleeps past the limit", () =>
    Effect.gen(function* () {
      // failures at 0, 100, 300, 700: the next would start at 1500 > 1000
      const r = yield* retryTimes(Backoff.exponential("100 millis").pipe(Backoff.maxElapsed("1 second")), () => "boom")
      expect(r.times).toEqual([0, 100, 300, 700])
      expect(r.gaveUpAt).toBe(700)
      // a retry that starts exactly at the limit is allowed
      const exact = yield* retryTimes(Backoff.constant("250 millis").pipe(Backoff.maxElapsed("1 second")), () => "boom")
      expect(exact.times).toEqual([0, 250, 500, 750, 1000])
    })
  )

  it.effect("maxElapsed is measured from the first failure", () =>
    Effect.gen(function* () {
      const { delays } = yield* stepSchedule(
        Backoff.constant("300 millis").pipe(Backoff.maxElapsed("1 second")),
        10,
        () => undefined,
        5_000
      )
      expect(delays).toEqual([300, 300, 300])
    })
  )
})

describe("Backoff jitter", () => {
  const seedArb = fc.integer({ min: 0, max: 2 ** 31 - 1 })
  const baseArb = fc.integer({ min: 1, max: 10_000 })
  const stepsArb = fc.integer({ min: 1, max: 16 })
  const tolerance = 1e-9

  const nominal = (base: number, k: number) => base * 2 ** k

  it("full jitter is in [0, d]", () => {
    fc.assert(
      fc.property(seedArb, baseArb, stepsArb, (seed, base, steps) => {
        const delays = seeded(seed, delaysOf(Backoff.exponential(base).pipe(Backoff.jitter("full")), steps))
        expect(delays).toHaveLength(steps)
        delays.forEach((d, k) => {
          expect(d).toBeGreaterThanOrEqual(0)
          expect(d).toBeLessThanOrEqual(nominal(base, k) + tolerance)
        })
      })
    )
  })

  it("equal jitter is in [d/2, d]", () => {
    fc.assert(
      fc.property(seedArb, baseArb, stepsArb, (seed, base, steps) => {
        const delays = seeded(seed, delaysOf(Backoff.exponential(base).pipe(Backoff.jitter("equal")), steps))
        delays.forEach((d, k) => {
          expect(d).toBeGreaterThanOrEqual(nominal(base, k) / 2 - tolerance)
          expect(d).toBeLessThanOrEqual(nominal(base, k) + tolerance)
        })
      })
    )
  })

  it("proportional jitter is in [d(1-x), d(1+x)]", () => {
    fc.assert(
      fc.property(seedArb, baseArb, stepsArb, fc.double({ min: 0, max: 1, noNaN: true }), (seed, base, steps, x) => {
        const delays = seeded(
          seed,
          delaysOf(Backoff.exponential(base).pipe(Backoff.jitter({ proportional: x })), steps)
        )
        delays.forEach((d, k) => {
          const n = nominal(base, k)
          expect(d).toBeGreaterThanOrEqual(n * (1 - x) - n * tolerance)
          expect(d).toBeLessThanOrEqual(n * (1 + x) + n * tolerance)
        })
      })
    )
  })

  it("decorrelated is in [base, min(cap, 3 * previous)]", () => {
    fc.assert(
      fc.property(
        seedArb,
        baseArb,
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 1, max: 40 }),
        (seed, base, extraCap, steps) => {
          const cap = base + extraCap
          const delays = seeded(seed, delaysOf(Backoff.decorrelated({ base, cap }), steps))
          expect(delays).toHaveLength(steps)
          let previous = base
          for (const d of delays) {
            expect(d).toBeGreaterThanOrEqual(base - tolerance)
            expect(d).toBeLessThanOrEqual(Math.min(cap, 3 * previous) + tolerance)
            previous = d
          }
        }
      )
    )
  })

  it("exact jittered and decorrelated delays for known random draws", () => {
    const fixed = <A, E>(self: Effect.Effect<A, E>): A =>
      Effect.runSync(self.pipe(Effect.withRandom(Random.fixed([0.5, 0.25, 0, 0.75]))))
    const exp = Backoff.exponential("100 millis")
    expect(fixed(delaysOf(exp.pipe(Backoff.jitter("full")), 4))).toEqual([50, 50, 0, 600])
    expect(fixed(delaysOf(exp.pipe(Backoff.jitter("equal")), 4))).toEqual([75, 125, 200, 700])
    expect(fixed(delaysOf(exp.pipe(Backoff.jitter({ proportional: 0.2 })), 4))).toEqual([100, 180, 320, 880])
    // min(cap, base + r * (3 * previous - base)), previous starting at base
    expect(fixed(delaysOf(Backoff.decorrelated({ base: "10 millis", cap: "100 millis" }), 5))).toEqual([
      20, 22.5, 10, 25, 42.5
    ])
    expect(fixed(delaysOf(Backoff.decorrelated({ base: "10 millis", cap: "30 millis" }), 5))).toEqual([
      20, 22.5, 10, 25, 30
    ])
  })

  it("jitter really spreads delays (means over many draws)", () => {
    const draws = (mode: Backoff.Jitter) =>
      seeded(7, delaysOf(Backoff.constant(1000).pipe(Backoff.jitter(mode)), 4000)).reduce((a, b) => a + b, 0) / 4000
    expect(draws("none")).toBe(1000)
    expect(draws("full")).toBeGreaterThan(470)
    expect(draws("full")).toBeLessThan(530)
    expect(draws("equal")).toBeGreaterThan(735)
    expect(draws("equal")).toBeLessThan(765)
    expect(draws({ proportional: 0.2 })).toBeGreaterThan(985)
    expect(draws({ proportional: 0.2 })).toBeLessThan(1015)
    const spread = seeded(7, delaysOf(Backoff.constant(1000).pipe(Backoff.jitter("full")), 100))
    expect(new Set(spread).size).toBe(100)
  })

  it("decorrelated draws uniformly in [base, 3 * previous]", () => {
    // far from the cap, u = (d - base) / (3 * previous - base) should be uniform in [0, 1)
    const base = 1
    const delays = seeded(5, delaysOf(Backoff.decorrelated({ base, cap: 1e300 }), 400))
    let previous = base
    const us = delays.map((d) => {
      const u = (d - base) / (3 * previous - base)
      previous = d
      return u
    })
    const mean = us.reduce((a, b) => a + b, 0) / us.length
    expect(mean).toBeGreaterThan(0.45)
    expect(mean).toBeLessThan(0.55)
    expect(us.filter((u) => u > 0.9).length).toBeGreaterThan(20)
    expect(us.filter((u) => u < 0.1).length).toBeGreaterThan(20)
  })

  it("jitter and capped apply to Effect's own schedules", () => {
    const spaced = seeded(11, delaysOf(Schedule.spaced("1 second").pipe(Backoff.jitter("equal")), 50))
    expect(spaced).toHaveLength(50)
    for (const d of spaced) {
      expect(d).toBeGreaterThanOrEqual(500)
      expect(d).toBeLessThanOrEqual(1000)
    }
    expect(new Set(spaced).size).toBe(50)
    const exp = seeded(
      11,
      delaysOf(Schedule.exponential("100 millis").pipe(Backoff.capped("1 second"), Backoff.jitter("full")), 8)
    )
    exp.forEach((d, k) => {
      expect(d).toBeGreaterThanOrEqual(0)
      expect(d).toBeLessThanOrEqual(Math.min(1000, 100 * 2 ** k))
    })
  })

  it("the same seed gives the same delays, another seed others", () => {
    const schedule = Backoff.exponential("5 millis").pipe(Backoff.capped("2 seconds"), Backoff.jitter("full"))
    const decorrelated = Backoff.decorrelated({ base: "5 millis", cap: "2 seconds" })
    fc.assert(
      fc.property(seedArb, (seed) => {
        expect(seeded(seed, delaysOf(schedule, 12))).toEqual(seeded(seed, delaysOf(schedule, 12)))
        expect(seeded(seed, delaysOf(decorrelated, 12))).toEqual(seeded(seed, delaysOf(decorrelated, 12)))
        expect(seeded(seed, delaysOf(schedule, 12))).not.toEqual(seeded(seed + 1, delaysOf(schedule, 12)))
      })
    )
  })

  it.effect("seeded jitter under Effect.retry and the TestClock", () =>
    Effect.gen(function* () {
      const schedule = Backoff.exponential("100 millis").pipe(Backoff.jitter("equal"), Backoff.maxAttempts(4))
      const a = yield* retryTimes(schedule, () => "boom").pipe(Effect.withRandom(Random.make("seed")))
      const b = yield* retryTimes(schedule, () => "boom").pipe(Effect.withRandom(Random.make("seed")))
      expect(a.times).toHaveLength(4)
      expect(b.times).toHaveLength(4)
      a.times.forEach((t, k) => {
        expect(b.times[k]).toBeCloseTo(t, 3)
      })
      const gaps = a.times.slice(1).map((t, i) => t - (a.times[i] ?? 0))
      gaps.forEach((g, k) => {
        expect(g).toBeGreaterThanOrEqual(50 * 2 ** k)
        expect(g).toBeLessThanOrEqual(100 * 2 ** k)
      })
    })
  )
})

describe("Backoff.withinDeadline", () => {
  const withDeadline = (deadline: number) => Effect.locally(Deadline.currentDeadline, Option.some(deadline))

  it.effect("stops instead of sleeping past the deadline", () =>
    Effect.gen(function* () {
      const schedule = Backoff.constant("100 millis").pipe(Backoff.withinDeadline)
      const r = yield* retryTimes(schedule, () => "boom").pipe(withDeadline(350))
      expect(r.times).toEqual([0, 100, 200, 300])
      // gave up at once, with the last error, rather than sleeping until 400
      expect(r.gaveUpAt).toBe(300)
      expect(r.failure).toBe("boom")
    })
  )

  it.effect("a retry that would start exactly at the deadline is not made", () =>
    Effect.gen(function* () {
      const schedule = Backoff.constant("100 millis").pipe(Backoff.withinDeadline)
      const r = yield* retryTimes(schedule, () => "boom").pipe(withDeadline(300))
      expect(r.times).toEqual([0, 100, 200])
      expect(r.gaveUpAt).toBe(200)
    })
  )

  it.effect("without a deadline the schedule is unchanged", () =>
    Effect.gen(function* () {
      const schedule = Backoff.exponential("100 millis").pipe(Backoff.withinDeadline, Backoff.maxAttempts(5))
      const r = yield* retryTimes(schedule, () => "boom")
      expect(r.times).toEqual([0, 100, 300, 700, 1500])
    })
  )

  it.effect("with Deadline.within the call ends with the last error before the deadline", () =>
    Effect.gen(function* () {
      const schedule = Backoff.exponential("100 millis").pipe(Backoff.withinDeadline)
      const times: Array<number> = []
      const attempt = Effect.flatMap(Clock.currentTimeMillis, (now) => {
        times.push(now)
        return Effect.fail("boom")
      })
      const fiber = yield* Effect.fork(Effect.retry(attempt, schedule).pipe(Deadline.within("1 second"), Effect.flip))
      yield* TestClock.adjust("10 seconds")
      const error = yield* Fiber.join(fiber)
      expect(error).toBe("boom")
      expect(times).toEqual([0, 100, 300, 700])
    })
  )
})

describe("Backoff.withRetryAfter", () => {
  const stepWith = (
    backoff: Schedule.Schedule<Duration.Duration>,
    retryAfter: Duration.DurationInput | undefined,
    extra?: Duration.DurationInput
  ) =>
    Effect.map(
      stepSchedule(
        extra === undefined ? Backoff.withRetryAfter(backoff) : backoff.pipe(Backoff.withRetryAfter({ extra })),
        3,
        (attempt) => retryInput(attempt, retryAfter)
      ),
      (r) => r.delays
    )

  it.effect("a shorter backoff is raised to Retry-After", () =>
    Effect.gen(function* () {
      expect(yield* stepWith(Backoff.constant("100 millis"), "1 second")).toEqual([1000, 1000, 1000])
    })
  )

  it.effect("but never more than backoff + extra (5 s by default)", () =>
    Effect.gen(function* () {
      expect(yield* stepWith(Backoff.constant("100 millis"), "1 minute")).toEqual([5100, 5100, 5100])
      expect(yield* stepWith(Backoff.constant("100 millis"), "1 minute", "2 seconds")).toEqual([2100, 2100, 2100])
      expect(yield* stepWith(Backoff.exponential("1 second"), "1 minute", "1 second")).toEqual([2000, 3000, 5000])
    })
  )

  it.effect("a longer backoff or no Retry-After is left alone", () =>
    Effect.gen(function* () {
      expect(yield* stepWith(Backoff.constant("2 seconds"), "500 millis")).toEqual([2000, 2000, 2000])
      expect(yield* stepWith(Backoff.exponential("100 millis"), undefined)).toEqual([100, 200, 400])
    })
  )

  it.effect("reads each failure's own Retry-After under Effect.retry", () =>
    Effect.gen(function* () {
      const schedule = Backoff.exponential("100 millis").pipe(
        Backoff.withRetryAfter({ extra: "5 seconds" }),
        Backoff.maxAttempts(4)
      )
      // the second failure says Retry-After 3 s; the others say nothing
      const r = yield* retryTimes(schedule, (attempt) => retryInput(attempt, attempt === 2 ? "3 seconds" : undefined))
      expect(r.times).toEqual([0, 100, 3100, 3500])
    })
  )

  it("accepts schedules over unknown and over RetryInput (types)", () => {
    const overUnknown: Schedule.Schedule<
      Duration.Duration,
      { readonly classification: Classification.Classification }
    > = Backoff.withRetryAfter(Backoff.exponential("1 second"))
    const overInput: Schedule.Schedule<Duration.Duration, Backoff.RetryInput<Error>> = Backoff.exponential(
      "1 second"
    ).pipe(
      Schedule.whileInput((input: Backoff.RetryInput<Error>) => input.attempt < 3),
      Backoff.withRetryAfter()
    )
    expect(Schedule.isSchedule(overUnknown)).toBe(true)
    expect(Schedule.isSchedule(overInput)).toBe(true)
  })
})

describe("composition with Effect's combinators", () => {
  it.effect("union takes the shorter delay and recurs while either does", () =>
    Effect.gen(function* () {
      const s = Schedule.union(
        Backoff.exponential("100 millis"),
        Backoff.constant("250 millis").pipe(Backoff.maxAttempts(3))
      )
      expect(yield* delaysOf(s, 5)).toEqual([100, 200, 400, 800, 1600])
      const limited = Schedule.union(
        Backoff.exponential("100 millis").pipe(Backoff.maxAttempts(5)),
        Backoff.constant("250 millis")
      )
      expect(yield* delaysOf(limited, 5)).toEqual([100, 200, 250, 250, 250])
    })
  )

  it.effect("intersect takes the longer delay and stops when either does", () =>
    Effect.gen(function* () {
      const s = Schedule.intersect(
        Backoff.exponential("100 millis"),
        Backoff.constant("250 millis").pipe(Backoff.maxAttempts(4))
      )
      expect(yield* delaysOf(s, 10)).toEqual([250, 250, 400])
    })
  )

  it.effect("andThen runs one backoff after the other", () =>
    Effect.gen(function* () {
      const s = Schedule.andThen(
        Backoff.constant("10 millis").pipe(Backoff.maxAttempts(3)),
        Backoff.exponential("100 millis").pipe(Backoff.maxAttempts(3))
      )
      expect(yield* delaysOf(s, 10)).toEqual([10, 10, 100, 200])
    })
  )

  it.effect("recurUntil stops on a fatal input", () =>
    Effect.gen(function* () {
      const s = Schedule.intersect(
        Backoff.exponential("100 millis"),
        Schedule.recurUntil((input: Backoff.RetryInput<string>) => input.error === "fatal")
      )
      const r = yield* retryTimes(s, (attempt) => ({ ...retryInput(attempt), error: attempt === 3 ? "fatal" : "boom" }))
      expect(r.times).toEqual([0, 100, 300])
      expect(r.failure?.error).toBe("fatal")
    })
  )

  it.effect("whileInput retries only retryable classifications", () =>
    Effect.gen(function* () {
      const s = Backoff.exponential("100 millis").pipe(
        Backoff.jitter("none"),
        Schedule.whileInput((input: Backoff.RetryInput) => input.classification.retryable)
      )
      const notRetryable = Classification.make({ category: "validation", code: "bad", message: "Bad input" })
      const r = yield* retryTimes(s, (attempt) =>
        attempt === 4 ? { ...retryInput(attempt), classification: notRetryable } : retryInput(attempt)
      )
      expect(r.times).toEqual([0, 100, 300, 700])
      expect(r.gaveUpAt).toBe(700)
    })
  )

  it.effect("a full retry pipeline: jitter, cap, Retry-After, deadline, attempts", () =>
    Effect.gen(function* () {
      const schedule = Backoff.exponential("100 millis").pipe(
        Backoff.capped("1 second"),
        Backoff.jitter("full"),
        Schedule.whileInput((input: Backoff.RetryInput<string>) => input.classification.retryable),
        Backoff.withRetryAfter({ extra: "2 seconds" }),
        Backoff.withinDeadline,
        Backoff.maxAttempts(10)
      )
      const r = yield* retryTimes(schedule, (attempt) => retryInput(attempt, "1500 millis")).pipe(
        Effect.locally(Deadline.currentDeadline, Option.some(5_000)),
        Effect.withRandom(Random.make(1))
      )
      // Retry-After 1.5 s is within backoff + 2 s, so every gap is exactly 1.5 s, until the deadline
      expect(r.times).toEqual([0, 1500, 3000, 4500])
      expect(r.gaveUpAt).toBe(4500)
    })
  )
})

describe("presets", () => {
  it.effect("defaultSchedule: 5 attempts, full jitter under min(30 s, 100 ms * 2^k), outputs the delay", () =>
    Effect.gen(function* () {
      const { delays, outputs } = yield* stepSchedule(Backoff.defaultSchedule, 20, () => undefined).pipe(
        Effect.withRandom(Random.make(3))
      )
      expect(delays).toHaveLength(4)
      delays.forEach((d, k) => {
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(Math.min(30_000, 100 * 2 ** k))
      })
      outputs.forEach((out, k) => {
        expect(Duration.toMillis(out)).toBeCloseTo(delays[k] ?? -1, 6)
      })
      const r = yield* retryTimes(Backoff.defaultSchedule, () => "boom").pipe(Effect.withRandom(Random.make(3)))
      expect(r.times).toHaveLength(5)
    })
  )

  it.effect("aws: 3 attempts, full jitter", () =>
    Effect.gen(function* () {
      const delays = yield* delaysOf(Backoff.aws, 20).pipe(Effect.withRandom(Random.make(9)))
      expect(delays).toHaveLength(2)
      delays.forEach((d, k) => {
        expect(d).toBeLessThanOrEqual(100 * 2 ** k)
      })
    })
  )

  it.effect("grpc: 5 attempts, 1 s * 1.6^k plus or minus 20 %", () =>
    Effect.gen(function* () {
      const delays = yield* delaysOf(Backoff.grpc, 20).pipe(Effect.withRandom(Random.make(9)))
      expect(delays).toHaveLength(4)
      delays.forEach((d, k) => {
        expect(d).toBeGreaterThanOrEqual(800 * 1.6 ** k - 1e-6)
        expect(d).toBeLessThanOrEqual(1200 * 1.6 ** k + 1e-6)
      })
    })
  )
})
