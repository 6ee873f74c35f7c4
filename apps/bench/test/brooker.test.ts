import { describe, expect, it } from "@effect/vitest"
import * as Duration from "effect/Duration"
import * as Effect from "effect/Effect"
import * as Random from "effect/Random"
import { type Model, runPoint, scheduleFor, simulate, strategies } from "../src/brooker-sim.js"

const options = { base: Duration.millis(5), cap: Duration.millis(2000) }

const trial = (strategy: (typeof strategies)[number], clients: number, seed: number, model: Model = "brooker") =>
  Effect.runSync(
    simulate({ clients, schedule: scheduleFor(strategy, options), networkSeed: seed, model }).pipe(
      Effect.withRandom(Random.make(seed))
    )
  )

describe("Brooker simulator", () => {
  it("every client finishes and every client makes at least one call", () => {
    for (const model of ["brooker", "oneway"] as const) {
      for (const strategy of strategies) {
        for (const clients of [1, 2, 5, 8]) {
          for (const seed of [1, 2, 3]) {
            const r = trial(strategy, clients, seed, model)
            expect(r.finished).toBe(clients)
            expect(r.gaveUp).toBe(0)
            expect(r.calls).toBeGreaterThanOrEqual(clients)
            expect(r.completionMs).toBeGreaterThan(0)
          }
        }
      }
    }
  })

  it("one client writes once, after two hops one way or four round trip", () => {
    for (const strategy of strategies) {
      const brooker = trial(strategy, 1, 11, "brooker")
      expect(brooker.calls).toBe(1)
      // four hops of |Normal(10, 2)|: far from 0 and from 80
      expect(brooker.completionMs).toBeGreaterThan(20)
      expect(brooker.completionMs).toBeLessThan(70)
      const oneway = trial(strategy, 1, 11, "oneway")
      expect(oneway.calls).toBe(1)
      expect(oneway.completionMs).toBeGreaterThan(10)
      expect(oneway.completionMs).toBeLessThan(35)
    }
  })

  it("with contention some writes fail, so there are more calls than clients", () => {
    const r = trial("none", 10, 5)
    expect(r.calls).toBeGreaterThan(10)
  })

  it("is deterministic for a seed", () => {
    for (const strategy of strategies) {
      expect(trial(strategy, 6, 42)).toEqual(trial(strategy, 6, 42))
    }
  })

  it("without backoff, completion is fastest but calls are the most (small N, many trials)", () => {
    const row = (strategy: (typeof strategies)[number]) =>
      runPoint({ strategy, clients: 20, trials: 20, seed: 7, ...options })
    const none = row("none")
    const full = row("full")
    expect(none.calls).toBeGreaterThan(full.calls)
    expect(none.completionMs).toBeLessThan(full.completionMs)
  })
})
