/**
 * Structural recognition of raw failures (Node system errors, DOMException-like aborts, undici and
 * fetch errors, pg errors, ioredis / node-redis replies, SQLite errors from better-sqlite3, gRPC
 * service errors, HTTP responses, programming defects). One walk feeds two visitors: the default
 * classifier (which builds no failure object) and `Failures.fromUnknown` (which builds the tagged
 * failure).
 *
 * Order: structure first (`code`, `status`), then the class name, then the exact message of the
 * few libraries that say what a failure is only there (pg, ioredis), then the `cause` chain and an
 * `AggregateError`'s `errors`; a programming defect last, so that a wrapper's cause wins over it.
 *
 * @internal
 */
import {
  type DecodeFormat,
  type GrpcReason,
  isDefectCode,
  isDefectName,
  isJsonSyntaxError,
  isKnownNodeCode,
  isPgSqlState,
  pgMessageCode,
  redisMessageCode,
  type SqliteReason,
  sqliteMessageCode
} from "./tables.js"

/** What a recogniser calls for each kind of failure it finds. */
export interface Visitor<R> {
  readonly http: (status: number, headers: unknown) => R
  /** `syscall` as the error has it: it may hold arguments (`spawn /path/to/x`); see `safeSyscall`. */
  readonly node: (code: string, syscall: string | undefined) => R
  readonly undici: (code: string) => R
  /**
   * `pushbackRefused`: the server sent a `grpc-retry-pushback-ms` that is negative or not a number,
   * which gRPC's retry design (A6) reads as "do not retry".
   */
  readonly grpc: (
    code: number,
    pushbackMillis: number | undefined,
    reason: GrpcReason | undefined,
    pushbackRefused: boolean
  ) => R
  readonly pg: (code: string, source: object) => R
  readonly redis: (code: string) => R
  readonly sqlite: (code: string, reason: SqliteReason | undefined) => R
  readonly abort: () => R
  readonly timeout: () => R
  /** Data that does not decode (`JSON.parse`'s SyntaxError). */
  readonly decode: (format: DecodeFormat) => R
  /** A programming defect: `name` is the error's class name, `code` a Node `ERR_*` code if any. */
  readonly defect: (name: string, code: string | undefined) => R
}

const MAX_DEPTH = 4

const isObject = (u: unknown): u is object => typeof u === "object" && u !== null

const stringField = (u: object, key: string): string | undefined => {
  if (!(key in u)) return undefined
  const value: unknown = Reflect.get(u, key)
  return typeof value === "string" ? value : undefined
}

const isStatus = (u: unknown): u is number => typeof u === "number" && Number.isInteger(u) && u >= 100 && u <= 599

/** The HTTP status of a response-like value: `status`, `statusCode` or `response.status(Code)`. */
export const statusOf = (u: object): number | undefined => {
  if ("status" in u && isStatus(u.status)) return u.status
  if ("statusCode" in u && isStatus(u.statusCode)) return u.statusCode
  if ("response" in u && isObject(u.response)) {
    const response = u.response
    if ("status" in response && isStatus(response.status)) return response.status
    if ("statusCode" in response && isStatus(response.statusCode)) return response.statusCode
  }
  return undefined
}

const headersOf = (u: object): unknown => {
  if ("headers" in u) return u.headers
  if ("response" in u && isObject(u.response) && "headers" in u.response) return u.response.headers
  return undefined
}

const firstString = (value: unknown): string | undefined => {
  if (typeof value === "string") return value
  if (Array.isArray(value)) {
    const first: unknown = value[0]
    return typeof first === "string" ? first : undefined
  }
  return undefined
}

/**
 * Reads one header from a plain record (any key case, string or string[] values) or from a
 * `Headers`-like object with a `get` method. `name` must be lower case.
 */
export const headerValue = (headers: unknown, name: string): string | undefined => {
  if (!isObject(headers)) return undefined
  if (name in headers) return firstString(Reflect.get(headers, name))
  if ("get" in headers && typeof headers.get === "function") {
    const value: unknown = headers.get(name)
    return firstString(value)
  }
  for (const key of Object.keys(headers)) {
    if (key.length === name.length && key.toLowerCase() === name) return firstString(Reflect.get(headers, key))
  }
  return undefined
}

/** Every header as [lower-case name, value] pairs. */
export const headerEntries = (headers: unknown): ReadonlyArray<readonly [string, string]> => {
  if (!isObject(headers)) return []
  const out: Array<readonly [string, string]> = []
  if ("forEach" in headers && typeof headers.forEach === "function") {
    headers.forEach((value: unknown, key: unknown) => {
      const v = firstString(value)
      if (typeof key === "string" && v !== undefined) out.push([key.toLowerCase(), v])
    })
    return out
  }
  for (const key of Object.keys(headers)) {
    const v = firstString(Reflect.get(headers, key))
    if (v !== undefined) out.push([key.toLowerCase(), v])
  }
  return out
}

/** A non-negative whole number of milliseconds, or undefined. */
export const parseMillis = (value: string | undefined): number | undefined => {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined
  return Number(value)
}

/** The raw `grpc-retry-pushback-ms` value of a service error's metadata, if any. */
const pushbackValue = (u: object): string | undefined => {
  if (!("metadata" in u) || !isObject(u.metadata)) return undefined
  const metadata = u.metadata
  if ("get" in metadata && typeof metadata.get === "function") {
    const values: unknown = metadata.get("grpc-retry-pushback-ms")
    const first: unknown = Array.isArray(values) ? values[0] : values
    return typeof first === "string" ? first : first instanceof Uint8Array ? new TextDecoder().decode(first) : undefined
  }
  return firstString(Reflect.get(metadata, "grpc-retry-pushback-ms"))
}

const grpcOf = <R>(u: object, code: number, visitor: Visitor<R>): R => {
  const value = pushbackValue(u)
  const pushback = parseMillis(value)
  const reason = code === 8 ? grpcReason(stringField(u, "details")) : undefined
  return visitor.grpc(code, pushback, reason, value !== undefined && pushback === undefined)
}

/** grpc-js' own RESOURCE_EXHAUSTED for a message over the channel's limit. */
const MESSAGE_TOO_LARGE = /^(?:Received|Sent) message larger than max \(\d+ vs\.? \d+\)$/

const grpcReason = (details: string | undefined): GrpcReason | undefined =>
  details !== undefined && MESSAGE_TOO_LARGE.test(details) ? "message-too-large" : undefined

const REDIS_NAMES = new Set(["ReplyError", "ErrorReply", "RedisError"])

const redisPrefix = (message: string): string | undefined => {
  const match = /^([A-Z]+)(?:\s|$)/.exec(message)
  const prefix = match?.[1]
  if (prefix === "ERR" && /max number of clients/i.test(message)) return "MAXCLIENTS"
  return prefix
}

const constructorName = (u: object): string | undefined => {
  const ctor: unknown = u.constructor
  return typeof ctor === "function" ? ctor.name : undefined
}

/** A Node-style syscall without its arguments: `spawn /path/to/x` is `spawn`. */
export const safeSyscall = (syscall: string | undefined): string | undefined => {
  if (syscall === undefined) return undefined
  const space = syscall.indexOf(" ")
  const word = space === -1 ? syscall : syscall.slice(0, space)
  return /^[A-Za-z_][A-Za-z0-9_]{0,31}$/.test(word) ? word : undefined
}

/** Whether a `cause` chain (bounded) holds a `TimeoutError`: `AbortSignal.timeout` aborted it. */
const causedByTimeout = (u: object): boolean => {
  let current: unknown = "cause" in u ? u.cause : undefined
  for (let depth = 0; depth < MAX_DEPTH && isObject(current); depth++) {
    if ("name" in current && current.name === "TimeoutError") return true
    current = "cause" in current ? current.cause : undefined
  }
  return false
}

/** Whether a class named `RedisError` is among `u`'s ancestors (the `redis-errors` package's). */
const isRedisErrorsClass = (u: object): boolean => {
  let proto: unknown = Object.getPrototypeOf(u)
  for (let depth = 0; depth < 4 && isObject(proto); depth++) {
    if (Object.hasOwn(proto, "constructor") && constructorName(proto) === "RedisError") return true
    proto = Object.getPrototypeOf(proto)
  }
  return false
}

const abortOrTimeout = <R>(u: object, visitor: Visitor<R>): R =>
  causedByTimeout(u) ? visitor.timeout() : visitor.abort()

const SQLITE_SCHEMA =
  /^(?:no such (?:table|column|function|index|view|trigger|collation sequence|module|savepoint)\b|(?:table|index|view|trigger) \S+ already exists$|table \S+ has no column named )/
const SQLITE_SYNTAX = /^(?:near ".*": syntax error$|incomplete input$|unrecognized token: )/

/** What an `SQLITE_ERROR` says in its message (the only place SQLite says it). */
const sqliteReason = (code: string, message: string | undefined): SqliteReason | undefined => {
  if (code !== "SQLITE_ERROR" || message === undefined) return undefined
  if (SQLITE_SCHEMA.test(message)) return "schema"
  if (SQLITE_SYNTAX.test(message)) return "syntax"
  return undefined
}

const recogniseCode = <R>(u: object, code: string, name: string | undefined, visitor: Visitor<R>): R | undefined => {
  if (code.startsWith("UND_ERR")) {
    // undici 7's ResponseError / RequestRetryError carry the response's status and headers: the
    // status says more than the code.
    const status = statusOf(u)
    return status === undefined ? visitor.undici(code) : visitor.http(status, headersOf(u))
  }
  if (code === "ABORT_ERR") return abortOrTimeout(u, visitor)
  if (code.startsWith("SQLITE_")) return visitor.sqlite(code, sqliteReason(code, stringField(u, "message")))
  if (isPgSqlState(code)) return visitor.pg(code, u)
  if (isKnownNodeCode(code) || (/^E[A-Z0-9_]+$/.test(code) && ("syscall" in u || "errno" in u))) {
    return visitor.node(code, stringField(u, "syscall"))
  }
  if (isDefectCode(code)) return visitor.defect(name ?? "Error", code)
  return undefined
}

/**
 * Walks a raw failure and calls the visitor for what it recognises; undefined when nothing is.
 */
export const recognise = <R>(u: unknown, visitor: Visitor<R>, depth = 0): R | undefined => {
  if (!isObject(u)) return undefined
  const name = "name" in u && typeof u.name === "string" ? u.name : undefined
  const code: unknown = "code" in u ? u.code : undefined
  if (name === "TimeoutError" || name === "TimeoutException") return visitor.timeout()
  if (name === "AbortError" && typeof code !== "string") {
    // `redis-errors`' AbortError (ioredis: a command lost with its connection) is no caller's abort.
    if (code === undefined && isRedisErrorsClass(u)) {
      const fromMessage = redisMessageCode(stringField(u, "message"))
      if (fromMessage !== undefined) return visitor.redis(fromMessage)
    }
    return abortOrTimeout(u, visitor)
  }

  if (typeof code === "number") {
    if (Number.isInteger(code) && code >= 0 && code <= 16 && ("details" in u || "metadata" in u)) {
      return grpcOf(u, code, visitor)
    }
  } else if (typeof code === "string") {
    const byCode = recogniseCode(u, code, name, visitor)
    if (byCode !== undefined) return byCode
  }

  const status = statusOf(u)
  if (status !== undefined) {
    // @effect/platform's ResponseError: only a `StatusCode` reason is about the status.
    if (!("reason" in u) || u.reason === "StatusCode" || typeof u.reason !== "string") {
      return visitor.http(status, headersOf(u))
    }
  }

  if (name === "MaxRetriesPerRequestError") return visitor.redis("MAXRETRIES")
  if (name === "ClusterAllFailedError") return visitor.redis("CLUSTERDOWN")
  // node-redis' ErrorReply keeps Error's name: look at the class name only then.
  if (
    (name !== undefined && REDIS_NAMES.has(name)) ||
    (name === "Error" && REDIS_NAMES.has(constructorName(u) ?? ""))
  ) {
    const message = stringField(u, "message") ?? ""
    const prefix = redisPrefix(message)
    if (prefix !== undefined) return visitor.redis(prefix)
    const fromMessage = redisMessageCode(message)
    if (fromMessage !== undefined) return visitor.redis(fromMessage)
  }
  if (name === "Error" && code === undefined) {
    // pg and ioredis say what these are in their (fixed) message only.
    const message = stringField(u, "message")
    const pg = pgMessageCode(message)
    if (pg !== undefined) return visitor.pg(pg, u)
    const redis = redisMessageCode(message)
    if (redis !== undefined) return visitor.redis(redis)
  }

  // child_process.execFile / exec killed the child because its `timeout` passed (a maxBuffer
  // overflow has its own code, an abort is an AbortError).
  if (code === null && "killed" in u && u.killed === true && "signal" in u && typeof u.signal === "string") {
    return visitor.timeout()
  }

  if (depth < MAX_DEPTH) {
    if ("cause" in u && u.cause !== u) {
      const fromCause = recognise(u.cause, visitor, depth + 1)
      if (fromCause !== undefined) return fromCause
    }
    if ("errors" in u && Array.isArray(u.errors)) {
      for (const inner of u.errors) {
        if (inner === u) continue
        const fromInner = recognise(inner, visitor, depth + 1)
        if (fromInner !== undefined) return fromInner
      }
    }
  }
  if (name === "TypeError" && stringField(u, "message") === "fetch failed") return visitor.undici("FETCH_FAILED")
  if (name !== undefined) {
    const message = stringField(u, "message")
    if (isJsonSyntaxError(name, message)) return visitor.decode("json")
    if (name === "TypeError") {
      const sqlite = sqliteMessageCode(message)
      if (sqlite !== undefined) return visitor.sqlite(sqlite, undefined)
    }
    if (isDefectName(name)) return visitor.defect(name, undefined)
  }
  return undefined
}

const RETRY_AFTER = "retry-after"
const RETRY_AFTER_MS = "retry-after-ms"
const X_MS_RETRY_AFTER_MS = "x-ms-retry-after-ms"

/**
 * The delay the Retry-After headers ask for, in milliseconds: `retry-after-ms` or
 * `x-ms-retry-after-ms` (milliseconds, more precise) first, then `retry-after` (seconds or an HTTP
 * date, against `now()`). One pass over a plain record's keys, whatever their case.
 */
export const retryAfterOf = (headers: unknown, now: () => number): number | undefined => {
  if (!isObject(headers)) return undefined
  let seconds: string | undefined
  let millis: string | undefined
  if ("get" in headers && typeof headers.get === "function") {
    millis = firstString(headers.get(RETRY_AFTER_MS)) ?? firstString(headers.get(X_MS_RETRY_AFTER_MS))
    if (millis === undefined) seconds = firstString(headers.get(RETRY_AFTER))
  } else {
    for (const key in headers) {
      const length = key.length
      if (length !== 11 && length !== 14 && length !== 19) continue
      const name = key.toLowerCase()
      if (name === RETRY_AFTER) seconds = firstString(Reflect.get(headers, key))
      else if (name === RETRY_AFTER_MS || name === X_MS_RETRY_AFTER_MS)
        millis ??= firstString(Reflect.get(headers, key))
    }
  }
  const fromMillis = parseMillis(millis)
  if (fromMillis !== undefined && fromMillis > 0) return fromMillis
  return seconds === undefined ? undefined : retryAfterMillis(seconds, now)
}

/** delay-seconds: 1*DIGIT (at most 10 digits), parsed without a RegExp (this runs per failure). */
const parseSeconds = (v: string): number | undefined => {
  if (v.length === 0 || v.length > 10) return undefined
  let n = 0
  for (let i = 0; i < v.length; i++) {
    const digit = v.charCodeAt(i) - 48
    if (digit < 0 || digit > 9) return undefined
    n = n * 10 + digit
  }
  return n
}

const HTTP_DATE =
  /^(?:[A-Za-z]{3,9}, \d{2}[ -][A-Za-z]{3}[ -]\d{2,4} \d{2}:\d{2}:\d{2} GMT|[A-Za-z]{3} [A-Za-z]{3} [ \d]\d \d{2}:\d{2}:\d{2} \d{4})$/

/**
 * The delay a Retry-After value asks for, in milliseconds: delay-seconds, or an HTTP date minus
 * `now()`. Undefined when unparsable, zero or in the past. `now` is only called for a date.
 */
export const retryAfterMillis = (value: string, now: () => number): number | undefined => {
  let v = value
  let seconds = parseSeconds(v)
  if (seconds === undefined) {
    v = value.trim()
    if (v !== value) seconds = parseSeconds(v)
  }
  if (seconds !== undefined) return seconds > 0 ? seconds * 1000 : undefined
  if (!HTTP_DATE.test(v)) return undefined
  const at = Date.parse(v.endsWith("GMT") ? v : `${v} GMT`)
  if (Number.isNaN(at)) return undefined
  const delay = at - now()
  return delay > 0 ? delay : undefined
}
