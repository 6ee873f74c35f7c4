/**
 * `fetch` under a policy: a response whose status is a failure (retryable, such as 503 or 429, or
 * counted by a breaker) is retried after the backoff or its Retry-After, and counted by the
 * breaker; any other response (2xx, 3xx, a 4xx that is the caller's fault) is returned as is.
 * Each attempt gets its own `AbortSignal`, aborted when it times out or when the caller's
 * `init.signal` aborts (then the call stops at once, without a retry, and what the attempt held of
 * the strategies is given back without counting it).
 *
 * @since 0.2.0
 */
import * as Cores from "@effect-resilience/core/Cores"
import type * as Resilience from "@effect-resilience/core/Resilience"
import { HttpStatusError } from "./Errors.js"
import { make, type Options } from "./Resilient.js"

/**
 * What `resilientFetch` takes besides the policy: the `fetch` to call (default: the global one)
 * and the classification of failures.
 *
 * @example
 * ```ts
 * import type { Fetch } from "@effect-resilience/promise"
 *
 * const options: Fetch.FetchOptions = { fetch: globalThis.fetch }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface FetchOptions extends Options {
  readonly fetch?: typeof globalThis.fetch | undefined
}

/**
 * A `fetch` with the policy's retries, breaker, timeouts and budget. Once retrying stops on a
 * failed status, the call rejects (`RetriesExhaustedError` whose `cause` is an `HttpStatusError`
 * holding the last response, or the `HttpStatusError` itself when the status is not retryable).
 *
 * @example
 * ```ts
 * import { Presets } from "@effect-resilience/core"
 * import { resilientFetch } from "@effect-resilience/promise"
 *
 * const http = resilientFetch(Presets.http("users-api", { attemptTimeout: "2 seconds" }))
 * const response = http("http://127.0.0.1:8080/users/1")
 * ```
 *
 * @since 0.2.0
 * @category constructors
 */
export const resilientFetch = (
  policy: Resilience.PolicyInput,
  options?: FetchOptions
): ((input: string | URL | Request, init?: RequestInit) => Promise<Response>) => {
  const executor = make(policy, options)
  const doFetch = options?.fetch ?? globalThis.fetch
  const classify = Cores.Classify.makeClassify(Date.now)
  return (input, init) =>
    executor.execute(async (signal) => {
      const request = input instanceof Request ? input.clone() : input
      // the attempt's signal is aborted with the caller's reason too (the executor watches init.signal)
      const response = await doFetch(request, { ...init, signal })
      if (response.status < 400) return response
      const classification = classify({ status: response.status, headers: response.headers })
      if (!classification.retryable && !classification.countsForBreaker) return response
      // the body of a failed answer is not read: cancel it so that the connection is freed
      await response.body?.cancel().catch(() => {})
      throw new HttpStatusError(response)
    }, init?.signal ?? undefined)
}
