/**
 * The decision core of rate-limited logging: plain TypeScript that imports nothing from `effect`.
 *
 * Each log site names its event with a key (the event's kind and what makes it the same event:
 * operation, failure code, breaker, ...). Within a window, the first `perWindow` events of a key
 * are logged; later ones are counted and not logged; the first event of a key logged after its
 * window ended carries how many were left out. An outage that fails a thousand calls a second with
 * one code therefore writes `perWindow` lines per window, and says how many it did not write.
 *
 * The table of keys is bounded: past `maxKeys`, the key whose window started first is dropped (its
 * left-out count with it, a loss only of a number in a log line).
 *
 * @internal
 */

/** Settings of a {@link RepeatLimiter}. */
export interface LimiterSettings {
  /** Events of one key logged per window. */
  readonly perWindow: number
  readonly windowMillis: number
  /** Keys remembered at once. */
  readonly maxKeys: number
}

interface KeyState {
  start: number
  logged: number
  suppressed: number
}

/** The answer for one event: `undefined`, do not log it; a number, log it and say that many were left out before it. */
export type Verdict = number | undefined

/** Decides which repeated events to log. Holds one small record per key. */
export class RepeatLimiter {
  private readonly keys = new Map<string, KeyState>()
  constructor(private readonly settings: LimiterSettings) {}

  /** Whether to log an event of `key` at `nowMillis`: the count left out before it, or `undefined`. */
  decide(key: string, nowMillis: number): Verdict {
    const state = this.keys.get(key)
    if (state === undefined) {
      if (this.keys.size >= this.settings.maxKeys) this.evictOldest()
      this.keys.set(key, { start: nowMillis, logged: 1, suppressed: 0 })
      return 0
    }
    if (nowMillis - state.start >= this.settings.windowMillis) {
      const left = state.suppressed
      state.start = nowMillis
      state.logged = 1
      state.suppressed = 0
      return left
    }
    if (state.logged < this.settings.perWindow) {
      state.logged++
      return 0
    }
    state.suppressed++
    return undefined
  }

  /** Keys held now (for tests of the bound). */
  size(): number {
    return this.keys.size
  }

  private evictOldest(): void {
    let oldestKey: string | undefined
    let oldest = Number.POSITIVE_INFINITY
    for (const [key, state] of this.keys) {
      if (state.start < oldest) {
        oldest = state.start
        oldestKey = key
      }
    }
    if (oldestKey !== undefined) this.keys.delete(oldestKey)
  }
}

/** The defaults: 5 events of a key per 10 s, 1,000 keys. */
export const defaultSettings: LimiterSettings = { perWindow: 5, windowMillis: 10_000, maxKeys: 1000 }
