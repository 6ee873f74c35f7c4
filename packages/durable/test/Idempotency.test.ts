import { describe, expect, it } from "@effect/vitest"
import * as Deferred from "effect/Deferred"
import * as Effect from "effect/Effect"
import * as Fiber from "effect/Fiber"
import * as Layer from "effect/Layer"
import * as Schema from "effect/Schema"
import * as Idempotency from "../src/Idempotency.js"
import * as StoreSuites from "../src/StoreSuites.js"

StoreSuites.idempotencyStore("memory", Idempotency.layerStoreMemory)

describe("Idempotency results", () => {
  it.effect("results round-trip through their schema; Schema.Void stores null", () =>
    Effect.gen(function* () {
      const Money = Schema.Struct({ cents: Schema.BigInt, currency: Schema.String })
      const json = yield* Idempotency.encodeResult(Money, { cents: 12345678901234567890n, currency: "EUR" })
      expect(json).toBe(`{"cents":"12345678901234567890","currency":"EUR"}`)
      expect(yield* Idempotency.decodeResult(Money, json)).toEqual({ cents: 12345678901234567890n, currency: "EUR" })
      expect(yield* Idempotency.encodeResult(Schema.Void, undefined)).toBe("null")
    })
  )

  it.effect("a stored result that no longer matches its schema is a decode error, not a defect", () =>
    Effect.gen(function* () {
      const bad = yield* Effect.flip(Idempotency.decodeResult(Schema.Number, `"not a number"`))
      expect(bad).toMatchObject({ _tag: "IdempotencyError", operation: "decode" })
      const notJson = yield* Effect.flip(Idempotency.decodeResult(Schema.Number, "{oops"))
      expect(notJson).toMatchObject({ _tag: "IdempotencyError", operation: "decode" })
    })
  )
})

describe("Idempotency.once", () => {
  it.effect("interrupted while its lease is being taken, it releases the key instead of leaving it leased", () =>
    Effect.gen(function* () {
      const memory = yield* Idempotency.IdempotencyStore
      const asked = yield* Deferred.make<void>()
      const gate = yield* Deferred.make<void>()
      // a store whose acquire takes the lease, then answers only when the test opens the gate
      const slow = Layer.succeed(Idempotency.IdempotencyStore, {
        ...memory,
        acquire: (key, lease) =>
          Effect.zipLeft(
            memory.acquire(key, lease),
            Effect.zipRight(Deferred.succeed(asked, undefined), Deferred.await(gate))
          )
      })
      let ran = 0
      const call = yield* Effect.fork(
        Idempotency.once(
          "k",
          Effect.sync(() => ran++),
          { schema: Schema.Number, owner: "first", lease: "1 minute" }
        ).pipe(Effect.provide(slow))
      )
      yield* Deferred.await(asked)
      const interrupting = yield* Effect.fork(Fiber.interrupt(call))
      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(interrupting)
      // the lease taken after the interruption was released: another owner gets the key at once
      expect(ran).toBe(0)
      const next = yield* memory.acquire("k", { owner: "second", leaseMillis: 1000 })
      expect(next._tag).toBe("Acquired")
    }).pipe(Effect.provide(Idempotency.layerStoreMemory))
  )
})
