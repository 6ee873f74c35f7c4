/**
 * The decision core of backoff: delay arithmetic in milliseconds. Plain TypeScript that imports
 * nothing from `effect`; randomness is passed in as a number in [0, 1), so the Effect schedules
 * (which draw it from Effect's `Random`) and the Promise facade compute the same delays.
 *
 * @internal
 */

/**
 * How delays are randomised: `none`, `full` (uniform in [0, d]), `equal` (uniform in [d/2, d]),
 * `{ proportional: x }` (uniform in [d(1-x), d(1+x)], never below 0).
 */
export type Jitter = "none" | "full" | "equal" | { readonly proportional: number }

/** The `n`th delay (from 0) of an exponential backoff: `base * factor^n`. */
export const exponentialDelay = (baseMillis: number, factor: number, n: number): number => baseMillis * factor ** n

/** The `n`th delay (from 0) of a linear backoff: `base * (n + 1)`. */
export const linearDelay = (baseMillis: number, n: number): number => baseMillis * (n + 1)

/** Fibonacci backoff state: the next two delays. */
export type FibonacciState = readonly [current: number, next: number]

/** The first Fibonacci state: `one`, `one`, then the sum of the two before. */
export const fibonacciStart = (oneMillis: number): FibonacciState => [oneMillis, oneMillis]

/** One Fibonacci step: the delay now and the state after it. */
export const fibonacciStep = (state: FibonacciState): readonly [delay: number, next: FibonacciState] => [
  state[0],
  [state[1], state[0] + state[1]]
]

/**
 * Decorrelated jitter (Brooker, 2015): `min(cap, base + r * (3 * previous - base))`; the first
 * `previous` is `base`. Returns the delay, which is also the next `previous`.
 */
export const decorrelatedDelay = (baseMillis: number, capMillis: number, previousMillis: number, r: number): number =>
  Math.min(capMillis, baseMillis + r * (previousMillis * 3 - baseMillis))

/** A delay never longer than `capMillis`. */
export const capDelay = (millis: number, capMillis: number): number => Math.min(millis, capMillis)

/** Applies a jitter mode to a delay given a uniform random number `r` in [0, 1). */
export const applyJitter = (mode: Jitter, millis: number, r: number): number => {
  if (!Number.isFinite(millis)) return millis
  if (mode === "none") return millis
  if (mode === "full") return r * millis
  if (mode === "equal") return millis / 2 + (r * millis) / 2
  const x = mode.proportional
  return Math.max(0, millis * (1 + x * (2 * r - 1)))
}

/**
 * The delay once a Retry-After is honoured: `max(backoff, min(retryAfter, backoff + extra))`, never
 * shorter than Retry-After unless that means waiting more than `extra` beyond the backoff.
 */
export const retryAfterDelay = (backoffMillis: number, retryAfterMillis: number, extraMillis: number): number =>
  Math.max(backoffMillis, Math.min(retryAfterMillis, backoffMillis + extraMillis))

/** Whether a schedule that started at `startMillis` should stop before a step at `nextMillis`. */
export const exceedsElapsed = (startMillis: number, nextMillis: number, maxElapsedMillis: number): boolean =>
  nextMillis - startMillis > maxElapsedMillis

/** Whether a step at `nextMillis` would start at or after the deadline (none: never). */
export const pastDeadline = (nextMillis: number, deadlineMillis: number | undefined): boolean =>
  deadlineMillis !== undefined && nextMillis >= deadlineMillis
