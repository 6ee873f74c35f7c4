/**
 * @since 0.1.0
 */
export * as SqlDeadLetterQueue from "./SqlDeadLetterQueue.js"
export * as SqlBatchMigrations from "./CheckpointMigrations.js"
export * as SqlCheckpointStore from "./CheckpointStore.js"
export * as SqlIdempotencyStore from "./IdempotencyStore.js"
