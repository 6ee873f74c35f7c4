import { DeadLetterStoreError } from "@effect-resilience/durable/DeadLetterQueue"

const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/** The driver's error code (PostgreSQL SQLSTATE, SQLite `SQLITE_*`, Node `E*`), looked up through causes. */
export const codeOf = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && isRecord(current); depth++) {
    if (typeof current.code === "string") return current.code
    if (Array.isArray(current.errors)) {
      const inner = current.errors.find((e) => isRecord(e) && typeof e.code === "string")
      if (isRecord(inner) && typeof inner.code === "string") return inner.code
    }
    current = current.cause
  }
  return undefined
}

const connectionMessages: Record<string, string> = {
  ECONNREFUSED: "the server refused the connection (is PostgreSQL running and listening there?)",
  ENOTFOUND: "the host name does not resolve",
  EAI_AGAIN: "the host name does not resolve",
  ETIMEDOUT: "the connection timed out",
  ECONNRESET: "the connection was reset",
  EHOSTUNREACH: "the host is unreachable",
  "28P01": "the password was rejected",
  "28000": "the login was rejected (check the user name and pg_hba.conf)",
  "3D000": "the database does not exist",
  "53300": "the server has too many connections"
}

/** A PostgreSQL connection failure, said without the URL (which may carry a password). */
export const pgUnavailable = (error: unknown): Unavailable => {
  const code = codeOf(error)
  const known = code === undefined ? undefined : connectionMessages[code]
  const timedOut = isRecord(error) && typeof error.message === "string" && /timed out/i.test(error.message)
  const reason = known ?? (timedOut ? "the connection timed out" : `connecting failed${code ? ` (${code})` : ""}`)
  return { reason: "unavailable", message: `Cannot reach PostgreSQL: ${reason}.`, cause: error }
}

/** Why a database could not be opened: each store reports it as its own error. */
export interface Unavailable {
  readonly reason: "unavailable" | "foreign"
  readonly message: string
  readonly cause?: unknown
}

/**
 * PostgreSQL's `text` cannot hold a NUL character (U+0000): a statement binding one fails with
 * SQLSTATE 22021. JSON columns are safe (JSON writes it as `\u0000`); keys, owners, batch ids and
 * queue names, stored as they are, are checked before the statement so that the error can say
 * which value it was.
 */
export const hasNul = (text: string): boolean => text.includes("\u0000")

/** The index of the first text in `texts` holding a NUL character, or -1. */
export const firstWithNul = (texts: ReadonlyArray<string>): number => {
  for (let i = 0; i < texts.length; i++) if (hasNul(texts[i]!)) return i
  return -1
}

/** What SQLSTATE 22021 means here, for a NUL the checks before a statement did not see. */
const nulRefused = "a text value holds a NUL character (U+0000), which PostgreSQL cannot store"

/** A failed statement, with the driver's code but no SQL text, host or value. */
export const statementFailed = (operation: string) => (error: unknown) => {
  const code = codeOf(error)
  if (code === "22021") {
    return new DeadLetterStoreError({
      reason: "failed",
      message: `The dead letter store could not ${operation}: ${nulRefused} (22021); nothing was written.`,
      cause: error
    })
  }
  if (code === "SQLITE_CORRUPT" || code === "SQLITE_NOTADB") {
    return new DeadLetterStoreError({
      reason: "corrupt",
      message: `The dead letter database is corrupt or not a SQLite database (${code}) while trying to ${operation}.`,
      cause: error
    })
  }
  if (code !== undefined && (code in connectionMessages || code.startsWith("08") || code === "57P01")) {
    return new DeadLetterStoreError({
      reason: "unavailable",
      message: `Lost the dead letter database while trying to ${operation}: ${connectionMessages[code] ?? code}.`,
      cause: error
    })
  }
  return new DeadLetterStoreError({
    reason: "failed",
    message: `The dead letter store could not ${operation}${code === undefined ? "" : ` (${code})`}.`,
    cause: error
  })
}

/**
 * A message for a failed checkpoint or idempotency store operation: what we tried and the
 * driver's code, nothing else (no SQL, host or value).
 */
export const failedMessage = (store: string, operation: string, error: unknown): string => {
  const code = codeOf(error)
  if (code === "22021") return `The ${store} could not ${operation}: ${nulRefused} (22021)`
  return `The ${store} could not ${operation}${code === undefined ? "" : ` (${code})`}`
}
