/**
 * The decision core of the attempt timeout: which timer an attempt runs under. Plain TypeScript
 * that imports nothing from `effect`; times are numbers of milliseconds.
 *
 * An attempt is bounded by its own timeout and by the call's deadline, whichever comes first; when
 * the deadline comes first (or at the same time), the attempt fails as the deadline's
 * (`DeadlineExceeded`), not as its own timeout's.
 *
 * @internal
 */

/** The timer of one attempt: how long, and whose it is. */
export interface Timer {
  readonly millis: number
  readonly kind: "attempt" | "deadline"
}

/**
 * The timer for an attempt that starts at `nowMillis`, given the call's deadline (epoch ms,
 * undefined when there is none) and the attempt timeout (undefined or not finite: none).
 * Undefined when neither bounds the attempt.
 */
export const timerFor = (
  nowMillis: number,
  deadlineMillis: number | undefined,
  timeoutMillis: number | undefined
): Timer | undefined => {
  const timeout = timeoutMillis !== undefined && Number.isFinite(timeoutMillis) ? Math.max(0, timeoutMillis) : undefined
  if (deadlineMillis !== undefined) {
    const left = Math.max(0, deadlineMillis - nowMillis)
    if (timeout === undefined || left <= timeout) return { millis: left, kind: "deadline" }
  }
  return timeout === undefined ? undefined : { millis: timeout, kind: "attempt" }
}
