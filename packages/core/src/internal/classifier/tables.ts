/**
 * The classification tables: constant verdicts for the failures met in the wild (HTTP statuses,
 * Node system codes, undici codes, gRPC statuses, PostgreSQL SQLSTATEs and pg's code-less errors,
 * Redis error prefixes and ioredis' code-less errors, SQLite result codes, programming defects, the
 * runtime's own failures), computed once when the module loads so that classifying a tagged
 * failure is a look-up and no allocation. Plain TypeScript: imports nothing from `effect`.
 *
 * @internal
 */
import { type Category, type Overrides, unknown as unknownVerdict, type Verdict, verdict } from "./categories.js"

/** One entry of a table: category, a user-safe text, optional overrides. */
type Spec = readonly [category: Category, text: string, overrides?: Overrides]

/** A table's own entry (never one of `Object.prototype`'s: codes come from the wild). */
const own = (table: { readonly [key: string]: Spec }, key: string): Spec | undefined =>
  Object.hasOwn(table, key) ? table[key] : undefined

const build = (category: Category, code: string, message: string, overrides: Overrides | undefined): Verdict =>
  verdict(category, code, message, overrides)

const NOT_RETRYABLE: Overrides = { retryable: false }
const NOT_COUNTED: Overrides = { countsForBreaker: false }
const LOCAL_RESOURCE: Overrides = { countsForBreaker: false }
const LOCAL_RESOURCE_FINAL: Overrides = { countsForBreaker: false, retryable: false }
/** The caller's own mistake (a programming defect): never retried, never the dependency's fault. */
const NOT_COUNTED_FINAL: Overrides = { retryable: false, countsForBreaker: false }

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
  // NXDOMAIN: the name does not exist (a wrong host name); EAI_AGAIN is the transient failure.
  ENOTFOUND: ["configuration", "Host name not found"],
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
  ENOTDIR: ["configuration", "Not a directory"],
  EISDIR: ["configuration", "Is a directory"],
  EEXIST: ["data-integrity", "File already exists"],
  ENOTEMPTY: ["data-integrity", "Directory not empty"],
  EROFS: ["configuration", "Read-only file system"],
  EBADF: ["unknown", "Bad file descriptor", LOCAL_RESOURCE_FINAL],
  ELOOP: ["configuration", "Too many symbolic links"],
  ENAMETOOLONG: ["validation", "File name too long"],
  EXDEV: ["configuration", "Cross-device link"],
  ENOTSUP: ["configuration", "Operation not supported"],
  EINVAL: ["unknown", "Invalid argument", LOCAL_RESOURCE_FINAL],
  ESRCH: ["system", "No such process", NOT_COUNTED],
  ECHILD: ["system", "No child process", NOT_COUNTED],
  // dns.Resolver (c-ares) codes
  ENODATA: ["configuration", "No DNS records of the requested type", NOT_COUNTED],
  ESERVFAIL: ["network", "DNS server failure"],
  EREFUSED: ["network", "DNS query refused"],
  ETIMEOUT: ["timeout", "DNS query timed out"],
  EBADNAME: ["validation", "Invalid host name"],
  ENONAME: ["configuration", "Host name not found"],
  EFORMERR: ["network", "DNS query malformed", NOT_RETRYABLE],
  EAI_NONAME: ["configuration", "Host name not found"],
  EAI_NODATA: ["network", "No address for host name"],
  ERR_SOCKET_CLOSED: ["network", "Socket closed"],
  ERR_SOCKET_CLOSED_BEFORE_CONNECTION: ["network", "Socket closed before the connection was established"],
  ERR_STREAM_DESTROYED: ["network", "Stream destroyed"],
  ERR_HTTP2_SESSION_ERROR: ["network", "HTTP/2 session error"],
  ERR_HTTP2_GOAWAY_SESSION: ["network", "HTTP/2 session closed by the peer"],
  ERR_HTTP2_STREAM_CANCEL: ["network", "HTTP/2 stream cancelled"],
  ERR_BUFFER_TOO_LARGE: ["validation", "Decompressed data too large"],
  ERR_CHILD_PROCESS_STDIO_MAXBUFFER: ["resource", "Child process output too large", LOCAL_RESOURCE_FINAL],
  ERR_TLS_HANDSHAKE_TIMEOUT: ["timeout", "TLS handshake timed out"],
  ERR_TLS_CERT_ALTNAME_INVALID: ["configuration", "TLS certificate does not match the host name"],
  ERR_SOCKET_CONNECTION_TIMEOUT: ["timeout", "Socket connection timed out"],
  ERR_STREAM_PREMATURE_CLOSE: ["network", "Stream closed prematurely"],
  ERR_HTTP2_STREAM_ERROR: ["network", "HTTP/2 stream error"],
  CERT_HAS_EXPIRED: ["configuration", "TLS certificate has expired"],
  CERT_NOT_YET_VALID: ["configuration", "TLS certificate is not yet valid"],
  CERT_UNTRUSTED: ["configuration", "TLS certificate not trusted"],
  DEPTH_ZERO_SELF_SIGNED_CERT: ["configuration", "Self-signed TLS certificate"],
  SELF_SIGNED_CERT_IN_CHAIN: ["configuration", "Self-signed TLS certificate in chain"],
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: ["configuration", "TLS certificate could not be verified"],
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: ["configuration", "TLS certificate issuer unknown"]
}

/**
 * Families of codes known by their prefix: OpenSSL's (`ERR_SSL_WRONG_VERSION_NUMBER`: the peer does
 * not speak TLS, or not this version), Node's TLS checks, llhttp's parse errors (`HPE_*`: the peer
 * sent something that is not HTTP) and zlib's (`Z_DATA_ERROR`: the data is not what it claims).
 */
const nodeFamilies: ReadonlyArray<readonly [prefix: string, spec: Spec]> = [
  ["ERR_SSL_", ["configuration", "TLS handshake failed"]],
  ["ERR_TLS_", ["configuration", "TLS error"]],
  ["ERR_OSSL_", ["configuration", "TLS / crypto error"]],
  ["HPE_", ["network", "Invalid HTTP response", NOT_RETRYABLE]],
  ["Z_", ["validation", "Invalid compressed data"]],
  // brotli's decoder errors (`ERR__ERROR_FORMAT_PADDING_1`, ...)
  ["ERR__ERROR_", ["validation", "Invalid compressed data"]]
]

const nodeSpec = (code: string): Spec | undefined => {
  const spec = own(nodeSpecs, code)
  if (spec !== undefined) return spec
  for (const [prefix, familySpec] of nodeFamilies) if (code.startsWith(prefix)) return familySpec
  return undefined
}

/** Whether `code` is a Node error code the default classifier knows. */
export const isKnownNodeCode = (code: string): boolean => nodeSpec(code) !== undefined

/** The user-safe text of a Node error code. */
export const nodeText = (code: string): string => nodeSpec(code)?.[1] ?? "System error"

const makeNode = (code: string): Verdict => {
  const spec = nodeSpec(code)
  return spec === undefined
    ? build("system", `node.${code}`, `System error (${code})`, undefined)
    : build(spec[0], `node.${code}`, `${spec[1]} (${code})`, spec[2])
}

const nodeTable: ReadonlyMap<string, Verdict> = new Map(Object.keys(nodeSpecs).map((code) => [code, makeNode(code)]))

/** An address this host does not have, given to `listen` / `bind`: a wrong configuration (on `connect` it is the local ports running out). */
const addressNotAvailableToListen = build(
  "configuration",
  "node.EADDRNOTAVAIL",
  "Address not available on this host (EADDRNOTAVAIL)",
  undefined
)

/** The classification of a Node error code (and, for the few codes whose meaning depends on it, its syscall). */
export const node = (code: string, syscall?: string): Verdict => {
  if (code === "EADDRNOTAVAIL" && (syscall === "listen" || syscall === "bind")) return addressNotAvailableToListen
  return nodeTable.get(code) ?? makeNode(code)
}

// ---------------------------------------------------------------------------------------------
// fetch / undici
// ---------------------------------------------------------------------------------------------

const undiciSpecs: { readonly [code: string]: Spec } = {
  UND_ERR_CONNECT_TIMEOUT: ["timeout", "Connect timeout"],
  UND_ERR_HEADERS_TIMEOUT: ["timeout", "Timed out waiting for response headers"],
  UND_ERR_BODY_TIMEOUT: ["timeout", "Timed out reading the response body"],
  UND_ERR_SOCKET: ["network", "Socket error"],
  // A request on a client the caller closed or destroyed: the caller's own mistake.
  UND_ERR_CLOSED: ["unknown", "HTTP client closed", NOT_COUNTED_FINAL],
  UND_ERR_DESTROYED: ["unknown", "HTTP client destroyed", NOT_COUNTED_FINAL],
  UND_ERR_ABORTED: ["client", "Request aborted", NOT_COUNTED],
  UND_ERR_ABORT: ["client", "Request aborted", NOT_COUNTED],
  UND_ERR_INFO: ["network", "Unexpected informational response", NOT_RETRYABLE],
  UND_ERR_RESPONSE: ["server", "Unexpected response"],
  UND_ERR_PRX_TLS: ["configuration", "TLS to the proxy failed"],
  UND_ERR_MAX_ORIGINS_REACHED: ["resource", "Too many origins", LOCAL_RESOURCE_FINAL],
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
export const undiciText = (code: string): string => own(undiciSpecs, code)?.[1] ?? "HTTP client error"

const makeUndici = (code: string): Verdict => {
  const spec = own(undiciSpecs, code)
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

/** gRPC status names, indexed by code (public as `Failures.grpcStatusNames`). */
export const grpcNames = [
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
] as const

const grpcSpecs: ReadonlyArray<Spec> = [
  ["unknown", "OK status reported as a failure", NOT_RETRYABLE],
  ["client", "Cancelled", { retryable: false, countsForBreaker: false }],
  // UNKNOWN and INTERNAL are retried, as the worker seed's gRPC policy lists them.
  ["server", "Unknown error"],
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
  ["server", "Internal error"],
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

/** What a gRPC status's `details` may say that changes its meaning. */
export type GrpcReason = "message-too-large"

/**
 * RESOURCE_EXHAUSTED raised by grpc-js itself because a message is over the channel's
 * `max(Receive|Send)MessageLength`: the call will fail the same way again, and the server is not
 * overloaded.
 */
export const grpcMessageTooLarge: Verdict = build(
  "client",
  "grpc.RESOURCE_EXHAUSTED.message-too-large",
  "Message larger than the configured maximum (gRPC RESOURCE_EXHAUSTED)",
  undefined
)

/** The classification of a gRPC status code with what its details said. */
export const grpcWith = (code: number, reason: GrpcReason | undefined): Verdict =>
  reason === "message-too-large" && code === 8 ? grpcMessageTooLarge : grpc(code)

/**
 * A status whose server sent a negative or malformed `grpc-retry-pushback-ms`: gRFC A6 reads it as
 * "do not retry". Same category, severity and breaker evidence as the status; never retryable; its
 * own code (`grpc.UNAVAILABLE.pushback-refused`) so that logs and metrics tell it apart.
 */
const makeGrpcRefused = (base: Verdict): Verdict =>
  build(base.category, `${base.code}.pushback-refused`, `${base.message}: the server asked not to be retried`, {
    severity: base.severity,
    retryable: false,
    countsForBreaker: base.countsForBreaker
  })

const grpcRefusedTable: ReadonlyArray<Verdict> = grpcTable.map(makeGrpcRefused)
const grpcMessageTooLargeRefused: Verdict = makeGrpcRefused(grpcMessageTooLarge)

/** The classification of a gRPC status whose server refused to be retried (a negative pushback). */
export const grpcRefused = (code: number, reason: GrpcReason | undefined): Verdict =>
  reason === "message-too-large" && code === 8
    ? grpcMessageTooLargeRefused
    : (grpcRefusedTable[code] ?? makeGrpcRefused(grpc(code)))

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
  // pg reports more bind values than the statement has parameters as a protocol violation.
  "08P01": ["client", "Protocol violation"],
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
  // A statement that does not parse is the code's mistake; a missing table or column is the
  // database's configuration (a migration not run).
  "42601": ["client", "Syntax error"],
  "42P02": ["client", "Undefined parameter"],
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

/**
 * pg's and pg-pool's own failures, which carry no SQLSTATE: their fixed message names them. The
 * codes are ours (no SQLSTATE has an underscore).
 */
const pgClientSpecs: { readonly [code: string]: Spec } = {
  CONNECTION_TERMINATED: ["network", "Connection terminated unexpectedly"],
  CONNECTION_ERROR: ["network", "Connection lost; the client is not queryable"],
  CONNECT_TIMEOUT: ["timeout", "Connection timed out"],
  QUERY_READ_TIMEOUT: ["timeout", "Query read timeout"],
  POOL_TIMEOUT: ["timeout", "Timed out waiting for a pooled connection"],
  CONNECTION_ENDED: ["client", "Connection ended by the client"],
  CLIENT_CLOSED: ["unknown", "Client closed; not queryable", NOT_COUNTED_FINAL],
  POOL_ENDED: ["client", "Pool ended"],
  CLIENT_REUSED: ["unknown", "Client already connected", NOT_COUNTED_FINAL],
  SSL_NOT_SUPPORTED: ["configuration", "The server does not support SSL"],
  SSL_FAILED: ["configuration", "SSL connection failed"]
}

const pgMessages: ReadonlyMap<string, string> = new Map([
  ["Connection terminated unexpectedly", "CONNECTION_TERMINATED"],
  ["Client has encountered a connection error and is not queryable", "CONNECTION_ERROR"],
  ["timeout expired", "CONNECT_TIMEOUT"],
  ["Connection terminated due to connection timeout", "CONNECT_TIMEOUT"],
  ["Query read timeout", "QUERY_READ_TIMEOUT"],
  ["timeout exceeded when trying to connect", "POOL_TIMEOUT"],
  ["Connection terminated", "CONNECTION_ENDED"],
  ["Client was closed and is not queryable", "CLIENT_CLOSED"],
  ["Cannot use a pool after calling end on the pool", "POOL_ENDED"],
  ["Client has already been connected. You cannot reuse a client.", "CLIENT_REUSED"],
  ["The server does not support SSL connections", "SSL_NOT_SUPPORTED"],
  ["There was an error establishing an SSL connection", "SSL_FAILED"]
])

/** The code of one of pg's code-less errors, by its exact message. */
export const pgMessageCode = (message: string | undefined): string | undefined =>
  message === undefined ? undefined : pgMessages.get(message)

const pgSpec = (code: string): Spec | undefined =>
  own(pgCodeSpecs, code) ?? own(pgClientSpecs, code) ?? own(pgClassSpecs, code.slice(0, 2))

/** Whether a pg code is a SQLSTATE (and not one of pg's own code-less errors). */
export const isSqlState = (code: string): boolean => !Object.hasOwn(pgClientSpecs, code)

/** Whether a 5-character code is a SQLSTATE of a class PostgreSQL uses. */
export const isPgSqlState = (code: string): boolean =>
  code.length === 5 && /^[0-9A-Z]{5}$/.test(code) && Object.hasOwn(pgClassSpecs, code.slice(0, 2))

/** The user-safe text of a SQLSTATE. */
export const pgText = (sqlstate: string): string => pgSpec(sqlstate)?.[1] ?? "Database error"

/** `(SQLSTATE 23505)`, or `(pg CONNECTION_TERMINATED)` for pg's own errors. */
export const pgSuffix = (code: string): string => (isSqlState(code) ? `(SQLSTATE ${code})` : `(pg ${code})`)

const makePg = (code: string): Verdict => {
  const spec = pgSpec(code)
  return spec === undefined
    ? build("unknown", `pg.${code}`, `Database error ${pgSuffix(code)}`, undefined)
    : build(spec[0], `pg.${code}`, `${spec[1]} ${pgSuffix(code)}`, spec[2])
}

const pgTable: ReadonlyMap<string, Verdict> = new Map(
  [...Object.keys(pgCodeSpecs), ...Object.keys(pgClientSpecs)].map((code) => [code, makePg(code)])
)

/** The classification of a SQLSTATE, or of one of pg's code-less errors. */
export const pg = (code: string): Verdict => pgTable.get(code) ?? makePg(code)

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
  BUSYGROUP: ["data-integrity", "Redis consumer group already exists"],
  NOGROUP: ["client", "No such Redis consumer group"],
  NOPROTO: ["configuration", "Redis protocol version not supported"],
  // ioredis' own failures, which carry no prefix: their fixed message names them.
  CONNECTION_CLOSED: ["network", "Redis connection closed"],
  COMMAND_TIMEOUT: ["timeout", "Redis command timed out"],
  SOCKET_TIMEOUT: ["timeout", "Redis socket timed out"],
  OFFLINE: ["unavailable", "Redis connection not ready (offline queue disabled)"],
  NO_NODES: ["unavailable", "No Redis cluster node available"],
  CONNECTION_ENDED: ["client", "Redis connection ended by the client"],
  CLIENT_MISUSE: ["unknown", "Redis client misused", NOT_COUNTED_FINAL],
  CROSSSLOT: ["configuration", "Redis keys hash to different slots"],
  WRONGTYPE: ["client", "Wrong Redis value type"],
  NOSCRIPT: ["client", "Redis script not loaded"],
  EXECABORT: ["client", "Redis transaction aborted"],
  NOTBUSY: ["client", "No Redis script running"],
  UNBLOCKED: ["client", "Redis client unblocked"],
  ERR: ["client", "Redis command error"]
}

const redisMessages: ReadonlyMap<string, string> = new Map([
  ["Connection is closed.", "CONNECTION_CLOSED"],
  ["Command aborted due to connection close", "CONNECTION_CLOSED"],
  ["Connection is aborted", "CONNECTION_CLOSED"],
  ["Connection is discarded because a new connection is made", "CONNECTION_CLOSED"],
  ["Command timed out", "COMMAND_TIMEOUT"],
  ["Stream isn't writeable and enableOfflineQueue options is false", "OFFLINE"],
  ["Cluster isn't ready and enableOfflineQueue options is false", "OFFLINE"],
  ["None of startup nodes is available", "NO_NODES"],
  ["Cluster is disconnected.", "NO_NODES"],
  ["Cluster is ended.", "CONNECTION_ENDED"],
  ["Connection in subscriber mode, only subscriber commands may be used", "CLIENT_MISUSE"],
  ["Connection is in monitoring mode, can't process commands.", "CLIENT_MISUSE"],
  ["Redis is already connecting/connected", "CLIENT_MISUSE"]
])

/** The code of one of ioredis' code-less errors, by its message (exact, or one anchored prefix). */
export const redisMessageCode = (message: string | undefined): string | undefined => {
  if (message === undefined) return undefined
  const exact = redisMessages.get(message)
  if (exact !== undefined) return exact
  return message.startsWith("Socket timeout. Expecting data, but didn't receive any in ") ? "SOCKET_TIMEOUT" : undefined
}

/** The user-safe text of a Redis error prefix. */
export const redisText = (prefix: string): string => own(redisSpecs, prefix)?.[1] ?? "Redis error"

const makeRedis = (prefix: string): Verdict => {
  const spec = own(redisSpecs, prefix)
  return spec === undefined
    ? build("unknown", `redis.${prefix}`, `Redis error (${prefix})`, undefined)
    : build(spec[0], `redis.${prefix}`, `${spec[1]} (${prefix})`, spec[2])
}

const redisTable: ReadonlyMap<string, Verdict> = new Map(Object.keys(redisSpecs).map((code) => [code, makeRedis(code)]))

/** The classification of a Redis error prefix. */
export const redis = (prefix: string): Verdict => redisTable.get(prefix) ?? makeRedis(prefix)

// ---------------------------------------------------------------------------------------------
// SQLite (better-sqlite3's SqliteError: `code` is the extended result code's name)
// ---------------------------------------------------------------------------------------------

/** What an `SQLITE_ERROR`'s message says: a statement that does not parse, or a missing / clashing schema object. */
export type SqliteReason = "syntax" | "schema"

/** By primary result code (`SQLITE_CONSTRAINT_UNIQUE` is looked up as `CONSTRAINT`). */
const sqliteSpecs: { readonly [primary: string]: Spec } = {
  BUSY: ["concurrency", "Database is busy"],
  LOCKED: ["concurrency", "Database table is locked"],
  CONSTRAINT: ["data-integrity", "Constraint violation"],
  CANTOPEN: ["configuration", "Unable to open the database file"],
  READONLY: ["configuration", "Database is read-only"],
  FULL: ["resource", "Database or disk is full", LOCAL_RESOURCE_FINAL],
  IOERR: ["system", "Disk I/O error"],
  // A corrupt database is the dependency's fault (counted); a file that is no database is a wrong path.
  CORRUPT: ["data-integrity", "Database disk image is malformed", { severity: "critical", countsForBreaker: true }],
  NOTADB: ["data-integrity", "File is not a database", { severity: "critical" }],
  NOMEM: ["resource", "Out of memory", LOCAL_RESOURCE_FINAL],
  PERM: ["authorization", "Access permission denied"],
  AUTH: ["authorization", "Authorization denied"],
  INTERRUPT: ["client", "Operation interrupted"],
  ABORT: ["client", "Operation aborted"],
  SCHEMA: ["concurrency", "Database schema changed"],
  TOOBIG: ["validation", "String or blob too big"],
  MISMATCH: ["validation", "Data type mismatch"],
  RANGE: ["validation", "Parameter index out of range"],
  MISUSE: ["unknown", "Library used incorrectly", NOT_COUNTED_FINAL],
  PROTOCOL: ["concurrency", "Locking protocol error"],
  NOLFS: ["configuration", "Large files not supported"],
  FORMAT: ["data-integrity", "Database format error"],
  NOTFOUND: ["client", "Not found"],
  EMPTY: ["client", "Database is empty"],
  INTERNAL: ["server", "Internal SQLite error", NOT_RETRYABLE],
  ERROR: ["client", "SQL error"]
}

const sqliteReasonSpecs: { readonly [R in SqliteReason]: Spec } = {
  syntax: ["client", "SQL syntax error"],
  schema: ["configuration", "Missing or conflicting schema object"]
}

const sqlitePrimary = (code: string): string => {
  const rest = code.slice("SQLITE_".length)
  const underscore = rest.indexOf("_")
  return underscore === -1 ? rest : rest.slice(0, underscore)
}

const sqliteSpec = (code: string, reason: SqliteReason | undefined): Spec | undefined =>
  reason === undefined ? own(sqliteSpecs, sqlitePrimary(code)) : sqliteReasonSpecs[reason]

/** The user-safe text of a SQLite result code. */
export const sqliteText = (code: string, reason?: SqliteReason): string =>
  sqliteSpec(code, reason)?.[1] ?? "SQLite error"

const makeSqlite = (code: string, reason: SqliteReason | undefined): Verdict => {
  const spec = sqliteSpec(code, reason)
  const suffix = reason === undefined ? `(${code})` : `(${code}, ${reason})`
  return spec === undefined
    ? build("unknown", `sqlite.${code}`, `SQLite error ${suffix}`, undefined)
    : build(
        spec[0],
        reason === undefined ? `sqlite.${code}` : `sqlite.${code}.${reason}`,
        `${spec[1]} ${suffix}`,
        spec[2]
      )
}

/** The primary codes and the extended codes met most, built once. */
const sqliteTable: ReadonlyMap<string, Verdict> = new Map(
  [
    ...Object.keys(sqliteSpecs).map((primary) => `SQLITE_${primary}`),
    "SQLITE_CONSTRAINT_UNIQUE",
    "SQLITE_CONSTRAINT_PRIMARYKEY",
    "SQLITE_CONSTRAINT_NOTNULL",
    "SQLITE_CONSTRAINT_CHECK",
    "SQLITE_CONSTRAINT_FOREIGNKEY",
    "SQLITE_BUSY_SNAPSHOT",
    "SQLITE_BUSY_TIMEOUT",
    "SQLITE_BUSY_RECOVERY",
    "SQLITE_READONLY_DBMOVED"
  ].map((code) => [code, makeSqlite(code, undefined)])
)
const sqliteSyntax = makeSqlite("SQLITE_ERROR", "syntax")
const sqliteSchema = makeSqlite("SQLITE_ERROR", "schema")

/** The classification of a SQLite result code (and, for `SQLITE_ERROR`, what its message said). */
export const sqlite = (code: string, reason: SqliteReason | undefined): Verdict => {
  if (reason !== undefined && code === "SQLITE_ERROR") return reason === "syntax" ? sqliteSyntax : sqliteSchema
  return sqliteTable.get(code) ?? makeSqlite(code, reason)
}

// ---------------------------------------------------------------------------------------------
// Programming defects
// ---------------------------------------------------------------------------------------------

const DEFECT_NAMES: ReadonlySet<string> = new Set([
  "TypeError",
  "ReferenceError",
  "RangeError",
  "SyntaxError",
  "EvalError",
  "URIError",
  "AssertionError"
])

/** Node's codes for a call made wrongly: an argument of the wrong type or value, a missing one, ... */
const DEFECT_CODE =
  /^ERR_(?:INVALID_|MISSING_|OUT_OF_RANGE$|UNKNOWN_ENCODING$|UNKNOWN_SIGNAL$|METHOD_NOT_IMPLEMENTED$|HTTP_HEADERS_SENT$|STREAM_WRITE_AFTER_END$|STREAM_PUSH_AFTER_EOF$|STREAM_ALREADY_FINISHED$|ILLEGAL_CONSTRUCTOR$|BUFFER_OUT_OF_BOUNDS$|UNHANDLED_ERROR$|INCOMPATIBLE_OPTION_PAIR$|ASSERTION$|SOCKET_BAD_PORT$)/

/** Whether a Node `ERR_*` code says the call itself was wrong. */
export const isDefectCode = (code: string): boolean => DEFECT_CODE.test(code)

/** JSON.parse's SyntaxError is about the data, not the code: its message names JSON. */
const JSON_MESSAGE = /\bJSON\b/

/** Whether a `SyntaxError` comes from `JSON.parse` (bad data, not a defect). */
export const isJsonSyntaxError = (name: string, message: string | undefined): boolean =>
  name === "SyntaxError" && message !== undefined && JSON_MESSAGE.test(message)

/** Whether an error's class says the code is wrong (`TypeError: x is not a function`, ...). */
export const isDefectName = (name: string): boolean => DEFECT_NAMES.has(name)

const makeDefect = (key: string): Verdict =>
  build("unknown", `defect.${key}`, `Programming error (${key})`, NOT_COUNTED_FINAL)

const defectTable: ReadonlyMap<string, Verdict> = new Map([...DEFECT_NAMES].map((name) => [name, makeDefect(name)]))

/**
 * A programming defect: `unknown`, not retryable (it fails the same way again), not counted by a
 * breaker (the dependency is not at fault). Keyed by the Node code when there is one.
 */
export const defect = (name: string, code: string | undefined): Verdict =>
  code === undefined ? (defectTable.get(name) ?? makeDefect(name)) : makeDefect(code)

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

// ---------------------------------------------------------------------------------------------
// Data that does not decode
// ---------------------------------------------------------------------------------------------

/** The formats whose decoding failures are recognised. */
export type DecodeFormat = "json"

/** Data that does not decode (`JSON.parse` of HTML, an empty body): not retried, not counted. */
export const decodeJson: Verdict = build("validation", "decode.json", "Malformed JSON", undefined)

/** The classification of a decoding failure. */
export const decode = (_format: DecodeFormat): Verdict => decodeJson

/** The user-safe text of a decoding failure. */
export const decodeText = (_format: DecodeFormat): string => "Malformed JSON"

/** better-sqlite3's own errors that carry no code: their fixed message names them. */
const sqliteMessages: ReadonlyMap<string, string> = new Map([
  ["Cannot open database because the directory does not exist", "SQLITE_CANTOPEN"]
])

/** The SQLite code of one of better-sqlite3's code-less errors, by its exact message. */
export const sqliteMessageCode = (message: string | undefined): string | undefined =>
  message === undefined ? undefined : sqliteMessages.get(message)
