/**
 * The decision core of the retry budget: plain TypeScript that imports nothing from `effect`.
 * Time is passed in as epoch milliseconds; classifications are read through `ClassificationView`.
 *
 * - `TokenBucket`: the AWS SDK v3 retry quota. A retry takes `retryCost` tokens, or
 *   `timeoutRetryCost` when the failure is of category `timeout` or `network`; a first-try success
 *   puts `successRefund` back; a success after retries puts back the cost of its last retry (when
 *   `refundRetryCostOnSuccess`). Never above `capacity`.
 * - `RatioBudget`: a retry is allowed while `retries < ratio * requests + reserve` over a sliding
 *   window, the reserve being `minRetriesPerSecond * window` (Finagle). Requests are counted by
 *   `onRequest`, once per call.
 *
 * @internal
 */
import type { ClassificationView } from "../strategy/core.js"
import { SlidingCounts } from "../window/slidingCounts.js"

/** A retry budget's decisions. */
export interface BudgetCore {
  /** Counts one call (once, before its first attempt). */
  readonly onRequest: (nowMillis: number) => void
  /** What one retry of a failure so classified costs. */
  readonly costOf: (classification: ClassificationView) => number
  /** Takes the cost of one retry; `false`, taking nothing, when the budget cannot pay it. */
  readonly tryWithdraw: (classification: ClassificationView, nowMillis: number) => boolean
  /** A successful call; `lastRetry` is the failure whose retry succeeded (undefined on a first try). */
  readonly onSuccess: (firstTry: boolean, lastRetry: ClassificationView | undefined) => void
  /** Tokens left (token bucket) or retries left in the window (ratio). */
  readonly available: (nowMillis: number) => number
  /** Back to a full budget. */
  readonly reset: () => void
}

/** The token bucket's settings (the AWS SDK v3 defaults are 500, 5, 10, 1, true). */
export interface TokenBucketSettings {
  readonly capacity: number
  readonly retryCost: number
  readonly timeoutRetryCost: number
  readonly successRefund: number
  readonly refundRetryCostOnSuccess: boolean
}

/** The categories whose retries cost `timeoutRetryCost` (AWS: timeouts and transient network errors). */
export const isTimeoutLike = (c: ClassificationView): boolean => c.category === "timeout" || c.category === "network"

/** The AWS SDK v3 "standard" retry quota. */
export class TokenBucket implements BudgetCore {
  private tokens: number
  constructor(private readonly settings: TokenBucketSettings) {
    this.tokens = settings.capacity
  }
  readonly onRequest: BudgetCore["onRequest"] = (): void => {}
  readonly costOf: BudgetCore["costOf"] = (c: ClassificationView): number =>
    isTimeoutLike(c) ? this.settings.timeoutRetryCost : this.settings.retryCost
  readonly tryWithdraw: BudgetCore["tryWithdraw"] = (c: ClassificationView): boolean => {
    const cost = this.costOf(c)
    if (this.tokens < cost) return false
    this.tokens -= cost
    return true
  }
  readonly onSuccess: BudgetCore["onSuccess"] = (
    firstTry: boolean,
    lastRetry: ClassificationView | undefined
  ): void => {
    const refund = firstTry
      ? this.settings.successRefund
      : this.settings.refundRetryCostOnSuccess && lastRetry !== undefined
        ? this.costOf(lastRetry)
        : 0
    if (refund > 0) this.tokens = Math.min(this.settings.capacity, this.tokens + refund)
  }
  readonly available: BudgetCore["available"] = (): number => this.tokens
  readonly reset: BudgetCore["reset"] = (): void => {
    this.tokens = this.settings.capacity
  }
}

/** The ratio budget's settings (Google SRE ratio 0.1; Finagle's 10 s window and 10 retries/s). */
export interface RatioSettings {
  readonly ratio: number
  readonly windowMillis: number
  readonly buckets: number
  readonly minRetriesPerSecond: number
}

/** Retries below `ratio` of requests over a sliding window, plus Finagle's minimum allowance. */
export class RatioBudget implements BudgetCore {
  private readonly window: SlidingCounts
  private readonly reserve: number
  constructor(private readonly settings: RatioSettings) {
    this.window = new SlidingCounts(settings.windowMillis, settings.buckets)
    this.reserve = (settings.minRetriesPerSecond * settings.windowMillis) / 1000
  }
  // counter A: requests, counter B: retries
  private allowance(): number {
    return this.settings.ratio * this.window.sumA + this.reserve - this.window.sumB
  }
  readonly onRequest: BudgetCore["onRequest"] = (nowMillis: number): void => {
    this.window.advance(nowMillis)
    this.window.addA(1)
  }
  readonly costOf: BudgetCore["costOf"] = (): number => 1
  readonly tryWithdraw: BudgetCore["tryWithdraw"] = (_: ClassificationView, nowMillis: number): boolean => {
    this.window.advance(nowMillis)
    if (this.allowance() <= 0) return false
    this.window.addB(1)
    return true
  }
  readonly onSuccess: BudgetCore["onSuccess"] = (): void => {}
  readonly available: BudgetCore["available"] = (nowMillis: number): number => {
    this.window.advance(nowMillis)
    return Math.max(0, Math.ceil(this.allowance()))
  }
  readonly reset: BudgetCore["reset"] = (): void => this.window.reset()
}

/** A budget that always pays. */
export const unlimited: BudgetCore = {
  onRequest: () => {},
  costOf: () => 0,
  tryWithdraw: () => true,
  onSuccess: () => {},
  available: () => Number.POSITIVE_INFINITY,
  reset: () => {}
}
