/**
 * The decision core of the retry policy: after a failure, whether to retry and how long to wait.
 * Plain TypeScript that imports nothing from `effect`; delays and time left are numbers of
 * milliseconds, the failure is read through `ClassificationView`.
 *
 * @internal
 */
import { retryAfterDelay } from "../backoff/core.js"
import type { ClassificationView } from "../strategy/core.js"

/** Why retrying stopped. */
export type StopReason = "not-retryable" | "exhausted" | "deadline" | "budget" | "breaker-open"

/**
 * Before the schedule is asked: stop when the failure is not retryable, or when `reached` attempts
 * (those that reached the operation) already used up `maxAttempts`.
 */
export const stopBeforeSchedule = (
  classification: ClassificationView,
  reached: number,
  maxAttempts: number
): StopReason | undefined =>
  !classification.retryable ? "not-retryable" : reached >= maxAttempts ? "exhausted" : undefined

/**
 * The attempts that reached the operation: a call an open breaker refused did not (waiting for
 * the probe is bounded by the deadline instead of by `maxAttempts`).
 */
export const reachedAttempts = (made: number, refusedByBreaker: boolean): number => (refusedByBreaker ? made - 1 : made)

/**
 * The delay before the next attempt, in whole milliseconds rounded up (timers have no finer grain,
 * and a delay is never shorter than asked). An open breaker's wait is honoured in full; a server's
 * Retry-After up to `extraMillis` beyond the backoff.
 */
export const retryDelay = (
  backoffMillis: number,
  retryAfterMillis: number | undefined,
  extraMillis: number,
  circuitOpen: boolean
): number => {
  let delay = Math.max(0, backoffMillis)
  if (retryAfterMillis !== undefined) {
    delay = circuitOpen ? Math.max(delay, retryAfterMillis) : retryAfterDelay(delay, retryAfterMillis, extraMillis)
  }
  return Math.ceil(delay)
}

/**
 * Once the delay is known: stop when it does not fit in the time left (`remainingMillis`,
 * undefined without a deadline), or when the breaker is open and there is no deadline to bound
 * the wait for its probe.
 */
export const stopForTime = (
  delayMillis: number,
  remainingMillis: number | undefined,
  circuitOpen: boolean
): StopReason | undefined => {
  if (remainingMillis !== undefined && delayMillis >= remainingMillis) return circuitOpen ? "breaker-open" : "deadline"
  if (circuitOpen && remainingMillis === undefined) return "breaker-open"
  return undefined
}
