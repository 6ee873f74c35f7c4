import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Either from "effect/Either"
import * as Exit from "effect/Exit"
import * as Fiber from "effect/Fiber"
import * as Option from "effect/Option"
import * as ParseResult from "effect/ParseResult"
import * as Scope from "effect/Scope"
import * as TestClock from "effect/TestClock"
import { Bulkhead, Classifier, Deadline, Errors } from "../src/index.js"

/** Lets forked fibers run until `condition` holds (a defect after 10 000 yields). */
const waitUntil = (condition: () => boolean, spins = 10_000): Effect.Effect<void> =>
  Effect.suspend(() =>
    condition()
      ? Effect.void
      : spins === 0
        ? Effect.dieMessage("condition never held")
        : Effect.zipRight(Effect.yieldNow(), waitUntil(condition, spins - 1))
  )

/** Holds one slot until the returned deferred is completed. */
const hold = (bulkhead: Bulkhead.Bulkhead) =>
  Effect.gen(function* () {
    const gate = yield* Deferred.make<void>()
    const before = bulkhead.active()
    const fiber = yield* Effect.fork(Bulkhead.protect(Deferred.await(gate), bulkhead))
    yield* waitUntil(() => bulkhead.active() === before + 1)
    return { gate, fiber }
  })

const random = () => 0.5

describe("Bulkhead", () => {
  it.scoped("the limit holds under many concurrent fibers", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 3, maxQueue: 100, queueTimeout: Infinity })
      let running = 0
      let maxObserved = 0
      const task = (i: number) =>
        Effect.gen(function* () {
          running++
          maxObserved = Math.max(maxObserved, running)
          yield* Effect.sleep(`${1 + (i % 7)} millis`)
          running--
          return i
        }).pipe(Bulkhead.protect(bulkhead))
      const fiber = yield* Effect.fork(
        Effect.forEach(
          Array.from({ length: 60 }, (_, i) => i),
          task,
          { concurrency: "unbounded" }
        )
      )
      yield* waitUntil(() => bulkhead.queued() === 57)
      yield* TestClock.adjust("1 second")
      const results = yield* Fiber.join(fiber)
      expect(results.length).toBe(60)
      expect(maxObserved).toBe(3)
      expect(bulkhead.active()).toBe(0)
      expect(bulkhead.queued()).toBe(0)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("as a strategy it decides synchronously and a newcomer does not overtake the queue", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 2, maxQueue: 5 })
      expect(bulkhead.component).toBe("bulkhead")
      const first = bulkhead.admit(0, random)
      expect(first._tag).toBe("Admitted")
      expect(bulkhead.admit(0, random)._tag).toBe("Admitted")
      expect(bulkhead.admit(0, random)._tag).toBe("Wait")
      const waiter = yield* Effect.fork(Bulkhead.protect(Effect.succeed("queued"), bulkhead))
      yield* waitUntil(() => bulkhead.queued() === 1)
      if (first._tag === "Admitted") first.settle({ _tag: "Neutral" }, 0, 0)
      // the slot went to the waiter, not to a newcomer
      expect(bulkhead.queued()).toBe(0)
      expect(bulkhead.active()).toBe(2)
      expect(yield* Fiber.join(waiter)).toBe("queued")
      expect(bulkhead.active()).toBe(1)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("a full queue rejects with BulkheadRejected(full)", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "db", maxConcurrent: 1, maxQueue: 2, queueTimeout: Infinity })
      const { gate } = yield* hold(bulkhead)
      const waiters = yield* Effect.forEach([1, 2], (i) => Effect.fork(Bulkhead.protect(Effect.succeed(i), bulkhead)))
      yield* waitUntil(() => bulkhead.queued() === 2)
      const rejected = yield* Effect.either(Bulkhead.protect(Effect.succeed(3), bulkhead))
      expect(rejected).toEqual(Either.left(new Errors.BulkheadRejected({ bulkhead: "db", reason: "full" })))
      expect(bulkhead.queued()).toBe(2)
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Effect.forEach(waiters, Fiber.join)).toEqual([1, 2])
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("waiters run by priority, FIFO within a priority", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 10, queueTimeout: Infinity })
      const { gate } = yield* hold(bulkhead)
      const order: Array<string> = []
      const fibers: Array<Fiber.RuntimeFiber<void, Errors.BulkheadRejected>> = []
      const queue: ReadonlyArray<readonly [string, number]> = [
        ["a", 0],
        ["b", 1],
        ["c", 0],
        ["d", 2],
        ["e", 1],
        ["f", -1],
        ["g", 2]
      ]
      for (const [name, priority] of queue) {
        const before = bulkhead.queued()
        fibers.push(
          yield* Effect.fork(
            Effect.sync(() => {
              order.push(name)
            }).pipe(Bulkhead.protect(bulkhead, { priority }))
          )
        )
        yield* waitUntil(() => bulkhead.queued() === before + 1)
      }
      yield* Deferred.succeed(gate, undefined)
      yield* Effect.forEach(fibers, Fiber.join)
      expect(order).toEqual(["d", "g", "b", "e", "a", "c", "f"])
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("a wait longer than queueTimeout rejects with BulkheadRejected(queue-timeout)", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "api", maxConcurrent: 1, maxQueue: 1, queueTimeout: "100 millis" })
      const { gate } = yield* hold(bulkhead)
      const waiter = yield* Effect.fork(Effect.either(Bulkhead.protect(Effect.succeed("late"), bulkhead)))
      yield* waitUntil(() => bulkhead.queued() === 1)
      yield* TestClock.adjust("99 millis")
      expect(bulkhead.queued()).toBe(1)
      expect(waiter.unsafePoll()).toBe(null)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(waiter)).toEqual(
        Either.left(new Errors.BulkheadRejected({ bulkhead: "api", reason: "queue-timeout" }))
      )
      expect(bulkhead.queued()).toBe(0)
      expect(bulkhead.active()).toBe(1)
      yield* Deferred.succeed(gate, undefined)
      yield* waitUntil(() => bulkhead.active() === 0)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("the wait also ends at the call's deadline when that is sooner", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ name: "api", maxConcurrent: 1, maxQueue: 1, queueTimeout: "1 second" })
      yield* hold(bulkhead)
      const waiter = yield* Effect.fork(
        Effect.either(
          Effect.locally(Bulkhead.protect(Effect.void, bulkhead), Deadline.currentDeadline, Option.some(50))
        )
      )
      yield* waitUntil(() => bulkhead.queued() === 1)
      yield* TestClock.adjust("49 millis")
      expect(waiter.unsafePoll()).toBe(null)
      yield* TestClock.adjust("1 millis")
      expect(yield* Fiber.join(waiter)).toEqual(
        Either.left(new Errors.BulkheadRejected({ bulkhead: "api", reason: "queue-timeout" }))
      )
      expect(bulkhead.queued()).toBe(0)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("a waiter served before its timeout runs normally", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, queueTimeout: "100 millis" })
      const { gate } = yield* hold(bulkhead)
      const waiter = yield* Effect.fork(Bulkhead.protect(Effect.succeed("served"), bulkhead))
      yield* waitUntil(() => bulkhead.queued() === 1)
      yield* TestClock.adjust("50 millis")
      yield* Deferred.succeed(gate, undefined)
      expect(yield* Fiber.join(waiter)).toBe("served")
      yield* TestClock.adjust("1 second")
      expect(bulkhead.active()).toBe(0)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("an interrupted waiter leaves the queue and takes no slot", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 5, queueTimeout: Infinity })
      const { gate } = yield* hold(bulkhead)
      let ran = false
      const waiter = yield* Effect.fork(
        Bulkhead.protect(
          Effect.sync(() => {
            ran = true
          }),
          bulkhead
        )
      )
      yield* waitUntil(() => bulkhead.queued() === 1)
      const exit = yield* Fiber.interrupt(waiter)
      expect(Exit.isInterrupted(exit)).toBe(true)
      expect(bulkhead.queued()).toBe(0)
      yield* Deferred.succeed(gate, undefined)
      yield* waitUntil(() => bulkhead.active() === 0)
      expect(ran).toBe(false)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("a waiter interrupted just after it was handed a slot gives the slot back", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, queueTimeout: Infinity })
      const first = bulkhead.admit(0, random)
      let ran = false
      const waiter = yield* Effect.fork(
        Bulkhead.protect(
          Effect.sync(() => {
            ran = true
          }),
          bulkhead
        )
      )
      yield* waitUntil(() => bulkhead.queued() === 1)
      // hand the slot over and interrupt in the same step: the waiter sees its admission, then the
      // interruption, before it can run the call
      if (first._tag === "Admitted") first.settle({ _tag: "Neutral" }, 0, 0)
      expect(bulkhead.active()).toBe(1)
      yield* Fiber.interrupt(waiter)
      expect(ran).toBe(false)
      expect(bulkhead.active()).toBe(0)
      expect(bulkhead.queued()).toBe(0)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("a slot is released on success, failure, defect and interruption of the running call", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1 })
      expect(yield* Bulkhead.protect(Effect.succeed(1), bulkhead)).toBe(1)
      expect(bulkhead.active()).toBe(0)
      expect(yield* Effect.either(Bulkhead.protect(Effect.fail("boom"), bulkhead))).toEqual(Either.left("boom"))
      expect(bulkhead.active()).toBe(0)
      const defect = yield* Effect.exit(Bulkhead.protect(Effect.die("bug"), bulkhead))
      expect(Exit.isFailure(defect)).toBe(true)
      expect(bulkhead.active()).toBe(0)
      const running = yield* Effect.fork(Bulkhead.protect(Effect.never, bulkhead))
      yield* waitUntil(() => bulkhead.active() === 1)
      yield* Fiber.interrupt(running)
      expect(bulkhead.active()).toBe(0)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.scoped("interrupting a running call hands its slot to the next waiter", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, queueTimeout: Infinity })
      const running = yield* Effect.fork(Bulkhead.protect(Effect.never, bulkhead))
      yield* waitUntil(() => bulkhead.active() === 1)
      const waiter = yield* Effect.fork(Bulkhead.protect(Effect.succeed("next"), bulkhead))
      yield* waitUntil(() => bulkhead.queued() === 1)
      yield* Fiber.interrupt(running)
      expect(yield* Fiber.join(waiter)).toBe("next")
      expect(bulkhead.active()).toBe(0)
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.effect("closing the scope refuses the queued calls", () =>
    Effect.gen(function* () {
      const scope = yield* Scope.make()
      const bulkhead = yield* Scope.extend(
        Bulkhead.make({ maxConcurrent: 1, maxQueue: 1, queueTimeout: Infinity }),
        scope
      )
      yield* Effect.fork(Bulkhead.protect(Effect.never, bulkhead))
      yield* waitUntil(() => bulkhead.active() === 1)
      const waiter = yield* Effect.fork(Effect.either(Bulkhead.protect(Effect.succeed(1), bulkhead)))
      yield* waitUntil(() => bulkhead.queued() === 1)
      yield* Scope.close(scope, Exit.void)
      expect(yield* Fiber.join(waiter)).toEqual(
        Either.left(new Errors.BulkheadRejected({ bulkhead: "default", reason: "full" }))
      )
    }).pipe(Effect.provide(Classifier.layer))
  )

  it.effect("a bad config fails make with a ParseError naming the field", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Effect.scoped(Bulkhead.make({ maxConcurrent: 0 })))
      expect(ParseResult.isParseError(error)).toBe(true)
      expect(error.message).toContain("maxConcurrent")
      const queue = yield* Effect.flip(Effect.scoped(Bulkhead.make({ maxQueue: 1.5 })))
      expect(queue.message).toContain("maxQueue")
    })
  )

  it.effect("Bulkhead.layer provides one bulkhead; protect is dual", () =>
    Effect.gen(function* () {
      const bulkhead = yield* Bulkhead.Bulkhead
      expect(bulkhead.maxConcurrent).toBe(2)
      const a = yield* Effect.succeed(1).pipe(Bulkhead.protect(bulkhead, { priority: 3 }))
      const b = yield* Bulkhead.protect(Effect.succeed(2), bulkhead)
      expect(a + b).toBe(3)
    }).pipe(Effect.provide(Bulkhead.layer({ maxConcurrent: 2 })), Effect.provide(Classifier.layer))
  )
})
