/**
 * Properties of the in-memory dead letter store and of the service's ids:
 * - the store (its entries kept in shards by id prefix) answers every sequence of inserts, reads,
 *   claims, updates and purges as one map of every entry would, for ids of any length, ids that
 *   are prefixes of others and ids that share their shard;
 * - the ids, made from their character codes, are the ids of the plain formula (base36 time,
 *   sequence and random part, zero-padded) for the same clock, sequence and random draws.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Classification from "@effect-resilience/core/Classification"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Random from "effect/Random"
import * as fc from "fast-check"
import * as DeadLetterQueue from "../src/DeadLetterQueue.js"
import { compare } from "../src/internal/deadLetter/filter.js"
import { makeIds } from "../src/internal/deadLetter/service.js"

const failure = DeadLetterQueue.failureOf(
  new Error("x"),
  Classification.make({ category: "network", code: "t", message: "t" }),
  []
)

const entry = (id: string, atMillis: number): DeadLetterQueue.Entry => ({
  id,
  queue: id.length % 2 === 0 ? "even" : "odd",
  idempotencyKey: id,
  payload: { id },
  failure,
  status: "pending",
  createdAtMillis: atMillis,
  updatedAtMillis: atMillis,
  replays: 0,
  version: 0,
  notes: []
})

/** Ids that share a shard, are prefixes of one another, or are shorter than a shard's prefix. */
const idArb = fc.constantFrom(
  "a",
  "ab",
  "dl_00000000",
  "dl_000000001",
  "dl_0000000012",
  "dl_000000001a",
  "dl_000000001a0000aaaaaaaa",
  "dl_000000001a0000aaaaaaab",
  "dl_000000001a0001aaaaaaaa",
  "dl_000000001b0000aaaaaaaa",
  "dl_000000001b0000aaaaaaaa-1",
  "run_00000001a0000aaaaaaaa"
)

type Op =
  | { readonly _tag: "insertAll"; readonly ids: ReadonlyArray<string> }
  | { readonly _tag: "get"; readonly id: string }
  | { readonly _tag: "update"; readonly id: string; readonly expectedVersion: number }
  | { readonly _tag: "claim"; readonly limit: number }
  | { readonly _tag: "purge"; readonly before: number }
  | { readonly _tag: "read" }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.record({ _tag: fc.constant("insertAll" as const), ids: fc.array(idArb, { maxLength: 5 }) })
  },
  fc.record({ _tag: fc.constant("get" as const), id: idArb }),
  fc.record({
    _tag: fc.constant("update" as const),
    id: idArb,
    expectedVersion: fc.integer({ min: 0, max: 2 })
  }),
  fc.record({ _tag: fc.constant("claim" as const), limit: fc.integer({ min: 1, max: 4 }) }),
  fc.record({ _tag: fc.constant("purge" as const), before: fc.integer({ min: 0, max: 40 }) }),
  fc.record({ _tag: fc.constant("read" as const) })
)

/** Runs the operations on a fresh memory store and on one plain map; every answer must agree. */
const check = (ops: ReadonlyArray<Op>) =>
  Effect.gen(function* () {
    const store = yield* DeadLetterQueue.makeStoreMemory
    const model = new Map<string, DeadLetterQueue.Entry>()
    let clock = 0
    for (const op of ops) {
      clock++
      switch (op._tag) {
        case "insertAll": {
          const batch = op.ids.map((id) => entry(id, clock))
          const exit = yield* Effect.exit(store.insertAll(batch))
          const conflict = op.ids.some((id, i) => model.has(id) || op.ids.indexOf(id) !== i)
          expect(Exit.isFailure(exit)).toBe(conflict)
          if (!conflict) for (const e of batch) model.set(e.id, e)
          break
        }
        case "get":
          expect(yield* store.get(op.id)).toEqual(Option.fromNullable(model.get(op.id)))
          break
        case "update": {
          const current = model.get(op.id)
          const next: DeadLetterQueue.Entry = {
            ...(current ?? entry(op.id, clock)),
            updatedAtMillis: clock,
            version: op.expectedVersion + 1
          }
          const written = yield* store.update(next, op.expectedVersion)
          expect(written).toBe(current !== undefined && current.version === op.expectedVersion)
          if (written) model.set(op.id, next)
          break
        }
        case "claim": {
          const claimed = yield* store.claim({}, `run-${clock}`, op.limit, clock)
          const expected = Array.from(model.values())
            .filter((e) => e.status === "pending")
            .sort(compare)
            .slice(0, op.limit)
          expect(claimed.map((e) => e.id)).toEqual(expected.map((e) => e.id))
          for (const e of claimed) model.set(e.id, e)
          break
        }
        case "purge": {
          const removed = yield* store.purge(op.before, ["pending", "replaying"])
          const gone = Array.from(model.values()).filter((e) => e.updatedAtMillis < op.before)
          expect(removed).toBe(gone.length)
          for (const e of gone) model.delete(e.id)
          break
        }
        case "read": {
          const all = Array.from(model.values()).sort(compare)
          expect(yield* store.list({}, { limit: 100, offset: 0 })).toEqual({ entries: all, total: all.length })
          const rows = (yield* store.counts).map((r) => `${r.queue}/${r.category}/${r.status}=${r.count}`).sort()
          const expected = new Map<string, number>()
          for (const e of all) {
            const key = `${e.queue}/${e.failure.classification.category}/${e.status}`
            expected.set(key, (expected.get(key) ?? 0) + 1)
          }
          expect(rows).toEqual(Array.from(expected, ([key, n]) => `${key}=${n}`).sort())
          break
        }
      }
    }
  })

/** The ids as the plain formula writes them. */
const plainIds = (prefix: string, nowMillis: number, firstSequence: number, count: number) =>
  Effect.map(Effect.zip(Random.nextIntBetween(0, 36 ** 4), Random.nextIntBetween(0, 36 ** 4)), ([high, low]) => {
    const base = high * 36 ** 4 + low
    const time = `${prefix}${nowMillis.toString(36).padStart(9, "0")}`
    return Array.from({ length: count }, (_, i) => {
      const sequence = ((firstSequence + i) % 36 ** 4).toString(36).padStart(4, "0")
      const random = ((base + i * 1_000_003) % 36 ** 8).toString(36).padStart(8, "0")
      return `${time}${sequence}${random}`
    })
  })

describe("DeadLetterQueue memory store properties", () => {
  it("answers as one map of every entry would", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 40 }), (ops) => Effect.runPromise(check(ops))),
      { numRuns: 300 }
    )
  })

  it("makes the ids of the plain formula", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("dl_", "run_"),
        fc.integer({ min: 0, max: 36 ** 9 - 1 }),
        fc.integer({ min: 0, max: 36 ** 4 - 1 }),
        fc.integer({ min: 1, max: 300 }),
        fc.integer(),
        (prefix, nowMillis, firstSequence, count, seed) => {
          const made = Effect.runSync(
            makeIds(prefix, nowMillis, firstSequence, count).pipe(Effect.withRandom(Random.make(seed)))
          )
          const plain = Effect.runSync(
            plainIds(prefix, nowMillis, firstSequence, count).pipe(Effect.withRandom(Random.make(seed)))
          )
          expect(made).toEqual(plain)
        }
      ),
      { numRuns: 500 }
    )
  })
})
