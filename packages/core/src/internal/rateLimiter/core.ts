/**
 * The rate limiter's decision core: keyed token buckets (continuous refill at `limit / window`,
 * bursts up to `limit`) or fixed windows (aligned to multiples of the window). A call that finds
 * no token is refused, or, when the wait is within `maxDelayMillis`, reserves its tokens and
 * waits (a `Wait` on the caller's timers; cancelling it gives the tokens back).
 *
 * Plain TypeScript: imports nothing from `effect`.
 *
 * @internal
 */
import { admittedFree, type Decision, type Rejected, type Wait } from "../strategy/core.js"

/** @internal */
export interface Options {
  readonly algorithm: "token-bucket" | "fixed-window"
  readonly limit: number
  readonly windowMillis: number
  /** The longest wait a call may reserve (0: refuse at once). */
  readonly maxDelayMillis: number
  /** Above it, idle keys are swept when a new key arrives. */
  readonly maxKeys: number
}

interface KeyState {
  /** token bucket: tokens left (negative = reserved by waiting callers); fixed window: tokens used */
  amount: number
  /** token bucket: time of the last refill; fixed window: start of the current window */
  at: number
}

/** What the last `tryConsume` saw (read right after it, in the same synchronous step). @internal */
export interface Last {
  remaining: number
  resetAfterMillis: number
}

/** @internal */
export interface Core {
  /**
   * Takes `tokens` for `key` at `nowMillis`: `0` when allowed now, a positive number of
   * milliseconds to wait when allowed later (the tokens are reserved), or `-retryAfterMillis`
   * when refused (nothing is taken).
   */
  readonly tryConsume: (key: string, tokens: number, nowMillis: number) => number
  /** Gives back tokens taken for `key`. */
  readonly refund: (key: string, tokens: number, nowMillis: number) => void
  /** Decides for `tokens` of `key`: allowed, a wait for reserved tokens, or `exceeded`. */
  readonly admit: (key: string, tokens: number, nowMillis: number) => Decision
  /** Details of the last `tryConsume`. */
  readonly last: Readonly<Last>
  /** Keys held. */
  readonly keys: () => number
  /** Forgets every key. */
  readonly clear: () => void
}

/** A refusal: try again after `retryAfterMillis`. @internal */
export const exceeded = (retryAfterMillis: number): Rejected => ({
  _tag: "Rejected",
  reason: "exceeded",
  retryAfterMillis
})

const noop = (): void => {}

/** @internal */
export const make = (options: Options): Core => {
  const { limit, windowMillis, maxDelayMillis: maxDelay, maxKeys } = options
  const isBucket = options.algorithm === "token-bucket"
  const states = new Map<string, KeyState>()
  let sweepAbove = maxKeys
  const last: Last = { remaining: 0, resetAfterMillis: 0 }

  /** Drops keys whose state equals a fresh one (full bucket, or an elapsed window with no reservation). */
  const sweep = (now: number): void => {
    for (const [key, state] of states) {
      const idle = isBucket
        ? state.amount + ((now - state.at) * limit) / windowMillis >= limit
        : now >= state.at + windowMillis && state.amount <= limit
      if (idle) states.delete(key)
    }
    sweepAbove = Math.max(maxKeys, states.size * 2)
  }

  /** Brings a key's state to `now` (refill, or roll the window). */
  const stateAt = (key: string, now: number): KeyState => {
    let state = states.get(key)
    if (state === undefined) {
      if (states.size >= sweepAbove) sweep(now)
      state = isBucket ? { amount: limit, at: now } : { amount: 0, at: Math.floor(now / windowMillis) * windowMillis }
      states.set(key, state)
      return state
    }
    if (isBucket) {
      const elapsed = now - state.at
      if (elapsed > 0) {
        state.amount = Math.min(limit, state.amount + (elapsed * limit) / windowMillis)
        state.at = now
      }
    } else if (now >= state.at + windowMillis) {
      const windows = Math.floor((now - state.at) / windowMillis)
      state.amount = Math.max(0, state.amount - windows * limit)
      state.at += windows * windowMillis
    }
    return state
  }

  const tryConsume = (key: string, tokens: number, now: number): number => {
    if (tokens > limit) {
      last.remaining = 0
      last.resetAfterMillis = windowMillis
      return -windowMillis
    }
    const state = stateAt(key, now)
    if (isBucket) {
      const after = state.amount - tokens
      if (after >= 0) {
        state.amount = after
        last.remaining = after
        last.resetAfterMillis = ((limit - after) * windowMillis) / limit
        return 0
      }
      const delay = (-after * windowMillis) / limit
      last.remaining = 0
      if (delay <= maxDelay) {
        state.amount = after
        last.resetAfterMillis = ((limit - after) * windowMillis) / limit
        return delay
      }
      last.resetAfterMillis = ((limit - state.amount) * windowMillis) / limit
      return -delay
    }
    const used = state.amount + tokens
    // the window (0 = the current one) in which the last of these tokens falls
    const k = Math.floor((used - 1) / limit)
    last.resetAfterMillis = state.at + windowMillis - now
    if (k === 0) {
      state.amount = used
      last.remaining = limit - used
      return 0
    }
    const delay = state.at + k * windowMillis - now
    last.remaining = 0
    if (delay <= maxDelay) {
      state.amount = used
      return delay
    }
    return -delay
  }

  const refund = (key: string, tokens: number, now: number): void => {
    if (!states.has(key)) return
    const state = stateAt(key, now)
    state.amount = isBucket ? Math.min(limit, state.amount + tokens) : Math.max(0, state.amount - tokens)
  }

  const admit = (key: string, tokens: number, now: number): Decision => {
    const delay = tryConsume(key, tokens, now)
    if (delay === 0) return admittedFree
    if (delay < 0) return exceeded(-delay)
    const wait: Wait = {
      _tag: "Wait",
      start: (timers, maxWaitMillis, done) => {
        const startedAt = timers.now()
        const left = delay - (startedAt - now)
        // a wait that would outlast the call's deadline is refused now, and the tokens given back
        if (maxWaitMillis !== undefined && maxWaitMillis < left) {
          refund(key, tokens, startedAt)
          done(exceeded(left))
          return noop
        }
        if (left <= 0) {
          done(admittedFree)
          return noop
        }
        let fired = false
        const cancel = timers.arm(left, () => {
          fired = true
          done(admittedFree)
        })
        // a caller that gives up waiting gives its reservation back
        return () => {
          if (fired) return
          cancel()
          refund(key, tokens, timers.now())
        }
      }
    }
    return wait
  }

  return { tryConsume, refund, admit, last, keys: () => states.size, clear: () => states.clear() }
}
