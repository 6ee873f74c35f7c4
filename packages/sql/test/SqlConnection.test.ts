import * as Checkpoint from "@effect-resilience/durable/Checkpoint"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as Idempotency from "@effect-resilience/durable/Idempotency"
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as SqlCheckpoint from "../src/SqlCheckpoint.js"
import * as SqlConnection from "../src/SqlConnection.js"
import * as SqlDeadLetterQueue from "../src/SqlDeadLetterQueue.js"
import * as SqlIdempotency from "../src/SqlIdempotency.js"

/** Builds a layer and returns how it failed. */
const failureOf = <A, E>(layer: Layer.Layer<A, E>) => Effect.flip(Effect.scoped(Layer.build(layer)))

describe("SqlConnection config", () => {
  it.effect("every store's layerStoreConfig fails with a ParseError naming the bad path", () =>
    Effect.gen(function* () {
      const bad: SqlConnection.ConfigInput = { dialect: "pg", url: "postgres://x@127.0.0.1:1/db", maxConnections: 0 }
      const errors = yield* Effect.all([
        failureOf(SqlDeadLetterQueue.layerStoreConfig(bad)),
        failureOf(SqlCheckpoint.layerStoreConfig(bad)),
        failureOf(SqlIdempotency.layerStoreConfig(bad)),
        failureOf(SqlConnection.layerClient({ dialect: "sqlite", filename: " " })),
        failureOf(SqlConnection.layerClient({ dialect: "pg", url: "postgres://x@h/db", connectTimeout: -1 }))
      ])
      expect(errors.map((e) => e._tag)).toEqual(["ParseError", "ParseError", "ParseError", "ParseError", "ParseError"])
      expect(errors[0]?.message).toContain("maxConnections")
      expect(errors[3]?.message).toContain("filename")
      expect(errors[4]?.message).toContain("connectTimeout")
    })
  )

  it.live("a good config opens the stores on one SQLite database in memory", () =>
    Effect.gen(function* () {
      const config: SqlConnection.ConfigInput = { dialect: "sqlite", filename: ":memory:" }
      const program = Effect.gen(function* () {
        yield* (yield* Checkpoint.CheckpointStore).record("b", [{ key: "k", outcome: "succeeded" }])
        const keys = yield* Idempotency.IdempotencyStore
        const dlq = yield* DLQ.DeadLetterQueue
        return [yield* (yield* Checkpoint.CheckpointStore).load("b"), yield* keys.get("k"), (yield* dlq.stats).total]
      })
      const result = yield* program.pipe(
        Effect.provide(
          Layer.mergeAll(
            SqlCheckpoint.layerStoreConfig(config),
            SqlIdempotency.layerStoreConfig(config),
            DLQ.layer().pipe(Layer.provide(SqlDeadLetterQueue.layerStoreConfig(config)))
          )
        )
      )
      expect(result[0]).toEqual([{ key: "k", outcome: "succeeded" }])
      expect(result[2]).toBe(0)
    })
  )
})
