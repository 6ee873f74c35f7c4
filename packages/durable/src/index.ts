/**
 * @since 0.2.0
 */

/**
 * @since 0.2.0
 */
export * as DeadLetterQueue from "./DeadLetterQueue.js"

/**
 * @since 0.2.0
 */
export * as Checkpoint from "./Checkpoint.js"

/**
 * @since 0.2.0
 */
export * as Idempotency from "./Idempotency.js"

/**
 * @since 0.2.0
 */
export * as Batch from "./Batch.js"

/**
 * @since 0.2.0
 */
export * as AuditLog from "./AuditLog.js"
