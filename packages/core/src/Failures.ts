/**
 * The failures a service meets in the wild, as `Schema.TaggedError`s: HTTP responses, Node system
 * errors, fetch/undici errors, gRPC statuses, PostgreSQL SQLSTATEs, Redis error replies, aborts and
 * timeouts. They are serialisable (a dead letter stores them), matchable with `Effect.catchTag`, and
 * the default `Classifier` knows them all.
 *
 * Adapters turn raw values into them at the boundary: {@link fromUnknown} recognises a Node `Error`
 * with `code: "ECONNRESET"`, a DOMException-like `AbortError` / `TimeoutError`, an undici error with
 * `code: "UND_ERR_..."` or a `TypeError: fetch failed` with a `cause`, a pg error with a SQLSTATE
 * `code`, an ioredis `ReplyError` (`READONLY ...`), a gRPC `{ code, details }` and an HTTP
 * response-like `{ status, headers }`.
 *
 * Their messages are fit for a user: they never carry a host, a credential, a payload or a stack
 * trace. That is why the adapters keep codes only, never the raw message of the error they read.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { headerEntries, recognise as recogniseRaw, type Visitor } from "./internal/classifier/recognise.js"
import { grpcName, grpcText, httpText, nodeText, pgText, redisText, undiciText } from "./internal/classifier/tables.js"

/**
 * A failed HTTP response. `headers` (lower-case names) hold what classification needs, such as
 * `retry-after`; {@link fromHttpResponse} keeps only an allow-list of headers, so no cookie or
 * authorization header ends up in a dead letter.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.HttpError({ status: 503, headers: { "retry-after": "5" } })
 * // e.message === "Service unavailable (HTTP 503)"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class HttpError extends Schema.TaggedError<HttpError>()("HttpError", {
  status: Schema.Int,
  headers: Schema.optional(Schema.Record({ key: Schema.String, value: Schema.String }))
}) {
  override get message(): string {
    return `${httpText(this.status)} (HTTP ${this.status})`
  }
}

/**
 * A Node system error (`ECONNRESET`, `ECONNREFUSED`, `ETIMEDOUT`, `EPIPE`, `ENOTFOUND`, `EAI_AGAIN`,
 * ...). Only the code and the syscall are kept: Node's own message names the host and port.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.NetworkError({ code: "ECONNRESET" })
 * // e.message === "Connection reset by peer (ECONNRESET)"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class NetworkError extends Schema.TaggedError<NetworkError>()("NetworkError", {
  code: Schema.String,
  syscall: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `${nodeText(this.code)} (${this.code})`
  }
}

/**
 * A fetch / undici failure that is not a plain system error: `UND_ERR_CONNECT_TIMEOUT`,
 * `UND_ERR_HEADERS_TIMEOUT`, `UND_ERR_SOCKET`, ..., or `FETCH_FAILED` when `fetch` failed without a
 * recognisable cause.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.FetchError({ code: "UND_ERR_CONNECT_TIMEOUT" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class FetchError extends Schema.TaggedError<FetchError>()("FetchError", {
  code: Schema.String
}) {
  override get message(): string {
    return `${undiciText(this.code)} (${this.code})`
  }
}

/**
 * A gRPC status (`code` 0..16). `retryPushbackMillis` is the server's `grpc-retry-pushback-ms`
 * metadata when it sent one. The status `details` are not kept: they are server text.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.GrpcError({ code: 14 })
 * // e.message === "Unavailable (gRPC UNAVAILABLE)", e.name === "UNAVAILABLE"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class GrpcError extends Schema.TaggedError<GrpcError>()("GrpcError", {
  code: Schema.Int,
  retryPushbackMillis: Schema.optional(Schema.NonNegative)
}) {
  override get message(): string {
    return `${grpcText(this.code)} (gRPC ${grpcName(this.code)})`
  }
  /** The status name, such as `UNAVAILABLE`. */
  get statusName(): string {
    return grpcName(this.code)
  }
}

/**
 * A PostgreSQL error: its 5-character SQLSTATE `code` and, where the server named them, the
 * constraint and table. The detail text is not kept: it quotes row values.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.PgError({ code: "23505", constraint: "users_email_key" })
 * // e.message === "Unique violation (SQLSTATE 23505)"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class PgError extends Schema.TaggedError<PgError>()("PgError", {
  code: Schema.String,
  constraint: Schema.optional(Schema.String),
  table: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `${pgText(this.code)} (SQLSTATE ${this.code})`
  }
}

/**
 * A Redis error reply, by its prefix: `READONLY`, `LOADING`, `BUSY`, `OOM`, `NOAUTH`, `MOVED`, `ASK`,
 * `CLUSTERDOWN`, `TRYAGAIN`, `WRONGTYPE`, `ERR`, ... The rest of the reply is not kept (a `MOVED`
 * reply names a host).
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.RedisError({ code: "READONLY" })
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RedisError extends Schema.TaggedError<RedisError>()("RedisError", {
  code: Schema.String
}) {
  override get message(): string {
    return `${redisText(this.code)} (${this.code})`
  }
}

/**
 * The operation was aborted by its caller (a DOMException `AbortError`, Node's `ABORT_ERR`).
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.AbortError()
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class AbortError extends Schema.TaggedError<AbortError>()("AbortError", {}) {
  override get message(): string {
    return "The operation was aborted"
  }
}

/**
 * The operation timed out (a DOMException `TimeoutError`, as `AbortSignal.timeout` raises).
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.TimeoutError()
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TimeoutError extends Schema.TaggedError<TimeoutError>()("TimeoutError", {}) {
  override get message(): string {
    return "The operation timed out"
  }
}

/**
 * A raw failure that no adapter recognised. Only the error's `name` is kept.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = Failures.fromUnknown(new RangeError("secret payload"))
 * // e._tag === "UnknownFailure", e.errorName === "RangeError", e.message carries no payload
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownFailure extends Schema.TaggedError<UnknownFailure>()("UnknownFailure", {
  errorName: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return this.errorName === undefined
      ? "The operation failed for an unknown reason"
      : `The operation failed for an unknown reason (${this.errorName})`
  }
}

/**
 * A failure from the wild that an adapter recognised.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 * import { Option } from "effect"
 *
 * const known: Option.Option<Failures.KnownFailure> = Failures.recognise(new DOMException("x", "AbortError"))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type KnownFailure =
  | HttpError
  | NetworkError
  | FetchError
  | GrpcError
  | PgError
  | RedisError
  | AbortError
  | TimeoutError

/**
 * Any failure of this module.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const f: Failures.Failure = Failures.fromUnknown(new Error("boom")) // UnknownFailure
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Failure = KnownFailure | UnknownFailure

/**
 * The Schema of every failure of this module: a dead letter encodes with it and decodes back.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 * import { Schema } from "effect"
 *
 * const json = Schema.encodeSync(Failures.Failure)(new Failures.PgError({ code: "40001" }))
 * const back = Schema.decodeUnknownSync(Failures.Failure)(json)
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Failure = Schema.Union(
  HttpError,
  NetworkError,
  FetchError,
  GrpcError,
  PgError,
  RedisError,
  AbortError,
  TimeoutError,
  UnknownFailure
)

/**
 * Whether a value is one of this module's failures.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * Failures.isFailure(new Failures.RedisError({ code: "LOADING" })) // true
 * Failures.isFailure(new Error("x")) // false
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const isFailure: (u: unknown) => u is Failure = Schema.is(Failure)

/**
 * Response headers kept by {@link fromHttpResponse}: what classification and operators need, no
 * cookie, authorization or other secret.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * Failures.keptHeaders.includes("retry-after") // true
 * Failures.keptHeaders.includes("authorization") // false
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const keptHeaders: ReadonlyArray<string> = [
  "retry-after",
  "content-type",
  "date",
  "x-request-id",
  "x-correlation-id",
  "request-id",
  "grpc-retry-pushback-ms"
]

const keepHeader = (name: string): boolean =>
  keptHeaders.includes(name) || name.startsWith("ratelimit") || name.startsWith("x-ratelimit-")

const safeHeaders = (headers: unknown): Record<string, string> | undefined => {
  let out: Record<string, string> | undefined
  for (const [name, value] of headerEntries(headers)) {
    if (keepHeader(name)) {
      out ??= {}
      out[name] = value
    }
  }
  return out
}

/**
 * An {@link HttpError} from a response-like value (`fetch`'s `Response`, Node's `IncomingMessage`,
 * a plain `{ status, headers }`): headers are lower-cased and filtered to {@link keptHeaders}.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = Failures.fromHttpResponse({ status: 429, headers: { "Retry-After": "2", Cookie: "s=1" } })
 * // e.headers => { "retry-after": "2" }
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromHttpResponse = (response: { readonly status: number; readonly headers?: unknown }): HttpError => {
  const headers = safeHeaders(response.headers)
  return headers === undefined
    ? new HttpError({ status: Math.trunc(response.status) })
    : new HttpError({ status: Math.trunc(response.status), headers })
}

const optionalString = (source: object, key: string): string | undefined => {
  const value: unknown = Reflect.get(source, key)
  return typeof value === "string" ? value : undefined
}

const toFailure: Visitor<KnownFailure> = {
  http: (status, headers) => fromHttpResponse({ status, headers }),
  node: (code, syscall) => (syscall === undefined ? new NetworkError({ code }) : new NetworkError({ code, syscall })),
  undici: (code) => new FetchError({ code }),
  grpc: (code, pushbackMillis) =>
    pushbackMillis === undefined
      ? new GrpcError({ code })
      : new GrpcError({ code, retryPushbackMillis: pushbackMillis }),
  pg: (code, source) => {
    const constraint = optionalString(source, "constraint")
    const table = optionalString(source, "table")
    return new PgError({
      code,
      ...(constraint === undefined ? {} : { constraint }),
      ...(table === undefined ? {} : { table })
    })
  },
  redis: (code) => new RedisError({ code }),
  abort: () => new AbortError(),
  timeout: () => new TimeoutError()
}

/**
 * Recognises a raw failure, or `None`. A value that already is a failure of this module is returned
 * as is.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", syscall: "read" })
 * Failures.recognise(e) // Some(NetworkError { code: "ECONNRESET", syscall: "read" })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const recognise = (u: unknown): Option.Option<KnownFailure> => {
  if (isFailure(u)) return u._tag === "UnknownFailure" ? Option.none() : Option.some(u)
  return Option.fromNullable(recogniseRaw(u, toFailure))
}

/**
 * Turns any raw failure into a failure of this module, {@link UnknownFailure} when nothing matched.
 * Made for the boundary: `Effect.tryPromise({ try, catch: Failures.fromUnknown })`.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 * import { Effect } from "effect"
 *
 * const get = Effect.tryPromise({
 *   try: (signal) => fetch("http://localhost:1/", { signal }),
 *   catch: Failures.fromUnknown
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromUnknown = (u: unknown): Failure => {
  if (isFailure(u)) return u
  const known = recogniseRaw(u, toFailure)
  if (known !== undefined) return known
  const errorName =
    typeof u === "object" && u !== null && "name" in u && typeof u.name === "string" ? u.name : undefined
  return errorName === undefined ? new UnknownFailure() : new UnknownFailure({ errorName })
}

const byTag =
  <T extends KnownFailure["_tag"]>(...tags: ReadonlyArray<T>) =>
  (u: unknown): Option.Option<Extract<KnownFailure, { readonly _tag: T }>> =>
    Option.filter(recognise(u), (f): f is Extract<KnownFailure, { readonly _tag: T }> => tags.some((t) => t === f._tag))

/**
 * A {@link NetworkError} from a Node error with a system `code`, or `None`.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * Failures.fromNodeError(Object.assign(new Error("x"), { code: "EPIPE", syscall: "write" }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromNodeError: (u: unknown) => Option.Option<NetworkError> = byTag("NetworkError")

/**
 * What a failed `fetch` becomes: a {@link NetworkError} for a system cause, a {@link FetchError} for
 * an undici code, an {@link AbortError} or {@link TimeoutError} for an aborted signal; or `None`.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const cause = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED", syscall: "connect" })
 * Failures.fromFetchError(new TypeError("fetch failed", { cause })) // Some(NetworkError ECONNREFUSED)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromFetchError: (
  u: unknown
) => Option.Option<NetworkError | FetchError | AbortError | TimeoutError | HttpError> = byTag(
  "NetworkError",
  "FetchError",
  "AbortError",
  "TimeoutError",
  "HttpError"
)

/**
 * A {@link PgError} from a pg-style error with a SQLSTATE `code`, or `None`.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * Failures.fromPgError({ name: "error", code: "40P01", severity: "ERROR" }) // Some(PgError 40P01)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromPgError: (u: unknown) => Option.Option<PgError> = byTag("PgError")

/**
 * A {@link RedisError} from an ioredis `ReplyError` / node-redis `ErrorReply`, or `None`.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * class ReplyError extends Error { override name = "ReplyError" }
 * Failures.fromRedisError(new ReplyError("LOADING Redis is loading the dataset in memory"))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromRedisError: (u: unknown) => Option.Option<RedisError> = byTag("RedisError")

/**
 * A {@link GrpcError} from a gRPC service error `{ code, details, metadata }`, or `None`.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * Failures.fromGrpcError({ code: 8, details: "quota", metadata: { "grpc-retry-pushback-ms": "250" } })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const fromGrpcError: (u: unknown) => Option.Option<GrpcError> = byTag("GrpcError")
