/**
 * Resilience for Promise code: a policy (the same `Resilience.PolicyInput` the Effect pipeline
 * takes, a `Presets` value included) drives a function's calls through the decision cores of
 * `@effect-resilience/core` (breaker, rate limit, adaptive throttle, adaptive concurrency,
 * bulkhead, attempt timeout, deadline, retry with backoff and Retry-After, retry budget, default
 * classification), admitted in the Effect pipeline's order and built by the same mapping
 * (`CoreSettings.admission`). The policy is decoded once, when the function is made; a call runs
 * no Effect runtime. Hedging is not driven yet (a policy with `hedging` throws a `TypeError`).
 *
 * @since 0.2.0
 */
import * as Cores from "@effect-resilience/core/Cores"
import type * as Resilience from "@effect-resilience/core/Resilience"
import { type Classify, Engine, type RetryScheduled } from "./internal/engine.js"
import { type BreakerHandle, settingsOf } from "./internal/settings.js"

/**
 * A circuit breaker the facade can share: the synchronous face of core's breaker (`admit`,
 * `stateAt`). A `CircuitBreaker.CircuitBreaker` made on the Effect side (by `CircuitBreaker.make`
 * or taken from `CircuitBreaker.Registry`) is one, so Promise calls and Effect pipelines can record
 * into one breaker: failures through either open it for both, and its transitions reach the Effect
 * side's stream, events and metrics. The facade reads time from `Date.now`, so share a breaker
 * with an Effect side that runs on the live Clock.
 *
 * @example
 * ```ts
 * import { CircuitBreaker } from "@effect-resilience/core"
 * import type { Resilient } from "@effect-resilience/promise"
 *
 * const share = (breaker: CircuitBreaker.CircuitBreaker): Resilient.Breaker => breaker
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export interface Breaker extends BreakerHandle {}

/**
 * What `make`, `resilient` and `resilientWithSignal` take besides the policy: a classification of
 * failures (default: the default Classifier's recognisers and tables, `Cores.Classify`).
 *
 * @example
 * ```ts
 * import type { Resilient } from "@effect-resilience/promise"
 * import * as Cores from "@effect-resilience/core/Cores"
 *
 * const base = Cores.Classify.makeClassify(Date.now)
 * const options: Resilient.Options = {
 *   classify: (failure) => (failure instanceof RangeError ? { ...base(failure), retryable: true } : base(failure))
 * }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Options {
  readonly classify?: Classify | undefined
  /** Told of each retry before it waits (for logs and metrics): the attempt that failed, the delay, the category. */
  readonly onRetry?: ((retry: RetryScheduled) => void) | undefined
  /**
   * A breaker to use instead of the one the policy describes (see {@link Breaker}): one shared
   * with other executors, or with Effect pipelines.
   */
  readonly breaker?: Breaker | undefined
  /**
   * Numbers in [0, 1) for the backoff's jitter and the adaptive throttle's draws (default
   * `Math.random`); a seeded source makes them repeatable.
   */
  readonly random?: (() => number) | undefined
}

/**
 * An executor for one policy: `execute` runs an operation (given an `AbortSignal` per attempt);
 * every call shares its breaker and bulkhead.
 *
 * @example
 * ```ts
 * import { Resilient } from "@effect-resilience/promise"
 *
 * const users: Resilient.Executor = Resilient.make({ operation: "get-user" })
 * const state = users.breakerState() // "closed"
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Executor {
  readonly operation: string
  /**
   * Runs `evaluate` under the policy; its signal is aborted when the attempt times out. When the
   * caller's `signal` aborts, the call stops with its reason: a wait for admission is given up, the
   * running attempt's signal is aborted and its tickets are settled neutral (nothing is counted
   * against the dependency), and no retry follows.
   */
  readonly execute: <A>(
    evaluate: (signal: AbortSignal) => PromiseLike<A>,
    signal?: AbortSignal | undefined
  ) => Promise<A>
  /** The breaker's state now (`closed`, `open`, `half-open`, ...), undefined without a breaker. */
  readonly breakerState: () => string | undefined
}

/** The engine of a policy (its settings decoded once, its breaker and bulkhead shared by its calls). */
const engineOf = (policy: Resilience.PolicyInput, options: Options | undefined): Engine =>
  new Engine(
    settingsOf(policy, Date.now(), options?.breaker),
    options?.classify ?? Cores.Classify.makeClassify(Date.now),
    options?.random ?? Math.random,
    options?.onRetry
  )

/**
 * Builds an executor for a policy. Throws the `ParseError` of a bad policy (it names the path of
 * the bad value), or a `TypeError` for hedging, which the facade does not drive yet.
 *
 * @example
 * ```ts
 * import { Resilient } from "@effect-resilience/promise"
 *
 * const users = Resilient.make({ operation: "get-user", attemptTimeout: "2 seconds", retry: { maxAttempts: 3 } })
 * const user = () => users.execute((signal) => fetch("http://127.0.0.1:8080/users/1", { signal }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const make = (policy: Resilience.PolicyInput, options?: Options): Executor => {
  const engine = engineOf(policy, options)
  return {
    operation: engine.settings.operation,
    execute: (evaluate, signal) => engine.execute(evaluate, true, signal),
    breakerState: () => engine.breakerState()
  }
}

/**
 * Wraps a Promise-returning function: the result has the same signature, and each call runs
 * under the policy (retries, breaker, timeouts, ...). Rejects with the function's own error when
 * it is not retryable, or with one of the errors of `Errors`.
 *
 * @example
 * ```ts
 * import { Presets } from "@effect-resilience/core"
 * import { resilient } from "@effect-resilience/promise"
 *
 * const getUser = async (id: string) => ({ id })
 * const safeGetUser = resilient(getUser, Presets.http("get-user", { attemptTimeout: "2 seconds" }))
 * const user = safeGetUser("42") // Promise<{ id: string }>
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const resilient = <Args extends ReadonlyArray<unknown>, A>(
  fn: (...args: Args) => PromiseLike<A>,
  policy: Resilience.PolicyInput,
  options?: Options
): ((...args: Args) => Promise<A>) => {
  const engine = engineOf(policy, options)
  // fn takes no signal: its attempts need no AbortController
  return (...args) => engine.execute(() => fn(...args), false)
}

/**
 * Like {@link resilient}, for a function that takes an `AbortSignal` first: each attempt gets its
 * own signal, aborted (with `AttemptTimeoutError` or `DeadlineExceededError`) when it times out.
 * The result takes the other arguments.
 *
 * @example
 * ```ts
 * import { resilientWithSignal } from "@effect-resilience/promise"
 *
 * const getUser = resilientWithSignal(
 *   (signal: AbortSignal, id: string) => fetch(`http://127.0.0.1:8080/users/${id}`, { signal }),
 *   { operation: "get-user", attemptTimeout: "2 seconds" }
 * )
 * const response = getUser("42")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const resilientWithSignal = <Args extends ReadonlyArray<unknown>, A>(
  fn: (signal: AbortSignal, ...args: Args) => PromiseLike<A>,
  policy: Resilience.PolicyInput,
  options?: Options
): ((...args: Args) => Promise<A>) => {
  const executor = make(policy, options)
  return (...args) => executor.execute((signal) => fn(signal, ...args))
}
