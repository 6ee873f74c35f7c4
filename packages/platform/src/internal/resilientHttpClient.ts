import * as CircuitBreaker from "@effect-resilience/core/CircuitBreaker"
import type * as Classifier from "@effect-resilience/core/Classifier"
import * as Failures from "@effect-resilience/core/Failures"
import * as Resilience from "@effect-resilience/core/Resilience"
import * as HttpClient from "@effect/platform/HttpClient"
import type * as HttpClientError from "@effect/platform/HttpClientError"
import type * as HttpClientRequest from "@effect/platform/HttpClientRequest"
import type * as HttpClientResponse from "@effect/platform/HttpClientResponse"
import * as Context from "effect/Context"
import * as Effect from "effect/Effect"
import * as Layer from "effect/Layer"
import type * as ParseResult from "effect/ParseResult"
import * as Schema from "effect/Schema"
import * as Scope from "effect/Scope"
import type { Options, ResilientHttpError } from "../ResilientHttpClient.js"

const idempotentMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"])
const safeMethods: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS"])

/** @internal */
export const Config = Schema.Struct({
  policy: Schema.optional(Resilience.Policy.omit("operation", "hedging")),
  hedging: Schema.optional(Schema.Union(Resilience.Policy.fields.hedging.from, Schema.Literal(false))),
  retryNonIdempotent: Schema.optional(Schema.Boolean)
})

/** @internal */
export const isRetrySafe = (request: HttpClientRequest.HttpClientRequest): boolean =>
  idempotentMethods.has(request.method) || request.headers["idempotency-key"] !== undefined

const hostOf = (url: string): string => {
  try {
    return new URL(url).host
  } catch {
    return "unknown-host"
  }
}

/** @internal */
export const breakerName = (url: string): string => `http ${hostOf(url)}`

type Kind = "retry" | "hedge" | "once"

const kindOf = (request: HttpClientRequest.HttpClientRequest, hedging: boolean, retryAll: boolean): Kind => {
  if (hedging && safeMethods.has(request.method)) return "hedge"
  return retryAll || isRetrySafe(request) ? "retry" : "once"
}

const isOk = (status: number): boolean => status >= 200 && status < 300

/** A transport error becomes the failure its cause is; other client errors stay as they are. */
const toFailure = (
  error: HttpClientError.HttpClientError
): Failures.Failure | HttpClientError.RequestError | HttpClientError.ResponseError =>
  error._tag === "RequestError" && error.reason === "Transport" ? Failures.fromUnknown(error.cause) : error

/** @internal */
export const make = (
  client: HttpClient.HttpClient,
  options: Options = {}
): Effect.Effect<
  HttpClient.HttpClient.With<ResilientHttpError>,
  ParseResult.ParseError,
  Classifier.Classifier | Scope.Scope
> =>
  Effect.gen(function* () {
    // a bad value fails here with its path, not on the first request
    const config = yield* Schema.decodeUnknown(Config)(options)
    const base = options.policy ?? {}
    // a decoded duration is a DurationInput too: the pipelines' policies can take it as it is
    const hedging = config.hedging === undefined || config.hedging === false ? undefined : config.hedging
    const retryAll = config.retryNonIdempotent === true
    const isSuccess = options.isSuccess ?? isOk

    const scope = yield* Effect.scope
    const context = yield* Effect.context<Classifier.Classifier>()
    // one breaker per host shared by every kind of request: a sharing registry of our own when the
    // one in context shares nothing (the default)
    const withRegistry = (yield* CircuitBreaker.Registry).shared
      ? context
      : Context.merge(
          context,
          yield* Layer.buildWithScope(CircuitBreaker.layerRegistry(), scope).pipe(Effect.provide(context))
        )

    const pipelines = new Map<string, Resilience.Pipeline>()
    const lock = yield* Effect.makeSemaphore(1)

    const policyFor = (host: string, kind: Kind): Resilience.PolicyInput => {
      const breaker = base.breaker === false ? false : { ...base.breaker, name: `http ${host}` }
      const operation = kind === "retry" ? `http ${host}` : `http ${host} (${kind === "hedge" ? "hedged" : "once"})`
      const retry = kind === "once" ? false : base.retry
      return {
        ...base,
        operation,
        breaker,
        ...(retry === undefined ? {} : { retry }),
        ...(kind === "hedge" && hedging !== undefined ? { hedging } : {})
      }
    }

    const pipelineFor = (host: string, kind: Kind): Effect.Effect<Resilience.Pipeline> => {
      const key = `${kind} ${host}`
      const existing = pipelines.get(key)
      if (existing !== undefined) return Effect.succeed(existing)
      return lock.withPermits(1)(
        Effect.suspend(() => {
          const again = pipelines.get(key)
          if (again !== undefined) return Effect.succeed(again)
          return Resilience.make(policyFor(host, kind)).pipe(
            // validated above: a failure here is a defect
            Effect.orDie,
            Effect.tap((p) => Effect.sync(() => pipelines.set(key, p))),
            Effect.provide(withRegistry),
            Scope.extend(scope)
          )
        })
      )
    }

    const attempt = (
      send: Effect.Effect<HttpClientResponse.HttpClientResponse, HttpClientError.HttpClientError>
    ): Effect.Effect<
      HttpClientResponse.HttpClientResponse,
      Failures.Failure | HttpClientError.RequestError | HttpClientError.ResponseError
    > =>
      send.pipe(
        Effect.mapError(toFailure),
        Effect.flatMap((response) =>
          isSuccess(response.status)
            ? Effect.succeed(response)
            : // read the (small) error body so the connection can be reused, then fail with the status
              Effect.zipRight(
                Effect.ignore(response.text),
                Effect.fail(Failures.fromHttpResponse({ status: response.status, headers: response.headers }))
              )
        )
      )

    // the host of the last URL: a client mostly sends to one endpoint, and parsing a URL per
    // request (new URL) cost more than the lookup of its pipeline
    let lastUrl = ""
    let lastHost = ""
    const hostOfRequest = (url: string): string => {
      if (url !== lastUrl) {
        lastHost = hostOf(url)
        lastUrl = url
      }
      return lastHost
    }

    return HttpClient.transform(client, (send, request) =>
      Effect.flatMap(
        pipelineFor(hostOfRequest(request.url), kindOf(request, hedging !== undefined, retryAll)),
        (pipeline) => pipeline.protect(attempt(send))
      )
    )
  })

/** @internal */
export const fromContext = (
  tag: Context.Tag<HttpClient.HttpClient, HttpClient.HttpClient>,
  options?: Options
): Effect.Effect<
  HttpClient.HttpClient.With<ResilientHttpError>,
  ParseResult.ParseError,
  HttpClient.HttpClient | Classifier.Classifier | Scope.Scope
> => Effect.flatMap(tag, (client) => make(client, options))
