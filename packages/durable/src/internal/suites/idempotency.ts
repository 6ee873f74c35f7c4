/**
 * The behavioural suite every idempotency store must pass (memory here, SQLite and PostgreSQL in
 * `@effect-resilience/sql`). Time is the `TestClock`'s: stores must measure leases with `Clock`.
 * Each test provides `layer` afresh, so a store Layer must build an empty store each time.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Chunk from "effect/Chunk"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import type * as Layer from "effect/Layer"
import * as Option from "effect/Option"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as TestClock from "effect/TestClock"
import * as Idempotency from "../../Idempotency.js"

/** A few milliseconds of real time (TestClock does not move). */
const realPause = Effect.promise(() => new Promise<void>((resolve) => setTimeout(resolve, 5)))

const store = Idempotency.IdempotencyStore
const lease = { leaseMillis: 1000 }

/** @internal */
export const suite = (name: string, layer: Layer.Layer<Idempotency.IdempotencyStore, unknown>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, Idempotency.IdempotencyStore>) =>
    Effect.scoped(Effect.provide(effect, layer))

  describe(`IdempotencyStore on ${name}`, () => {
    it.effect("a new key is acquired; another owner then finds it busy until the lease ends", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* TestClock.setTime(10_000)
          expect(yield* s.acquire("k", { owner: "a", ...lease })).toEqual(
            Idempotency.Acquisition.Acquired({ attempt: 1 })
          )
          expect(yield* s.acquire("k", { owner: "b", ...lease })).toEqual(
            Idempotency.Acquisition.Busy({ owner: "a", expiresAtMillis: 11_000 })
          )
          const record = yield* s.get("k")
          expect(Option.map(record, (r) => [r.status, r.owner, r.attempts])).toEqual(
            Option.some(["in-progress", "a", 1])
          )
        })
      )
    )

    it.effect("the owner may acquire again (a retry in the same run)", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.acquire("k", { owner: "a", ...lease })
          expect(yield* s.acquire("k", { owner: "a", ...lease })).toEqual(
            Idempotency.Acquisition.Acquired({ attempt: 2 })
          )
        })
      )
    )

    it.effect("an expired lease is taken over by the next owner (the crashed-owner case)", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.acquire("k", { owner: "crashed", ...lease })
          yield* TestClock.adjust(Duration.millis(999))
          expect((yield* s.acquire("k", { owner: "b", ...lease }))._tag).toBe("Busy")
          yield* TestClock.adjust(Duration.millis(1))
          expect(yield* s.acquire("k", { owner: "b", ...lease })).toEqual(
            Idempotency.Acquisition.Acquired({ attempt: 2 })
          )
          expect((yield* s.acquire("k", { owner: "crashed", ...lease }))._tag).toBe("Busy")
        })
      )
    )

    it.effect("a completed key answers its result to everyone, for ever, and keeps the first result", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.acquire("k", { owner: "a", ...lease })
          yield* s.complete("k", "a", `{"id":7,"note":"it's \\"quoted\\""}`)
          yield* TestClock.adjust(Duration.hours(10))
          const expected = Idempotency.Acquisition.Completed({ result: `{"id":7,"note":"it's \\"quoted\\""}` })
          expect(yield* s.acquire("k", { owner: "b", ...lease })).toEqual(expected)
          expect(yield* s.acquire("k", { owner: "a", ...lease })).toEqual(expected)
          yield* s.complete("k", "b", `{"id":8}`)
          expect(yield* s.acquire("k", { owner: "c", ...lease })).toEqual(expected)
          const record = yield* s.get("k")
          expect(Option.map(record, (r) => [r.status, r.result])).toEqual(
            Option.some(["completed", `{"id":7,"note":"it's \\"quoted\\""}`])
          )
        })
      )
    )

    it.effect("release lets the next owner in at once; a release by someone else does nothing", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.acquire("k", { owner: "a", ...lease })
          yield* s.release("k", "intruder")
          expect((yield* s.acquire("k", { owner: "b", ...lease }))._tag).toBe("Busy")
          yield* s.release("k", "a")
          expect(yield* s.acquire("k", { owner: "b", ...lease })).toEqual(
            Idempotency.Acquisition.Acquired({ attempt: 2 })
          )
        })
      )
    )

    it.effect("remove forgets a key; keys are independent", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.acquire("x", { owner: "a", ...lease })
          yield* s.complete("x", "a", "1")
          yield* s.acquire("y", { owner: "a", ...lease })
          yield* s.complete("y", "a", "2")
          yield* s.remove("x")
          expect(yield* s.get("x")).toEqual(Option.none())
          expect(yield* s.acquire("x", { owner: "b", ...lease })).toEqual(
            Idempotency.Acquisition.Acquired({ attempt: 1 })
          )
          expect(yield* s.acquire("y", { owner: "b", ...lease })).toEqual(
            Idempotency.Acquisition.Completed({ result: "2" })
          )
        })
      )
    )

    it.effect("purge forgets old completed keys and expired leases, and keeps the rest", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* TestClock.setTime(1_000)
          yield* s.acquire("old-done", { owner: "a", ...lease })
          yield* s.complete("old-done", "a", "1")
          yield* s.acquire("old-lease", { owner: "a", leaseMillis: 500 }) // expires at 1500
          yield* TestClock.setTime(5_000)
          yield* s.acquire("new-done", { owner: "a", ...lease })
          yield* s.complete("new-done", "a", "2")
          yield* s.acquire("live-lease", { owner: "a", leaseMillis: 10_000 }) // expires at 15000
          expect(yield* s.purge(4_000)).toBe(2)
          expect(Option.isNone(yield* s.get("old-done"))).toBe(true)
          expect(Option.isNone(yield* s.get("old-lease"))).toBe(true)
          expect(Option.isSome(yield* s.get("new-done"))).toBe(true)
          expect(Option.isSome(yield* s.get("live-lease"))).toBe(true)
          expect(yield* s.purge(4_000)).toBe(0)
        })
      )
    )

    it.effect("of many concurrent owners racing for a new key, exactly one acquires it", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          const answers = yield* Effect.forEach(
            Array.from({ length: 16 }, (_, i) => `owner-${i}`),
            (owner) => s.acquire("contended", { owner, ...lease }),
            { concurrency: "unbounded" }
          )
          expect(answers.filter((a) => a._tag === "Acquired").length).toBe(1)
          expect(answers.filter((a) => a._tag === "Busy").length).toBe(15)
        })
      )
    )

    it.effect("once runs the effect once, replays the stored result, and waits for a busy key", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          const calls = yield* Ref.make(0)
          const Receipt = Schema.Struct({ id: Schema.String, at: Schema.DateFromString })
          const effect = Effect.as(
            Ref.update(calls, (n) => n + 1),
            { id: "r-1", at: new Date(Date.UTC(2024, 0, 1)) }
          )
          const first = yield* Idempotency.once("pay", effect, { schema: Receipt })
          const second = yield* Idempotency.once("pay", effect, { schema: Receipt })
          expect(first).toEqual({ value: { id: "r-1", at: new Date(Date.UTC(2024, 0, 1)) }, replayed: false })
          expect(second).toEqual({ value: { id: "r-1", at: new Date(Date.UTC(2024, 0, 1)) }, replayed: true })
          expect(yield* Ref.get(calls)).toBe(1)

          // A crashed owner holds "late": once waits for its lease, then runs as attempt 2.
          yield* s.acquire("late", { owner: "crashed", leaseMillis: 5000 })
          const waiting = yield* Effect.fork(
            Idempotency.once("late", (attempt) => Effect.succeed(attempt), { schema: Schema.Number })
          )
          // The store may be a real database: its answers take real time while TestClock stands
          // still. Wait until the waiter sleeps (its "busy" answer came back) before moving time,
          // then move it in small steps with real pauses, so no wake-up races a query.
          for (let i = 0; i < 400 && Chunk.isEmpty(yield* TestClock.sleeps()); i++) yield* realPause
          yield* TestClock.adjust(Duration.millis(4999))
          expect(yield* Fiber.poll(waiting)).toEqual(Option.none())
          for (let i = 0; i < 400 && Option.isNone(yield* Fiber.poll(waiting)); i++) {
            yield* TestClock.adjust(Duration.millis(1))
            yield* realPause
          }
          expect(yield* Fiber.join(waiting)).toEqual({ value: 2, replayed: false })
        })
      )
    )

    it.effect("acquireAll answers each key as acquire would, in the order given, in one call", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* TestClock.setTime(10_000)
          yield* s.acquire("busy", { owner: "other", ...lease })
          yield* s.acquire("mine", { owner: "a", ...lease })
          yield* s.acquire("expired", { owner: "other", leaseMillis: 10 })
          yield* s.acquire("done", { owner: "other", ...lease })
          yield* s.complete("done", "other", "42")
          yield* TestClock.setTime(10_500)
          expect(yield* s.acquireAll([], { owner: "a", ...lease })).toEqual([])
          const keys = ["new", "busy", "mine", "expired", "done", "new"]
          expect(yield* s.acquireAll(keys, { owner: "a", ...lease })).toEqual([
            Idempotency.Acquisition.Acquired({ attempt: 1 }),
            Idempotency.Acquisition.Busy({ owner: "other", expiresAtMillis: 11_000 }),
            Idempotency.Acquisition.Acquired({ attempt: 2 }),
            Idempotency.Acquisition.Acquired({ attempt: 2 }),
            Idempotency.Acquisition.Completed({ result: "42" }),
            Idempotency.Acquisition.Acquired({ attempt: 1 })
          ])
          expect(yield* s.get("expired")).toEqual(
            Option.some({
              key: "expired",
              status: "in-progress",
              owner: "a",
              expiresAtMillis: 11_500,
              attempts: 2,
              updatedAtMillis: 10_500
            })
          )
          // what it took is held: another owner finds each busy until the lease ends
          expect(yield* s.acquireAll(["new", "mine"], { owner: "b", ...lease })).toEqual([
            Idempotency.Acquisition.Busy({ owner: "a", expiresAtMillis: 11_500 }),
            Idempotency.Acquisition.Busy({ owner: "a", expiresAtMillis: 11_500 })
          ])
        })
      )
    )

    it.effect("releaseAll lets the next owner in at once, only for the keys its owner holds", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* TestClock.setTime(1_000)
          const keys = Array.from({ length: 300 }, (_, i) => `k${i}`)
          const taken = yield* s.acquireAll(keys, { owner: "a", ...lease })
          expect(taken.every((a) => a._tag === "Acquired")).toBe(true)
          yield* s.acquire("theirs", { owner: "c", ...lease })
          yield* s.releaseAll([], "a")
          yield* s.releaseAll(["theirs", ...keys.slice(0, 200)], "a")
          const next = yield* s.acquireAll([...keys, "theirs"], { owner: "b", ...lease })
          expect(next.slice(0, 200)).toEqual(
            keys.slice(0, 200).map(() => Idempotency.Acquisition.Acquired({ attempt: 2 }))
          )
          expect(next.slice(200, 300)).toEqual(
            keys.slice(200).map(() => Idempotency.Acquisition.Busy({ owner: "a", expiresAtMillis: 2_000 }))
          )
          expect(next[300]).toEqual(Idempotency.Acquisition.Busy({ owner: "c", expiresAtMillis: 2_000 }))
        })
      )
    )

    it.effect("completeAll completes every key in one call, keeps a first result, and answers it to everyone", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* TestClock.setTime(5_000)
          const keys = Array.from({ length: 300 }, (_, i) => `c${i}`)
          yield* s.acquireAll(keys, { owner: "a", ...lease })
          yield* s.acquire("done", { owner: "other", ...lease })
          yield* s.complete("done", "other", "first")
          yield* s.completeAll([], "a")
          yield* TestClock.setTime(5_100)
          // a key held by no one (never acquired) is completed too, as `complete` does; a key
          // given twice keeps its first result; text results survive quotes and JSON
          yield* s.completeAll(
            [
              ...keys.map((key, i) => ({ key, result: JSON.stringify({ n: i, note: 'say "hi"' }) })),
              { key: "done", result: "second" },
              { key: "fresh", result: "null" },
              { key: "twice", result: "1" },
              { key: "twice", result: "2" }
            ],
            "a"
          )
          const answers = yield* s.acquireAll([...keys, "done", "fresh", "twice"], { owner: "b", ...lease })
          expect(answers).toEqual([
            ...keys.map((_, i) =>
              Idempotency.Acquisition.Completed({ result: JSON.stringify({ n: i, note: 'say "hi"' }) })
            ),
            Idempotency.Acquisition.Completed({ result: "first" }),
            Idempotency.Acquisition.Completed({ result: "null" }),
            Idempotency.Acquisition.Completed({ result: "1" })
          ])
          expect(yield* s.get("c7")).toEqual(
            Option.some({
              key: "c7",
              status: "completed",
              owner: "a",
              expiresAtMillis: 5_100,
              attempts: 1,
              result: JSON.stringify({ n: 7, note: 'say "hi"' }),
              updatedAtMillis: 5_100
            })
          )
        })
      )
    )

    it.effect("once releases the key when the effect fails, so a retry runs at once", () =>
      run(
        Effect.gen(function* () {
          const attempts = yield* Ref.make(0)
          const flaky = Effect.flatMap(
            Ref.updateAndGet(attempts, (n) => n + 1),
            (n) => (n === 1 ? Effect.fail("boom" as const) : Effect.succeed(n))
          )
          const options = { schema: Schema.Number, owner: "first" }
          expect(yield* Effect.flip(Idempotency.once("k", flaky, options))).toBe("boom")
          const other = yield* Idempotency.once("k", flaky, { schema: Schema.Number, owner: "second" })
          expect(other).toEqual({ value: 2, replayed: false })
        })
      )
    )
  })
}
