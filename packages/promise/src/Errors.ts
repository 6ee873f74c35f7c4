/**
 * The errors a resilient call rejects with besides the operation's own: plain `Error` subclasses,
 * told apart with `instanceof`. Each carries the operation's name and what the decision was.
 *
 * @since 0.2.0
 */

/**
 * The circuit breaker is open (or half-open with its probes in flight): the call was refused
 * without running. `retryAfterMillis` says when it is worth asking again (0 when unknown).
 *
 * @example
 * ```ts
 * import { CircuitOpenError } from "@effect-resilience/promise"
 *
 * const describe = (error: unknown) =>
 *   error instanceof CircuitOpenError ? `retry in ${error.retryAfterMillis} ms` : "other failure"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class CircuitOpenError extends Error {
  override readonly name = "CircuitOpenError"
  constructor(
    readonly operation: string,
    readonly breaker: string,
    readonly retryAfterMillis: number
  ) {
    super(`${operation}: circuit breaker "${breaker}" is open`)
  }
}

/**
 * The bulkhead had no free slot and no room in its queue (`full`), or the call waited in the queue
 * longer than the queue timeout (`queue-timeout`). The adaptive strategies refuse with it too, as
 * on the Effect side: the adaptive throttle's local refusal (`throttled`, `bulkhead` is the
 * throttle's name) and the adaptive concurrency limit's (`adaptive-limit`).
 *
 * @example
 * ```ts
 * import { BulkheadRejectedError } from "@effect-resilience/promise"
 *
 * const isFull = (error: unknown) => error instanceof BulkheadRejectedError && error.reason === "full"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class BulkheadRejectedError extends Error {
  override readonly name = "BulkheadRejectedError"
  constructor(
    readonly operation: string,
    readonly bulkhead: string,
    readonly reason: string
  ) {
    super(`${operation}: bulkhead "${bulkhead}" rejected the call (${reason})`)
  }
}

/**
 * The rate limit had no token for the call (the Effect side's `RateLimited`): the limiter refuses
 * (`onExceeded: "fail"`), or it would have to wait longer than its `maxDelay` or than the call's
 * deadline leaves (`onExceeded: "delay"`). `retryAfterMillis` says when a token is due. The
 * call's retry policy may retry it after that (category `throttled`).
 *
 * @example
 * ```ts
 * import { RateLimitedError } from "@effect-resilience/promise"
 *
 * const wait = (error: unknown) => (error instanceof RateLimitedError ? error.retryAfterMillis : 0)
 * ```
 *
 * @since 0.3.0
 * @category errors
 */
export class RateLimitedError extends Error {
  override readonly name = "RateLimitedError"
  constructor(
    readonly operation: string,
    readonly limiter: string,
    readonly retryAfterMillis: number
  ) {
    super(`${operation}: rate limit "${limiter}" reached, next token in ${Math.ceil(retryAfterMillis)} ms`)
  }
}

/**
 * One attempt ran longer than the attempt timeout; its `AbortSignal` was aborted with this error.
 * Retryable: the call goes on with the next attempt when the policy allows.
 *
 * @example
 * ```ts
 * import { AttemptTimeoutError } from "@effect-resilience/promise"
 *
 * const timedOut = (error: unknown) => error instanceof AttemptTimeoutError
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class AttemptTimeoutError extends Error {
  override readonly name = "AttemptTimeoutError"
  constructor(
    readonly operation: string,
    readonly attempt: number,
    readonly timeoutMillis: number
  ) {
    super(`${operation}: attempt ${attempt} timed out after ${timeoutMillis} ms`)
  }
}

/**
 * The call's deadline passed during an attempt (the attempt's signal was aborted with this error).
 * Not retryable: no time is left.
 *
 * @example
 * ```ts
 * import { DeadlineExceededError } from "@effect-resilience/promise"
 *
 * const late = (error: unknown) => error instanceof DeadlineExceededError
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class DeadlineExceededError extends Error {
  override readonly name = "DeadlineExceededError"
  constructor(
    readonly operation: string,
    readonly deadlineMillis: number
  ) {
    super(`${operation}: the deadline of ${deadlineMillis} ms passed`)
  }
}

/**
 * Retrying stopped while the failures were still retryable: every attempt allowed failed
 * (`exhausted`), or the next delay did not fit in the deadline (`deadline`). `cause` is the last
 * failure; `lastCategory` its category.
 *
 * @example
 * ```ts
 * import { RetriesExhaustedError } from "@effect-resilience/promise"
 *
 * const attempts = (error: unknown) => (error instanceof RetriesExhaustedError ? error.attempts : 1)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class RetriesExhaustedError extends Error {
  override readonly name = "RetriesExhaustedError"
  constructor(
    readonly operation: string,
    readonly attempts: number,
    readonly reason: "exhausted" | "deadline",
    readonly lastCategory: string,
    cause: unknown
  ) {
    super(`${operation}: gave up after ${attempts} attempt(s) (${reason}), last failure ${lastCategory}`, { cause })
  }
}

/**
 * The retry budget could not pay for a retry (too many retries across calls): the call stopped.
 * `cause` is the failure that would have been retried.
 *
 * @example
 * ```ts
 * import { RetryBudgetExhaustedError } from "@effect-resilience/promise"
 *
 * const shed = (error: unknown) => error instanceof RetryBudgetExhaustedError
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class RetryBudgetExhaustedError extends Error {
  override readonly name = "RetryBudgetExhaustedError"
  constructor(
    readonly operation: string,
    readonly attempts: number,
    cause: unknown
  ) {
    super(`${operation}: the retry budget refused a retry after ${attempts} attempt(s)`, { cause })
  }
}

/**
 * A response whose status is a failure (`resilientFetch`): a retryable status (5xx, 429, 408) or
 * one a breaker counts. Holds the response (its body cancelled, so that the connection is freed) and the classification's category.
 *
 * @example
 * ```ts
 * import { HttpStatusError } from "@effect-resilience/promise"
 *
 * const status = (error: unknown) => (error instanceof HttpStatusError ? error.status : undefined)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class HttpStatusError extends Error {
  override readonly name = "HttpStatusError"
  readonly status: number
  readonly headers: Headers
  constructor(readonly response: Response) {
    super(`HTTP ${response.status} ${response.statusText}`.trim())
    this.status = response.status
    this.headers = response.headers
  }
}
