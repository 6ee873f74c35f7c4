/**
 * A fleet of three worker processes sharing breakers through a Redis server of the test's own:
 * pooled evidence, the quorum, the fleet's single half-open probe and its lease, and Redis killed
 * or made slow while the workers keep calling.
 */
import { afterAll, beforeAll, describe, expect, it } from "@effect/vitest"
import { Redis } from "ioredis"
import {
  type Counts,
  instance,
  type Process,
  sleep,
  startUpstream,
  startWorker,
  type Upstream,
  type Worker,
  waitFor
} from "./support/fleet.js"
import { type RedisServer, startRedis } from "./support/redisServer.js"

const FLUSH = 100
let redis: RedisServer
let upstream: Upstream
let prefixes = 0
/** Three worker processes, started once (a process takes seconds to start); each test makes its breakers in them. */
const processes: Array<Process> = []

const store = (extra: Record<string, unknown> = {}) => ({
  url: redis.url,
  keyPrefix: `fleet-test-${process.pid}-${prefixes++}`,
  flushInterval: FLUSH,
  commandTimeout: 100,
  ...extra
})

const fleet = async (
  n: number,
  breaker: Record<string, unknown>,
  storeConfig: Record<string, unknown>
): Promise<Array<Worker>> => Promise.all(processes.slice(0, n).map((p) => instance(p, breaker, storeConfig)))

const stopAll = (workers: ReadonlyArray<Worker>) => Promise.all(workers.map((w) => w.dispose()))
const states = (workers: ReadonlyArray<Worker>) => Promise.all(workers.map((w) => w.state()))
const allIn = (workers: ReadonlyArray<Worker>, state: string) => async () =>
  (await states(workers)).every((s) => s === state)

beforeAll(async () => {
  redis = await startRedis(["--enable-debug-command", "yes"])
  upstream = await startUpstream()
  processes.push(...(await Promise.all(["w0", "w1", "w2"].map(startWorker))))
})

afterAll(async () => {
  await Promise.all(processes.map((p) => p.stop()))
  await upstream?.close()
  await redis?.stop()
})

const rateWindow = { _tag: "CountWindow", size: 20, minimumCalls: 10, failureRateThreshold: 0.5 }

describe("RedisCircuitBreakerStore: a fleet of three processes", () => {
  it("opens every process on pooled evidence within the flush interval plus a round trip", async () => {
    const workers = await fleet(3, { name: "pooled", policy: rateWindow, openDuration: 30_000 }, store())
    try {
      // 4 failures each: no process trips alone (minimum 10 calls), the fleet's 12 do
      const runs = await Promise.all(workers.map((w) => w.send<Counts>({ op: "calls", n: 4, outcome: "failure" })))
      expect(runs.map((c) => c.failed)).toEqual([4, 4, 4])
      const tookMs = await waitFor(allIn(workers, "open"), 5_000, "every worker open")
      expect(tookMs).toBeLessThan(FLUSH + 900)
      // the same evidence in one process alone would not have opened it
      const alone = await fleet(1, { name: "pooled", policy: rateWindow }, store())
      await alone[0]!.send({ op: "calls", n: 4, outcome: "failure" })
      await sleep(3 * FLUSH)
      expect(await alone[0]!.state()).toBe("closed")
      await stopAll(alone)
    } finally {
      await stopAll(workers)
    }
  })

  it("one sick process opens only itself when the quorum asks for two; with a quorum of one the fleet opens", async () => {
    const breaker = { name: "quorum", policy: rateWindow, openDuration: 30_000 }
    const sickAlone = async (quorum: number) => {
      const workers = await fleet(3, breaker, store({ quorum: { processes: quorum } }))
      try {
        const [sick, ...healthy] = workers as [Worker, Worker, Worker]
        await Promise.all(healthy.map((w) => w.send({ op: "calls", n: 4, outcome: "success" })))
        await sleep(2 * FLUSH)
        // the sick one opens on its 10th failure: 10 failures of 18 calls in the fleet trip the pooled rate (50 %)
        await sick.send({ op: "calls", n: 10, outcome: "failure" })
        expect(await sick.state()).toBe("open")
        await sleep(5 * FLUSH)
        return states(workers)
      } finally {
        await stopAll(workers)
      }
    }
    const [quorumOfTwo, quorumOfOne] = await Promise.all([sickAlone(2), sickAlone(1)])
    expect(quorumOfTwo).toEqual(["open", "closed", "closed"])
    expect(quorumOfOne).toEqual(["open", "open", "open"])
  })

  it("a forced open reaches every process, and a process that joins reads it", async () => {
    const config = store()
    const workers = await fleet(3, { name: "forced" }, config)
    try {
      await workers[0]!.send({ op: "forceOpen" })
      await waitFor(allIn(workers, "forced-open"), 10_000, "every worker forced open")
      const joiner = await instance(processes[2]!, { name: "forced" }, config)
      expect(await joiner.state()).toBe("forced-open")
      await workers[1]!.send({ op: "forceClosed" })
      await waitFor(allIn([...workers, joiner], "closed"), 10_000, "every worker closed")
      await joiner.dispose()
    } finally {
      await stopAll(workers)
    }
  })

  const probing = {
    policy: { _tag: "ConsecutiveFailures", threshold: 3 },
    halfOpen: { maxProbes: 1, successThreshold: 1 }
  }

  const openEverywhere = async (workers: ReadonlyArray<Worker>) => {
    upstream.mode = "fail"
    const runs = await Promise.all(workers.map((w) => w.send<Counts>({ op: "http", url: upstream.url, n: 3 })))
    await waitFor(allIn(workers, "open"), 10_000, "every worker open").catch(async (e) => {
      throw new Error(`${e}: ${JSON.stringify(await states(workers))} ${JSON.stringify(runs)}`)
    })
  }

  it("sends exactly one probe to the upstream in half-open; its success closes every process", async () => {
    const workers = await fleet(3, { name: "probe", openDuration: 600, ...probing }, store({ probeLease: 5_000 }))
    try {
      await openEverywhere(workers)
      upstream.mode = "hang"
      const before = upstream.requests.length
      const hammering = workers.map((w) => w.send<Counts>({ op: "http", url: upstream.url, n: 60, gapMs: 20 }))
      await waitFor(async () => upstream.requests.length > before, 3_000, "a probe")
      // the others keep rejecting while the probe is out
      await sleep(800)
      expect(upstream.requests.length - before).toBe(1)
      upstream.mode = "ok"
      upstream.release()
      await waitFor(allIn(workers, "closed"), 10_000, "every worker closed")
      const counts = await Promise.all(hammering)
      expect(counts.every((c) => c.other === 0)).toBe(true)
    } finally {
      await stopAll(workers)
    }
  })

  it("when the probing process dies, another probes once its lease expires", async () => {
    const lease = 1_000
    const workers = await fleet(3, { name: "lease", openDuration: 500, ...probing }, store({ probeLease: lease }))
    try {
      await openEverywhere(workers)
      upstream.mode = "hang"
      const before = upstream.requests.length
      const hammering = workers.map((w) =>
        w.send<Counts>({ op: "http", url: upstream.url, n: 150, gapMs: 20 }).catch(() => undefined)
      )
      await waitFor(async () => upstream.requests.length > before, 3_000, "a probe")
      const first = upstream.requests[before]!
      const holder = workers.find((w) => w.name === first.worker)!
      holder.process.child.kill("SIGKILL")
      upstream.release()
      upstream.mode = "hang"
      await waitFor(async () => upstream.requests.length > before + 1, lease + 3_000, "a second probe")
      const second = upstream.requests[before + 1]!
      expect(second.worker).not.toBe(first.worker)
      expect(upstream.requests.length - before).toBe(2)
      upstream.mode = "ok"
      upstream.release()
      const alive = workers.filter((w) => w !== holder)
      await waitFor(allIn(alive, "closed"), 10_000, "the others closed")
      await Promise.all(hammering)
    } finally {
      await stopAll(workers)
      // the killed process is replaced for the tests after this one
      const dead = processes.findIndex((p) => p.child.signalCode !== null)
      if (dead >= 0) processes[dead] = await startWorker(`w${dead}`)
    }
  })

  it("a shared retry budget of N retries is never exceeded by three processes hammering it", async () => {
    // 50 tokens at 5 a retry, no refunds, no refill: 10 retries for the fleet
    const budget = { name: "shared", capacity: 50, retryCost: 5, successRefund: 0, refundRetryCostOnSuccess: false }
    const config = { url: redis.url, keyPrefix: store().keyPrefix, flushInterval: FLUSH, allowance: 10 }
    upstream.mode = "ok"
    const before = upstream.requests.length
    const paid = await Promise.all(
      processes.map((p) =>
        p.send<number>({ op: "retries", key: "budget", budget, store: config, n: 80, gapMs: 5, url: upstream.url })
      )
    )
    expect(upstream.requests.length - before).toBe(paid.reduce((a, b) => a + b, 0))
    expect(upstream.requests.length - before).toBeLessThanOrEqual(10)
    // every process waited long enough for the fleet to spend it all
    expect(upstream.requests.length - before).toBe(10)
  })

  it("keeps deciding locally while Redis is killed or slow, leaks no error, counts the fallbacks and re-syncs", async () => {
    const workers = await fleet(2, { name: "outage", policy: { _tag: "ConsecutiveFailures", threshold: 3 } }, store())
    const [a, b] = workers as [Worker, Worker]
    try {
      await Promise.all(workers.map((w) => w.send({ op: "loopStart" })))
      await sleep(3 * FLUSH)
      await redis.kill()
      await sleep(3 * FLUSH)
      // a opens on its own evidence while Redis is away: b cannot hear of it yet
      await a.send({ op: "calls", n: 3, outcome: "failure" })
      expect(await a.state()).toBe("open")
      await sleep(3 * FLUSH)
      expect(await b.state()).toBe("closed")
      await redis.start()
      const resyncMs = await waitFor(async () => (await b.state()) === "open", 5_000, "b to hear of a's opening")
      // slow Redis: every command runs out of its budget for half a second
      await b.send({ op: "forceClosed" })
      await waitFor(allIn(workers, "closed"), 10_000, "both closed")
      const fallbacksBefore = await b.send<number>({ op: "fallbacks" })
      const client = new Redis(redis.url, { lazyConnect: true })
      await client.connect()
      await client.call("DEBUG", "SLEEP", "0.5")
      client.disconnect()
      await sleep(3 * FLUSH)
      const loops = await Promise.all(workers.map((w) => w.send<Counts>({ op: "loopStop" })))
      for (const counts of loops) {
        expect(counts.other).toBe(0)
        expect(counts.ok).toBeGreaterThan(50)
      }
      const fallbacks = await Promise.all(workers.map((w) => w.send<number>({ op: "fallbacks" })))
      expect(fallbacks.every((n) => n > 0)).toBe(true)
      expect(fallbacks[1]).toBeGreaterThan(fallbacksBefore)
      expect(resyncMs).toBeLessThan(5_000)
    } finally {
      await stopAll(workers)
    }
  })
})
