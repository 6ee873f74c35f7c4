/**
 * @since 0.2.0
 */
export * from "./Errors.js"
export * as Errors from "./Errors.js"
export * as Fetch from "./Fetch.js"
export { resilientFetch } from "./Fetch.js"
export * as Resilient from "./Resilient.js"
export { resilient, resilientWithSignal } from "./Resilient.js"
