/**
 * A resilient `HttpClient` from `@effect/platform`: a middleware that takes any `HttpClient`
 * (fetch, Node, undici) and returns one whose requests run through a per-host `Resilience`
 * pipeline.
 *
 * - Responses outside 2xx become `Failures.HttpError` (status and an allow-list of headers, so
 *   `Retry-After` reaches the classifier and no cookie reaches a dead letter); transport errors
 *   become classified failures (`NetworkError` for `ECONNRESET`, `FetchError` for undici codes,
 *   ...). Every strategy then reads the same `Classification`.
 * - `Retry-After` (seconds or an HTTP date) is honoured by the retry layer.
 * - One circuit breaker per upstream host (`http <host>`), from the `CircuitBreaker.Registry` in
 *   context when it shares breakers (`CircuitBreaker.layerRegistry()`, so they can be watched and
 *   controlled), else from a sharing registry of the client's own.
 * - Requests are retried when they are safe to repeat: an idempotent method (GET, HEAD, OPTIONS,
 *   PUT, DELETE, TRACE) or a request that carries an `Idempotency-Key` header. Others go through
 *   the breaker and the attempt timeout only, unless `retryNonIdempotent` is set.
 * - Hedging, when enabled, applies to safe methods only (GET, HEAD, OPTIONS).
 *
 * @since 0.1.0
 */
import type * as Classifier from "@effect-resilience/core/Classifier"
import type * as Failures from "@effect-resilience/core/Failures"
import type * as Resilience from "@effect-resilience/core/Resilience"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as Effect from "effect/Effect"
import type * as ParseResult from "effect/ParseResult"
import type * as Schema from "effect/Schema"
import type * as Scope from "effect/Scope"
import * as internal from "./internal/resilientHttpClient.js"

/**
 * The client's configuration as data (a config file can hold it), decoded by {@link make}: a bad
 * value fails with a `ParseError` naming its path (`["policy"]["attemptTimeout"]`,
 * `["hedging"]["delay"]`, ...).
 *
 * - `policy`: the pipeline's policy for every host (a `Resilience.Policy` without `operation` and
 *   `hedging`); the breaker's `name` is always the host's.
 * - `hedging`: extra attempts for GET / HEAD / OPTIONS after `delay` (a `Duration.DurationInput`),
 *   at most `maxHedges` of them (off by default).
 * - `retryNonIdempotent`: retry POST / PATCH without an `Idempotency-Key` header too (default
 *   `false`: a second POST may create a second resource).
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "@effect-resilience/platform"
 * import { Schema } from "effect"
 *
 * const config = Schema.decodeUnknownSync(ResilientHttpClient.Config)({
 *   policy: { attemptTimeout: "2 seconds", retry: { maxAttempts: 6 } },
 *   hedging: { delay: "200 millis", maxHedges: 1 }
 * })
 * ```
 *
 * @since 0.2.0
 * @category config
 */
export const Config = internal.Config

/**
 * A decoded {@link Config}.
 *
 * @since 0.2.0
 * @category config
 */
export interface Config extends Schema.Schema.Type<typeof Config> {}

/**
 * The {@link Config} as written in a config file or in code.
 *
 * @since 0.2.0
 * @category config
 */
export interface ConfigInput extends Schema.Schema.Encoded<typeof Config> {}

/**
 * The options of {@link make}: the {@link ConfigInput} (`policy`, `hedging`,
 * `retryNonIdempotent`), and `isSuccess`, which statuses are successes (default 2xx).
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "@effect-resilience/platform"
 *
 * const options: ResilientHttpClient.Options = {
 *   policy: { attemptTimeout: "2 seconds", deadline: "20 seconds", retry: { maxAttempts: 6 } },
 *   hedging: { delay: "200 millis", maxHedges: 1 },
 *   isSuccess: (status) => status < 400
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options extends ConfigInput {
  readonly isSuccess?: ((status: number) => boolean) | undefined
}

/**
 * What a request through the resilient client may fail with: a classified failure
 * (`Failures.HttpError` for a status, `NetworkError` / `FetchError` / `TimeoutError` / ... for
 * the transport), a pipeline error (`RetriesExhausted` with the attempt history, `CircuitOpen`,
 * `AttemptTimeout`, `DeadlineExceeded`, ...), or the client's own request errors that no retry
 * can fix (`Encode`, `InvalidUrl`) and response body errors.
 *
 * @example
 * ```ts
 * import type { ResilientHttpClient } from "@effect-resilience/platform"
 *
 * const describe = (e: ResilientHttpClient.ResilientHttpError): string => e._tag
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ResilientHttpError =
  | Failures.Failure
  | Resilience.PipelineError
  | HttpClientError.RequestError
  | HttpClientError.ResponseError

/**
 * Whether a request is safe to send twice: an idempotent method, or an `Idempotency-Key` header.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "@effect-resilience/platform"
 * import { HttpClientRequest } from "@effect/platform"
 *
 * ResilientHttpClient.isRetrySafe(HttpClientRequest.get("http://127.0.0.1/")) // true
 * ResilientHttpClient.isRetrySafe(HttpClientRequest.post("http://127.0.0.1/")) // false
 * ResilientHttpClient.isRetrySafe(
 *   HttpClientRequest.post("http://127.0.0.1/").pipe(HttpClientRequest.setHeader("Idempotency-Key", "k"))
 * ) // true
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const isRetrySafe: (request: HttpClientRequest.HttpClientRequest) => boolean = internal.isRetrySafe

/**
 * The breaker name of a host (`http <host:port>`), as the client registers it.
 *
 * @example
 * ```ts
 * import { ResilientHttpClient } from "@effect-resilience/platform"
 *
 * ResilientHttpClient.breakerName("http://127.0.0.1:8080/records") // "http 127.0.0.1:8080"
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const breakerName: (url: string) => string = internal.breakerName

/**
 * Wraps a client. Decodes the options' {@link Config} first: a bad value fails with a
 * `ParseError` naming its path. Pipelines (one per host and kind of request) are made on first
 * use and live as long as the Scope.
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { ResilientHttpClient } from "@effect-resilience/platform"
 * import { FetchHttpClient, HttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* ResilientHttpClient.make(yield* HttpClient.HttpClient, {
 *     policy: { attemptTimeout: "1 second", deadline: "10 seconds" }
 *   })
 *   const response = yield* client.get("http://127.0.0.1:8080/health")
 *   return response.status
 * }).pipe(Effect.scoped, Effect.provide([FetchHttpClient.layer, Classifier.layer]))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: (
  client: HttpClient.HttpClient,
  options?: Options
) => Effect.Effect<
  HttpClient.HttpClient.With<ResilientHttpError>,
  ParseResult.ParseError,
  Classifier.Classifier | Scope.Scope
> = internal.make

/**
 * The `HttpClient` in context, made resilient, as an Effect (for `Effect.gen` code).
 *
 * @example
 * ```ts
 * import { Classifier } from "@effect-resilience/core"
 * import { ResilientHttpClient } from "@effect-resilience/platform"
 * import { FetchHttpClient } from "@effect/platform"
 * import { Effect } from "effect"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* ResilientHttpClient.fromContext({ policy: { retry: { maxAttempts: 3 } } })
 *   return yield* client.get("http://127.0.0.1:8080/")
 * }).pipe(Effect.scoped, Effect.provide([FetchHttpClient.layer, Classifier.layer]))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromContext = (
  options?: Options
): Effect.Effect<
  HttpClient.HttpClient.With<ResilientHttpError>,
  ParseResult.ParseError,
  HttpClient.HttpClient | Classifier.Classifier | Scope.Scope
> => internal.fromContext(HttpClient.HttpClient, options)
