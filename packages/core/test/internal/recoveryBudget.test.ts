/**
 * The recovery budget core on its own (plain TypeScript, no Effect): examples, then a property
 * test against a reference model written here with plain arrays (every action ever started,
 * filtered per question), over random settings and random sequences of calls, starts, finishes
 * and clock steps. After every step the decisions, the window's cost and the time left must agree,
 * and two invariants hold on the core alone: the window never holds more cost than allowed, and a
 * call never runs more actions than allowed.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import { type BudgetSettings, type Refusal, RecoveryBudget } from "../../src/internal/recovery/budget.js"

describe("RecoveryBudget", () => {
  const settings: BudgetSettings = {
    maxAttemptsPerCall: 2,
    maxTimePerCallMillis: 1_000,
    windowMillis: 10_000,
    maxCostPerWindow: 5
  }

  it("bounds actions per call, time per call and cost per window, and says which bound refused", () => {
    const budget = new RecoveryBudget(settings)
    const a = budget.newCall()
    expect(budget.tryStart(a, 1, 0)).toBeUndefined()
    budget.finish(a, 400)
    expect(budget.timeLeft(a)).toBe(600)
    expect(budget.tryStart(a, 1, 0)).toBeUndefined()
    expect(budget.tryStart(a, 1, 0)).toBe("attempts")
    const b = budget.newCall()
    expect(budget.tryStart(b, 1, 10)).toBeUndefined()
    budget.finish(b, 1_000)
    expect(budget.tryStart(b, 1, 10)).toBe("time")
    expect(budget.timeLeft(b)).toBe(0)
    // 3 spent in the window: a cost of 3 does not fit, a cost of 2 does
    const c = budget.newCall()
    expect(budget.tryStart(c, 3, 20)).toBe("window")
    expect(budget.tryStart(c, 2, 20)).toBeUndefined()
    expect(budget.windowCost(20)).toBe(5)
    // the first two leave the window at 10 000, the third at 10 010
    expect(budget.windowCost(10_000)).toBe(3)
    expect(budget.windowCost(10_010)).toBe(2)
    expect(budget.tryStart(budget.newCall(), 3, 10_010)).toBeUndefined()
  })

  it("bounds the cost of one call when told to", () => {
    const budget = new RecoveryBudget({ ...settings, maxAttemptsPerCall: 5, maxCostPerCall: 3 })
    const call = budget.newCall()
    expect(budget.tryStart(call, 2, 0)).toBeUndefined()
    expect(budget.tryStart(call, 2, 0)).toBe("call-cost")
    expect(budget.tryStart(call, 1, 0)).toBeUndefined()
    // 3 spent in the window of 5: another call costing 3 does not fit
    expect(budget.tryStart(budget.newCall(), 3, 0)).toBe("window")
  })

  it("a refused start charges nothing", () => {
    const budget = new RecoveryBudget({ ...settings, maxCostPerWindow: 1 })
    const call = budget.newCall()
    expect(budget.tryStart(call, 2, 0)).toBe("window")
    expect(call.attempts).toBe(0)
    expect(budget.windowCost(0)).toBe(0)
  })
})

// ---------------------------------------------------------------------------------------------
// Property test against a reference model
// ---------------------------------------------------------------------------------------------

interface Model {
  readonly settings: BudgetSettings
  readonly started: Array<{ readonly at: number; readonly cost: number }>
  readonly calls: Array<{ attempts: number; cost: number; spent: number }>
}

const modelWindowCost = (m: Model, now: number): number =>
  m.started.filter((s) => s.at > now - m.settings.windowMillis).reduce((sum, s) => sum + s.cost, 0)

const modelStart = (m: Model, call: number, cost: number, now: number): Refusal | undefined => {
  const c = m.calls[call]
  if (c === undefined) throw new Error("no such call")
  if (c.attempts >= m.settings.maxAttemptsPerCall) return "attempts"
  if (m.settings.maxCostPerCall !== undefined && c.cost + cost > m.settings.maxCostPerCall) return "call-cost"
  if (c.spent >= m.settings.maxTimePerCallMillis) return "time"
  if (modelWindowCost(m, now) + cost > m.settings.maxCostPerWindow) return "window"
  c.attempts++
  c.cost += cost
  m.started.push({ at: now, cost })
  return undefined
}

type Step =
  | { readonly _tag: "call" }
  | { readonly _tag: "start"; readonly call: number; readonly cost: number }
  | { readonly _tag: "finish"; readonly call: number; readonly millis: number }
  | { readonly _tag: "tick"; readonly millis: number }

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.constant({ _tag: "call" as const }),
  fc.record({
    _tag: fc.constant("start" as const),
    call: fc.nat({ max: 20 }),
    cost: fc.constantFrom(0, 0.5, 1, 2, 3, 10)
  }),
  fc.record({ _tag: fc.constant("finish" as const), call: fc.nat({ max: 20 }), millis: fc.nat({ max: 800 }) }),
  fc.record({ _tag: fc.constant("tick" as const), millis: fc.oneof(fc.nat({ max: 50 }), fc.nat({ max: 5_000 })) })
)

const settingsArb: fc.Arbitrary<BudgetSettings> = fc.record({
  maxAttemptsPerCall: fc.integer({ min: 1, max: 5 }),
  maxCostPerCall: fc.option(fc.constantFrom(0, 1, 2, 5), { nil: undefined }),
  maxTimePerCallMillis: fc.integer({ min: 1, max: 2_000 }),
  windowMillis: fc.integer({ min: 1, max: 5_000 }),
  maxCostPerWindow: fc.constantFrom(0, 1, 3, 10, 50)
})

describe("RecoveryBudget against a reference model", () => {
  it("agrees on every decision, the window's cost and the time left; bounds always hold", () => {
    fc.assert(
      fc.property(settingsArb, fc.array(stepArb, { maxLength: 300, size: "large" }), (s, steps) => {
        const budget = new RecoveryBudget(s)
        const model: Model = { settings: s, started: [], calls: [] }
        const ledgers = [budget.newCall()]
        model.calls.push({ attempts: 0, cost: 0, spent: 0 })
        let now = 1_000
        for (const step of steps) {
          switch (step._tag) {
            case "call":
              ledgers.push(budget.newCall())
              model.calls.push({ attempts: 0, cost: 0, spent: 0 })
              break
            case "start": {
              const i = step.call % ledgers.length
              const ledger = ledgers[i]
              if (ledger === undefined) throw new Error("no ledger")
              expect(budget.tryStart(ledger, step.cost, now)).toBe(modelStart(model, i, step.cost, now))
              expect(ledger.attempts).toBeLessThanOrEqual(s.maxAttemptsPerCall)
              if (s.maxCostPerCall !== undefined) expect(ledger.cost).toBeLessThanOrEqual(s.maxCostPerCall)
              break
            }
            case "finish": {
              const i = step.call % ledgers.length
              const ledger = ledgers[i]
              const m = model.calls[i]
              if (ledger === undefined || m === undefined) throw new Error("no ledger")
              budget.finish(ledger, step.millis)
              m.spent += step.millis
              expect(budget.timeLeft(ledger)).toBe(Math.max(0, s.maxTimePerCallMillis - m.spent))
              break
            }
            case "tick":
              now += step.millis
              break
          }
          const cost = budget.windowCost(now)
          expect(cost).toBeCloseTo(modelWindowCost(model, now), 9)
          expect(cost).toBeLessThanOrEqual(s.maxCostPerWindow + 1e-9)
        }
      }),
      { numRuns: 100 }
    )
  })
})
