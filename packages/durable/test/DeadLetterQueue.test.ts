import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Classification from "../src/Classification.js"
import * as DeadLetterQueue from "../src/DeadLetterQueue.js"
import { suite } from "./DeadLetterQueue.suite.js"

suite("memory", DeadLetterQueue.layerMemory())

describe("DeadLetterQueue (memory)", () => {
  it.effect("two services on one store never replay an entry twice", () =>
    Effect.gen(function* () {
      const store = yield* DeadLetterQueue.makeMemoryStore
      const a = yield* DeadLetterQueue.make(store)
      const b = yield* DeadLetterQueue.make(store)
      const failure = DeadLetterQueue.failureOf(
        new Error("x"),
        Classification.make({ category: "network", code: "t", message: "t" }),
        []
      )
      yield* Effect.forEach(Array.from({ length: 50 }), (_, i) => a.add({ queue: "q", payload: { i }, failure }))
      const seen = yield* Ref.make<ReadonlyArray<string>>([])
      const handler: DeadLetterQueue.Handler<never, never> = (e) =>
        Effect.zipRight(
          Effect.yieldNow(),
          Ref.update(seen, (s) => [...s, e.id])
        )
      const [ra, rb] = yield* Effect.all([a.replay({}, handler, { chunk: 3 }), b.replay({}, handler, { chunk: 3 })], {
        concurrency: 2
      })
      const ids = yield* Ref.get(seen)
      expect(ids.length).toBe(50)
      expect(new Set(ids).size).toBe(50)
      expect(ra.resolved.length + rb.resolved.length).toBe(50)
      expect(ra.resolved.length).toBeGreaterThan(0)
      expect(rb.resolved.length).toBeGreaterThan(0)
    })
  )
})
