import * as Cause from "effect/Cause"
import * as Effect from "effect/Effect"
import * as Exit from "effect/Exit"
import * as Option from "effect/Option"
import * as Deadline from "../Deadline.js"
import type { BulkheadConfig, BulkheadService } from "../Bulkhead.js"
import { BulkheadRejected } from "../Errors.js"
import * as Events from "../Events.js"

const WAITING = 0
const GRANTED = 1
const REMOVED = 2

/** A queued call: a node of its priority level's doubly linked FIFO list. */
interface Waiter {
  state: number
  prev: Waiter | undefined
  next: Waiter | undefined
  resume: ((effect: Effect.Effect<void>) => void) | undefined
  readonly level: Level
}

interface Level {
  readonly priority: number
  head: Waiter | undefined
  tail: Waiter | undefined
}

export const make = (config: BulkheadConfig): BulkheadService & { readonly close: () => void } => {
  const name = config.name
  const max = config.maxConcurrent
  const maxQueue = config.maxQueue
  const queueTimeout = config.queueTimeoutMillis
  let active = 0
  let queued = 0
  // priority levels, highest priority first; few in practice, so a sorted array is enough
  const levels: Array<Level> = []

  const levelOf = (priority: number): Level => {
    let i = 0
    for (; i < levels.length; i++) {
      const level = levels[i]!
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

  const enqueue = (priority: number): Waiter => {
    const level = levelOf(priority)
    const w: Waiter = { state: WAITING, prev: level.tail, next: undefined, resume: undefined, level }
    if (level.tail === undefined) level.head = w
    else level.tail.next = w
    level.tail = w
    queued++
    return w
  }

  const remove = (w: Waiter): void => {
    if (w.state !== WAITING) return
    w.state = REMOVED
    unlink(w)
  }

  const tryAcquire = (): boolean => {
    if (active < max && queued === 0) {
      active++
      return true
    }
    return false
  }

  const release = (): void => {
    if (queued > 0) {
      for (let i = 0; i < levels.length; i++) {
        const head = levels[i]!.head
        if (head !== undefined) {
          // hand the slot straight to the head waiter: `active` stays the same
          unlink(head)
          head.state = GRANTED
          if (head.resume !== undefined) head.resume(Effect.void)
          return
        }
      }
    }
    if (active > 0) active--
  }

  const releaseWith = <A, E>(exit: Exit.Exit<A, E>): Exit.Exit<A, E> => {
    release()
    return exit
  }

  const reject = (reason: "full" | "queue-timeout") => {
    const error = new BulkheadRejected({ bulkhead: name, reason })
    return Effect.zipRight(
      Events.publish(Events.ResilienceEvent.Rejected({ component: "bulkhead", name, reason })),
      Effect.fail(error)
    )
  }
  const rejectFull = reject("full")
  const rejectTimeout = reject("queue-timeout")

  const timedOut = new BulkheadRejected({ bulkhead: name, reason: "queue-timeout" })
  const wait = (w: Waiter): Effect.Effect<void, BulkheadRejected> => {
    const waiting = Effect.async<void>((resume) => {
      if (w.state === GRANTED) return resume(Effect.void)
      if (w.state === REMOVED) return resume(Effect.interrupt)
      w.resume = resume
      return Effect.sync(() => remove(w))
    })
    // the wait ends at the queue timeout or at the call's deadline, whichever comes first
    return Effect.flatMap(Deadline.remaining, (left) => {
      const limit = Option.isSome(left) ? Math.min(left.value, queueTimeout) : queueTimeout
      return Number.isFinite(limit)
        ? Effect.timeoutFail(waiting, { duration: limit, onTimeout: () => timedOut })
        : waiting
    })
  }

  const withPermit = <A, E, R>(self: Effect.Effect<A, E, R>, priority = 0): Effect.Effect<A, E | BulkheadRejected, R> =>
    // the mask's body runs anew on every execution, so it needs no `suspend` of its own
    Effect.uninterruptibleMask((restore) => {
      // `exit` + `flatMap` outside `restore`: the release runs on success, failure and interruption,
      // and costs less than `ensuring` (which would mask a second time)
      if (tryAcquire()) return Effect.flatMap(Effect.exit(restore(self)), releaseWith)
      if (queued >= maxQueue) return rejectFull
      const w = enqueue(priority)
      return Effect.flatMap(Effect.exit(restore(wait(w))), (exit): Effect.Effect<A, E | BulkheadRejected, R> => {
        if (Exit.isSuccess(exit)) return Effect.flatMap(Effect.exit(restore(self)), releaseWith)
        if (w.state === GRANTED) release()
        else remove(w)
        // the only failure of `wait` is its timeout; anything else is an interruption
        return Option.isSome(Cause.failureOption(exit.cause)) ? rejectTimeout : Effect.failCause(exit.cause)
      })
    })

  const close = (): void => {
    for (const level of levels) {
      let w = level.head
      while (w !== undefined) {
        const next = w.next
        w.state = REMOVED
        w.prev = undefined
        w.next = undefined
        if (w.resume !== undefined) w.resume(Effect.interrupt)
        w = next
      }
      level.head = undefined
      level.tail = undefined
    }
    levels.length = 0
    queued = 0
  }

  return {
    name,
    maxConcurrent: max,
    maxQueue,
    tryAcquire,
    release,
    withPermit,
    active: () => active,
    queued: () => queued,
    close
  }
}
