/**
 * The breaker's plain cores in one namespace for `Cores`: the state machine and its in-memory
 * evidence window.
 *
 * @internal
 */
export * from "./core.js"
export { makeWindow } from "./window.js"
