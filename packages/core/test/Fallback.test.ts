import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Classification from "../src/Classification.js"
import * as Classifier from "../src/Classifier.js"
import * as Errors from "../src/Errors.js"
import * as Fallback from "../src/Fallback.js"

class Down {
  readonly _tag = "Down"
}
class Bad {
  readonly _tag = "Bad"
}

const classifier = Classifier.layerFrom((failure) => {
  if (failure instanceof Down)
    return Classification.make({ category: "unavailable", code: "test.down", message: "down" })
  if (failure instanceof Bad) return Classification.make({ category: "validation", code: "test.bad", message: "bad" })
  if (failure instanceof Errors.CircuitOpen)
    return Classification.make({ category: "unavailable", code: Classification.circuitOpenCode, message: "open" })
  return Classification.unknown
})

const circuitOpen = new Errors.CircuitOpen({ breaker: "db", retryAfterMillis: 1000 })
const breakerGaveUp = new Errors.RetriesExhausted({ operation: "get", reason: "breaker-open", attempts: [] })
const exhausted = new Errors.RetriesExhausted({ operation: "get", reason: "exhausted", attempts: [] })

describe("Fallback.orElse", () => {
  it.effect("falls back on any failure by default, with the error and its classification", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const program: Effect.Effect<string, never, Classifier.Classifier> = Effect.fail(new Down()).pipe(
        Fallback.orElse({
          fallback: (error, classification) => {
            seen.push(`${error._tag}:${classification.category}`)
            return Effect.succeed("cached")
          }
        })
      )
      expect(yield* program).toBe("cached")
      expect(seen).toEqual(["Down:unavailable"])
    }).pipe(Effect.provide(classifier))
  )

  it.effect("falls back by category and lets other categories through", () =>
    Effect.gen(function* () {
      const protect = <A>(self: Effect.Effect<A, Down | Bad>) =>
        Fallback.orElse(self, { when: ["unavailable", "timeout"], fallback: () => Effect.succeed("fallback") })
      expect(yield* protect(Effect.fail(new Down()))).toBe("fallback")
      expect(yield* Effect.exit(protect(Effect.fail(new Bad())))).toEqual(Exit.fail(new Bad()))
      expect(yield* protect(Effect.succeed("fresh"))).toBe("fresh")
    }).pipe(Effect.provide(classifier))
  )

  it.effect("accepts a predicate over the classification", () =>
    Effect.gen(function* () {
      const protect = (self: Effect.Effect<string, Down | Bad>) =>
        self.pipe(
          Fallback.orElse({
            when: (c) => c.code === "test.bad",
            fallback: (e) => Effect.succeed(`handled ${e._tag}`)
          })
        )
      expect(yield* protect(Effect.fail(new Bad()))).toBe("handled Bad")
      expect(yield* Effect.exit(protect(Effect.fail(new Down())))).toEqual(Exit.fail(new Down()))
    }).pipe(Effect.provide(classifier))
  )

  it.effect("when: circuit-open matches CircuitOpen and breaker-open retries, not other failures", () =>
    Effect.gen(function* () {
      const protect = (self: Effect.Effect<string, Errors.CircuitOpen | Errors.RetriesExhausted | Down>) =>
        self.pipe(Fallback.orElse({ when: "circuit-open", fallback: () => Effect.succeed("stale") }))
      expect(yield* protect(Effect.fail(circuitOpen))).toBe("stale")
      expect(yield* protect(Effect.fail(breakerGaveUp))).toBe("stale")
      expect(yield* Effect.exit(protect(Effect.fail(new Down())))).toEqual(Exit.fail(new Down()))
      expect(yield* Effect.exit(protect(Effect.fail(exhausted)))).toEqual(Exit.fail(exhausted))
    }).pipe(Effect.provide(classifier))
  )

  it.effect("a failing fallback fails with its own error", () =>
    Effect.gen(function* () {
      const program: Effect.Effect<never, string, Classifier.Classifier> = Effect.fail(new Down()).pipe(
        Fallback.orElse({ fallback: () => Effect.fail("fallback failed too") })
      )
      expect(yield* Effect.exit(program)).toEqual(Exit.fail("fallback failed too"))
    }).pipe(Effect.provide(classifier))
  )

  it.effect("does not catch defects", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Effect.die("bug").pipe(Fallback.orElse({ fallback: () => Effect.succeed(1) })))
      expect(exit).toEqual(Exit.die("bug"))
    }).pipe(Effect.provide(classifier))
  )
})

describe("Fallback.onCircuitOpen", () => {
  it.effect("handles CircuitOpen and breaker-open RetriesExhausted without a Classifier", () =>
    Effect.gen(function* () {
      const handled: Array<string> = []
      const protect = (self: Effect.Effect<string, Errors.CircuitOpen | Errors.RetriesExhausted | Down>) =>
        self.pipe(
          Fallback.onCircuitOpen((error) => {
            handled.push(error._tag)
            return Effect.succeed("stale")
          })
        )
      expect(yield* protect(Effect.fail(circuitOpen))).toBe("stale")
      expect(yield* protect(Effect.fail(breakerGaveUp))).toBe("stale")
      expect(yield* Effect.exit(protect(Effect.fail(exhausted)))).toEqual(Exit.fail(exhausted))
      expect(yield* Effect.exit(protect(Effect.fail(new Down())))).toEqual(Exit.fail(new Down()))
      expect(yield* protect(Effect.succeed("fresh"))).toBe("fresh")
      expect(handled).toEqual(["CircuitOpen", "RetriesExhausted"])
    })
  )

  it.effect("removes CircuitOpen from the error type (checked by the compiler)", () =>
    Effect.gen(function* () {
      const call: Effect.Effect<number, Errors.CircuitOpen | Down> = Effect.fail(circuitOpen)
      const protectedCall: Effect.Effect<number, Down> = Fallback.onCircuitOpen(call, () => Effect.succeed(0))
      expect(yield* protectedCall).toBe(0)
    })
  )
})
