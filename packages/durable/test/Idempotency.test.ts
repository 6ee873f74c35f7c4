import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
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
