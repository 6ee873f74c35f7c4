/**
 * The strategy interface's core on its own: walking a list of strategies, giving tickets back on
 * a refusal, settling them, and the seeded random source.
 */
import { describe, expect, it } from "@effect/vitest"
import * as fc from "fast-check"
import * as core from "../../src/internal/strategy/core.js"

/** A strategy that answers as told and records what its tickets were settled with. */
const scripted = (name: string, answer: "admit" | "reject" | "wait", log: Array<string>): core.AdmissionStrategy => ({
  component: "test",
  name,
  admit: () => {
    switch (answer) {
      case "admit":
        return { _tag: "Admitted", settle: (outcome) => void log.push(`${name}:${outcome._tag}`) }
      case "reject":
        return { _tag: "Rejected", reason: "no", retryAfterMillis: 0 }
      case "wait":
        return { _tag: "Wait", start: () => () => {} }
    }
  }
})

describe("strategy core", () => {
  it("admits through every strategy: the walk is the tickets, in order", () => {
    const log: Array<string> = []
    const walk = core.walk([scripted("a", "admit", log), scripted("b", "admit", log)], 0, undefined, 0, Math.random)
    if (!core.isAdmitted(walk)) return expect.unreachable()
    expect(walk.length).toBe(2)
    core.settleAll(walk, core.success, 5, 5)
    // innermost first
    expect(log).toEqual(["b:Success", "a:Success"])
  })

  it("no strategies admit at once, with no tickets", () => {
    const walk = core.walk([], 0, undefined, 0, Math.random)
    expect(core.isAdmitted(walk) && walk.length === 0).toBe(true)
  })

  it("a refusal gives back (neutral) the tickets of the strategies before it, and stops there", () => {
    const log: Array<string> = []
    const walk = core.walk(
      [
        scripted("a", "admit", log),
        scripted("b", "admit", log),
        scripted("c", "reject", log),
        scripted("d", "admit", log)
      ],
      0,
      undefined,
      0,
      Math.random
    )
    if (core.isAdmitted(walk) || walk._tag !== "Rejected") return expect.unreachable()
    expect(walk.index).toBe(2)
    expect(log).toEqual(["b:Neutral", "a:Neutral"])
  })

  it("a wait stops the walk with the tickets held so far; the walk goes on from the next strategy", () => {
    const log: Array<string> = []
    const strategies = [scripted("a", "admit", log), scripted("b", "wait", log), scripted("c", "admit", log)]
    const walk = core.walk(strategies, 0, undefined, 0, Math.random)
    if (core.isAdmitted(walk) || walk._tag !== "Wait") return expect.unreachable()
    expect(walk.index).toBe(1)
    expect(walk.tickets.length).toBe(1)
    walk.tickets.push(core.admittedFree)
    const rest = core.walk(strategies, walk.index + 1, walk.tickets, 0, Math.random)
    expect(core.isAdmitted(rest) && rest.length).toBe(3)
  })

  it("a shared ticket admitting alone: the walk is its own one-element array, never a new one, never mutated", () => {
    const log: Array<string> = []
    const ticket = core.shared<core.Admitted>({ _tag: "Admitted", settle: (o) => void log.push(`s:${o._tag}`) })
    const alone: core.AdmissionStrategy = { component: "test", name: "s", admit: () => ticket }
    const walk = core.walk([alone], 0, undefined, 0, Math.random)
    expect(walk).toBe(ticket.alone)
    expect(core.isAdmitted(walk) && walk.length === 1 && walk[0] === ticket).toBe(true)
    // with a wait after it, the tickets held are an array of the walk's own, which the wait adds to
    const waited = core.walk([alone, scripted("w", "wait", log)], 0, undefined, 0, Math.random)
    if (core.isAdmitted(waited) || waited._tag !== "Wait") return expect.unreachable()
    expect(waited.tickets).not.toBe(ticket.alone)
    waited.tickets.push(core.admittedFree)
    expect(ticket.alone?.length).toBe(1)
    // a refusal after it gives it back
    const refused = core.walk([alone, scripted("r", "reject", log)], 0, undefined, 0, Math.random)
    expect(core.isAdmitted(refused)).toBe(false)
    expect(log).toEqual(["s:Neutral"])
  })

  it("seededRandom is deterministic for a seed and stays in [0, 1)", () =>
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const a = core.seededRandom(seed)
        const b = core.seededRandom(seed)
        for (let i = 0; i < 50; i++) {
          const x = a()
          expect(x).toBe(b())
          expect(x >= 0 && x < 1).toBe(true)
        }
      })
    ))
})
