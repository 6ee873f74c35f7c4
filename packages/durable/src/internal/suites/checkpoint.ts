/**
 * The behavioural suite every checkpoint store must pass (memory here, SQLite and PostgreSQL in
 * `@effect-resilience/sql`). Each test provides `layer` afresh, so a store Layer must build an
 * empty store (a new temp file, a new database) each time.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import type * as Layer from "effect/Layer"
import * as Checkpoint from "../../Checkpoint.js"

const store = Checkpoint.CheckpointStore

/** @internal */
export const suite = (name: string, layer: Layer.Layer<Checkpoint.CheckpointStore, unknown>) => {
  const run = <A, E>(effect: Effect.Effect<A, E, Checkpoint.CheckpointStore>) =>
    Effect.scoped(Effect.provide(effect, layer))

  describe(`CheckpointStore on ${name}`, () => {
    it.effect("an unknown batch has no entries", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          expect(yield* s.load("nothing-here")).toEqual([])
          yield* s.record("nothing-here", [])
          expect(yield* s.load("nothing-here")).toEqual([])
        })
      )
    )

    it.effect("loads entries in the order they were first recorded", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.record("b", [
            { key: "z", outcome: "succeeded" },
            { key: "a", outcome: "dead-lettered" }
          ])
          yield* s.record("b", [{ key: "m", outcome: "succeeded" }])
          expect(yield* s.load("b")).toEqual([
            { key: "z", outcome: "succeeded" },
            { key: "a", outcome: "dead-lettered" },
            { key: "m", outcome: "succeeded" }
          ])
        })
      )
    )

    it.effect("recording a key again replaces its outcome and keeps its position", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.record("b", [
            { key: "1", outcome: "succeeded" },
            { key: "2", outcome: "succeeded" },
            { key: "3", outcome: "succeeded" }
          ])
          yield* s.record("b", [
            { key: "3", outcome: "compensated" },
            { key: "1", outcome: "compensated" }
          ])
          expect(yield* s.load("b")).toEqual([
            { key: "1", outcome: "compensated" },
            { key: "2", outcome: "succeeded" },
            { key: "3", outcome: "compensated" }
          ])
        })
      )
    )

    it.effect("batches are independent and clear forgets one batch only", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* s.record("one", [{ key: "k", outcome: "succeeded" }])
          yield* s.record("two", [{ key: "k", outcome: "dead-lettered" }])
          expect(yield* s.load("one")).toEqual([{ key: "k", outcome: "succeeded" }])
          expect(yield* s.load("two")).toEqual([{ key: "k", outcome: "dead-lettered" }])
          yield* s.clear("one")
          expect(yield* s.load("one")).toEqual([])
          expect(yield* s.load("two")).toEqual([{ key: "k", outcome: "dead-lettered" }])
        })
      )
    )

    it.effect("a large write round-trips in order (keys with quotes, unicode and separators)", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          const entries = Array.from(
            { length: 1500 },
            (_, i): Checkpoint.Entry => ({
              key: `item-${(i * 7919) % 1500}'"/é:${i}`,
              outcome: i % 10 === 0 ? "dead-lettered" : "succeeded"
            })
          )
          yield* s.record("big", entries.slice(0, 700))
          yield* s.record("big", entries.slice(700))
          expect(yield* s.load("big")).toEqual(entries)
        })
      )
    )

    it.effect("concurrent writers to one batch lose no entry", () =>
      run(
        Effect.gen(function* () {
          const s = yield* store
          yield* Effect.forEach(
            Array.from({ length: 20 }, (_, w) => w),
            (w) =>
              Effect.forEach(
                Array.from({ length: 10 }, (_, i) => i),
                (i) => s.record("shared", [{ key: `${w}-${i}`, outcome: "succeeded" }]),
                { discard: true }
              ),
            { concurrency: "unbounded", discard: true }
          )
          const loaded = yield* s.load("shared")
          expect(loaded.length).toBe(200)
          expect(new Set(loaded.map((e) => e.key)).size).toBe(200)
        })
      )
    )
  })
}
