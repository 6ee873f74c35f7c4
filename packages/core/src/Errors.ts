/**
 * The runtime's own failures. Each is a `Schema.TaggedError`, so it can be matched with
 * `Effect.catchTag`, printed, and encoded to JSON (a dead letter stores it).
 *
 * Their `message` is fit to show a user: it names the operation or component, never a host,
 * credential, payload or stack trace.
 *
 * @since 0.1.0
 */
import * as Schema from "effect/Schema"
import { Classification } from "./Classification.js"

/**
 * A short, serialisable description of a failure: its tag, a message fit for a user and, where
 * known, its classification code.
 *
 * @since 0.1.0
 * @category schemas
 */
export const FailureSummary = Schema.Struct({
  tag: Schema.String,
  message: Schema.String
})

/**
 * @since 0.1.0
 * @category models
 */
export interface FailureSummary extends Schema.Schema.Type<typeof FailureSummary> {}

/**
 * One attempt of a retried call: which attempt, how it failed, how that failure was classified,
 * the delay chosen before the next attempt (absent on the last), and when it ended (epoch ms of
 * the Clock in use, so TestClock time in tests).
 *
 * @since 0.1.0
 * @category schemas
 */
export const AttemptRecord = Schema.Struct({
  attempt: Schema.Int,
  failure: FailureSummary,
  classification: Classification,
  delayMillis: Schema.optional(Schema.Number),
  atMillis: Schema.Number
})

/**
 * @since 0.1.0
 * @category models
 */
export interface AttemptRecord extends Schema.Schema.Type<typeof AttemptRecord> {}

/**
 * One attempt took longer than its timeout.
 *
 * @example
 * ```ts
 * import { Errors } from "@effect-resilience/core"
 * const e = new Errors.AttemptTimeout({ operation: "get-user", attempt: 1, timeoutMillis: 500 })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class AttemptTimeout extends Schema.TaggedError<AttemptTimeout>()("AttemptTimeout", {
  operation: Schema.String,
  attempt: Schema.Int,
  timeoutMillis: Schema.Number
}) {
  override get message(): string {
    return `Attempt ${this.attempt} of "${this.operation}" timed out after ${this.timeoutMillis} ms`
  }
}

/**
 * The call's overall deadline passed.
 *
 * @since 0.1.0
 * @category errors
 */
export class DeadlineExceeded extends Schema.TaggedError<DeadlineExceeded>()("DeadlineExceeded", {
  operation: Schema.String,
  deadlineMillis: Schema.Number
}) {
  override get message(): string {
    return `"${this.operation}" did not finish within its deadline of ${this.deadlineMillis} ms`
  }
}

/**
 * Every allowed attempt failed, or retrying stopped early (`reason`). `attempts` holds the history,
 * oldest first.
 *
 * @example
 * ```ts
 * import { Errors } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const report = (e: Errors.RetriesExhausted) =>
 *   Effect.log(`${e.attempts.length} attempts, last: ${e.lastClassification?.code ?? "none"} (${e.reason})`)
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RetriesExhausted extends Schema.TaggedError<RetriesExhausted>()("RetriesExhausted", {
  operation: Schema.String,
  /** Why retrying stopped: no attempts left, the deadline left no room, or the breaker is open. */
  reason: Schema.Literal("exhausted", "deadline", "breaker-open"),
  attempts: Schema.Array(AttemptRecord)
}) {
  override get message(): string {
    const last = this.attempts[this.attempts.length - 1]
    const detail = last === undefined ? "" : `: ${last.classification.message}`
    const why =
      this.reason === "exhausted" ? "" : this.reason === "deadline" ? " (deadline reached)" : " (circuit open)"
    return `"${this.operation}" failed after ${this.attempts.length} attempt(s)${why}${detail}`
  }
  /** The classification of the last attempt's failure. */
  get lastClassification(): Classification | undefined {
    return this.attempts[this.attempts.length - 1]?.classification
  }
}

/**
 * The circuit breaker is open: the call was not made. `retryAfterMillis` is the time left until a
 * probe may go: 0 when half-open with every probe slot taken, `Infinity` when forced open by an
 * operator.
 *
 * @example
 * ```ts
 * import { Errors } from "@effect-resilience/core"
 *
 * const e = new Errors.CircuitOpen({ breaker: "payments", retryAfterMillis: 1200 })
 * // e.message: 'Circuit "payments" is open; next probe in 1200 ms'
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class CircuitOpen extends Schema.TaggedError<CircuitOpen>()("CircuitOpen", {
  breaker: Schema.String,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    if (!Number.isFinite(this.retryAfterMillis)) return `Circuit "${this.breaker}" is held open by an operator`
    return `Circuit "${this.breaker}" is open; next probe in ${Math.max(0, Math.ceil(this.retryAfterMillis))} ms`
  }
}

/**
 * The bulkhead was full and its queue too, or the wait in its queue timed out.
 *
 * @since 0.1.0
 * @category errors
 */
export class BulkheadRejected extends Schema.TaggedError<BulkheadRejected>()("BulkheadRejected", {
  bulkhead: Schema.String,
  reason: Schema.Literal("full", "queue-timeout", "adaptive-limit", "throttled")
}) {
  override get message(): string {
    return `Bulkhead "${this.bulkhead}" rejected the call (${this.reason})`
  }
}

/**
 * A rate limiter refused the call. `retryAfterMillis` says when a permit is expected.
 *
 * @since 0.1.0
 * @category errors
 */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  limiter: Schema.String,
  retryAfterMillis: Schema.Number
}) {
  override get message(): string {
    return `Rate limit "${this.limiter}" reached; retry in ${Math.max(0, Math.ceil(this.retryAfterMillis))} ms`
  }
}

/**
 * The retry budget had no tokens left, so the failure was not retried.
 *
 * @since 0.1.0
 * @category errors
 */
export class RetryBudgetExhausted extends Schema.TaggedError<RetryBudgetExhausted>()("RetryBudgetExhausted", {
  budget: Schema.String,
  operation: Schema.String
}) {
  override get message(): string {
    return `Retry budget "${this.budget}" is exhausted; "${this.operation}" was not retried`
  }
}

/**
 * Any of the runtime's own failures.
 *
 * @example
 * ```ts
 * import { Errors } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * // Runtime errors are data: a dead letter or a log line can carry them as JSON.
 * const json = Schema.encodeSync(Errors.ResilienceError)(new Errors.BulkheadRejected({ bulkhead: "db", reason: "full" }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ResilienceError =
  | AttemptTimeout
  | DeadlineExceeded
  | RetriesExhausted
  | CircuitOpen
  | BulkheadRejected
  | RateLimited
  | RetryBudgetExhausted

/**
 * The Schema of every runtime failure, for storing and reading them back.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ResilienceError = Schema.Union(
  AttemptTimeout,
  DeadlineExceeded,
  RetriesExhausted,
  CircuitOpen,
  BulkheadRejected,
  RateLimited,
  RetryBudgetExhausted
)
