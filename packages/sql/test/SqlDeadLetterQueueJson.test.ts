import { describe, expect, it } from "@effect/vitest"
import * as Classification from "@effect-resilience/core/Classification"
import * as DLQ from "@effect-resilience/durable/DeadLetterQueue"
import * as Arbitrary from "effect/Arbitrary"
import * as Duration from "effect/Duration"
import * as Either from "effect/Either"
import * as FastCheck from "effect/FastCheck"
import * as Schema from "effect/Schema"
import { makeEncoder } from "../src/internal/json.js"

// The stores write a dead letter's failure and notes through a hand-written encoder; the Schema's
// encoding is the reference it must match, value for value and error for error.
const schemaFailure = Schema.encodeEither(Schema.parseJson(DLQ.Failure))
const schemaNotes = Schema.encodeEither(Schema.parseJson(Schema.Array(DLQ.Note)))

// one encoder for every test, as one store has one: its classification JSON kept by object
const json = makeEncoder()

const same = (a: Either.Either<string, unknown>, b: Either.Either<string, unknown>) => {
  expect(Either.isRight(a)).toBe(Either.isRight(b))
  if (Either.isRight(a) && Either.isRight(b)) expect(a.right).toBe(b.right)
}

describe("dead letter JSON", () => {
  it("writes any failure as the Schema does", () => {
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(DLQ.Failure), (failure) =>
        same(json.failureJson(failure), schemaFailure(failure))
      ),
      { numRuns: 500 }
    )
  })

  it("writes any notes as the Schema does", () => {
    FastCheck.assert(
      FastCheck.property(Arbitrary.make(Schema.Array(DLQ.Note)), (notes) =>
        same(json.notesJson(notes), schemaNotes(notes))
      ),
      { numRuns: 500 }
    )
  })

  it("a classification shared by many failures, with a retry-after, is written as the Schema does", () => {
    const classification = Classification.make({
      category: "throttled",
      code: "http.429",
      message: "Too many requests",
      retryAfter: Duration.seconds(2)
    })
    for (let i = 0; i < 3; i++) {
      const failure = DLQ.failureOf({ _tag: "Throttled", message: `try ${i}` }, classification, [
        { attempt: 1, failure: { tag: "Throttled", message: "slow down" }, classification, atMillis: i, delayMillis: 5 }
      ])
      same(json.failureJson(failure), schemaFailure(failure))
    }
  })

  it("a failure the Schema refuses is refused, with the Schema's error naming the path", () => {
    const classification = Classification.make({ category: "validation", code: "x", message: "x" })
    // `attempt` must be an integer: the type says number, the Schema says more
    const failure: DLQ.Failure = {
      tag: "E",
      message: "m",
      classification,
      history: [{ attempt: 1.5, failure: { tag: "E", message: "m" }, classification, atMillis: 0 }]
    }
    const encoded = json.failureJson(failure)
    same(encoded, schemaFailure(failure))
    expect(Either.isLeft(encoded) && encoded.left.message.includes("Expected an integer, actual 1.5")).toBe(true)
  })

  it("numbers JSON cannot hold are left to the Schema, whatever it makes of them", () => {
    const notes: ReadonlyArray<DLQ.Note> = [{ atMillis: Number.NaN, action: "note", text: "t" }]
    same(json.notesJson(notes), schemaNotes(notes))
  })
})
