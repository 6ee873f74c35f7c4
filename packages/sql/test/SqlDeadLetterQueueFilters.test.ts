/**
 * Property: for any set of entries and any filter and page, the SQLite store lists exactly what the
 * in-memory store lists (the SQL built for filters and pagination agrees with the reference).
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import * as Classification from "@effect-resilience/core/Classification"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as TestClock from "effect/TestClock"
import * as TestContext from "effect/TestContext"
import fc from "fast-check"
import * as SqlDeadLetterQueue from "../src/SqlDeadLetterQueue.js"

const queues = ["a", "b", "c"] as const
const cats = ["network", "validation", "business", "server"] as const

const entryArb = fc.record({
  queue: fc.constantFrom(...queues),
  category: fc.constantFrom(...cats),
  discard: fc.boolean(),
  gapSeconds: fc.integer({ min: 0, max: 2 })
})

const filterArb = fc.record(
  {
    queue: fc.constantFrom(...queues),
    category: fc.subarray([...cats]),
    status: fc.subarray(["pending", "discarded", "resolved"] as const),
    // whole seconds, as the entries' times: the bounds are hit exactly
    fromMillis: fc.integer({ min: 0, max: 12 }).map((s) => s * 1000),
    toMillis: fc.integer({ min: 0, max: 24 }).map((s) => s * 1000)
  },
  { requiredKeys: [] }
)

const pageArb = fc.record({ limit: fc.integer({ min: 0, max: 6 }), offset: fc.integer({ min: 0, max: 8 }) })

type Input = ReadonlyArray<typeof entryArb extends fc.Arbitrary<infer T> ? T : never>

/** Adds the entries (payload `{ n }`) with the clock advancing between them; lists; returns the ns. */
const scenario = (entries: Input, filter: DLQ.Filter, page: DLQ.Page) =>
  Effect.gen(function* () {
    const dlq = yield* DLQ.DeadLetterQueue
    for (const [n, e] of entries.entries()) {
      yield* TestClock.adjust(Duration.seconds(e.gapSeconds))
      const added = yield* dlq.add({
        queue: e.queue,
        payload: { n },
        failure: DLQ.failureOf(
          new Error("x"),
          Classification.make({ category: e.category, code: "t", message: "t" }),
          []
        )
      })
      if (e.discard) yield* dlq.discard(added.id, "prop")
    }
    const result = yield* dlq.list(filter, page)
    const stats = yield* dlq.stats
    return { ns: result.entries.map((x) => x.payload), total: result.total, stats }
  })

describe("SqlDeadLetterQueue filters", () => {
  it("SQLite lists exactly what the in-memory reference lists, for any filter and page", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dlq-prop-"))
    let file = 0
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(entryArb, { maxLength: 12 }), filterArb, pageArb, async (entries, filter, page) => {
          const run = (layer: typeof sqlite) =>
            Effect.runPromise(
              scenario(entries, filter, page).pipe(Effect.provide(layer), Effect.provide(TestContext.TestContext))
            )
          const sqlite = DLQ.layer().pipe(
            Layer.provide(
              SqlDeadLetterQueue.layerStoreConfig({ dialect: "sqlite", filename: join(dir, `p${file++}.db`) })
            )
          )
          const [expected, actual] = [
            await run(DLQ.layer().pipe(Layer.provide(DLQ.layerStoreMemory))),
            await run(sqlite)
          ]
          expect(actual).toEqual(expected)
        }),
        { numRuns: 150, seed: 20240601 }
      )
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }, 120_000)
})
