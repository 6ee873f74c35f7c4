/**
 * A test failure whose classification is written on it, and a Classifier that reads it: tests
 * choose the category, code and Retry-After of each failure without depending on the defaults.
 */
import * as Clock from "effect/Clock"
import * as Effect from "effect/Effect"
import * as Ref from "effect/Ref"
import * as Schema from "effect/Schema"
import * as Classification from "../../src/Classification.js"
import * as Classifier from "../../src/Classifier.js"

export class Boom extends Schema.TaggedError<Boom>()("Boom", {
  category: Classification.Category,
  retryAfterMillis: Schema.optional(Schema.Number),
  code: Schema.optional(Schema.String)
}) {}

export const classifyBoom = (failure: unknown): Classification.Classification =>
  failure instanceof Boom
    ? Classification.make({
        category: failure.category,
        code: failure.code ?? `test.${failure.category}`,
        message: `test failure (${failure.category})`,
        retryAfter: failure.retryAfterMillis
      })
    : Classification.unknown

export const testClassifier = Classifier.layerFrom(classifyBoom)

export const transient = new Boom({ category: "unavailable" })

/** An operation that fails with the given failures in turn, then succeeds; records the time of each attempt. */
export const scripted = (failures: ReadonlyArray<Boom>) =>
  Effect.gen(function* () {
    const times = yield* Ref.make<ReadonlyArray<number>>([])
    const op = Effect.gen(function* () {
      const now = yield* Clock.currentTimeMillis
      const seen = yield* Ref.modify(times, (ts) => [ts.length, [...ts, now]])
      const failure = failures[seen]
      if (failure !== undefined) return yield* failure
      return "ok" as const
    })
    return { op, times: Ref.get(times) }
  })
