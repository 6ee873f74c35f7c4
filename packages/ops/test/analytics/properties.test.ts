import { describe, expect, it } from "@effect/vitest"
import fc from "fast-check"
import { cascades } from "../../src/internal/analytics/cascade.js"
import { Ring } from "../../src/internal/analytics/series.js"
import { spikeAt } from "../../src/internal/analytics/spike.js"

describe("properties", () => {
  it("a ring holds the latest `capacity` values in order, whatever was pushed", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.array(fc.double({ noNaN: true }), { maxLength: 100 }),
        (capacity, xs) => {
          const ring = new Ring(capacity)
          for (const x of xs) ring.push(x)
          expect(ring.toArray()).toEqual(xs.slice(Math.max(0, xs.length - capacity)))
          expect(ring.length).toBe(Math.min(capacity, xs.length))
        }
      )
    )
  })

  const names = ["a", "b", "c", "d", "e", "f"]
  const graph = fc.dictionary(fc.constantFrom(...names), fc.uniqueArray(fc.constantFrom(...names), { maxLength: 3 }))
  const openings = fc.array(
    fc.record({ name: fc.constantFrom(...names), atMillis: fc.integer({ min: 0, max: 300_000 }) }),
    { maxLength: 12 }
  )

  it("every cascade link points back in time, within the window, to something its operation depends on", () => {
    fc.assert(
      fc.property(graph, openings, fc.integer({ min: 1, max: 120_000 }), (g, opens, window) => {
        const dependsOn = (from: string, to: string): boolean => {
          const seen = new Set<string>()
          const stack = [from]
          while (stack.length > 0) {
            const n = stack.pop() ?? ""
            for (const d of g[n] ?? []) {
              if (d === to) return true
              if (!seen.has(d)) {
                seen.add(d)
                stack.push(d)
              }
            }
          }
          return false
        }
        for (const c of cascades(opens, g, window)) {
          expect(c.chain.length).toBeGreaterThan(0)
          let previous = c.rootAtMillis
          for (const link of c.chain) {
            expect(link.delayMillis).toBeGreaterThanOrEqual(0)
            expect(link.delayMillis).toBeLessThanOrEqual(window)
            expect(link.atMillis).toBeGreaterThanOrEqual(previous)
            expect(dependsOn(link.name, link.after)).toBe(true)
            previous = link.atMillis
          }
        }
      })
    )
  })

  it("no spike without the volume: fewer calls or failures than the guards never alert", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 500 }), { minLength: 31, maxLength: 31 }),
        fc.integer({ min: 0, max: 19 }),
        (calls, few) => {
          const failures = calls.map(() => 0)
          const c = calls.slice()
          c[30] = few
          failures[30] = few
          expect(spikeAt(c, failures, 30)).toBeUndefined()
          // and a high rate of very few failures (under 5) neither
          c[30] = 400
          failures[30] = Math.min(4, few)
          expect(spikeAt(c, failures, 30)).toBeUndefined()
        }
      )
    )
  })
})
