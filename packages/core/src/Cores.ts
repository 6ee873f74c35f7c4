/**
 * The decision cores of the strategies, as plain TypeScript that imports nothing from `effect`:
 * what a binding other than Effect (the Promise facade of `@effect-resilience/promise`, a later
 * Effect 4 binding) drives directly. Importing this module loads no part of `effect`.
 *
 * Times are numbers of milliseconds, randomness a number in [0, 1) passed in, failures are read
 * through `Strategy.ClassificationView`. These are the same cores the Effect modules bind, so a
 * decision taken here is the decision the Effect pipeline takes. They are lower-level than the
 * Effect modules: their shapes follow the strategies' needs and may change in a minor release.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const classify = Cores.Classify.makeClassify(Date.now)
 * const verdict = classify({ status: 503, headers: { "retry-after": "2" } })
 * // { category: "unavailable", retryable: true, retryAfterMillis: 2000, ... }
 * ```
 *
 * @since 0.2.0
 */

/**
 * The strategy interface: `admit` / `settle` / `Wait`, and `walk` through a list of strategies.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const walked = Cores.Strategy.walk([], 0, undefined, Date.now(), Math.random)
 * Cores.Strategy.isAdmitted(walked) // true
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as Strategy from "./internal/strategy/core.js"

/**
 * The circuit breaker's state machine (`Breaker`), its open-duration functions, and `makeWindow`,
 * the in-memory evidence store of a tripping policy.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const policy = { _tag: "ConsecutiveFailures", threshold: 3 } as const
 * const breaker = new Cores.CircuitBreaker.Breaker(
 *   { name: "db", policy, openDurationFor: Cores.CircuitBreaker.openBackoff(1000, undefined), maxProbes: 1, successThreshold: 1, mode: "normal" },
 *   Cores.CircuitBreaker.makeWindow(policy),
 *   () => {},
 *   Date.now()
 * )
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as CircuitBreaker from "./internal/circuitBreaker/plain.js"

/**
 * The retry budget's cores: `TokenBucket` (the AWS SDK v3 retry quota) and `RatioBudget`.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const budget = new Cores.RetryBudget.TokenBucket({
 *   capacity: 500, retryCost: 5, timeoutRetryCost: 10, successRefund: 1, refundRetryCostOnSuccess: true
 * })
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as RetryBudget from "./internal/retryBudget/core.js"

/**
 * Backoff arithmetic: exponential, linear, Fibonacci and decorrelated delays, caps and jitter.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const third = Cores.Backoff.exponentialDelay(100, 2, 2) // 400
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as Backoff from "./internal/backoff/core.js"

/**
 * The retry decision: stop (not retryable, exhausted, deadline, budget, breaker open) or the delay.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const delay = Cores.Retry.retryDelay(200, 1000, 5000, false) // 1000: the Retry-After wins
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as Retry from "./internal/retryPolicy/core.js"

/**
 * The attempt timeout: which timer (the attempt's or the deadline's) an attempt runs under.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const timer = Cores.Timeout.timerFor(0, undefined, 2000) // { millis: 2000, kind: "attempt" }
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as Timeout from "./internal/timeout/core.js"

/**
 * The bulkhead: slots, a priority queue, a queue timeout.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const bulkhead = Cores.Bulkhead.make({ maxConcurrent: 4, maxQueue: 16, queueTimeoutMillis: 1000 })
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as Bulkhead from "./internal/bulkhead/core.js"

/**
 * The default classification of raw failures (the default Classifier's recognisers and tables),
 * and the verdicts of the runtime's own failures.
 *
 * @example
 * ```ts
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const classify = Cores.Classify.makeClassify(Date.now)
 * classify(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" })).category // "network"
 * ```
 *
 * @since 0.2.0
 * @category utils
 */
export * as Classify from "./internal/classifier/plain.js"
