/**
 * The bulkhead's decision core: at most `maxConcurrent` admitted at once; up to `maxQueue` more
 * wait in a queue ordered by priority (higher first, FIFO within a priority) for at most
 * `queueTimeoutMillis`, and never longer than the call's deadline leaves. A released slot is
 * handed straight to the head waiter, so a newcomer never overtakes the queue.
 *
 * Plain TypeScript: imports nothing from `effect`.
 *
 * @internal
 */
import type { Admitted, Decision, Rejected, Timers, Wait } from "../strategy/core.js"

/** @internal */
export interface Options {
  readonly maxConcurrent: number
  readonly maxQueue: number
  /** `Infinity`: wait without limit (the deadline still bounds the wait). */
  readonly queueTimeoutMillis: number
}

/** No slot and no room in the queue (also given to the calls still queued when the bulkhead closes). @internal */
export const full: Rejected = { _tag: "Rejected", reason: "full", retryAfterMillis: 0 }

/** The wait in the queue ended before a slot came. @internal */
export const queueTimeout: Rejected = { _tag: "Rejected", reason: "queue-timeout", retryAfterMillis: 0 }

const WAITING = 0
const GRANTED = 1
const REMOVED = 2

/** A queued call: a node of its priority level's doubly linked FIFO list. */
interface Waiter {
  state: number
  prev: Waiter | undefined
  next: Waiter | undefined
  done: ((decision: Admitted | Rejected) => void) | undefined
  cancelTimer: (() => void) | undefined
  readonly level: Level
}

interface Level {
  readonly priority: number
  head: Waiter | undefined
  tail: Waiter | undefined
}

/** @internal */
export interface Core {
  /** Slots in use. */
  readonly active: () => number
  /** Calls waiting. */
  readonly queued: () => number
  /** Decides for a call of `priority`: a slot now, a place in the queue (`Wait`), or `full`. */
  readonly admit: (priority: number) => Decision
  /** Refuses every queued call (`full`). */
  readonly close: () => void
}

const noop = (): void => {}

/** @internal */
export const make = (options: Options): Core => {
  const max = options.maxConcurrent
  const maxQueue = options.maxQueue
  const timeout = options.queueTimeoutMillis
  let active = 0
  let queued = 0
  // priority levels, highest priority first; few in practice, so a sorted array is enough
  const levels: Array<Level> = []

  const levelOf = (priority: number): Level => {
    let i = 0
    for (; i < levels.length; i++) {
      const level = levels[i] as Level
      if (level.priority === priority) return level
      if (level.priority < priority) break
    }
    const level: Level = { priority, head: undefined, tail: undefined }
    levels.splice(i, 0, level)
    return level
  }

  const unlink = (w: Waiter): void => {
    const level = w.level
    if (w.prev === undefined) level.head = w.next
    else w.prev.next = w.next
    if (w.next === undefined) level.tail = w.prev
    else w.next.prev = w.prev
    w.prev = undefined
    w.next = undefined
    queued--
    // drop an emptied level, so that arbitrary priority values do not accumulate
    if (level.head === undefined) levels.splice(levels.indexOf(level), 1)
  }

  const enqueue = (priority: number, done: (decision: Admitted | Rejected) => void): Waiter => {
    const level = levelOf(priority)
    const w: Waiter = { state: WAITING, prev: level.tail, next: undefined, done, cancelTimer: undefined, level }
    if (level.tail === undefined) level.head = w
    else level.tail.next = w
    level.tail = w
    queued++
    return w
  }

  /** Ends a waiter's wait with `decision` (its timer cancelled), exactly once. */
  const finish = (w: Waiter, state: number, decision: Admitted | Rejected): void => {
    w.state = state
    if (w.cancelTimer !== undefined) w.cancelTimer()
    w.cancelTimer = undefined
    const done = w.done
    w.done = undefined
    if (done !== undefined) done(decision)
  }

  const release = (): void => {
    if (queued > 0) {
      for (let i = 0; i < levels.length; i++) {
        const head = (levels[i] as Level).head
        if (head !== undefined) {
          // hand the slot straight to the head waiter: `active` stays the same
          unlink(head)
          finish(head, GRANTED, ticket)
          return
        }
      }
    }
    if (active > 0) active--
  }

  // a bulkhead's ticket carries no per-call state: one shared ticket gives a slot back
  const ticket: Admitted = { _tag: "Admitted", settle: release }

  const startWaiting = (
    priority: number,
    timers: Timers,
    maxWaitMillis: number | undefined,
    done: (decision: Admitted | Rejected) => void
  ): (() => void) => {
    // the state may have moved since `admit`: decide again
    if (active < max && queued === 0) {
      active++
      done(ticket)
      return noop
    }
    if (queued >= maxQueue) {
      done(full)
      return noop
    }
    const limit = maxWaitMillis === undefined ? timeout : Math.min(timeout, maxWaitMillis)
    if (limit <= 0) {
      done(queueTimeout)
      return noop
    }
    const w = enqueue(priority, done)
    if (Number.isFinite(limit)) {
      w.cancelTimer = timers.arm(limit, () => {
        if (w.state !== WAITING) return
        w.cancelTimer = undefined
        unlink(w)
        finish(w, REMOVED, queueTimeout)
      })
    }
    return () => {
      if (w.state !== WAITING) return
      unlink(w)
      w.done = undefined
      finish(w, REMOVED, queueTimeout)
    }
  }

  const admit = (priority: number): Decision => {
    if (active < max && queued === 0) {
      active++
      return ticket
    }
    if (queued >= maxQueue) return full
    const wait: Wait = {
      _tag: "Wait",
      start: (timers, maxWaitMillis, done) => startWaiting(priority, timers, maxWaitMillis, done)
    }
    return wait
  }

  const close = (): void => {
    while (levels.length > 0) {
      const head = (levels[0] as Level).head as Waiter
      unlink(head)
      finish(head, REMOVED, full)
    }
  }

  return { active: () => active, queued: () => queued, admit, close }
}
