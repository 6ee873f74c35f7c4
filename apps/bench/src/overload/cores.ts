/**
 * The decision cores the overload simulation drives: the same synchronous code the pipeline runs
 * (retry budget, backoff, retry decisions, breaker, adaptive throttle, adaptive concurrency, the
 * strategy walk), not a re-implementation.
 *
 * They are imported from the workspace sources by relative path on purpose. The package closes
 * `./internal/*` to users, and rightly so; the bench is a workspace tool that measures those
 * internals, and a simulation of many thousand clients over minutes of simulated time cannot run
 * through the Effect pipeline (its timers are Effect's clock, one fiber per call). The real-process
 * half of the experiment (`real-client.ts`) drives the public `Resilience.make` instead.
 */
export * as backoff from "../../../../packages/core/src/internal/backoff/core.js"
export * as breaker from "../../../../packages/core/src/internal/circuitBreaker/core.js"
export { makeWindow } from "../../../../packages/core/src/internal/circuitBreaker/window.js"
export * as concurrency from "../../../../packages/core/src/internal/adaptiveConcurrency/core.js"
export * as budget from "../../../../packages/core/src/internal/retryBudget/core.js"
export * as retry from "../../../../packages/core/src/internal/retryPolicy/core.js"
export * as strategy from "../../../../packages/core/src/internal/strategy/core.js"
export * as throttle from "../../../../packages/core/src/internal/adaptiveThrottle/core.js"
