import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Equal from "effect/Equal"
import * as Exit from "effect/Exit"
import * as Schema from "effect/Schema"
import * as Classification from "../../src/Classification.js"
import {
  AttemptTimeout,
  CircuitOpen,
  DeadlineExceeded,
  RateLimited,
  RetriesExhausted,
  RetryBudgetExhausted
} from "../../src/Errors.js"
import { unsafeConstruct } from "../../src/internal/construct.js"

const history = [
  {
    attempt: 1,
    failure: { tag: "HttpError", message: "Service unavailable" },
    classification: Classification.make({ category: "unavailable", code: "http.503", message: "Service unavailable" }),
    atMillis: 5
  }
]

/** The fast construction against the validating one, for one class. */
const same = <P extends object, A extends Error & { readonly _tag: string }, I>(
  Class: { readonly _tag: string; new (props: P, options?: boolean): A },
  schema: Schema.Schema<A, I>,
  props: P
) => {
  const checked = new Class(props)
  const fast = unsafeConstruct(Class, props)
  expect(fast).toBeInstanceOf(Class)
  expect(fast).toBeInstanceOf(Error)
  expect(fast._tag).toBe(checked._tag)
  expect(fast.message).toBe(checked.message)
  expect({ ...fast }).toEqual({ ...checked })
  // as two validated errors with the same fields are
  expect(Equal.equals(fast, checked)).toBe(Equal.equals(new Class(props), checked))
  expect(Schema.encodeSync(schema)(fast)).toEqual(Schema.encodeSync(schema)(checked))
}

describe("unsafeConstruct", () => {
  it("builds the same error the validating constructor builds: class, tag, fields, message, encoding", () => {
    same(AttemptTimeout, AttemptTimeout, { operation: "op", attempt: 2, timeoutMillis: 100 })
    same(DeadlineExceeded, DeadlineExceeded, { operation: "op", deadlineMillis: 1000 })
    same(RateLimited, RateLimited, { limiter: "api", retryAfterMillis: 50 })
    same(CircuitOpen, CircuitOpen, { breaker: "db", retryAfterMillis: 30_000 })
    same(RetryBudgetExhausted, RetryBudgetExhausted, { budget: "b", operation: "op" })
    same(RetriesExhausted, RetriesExhausted, { operation: "op", reason: "exhausted", attempts: history })
  })

  it.effect("is yieldable and matchable like any tagged error", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(
        unsafeConstruct(AttemptTimeout, { operation: "op", attempt: 1, timeoutMillis: 5 })
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const caught = yield* unsafeConstruct(DeadlineExceeded, { operation: "op", deadlineMillis: 5 }).pipe(
        Effect.catchTag("DeadlineExceeded", (e) => Effect.succeed(e.deadlineMillis))
      )
      expect(caught).toBe(5)
    })
  )
})
