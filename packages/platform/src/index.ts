/**
 * @since 0.1.0
 */
export * as PolicyFile from "./PolicyFile.js"
export * as ResilientHttpClient from "./ResilientHttpClient.js"
