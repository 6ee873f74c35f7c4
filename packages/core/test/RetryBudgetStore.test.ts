/**
 * The retry budget's store seam: `make`, `layer` and the sharing registry keep a budget's state in
 * the `RetryBudgetStore` in context (memory by default), attached once per budget.
 */
import { describe, expect, it } from "@effect/vitest"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import * as Classification from "../src/Classification.js"
import * as RetryBudget from "../src/RetryBudget.js"

const serverError = Classification.make({ category: "server", code: "http.503", message: "Service unavailable" })

/** A store that counts its attachments and pays `tokens` retries in all. */
const counting = (tokens: number) => {
  const attached: Array<string> = []
  const store: RetryBudget.RetryBudgetStoreService = {
    attach: (config) =>
      Effect.sync(() => {
        attached.push(config.name)
        let left = tokens
        return {
          onRequest: () => {},
          costOf: () => 1,
          tryWithdraw: () => left > 0 && left-- > 0,
          onSuccess: () => {},
          available: () => left,
          reset: () => {
            left = tokens
          }
        }
      })
  }
  return { store, attached }
}

describe("RetryBudget store", () => {
  it.scoped("make keeps the budget in the store in context", () =>
    Effect.gen(function* () {
      const { store, attached } = counting(2)
      const budget = yield* RetryBudget.make({ name: "s3" }).pipe(
        Effect.provideService(RetryBudget.RetryBudgetStore, store)
      )
      expect(attached).toEqual(["s3"])
      expect([
        budget.tryWithdraw(serverError),
        budget.tryWithdraw(serverError),
        budget.tryWithdraw(serverError)
      ]).toEqual([true, true, false])
      expect(budget.available()).toBe(0)
    })
  )

  it.scoped("without a store, budgets are in memory and each has its own", () =>
    Effect.gen(function* () {
      expect(yield* RetryBudget.RetryBudgetStore).toBe(RetryBudget.storeMemory)
      const a = yield* RetryBudget.make({ capacity: 10 })
      const b = yield* RetryBudget.make({ capacity: 10 })
      a.tryWithdraw(serverError)
      expect([a.available(), b.available()]).toEqual([5, 10])
    })
  )

  it.effect("the sharing registry attaches once per name, in the store present when it is built", () => {
    const { store, attached } = counting(1)
    return Effect.gen(function* () {
      const registry = yield* RetryBudget.Registry
      const [a, b, c] = yield* Effect.all([registry.get("x"), registry.get("x"), registry.get("y")], {
        concurrency: "unbounded"
      })
      expect(a).toBe(b)
      expect(a).not.toBe(c)
      expect(attached.sort()).toEqual(["x", "y"])
    }).pipe(
      Effect.scoped,
      Effect.provide(RetryBudget.layerRegistry.pipe(Layer.provide(Layer.succeed(RetryBudget.RetryBudgetStore, store))))
    )
  })
})
