/**
 * @since 0.2.0
 */

/**
 * @since 0.2.0
 */
export * as RedisCircuitBreakerStore from "./RedisCircuitBreakerStore.js"

/**
 * @since 0.2.0
 */
export * as RedisRetryBudgetStore from "./RedisRetryBudgetStore.js"

/**
 * @since 0.2.0
 */
export * as RedisRateLimiterStore from "./RedisRateLimiterStore.js"

/**
 * @since 0.3.0
 */
export * as RedisConnection from "./RedisConnection.js"
