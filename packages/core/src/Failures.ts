/**
 * The failures a service meets in the wild, as `Schema.TaggedError`s: HTTP responses, Node system
 * errors, fetch/undici errors, gRPC statuses, PostgreSQL SQLSTATEs, Redis error replies, aborts and
 * timeouts. They are serialisable (a dead letter stores them), matchable with `Effect.catchTag`, and
 * the default `Classifier` knows them all.
 *
 * Adapters turn raw values into them at the boundary: {@link fromUnknown} recognises a Node `Error`
 * with `code: "ECONNRESET"`, a DOMException-like `AbortError` / `TimeoutError`, an undici error with
 * `code: "UND_ERR_..."` or a `TypeError: fetch failed` with a `cause`, a pg error with a SQLSTATE
 * `code` (and pg's code-less connection errors), an ioredis `ReplyError` (`READONLY ...`) or one of
 * ioredis' own connection errors, a better-sqlite3 `SqliteError`, a gRPC `{ code, details }`, an
 * HTTP response-like `{ status, headers }` (undici 7's `ResponseError` too), a programming defect
 * (`TypeError`, `ERR_INVALID_ARG_TYPE`, ...), looking through `cause` chains, `AggregateError`s and
 * the wrappers of Effect and `@effect/platform` / `@effect/sql`.
 *
 * Their messages are fit for a user: they never carry a host, a port, a path, a credential, a
 * payload, query text or a stack trace. That is why the adapters keep codes, statuses, SQLSTATEs
 * and constraint / table names only, never the raw message of the error they read (nor a
 * syscall's arguments: `spawn /path/to/script` is kept as `spawn`).
 *
 * Building one at the boundary skips Schema validation (the adapter has checked every field, and
 * it costs microseconds); decoding one (a stored dead letter) validates as usual.
 *
 * @since 0.1.0
 */
import * as Option from "effect/Option"
import * as Schema from "effect/Schema"
import { headerEntries, recognise as recogniseRaw, safeSyscall, type Visitor } from "./internal/classifier/recognise.js"
import {
  decodeText,
  grpcNames,
  grpcName,
  grpcText,
  httpText,
  nodeText,
  pgSuffix,
  pgText,
  redisText,
  sqliteText,
  undiciText
} from "./internal/classifier/tables.js"
import { unsafeConstruct } from "./internal/construct.js"

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
 * The gRPC status names, indexed by code (`grpcStatusNames[14]` is `"UNAVAILABLE"`): the names
 * the classifier's codes use (`grpc.UNAVAILABLE`).
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const name = Failures.grpcStatusNames[14] // "UNAVAILABLE"
 * ```
 *
 * @since 0.3.0
 * @category models
 */
export const grpcStatusNames: typeof grpcNames = grpcNames

/**
 * A gRPC status (`code` 0..16). `retryPushbackMillis` is the server's `grpc-retry-pushback-ms`
 * metadata when it sent one; `retryPushbackRefused` is `true` when that value was negative or not
 * a number (gRFC A6: the server asks not to be retried; the default `Classifier` then answers not
 * retryable, code `grpc.<STATUS>.pushback-refused`). The status `details` are not kept: they are
 * server text; `reason` keeps what they said when it changes the meaning (`message-too-large`:
 * grpc-js' own RESOURCE_EXHAUSTED for a message over the channel's limit, which no retry fixes).
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
  retryPushbackMillis: Schema.optional(Schema.NonNegative),
  /** The server sent a negative or malformed `grpc-retry-pushback-ms`: "do not retry" (gRFC A6). */
  retryPushbackRefused: Schema.optional(Schema.Boolean),
  reason: Schema.optional(Schema.Literal("message-too-large"))
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
 * constraint and table. The detail text is not kept: it quotes row values. pg's own errors that
 * carry no SQLSTATE have a code of ours: `CONNECTION_TERMINATED` ("Connection terminated
 * unexpectedly"), `CONNECT_TIMEOUT` ("timeout expired"), `QUERY_READ_TIMEOUT`, `POOL_TIMEOUT`
 * (pg-pool's "timeout exceeded when trying to connect"), ...
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
    return `${pgText(this.code)} ${pgSuffix(this.code)}`
  }
}

/**
 * A Redis error reply, by its prefix: `READONLY`, `LOADING`, `BUSY`, `OOM`, `NOAUTH`, `MOVED`, `ASK`,
 * `CLUSTERDOWN`, `TRYAGAIN`, `WRONGTYPE`, `ERR`, ... The rest of the reply is not kept (a `MOVED`
 * reply names a host). ioredis' own errors have a code of ours: `CONNECTION_CLOSED` ("Connection
 * is closed."), `COMMAND_TIMEOUT`, `OFFLINE` (the offline queue is disabled), `MAXRETRIES`, ...
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
 * A SQLite error from better-sqlite3, by its extended result code (`SQLITE_BUSY`,
 * `SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_CANTOPEN`, ...). For `SQLITE_ERROR`, `reason` says what its
 * message said: `syntax` (the statement does not parse) or `schema` (no such table or column, or
 * one that already exists). The message itself is not kept: it quotes SQL and values.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = new Failures.SqliteError({ code: "SQLITE_BUSY" })
 * // e.message === "Database is busy (SQLITE_BUSY)"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class SqliteError extends Schema.TaggedError<SqliteError>()("SqliteError", {
  code: Schema.String,
  reason: Schema.optional(Schema.Literal("syntax", "schema"))
}) {
  override get message(): string {
    const suffix = this.reason === undefined ? `(${this.code})` : `(${this.code}, ${this.reason})`
    return `${sqliteText(this.code, this.reason)} ${suffix}`
  }
}

/**
 * A programming defect met at the boundary: a `TypeError` (`x is not a function`), a
 * `ReferenceError`, a `RangeError`, a `SyntaxError` in code, or a Node error whose `code` says the
 * call was wrong (`ERR_INVALID_ARG_TYPE`, `ERR_INVALID_URL`, ...). Retrying fails the same way and
 * the dependency is not at fault. Only the class name and the code are kept.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = Failures.fromUnknown(new TypeError("client.query is not a function"))
 * // e._tag === "Defect", e.errorName === "TypeError"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class Defect extends Schema.TaggedError<Defect>()("Defect", {
  errorName: Schema.String,
  code: Schema.optional(Schema.String)
}) {
  override get message(): string {
    return `Programming error (${this.code ?? this.errorName})`
  }
}

/**
 * Data that does not decode: `JSON.parse` (or `response.json()`) of an HTML page, of an empty or a
 * truncated body. The data itself is not kept.
 *
 * @example
 * ```ts
 * import { Failures } from "@effect-resilience/core"
 *
 * const e = Failures.fromUnknown(new SyntaxError("Unexpected end of JSON input"))
 * // e._tag === "DecodeError", e.format === "json"
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class DecodeError extends Schema.TaggedError<DecodeError>()("DecodeError", {
  format: Schema.Literal("json")
}) {
  override get message(): string {
    return decodeText(this.format)
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
 * The operation timed out (a DOMException `TimeoutError`, as `AbortSignal.timeout` raises, or an
 * `AbortError` whose `cause` is one).
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
 * class GatewayError extends Error {
 *   override name = "GatewayError"
 * }
 * const e = Failures.fromUnknown(new GatewayError("secret payload"))
 * // e._tag === "UnknownFailure", e.errorName === "GatewayError", e.message carries no payload
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
  | SqliteError
  | DecodeError
  | Defect
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
  SqliteError,
  DecodeError,
  Defect,
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
export const isFailure = (u: unknown): u is Failure =>
  typeof u === "object" &&
  u !== null &&
  "_tag" in u &&
  typeof u._tag === "string" &&
  failureTags.has(u._tag) &&
  isFailureSchema(u)

// The tag first: a raw error (no `_tag`) is told apart without running the union's schema.
const failureTags: ReadonlySet<string> = new Set(Failure.members.map((member) => member._tag))
const isFailureSchema = Schema.is(Failure)

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
  "retry-after-ms",
  "x-ms-retry-after-ms",
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
  const status = Math.trunc(response.status)
  const headers = safeHeaders(response.headers)
  // The fields are checked here (a whole status, string headers): validation is skipped unless
  // the status is not a whole number, which the schema then rejects as before.
  const valid = Number.isInteger(status)
  if (!valid) return new HttpError({ status })
  return headers === undefined ? make(HttpError, { status }) : make(HttpError, { status, headers })
}

const make = unsafeConstruct

/** A SQL identifier (a constraint or table name), or undefined: never free text. */
const identifier = (source: object, key: string): string | undefined => {
  const value: unknown = key in source ? Reflect.get(source, key) : undefined
  return typeof value === "string" && value.length <= 128 && /^[\p{L}_][\p{L}\p{N}_$.-]*$/u.test(value)
    ? value
    : undefined
}

/** A code-like name (`TypeError`, `ERR_INVALID_ARG_TYPE`), or undefined. */
const safeName = (value: unknown): string | undefined =>
  typeof value === "string" && value.length <= 64 && /^[A-Za-z_$][\w$.]*$/.test(value) ? value : undefined

const pgFailure = (code: string, source: object): PgError => {
  const constraint = identifier(source, "constraint")
  const table = identifier(source, "table")
  if (constraint === undefined && table === undefined) return make(PgError, { code })
  if (table === undefined) return make(PgError, { code, constraint })
  return constraint === undefined ? make(PgError, { code, table }) : make(PgError, { code, constraint, table })
}

// Every field below comes from a check of the recogniser (a code it matched, an integer status, a
// syscall reduced to its name), so the constructors skip validation (`true`).
const toFailure: Visitor<KnownFailure> = {
  http: (status, headers) => fromHttpResponse({ status, headers }),
  node: (code, raw) => {
    const syscall = safeSyscall(raw)
    return syscall === undefined ? make(NetworkError, { code }) : make(NetworkError, { code, syscall })
  },
  undici: (code) => make(FetchError, { code }),
  grpc: (code, pushbackMillis, reason, pushbackRefused) => {
    if (pushbackRefused) {
      return reason === undefined
        ? make(GrpcError, { code, retryPushbackRefused: true })
        : make(GrpcError, { code, reason, retryPushbackRefused: true })
    }
    if (reason !== undefined) return make(GrpcError, { code, reason })
    return pushbackMillis === undefined
      ? make(GrpcError, { code })
      : make(GrpcError, { code, retryPushbackMillis: pushbackMillis })
  },
  pg: pgFailure,
  redis: (code) => make(RedisError, { code }),
  sqlite: (code, reason) => (reason === undefined ? make(SqliteError, { code }) : make(SqliteError, { code, reason })),
  abort: () => make(AbortError, {}),
  timeout: () => make(TimeoutError, {}),
  decode: (format) => make(DecodeError, { format }),
  defect: (name, code) => {
    const errorName = safeName(name) ?? "Error"
    return code === undefined ? make(Defect, { errorName }) : make(Defect, { errorName, code })
  }
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
  const errorName = typeof u === "object" && u !== null && "name" in u ? safeName(u.name) : undefined
  return errorName === undefined ? make(UnknownFailure, {}) : make(UnknownFailure, { errorName })
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
