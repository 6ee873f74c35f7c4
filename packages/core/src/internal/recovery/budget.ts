/**
 * The decision core of the recovery budget: plain TypeScript that imports nothing from `effect`.
 * It bounds what recovery actions (a credential refresh, a failover, freeing a resource) may do:
 *
 * - per call: at most `maxAttemptsPerCall` actions run, costing at most `maxCostPerCall` in all
 *   (when set), and at most `maxTimePerCallMillis` is spent running them (an action is given what
 *   is left as its time limit);
 * - per sliding window of `windowMillis`: the costs of the actions started in the window add up to
 *   at most `maxCostPerWindow` (a refresh storm across calls is bounded, not only within one).
 *
 * A cost is charged when an action starts and never refunded: an action that failed still did its
 * work against the dependency. Time is passed in as milliseconds.
 *
 * @internal
 */

/** The budget's settings. */
export interface BudgetSettings {
  readonly maxAttemptsPerCall: number
  /** Unbounded when undefined. */
  readonly maxCostPerCall?: number | undefined
  readonly maxTimePerCallMillis: number
  readonly windowMillis: number
  readonly maxCostPerWindow: number
}

/**
 * Why an action was not started: too many actions in this call, its cost or its time used up, or
 * the window's cost.
 */
export type Refusal = "attempts" | "call-cost" | "time" | "window"

/** What one call has used of the budget. */
export interface CallLedger {
  attempts: number
  cost: number
  spentMillis: number
}

/** A recovery budget shared by the calls of one pipeline. */
export class RecoveryBudget {
  /** Start times and costs of the actions in the window, oldest first (from `head`). */
  private readonly times: Array<number> = []
  private readonly costs: Array<number> = []
  private head = 0
  private total = 0

  constructor(readonly settings: BudgetSettings) {}

  /** A fresh ledger for one call. */
  readonly newCall = (): CallLedger => ({ attempts: 0, cost: 0, spentMillis: 0 })

  /** Drops the actions that left the window ending at `nowMillis` (started at or before `now - window`). */
  private prune(nowMillis: number): void {
    const from = nowMillis - this.settings.windowMillis
    while (this.head < this.times.length && (this.times[this.head] as number) <= from) {
      this.total -= this.costs[this.head] as number
      this.head++
    }
    if (this.head > 64 && this.head * 2 > this.times.length) {
      this.times.splice(0, this.head)
      this.costs.splice(0, this.head)
      this.head = 0
    }
    if (this.head === this.times.length) this.total = 0
  }

  /** The cost of the actions started in the window ending at `nowMillis`. */
  readonly windowCost = (nowMillis: number): number => {
    this.prune(nowMillis)
    return this.total
  }

  /**
   * Asks to start an action of `cost` for the call of `ledger` at `nowMillis`: `undefined` when
   * granted (the attempt and the cost are charged), else why not (nothing is charged).
   */
  readonly tryStart = (ledger: CallLedger, cost: number, nowMillis: number): Refusal | undefined => {
    if (ledger.attempts >= this.settings.maxAttemptsPerCall) return "attempts"
    const callCost = this.settings.maxCostPerCall
    if (callCost !== undefined && ledger.cost + cost > callCost) return "call-cost"
    if (ledger.spentMillis >= this.settings.maxTimePerCallMillis) return "time"
    this.prune(nowMillis)
    if (this.total + cost > this.settings.maxCostPerWindow) return "window"
    ledger.attempts++
    ledger.cost += cost
    this.times.push(nowMillis)
    this.costs.push(cost)
    this.total += cost
    return undefined
  }

  /** The time an action of the call may still take (its limit). */
  readonly timeLeft = (ledger: CallLedger): number =>
    Math.max(0, this.settings.maxTimePerCallMillis - ledger.spentMillis)

  /** An action of the call ended after `durationMillis`. */
  readonly finish = (ledger: CallLedger, durationMillis: number): void => {
    ledger.spentMillis += Math.max(0, durationMillis)
  }
}
