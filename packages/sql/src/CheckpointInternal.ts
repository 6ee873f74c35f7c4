/**
 * Helpers shared by the SQL checkpoint and idempotency stores. Not part of the public API (not
 * exported from the package index).
 *
 * @internal
 */
const isRecord = (u: unknown): u is Record<string, unknown> => typeof u === "object" && u !== null

/**
 * The driver's error code (PostgreSQL SQLSTATE, SQLite `SQLITE_*`, Node `E*`), looked up through
 * causes, for messages that name the problem without the SQL, host or values.
 *
 * @internal
 */
export const codeOf = (error: unknown): string | undefined => {
  let current: unknown = error
  for (let depth = 0; depth < 5 && isRecord(current); depth++) {
    if (typeof current.code === "string") return current.code
    current = current.cause
  }
  return undefined
}

/**
 * A message for a failed store operation: what we tried and the driver's code, nothing else.
 *
 * @internal
 */
export const failedMessage = (store: string, operation: string, error: unknown): string => {
  const code = codeOf(error)
  return `The ${store} could not ${operation}${code === undefined ? "" : ` (${code})`}`
}
