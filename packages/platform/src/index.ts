/**
 * @since 0.1.0
 */
export * as ResilientHttpClient from "./ResilientHttpClient.js"
