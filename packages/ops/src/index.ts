/**
 * @since 0.2.0
 */

/**
 * @since 0.2.0
 */
export * as AuditLog from "@effect-resilience/durable/AuditLog"

/**
 * @since 0.2.0
 */
export * as OpsApi from "./OpsApi.js"

/**
 * @since 0.2.0
 */
export * as OpsServer from "./OpsServer.js"

/**
 * @since 0.3.0
 */
export * as Analytics from "./Analytics.js"

/**
 * @since 0.3.0
 */
export * as Alerts from "./Alerts.js"
