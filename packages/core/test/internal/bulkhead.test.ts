import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as core from "../../src/internal/bulkhead/core.js"
import type { Admitted, Decision, Rejected, Wait } from "../../src/internal/strategy/core.js"
import { neutral } from "../../src/internal/strategy/core.js"
import { manualTimers } from "../support/manualTimers.js"

const admitted = (decision: Decision): Admitted => {
  if (decision._tag !== "Admitted") throw new Error(`expected Admitted, got ${decision._tag}`)
  return decision
}
const waiting = (decision: Decision): Wait => {
  if (decision._tag !== "Wait") throw new Error(`expected Wait, got ${decision._tag}`)
  return decision
}

/** Starts a wait and records what it is told. */
const start = (wait: Wait, timers = manualTimers(), maxWait?: number) => {
  const seen: Array<Admitted | Rejected> = []
  const cancel = wait.start(timers, maxWait, (d) => seen.push(d))
  return { seen, cancel }
}

describe("bulkhead core", () => {
  it("admits up to maxConcurrent, then refuses when there is no queue", () => {
    const b = core.make({ maxConcurrent: 2, maxQueue: 0, queueTimeoutMillis: 1000 })
    const first = admitted(b.admit(0))
    admitted(b.admit(0))
    expect(b.admit(0)).toBe(core.full)
    expect(b.active()).toBe(2)
    first.settle(neutral, 0, 0)
    expect(b.active()).toBe(1)
    admitted(b.admit(0))
  })

  it("a released slot goes to the head waiter: by priority, FIFO within a priority; no newcomer overtakes", () => {
    const b = core.make({ maxConcurrent: 1, maxQueue: 10, queueTimeoutMillis: Number.POSITIVE_INFINITY })
    const holder = admitted(b.admit(0))
    const order: Array<string> = []
    const queue: ReadonlyArray<readonly [string, number]> = [
      ["a", 0],
      ["b", 1],
      ["c", 0],
      ["d", 2],
      ["e", 1],
      ["f", -1],
      ["g", 2]
    ]
    const timers = manualTimers()
    for (const [name, priority] of queue) {
      waiting(b.admit(priority)).start(timers, undefined, (d) => {
        order.push(name)
        // each runs and gives its slot back
        admitted(d).settle(neutral, 0, 0)
      })
    }
    expect(b.queued()).toBe(7)
    // a newcomer must queue behind them
    expect(b.admit(5)._tag).toBe("Wait")
    holder.settle(neutral, 0, 0)
    expect(order).toEqual(["d", "g", "b", "e", "a", "c", "f"])
    expect(b.queued()).toBe(0)
    expect(b.active()).toBe(0)
    expect(timers.pending()).toBe(0)
  })

  it("a full queue refuses with full", () => {
    const b = core.make({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMillis: 1000 })
    admitted(b.admit(0))
    start(waiting(b.admit(0)))
    expect(b.admit(0)).toBe(core.full)
  })

  it("the wait ends at the queue timeout, or sooner at maxWaitMillis (the deadline)", () => {
    const b = core.make({ maxConcurrent: 1, maxQueue: 2, queueTimeoutMillis: 100 })
    admitted(b.admit(0))
    const timers = manualTimers()
    const long = start(waiting(b.admit(0)), timers)
    const short = start(waiting(b.admit(0)), timers, 50)
    timers.advance(49)
    expect(short.seen).toEqual([])
    timers.advance(1)
    expect(short.seen).toEqual([core.queueTimeout])
    timers.advance(49)
    expect(long.seen).toEqual([])
    timers.advance(1)
    expect(long.seen).toEqual([core.queueTimeout])
    expect(b.queued()).toBe(0)
    expect(b.active()).toBe(1)
  })

  it("no time left refuses at once; a slot freed before start is taken at once", () => {
    const b = core.make({ maxConcurrent: 1, maxQueue: 1, queueTimeoutMillis: 100 })
    const holder = admitted(b.admit(0))
    expect(start(waiting(b.admit(0)), manualTimers(), 0).seen).toEqual([core.queueTimeout])
    const wait = waiting(b.admit(0))
    holder.settle(neutral, 0, 0)
    const { seen } = start(wait)
    expect(seen.length).toBe(1)
    expect(seen[0]?._tag).toBe("Admitted")
    expect(b.active()).toBe(1)
  })

  it("a cancelled wait leaves the queue, takes no slot and is never told", () => {
    const b = core.make({ maxConcurrent: 1, maxQueue: 5, queueTimeoutMillis: 100 })
    const holder = admitted(b.admit(0))
    const timers = manualTimers()
    const w = start(waiting(b.admit(0)), timers)
    w.cancel()
    expect(b.queued()).toBe(0)
    expect(timers.pending()).toBe(0)
    holder.settle(neutral, 0, 0)
    timers.advance(1000)
    expect(w.seen).toEqual([])
    expect(b.active()).toBe(0)
  })

  it("closing refuses the queued calls with full", () => {
    const b = core.make({ maxConcurrent: 1, maxQueue: 2, queueTimeoutMillis: 100 })
    admitted(b.admit(0))
    const timers = manualTimers()
    const x = start(waiting(b.admit(0)), timers)
    const y = start(waiting(b.admit(3)), timers)
    b.close()
    expect(x.seen).toEqual([core.full])
    expect(y.seen).toEqual([core.full])
    expect(b.queued()).toBe(0)
    expect(timers.pending()).toBe(0)
  })

  it("property: never more than maxConcurrent admitted, never more than maxQueue waiting, each wait told once", () => {
    const op = fc.oneof(
      fc.record({ _tag: fc.constant("admit" as const), priority: fc.integer({ min: -2, max: 2 }) }),
      fc.record({ _tag: fc.constant("settle" as const), index: fc.nat() }),
      fc.record({ _tag: fc.constant("cancel" as const), index: fc.nat() }),
      fc.record({ _tag: fc.constant("advance" as const), millis: fc.integer({ min: 0, max: 80 }) })
    )
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 4 }),
        fc.array(op, { maxLength: 200 }),
        (max, maxQueue, ops) => {
          const b = core.make({ maxConcurrent: max, maxQueue, queueTimeoutMillis: 100 })
          const timers = manualTimers()
          const held: Array<Admitted> = []
          const waits: Array<{ told: number; cancel: () => void }> = []
          for (const o of ops) {
            if (o._tag === "admit") {
              const d = b.admit(o.priority)
              if (d._tag === "Admitted") held.push(d)
              else if (d._tag === "Wait") {
                const w = { told: 0, cancel: () => {} }
                w.cancel = d.start(timers, undefined, (r) => {
                  w.told++
                  if (r._tag === "Admitted") held.push(r)
                })
                waits.push(w)
              }
            } else if (o._tag === "settle" && held.length > 0) {
              held.splice(o.index % held.length, 1)[0]?.settle(neutral, 0, timers.now())
            } else if (o._tag === "cancel" && waits.length > 0) {
              waits[o.index % waits.length]?.cancel()
            } else if (o._tag === "advance") timers.advance(o.millis)
            if (b.active() !== held.length || b.active() > max || b.queued() > maxQueue) return false
            if (waits.some((w) => w.told > 1)) return false
          }
          return true
        }
      ),
      { seed: 11, numRuns: 300 }
    )
  })
})
