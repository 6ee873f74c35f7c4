import type * as Clock from "effect/Clock"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Option from "effect/Option"
import * as Deadline from "../Deadline.js"
import { RateLimited } from "../Errors.js"
import * as Events from "../Events.js"
import type { ConsumeResult, MemoryRateLimiter, RateLimiterConfig } from "../RateLimiter.js"

interface KeyState {
  /** token bucket: tokens left (negative = reserved by waiting callers); fixed window: tokens used */
  amount: number
  /** token bucket: time of the last refill; fixed window: start of the current window */
  at: number
}

export const make = (
  config: RateLimiterConfig,
  clock: Clock.Clock
): MemoryRateLimiter & { readonly close: () => void } => {
  const { name, limit, windowMillis } = config
  const isBucket = config.algorithm === "token-bucket"
  const maxDelay = config.onExceeded === "delay" ? config.maxDelayMillis : 0
  const states = new Map<string, KeyState>()
  let sweepAbove = config.maxKeys
  // details of the last `tryConsume`, read by `consume` right after it (same synchronous step)
  let lastRemaining = 0
  let lastResetAfter = 0

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

  /** Drops keys whose state equals a fresh one (full bucket, or an elapsed window with no reservation). */
  const sweep = (now: number): void => {
    for (const [key, state] of states) {
      const idle = isBucket
        ? state.amount + ((now - state.at) * limit) / windowMillis >= limit
        : now >= state.at + windowMillis && state.amount <= limit
      if (idle) states.delete(key)
    }
    sweepAbove = Math.max(config.maxKeys, states.size * 2)
  }

  const tryConsume = (key: string, tokens = 1): number => {
    if (tokens > limit) {
      lastRemaining = 0
      lastResetAfter = windowMillis
      return -windowMillis
    }
    const now = clock.unsafeCurrentTimeMillis()
    const state = stateAt(key, now)
    if (isBucket) {
      const after = state.amount - tokens
      if (after >= 0) {
        state.amount = after
        lastRemaining = after
        lastResetAfter = ((limit - after) * windowMillis) / limit
        return 0
      }
      const delay = (-after * windowMillis) / limit
      if (delay <= maxDelay) {
        state.amount = after
        lastRemaining = 0
        lastResetAfter = ((limit - after) * windowMillis) / limit
        return delay
      }
      lastRemaining = 0
      lastResetAfter = ((limit - state.amount) * windowMillis) / limit
      return -delay
    }
    const used = state.amount + tokens
    // the window (0 = the current one) in which the last of these tokens falls
    const k = Math.floor((used - 1) / limit)
    lastResetAfter = state.at + windowMillis - now
    if (k === 0) {
      state.amount = used
      lastRemaining = limit - used
      return 0
    }
    const delay = state.at + k * windowMillis - now
    lastRemaining = 0
    if (delay <= maxDelay) {
      state.amount = used
      return delay
    }
    return -delay
  }

  const refund = (key: string, tokens = 1): void => {
    const state = states.get(key)
    if (state === undefined) return
    const now = clock.unsafeCurrentTimeMillis()
    stateAt(key, now)
    state.amount = isBucket ? Math.min(limit, state.amount + tokens) : Math.max(0, state.amount - tokens)
  }

  const reject = (retryAfterMillis: number): Effect.Effect<never, RateLimited> =>
    Effect.zipRight(
      Events.publish(Events.ResilienceEvent.Rejected({ component: "rate-limiter", name, reason: "rate-limited" })),
      Effect.fail(new RateLimited({ limiter: name, retryAfterMillis }))
    )

  const consume = (key: string, tokens = 1): Effect.Effect<ConsumeResult, RateLimited> =>
    Effect.suspend(() => {
      const delay = tryConsume(key, tokens)
      if (delay < 0) return reject(-delay)
      return Effect.succeed<ConsumeResult>({
        delay: Duration.millis(delay),
        limit,
        remaining: lastRemaining,
        resetAfter: Duration.millis(lastResetAfter)
      })
    })

  const withLimit = <A, E, R>(
    self: Effect.Effect<A, E, R>,
    key: string,
    tokens = 1
  ): Effect.Effect<A, E | RateLimited, R> =>
    Effect.suspend((): Effect.Effect<A, E | RateLimited, R> => {
      const delay = tryConsume(key, tokens)
      if (delay === 0) return self
      if (delay < 0) return reject(-delay)
      // a wait that would outlast the call's deadline is refused now, and the tokens given back;
      // a caller interrupted while it waits gives its reservation back too
      return Effect.flatMap(Deadline.remaining, (left): Effect.Effect<A, E | RateLimited, R> => {
        if (Option.isSome(left) && left.value < delay) {
          refund(key, tokens)
          return reject(delay)
        }
        return Effect.zipRight(
          Effect.onInterrupt(Effect.sleep(Duration.millis(delay)), () => Effect.sync(() => refund(key, tokens))),
          self
        )
      })
    })

  return {
    name,
    algorithm: config.algorithm,
    limit,
    windowMillis,
    tryConsume,
    refund,
    consume,
    withLimit,
    keys: () => states.size,
    close: () => states.clear()
  }
}
