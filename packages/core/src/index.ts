/**
 * @since 0.1.0
 */
export * as Classification from "./Classification.js"
export * as Classifier from "./Classifier.js"
export * as Errors from "./Errors.js"
export * as Events from "./Events.js"
export * as Deadline from "./Deadline.js"
export * as Backoff from "./Backoff.js"
export * as RetryPolicy from "./RetryPolicy.js"
export * as RetryBudget from "./RetryBudget.js"
export * as Bulkhead from "./Bulkhead.js"
export * as DeadLetterQueue from "./DeadLetterQueue.js"
export * as CircuitBreaker from "./CircuitBreaker.js"
export * as Failures from "./Failures.js"
export * as Rule from "./Rule.js"
export * as Checkpoint from "./Checkpoint.js"
export * as Idempotency from "./Idempotency.js"
