import { describe, expect, it } from "@effect/vitest"
import * as Clock from "effect/Clock"
import * as Context from "effect/Context"
import { defaultServices, timersFor } from "../../src/internal/strategy/binding.js"

/** The live clock's timers: one Node timer behind a queue of timers armed in due order. */
const live = () => timersFor(Context.get(defaultServices(), Clock.Clock))
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

describe("timers on the live clock", () => {
  it("fire in order, never early, and not once cancelled", async () => {
    const timers = live()
    const fired: Array<[string, number]> = []
    const start = Date.now()
    const armAt = (name: string, ms: number) => timers.arm(ms, () => fired.push([name, Date.now() - start]))
    armAt("a", 20)
    const cancelB = armAt("b", 25)
    armAt("c", 30)
    // shorter than the last queued: a timer of its own, still on time
    armAt("d", 5)
    cancelB()
    await sleep(60)
    expect(fired.map(([n]) => n)).toEqual(["d", "a", "c"])
    // queued timers are checked against the clock before they fire (a lower bound, never an upper one)
    const due: Record<string, number> = { a: 20, c: 30 }
    for (const [name, at] of fired) if (name in due) expect(at).toBeGreaterThanOrEqual(due[name] ?? 0)
  })

  it("a timer armed or cancelled by one that fires is honoured", async () => {
    const timers = live()
    const fired: Array<string> = []
    let cancelC: () => void = () => {}
    timers.arm(5, () => {
      fired.push("a")
      cancelC()
      timers.arm(5, () => fired.push("d"))
    })
    timers.arm(6, () => fired.push("b"))
    cancelC = timers.arm(7, () => fired.push("c"))
    await sleep(40)
    expect(fired).toEqual(["a", "b", "d"])
  })

  it("many cancelled timers behind a live one are compacted, and the live one still fires", async () => {
    const timers = live()
    let fired = 0
    timers.arm(30, () => {
      fired += 1
    })
    for (let i = 0; i < 10_000; i++) timers.arm(1_000, () => {})()
    await sleep(60)
    expect(fired).toBe(1)
  })
})
