/**
 * `pnpm bench redis [--runs N] [--seconds S] [--flush MS]`: what sharing a breaker on Redis costs.
 * Starts a `redis-server` of its own on a free port (`--save '' --appendonly no`).
 *
 * - **Decision cost**: one breaker decision (`admit`, then `settle` with a success), the
 *   synchronous face a pipeline calls, with the Redis store vs the memory store, in this process;
 *   cases interleaved over `runs` rounds of a time-boxed loop, after a warm-up by time; median
 *   ns/op each and their ratio (goal: within 1.2x, the call path stays local). Also through
 *   `breaker.protect(Effect.void)`. Decisions per second per process = 1e9 / ns.
 * - **Propagation**: three child processes (`redis-child.ts`) share a breaker; the time from a
 *   forced open in one (and from its fifth failure) to the transition in the last of the others
 *   (epoch times with sub-millisecond precision; one machine, one clock).
 * - **Commands per second**: Redis's `INFO commandstats` counted while each of three processes
 *   makes 100, 1,000 and 10,000 calls per second (goal: a constant per flush interval, not per
 *   call).
 *
 * Runs under tsx like the other benches: tsx's `keepNames` slows closures of both stores alike,
 * so the ratio holds while the absolute figures are higher than a built dist's. Writes dated
 * results to `apps/bench/results/redis-<date>.json`; no test reads them.
 */
import { CircuitBreaker, Classification, Classifier, type Strategy } from "@effect-resilience/core"
import { RedisCircuitBreakerStore } from "@effect-resilience/redis"
import * as Effect from "effect/Effect"
import { type ChildProcess, execFile, spawn } from "node:child_process"
import { mkdirSync, writeFileSync } from "node:fs"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { createInterface } from "node:readline"
import { fileURLToPath } from "node:url"
import { median } from "./support.js"

const here = dirname(fileURLToPath(import.meta.url))

const parseArgs = (args: ReadonlyArray<string>) => {
  const options = { runs: 7, seconds: 3, flush: 1000 }
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i]
    const n = Number(args[i + 1])
    if (flag === "--runs" && Number.isInteger(n) && n > 0) options.runs = n
    else if (flag === "--seconds" && n > 0) options.seconds = n
    else if (flag === "--flush" && n > 0) options.flush = n
    else throw new Error(`unknown or bad flag: ${flag} ${args[i + 1] ?? ""}`)
  }
  return options
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      server.close(() => resolve(typeof address === "object" && address !== null ? address.port : 0))
    })
  })

const redisCli = (port: number, ...args: Array<string>) =>
  new Promise<string>((resolve, reject) =>
    execFile("redis-cli", ["-p", String(port), ...args], (error, stdout) => (error ? reject(error) : resolve(stdout)))
  )

const startRedis = async () => {
  const port = await freePort()
  const child = spawn(
    "redis-server",
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
    {
      stdio: "ignore"
    }
  )
  for (let i = 0; i < 200; i++) {
    if (
      await redisCli(port, "PING").then(
        (s) => s.trim() === "PONG",
        () => false
      )
    )
      return { port, child }
    await sleep(25)
  }
  throw new Error("redis-server did not start (is it installed?)")
}

/**
 * Commands Redis has run (INFO commandstats, the INFO calls left out): `sent`, the commands the
 * processes sent (a script is one), and `executed`, counting those the scripts run inside.
 */
const commandsRun = async (port: number): Promise<{ readonly sent: number; readonly executed: number }> => {
  const info = await redisCli(port, "INFO", "commandstats")
  let executed = 0
  let scripts = 0
  let inScripts = 0
  for (const match of info.matchAll(/^cmdstat_(\w+):calls=(\d+)/gm)) {
    const [, name, calls] = match
    if (name === "info") continue
    executed += Number(calls)
    if (name === "evalsha" || name === "eval") scripts += Number(calls)
    // what the two scripts run inside (TIME, HSET, PEXPIRE, HGETALL, HDEL, SET, GET, PTTL, DEL, PUBLISH)
    else if (/^(time|hset|pexpire|hgetall|hdel|set|get|pttl|del|publish)$/.test(name ?? "")) inScripts += Number(calls)
  }
  return { sent: scripts + (executed - scripts - inScripts), executed }
}

// ---------------------------------------------------------------------------------------------
// Decision cost
// ---------------------------------------------------------------------------------------------

const success: Strategy.Outcome = { _tag: "Success" }
const policy = { _tag: "CountWindow", size: 100, minimumCalls: 20 } as const

/** ns per decision over `ms` milliseconds of a tight loop. */
const decisionNs = (breaker: CircuitBreaker.CircuitBreaker, ms: number): number => {
  const random = Math.random
  let n = 0
  const start = performance.now()
  let now = Date.now()
  while (performance.now() - start < ms) {
    for (let i = 0; i < 10_000; i++) {
      const decision = breaker.admit(now, random)
      if (decision._tag === "Admitted") decision.settle(success, 1, now)
    }
    n += 10_000
    now = Date.now()
  }
  return ((performance.now() - start) * 1e6) / n
}

const classifierLayer = Classifier.layerFrom(() => Classification.make({ category: "server", code: "x", message: "x" }))

const protectNs = (breaker: CircuitBreaker.CircuitBreaker, iterations: number): Effect.Effect<number, never, never> =>
  Effect.gen(function* () {
    const start = performance.now()
    for (let i = 0; i < iterations; i++) yield* Effect.exit(breaker.protect(Effect.void))
    return ((performance.now() - start) * 1e6) / iterations
  }).pipe(Effect.provide(classifierLayer))

const decisionCost = (url: string, runs: number, seconds: number) =>
  Effect.gen(function* () {
    const memory = yield* CircuitBreaker.make({ name: "memory", policy }).pipe(
      Effect.provideService(CircuitBreaker.CircuitBreakerStore, CircuitBreaker.storeMemory)
    )
    const store = yield* RedisCircuitBreakerStore.make({ url, keyPrefix: "bench-cost" })
    const redis = yield* CircuitBreaker.make({ name: "redis", policy }).pipe(
      Effect.provideService(CircuitBreaker.CircuitBreakerStore, store)
    )
    // warm-up by time, both cases
    for (let i = 0; i < 10; i++) {
      for (const b of [memory, redis]) {
        decisionNs(b, 100)
        yield* Effect.sleep(20)
      }
    }
    // short slices: a loop that holds the event loop longer than the command budget would make the
    // store's own background sync time out
    const slices = Math.max(runs, Math.ceil((seconds * 1000) / 2 / 100))
    const sliceMs = (seconds * 1000) / slices / 2
    const memorySamples: Array<number> = []
    const redisSamples: Array<number> = []
    for (let r = 0; r < slices; r++) {
      // the background flush of the Redis store runs between slices, as in a real process
      memorySamples.push(decisionNs(memory, sliceMs))
      yield* Effect.sleep(20)
      redisSamples.push(decisionNs(redis, sliceMs))
      yield* Effect.sleep(20)
    }
    const protectMemory: Array<number> = []
    const protectRedis: Array<number> = []
    yield* protectNs(memory, 50_000)
    yield* protectNs(redis, 50_000)
    for (let r = 0; r < runs; r++) {
      protectMemory.push(yield* protectNs(memory, 50_000))
      protectRedis.push(yield* protectNs(redis, 50_000))
    }
    return {
      decisionNsMemory: median(memorySamples),
      decisionNsRedis: median(redisSamples),
      protectNsMemory: median(protectMemory),
      protectNsRedis: median(protectRedis)
    }
  }).pipe(Effect.scoped)

// ---------------------------------------------------------------------------------------------
// The fleet
// ---------------------------------------------------------------------------------------------

interface Child {
  readonly process: ChildProcess
  readonly lines: Array<string>
  readonly waitFor: (predicate: (line: string) => boolean, timeoutMs: number) => Promise<string>
  readonly send: (line: string) => void
}

const startChild = (url: string, prefix: string, flush: number): Promise<Child> =>
  new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [
        "--conditions=@effect-resilience/source",
        "--import",
        "tsx",
        join(here, "redis-child.ts"),
        url,
        prefix,
        String(flush)
      ],
      { stdio: ["pipe", "pipe", "inherit"] }
    )
    const lines: Array<string> = []
    const waiters: Array<() => void> = []
    createInterface({ input: proc.stdout! }).on("line", (line) => {
      lines.push(line)
      for (const w of waiters.splice(0)) w()
    })
    const waitFor = (predicate: (line: string) => boolean, timeoutMs: number) =>
      new Promise<string>((res, rej) => {
        const timer = setTimeout(() => rej(new Error("timed out waiting for a child")), timeoutMs)
        const check = () => {
          const index = lines.findIndex(predicate)
          if (index >= 0) {
            clearTimeout(timer)
            res(lines.splice(index, 1)[0]!)
          } else waiters.push(check)
        }
        check()
      })
    const child: Child = { process: proc, lines, waitFor, send: (line) => proc.stdin!.write(`${line}\n`) }
    proc.once("error", reject)
    waitFor((l) => l === "ready", 30_000).then(() => resolve(child), reject)
  })

const at = (line: string) => Number(line.split(" ")[2])

/** ms from `trigger` in children[0] to the `to` transition in the last of the others. */
const propagation = async (children: ReadonlyArray<Child>, trigger: string, to: string) => {
  const [first, ...others] = children as [Child, ...Array<Child>]
  for (const c of children) c.lines.length = 0
  const started = performance.timeOrigin + performance.now()
  first.send(trigger)
  const seen = await Promise.all(others.map((c) => c.waitFor((l) => l.startsWith(`transition ${to} `), 10_000)))
  const latency = Math.max(...seen.map(at)) - started
  first.send("close")
  await Promise.all(others.map((c) => c.waitFor((l) => l.startsWith("transition closed "), 10_000)))
  await sleep(50)
  return latency
}

export const run = async (args: ReadonlyArray<string>): Promise<void> => {
  const options = parseArgs(args)
  const redis = await startRedis()
  const url = `redis://127.0.0.1:${redis.port}`
  try {
    const cost = await Effect.runPromise(decisionCost(url, options.runs, options.seconds))
    const children = await Promise.all([0, 1, 2].map(() => startChild(url, "bench-fleet", options.flush)))
    const forced: Array<number> = []
    const failed: Array<number> = []
    for (let i = 0; i < 15; i++) {
      forced.push(await propagation(children, "open", "forced-open"))
      failed.push(await propagation(children, "fail 5", "open"))
    }
    const commands: Array<{
      readonly callsPerSecond: number
      readonly commandsPerSecondPerProcess: number
      readonly executedPerSecondPerProcess: number
    }> = []
    const seconds = 5
    for (const rate of [100, 1_000, 10_000]) {
      const startedAt = performance.now()
      const before = await commandsRun(redis.port)
      for (const c of children) c.send(`rate ${rate} ${seconds}`)
      await Promise.all(children.map((c) => c.waitFor((l) => l === "done", 60_000)))
      const after = await commandsRun(redis.port)
      // the children's ticks drift: divide by the time measured, not the time asked for
      const elapsedSeconds = (performance.now() - startedAt) / 1000
      const perProcess = (n: number) => n / elapsedSeconds / children.length
      commands.push({
        callsPerSecond: rate,
        commandsPerSecondPerProcess: perProcess(after.sent - before.sent),
        executedPerSecondPerProcess: perProcess(after.executed - before.executed)
      })
    }
    for (const c of children) c.process.stdin!.end()
    const result = {
      date: new Date().toISOString(),
      node: process.version,
      flushIntervalMillis: options.flush,
      decision: {
        nsPerOpMemory: cost.decisionNsMemory,
        nsPerOpRedis: cost.decisionNsRedis,
        ratio: cost.decisionNsRedis / cost.decisionNsMemory,
        decisionsPerSecondRedis: 1e9 / cost.decisionNsRedis
      },
      protect: {
        nsPerOpMemory: cost.protectNsMemory,
        nsPerOpRedis: cost.protectNsRedis,
        ratio: cost.protectNsRedis / cost.protectNsMemory
      },
      propagationMillis: {
        forcedOpen: { median: median(forced), max: Math.max(...forced) },
        openedByFailures: { median: median(failed), max: Math.max(...failed) }
      },
      redisCommands: commands
    }
    const out = join(here, "..", "results", `redis-${result.date.replace(/[:.]/g, "-")}.json`)
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, `${JSON.stringify(result, null, 2)}\n`)
    process.stdout.write(
      [
        `breaker decision (admit + settle), count window: memory ${cost.decisionNsMemory.toFixed(1)} ns, Redis store ${cost.decisionNsRedis.toFixed(1)} ns (x${result.decision.ratio.toFixed(2)}), ${(result.decision.decisionsPerSecondRedis / 1e6).toFixed(1)} M decisions/s`,
        `breaker.protect(Effect.void): memory ${cost.protectNsMemory.toFixed(0)} ns, Redis store ${cost.protectNsRedis.toFixed(0)} ns (x${result.protect.ratio.toFixed(2)})`,
        `forced open reaches the 2 other processes: median ${median(forced).toFixed(2)} ms, max ${Math.max(...forced).toFixed(2)} ms`,
        `opening on failures reaches the 2 other processes: median ${median(failed).toFixed(2)} ms, max ${Math.max(...failed).toFixed(2)} ms`,
        ...commands.map(
          (c) =>
            `${c.callsPerSecond} calls/s per process: ${c.commandsPerSecondPerProcess.toFixed(2)} Redis commands/s sent per process (${c.executedPerSecondPerProcess.toFixed(1)} run by Redis, script steps included; flush ${options.flush} ms)`
        ),
        `written to ${out}`,
        ""
      ].join("\n")
    )
  } finally {
    redis.child.kill("SIGKILL")
  }
}
