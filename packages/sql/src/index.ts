/**
 * @since 0.1.0
 */

/**
 * @since 0.2.0
 */
export * as SqlConnection from "./SqlConnection.js"

/**
 * @since 0.1.0
 */
export * as SqlDeadLetterQueue from "./SqlDeadLetterQueue.js"

/**
 * @since 0.2.0
 */
export * as SqlCheckpoint from "./SqlCheckpoint.js"

/**
 * @since 0.2.0
 */
export * as SqlIdempotency from "./SqlIdempotency.js"

/**
 * @since 0.1.0
 */
export * as SqlBatchMigrations from "./SqlBatchMigrations.js"

/**
 * @since 0.3.0
 */
export * as SqlAuditLog from "./SqlAuditLog.js"

/**
 * @since 0.3.0
 */
export * as SqlHealth from "./SqlHealth.js"
