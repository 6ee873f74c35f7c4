/**
 * Timers for decision-core tests: a clock that only moves when the test says so, and timers
 * that fire in order of their due time as it moves.
 */
import type { Timers } from "../../src/internal/strategy/core.js"

export interface ManualTimers extends Timers {
  /** Moves the clock by `millis`, firing every timer due on the way. */
  readonly advance: (millis: number) => void
  /** Timers armed and not yet fired or cancelled. */
  readonly pending: () => number
}

export const manualTimers = (start = 0): ManualTimers => {
  let now = start
  let seq = 0
  const timers = new Map<number, { readonly at: number; readonly onFire: () => void }>()
  const advance = (millis: number): void => {
    const until = now + millis
    for (;;) {
      let next: [number, { readonly at: number; readonly onFire: () => void }] | undefined
      for (const entry of timers)
        if (entry[1].at <= until && (next === undefined || entry[1].at < next[1].at)) next = entry
      if (next === undefined) break
      timers.delete(next[0])
      now = next[1].at
      next[1].onFire()
    }
    now = until
  }
  return {
    now: () => now,
    arm: (millis, onFire) => {
      const id = seq++
      timers.set(id, { at: now + millis, onFire })
      return () => {
        timers.delete(id)
      }
    },
    advance,
    pending: () => timers.size
  }
}
