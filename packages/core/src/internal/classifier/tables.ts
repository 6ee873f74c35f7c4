/**
 * The classification tables: constant verdicts for the failures met in the wild (HTTP statuses,
 * Node system codes, undici codes, gRPC statuses, PostgreSQL SQLSTATEs, Redis error prefixes, the
 * runtime's own failures), computed once when the module loads so that classifying a tagged
 * failure is a look-up and no allocation. Plain TypeScript: imports nothing from `effect`.
 *
 * @internal
 */
import { type Category, type Overrides, unknown as unknownVerdict, type Verdict, verdict } from "./categories.js"

/** One entry of a table: category, a user-safe text, optional overrides. */
type Spec = readonly [category: Category, text: string, overrides?: Overrides]

const build = (category: Category, code: string, message: string, overrides: Overrides | undefined): Verdict =>
  verdict(category, code, message, overrides)

const NOT_RETRYABLE: Overrides = { retryable: false }
const NOT_COUNTED: Overrides = { countsForBreaker: false }
const LOCAL_RESOURCE: Overrides = { countsForBreaker: false }
const LOCAL_RESOURCE_FINAL: Overrides = { countsForBreaker: false, retryable: false }

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

const httpSpecs: { readonly [status: number]: Spec } = {
  400: ["validation", "Bad request"],
  401: ["authentication", "Authentication required"],
  402: ["business", "Payment required"],
  403: ["authorization", "Forbidden"],
  404: ["client", "Not found"],
  405: ["client", "Method not allowed"],
  406: ["client", "Not acceptable"],
  407: ["authentication", "Proxy authentication required"],
  408: ["timeout", "Request timeout"],
  409: ["concurrency", "Conflict", NOT_RETRYABLE],
  410: ["client", "Gone"],
  411: ["validation", "Length required"],
  412: ["concurrency", "Precondition failed", NOT_RETRYABLE],
  413: ["validation", "Content too large"],
  414: ["validation", "URI too long"],
  415: ["validation", "Unsupported media type"],
  416: ["validation", "Range not satisfiable"],
  417: ["client", "Expectation failed"],
  418: ["client", "I'm a teapot"],
  421: ["network", "Misdirected request", NOT_COUNTED],
  422: ["validation", "Unprocessable content"],
  423: ["concurrency", "Locked"],
  424: ["client", "Failed dependency"],
  425: ["concurrency", "Too early"],
  426: ["configuration", "Upgrade required"],
  428: ["client", "Precondition required"],
  429: ["throttled", "Too many requests"],
  431: ["validation", "Request header fields too large"],
  451: ["authorization", "Unavailable for legal reasons"],
  499: ["client", "Client closed request"],
  500: ["server", "Internal server error"],
  501: ["configuration", "Not implemented"],
  502: ["unavailable", "Bad gateway"],
  503: ["unavailable", "Service unavailable"],
  504: ["timeout", "Gateway timeout"],
  505: ["configuration", "HTTP version not supported"],
  506: ["server", "Variant also negotiates", NOT_RETRYABLE],
  507: ["resource", "Insufficient storage", NOT_RETRYABLE],
  508: ["server", "Loop detected", NOT_RETRYABLE],
  510: ["configuration", "Not extended"],
  511: ["authentication", "Network authentication required"],
  520: ["server", "Unknown error from origin"],
  521: ["unavailable", "Origin is down"],
  522: ["timeout", "Connection to origin timed out"],
  523: ["network", "Origin is unreachable"],
  524: ["timeout", "Origin timed out"],
  529: ["throttled", "Site is overloaded"]
}

const httpFallbackSpec = (status: number): Spec =>
  status >= 500
    ? ["server", "Server error"]
    : status >= 400
      ? ["client", "Client error"]
      : ["unknown", "Unexpected HTTP status", NOT_RETRYABLE]

/** The user-safe text of an HTTP status ("Service unavailable"). */
export const httpText = (status: number): string => (httpSpecs[status] ?? httpFallbackSpec(status))[1]

const makeHttp = (status: number): Verdict => {
  const [category, text, overrides] = httpSpecs[status] ?? httpFallbackSpec(status)
  return build(category, `http.${status}`, `${text} (HTTP ${status})`, overrides)
}

/** Classification of every status 100..599, indexed by status. */
const httpTable: ReadonlyArray<Verdict> = Array.from({ length: 600 }, (_, status) => makeHttp(status))

/** The constant classification of an HTTP status. */
export const http = (status: number): Verdict =>
  (Number.isInteger(status) && status >= 100 ? httpTable[status] : undefined) ?? makeHttp(status)

// ---------------------------------------------------------------------------------------------
// Node system errors (and the TLS / stream codes Node puts on `code`)
// ---------------------------------------------------------------------------------------------

const nodeSpecs: { readonly [code: string]: Spec } = {
  ECONNRESET: ["network", "Connection reset by peer"],
  ECONNREFUSED: ["network", "Connection refused"],
  ECONNABORTED: ["network", "Connection aborted"],
  ETIMEDOUT: ["timeout", "Connection timed out"],
  ESOCKETTIMEDOUT: ["timeout", "Socket timed out"],
  EPIPE: ["network", "Broken pipe"],
  ENOTFOUND: ["network", "Host name not found"],
  EAI_AGAIN: ["network", "Temporary name resolution failure"],
  EAI_FAIL: ["network", "Name resolution failed"],
  EHOSTUNREACH: ["network", "Host unreachable"],
  ENETUNREACH: ["network", "Network unreachable"],
  ENETDOWN: ["network", "Network is down"],
  EHOSTDOWN: ["network", "Host is down"],
  ENETRESET: ["network", "Connection reset by network"],
  EPROTO: ["network", "Protocol error", NOT_RETRYABLE],
  EADDRINUSE: ["resource", "Address already in use", LOCAL_RESOURCE],
  EADDRNOTAVAIL: ["resource", "Address not available", LOCAL_RESOURCE],
  EMFILE: ["resource", "Too many open files", LOCAL_RESOURCE],
  ENFILE: ["resource", "Too many open files in system", LOCAL_RESOURCE],
  EAGAIN: ["resource", "Resource temporarily unavailable", LOCAL_RESOURCE],
  EBUSY: ["resource", "Resource busy", LOCAL_RESOURCE],
  ENOMEM: ["resource", "Out of memory", LOCAL_RESOURCE_FINAL],
  ENOSPC: ["resource", "No space left on device", LOCAL_RESOURCE_FINAL],
  ECANCELED: ["client", "Operation canceled"],
  EACCES: ["authorization", "Permission denied"],
  EPERM: ["authorization", "Operation not permitted"],
  ENOENT: ["configuration", "No such file or directory"],
  ERR_SOCKET_CONNECTION_TIMEOUT: ["timeout", "Socket connection timed out"],
  ERR_STREAM_PREMATURE_CLOSE: ["network", "Stream closed prematurely"],
  ERR_HTTP2_STREAM_ERROR: ["network", "HTTP/2 stream error"],
  ERR_TLS_CERT_ALTNAME_INVALID: ["configuration", "TLS certificate does not match the host name"],
  CERT_HAS_EXPIRED: ["configuration", "TLS certificate has expired"],
  DEPTH_ZERO_SELF_SIGNED_CERT: ["configuration", "Self-signed TLS certificate"],
  SELF_SIGNED_CERT_IN_CHAIN: ["configuration", "Self-signed TLS certificate in chain"],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ["configuration", "TLS certificate could not be verified"],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ["configuration", "TLS certificate issuer unknown"]
}

/** Whether `code` is a Node error code the default classifier knows. */
export const isKnownNodeCode = (code: string): boolean => Object.hasOwn(nodeSpecs, code)

/** The user-safe text of a Node error code. */
export const nodeText = (code: string): string => nodeSpecs[code]?.[1] ?? "System error"

const makeNode = (code: string): Verdict => {
  const spec = nodeSpecs[code]
  return spec === undefined
    ? build("system", `node.${code}`, `System error (${code})`, undefined)
    : build(spec[0], `node.${code}`, `${spec[1]} (${code})`, spec[2])
}

const nodeTable: ReadonlyMap<string, Verdict> = new Map(Object.keys(nodeSpecs).map((code) => [code, makeNode(code)]))

/** The classification of a Node error code. */
export const node = (code: string): Verdict => nodeTable.get(code) ?? makeNode(code)

// ---------------------------------------------------------------------------------------------
// fetch / undici
// ---------------------------------------------------------------------------------------------

const undiciSpecs: { readonly [code: string]: Spec } = {
  UND_ERR_CONNECT_TIMEOUT: ["timeout", "Connect timeout"],
  UND_ERR_HEADERS_TIMEOUT: ["timeout", "Timed out waiting for response headers"],
  UND_ERR_BODY_TIMEOUT: ["timeout", "Timed out reading the response body"],
  UND_ERR_SOCKET: ["network", "Socket error"],
  UND_ERR_CLOSED: ["network", "HTTP client closed"],
  UND_ERR_DESTROYED: ["network", "HTTP client destroyed"],
  UND_ERR_ABORTED: ["client", "Request aborted"],
  UND_ERR_HEADERS_OVERFLOW: ["server", "Response headers too large", NOT_RETRYABLE],
  UND_ERR_RES_CONTENT_LENGTH_MISMATCH: ["network", "Response length mismatch"],
  UND_ERR_REQ_CONTENT_LENGTH_MISMATCH: ["client", "Request length mismatch"],
  UND_ERR_RES_EXCEEDED_MAX_SIZE: ["client", "Response too large"],
  UND_ERR_INVALID_ARG: ["configuration", "Invalid HTTP client argument"],
  UND_ERR_INVALID_RETURN_VALUE: ["configuration", "Invalid HTTP client handler"],
  UND_ERR_NOT_SUPPORTED: ["configuration", "Not supported by the HTTP client"],
  UND_ERR_BPL_MISSING_UPSTREAM: ["configuration", "No upstream configured"],
  UND_ERR_REQ_RETRY: ["server", "HTTP client retries exhausted", NOT_RETRYABLE],
  FETCH_FAILED: ["network", "Fetch failed"]
}

/** The user-safe text of an undici code. */
export const undiciText = (code: string): string => undiciSpecs[code]?.[1] ?? "HTTP client error"

const makeUndici = (code: string): Verdict => {
  const spec = undiciSpecs[code]
  return spec === undefined
    ? build("unknown", `undici.${code}`, `HTTP client error (${code})`, NOT_RETRYABLE)
    : build(spec[0], `undici.${code}`, `${spec[1]} (${code})`, spec[2])
}

const undiciTable: ReadonlyMap<string, Verdict> = new Map(
  Object.keys(undiciSpecs).map((code) => [code, makeUndici(code)])
)

/** The classification of an undici (fetch) error code. */
export const undici = (code: string): Verdict => undiciTable.get(code) ?? makeUndici(code)

// ---------------------------------------------------------------------------------------------
// gRPC
// ---------------------------------------------------------------------------------------------

/** gRPC status names, indexed by code. */
export const grpcNames: ReadonlyArray<string> = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED"
]

const grpcSpecs: ReadonlyArray<Spec> = [
  ["unknown", "OK status reported as a failure", NOT_RETRYABLE],
  ["client", "Cancelled", { retryable: false, countsForBreaker: false }],
  ["server", "Unknown error", NOT_RETRYABLE],
  ["validation", "Invalid argument"],
  ["timeout", "Deadline exceeded"],
  ["client", "Not found"],
  ["data-integrity", "Already exists"],
  ["authorization", "Permission denied"],
  ["throttled", "Resource exhausted"],
  ["business", "Failed precondition"],
  ["concurrency", "Aborted"],
  ["validation", "Out of range"],
  ["configuration", "Unimplemented"],
  ["server", "Internal error", NOT_RETRYABLE],
  ["unavailable", "Unavailable"],
  ["data-integrity", "Data loss", { severity: "critical", countsForBreaker: true }],
  ["authentication", "Unauthenticated"]
]

/** The user-safe text of a gRPC status code. */
export const grpcText = (code: number): string => grpcSpecs[code]?.[1] ?? "Unknown gRPC status"

/** The gRPC status name (`UNAVAILABLE`), or the number for codes outside 0..16. */
export const grpcName = (code: number): string => grpcNames[code] ?? String(code)

const makeGrpc = (code: number): Verdict => {
  const spec = grpcSpecs[code]
  const name = grpcName(code)
  return spec === undefined
    ? build("unknown", `grpc.${name}`, `Unknown gRPC status (${name})`, NOT_RETRYABLE)
    : build(spec[0], `grpc.${name}`, `${spec[1]} (gRPC ${name})`, spec[2])
}

const grpcTable: ReadonlyArray<Verdict> = grpcSpecs.map((_, code) => makeGrpc(code))

/** The classification of a gRPC status code. */
export const grpc = (code: number): Verdict => grpcTable[code] ?? makeGrpc(code)

// ---------------------------------------------------------------------------------------------
// PostgreSQL SQLSTATE
// ---------------------------------------------------------------------------------------------

const pgClassSpecs: { readonly [sqlClass: string]: Spec } = {
  "03": ["client", "SQL statement not yet complete"],
  "08": ["network", "Connection exception"],
  "09": ["server", "Triggered action exception", NOT_RETRYABLE],
  "0A": ["configuration", "Feature not supported"],
  "0B": ["client", "Invalid transaction initiation"],
  "0F": ["client", "Locator exception"],
  "0L": ["authorization", "Invalid grantor"],
  "0P": ["authorization", "Invalid role specification"],
  "0Z": ["client", "Diagnostics exception"],
  "20": ["client", "Case not found"],
  "21": ["validation", "Cardinality violation"],
  "22": ["validation", "Data exception"],
  "23": ["data-integrity", "Integrity constraint violation"],
  "24": ["client", "Invalid cursor state"],
  "25": ["client", "Invalid transaction state"],
  "26": ["client", "Invalid SQL statement name"],
  "27": ["data-integrity", "Triggered data change violation"],
  "28": ["authentication", "Invalid authorization specification"],
  "2B": ["client", "Dependent privilege descriptors still exist"],
  "2D": ["client", "Invalid transaction termination"],
  "2F": ["server", "SQL routine exception", NOT_RETRYABLE],
  "34": ["client", "Invalid cursor name"],
  "38": ["server", "External routine exception", NOT_RETRYABLE],
  "39": ["server", "External routine invocation exception", NOT_RETRYABLE],
  "3B": ["client", "Savepoint exception"],
  "3D": ["configuration", "Invalid catalog name"],
  "3F": ["configuration", "Invalid schema name"],
  "40": ["concurrency", "Transaction rollback", NOT_RETRYABLE],
  "42": ["configuration", "Syntax error or access rule violation"],
  "44": ["data-integrity", "WITH CHECK OPTION violation"],
  "53": ["resource", "Insufficient resources"],
  "54": ["validation", "Program limit exceeded"],
  "55": ["client", "Object not in prerequisite state"],
  "57": ["unavailable", "Operator intervention"],
  "58": ["system", "System error"],
  "72": ["concurrency", "Snapshot too old"],
  F0: ["configuration", "Configuration file error"],
  HV: ["server", "Foreign data wrapper error", NOT_RETRYABLE],
  P0: ["business", "PL/pgSQL error"],
  XX: ["server", "Internal error", NOT_RETRYABLE]
}

const pgCodeSpecs: { readonly [sqlstate: string]: Spec } = {
  "22001": ["validation", "String data right truncation"],
  "22003": ["validation", "Numeric value out of range"],
  "22012": ["validation", "Division by zero"],
  "22P02": ["validation", "Invalid text representation"],
  "23001": ["data-integrity", "Restrict violation"],
  "23502": ["data-integrity", "Not-null violation"],
  "23503": ["data-integrity", "Foreign key violation"],
  "23505": ["data-integrity", "Unique violation"],
  "23514": ["data-integrity", "Check violation"],
  "23P01": ["data-integrity", "Exclusion violation"],
  "25006": ["unavailable", "Read-only transaction"],
  "25P02": ["client", "In failed SQL transaction"],
  "25P03": ["network", "Idle-in-transaction session timeout"],
  "28P01": ["authentication", "Invalid password"],
  "40001": ["concurrency", "Serialization failure"],
  "40002": ["data-integrity", "Transaction integrity constraint violation"],
  "40003": ["unknown", "Statement completion unknown", NOT_RETRYABLE],
  "40P01": ["concurrency", "Deadlock detected"],
  "42501": ["authorization", "Insufficient privilege"],
  "42601": ["configuration", "Syntax error"],
  "42703": ["configuration", "Undefined column"],
  "42883": ["configuration", "Undefined function"],
  "42P01": ["configuration", "Undefined table"],
  "42P07": ["configuration", "Duplicate table"],
  "53100": ["resource", "Disk full"],
  "53200": ["resource", "Out of memory"],
  "53300": ["resource", "Too many connections"],
  "53400": ["resource", "Configuration limit exceeded"],
  "55006": ["concurrency", "Object in use"],
  "55P03": ["concurrency", "Lock not available"],
  "57014": ["timeout", "Query canceled"],
  "57P01": ["unavailable", "Admin shutdown"],
  "57P02": ["unavailable", "Crash shutdown"],
  "57P03": ["unavailable", "Cannot connect now"],
  "57P04": ["configuration", "Database dropped"],
  "57P05": ["network", "Idle session timeout"],
  P0001: ["business", "Raised exception"],
  XX001: ["data-integrity", "Data corrupted", { severity: "critical", countsForBreaker: true }],
  XX002: ["data-integrity", "Index corrupted", { severity: "critical", countsForBreaker: true }]
}

const pgSpec = (sqlstate: string): Spec | undefined => pgCodeSpecs[sqlstate] ?? pgClassSpecs[sqlstate.slice(0, 2)]

/** Whether a 5-character code is a SQLSTATE of a class PostgreSQL uses. */
export const isPgSqlState = (code: string): boolean =>
  code.length === 5 && /^[0-9A-Z]{5}$/.test(code) && Object.hasOwn(pgClassSpecs, code.slice(0, 2))

/** The user-safe text of a SQLSTATE. */
export const pgText = (sqlstate: string): string => pgSpec(sqlstate)?.[1] ?? "Database error"

const makePg = (sqlstate: string): Verdict => {
  const spec = pgSpec(sqlstate)
  return spec === undefined
    ? build("unknown", `pg.${sqlstate}`, `Database error (SQLSTATE ${sqlstate})`, undefined)
    : build(spec[0], `pg.${sqlstate}`, `${spec[1]} (SQLSTATE ${sqlstate})`, spec[2])
}

const pgTable: ReadonlyMap<string, Verdict> = new Map(Object.keys(pgCodeSpecs).map((code) => [code, makePg(code)]))

/** The classification of a SQLSTATE. */
export const pg = (sqlstate: string): Verdict => pgTable.get(sqlstate) ?? makePg(sqlstate)

// ---------------------------------------------------------------------------------------------
// Redis
// ---------------------------------------------------------------------------------------------

const redisSpecs: { readonly [prefix: string]: Spec } = {
  READONLY: ["unavailable", "Redis replica is read-only"],
  LOADING: ["unavailable", "Redis is loading its dataset"],
  BUSY: ["unavailable", "Redis is busy running a script"],
  MASTERDOWN: ["unavailable", "Redis primary is down"],
  CLUSTERDOWN: ["unavailable", "Redis cluster is down"],
  MISCONF: ["unavailable", "Redis cannot persist its dataset"],
  NOREPLICAS: ["unavailable", "Not enough Redis replicas"],
  MOVED: ["unavailable", "Redis cluster slot moved", NOT_COUNTED],
  ASK: ["unavailable", "Redis cluster slot migrating", NOT_COUNTED],
  TRYAGAIN: ["concurrency", "Redis cluster is resharding"],
  OOM: ["resource", "Redis is out of memory"],
  MAXCLIENTS: ["resource", "Redis has too many clients"],
  MAXRETRIES: ["unavailable", "Redis connection lost"],
  NOAUTH: ["authentication", "Redis authentication required"],
  WRONGPASS: ["authentication", "Redis credentials rejected"],
  NOPERM: ["authorization", "Redis permission denied"],
  BUSYKEY: ["data-integrity", "Redis target key already exists"],
  CROSSSLOT: ["configuration", "Redis keys hash to different slots"],
  WRONGTYPE: ["client", "Wrong Redis value type"],
  NOSCRIPT: ["client", "Redis script not loaded"],
  EXECABORT: ["client", "Redis transaction aborted"],
  NOTBUSY: ["client", "No Redis script running"],
  UNBLOCKED: ["client", "Redis client unblocked"],
  ERR: ["client", "Redis command error"]
}

/** The user-safe text of a Redis error prefix. */
export const redisText = (prefix: string): string => redisSpecs[prefix]?.[1] ?? "Redis error"

const makeRedis = (prefix: string): Verdict => {
  const spec = redisSpecs[prefix]
  return spec === undefined
    ? build("unknown", `redis.${prefix}`, `Redis error (${prefix})`, undefined)
    : build(spec[0], `redis.${prefix}`, `${spec[1]} (${prefix})`, spec[2])
}

const redisTable: ReadonlyMap<string, Verdict> = new Map(Object.keys(redisSpecs).map((code) => [code, makeRedis(code)]))

/** The classification of a Redis error prefix. */
export const redis = (prefix: string): Verdict => redisTable.get(prefix) ?? makeRedis(prefix)

// ---------------------------------------------------------------------------------------------
// Aborts, timeouts, the runtime's own errors
// ---------------------------------------------------------------------------------------------

/** An AbortError: the caller gave up; nothing to say about the dependency. */
export const abort: Verdict = build("client", "abort", "The operation was aborted", {
  retryable: false,
  countsForBreaker: false
})

/** A TimeoutError (`AbortSignal.timeout`) or Effect's `TimeoutException`. */
export const timeout: Verdict = build("timeout", "timeout", "The operation timed out", undefined)

/** A failure nothing recognised. */
export const unknown: Verdict = unknownVerdict

/** The runtime's own failures (Errors.ts). */
export const attemptTimeout: Verdict = build("timeout", "resilience.AttemptTimeout", "The attempt timed out", undefined)
export const deadlineExceeded: Verdict = build(
  "timeout",
  "resilience.DeadlineExceeded",
  "The operation did not finish within its deadline",
  { retryable: false, countsForBreaker: false }
)
export const circuitOpen: Verdict = build(
  "unavailable",
  "resilience.CircuitOpen",
  "The dependency is unavailable (circuit open)",
  NOT_COUNTED
)
export const bulkheadRejected: Verdict = build(
  "resource",
  "resilience.BulkheadRejected",
  "Too many concurrent calls",
  NOT_COUNTED
)
export const rateLimited: Verdict = build("throttled", "resilience.RateLimited", "Rate limit reached", NOT_COUNTED)
export const retryBudgetExhausted: Verdict = build(
  "resource",
  "resilience.RetryBudgetExhausted",
  "Retry budget exhausted",
  { retryable: false, countsForBreaker: false }
)
export const retriesExhausted: Verdict = build(
  "unknown",
  "resilience.RetriesExhausted",
  "Every attempt failed",
  NOT_RETRYABLE
)
