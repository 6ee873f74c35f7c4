/**
 * @since 0.1.0
 */
export * as SqlDeadLetterQueue from "./SqlDeadLetterQueue.js"
