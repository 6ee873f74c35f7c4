/**
 * Structural recognition of raw failures (Node system errors, DOMException-like aborts, undici and
 * fetch errors, pg errors, ioredis / node-redis replies, gRPC service errors, HTTP responses). One
 * walk feeds two visitors: the default classifier (which builds no failure object) and
 * `Failures.fromUnknown` (which builds the tagged failure).
 *
 * @internal
 */
import { isKnownNodeCode, isPgSqlState } from "./tables.js"

/** What a recogniser calls for each kind of failure it finds. */
export interface Visitor<R> {
  readonly http: (status: number, headers: unknown) => R
  readonly node: (code: string, syscall: string | undefined) => R
  readonly undici: (code: string) => R
  readonly grpc: (code: number, pushbackMillis: number | undefined) => R
  readonly pg: (code: string, source: object) => R
  readonly redis: (code: string) => R
  readonly abort: () => R
  readonly timeout: () => R
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
const parseMillis = (value: string | undefined): number | undefined => {
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined
  return Number(value)
}

const pushbackOf = (u: object): number | undefined => {
  if (!("metadata" in u) || !isObject(u.metadata)) return undefined
  const metadata = u.metadata
  if ("get" in metadata && typeof metadata.get === "function") {
    const values: unknown = metadata.get("grpc-retry-pushback-ms")
    const first: unknown = Array.isArray(values) ? values[0] : values
    return parseMillis(
      typeof first === "string" ? first : first instanceof Uint8Array ? new TextDecoder().decode(first) : undefined
    )
  }
  return parseMillis(firstString(Reflect.get(metadata, "grpc-retry-pushback-ms")))
}

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

/**
 * Walks a raw failure and calls the visitor for what it recognises; undefined when nothing is.
 */
export const recognise = <R>(u: unknown, visitor: Visitor<R>, depth = 0): R | undefined => {
  if (!isObject(u)) return undefined
  const name = "name" in u && typeof u.name === "string" ? u.name : undefined
  if (name === "AbortError") return visitor.abort()
  if (name === "TimeoutError") return visitor.timeout()

  // `code` first: most raw errors carry one, and none of these kinds has an HTTP status (undici's
  // status-code error and HTTP clients' errors such as axios' fall through to the status below).
  const code: unknown = "code" in u ? u.code : undefined
  if (typeof code === "number") {
    if (Number.isInteger(code) && code >= 0 && code <= 16 && ("details" in u || "metadata" in u)) {
      return visitor.grpc(code, pushbackOf(u))
    }
  } else if (typeof code === "string") {
    if (code.startsWith("UND_ERR_")) {
      if (code !== "UND_ERR_RESPONSE_STATUS_CODE") return visitor.undici(code)
    } else if (code === "ABORT_ERR") return visitor.abort()
    else if (isPgSqlState(code)) return visitor.pg(code, u)
    else if (isKnownNodeCode(code) || (/^E[A-Z0-9_]+$/.test(code) && ("syscall" in u || "errno" in u))) {
      return visitor.node(code, stringField(u, "syscall"))
    }
  }

  const status = statusOf(u)
  if (status !== undefined) return visitor.http(status, headersOf(u))
  if (code === "UND_ERR_RESPONSE_STATUS_CODE") return visitor.undici(code)

  if (name === "MaxRetriesPerRequestError") return visitor.redis("MAXRETRIES")
  if (name === "ClusterAllFailedError") return visitor.redis("CLUSTERDOWN")
  // node-redis' ErrorReply keeps Error's name: look at the class name only then.
  if (
    (name !== undefined && REDIS_NAMES.has(name)) ||
    (name === "Error" && REDIS_NAMES.has(constructorName(u) ?? ""))
  ) {
    const prefix = redisPrefix(stringField(u, "message") ?? "")
    if (prefix !== undefined) return visitor.redis(prefix)
  }

  if (depth < MAX_DEPTH && "cause" in u && u.cause !== u) {
    const fromCause = recognise(u.cause, visitor, depth + 1)
    if (fromCause !== undefined) return fromCause
  }
  if (name === "TypeError" && stringField(u, "message") === "fetch failed") return visitor.undici("FETCH_FAILED")
  return undefined
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
