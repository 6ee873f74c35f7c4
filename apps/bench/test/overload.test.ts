import { describe, expect, it } from "@effect/vitest"
import { configurations } from "../src/overload/configs.js"
import { strategy } from "../src/overload/cores.js"
import { bronson, type Scenario, simulate } from "../src/overload/sim.js"

/** Bronson's scenario, shortened to 90 s after the trigger: simulated time, seeded, no wall time. */
const short: Scenario = { ...bronson, triggerAtMillis: 10_000, afterMillis: 90_000 }

const run = (name: string, seed = 7) => {
  const configuration = configurations.find((c) => c.name === name)
  if (configuration === undefined) throw new Error(name)
  return simulate(short, configuration, strategy.seededRandom(seed))
}

describe("overload simulation", () => {
  it("is deterministic for a seed", () => {
    expect(run("token-bucket", 3)).toEqual(run("token-bucket", 3))
  })

  it("before the trigger every configuration serves the load: no amplification, no queue", () => {
    for (const name of ["no-retries", "naive-retries", "token-bucket"]) {
      const calm = run(name).bins.slice(2, 10)
      const requests = calm.reduce((s, b) => s + b.requests, 0)
      const arrivals = calm.reduce((s, b) => s + b.serverArrivals, 0)
      const succeeded = calm.reduce((s, b) => s + b.succeeded, 0)
      expect(arrivals / requests).toBeLessThan(1.02)
      expect(succeeded / requests).toBeGreaterThan(0.99)
    }
  })

  it("naive retries amplify the load about 3x and do not recover; the default token bucket stays near 1x and recovers", () => {
    const naive = run("naive-retries").summary
    const budgeted = run("token-bucket").summary
    expect(naive.meanAmplification).toBeGreaterThan(2.5)
    expect(naive.peakAmplification).toBeGreaterThan(2.5)
    expect(naive.recoverySeconds).toBeNull()
    expect(budgeted.meanAmplification).toBeLessThan(1.1)
    expect(naive.peakAmplification).toBeGreaterThan(budgeted.peakAmplification + 1)
    expect(budgeted.recoverySeconds).not.toBeNull()
    expect(budgeted.recoverySeconds ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(30)
  })

  it("without retries the system recovers once the queue drains; the server's wasted work stays small", () => {
    const none = run("no-retries").summary
    expect(none.peakAmplification).toBeLessThan(1.05)
    expect(none.recoverySeconds ?? Number.POSITIVE_INFINITY).toBeLessThanOrEqual(30)
    // served after the client left: the queue the trigger left behind, against nearly everything in a storm
    expect(run("naive-retries").summary.wastedShare).toBeGreaterThan(0.9)
    expect(none.wastedShare).toBeLessThan(0.25)
  })
})
