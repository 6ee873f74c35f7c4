import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as fc from "effect/FastCheck"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Stream from "effect/Stream"
import * as Supervisor from "effect/Supervisor"
import * as TestClock from "effect/TestClock"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Events from "../src/Events.js"
import * as Failures from "../src/Failures.js"
import * as Hedging from "../src/Hedging.js"

/**
 * An operation whose n-th run (0-based) sleeps `plan[n].millis` then succeeds with `n` or fails with
 * `plan[n].fail`. Every run acquires a resource released by a finalizer; the log records
 * `start n`, `end n` and `release n` (`interrupted n` when interrupted).
 */
const scripted = (plan: ReadonlyArray<{ readonly millis: number; readonly fail?: string }>) =>
  Effect.gen(function* () {
    const runs = yield* Ref.make(0)
    const log = yield* Ref.make<ReadonlyArray<string>>([])
    const note = (line: string) => Ref.update(log, (lines) => [...lines, line])
    const op = Effect.flatMap(
      Ref.getAndUpdate(runs, (n) => n + 1),
      (n) => {
        const step = plan[Math.min(n, plan.length - 1)]!
        return Effect.scoped(
          Effect.acquireRelease(note(`start ${n}`), (_, exit) =>
            note(Exit.isInterrupted(exit) ? `interrupted ${n}` : `release ${n}`)
          ).pipe(
            Effect.zipRight(Effect.sleep(step.millis)),
            Effect.zipRight(step.fail === undefined ? Effect.succeed(n) : Effect.fail(step.fail)),
            Effect.tap(() => note(`end ${n}`))
          )
        )
      }
    )
    return { op, runs: Ref.get(runs), log: Ref.get(log), note }
  })

describe("Hedging.hedge", () => {
  it.effect("does not start a hedge when the first attempt is faster than the delay", () =>
    Effect.gen(function* () {
      const s = yield* scripted([{ millis: 10 }])
      const hedges = yield* Ref.make(0)
      const fiber = yield* Effect.fork(
        s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 3, onHedge: () => Ref.update(hedges, (n) => n + 1) }))
      )
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.join(fiber)).toBe(0)
      // Time passing after the win starts nothing: the timer was cancelled.
      yield* TestClock.adjust("1 second")
      expect(yield* s.runs).toBe(1)
      expect(yield* Ref.get(hedges)).toBe(0)
      expect(yield* s.log).toEqual(["start 0", "end 0", "release 0"])
    })
  )

  it.effect("starts a hedge after the delay; the first success wins and the loser is interrupted and released", () =>
    Effect.gen(function* () {
      // Attempt 0 takes 500 ms; the hedge started at 100 ms takes 50 ms and wins at 150 ms.
      const s = yield* scripted([{ millis: 500 }, { millis: 50 }])
      const fiber = yield* Effect.fork(
        s.op.pipe(
          Hedging.hedge({ delay: "100 millis", maxHedges: 1 }),
          Effect.tap(() => s.note("returned"))
        )
      )
      yield* TestClock.adjust("99 millis")
      expect(yield* s.runs).toBe(1)
      yield* TestClock.adjust("1 millis")
      expect(yield* s.runs).toBe(2)
      yield* TestClock.adjust("50 millis")
      expect(yield* Fiber.join(fiber)).toBe(1)
      // By the time hedge returned, the slow attempt's finalizer had run (as an interruption).
      expect(yield* s.log).toEqual(["start 0", "start 1", "end 1", "release 1", "interrupted 0", "returned"])
    })
  )

  it.effect("respects maxHedges and spaces hedges by the delay", () =>
    Effect.gen(function* () {
      const s = yield* scripted([{ millis: 10_000 }])
      const started = yield* Ref.make<ReadonlyArray<number>>([])
      const fiber = yield* Effect.fork(
        s.op.pipe(
          Hedging.hedge({
            delay: "100 millis",
            maxHedges: 2,
            onHedge: (n) => Ref.update(started, (xs) => [...xs, n])
          })
        )
      )
      yield* TestClock.adjust("100 millis")
      expect(yield* s.runs).toBe(2)
      yield* TestClock.adjust("100 millis")
      expect(yield* s.runs).toBe(3)
      yield* TestClock.adjust("5 seconds")
      expect(yield* s.runs).toBe(3)
      expect(yield* Ref.get(started)).toEqual([1, 2])
      // Interrupting the caller interrupts and releases every attempt.
      yield* Fiber.interrupt(fiber)
      const log = yield* s.log
      expect(log.filter((l) => l.startsWith("interrupted")).sort()).toEqual([
        "interrupted 0",
        "interrupted 1",
        "interrupted 2"
      ])
    })
  )

  it.effect("maxHedges 0 runs the effect alone", () =>
    Effect.gen(function* () {
      const s = yield* scripted([{ millis: 1_000 }])
      const fiber = yield* Effect.fork(s.op.pipe(Hedging.hedge({ delay: "10 millis", maxHedges: 0 })))
      yield* TestClock.adjust("1 second")
      expect(yield* Fiber.join(fiber)).toBe(0)
      expect(yield* s.runs).toBe(1)
    })
  )

  const latencyOnly = { hedgeOnFailure: false } as const

  it.effect("latency only: a failed attempt does not end the race while a hedge may still win", () =>
    Effect.gen(function* () {
      // 0 fails at 150 ms; hedge 1 (started at 100 ms) succeeds at 300 ms.
      const s = yield* scripted([{ millis: 150, fail: "boom-0" }, { millis: 200 }])
      const fiber = yield* Effect.fork(s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 1, ...latencyOnly })))
      yield* TestClock.adjust("300 millis")
      expect(yield* Fiber.join(fiber)).toBe(1)
    })
  )

  it.effect("latency only: when every attempt fails, fails with the failure of the last attempt to end", () =>
    Effect.gen(function* () {
      // 0 fails at 400 ms, 1 (from 100 ms) fails at 150 ms, 2 (from 200 ms) fails at 350 ms.
      const s = yield* scripted([
        { millis: 400, fail: "boom-0" },
        { millis: 50, fail: "boom-1" },
        { millis: 150, fail: "boom-2" }
      ])
      const fiber = yield* Effect.fork(s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 2, ...latencyOnly })))
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.await(fiber)
      expect(exit).toEqual(Exit.fail("boom-0"))
      expect(yield* s.runs).toBe(3)
    })
  )

  it.effect("latency only: an attempt that dies counts as a failed attempt", () =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const op = Effect.flatMap(
        Ref.getAndUpdate(runs, (n) => n + 1),
        (n) => (n === 0 ? Effect.zipRight(Effect.sleep(150), Effect.die("bug")) : Effect.as(Effect.sleep(100), "ok"))
      )
      const fiber = yield* Effect.fork(op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 1, ...latencyOnly })))
      yield* TestClock.adjust("200 millis")
      expect(yield* Fiber.join(fiber)).toBe("ok")
      const alone = yield* Effect.fork(
        Effect.zipRight(Effect.sleep(10), Effect.die("bug")).pipe(
          Hedging.hedge({ delay: "100 millis", maxHedges: 1, ...latencyOnly })
        )
      )
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.await(alone)).toEqual(Exit.die("bug"))
    })
  )

  it.effect("latency only: a failure with nothing else running ends the call", () =>
    Effect.gen(function* () {
      const s = yield* scripted([{ millis: 10, fail: "boom" }, { millis: 10 }])
      const fiber = yield* Effect.fork(s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 2, ...latencyOnly })))
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail("boom"))
      yield* TestClock.adjust("1 second")
      expect(yield* s.runs).toBe(1)
    })
  )

  /** Runs n fails with `failures[n]` after `millis[n]`, or succeeds with n when it has no failure. */
  const failing = (millis: ReadonlyArray<number>, failures: ReadonlyArray<Failures.Failure | undefined>) =>
    Effect.gen(function* () {
      const runs = yield* Ref.make(0)
      const op = Effect.flatMap(
        Ref.getAndUpdate(runs, (n) => n + 1),
        (n) => {
          const failure = failures[n]
          return Effect.zipRight(
            Effect.sleep(millis[n] ?? 0),
            failure === undefined ? Effect.succeed(n) : Effect.fail(failure)
          )
        }
      )
      return { op, runs: Ref.get(runs) }
    })
  const unavailable = new Failures.HttpError({ status: 503 })
  const invalid = new Failures.HttpError({ status: 400 })

  it.effect("by default, a retryable failure before the delay starts the hedge then (as Polly and gRPC do)", () =>
    Effect.gen(function* () {
      const s = yield* failing([10, 20], [unavailable])
      const fiber = yield* Effect.fork(s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 1 })))
      yield* TestClock.adjust("10 millis")
      expect(yield* s.runs).toBe(2)
      yield* TestClock.adjust("20 millis")
      expect(yield* Fiber.join(fiber)).toBe(1)
    })
  )

  it.effect("by default, a failure that is not retryable ends the call, and interrupts the others", () =>
    Effect.gen(function* () {
      const alone = yield* failing([10, 10], [invalid])
      const first = yield* Effect.fork(alone.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 2 })))
      yield* TestClock.adjust("10 millis")
      expect(yield* Fiber.await(first)).toEqual(Exit.fail(invalid))
      yield* TestClock.adjust("1 second")
      expect(yield* alone.runs).toBe(1)
      // Hedge 1 starts at 100 ms; attempt 0 fails with a 400 at 150 ms: hedge 1 is not awaited.
      const raced = yield* failing([150, 1_000], [invalid])
      const second = yield* Effect.fork(raced.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 2 })))
      yield* TestClock.adjust("150 millis")
      expect(yield* Fiber.await(second)).toEqual(Exit.fail(invalid))
      expect(yield* raced.runs).toBe(2)
    })
  )

  it.effect("by default, when no hedge is left a retryable failure waits for the others; a defect ends the call", () =>
    Effect.gen(function* () {
      const s = yield* failing([150, 100], [unavailable])
      const fiber = yield* Effect.fork(s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 1 })))
      yield* TestClock.adjust("200 millis")
      expect(yield* Fiber.join(fiber)).toBe(1)
      const dies = yield* Effect.fork(
        Effect.zipRight(Effect.sleep(10), Effect.die(new TypeError("x is not a function"))).pipe(
          Hedging.hedge({ delay: "100 millis", maxHedges: 1 })
        )
      )
      yield* TestClock.adjust("10 millis")
      expect(Exit.isFailure(yield* Fiber.await(dies))).toBe(true)
    })
  )

  const classifier = Classifier.layerFrom((failure) =>
    failure === "retryable"
      ? Classification.make({ category: "unavailable", code: "test.unavailable", message: "unavailable" })
      : Classification.make({ category: "validation", code: "test.validation", message: "invalid" })
  )

  it.effect("hedgeOnFailure: a retryable failure starts the next hedge at once", () =>
    Effect.gen(function* () {
      const s = yield* scripted([{ millis: 10, fail: "retryable" }, { millis: 20 }])
      const fiber = yield* Effect.fork(
        s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 1, hedgeOnFailure: true }))
      )
      yield* TestClock.adjust("10 millis")
      expect(yield* s.runs).toBe(2)
      yield* TestClock.adjust("20 millis")
      expect(yield* Fiber.join(fiber)).toBe(1)
    }).pipe(Effect.provide(classifier))
  )

  it.effect("hedgeOnFailure: a non-retryable failure ends the race and interrupts the others", () =>
    Effect.gen(function* () {
      // Hedge 1 starts at 100 ms (slow); attempt 0 then fails with a validation failure at 150 ms.
      const s = yield* scripted([{ millis: 150, fail: "invalid" }, { millis: 1_000 }])
      const fiber = yield* Effect.fork(Hedging.hedge(s.op, { delay: "100 millis", maxHedges: 2, hedgeOnFailure: true }))
      yield* TestClock.adjust("150 millis")
      expect(yield* Fiber.await(fiber)).toEqual(Exit.fail("invalid"))
      expect(yield* s.log).toContain("interrupted 1")
      expect(yield* s.runs).toBe(2)
    }).pipe(Effect.provide(classifier))
  )

  it.effect("publishes HedgeStarted events", () =>
    Effect.gen(function* () {
      const hub = yield* Events.ResilienceEvents
      const events = yield* hub.subscribe
      const s = yield* scripted([{ millis: 1_000 }, { millis: 1_000 }, { millis: 10 }])
      const fiber = yield* Effect.fork(
        s.op.pipe(Hedging.hedge({ delay: "100 millis", maxHedges: 2, operation: "get-user" }))
      )
      yield* TestClock.adjust("210 millis")
      expect(yield* Fiber.join(fiber)).toBe(2)
      const seen = yield* Stream.runCollect(Stream.take(events, 2))
      expect(Chunk.toReadonlyArray(seen)).toEqual([
        Events.ResilienceEvent.HedgeStarted({ operation: "get-user", hedge: 1 }),
        Events.ResilienceEvent.HedgeStarted({ operation: "get-user", hedge: 2 })
      ])
    }).pipe(Effect.scoped, Effect.provide(Events.layer()))
  )

  it.effect("hedgeWith makes each attempt from its number", () =>
    Effect.gen(function* () {
      const made = yield* Ref.make<ReadonlyArray<number>>([])
      const attempt = (n: number) =>
        Ref.update(made, (xs) => [...xs, n]).pipe(
          Effect.zipRight(Effect.sleep(n === 2 ? 10 : 1_000)),
          Effect.as(`replica ${n}`)
        )
      const fiber = yield* Effect.fork(Hedging.hedgeWith(attempt, { delay: "100 millis", maxHedges: 3 }))
      yield* TestClock.adjust("210 millis")
      expect(yield* Fiber.join(fiber)).toBe("replica 2")
      expect(yield* Ref.get(made)).toEqual([0, 1, 2])
    })
  )

  it.effect("data-first and data-last forms agree", () =>
    Effect.gen(function* () {
      const a = yield* Effect.option(Hedging.hedge(Effect.succeed(1), { delay: 0, maxHedges: 1 }))
      const b = yield* Effect.option(Effect.succeed(1).pipe(Hedging.hedge({ delay: 0, maxHedges: 1 })))
      expect(a).toEqual(Option.some(1))
      expect(b).toEqual(a)
    })
  )

  it.effect("the no-hedge path forks two fibers (the attempt and the timer), as Effect.timeout does", () =>
    Effect.gen(function* () {
      let forked = 0
      const counter = new (class extends Supervisor.AbstractSupervisor<void> {
        readonly value = Effect.void
        override onStart() {
          forked++
        }
      })()
      // TestClock forks a warning fiber on its first sleep: get it out of the way.
      yield* Effect.timeout(Effect.void, "1 second")
      yield* Effect.succeed(1).pipe(Hedging.hedge({ delay: "1 second", maxHedges: 3 }), Effect.supervised(counter))
      const hedged = forked
      forked = 0
      yield* Effect.succeed(1).pipe(Effect.timeout("1 second"), Effect.supervised(counter))
      expect(hedged).toBe(2)
      expect(forked).toBe(2)
    })
  )

  describe("agrees with a reference model on random plans", () => {
    type Outcome = "ok" | "retryable" | "fatal"
    /** latency: `hedgeOnFailure: false`; context: `true`; default: the default classifier. */
    type Mode = "latency" | "context" | "default"
    interface Plan {
      readonly maxHedges: number
      readonly mode: Mode
      readonly attempts: ReadonlyArray<{ readonly k: number; readonly outcome: Outcome }>
    }
    const D = 640
    // Attempt i lasts 64 k + 2^i ms: no end ever coincides with another end or with a hedge timer,
    // so the order of events (and the model) is unambiguous.
    const duration = (plan: Plan, i: number) => 64 * plan.attempts[i]!.k + 2 ** i

    const model = (plan: Plan): { readonly result: string; readonly started: number } => {
      const ends = new Map<number, number>()
      let started = 1
      let lastStart = 0
      ends.set(0, duration(plan, 0))
      const start = (at: number) => {
        ends.set(started, at + duration(plan, started))
        started++
        lastStart = at
      }
      for (;;) {
        const nextTick = started <= plan.maxHedges ? lastStart + D : Number.POSITIVE_INFINITY
        let first: number | undefined
        for (const [i, end] of ends) if (first === undefined || end < ends.get(first)!) first = i
        const end = ends.get(first!)!
        if (end > nextTick) {
          start(nextTick)
          continue
        }
        ends.delete(first!)
        const outcome = plan.attempts[first!]!.outcome
        if (outcome === "ok") return { result: `ok ${first}`, started }
        if (plan.mode !== "latency") {
          if (outcome === "fatal") return { result: `fail ${first}`, started }
          if (started <= plan.maxHedges) {
            start(end)
            continue
          }
        }
        if (ends.size === 0) return { result: `fail ${first}`, started }
      }
    }

    const plans = fc.record({
      maxHedges: fc.integer({ min: 0, max: 4 }),
      mode: fc.constantFrom<Mode>("latency", "context", "default"),
      attempts: fc.array(
        fc.record({
          k: fc.integer({ min: 0, max: 40 }),
          outcome: fc.constantFrom<Outcome>("ok", "retryable", "fatal")
        }),
        { minLength: 5, maxLength: 5 }
      )
    })

    it.effect.prop(
      "result and number of attempts",
      { plan: plans },
      ({ plan }) =>
        Effect.gen(function* () {
          const runs = yield* Ref.make(0)
          const op = Effect.flatMap(
            Ref.getAndUpdate(runs, (n) => n + 1),
            (i) =>
              Effect.sleep(duration(plan, i)).pipe(
                Effect.zipRight(
                  plan.attempts[i]!.outcome === "ok"
                    ? Effect.succeed(`ok ${i}`)
                    : // The default classifier says 503 is retryable and 400 is not.
                      Effect.fail(
                        new Failures.HttpError({
                          status: plan.attempts[i]!.outcome === "fatal" ? 400 : 503,
                          headers: { "x-request-id": `fail ${i}` }
                        })
                      )
                )
              )
          )
          const options = { delay: D, maxHedges: plan.maxHedges }
          const hedged =
            plan.mode === "context"
              ? Hedging.hedge(op, { ...options, hedgeOnFailure: true })
              : plan.mode === "latency"
                ? Hedging.hedge(op, { ...options, hedgeOnFailure: false })
                : Hedging.hedge(op, options)
          const fiber = yield* Effect.fork(
            Effect.catchAll(hedged, (failure) => Effect.succeed(failure.headers?.["x-request-id"] ?? "?"))
          )
          yield* TestClock.adjust("1 minute")
          const result = yield* Fiber.join(fiber)
          expect({ result, started: yield* Ref.get(runs) }).toEqual(model(plan))
        }).pipe(
          Effect.provide(
            Classifier.layerFrom((failure) => {
              const id = failure instanceof Failures.HttpError ? failure.headers?.["x-request-id"] : undefined
              const i = Number(String(id).slice(5))
              return plan.attempts[i]?.outcome === "fatal"
                ? Classification.make({ category: "validation", code: "test.fatal", message: "fatal" })
                : Classification.make({ category: "unavailable", code: "test.retryable", message: "retryable" })
            })
          )
        ),
      { fastCheck: { numRuns: 100, seed: 20261122 } }
    )
  })
})
