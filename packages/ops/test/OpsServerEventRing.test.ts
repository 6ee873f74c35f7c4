import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as ring from "../src/internal/sse/ring.js"

/** The model: every event ever appended, numbered from 1; the ring keeps the last `capacity`. */
describe("event ring (the decision core of the event streams' reconnection)", () => {
  it("since(seq) is every event after seq while the ring still holds the next one, else a gap", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.integer(), { maxLength: 80 }),
        fc.integer({ min: -3, max: 100 }),
        (capacity, values, seq) => {
          const r = new ring.Ring<number>(capacity)
          for (const v of values) r.append(v)
          const total = values.length
          expect(r.last).toBe(total)
          const since = r.since(seq)
          const oldestHeld = Math.max(1, total - capacity + 1)
          if (seq < 0 || seq > total) expect(since).toEqual({ _tag: "Gap", reason: "unknown-id" })
          else if (seq < oldestHeld - 1) expect(since).toEqual({ _tag: "Gap", reason: "too-old" })
          else
            expect(since).toEqual({
              _tag: "Replay",
              items: values.slice(seq).map((value, k) => ({ seq: seq + 1 + k, value }))
            })
        }
      )
    )
  })

  it("a client resuming from any id it was given, at any later time, gets each later event once, in order", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10 }), fc.array(fc.boolean(), { maxLength: 120 }), (capacity, steps) => {
        // true: an event is appended; false: a client reads what it missed since its cursor
        const r = new ring.Ring<number>(capacity)
        const epoch = "e1"
        let cursorId: string | undefined
        let received: Array<number> = []
        let appended = 0
        for (const step of steps) {
          if (step) r.append(++appended)
          else {
            const begin = ring.start(r, epoch, cursorId)
            if (begin._tag === "Resume") received = [...received, ...begin.items.map((i) => i.value)]
            else {
              // a snapshot stands for everything so far; a resume is refused only when events were dropped
              if (begin._tag === "Reset") expect(begin.reason).toBe("too-old")
              if (begin._tag === "Reset") expect(appended - received.length).toBeGreaterThan(capacity)
              received = Array.from({ length: begin.cursor }, (_, k) => k + 1)
            }
            cursorId = ring.formatId(epoch, begin.cursor)
            // never a repeat, never a hole: exactly 1..cursor, in order
            expect(received).toEqual(Array.from({ length: appended }, (_, k) => k + 1))
          }
        }
      })
    )
  })

  it("an id of another life of the feed, or not an id at all, is unknown; a blank one is a fresh start", () => {
    const r = new ring.Ring<number>(4)
    r.append(1)
    r.append(2)
    expect(ring.start(r, "abc", "xyz-1")).toEqual({ _tag: "Reset", reason: "unknown-id", cursor: 2 })
    for (const id of ["abc", "abc-", "abc-01", "abc--1", "abc-1.5", "ABC-1", "abc-3", `abc-${"9".repeat(16)}`]) {
      expect(ring.start(r, "abc", id)._tag, id).toBe("Reset")
    }
    expect(ring.start(r, "abc", " ")).toEqual({ _tag: "Fresh", cursor: 2 })
    expect(ring.start(r, "abc", undefined)).toEqual({ _tag: "Fresh", cursor: 2 })
    expect(ring.start(r, "abc", "abc-1")).toEqual({ _tag: "Resume", items: [{ seq: 2, value: 2 }], cursor: 2 })
    expect(ring.start(r, "abc", "abc-2")).toEqual({ _tag: "Resume", items: [], cursor: 2 })
    expect(ring.start(r, "abc", "abc-0")).toEqual({
      _tag: "Resume",
      items: [
        { seq: 1, value: 1 },
        { seq: 2, value: 2 }
      ],
      cursor: 2
    })
    expect(() => new ring.Ring(0)).toThrow(RangeError)
  })
})
