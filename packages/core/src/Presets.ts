/**
 * Policies to start from, one per kind of operation: a database query, an HTTP call, an object
 * store request, a cache read. Each preset is a function of the operation's name and optional
 * overrides, and returns a `Resilience.PolicyInput` (plain data: decode it with
 * `Resilience.decodePolicy`, build a pipeline with `Resilience.make`, or write it in a config
 * file).
 *
 * Overrides replace the preset's fields; `retry` and `breaker` objects are merged field by field
 * into the preset's (so `{ retry: { maxAttempts: 2 } }` keeps the preset's backoff), and `false`
 * turns the strategy off.
 *
 * What each value is and why: docs/presets.md.
 *
 * @since 0.2.0
 */
import type * as Resilience from "./Resilience.js"

/**
 * What a caller may change in a preset: any field of a policy but its operation.
 *
 * @example
 * ```ts
 * import type { Presets } from "@effect-resilience/core"
 *
 * const overrides: Presets.Overrides = { attemptTimeout: "2 seconds", retry: { maxAttempts: 3 } }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Overrides extends Partial<Omit<Resilience.PolicyInput, "operation">> {}

/**
 * A preset: the policy of one kind of operation, for the operation named, with overrides.
 *
 * @example
 * ```ts
 * import { Presets } from "@effect-resilience/core"
 *
 * const pick = (kind: "db" | "http"): Presets.Preset => (kind === "db" ? Presets.database : Presets.http)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type Preset = (operation: string, overrides?: Overrides) => Resilience.PolicyInput

type Section<K extends "retry" | "breaker"> = Resilience.PolicyInput[K]

const mergeSection = <K extends "retry" | "breaker">(
  base: Section<K>,
  override: Section<K> | undefined
): Section<K> => {
  if (override === undefined) return base
  if (override === false || base === false || base === undefined) return override
  return { ...base, ...override }
}

const preset =
  (base: Overrides): Preset =>
  (operation, overrides) => {
    if (overrides === undefined) return { ...base, operation }
    const merged: Resilience.PolicyInput = { ...base, ...overrides, operation }
    return {
      ...merged,
      retry: mergeSection<"retry">(base.retry, overrides.retry),
      breaker: mergeSection<"breaker">(base.breaker, overrides.breaker)
    }
  }

/**
 * A database query: 3 attempts, exponential backoff from 100 ms (x2, at most 2 s, no jitter), a
 * 5 s attempt timeout, a breaker that opens after 5 consecutive counted failures for 10 s.
 * Retried: what the default Classifier calls retryable (transient SQLSTATEs such as
 * serialization failures and deadlocks, timeouts, network failures).
 *
 * @example
 * ```ts
 * import { Classifier, Presets, Resilience } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const users = yield* Resilience.make(Presets.database("select-user", { attemptTimeout: "1 second" }))
 *   return yield* users.protect(Effect.succeed({ id: 1 }))
 * }).pipe(Effect.scoped, Effect.provide(Classifier.layer))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const database: Preset = preset({
  attemptTimeout: "5 seconds",
  retry: {
    maxAttempts: 3,
    backoff: "exponential",
    initialDelay: "100 millis",
    factor: 2,
    maxDelay: "2 seconds",
    jitter: "none"
  },
  breaker: {
    policy: { _tag: "ConsecutiveFailures", threshold: 5 },
    openDuration: "10 seconds"
  }
})

/**
 * An HTTP call: 5 attempts, exponential backoff from 200 ms (x2, at most 10 s) with full jitter,
 * throttled answers (429) starting at 1 s and honouring Retry-After, a 10 s attempt timeout, a
 * breaker on a window of 20 calls that opens at a 50 % failure rate for 30 s. Retried: what the
 * default Classifier calls retryable (5xx but 501, 429, 408, network failures, timeouts).
 *
 * @example
 * ```ts
 * import { Presets, Resilience } from "@effect-resilience/core"
 *
 * const checked = Resilience.decodePolicy(Presets.http("get-user", { attemptTimeout: "2 seconds" }))
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const http: Preset = preset({
  attemptTimeout: "10 seconds",
  retry: {
    maxAttempts: 5,
    backoff: "exponential",
    initialDelay: "200 millis",
    factor: 2,
    maxDelay: "10 seconds",
    jitter: "full",
    throttledInitialDelay: "1 second"
  },
  breaker: {
    policy: { _tag: "CountWindow", size: 20, minimumCalls: 10, failureRateThreshold: 0.5 },
    openDuration: "30 seconds"
  }
})

/**
 * An object store request (S3, GCS, Azure Blob): 4 attempts, exponential backoff from 500 ms (x2,
 * at most 20 s) with full jitter, a 30 s attempt timeout (large bodies), a breaker on a window of
 * 20 calls that opens at a 50 % failure rate for 30 s. Retried: what the default Classifier calls
 * retryable (503 SlowDown and 500 InternalError, 429, network failures, timeouts).
 *
 * @example
 * ```ts
 * import { Presets } from "@effect-resilience/core"
 *
 * const upload = Presets.objectStore("put-invoice", { attemptTimeout: "2 minutes" })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const objectStore: Preset = preset({
  attemptTimeout: "30 seconds",
  retry: {
    maxAttempts: 4,
    backoff: "exponential",
    initialDelay: "500 millis",
    factor: 2,
    maxDelay: "20 seconds",
    jitter: "full"
  },
  breaker: {
    policy: { _tag: "CountWindow", size: 20, minimumCalls: 10, failureRateThreshold: 0.5 },
    openDuration: "30 seconds"
  }
})

/**
 * A cache read: 2 attempts, a constant 50 ms between them, a 500 ms attempt timeout, no breaker
 * (a cache miss falls through to the source of truth; a breaker would only add a second way to
 * fail fast).
 *
 * @example
 * ```ts
 * import { Presets } from "@effect-resilience/core"
 *
 * const session = Presets.cache("get-session", { retry: false })
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const cache: Preset = preset({
  attemptTimeout: "500 millis",
  retry: {
    maxAttempts: 2,
    backoff: "constant",
    initialDelay: "50 millis",
    jitter: "none"
  },
  breaker: false
})
